/**
 * The registry's on-chain verification events, which the audit does not replay: `KmsVerifiedOnChain` (a
 * registration verified by the on-chain DCAP verifier: TCB status, FMSPC, collateral expiry, root) and
 * `KmsRechecked` (a later check against fresher collateral: status, expiry, stale). Read with the audit's
 * bounded log scan (`scanLogs`) over the same blocks, and decoded strictly; a log that does not decode is
 * skipped (the audit reports undecodable registry logs).
 */
import { decodeEventLog, encodeEventTopics, getAddress, type Chain, type PublicClient, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { TCB_STATUSES, type TcbStatus } from "../dcap/types.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import { scanLogs } from "../registry/logs.js";

export interface VerifiedOnChainEvent {
  kind: "verified-on-chain";
  kms: Hex;
  quoteHash: Hex;
  tcbStatus: TcbStatus | null;
  fmspc: Hex;
  collateralExpiry: number;
  intelRoot: boolean;
  block: number;
  tx: Hex;
  logIndex: number;
}

export interface RecheckedEvent {
  kind: "rechecked";
  kms: Hex;
  by: Hex;
  tcbStatus: TcbStatus | null;
  collateralExpiry: number;
  stale: boolean;
  block: number;
  tx: Hex;
  logIndex: number;
}

export type OnChainEvent = VerifiedOnChainEvent | RecheckedEvent;

const NAMES = ["KmsVerifiedOnChain", "KmsRechecked"] as const;
const hasEvent = (name: string) => kmsRegistryAbi.some((x) => x.type === "event" && x.name === name);

/** Whether the registry's ABI has the on-chain path's events. */
export const HAS_ONCHAIN_PATH = NAMES.every(hasEvent);

function topics(): Hex[] {
  return NAMES.map((eventName) => encodeEventTopics({ abi: kmsRegistryAbi, eventName } as never)[0] as Hex);
}

/** Every `KmsVerifiedOnChain` and `KmsRechecked` of [fromBlock, toBlock], in chain order. */
export async function scanOnChainEvents(opts: {
  publicClient: PublicClient<Transport, Chain>;
  registry: Hex;
  fromBlock: bigint;
  toBlock: bigint;
  initialRange?: bigint;
}): Promise<OnChainEvent[]> {
  if (!HAS_ONCHAIN_PATH) return [];
  const out: OnChainEvent[] = [];
  await scanLogs({
    request: opts.publicClient.request as never,
    address: opts.registry,
    topics: [topics()],
    fromBlock: opts.fromBlock,
    toBlock: opts.toBlock,
    initialRange: opts.initialRange ?? 10_000n,
    onLogs: (logs) => {
      for (const l of logs) {
        let d: { eventName: string; args: Record<string, unknown> };
        try {
          d = decodeEventLog({ abi: kmsRegistryAbi, data: l.data, topics: l.topics as [Hex, ...Hex[]], strict: true }) as never;
        } catch {
          continue;
        }
        const where = { block: Number(BigInt(l.blockNumber)), tx: l.transactionHash, logIndex: Number(BigInt(l.logIndex)) };
        const status = TCB_STATUSES[Number(d.args.tcbStatus)] ?? null;
        if (d.eventName === "KmsVerifiedOnChain") {
          out.push({
            kind: "verified-on-chain",
            kms: getAddress(d.args.kms as string) as Hex,
            quoteHash: String(d.args.quoteHash).toLowerCase() as Hex,
            tcbStatus: status,
            fmspc: String(d.args.fmspc).toLowerCase() as Hex,
            collateralExpiry: Number(d.args.collateralExpiry),
            intelRoot: d.args.intelRoot === true,
            ...where,
          });
        } else if (d.eventName === "KmsRechecked") {
          out.push({
            kind: "rechecked",
            kms: getAddress(d.args.kms as string) as Hex,
            by: getAddress(d.args.by as string) as Hex,
            tcbStatus: status,
            collateralExpiry: Number(d.args.collateralExpiry),
            stale: d.args.stale === true,
            ...where,
          });
        }
      }
    },
  });
  return out.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
}
