/**
 * Typed viem client for the KmsRegistry contract (ABI generated from the artifact into `abi.ts`).
 *
 * - `registryContract(address, { publicClient, walletClient })` — a viem contract instance (typed `read`,
 *   `write`, `simulate`, `estimateGas`, `getEvents`) plus `readKms(kms)`.
 * - `readKms(publicClient, registry, kms)` — the stored record, decoded.
 * - `encodeRegister(...)`, `encodeRegisterVerified(...)`, `encodeRegisterWithCollateral(...)`, `encodeRegisterSnp(...)`,
 *   `encodeRecheck(...)`, `readPlatform(...)` (`platformOf`: tdx or sev-snp),
 *   `decodeRegistryLogs(logs)`, `registryRevert(error)`, `revertReason(error)` — calldata, events, errors (the
 *   on-chain verifier's errors, which `registerVerified` and `recheck` pass through, included).
 * - `readVerifiedOnChain(publicClient, registry, kms)`, `readAcceptedStatuses(...)` — the on-chain path's views.
 * - `kmsAddressFromPubkey(pubkey)` — the off-chain equivalent of the contract's `kmsAddress`.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  encodeFunctionData,
  getAddress,
  getContract,
  type GetContractReturnType,
  isAddress,
  parseEventLogs,
  type Address,
  type Client,
  type Log,
  type ParseEventLogsReturnType,
} from "viem";

import { bytesToHex, hexToBytes, type Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { shortMessage } from "./connect.js";
import { TCB_STATUSES, type TcbStatus } from "../dcap/types.js";
import { ethAddress } from "../dstack/signatures.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { dcapVerifierAbi } from "./generated/dcap-verifier-abi.js";
import { platformName, type RegistryPlatform } from "./platforms.js";
import type { OnChainCollateral } from "./verifier.js";

/** The registry's ABI plus the verifier's custom errors (they surface through `registerVerified` / `recheck`). */
export const registryErrorAbi = [
  ...kmsRegistryAbi,
  ...dcapVerifierAbi.filter((x) => x.type === "error" && !kmsRegistryAbi.some((y) => y.type === "error" && y.name === x.name)),
] as const;

/** keccak256("REGISTRAR_ROLE"), the value of the contract's `REGISTRAR_ROLE()`. */
export const REGISTRAR_ROLE: Hex = "0xedcc084d3dcd65a1f7f23c65c46722faca6953d28e43150a467cf43e5c309238";

/** Bytes given as `Uint8Array` or hex text (with or without `0x`). */
export type BytesLike = Uint8Array | string;

/** Checksummed address, or an `InputError` naming the field (never a raw viem error). */
function toAddress(value: string, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 48)) : typeof value;
    throw new InputError("BAD_ADDRESS", `${field}: expected a 20-byte 0x address, got ${shown}`, { details: { field } });
  }
  return getAddress(value);
}

function toHex(value: BytesLike, field: string): Hex {
  return typeof value === "string" ? bytesToHex(hexToBytes(value, field)) : bytesToHex(value);
}

/** How the latest (re-)attestation was made: by the registrar (`register`, `registerWithCollateral`) or verified on chain. */
export type RegistrationPath = "registrar" | "on-chain";

/** The decoded `kmsInfo(kms)` record. `active` = registered and not revoked (what `isRegistered` says). */
export interface KmsInfo {
  kms: Address;
  registered: boolean;
  active: boolean;
  revoked: boolean;
  caKeyHash: Hex;
  quoteHash: Hex;
  imageMeasurement: Hex;
  /** Account that submitted the latest (re-)attestation; zero address when never registered. */
  registrar: Address;
  /** Unix seconds of the latest (re-)attestation; 0 when never registered. */
  attestedAt: number;
  livenessNonce: bigint;
  /** The latest attestation's path; the fields below are zero / false / null on the registrar path. */
  path: RegistrationPath;
  /** The verifier's root is Intel's SGX Root CA. */
  intelRoot: boolean;
  /** A recheck found that Intel's current collateral no longer passes the quote. */
  stale: boolean;
  /** The latest verification's TCB status (null on the registrar path). */
  tcbStatus: TcbStatus | null;
  /** The platform's FMSPC, lower-case hex ("" on the registrar path). */
  fmspc: string;
  /** The collateral's earliest nextUpdate, unix seconds (0 on the registrar path). */
  collateralExpiry: number;
  tcbEvaluationDataNumber: number;
  /** keccak256 of the PCK leaf certificate the quote was verified with. */
  pckLeafHash: Hex;
}

/** A viem contract instance for the registry, typed from the generated ABI, plus `readKms`. */
export type RegistryContract<P extends Client = Client, W extends Client | undefined = undefined> = GetContractReturnType<
  typeof kmsRegistryAbi,
  { public: P; wallet: W },
  Address
> & {
  /** The stored record of `kms`, decoded (all-zero, `registered: false` when unknown). */
  readKms: (kms: Address) => Promise<KmsInfo>;
};

/** A viem contract instance for the registry, typed from the generated ABI. */
export function registryContract<P extends Client, W extends Client | undefined = undefined>(
  address: Address,
  clients: { publicClient: P; walletClient?: W },
): RegistryContract<P, W> {
  const client = { public: clients.publicClient, wallet: clients.walletClient } as { public: P; wallet: W };
  const contract = getContract({ address: toAddress(address, "registry"), abi: kmsRegistryAbi, client });
  return Object.assign(contract, {
    /** The stored record of `kms`, decoded (all-zero, `registered: false` when unknown). */
    readKms: (kms: Address): Promise<KmsInfo> => readKms(clients.publicClient, address, kms),
  });
}

/** What the reads below take besides their arguments: the block to read at (default the latest). */
export interface ReadAt {
  blockNumber?: bigint;
}

/** Reads and decodes `kmsInfo(kms)`. */
export async function readKms(publicClient: Client, registry: Address, kms: Address, at: ReadAt = {}): Promise<KmsInfo> {
  const c = getContract({ address: toAddress(registry, "registry"), abi: kmsRegistryAbi, client: publicClient });
  const kmsAddress = toAddress(kms, "kms");
  const r = await c.read.kmsInfo([kmsAddress], at);
  const registered = r.attestedAt !== 0;
  return {
    kms: kmsAddress,
    registered,
    active: registered && !r.revoked,
    revoked: r.revoked,
    caKeyHash: r.caKeyHash,
    quoteHash: r.quoteHash,
    imageMeasurement: r.imageMeasurement,
    registrar: r.registrar,
    attestedAt: r.attestedAt,
    livenessNonce: BigInt(r.livenessNonce),
    path: r.path === 1 ? "on-chain" : "registrar",
    intelRoot: r.intelRoot,
    stale: r.stale,
    tcbStatus: r.path === 1 ? (TCB_STATUSES[r.tcbStatus] ?? null) : null,
    fmspc: r.path === 1 ? r.fmspc.slice(2).toLowerCase() : "",
    collateralExpiry: Number(r.collateralExpiry),
    tcbEvaluationDataNumber: Number(r.tcbEvaluationDataNumber),
    pckLeafHash: r.pckLeafHash,
  };
}

/** `isVerifiedOnChain(kms)`: registered, not revoked, verified on chain under Intel's root, not stale, collateral not expired. */
export async function readVerifiedOnChain(publicClient: Client, registry: Address, kms: Address, at: ReadAt = {}): Promise<boolean> {
  const c = getContract({ address: toAddress(registry, "registry"), abi: kmsRegistryAbi, client: publicClient });
  return c.read.isVerifiedOnChain([toAddress(kms, "kms")], at);
}

/** The TCB statuses the registry accepts now (`isStatusAccepted` of each, Revoked excluded). */
export async function readAcceptedStatuses(publicClient: Client, registry: Address, at: ReadAt = {}): Promise<TcbStatus[]> {
  const c = getContract({ address: toAddress(registry, "registry"), abi: kmsRegistryAbi, client: publicClient });
  const candidates = TCB_STATUSES.filter((s) => s !== "Revoked");
  const accepted = await Promise.all(candidates.map((_, i) => c.read.isStatusAccepted([i], at)));
  return candidates.filter((_, i) => accepted[i]);
}

/** The `Collateral` tuple argument as viem encodes it. */
function collateralArg(c: OnChainCollateral): OnChainCollateral {
  return {
    tcbInfoJson: c.tcbInfoJson,
    tcbInfoSignature: c.tcbInfoSignature,
    qeIdentityJson: c.qeIdentityJson,
    qeIdentitySignature: c.qeIdentitySignature,
    tcbSigningCert: c.tcbSigningCert,
    pckCaCert: c.pckCaCert,
    pckLeafCert: c.pckLeafCert,
    pckCrl: c.pckCrl,
    rootCaCrl: c.rootCaCrl,
    qeIdentitySigningCert: c.qeIdentitySigningCert,
  };
}

/** Calldata of `registerVerified(caPubkey, k256Pubkey, quote, collateral)` (permissionless, verified on chain). */
export function encodeRegisterVerified(args: { caPubkey: BytesLike; k256Pubkey: BytesLike; quote: BytesLike; collateral: OnChainCollateral }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "registerVerified",
    args: [toHex(args.caPubkey, "caPubkey"), toHex(args.k256Pubkey, "k256Pubkey"), toHex(args.quote, "quote"), collateralArg(args.collateral)],
  });
}

/** Calldata of `registerWithCollateral(caPubkey, k256Pubkey, quote, collateral)` (REGISTRAR_ROLE; publishes the collateral). */
export function encodeRegisterWithCollateral(args: { caPubkey: BytesLike; k256Pubkey: BytesLike; quote: BytesLike; collateral: OnChainCollateral }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "registerWithCollateral",
    args: [toHex(args.caPubkey, "caPubkey"), toHex(args.k256Pubkey, "k256Pubkey"), toHex(args.quote, "quote"), collateralArg(args.collateral)],
  });
}

/**
 * Calldata of `registerSnp(caPubkey, k256Pubkey, report, vcek, amdChain, crl)` (REGISTRAR_ROLE; an AMD SEV-SNP KMS,
 * its VCEK (DER), ASK/ARK chain (PEM) and, when given, the AMD CRL (DER) it was checked against published).
 */
export function encodeRegisterSnp(args: { caPubkey: BytesLike; k256Pubkey: BytesLike; report: BytesLike; vcek: BytesLike; amdChain: BytesLike; crl?: BytesLike }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "registerSnp",
    args: [toHex(args.caPubkey, "caPubkey"), toHex(args.k256Pubkey, "k256Pubkey"), toHex(args.report, "report"), toHex(args.vcek, "vcek"), toHex(args.amdChain, "amdChain"), args.crl === undefined ? "0x" : toHex(args.crl, "crl")],
  });
}

/** Calldata of `registerNitro(caPubkey, k256Pubkey, document)` (REGISTRAR_ROLE; an AWS Nitro Enclave KMS and its NSM attestation document). */
export function encodeRegisterNitro(args: { caPubkey: BytesLike; k256Pubkey: BytesLike; document: BytesLike }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "registerNitro",
    args: [toHex(args.caPubkey, "caPubkey"), toHex(args.k256Pubkey, "k256Pubkey"), toHex(args.document, "document")],
  });
}

/** A registration's platform as `platformOf` numbers it (the table in `platforms.ts`: 0 TDX, also GCP TDX; 1 SEV-SNP; 2 AWS Nitro Enclave). */
export type { RegistryPlatform };
export { platformName };

/** `platformOf(kms)`: the platform of the latest (re-)attestation ("tdx" also for a KMS never registered). */
export async function readPlatform(publicClient: Client, registry: Address, kms: Address): Promise<RegistryPlatform | `platform ${number}`> {
  const c = getContract({ address: toAddress(registry, "registry"), abi: kmsRegistryAbi, client: publicClient });
  return platformName(await c.read.platformOf([toAddress(kms, "kms")]));
}

/** Calldata of `recheck(kms, quote, collateral)` (permissionless). */
export function encodeRecheck(args: { kms: string; quote: BytesLike; collateral: OnChainCollateral }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "recheck",
    args: [toAddress(args.kms, "kms"), toHex(args.quote, "quote"), collateralArg(args.collateral)],
  });
}

/** Calldata of `register(caPubkey, k256Pubkey, quote)`. */
export function encodeRegister(args: { caPubkey: BytesLike; k256Pubkey: BytesLike; quote: BytesLike }): Hex {
  return encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: "register",
    args: [toHex(args.caPubkey, "caPubkey"), toHex(args.k256Pubkey, "k256Pubkey"), toHex(args.quote, "quote")],
  });
}

/** Decodes the registry's events (KmsRegistered, KmsRevoked, KmsLivenessProven, allowlist and role events) from logs. */
export function decodeRegistryLogs(logs: Log[]): ParseEventLogsReturnType<typeof kmsRegistryAbi> {
  return parseEventLogs({ abi: kmsRegistryAbi, logs });
}

/** A registry custom error (e.g. `ReportDataMismatch`) with its decoded arguments. */
export interface RegistryRevert {
  name: string;
  args: readonly unknown[];
}

/**
 * The registry custom error inside a viem error (from `write`, `simulate`, `estimateGas`, `read`), or `null`
 * when the error is not a decodable registry revert.
 */
export function registryRevert(error: unknown): RegistryRevert | null {
  if (!(error instanceof BaseError)) return null;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
    return { name: reverted.data.errorName, args: reverted.data.args ?? [] };
  }
  // Some providers (e.g. Hardhat's EDR during gas estimation) surface the revert data only on a nested cause.
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const candidates = [(e as { raw?: unknown }).raw, (e as { data?: unknown }).data, ((e as { data?: { data?: unknown } }).data ?? {}).data];
    for (const data of candidates) {
      if (typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data)) {
        try {
          const d = decodeErrorResult({ abi: registryErrorAbi, data: data as Hex });
          return { name: d.errorName, args: d.args ?? [] };
        } catch {
          // not one of ours; keep looking
        }
      }
    }
  }
  return null;
}

/** Name a contract revert (`ReportDataMismatch(...)`) from a viem error, or give its short message. */
export function revertReason(e: unknown): string {
  const custom = registryRevert(e);
  if (custom) return `${custom.name}(${custom.args.map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ")})`;
  if (e instanceof BaseError) {
    const r = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (r instanceof ContractFunctionRevertedError) {
      if (r.reason) return r.reason;
      if (r.signature) return `unknown custom error ${r.signature}`;
    }
  }
  return shortMessage(e);
}

/**
 * Ethereum address of a secp256k1 key (33-byte compressed or 65-byte uncompressed), checksummed: what the
 * contract's `kmsAddress` returns and the key under which `register` stores a KMS.
 */
export function kmsAddressFromPubkey(pubkey: BytesLike): Address {
  const bytes = typeof pubkey === "string" ? hexToBytes(pubkey, "k256Pubkey") : pubkey;
  if (bytes.length !== 33 && bytes.length !== 65) {
    throw new InputError("BAD_PUBKEY", `k256Pubkey: expected 33 (compressed) or 65 (uncompressed) bytes, got ${bytes.length}`);
  }
  return getAddress(ethAddress(bytes));
}
