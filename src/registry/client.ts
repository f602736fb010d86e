/**
 * Typed viem client for the KmsRegistry contract (ABI generated from the artifact into `abi.ts`).
 *
 * - `registryContract(address, { publicClient, walletClient })` — a viem contract instance (typed `read`,
 *   `write`, `simulate`, `estimateGas`, `getEvents`) plus `readKms(kms)`.
 * - `readKms(publicClient, registry, kms)` — the stored record, decoded.
 * - `encodeRegister(...)`, `decodeRegistryLogs(logs)`, `registryRevert(error)`, `revertReason(error)` — calldata,
 *   events, errors.
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
import { kmsRegistryAbi } from "./generated/abi.js";
import { ethAddress } from "../dstack/signatures.js";

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

/** Reads and decodes `kmsInfo(kms)`. */
export async function readKms(publicClient: Client, registry: Address, kms: Address): Promise<KmsInfo> {
  const c = getContract({ address: toAddress(registry, "registry"), abi: kmsRegistryAbi, client: publicClient });
  const kmsAddress = toAddress(kms, "kms");
  const r = await c.read.kmsInfo([kmsAddress]);
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
  };
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
          const d = decodeErrorResult({ abi: kmsRegistryAbi, data: data as Hex });
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
