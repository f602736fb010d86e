/**
 * Reading dstack's own on-chain KMS contract (`DstackKms`): its KMS record `kmsInfo()`, its allow-lists for the
 * KMS (`kmsAllowedAggregatedMrs`, `allowedOsImages`, `kmsAllowedDeviceIds`, and its own `isKmsAllowed` verdict),
 * its owner and proxy implementation, and its history: every record / allow-list / ownership / upgrade event
 * with the block, its time, the transaction and the transaction's sender.
 *
 * The contract announces a new record with `KmsInfoSet(k256Pubkey)` only; `setKmsQuote` and `setKmsEventlog`
 * replace the evidence without any event. `recordAsAnnounced` reads what the last `setKmsInfo` wrote (from its
 * calldata, else the state at its block) and `locateSilentChange` finds the first later block whose record
 * differs from it, and the transaction in that block that called a silent setter.
 */
import { decodeEventLog, decodeFunctionData, getAddress, toEventSelector, toFunctionSelector, type Chain, type PublicClient, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, errorMessage, firstLine } from "../core/errors.js";
import { dstackKmsAbi, ERC1967_IMPLEMENTATION_SLOT, SILENT_EVIDENCE_SETTERS } from "../dstack/dstack-kms-abi.js";
import { scanLogs, type DroppedCounts, type RawLog, type ScanProgress } from "./logs.js";

type Client = PublicClient<Transport, Chain>;

/** The KMS record as stored (all `0x` lower-case hex; `0x` when a field is empty). */
export interface KmsInfoRecord {
  k256Pubkey: Hex;
  caPubkey: Hex;
  quote: Hex;
  eventlog: Hex;
}

export const KMS_INFO_FIELDS = ["k256Pubkey", "caPubkey", "quote", "eventlog"] as const;
export type KmsInfoField = (typeof KMS_INFO_FIELDS)[number];

const lower = (h: string): Hex => h.toLowerCase() as Hex;
const cs = (a: string): Hex => getAddress(a) as Hex;

/** `kmsInfo()` at `block`; `InputError` `DSTACK_KMS_CALL_FAILED` when the address does not answer it. */
export async function readKmsInfo(client: Client, contract: Hex, block: bigint): Promise<KmsInfoRecord> {
  let r: readonly [Hex, Hex, Hex, Hex];
  try {
    r = await client.readContract({ address: contract, abi: dstackKmsAbi, functionName: "kmsInfo", blockNumber: block });
  } catch (e) {
    throw new InputError("DSTACK_KMS_CALL_FAILED", `${contract} does not answer kmsInfo() at block ${block} (is it a DstackKms contract?): ${shortError(e)}`, { cause: e });
  }
  return { k256Pubkey: lower(r[0]), caPubkey: lower(r[1]), quote: lower(r[2]), eventlog: lower(r[3]) };
}

/** The fields whose values differ between two records. */
export function changedFields(a: KmsInfoRecord, b: KmsInfoRecord): KmsInfoField[] {
  return KMS_INFO_FIELDS.filter((f) => a[f] !== b[f]);
}

/** The address holds code at `block`; `InputError` `DSTACK_KMS_NO_CODE` when it does not. */
export async function assertContract(client: Client, contract: Hex, block: bigint): Promise<void> {
  const code = await client.getCode({ address: contract, blockNumber: block });
  if (!code || code === "0x") throw new InputError("DSTACK_KMS_NO_CODE", `no contract at ${contract} on chain ${client.chain.id} (block ${block})`);
}

export interface ContractFacts {
  owner: Hex | null;
  /** The ERC-1967 implementation when the contract is a proxy. */
  implementation: Hex | null;
  /** The functions of the (implementation's) code that change the evidence without an event. */
  silentSetters: string[];
}

/** Owner, proxy implementation and which silent evidence setters its code dispatches to (a PUSH4 of the selector). */
export async function readContractFacts(client: Client, contract: Hex, block: bigint): Promise<ContractFacts> {
  const owner = await client
    .readContract({ address: contract, abi: dstackKmsAbi, functionName: "owner", blockNumber: block })
    .then((a) => cs(a))
    .catch(() => null);
  const slot = await client.getStorageAt({ address: contract, slot: ERC1967_IMPLEMENTATION_SLOT, blockNumber: block }).catch(() => undefined);
  const implementation = slot && BigInt(slot) !== 0n ? cs(`0x${slot.slice(-40)}`) : null;
  const code = (await client.getCode({ address: implementation ?? contract, blockNumber: block }).catch(() => undefined)) ?? "0x";
  const silentSetters = SILENT_EVIDENCE_SETTERS.filter((name) => code.toLowerCase().includes(`63${selectorOf(name).slice(2)}`));
  return { owner, implementation, silentSetters };
}

function selectorOf(name: string): Hex {
  const item = dstackKmsAbi.find((x) => x.type === "function" && x.name === name);
  if (!item || item.type !== "function") throw new Error(`no function ${name} in the DstackKms ABI`);
  return toFunctionSelector(item);
}

export type AllowList = "kmsAllowedAggregatedMrs" | "allowedOsImages" | "kmsAllowedDeviceIds";

/** One allow-list lookup at `block`. */
export async function isAllowed(client: Client, contract: Hex, list: AllowList, key: Hex, block: bigint): Promise<boolean> {
  return client.readContract({ address: contract, abi: dstackKmsAbi, functionName: list, args: [key], blockNumber: block });
}

export interface KmsBootInfo {
  appId: Hex;
  composeHash: Hex;
  instanceId: Hex;
  deviceId: Hex;
  mrAggregated: Hex;
  mrSystem: Hex;
  osImageHash: Hex;
  tcbStatus: string;
  advisoryIds: string[];
}

/** The contract's own `isKmsAllowed(bootInfo)`; `null` (with the error) when the call fails (an older contract). */
export async function isKmsAllowed(client: Client, contract: Hex, boot: KmsBootInfo, block: bigint): Promise<{ allowed: boolean; reason: string } | { error: string }> {
  try {
    const [allowed, reason] = await client.readContract({ address: contract, abi: dstackKmsAbi, functionName: "isKmsAllowed", args: [boot], blockNumber: block });
    return { allowed, reason };
  } catch (e) {
    return { error: shortError(e) };
  }
}

/** The events of the history (the app registry's own events are left out: they say nothing about the KMS). */
export const HISTORY_EVENTS = [
  "KmsInfoSet",
  "KmsAggregatedMrAdded",
  "KmsAggregatedMrRemoved",
  "KmsDeviceAdded",
  "KmsDeviceRemoved",
  "OsImageHashAdded",
  "OsImageHashRemoved",
  "GatewayAppIdSet",
  "AppImplementationSet",
  "OwnershipTransferred",
  "Upgraded",
  "Initialized",
] as const;
export type HistoryEventName = (typeof HISTORY_EVENTS)[number];

export interface HistoryEvent {
  event: HistoryEventName;
  /** The event's arguments (bytes as `0x` hex, addresses checksummed, numbers as decimal strings). */
  args: Record<string, string>;
  block: number;
  /** Block time, unix seconds. */
  timestamp: number;
  tx: Hex;
  logIndex: number;
  /** The transaction's sender (for a call through a multisig or another contract: that caller, not the owner). */
  from: Hex | null;
  /** The contract the transaction called (`null` for a creation). */
  to: Hex | null;
}

export interface HistoryScan {
  events: HistoryEvent[];
  fromBlock: number;
  toBlock: number;
  /** Logs with a history event's topic that did not decode. */
  undecodable: number;
  dropped: DroppedCounts;
  requests: number;
}

function topicOf(name: HistoryEventName): Hex {
  const item = dstackKmsAbi.find((x) => x.type === "event" && x.name === name);
  if (!item || item.type !== "event") throw new Error(`no event ${name} in the DstackKms ABI`);
  return toEventSelector(item);
}

function argText(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "number") return String(v);
  if (typeof v === "string") return /^0x[0-9a-fA-F]{40}$/.test(v) ? cs(v) : v.startsWith("0x") ? v.toLowerCase() : v;
  return String(v);
}

/**
 * Every history event of the contract in [fromBlock, toBlock] in chain order, each with its block time and its
 * transaction's sender (one lookup per block and per transaction).
 */
export async function scanHistory(
  client: Client,
  contract: Hex,
  range: { fromBlock: bigint; toBlock: bigint; initialRange?: bigint; onProgress?: (p: ScanProgress) => void },
): Promise<HistoryScan> {
  const topics = HISTORY_EVENTS.map(topicOf);
  const raw: RawLog[] = [];
  const scan = await scanLogs({
    request: client.request as never,
    address: contract,
    topics: [topics],
    fromBlock: range.fromBlock,
    toBlock: range.toBlock,
    initialRange: range.initialRange ?? 10_000n,
    maxRange: 100_000n,
    ...(range.onProgress ? { onProgress: range.onProgress } : {}),
    onLogs: (logs) => {
      raw.push(...logs);
    },
  });
  let undecodable = 0;
  const decoded: Omit<HistoryEvent, "timestamp" | "from" | "to">[] = [];
  for (const log of raw) {
    let d;
    try {
      d = decodeEventLog({ abi: dstackKmsAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
    } catch {
      undecodable++;
      continue;
    }
    if (!(HISTORY_EVENTS as readonly string[]).includes(d.eventName)) continue;
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries((d.args ?? {}) as Record<string, unknown>)) args[k] = argText(v);
    decoded.push({ event: d.eventName as HistoryEventName, args, block: Number(BigInt(log.blockNumber)), tx: lower(log.transactionHash), logIndex: Number(BigInt(log.logIndex)) });
  }
  decoded.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
  const times = new Map<number, number>();
  const senders = new Map<Hex, { from: Hex | null; to: Hex | null }>();
  for (const e of decoded) {
    if (!times.has(e.block)) times.set(e.block, Number((await client.getBlock({ blockNumber: BigInt(e.block) })).timestamp));
    if (!senders.has(e.tx)) {
      const tx = await client.getTransaction({ hash: e.tx }).catch(() => null);
      senders.set(e.tx, { from: tx ? cs(tx.from) : null, to: tx?.to ? cs(tx.to) : null });
    }
  }
  return {
    events: decoded.map((e) => ({ ...e, timestamp: times.get(e.block)!, ...senders.get(e.tx)! })),
    fromBlock: Number(range.fromBlock),
    toBlock: Number(range.toBlock),
    undecodable,
    dropped: scan.dropped,
    requests: scan.requests,
  };
}

/**
 * The first block at which the contract has code (binary search over historical `eth_getCode`); `null` when
 * the node does not serve historical state.
 */
export async function findDeploymentBlock(client: Client, contract: Hex, head: bigint): Promise<bigint | null> {
  const hasCode = async (b: bigint) => {
    const code = await client.getCode({ address: contract, blockNumber: b });
    return !!code && code !== "0x";
  };
  try {
    let lo = 0n;
    let hi = head;
    if (await hasCode(0n)) return 0n;
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if (await hasCode(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  } catch {
    return null;
  }
}

export interface AnnouncedRecord {
  record: KmsInfoRecord;
  /** Where it was read from: the `setKmsInfo` calldata of the event's transaction, or the state at its block. */
  source: "calldata" | "state-at-block";
}

/**
 * The record the last `KmsInfoSet` announced: decoded from its transaction when that is a direct `setKmsInfo`
 * call to the contract, otherwise read at the event's block (needs a node that serves historical state).
 * `null` when neither is available.
 */
export async function recordAsAnnounced(client: Client, contract: Hex, event: HistoryEvent): Promise<AnnouncedRecord | null> {
  const tx = await client.getTransaction({ hash: event.tx }).catch(() => null);
  if (tx && tx.to && tx.to.toLowerCase() === contract.toLowerCase()) {
    try {
      const call = decodeFunctionData({ abi: dstackKmsAbi, data: tx.input });
      if (call.functionName === "setKmsInfo") {
        const [info] = call.args;
        return { record: { k256Pubkey: lower(info.k256Pubkey), caPubkey: lower(info.caPubkey), quote: lower(info.quote), eventlog: lower(info.eventlog) }, source: "calldata" };
      }
    } catch {
      // not a call this ABI decodes: fall back to the state
    }
  }
  try {
    return { record: await readKmsInfo(client, contract, BigInt(event.block)), source: "state-at-block" };
  } catch {
    return null;
  }
}

/** A block in which the record changed without an event. */
export interface ChangePoint {
  block: number;
  timestamp: number;
  /** The fields that differ from the record before this block (for the first change: from the announced record). */
  fields: KmsInfoField[];
  /** The transactions of that block that called a silent setter directly (empty when it was called through another contract). */
  txs: { tx: Hex; from: Hex; function: string }[];
}

export interface SilentChange {
  /** The first block whose record differs from the announced one. */
  first: ChangePoint;
  /** The block that gave the record its current value, when that is a later one. */
  latest: ChangePoint | null;
}

/**
 * Where the record changed silently after `announcedBlock` (up to `head`), by binary search over historical
 * `kmsInfo()` calls: the first block whose record differs from `announced`, and the block after the last one
 * whose record differs from the current one; with the transactions in each that called a silent setter.
 * `null` when the node does not serve historical state.
 */
export async function locateSilentChange(client: Client, contract: Hex, announced: KmsInfoRecord, current: KmsInfoRecord, announcedBlock: bigint, head: bigint): Promise<SilentChange | null> {
  const at = (b: bigint) => readKmsInfo(client, contract, b);
  try {
    // the first block whose record differs from the announced one (the announced block itself when a silent
    // setter ran after setKmsInfo in the same block)
    const first = (await differs(at, announced, announcedBlock)) ? announcedBlock : await firstBlockWhere(at, announcedBlock, head, (r) => changedFields(r, announced).length > 0);
    const firstPoint = await changePoint(client, contract, first, changedFields(await at(first), announced));
    // the first block from which on the record equals the current one
    const settled = await firstBlockWhere(at, first - 1n, head, (r) => changedFields(r, current).length === 0);
    if (settled === first) return { first: firstPoint, latest: null };
    const latest = await changePoint(client, contract, settled, changedFields(await at(settled - 1n), current));
    return { first: firstPoint, latest };
  } catch {
    return null;
  }
}

async function differs(at: (b: bigint) => Promise<KmsInfoRecord>, rec: KmsInfoRecord, b: bigint): Promise<boolean> {
  return changedFields(await at(b), rec).length > 0;
}

/** The first block in (lo, hi] where `pred` holds, given that it does not hold at `lo`, holds at `hi` and, once it holds, keeps holding. */
async function firstBlockWhere(at: (b: bigint) => Promise<KmsInfoRecord>, lo: bigint, hi: bigint, pred: (r: KmsInfoRecord) => boolean): Promise<bigint> {
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (pred(await at(mid))) hi = mid;
    else lo = mid;
  }
  return hi;
}

async function changePoint(client: Client, contract: Hex, blockNumber: bigint, fields: KmsInfoField[]): Promise<ChangePoint> {
  const block = await client.getBlock({ blockNumber, includeTransactions: true });
  const selectors = new Map(SILENT_EVIDENCE_SETTERS.map((n) => [selectorOf(n), n]));
  const txs: ChangePoint["txs"] = [];
  for (const t of block.transactions) {
    if (typeof t === "string" || !t.to || t.to.toLowerCase() !== contract.toLowerCase()) continue;
    const fn = selectors.get(t.input.slice(0, 10).toLowerCase() as Hex);
    if (fn) txs.push({ tx: lower(t.hash), from: cs(t.from), function: fn });
  }
  return { block: Number(blockNumber), timestamp: Number(block.timestamp), fields, txs };
}

function shortError(e: unknown): string {
  return firstLine((e as { shortMessage?: string }).shortMessage ?? errorMessage(e));
}
