/**
 * The follower's state, kept in `--state FILE` between runs: the next block to process, the hashes of recent
 * processed blocks (to see a reorg), each KMS's state at the start of the reorg window and the events of the
 * window itself (replayed after a reorg or a restart), the findings of the window (to retract them), the
 * warnings already raised, and the webhook queue. Written atomically (a temp file renamed over the old one);
 * read back bounded and validated: a file that is not such a state is a `WATCH_STATE_CORRUPT` input error,
 * one of another registry or chain `WATCH_STATE_MISMATCH`.
 */
import type { Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { INPUT_KINDS, readInput, writeFileAtomic } from "../core/files.js";
import type { AuditKms } from "../registry/audit-state.js";
import type { AuditEvent } from "../registry/events.js";
import { isFinding, type Finding } from "./finding.js";

export const STATE_SCHEMA = "kms-registry.watch.state/1";

/** What the follower knows of a KMS besides its audit state. */
export interface KmsWatch {
  /** Timestamp of the block of the first registration. */
  registeredTimestamp: number;
  /** Block and block timestamp of the last liveness proof, null before the first. */
  lastLiveness: { block: number; timestamp: number } | null;
  /**
   * When the collateral the watch re-verified its latest quote with stops being valid (unix seconds), when
   * known. (An on-chain record's status, collateral expiry and staleness are the audit state's.)
   */
  collateralExpiry: number | null;
}

/** Every KMS's state after some block: the audit's rebuilt state and the follower's extras (by lower-case address). */
export interface WatchModel {
  kms: AuditKms[];
  extra: Record<string, KmsWatch>;
}

/** An event of the reorg window with what was learnt when it was processed (replayed as is). */
export interface WindowEntry {
  ev: AuditEvent;
  blockHash: Hex;
  timestamp: number;
  reverify?: { ok: boolean; detail: string; collateralExpiry?: number };
}

/** A finding raised from a block of the window, as needed to retract it. */
export interface WindowFinding {
  id: string;
  kind: string;
  kms: Hex | null;
  block: number;
  blockHash: Hex;
  tx: Hex | null;
}

export interface WatchState {
  schema: typeof STATE_SCHEMA;
  registry: Hex;
  chainId: number;
  /** The first block not processed yet. */
  nextBlock: number;
  /** Processed blocks whose hash is known, ascending (those of the window). */
  blocks: { number: number; hash: Hex }[];
  /** The state at the end of block `base.block` (before the window); `base.block` is `nextBlock - 1` for a fresh state. */
  base: { block: number; model: WatchModel };
  window: WindowEntry[];
  findings: WindowFinding[];
  /** Warnings raised, by key, with the block they were raised at (so each is raised once). */
  raised: Record<string, number>;
  webhook: { queue: Finding[]; dropped: number; firstDropped: string | null };
}

export function freshState(registry: Hex, chainId: number, fromBlock: number): WatchState {
  return {
    schema: STATE_SCHEMA,
    registry,
    chainId,
    nextBlock: fromBlock,
    blocks: [],
    base: { block: fromBlock - 1, model: { kms: [], extra: {} } },
    window: [],
    findings: [],
    raised: {},
    webhook: { queue: [], dropped: 0, firstDropped: null },
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isHex = (v: unknown, bytes?: number): v is Hex => typeof v === "string" && (bytes === undefined ? /^0x[0-9a-fA-F]*$/ : new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`)).test(v);

/** The first field of `s` that is not of a state's shape, or undefined when all are. */
function invalidField(s: Record<string, unknown>): string | undefined {
  if (s.schema !== STATE_SCHEMA) return `schema (expected ${JSON.stringify(STATE_SCHEMA)})`;
  if (!isHex(s.registry, 20)) return "registry";
  if (!isInt(s.chainId) || s.chainId <= 0) return "chainId";
  if (!isInt(s.nextBlock) || s.nextBlock < 0) return "nextBlock";
  if (!Array.isArray(s.blocks) || !s.blocks.every((b) => isObj(b) && isInt(b.number) && isHex(b.hash, 32))) return "blocks";
  const nums = (s.blocks as { number: number }[]).map((b) => b.number);
  if (nums.some((n, i) => (i > 0 && n <= nums[i - 1]!) || n >= (s.nextBlock as number))) return "blocks (not ascending below nextBlock)";
  const base = s.base;
  if (!isObj(base) || !isInt(base.block) || base.block < -1 || base.block >= (s.nextBlock as number) || !isObj(base.model)) return "base";
  const model = base.model;
  if (!Array.isArray(model.kms) || !model.kms.every((k) => isObj(k) && isHex(k.address, 20) && (k.status === "active" || k.status === "revoked") && Array.isArray(k.attestations) && Array.isArray(k.checks) && Array.isArray(k.livenessProofs))) {
    return "base.model.kms";
  }
  if (!isObj(model.extra) || !Object.values(model.extra).every((x) => isObj(x) && isInt(x.registeredTimestamp) && (x.collateralExpiry === null || isInt(x.collateralExpiry)))) return "base.model.extra";
  if (!Array.isArray(s.window) || !s.window.every((e) => isObj(e) && isObj(e.ev) && typeof e.ev.kind === "string" && isHex(e.ev.kms, 20) && isInt(e.ev.block) && isHex(e.ev.tx, 32) && isHex(e.blockHash, 32) && isInt(e.timestamp))) {
    return "window";
  }
  if (!Array.isArray(s.findings) || !s.findings.every((f) => isObj(f) && typeof f.id === "string" && typeof f.kind === "string" && isInt(f.block) && isHex(f.blockHash, 32))) return "findings";
  if (!isObj(s.raised) || !Object.values(s.raised).every(isInt)) return "raised";
  const w = s.webhook;
  if (!isObj(w) || !Array.isArray(w.queue) || !w.queue.every(isFinding) || !isInt(w.dropped) || w.dropped < 0 || !(w.firstDropped === null || typeof w.firstDropped === "string")) return "webhook";
  return undefined;
}

/** Parse and check a state file's text; `path` names it in errors. */
export function parseWatchState(text: string, path: string): WatchState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError("WATCH_STATE_CORRUPT", `watch state ${JSON.stringify(path)} is not valid JSON (${(e as Error).message.slice(0, 120)}); move it away to start afresh`, { details: { path } });
  }
  if (!isObj(v)) throw new InputError("WATCH_STATE_CORRUPT", `watch state ${JSON.stringify(path)} is not a JSON object`, { details: { path } });
  const bad = invalidField(v);
  if (bad) throw new InputError("WATCH_STATE_CORRUPT", `watch state ${JSON.stringify(path)} is corrupt: bad ${bad}; move it away to start afresh`, { details: { path, field: bad } });
  return v as unknown as WatchState;
}

/** The state in `path`, or undefined when there is no such file; checked to be of `registry` on `chainId`. */
export async function readWatchState(path: string, registry: Hex, chainId: number): Promise<WatchState | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readInput(path, INPUT_KINDS.watchState, { label: `watch state ${JSON.stringify(path)}` });
  } catch (e) {
    if (e instanceof InputError && e.code === "FILE_NOT_FOUND") return undefined;
    throw e;
  }
  const s = parseWatchState(new TextDecoder().decode(bytes), path);
  if (s.registry.toLowerCase() !== registry.toLowerCase() || s.chainId !== chainId) {
    throw new InputError("WATCH_STATE_MISMATCH", `watch state ${JSON.stringify(path)} is of registry ${s.registry} on chain ${s.chainId}, not ${registry} on chain ${chainId}`, {
      details: { path, stateRegistry: s.registry, stateChainId: s.chainId },
    });
  }
  return s;
}

/** Write `state` to `path` atomically (readers and a crash never see half a file). */
export async function writeWatchState(path: string, state: WatchState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state) + "\n");
}
