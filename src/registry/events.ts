/**
 * The registry's history as events: a raw `eth_getLogs` entry decoded into a registration, an on-chain
 * verification, published collateral, an SEV-SNP registration's AMD evidence, a recheck, a revocation or a liveness proof (the events the audit
 * replays), with where it happened (block, transaction, log index).
 */
import { decodeEventLog, getAddress, keccak256 } from "viem";

import type { Hex } from "../core/bytes.js";
import { TCB_STATUSES, type TcbStatus } from "../dcap/types.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import type { RawLog } from "./logs.js";
import type { OnChainCollateral } from "./verifier.js";

export type AuditEvent =
  | {
      kind: "registered";
      kms: Hex;
      quoteHash: Hex;
      registrar: Hex;
      caPubkey: Hex;
      k256Pubkey: Hex;
      quote: Hex;
      block: number;
      tx: Hex;
      logIndex: number;
    }
  | {
      kind: "verified";
      kms: Hex;
      quoteHash: Hex;
      /** The status the on-chain verifier returned (Intel's name; `status N` for a number outside the enum). */
      tcbStatus: TcbStatus | string;
      /** Lower-case hex, no 0x. */
      fmspc: string;
      collateralExpiry: number;
      intelRoot: boolean;
      block: number;
      tx: Hex;
      logIndex: number;
    }
  | { kind: "collateral"; kms: Hex; quoteHash: Hex; collateral: OnChainCollateral; block: number; tx: Hex; logIndex: number }
  /** `KmsSnpEvidencePublished`: an SEV-SNP registration's VCEK (DER) and ASK/ARK chain (PEM), as published. */
  | { kind: "snp-evidence"; kms: Hex; quoteHash: Hex; vcek: Hex; amdChain: Hex; block: number; tx: Hex; logIndex: number }
  /** `KmsSnpCrlPublished`: the AMD CRL (DER) an SEV-SNP registration was checked against, as published. */
  | { kind: "snp-crl"; kms: Hex; quoteHash: Hex; crl: Hex; block: number; tx: Hex; logIndex: number }
  | { kind: "rechecked"; kms: Hex; by: Hex; tcbStatus: TcbStatus | string; collateralExpiry: number; stale: boolean; block: number; tx: Hex; logIndex: number }
  | { kind: "revoked"; kms: Hex; by: Hex; reason: string; block: number; tx: Hex; logIndex: number }
  | { kind: "liveness"; kms: Hex; timestamp: number; nonce: string; block: number; tx: Hex; logIndex: number };

export type RegisteredEvent = Extract<AuditEvent, { kind: "registered" }>;

const cs = (a: string): Hex => getAddress(a) as Hex;
/** A TCB status number as Intel's name, or `status N` for a number outside Intel's list. */
export const tcbStatusName = (n: number): TcbStatus | string => TCB_STATUSES[n] ?? `status ${n}`;
const lower = (h: string): Hex => h.toLowerCase() as Hex;

/** The topic0 of every event of the registry's ABI. */
const KNOWN_TOPICS = new Set(
  kmsRegistryAbi
    .filter((x) => x.type === "event")
    .map((e) => keccak256(new TextEncoder().encode(`${e.name}(${e.inputs.map((i) => i.type).join(",")})`)).toLowerCase()),
);

/** Decode one raw registry log; `undefined` for events the audit does not replay (roles, allowlist, accepted statuses). */
export function decodeRegistryLog(log: RawLog): AuditEvent | undefined | "undecodable" {
  let d;
  try {
    d = decodeEventLog({ abi: kmsRegistryAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
  } catch {
    return KNOWN_TOPICS.has(log.topics[0]?.toLowerCase() ?? "") ? "undecodable" : undefined;
  }
  const where = { block: Number(BigInt(log.blockNumber)), tx: log.transactionHash, logIndex: Number(BigInt(log.logIndex)) };
  switch (d.eventName) {
    case "KmsRegistered":
      return {
        kind: "registered",
        kms: cs(d.args.kms),
        quoteHash: d.args.quoteHash.toLowerCase() as Hex,
        registrar: cs(d.args.registrar),
        caPubkey: d.args.caPubkey.toLowerCase() as Hex,
        k256Pubkey: d.args.k256Pubkey.toLowerCase() as Hex,
        quote: d.args.quote.toLowerCase() as Hex,
        ...where,
      };
    case "KmsVerifiedOnChain":
      return {
        kind: "verified",
        kms: cs(d.args.kms),
        quoteHash: lower(d.args.quoteHash),
        tcbStatus: tcbStatusName(d.args.tcbStatus),
        fmspc: d.args.fmspc.slice(2).toLowerCase(),
        collateralExpiry: Number(d.args.collateralExpiry),
        intelRoot: d.args.intelRoot,
        ...where,
      };
    case "KmsCollateralPublished": {
      const c = d.args.collateral;
      const collateral: OnChainCollateral = {
        tcbInfoJson: lower(c.tcbInfoJson),
        tcbInfoSignature: lower(c.tcbInfoSignature),
        qeIdentityJson: lower(c.qeIdentityJson),
        qeIdentitySignature: lower(c.qeIdentitySignature),
        tcbSigningCert: lower(c.tcbSigningCert),
        pckCaCert: lower(c.pckCaCert),
        pckLeafCert: lower(c.pckLeafCert),
        pckCrl: lower(c.pckCrl),
        rootCaCrl: lower(c.rootCaCrl),
        qeIdentitySigningCert: lower(c.qeIdentitySigningCert),
      };
      return { kind: "collateral", kms: cs(d.args.kms), quoteHash: lower(d.args.quoteHash), collateral, ...where };
    }
    case "KmsSnpEvidencePublished":
      return { kind: "snp-evidence", kms: cs(d.args.kms), quoteHash: lower(d.args.quoteHash), vcek: lower(d.args.vcek), amdChain: lower(d.args.amdChain), ...where };
    case "KmsSnpCrlPublished":
      return { kind: "snp-crl", kms: cs(d.args.kms), quoteHash: lower(d.args.quoteHash), crl: lower(d.args.crl), ...where };
    case "KmsRechecked":
      return {
        kind: "rechecked",
        kms: cs(d.args.kms),
        by: cs(d.args.by),
        tcbStatus: tcbStatusName(d.args.tcbStatus),
        collateralExpiry: Number(d.args.collateralExpiry),
        stale: d.args.stale,
        ...where,
      };
    case "KmsRevoked":
      return { kind: "revoked", kms: cs(d.args.kms), by: cs(d.args.by), reason: d.args.reason, ...where };
    case "KmsLivenessProven":
      return { kind: "liveness", kms: cs(d.args.kms), timestamp: Number(d.args.timestamp), nonce: d.args.nonce.toString(), ...where };
  }
}
