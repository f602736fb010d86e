/**
 * The registry's on-chain-verification events that the audit's replay does not use but a watcher must:
 * `KmsVerifiedOnChain` (a quote verified by the registry's DCAP verifier: TCB status, FMSPC, the collateral's
 * expiry, whether the root is Intel's) and `KmsRechecked` (a recheck against newer collateral: the status and
 * expiry now, and whether the KMS is stale).
 */
import { decodeEventLog, getAddress } from "viem";

import type { Hex } from "../core/bytes.js";
import { TCB_STATUSES } from "../dcap/types.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import type { RawLog } from "../registry/logs.js";

export type OnChainEvent =
  | {
      kind: "verified-on-chain";
      kms: Hex;
      quoteHash: Hex;
      tcbStatus: string;
      fmspc: Hex;
      collateralExpiry: number;
      intelRoot: boolean;
      block: number;
      tx: Hex;
      logIndex: number;
    }
  | { kind: "rechecked"; kms: Hex; by: Hex; tcbStatus: string; collateralExpiry: number; stale: boolean; block: number; tx: Hex; logIndex: number };

/** A status number as its name (`UpToDate`, …), or `status N` for a number outside the known list. */
export function tcbStatusName(n: number): string {
  return TCB_STATUSES[n] ?? `status ${n}`;
}

/** `KmsVerifiedOnChain` / `KmsRechecked` of a raw log, or undefined for any other log. */
export function decodeOnChainLog(log: RawLog): OnChainEvent | undefined {
  let d;
  try {
    d = decodeEventLog({ abi: kmsRegistryAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
  } catch {
    return undefined;
  }
  const where = { block: Number(BigInt(log.blockNumber)), tx: log.transactionHash, logIndex: Number(BigInt(log.logIndex)) };
  if (d.eventName === "KmsVerifiedOnChain") {
    const a = d.args;
    return {
      kind: "verified-on-chain",
      kms: getAddress(a.kms) as Hex,
      quoteHash: a.quoteHash.toLowerCase() as Hex,
      tcbStatus: tcbStatusName(a.tcbStatus),
      fmspc: a.fmspc.toLowerCase() as Hex,
      collateralExpiry: Number(a.collateralExpiry),
      intelRoot: a.intelRoot,
      ...where,
    };
  }
  if (d.eventName === "KmsRechecked") {
    const a = d.args;
    return { kind: "rechecked", kms: getAddress(a.kms) as Hex, by: getAddress(a.by) as Hex, tcbStatus: tcbStatusName(a.tcbStatus), collateralExpiry: Number(a.collateralExpiry), stale: a.stale, ...where };
  }
  return undefined;
}
