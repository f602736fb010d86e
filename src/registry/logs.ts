/**
 * `eth_getLogs` over long block spans, adapting to the RPC's limits. Hosted RPCs refuse ranges that are
 * too wide or results that are too many (Alchemy: "Log response size exceeded … this block range should
 * work: [0x…, 0x…]"; Infura: "query returned more than 10000 results. Try with this block range [0x…, 0x…]";
 * others: "block range is too wide", "exceed maximum block range: 5000", "ranges over 10000 blocks are not
 * supported"). On such an error the range is cut (to the RPC's hint when it gives one, otherwise halved)
 * and retried; after a few successes it grows again.
 *
 * An RPC's answer is not taken on trust: a log from another address than the one asked for, a second copy of
 * a log (same blockHash, transactionHash and logIndex) and a log outside the block range of its request are
 * dropped and counted (`dropped`), and `onDropped` sees each of them.
 */
import type { Hex } from "../core/bytes.js";
import { NetworkError } from "../core/errors.js";

export interface RawLog {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  logIndex: Hex;
  removed?: boolean;
}

export type RpcRequest = (args: { method: string; params?: unknown }) => Promise<unknown>;

export interface ScanProgress {
  fromBlock: bigint;
  toBlock: bigint;
  /** Last block fully scanned. */
  scannedTo: bigint;
  logs: number;
  range: bigint;
  requests: number;
  rangeErrors: number;
}

export interface ScanOptions {
  request: RpcRequest;
  address: Hex;
  topics?: (Hex | Hex[] | null)[];
  fromBlock: bigint;
  toBlock: bigint;
  /** First range tried (blocks per request). Default 10,000. */
  initialRange?: bigint;
  /** Upper bound when growing. Default 100,000. */
  maxRange?: bigint;
  /** Successes in a row before the range doubles. Default 3. */
  growAfter?: number;
  /** Retries of a non-range error (timeouts, 5xx) before giving up. Default 3. */
  retries?: number;
  retryDelayMs?: number;
  onProgress?: (p: ScanProgress) => void;
  /** Receives each chunk's logs in block order; when given, `scanLogs` does not accumulate them. */
  onLogs?: (logs: RawLog[]) => void | Promise<void>;
  /** Receives each log the scan dropped, with the reason and the block range of the request that returned it. */
  onDropped?: (d: DroppedLog) => void;
}

export type DropReason = "foreign" | "duplicate" | "out-of-range";

export interface DroppedLog {
  reason: DropReason;
  log: RawLog;
  /** Block range of the `eth_getLogs` request that returned the log. */
  fromBlock: bigint;
  toBlock: bigint;
}

/** Logs the RPC returned that the scan did not use. */
export interface DroppedCounts {
  /** From another address than the scanned one. */
  foreign: number;
  /** A second copy of a log already returned (same blockHash, transactionHash, logIndex). */
  duplicate: number;
  /** Block number outside the range of the request (or not a block number at all). */
  outOfRange: number;
}

export interface ScanResult {
  logs: RawLog[];
  /** Logs returned by the RPC (not counting `removed` ones), used or dropped. */
  received: number;
  dropped: DroppedCounts;
  requests: number;
  rangeErrors: number;
  finalRange: bigint;
}

const RANGE_PATTERNS = [
  /block range/i,
  /range (is )?too (large|wide|big)/i,
  /too many (results|logs|blocks)/i,
  /returned more than/i,
  /response size (exceeded|is larger|too large)/i,
  /log response size/i,
  /limit(ed)? (exceeded|to)/i,
  /exceed(s|ed)? (the )?max(imum)?/i,
  /query timeout|timed? ?out|timeout/i,
  /not supported.*blocks|blocks.*not supported/i,
  /payload too large|413/i,
  // viem's own cap on a response body (10 MiB by default): ask for fewer blocks
  /response body exceeded the size limit|ResponseBodyTooLarge/i,
];

/** All the text of an error and its causes (viem nests the RPC's message in `details` / `cause`). */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur; i++) {
    if (cur instanceof Error) {
      parts.push(cur.message);
      const d = (cur as { details?: unknown }).details;
      if (typeof d === "string") parts.push(d);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(typeof cur === "string" ? cur : JSON.stringify(cur));
      break;
    }
  }
  return parts.join(" | ");
}

/** Whether an `eth_getLogs` error means "ask for less" rather than "broken". */
export function isRangeLimitError(e: unknown): boolean {
  const t = errorText(e);
  if (/rate.?limit|too many requests|\b429\b|compute units/i.test(t)) return false;
  return RANGE_PATTERNS.some((re) => re.test(t));
}

/** The block range an RPC suggested in its error (`[0x1, 0x2]`, `[1, 2]`), if any. */
export function suggestedRange(e: unknown): { from: bigint; to: bigint } | undefined {
  const m = /\[\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*\]/.exec(errorText(e));
  if (!m) return undefined;
  const from = BigInt(m[1]!);
  const to = BigInt(m[2]!);
  return to >= from ? { from, to } : undefined;
}

/** A "maximum block range: N" / "up to a 2K block range" / "limited to a 10,000 range" number in the error. */
export function statedMaxRange(e: unknown): bigint | undefined {
  const t = errorText(e);
  const m =
    /max(?:imum)? block range(?: is|:)?\s*(\d[\d,]*)/i.exec(t) ??
    /up to a (\d+)([kK]?) block range/.exec(t) ??
    /limited to a (\d[\d,]*) (?:block )?range/i.exec(t) ??
    /ranges over (\d[\d,]*) blocks/i.exec(t);
  if (!m) return undefined;
  let n = BigInt(m[1]!.replace(/,/g, ""));
  if (m[2] === "k" || m[2] === "K") n *= 1000n;
  return n > 0n ? n : undefined;
}

const hex = (n: bigint): Hex => `0x${n.toString(16)}`;

function blockOf(log: RawLog): bigint | undefined {
  return typeof log.blockNumber === "string" && /^0x[0-9a-f]+$/i.test(log.blockNumber) ? BigInt(log.blockNumber) : undefined;
}

const REASON_KEY = { foreign: "foreign", duplicate: "duplicate", "out-of-range": "outOfRange" } as const;

/**
 * The logs of one chunk the scan uses; the others go to `drop`. Chunks are disjoint block ranges and a log
 * outside its request's range is dropped, so a copy of a log (same block) can only come within one chunk: the
 * duplicate check needs no memory across chunks.
 */
function screenChunk(logs: RawLog[], address: Hex, from: bigint, to: bigint, drop: (reason: DropReason, log: RawLog) => void): RawLog[] {
  const want = address.toLowerCase();
  const seen = new Set<string>();
  const kept: RawLog[] = [];
  for (const l of logs) {
    // (an entry that is not a log object has no address either)
    if (typeof l !== "object" || l === null || typeof l.address !== "string" || l.address.toLowerCase() !== want) {
      drop("foreign", l);
      continue;
    }
    const b = blockOf(l);
    if (b === undefined || b < from || b > to) {
      drop("out-of-range", l);
      continue;
    }
    const key = `${String(l.blockHash).toLowerCase()}/${String(l.transactionHash).toLowerCase()}/${String(l.logIndex).toLowerCase()}`;
    if (seen.has(key)) {
      drop("duplicate", l);
      continue;
    }
    seen.add(key);
    kept.push(l);
  }
  return kept;
}

type Outcome = { ok: true; logs: RawLog[] } | { ok: false; error: unknown };

/** An `eth_getLogs` request in flight for [from, to]; its answer never rejects. */
interface Pending {
  from: bigint;
  to: bigint;
  answer: Promise<Outcome>;
}

/**
 * The block range of the next request: cut on a range error (to the RPC's hint when it gives one, else to a
 * maximum it states, else halved), doubled after `growAfter` successes in a row, up to `maxRange`.
 */
class AdaptiveRange {
  size: bigint;
  private streak = 0;

  constructor(
    initial: bigint,
    private readonly maxRange: bigint,
    private readonly growAfter: number,
  ) {
    this.size = initial < 1n ? 1n : initial;
  }

  /** After a range error of the request [from, to] (which spans more than one block). */
  shrink(e: unknown, from: bigint, to: bigint): void {
    this.streak = 0;
    const span = to - from + 1n;
    const hint = suggestedRange(e);
    const stated = statedMaxRange(e);
    let next = span / 2n;
    if (hint && hint.from === from && hint.to < to) next = hint.to - hint.from + 1n;
    else if (stated && stated < span) next = stated;
    this.size = next < 1n ? 1n : next;
  }

  succeeded(): void {
    if (++this.streak >= this.growAfter && this.size < this.maxRange) {
      this.size = this.size * 2n > this.maxRange ? this.maxRange : this.size * 2n;
      this.streak = 0;
    }
  }
}

/** Read all logs of `address` matching `topics` in [fromBlock, toBlock], adapting the request range. */
export async function scanLogs(opts: ScanOptions): Promise<ScanResult> {
  const retries = opts.retries ?? 3;
  const range = new AdaptiveRange(opts.initialRange ?? 10_000n, opts.maxRange ?? 100_000n, opts.growAfter ?? 3);
  const all: RawLog[] = [];
  let requests = 0;
  let rangeErrors = 0;
  let failures = 0;
  let seen = 0;
  let received = 0;
  const dropped: DroppedCounts = { foreign: 0, duplicate: 0, outOfRange: 0 };
  const start = (from: bigint): Pending | undefined => {
    if (from > opts.toBlock) return undefined;
    requests++;
    return requestLogs(opts, from, range.size);
  };
  // One request is always in flight while the previous chunk is being processed (the node works meanwhile).
  let pending = start(opts.fromBlock);
  while (pending) {
    const { from, to } = pending;
    const out = await pending.answer;
    if (!out.ok) {
      if (isRangeLimitError(out.error)) {
        rangeErrors++;
        if (to === from) {
          throw new NetworkError("RPC_LOG_LIMIT", `the RPC refuses eth_getLogs even for the single block ${from}: ${errorText(out.error).slice(0, 300)}`, { cause: out.error });
        }
        range.shrink(out.error, from, to);
      } else {
        if (out.error instanceof NetworkError || ++failures > retries) {
          throw new NetworkError("RPC_GETLOGS_FAILED", `eth_getLogs [${from}, ${to}] failed: ${errorText(out.error).split(" | ")[0]!.slice(0, 300)}`, { cause: out.error });
        }
        await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 250) * 2 ** (failures - 1)));
      }
      pending = start(from);
      continue;
    }
    failures = 0;
    range.succeeded();
    pending = start(to + 1n);
    const returned = out.logs.filter((l) => !(l as Partial<RawLog> | null)?.removed);
    received += returned.length;
    const live = screenChunk(returned, opts.address, from, to, (reason, log) => {
      dropped[REASON_KEY[reason]]++;
      opts.onDropped?.({ reason, log, fromBlock: from, toBlock: to });
    });
    seen += live.length;
    if (opts.onLogs) await opts.onLogs(live);
    else for (const l of live) all.push(l);
    opts.onProgress?.({ fromBlock: opts.fromBlock, toBlock: opts.toBlock, scannedTo: to, logs: seen, range: range.size, requests, rangeErrors });
  }
  return { logs: all, received, dropped, requests, rangeErrors, finalRange: range.size };
}

/** Send `eth_getLogs` for [from, from + size - 1] (capped at `toBlock`); an answer that is not an array is an error. */
function requestLogs(opts: ScanOptions, from: bigint, size: bigint): Pending {
  let to = from + size - 1n;
  if (to > opts.toBlock) to = opts.toBlock;
  const answer = opts
    .request({ method: "eth_getLogs", params: [{ address: opts.address, topics: opts.topics ?? [], fromBlock: hex(from), toBlock: hex(to) }] })
    .then(
      (logs): Outcome =>
        Array.isArray(logs) ? { ok: true, logs: logs as RawLog[] } : { ok: false, error: new NetworkError("RPC_BAD_ANSWER", `eth_getLogs [${from}, ${to}] did not return an array`) },
      (error: unknown): Outcome => ({ ok: false, error }),
    );
  return { from, to, answer };
}
