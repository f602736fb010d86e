/**
 * Following a registry as blocks arrive. Each poll reads the chain head, checks that the last processed block
 * is still on the chain (a reorg otherwise: the findings of the dropped blocks are retracted and the state is
 * rebuilt from the last common block), then processes the blocks that have at least `confirmations`
 * confirmations: their registry logs (read and screened by `scanLogs`, decoded by `decodeRegistryLog`), each
 * event applied to the audit's per-KMS state (`applyEvent`, which raises the audit's anomalies), each
 * registration re-verified by the caller's `reverify`, and then the warnings that depend on time (collateral
 * expiring, no liveness proof for too long). RPC failures are retried with a bounded exponential backoff;
 * nothing is committed from a poll that failed, so a retry never reports a finding twice.
 */
import { type Chain, type PublicClient, type Transport } from "viem";

import { hexToBytes, type Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { applyEvent, DROPPED_LOG_KIND, platformOfQuote, type Anomaly, type AnomalyKind, type AttestationPlatform, type AuditKms, type SnpEvidence } from "../registry/audit-state.js";
import { decodeRegistryLog, type AuditEvent } from "../registry/events.js";
import { shortMessage } from "../registry/connect.js";
import { scanLogs, type DropReason, type RawLog } from "../registry/logs.js";
import type { OnChainCollateral } from "../registry/verifier.js";
import { makeFinding, type Finding, type FindingInput, type Severity } from "./finding.js";
import type { KmsWatch, WatchModel, WatchState, WindowEntry, WindowFinding } from "./state.js";

export interface WatchReverifyOutcome {
  ok: boolean;
  detail: string;
  /** When the collateral used stops being valid (unix seconds). */
  collateralExpiry?: number;
}
/**
 * Full re-verification of a registered quote (the caller's collateral and policy): at chain time `now`, or with
 * what the registration published (its collateral, or an SEV-SNP registration's VCEK and AMD chain) at its block
 * time `blockTimestamp`. Undefined: not re-verified (nothing to verify it with).
 */
export type WatchReverify = (
  quote: Uint8Array,
  ctx: { kms: Hex; attestation: number; block: number; now: number; blockTimestamp: number; platform: AttestationPlatform; collateral?: OnChainCollateral; snpEvidence?: SnpEvidence },
) => Promise<WatchReverifyOutcome | undefined>;

export interface FollowOptions {
  publicClient: PublicClient<Transport, Chain>;
  registry: Hex;
  chainId: number;
  /** The state to continue from (fresh or read back); updated in place at each commit. */
  state: WatchState;
  /** Blocks are processed once they have this many confirmations (1 = the head block itself). */
  confirmations: number;
  intervalMs: number;
  maxBackoffMs: number;
  /** Warn when the collateral of an active KMS stops being valid within this many days. */
  collateralWarnDays?: number;
  /** Warn when an active KMS has no liveness proof for longer than this (seconds). */
  livenessMaxAgeS?: number;
  reverify?: WatchReverify;
  /** Receives each finding once, in order. */
  emit: (f: Finding) => void;
  /** Progress and error lines (stderr). */
  log: (line: string) => void;
  /** Persist the state (after each commit and when `dirty()` says so). */
  save?: (s: WatchState) => Promise<void>;
  /** Whether something outside the follower (the webhook queue) changed the state to save. */
  dirty?: () => boolean;
  signal: AbortSignal;
  /** Blocks kept for reorg detection and retraction. Default 256 (at least 2 × confirmations). */
  windowBlocks?: number;
  /** Most blocks processed per poll. Default 2000. */
  maxBatchBlocks?: number;
}

const CRITICAL: ReadonlySet<AnomalyKind> = new Set<AnomalyKind>([
  "quote-hash-mismatch",
  "kms-address-mismatch",
  "binding-mismatch",
  "quote-unparseable",
  "quote-not-verifiable",
  "ca-key-changed",
  "registered-after-revocation",
  "state-mismatch",
]);
const severityOf = (k: AnomalyKind): Severity => (CRITICAL.has(k) ? "critical" : "warning");

/** A poll abandoned because the signal fired (nothing of it is committed). */
class Aborted extends Error {}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

const clone = <T>(v: T): T => structuredClone(v);

/** The live model: maps by address over a copy of a stored model. */
export interface LiveModel {
  byAddr: Map<string, AuditKms>;
  extra: Map<string, KmsWatch>;
}
export const toLive = (m: WatchModel): LiveModel => {
  const c = clone(m);
  return { byAddr: new Map(c.kms.map((k) => [k.address.toLowerCase(), k])), extra: new Map(Object.entries(c.extra)) };
};
const toStored = (m: LiveModel): WatchModel => clone({ kms: [...m.byAddr.values()], extra: Object.fromEntries(m.extra) });

/**
 * Apply one window entry to the model; the findings it gives (the event itself, the audit's anomalies, the
 * re-verification). Every event goes through the audit's `applyEvent` once, so its anomalies (an on-chain
 * verification or recheck of a KMS never registered, …) are raised once, with the audit's names; the
 * follower's own findings only say what the event did to the rebuilt record. The same entry always gives the
 * same findings, so a replay is silent only by choice.
 */
export function applyEntry(model: LiveModel, entry: WindowEntry): FindingInput[] {
  const { ev } = entry;
  const key = ev.kms.toLowerCase();
  const before = model.byAddr.get(key);
  const existed = before !== undefined;
  const wasStale = before?.stale ?? false;
  const anomalies: Anomaly[] = [];
  applyEvent(model.byAddr, ev, anomalies);
  const k = model.byAddr.get(key);
  const where = { block: ev.block, blockHash: entry.blockHash, tx: ev.tx };
  const out: FindingInput[] = [];
  const loc = `${ev.tx}:${ev.logIndex}`;
  if (ev.kind === "registered" && k) {
    const n = k.attestations.length;
    const x: KmsWatch = model.extra.get(key) ?? { registeredTimestamp: entry.timestamp, lastLiveness: null, collateralExpiry: null };
    model.extra.set(key, x);
    const failed = k.checks.filter((c) => c.attestation === n && !c.ok).map((c) => c.name);
    let verdict = failed.length ? `checks FAILED: ${failed.join(", ")}` : "quote hash, KMS address and key binding ok";
    if (entry.reverify) {
      k.checks.push({ attestation: n, name: "reverify", ok: entry.reverify.ok, detail: entry.reverify.detail });
      if (!entry.reverify.ok) anomalies.push({ kms: ev.kms, kind: "quote-not-verifiable", detail: `attestation #${n} (block ${ev.block}): ${entry.reverify.detail}` });
      if (entry.reverify.collateralExpiry !== undefined) x.collateralExpiry = entry.reverify.collateralExpiry;
      verdict += `; re-verified: ${entry.reverify.detail}`;
    }
    out.push({
      kind: existed ? "reattested" : "registered",
      severity: "info",
      kms: ev.kms,
      ...where,
      key: loc,
      message: `${existed ? "re-attested" : "registered"} by ${ev.registrar} (attestation #${n}, ${k.attestations[n - 1]!.platform}, quote ${ev.quoteHash.slice(0, 18)}…): ${verdict}`,
    });
  } else if (ev.kind === "verified") {
    // part of the registration just applied (otherwise the audit's anomaly says why not)
    const att = k?.attestations.at(-1);
    if (att?.tx === ev.tx && att.verified) {
      out.push({
        kind: "verified-on-chain",
        severity: ev.intelRoot ? "info" : "warning",
        kms: ev.kms,
        ...where,
        key: loc,
        message: `verified on chain: ${ev.tcbStatus}, FMSPC ${ev.fmspc}, collateral valid until ${iso(ev.collateralExpiry)}${ev.intelRoot ? "" : "; NOT GENUINE: the registry's verifier does not trust Intel's root"}`,
      });
    }
  } else if (ev.kind === "rechecked" && k) {
    out.push({ kind: "rechecked", severity: "info", kms: ev.kms, ...where, key: loc, message: `rechecked by ${ev.by}: ${ev.tcbStatus}, collateral valid until ${iso(ev.collateralExpiry)}${ev.stale ? ", STALE" : ""}` });
    if (k.stale && !wasStale) {
      out.push({ kind: "kms-stale", severity: "critical", kms: ev.kms, ...where, key: `${loc}:stale`, message: `gone stale: Intel's current collateral no longer accepts its quote (${ev.tcbStatus}); isVerifiedOnChain() is false` });
    } else if (!k.stale && wasStale) {
      out.push({ kind: "kms-unstale", severity: "info", kms: ev.kms, ...where, key: `${loc}:unstale`, message: `no longer stale: a recheck passed with ${ev.tcbStatus}` });
    }
  } else if (ev.kind === "revoked") {
    out.push({ kind: "revoked", severity: "warning", kms: ev.kms, ...where, key: loc, message: `revoked by ${ev.by}: ${JSON.stringify(ev.reason.slice(0, 200))}` });
  } else if (ev.kind === "liveness") {
    const x = model.extra.get(key);
    if (x) x.lastLiveness = { block: ev.block, timestamp: entry.timestamp };
    out.push({ kind: "liveness", severity: "info", kms: ev.kms, ...where, key: loc, message: `liveness proven (nonce ${ev.nonce})` });
  }
  anomalies.forEach((a, i) => out.push({ kind: a.kind, severity: severityOf(a.kind), kms: a.kms, ...where, key: `${loc}:${i}`, message: a.detail }));
  return out;
}

/** The model after replaying `entries` on `base`, without findings. */
function replay(base: WatchModel, entries: WindowEntry[]): LiveModel {
  const m = toLive(base);
  for (const e of entries) applyEntry(m, e);
  return m;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");
const days = (s: number) => (s / 86400).toFixed(1);

/**
 * The warnings that depend on time, at chain time `now` of block (`block`, `hash`), each raised once per key
 * (`raised`); keys of conditions that no longer hold are forgotten, so a condition that comes back is raised again.
 */
export function timeWarnings(model: LiveModel, opts: Pick<FollowOptions, "livenessMaxAgeS" | "collateralWarnDays">, raised: Record<string, number>, block: number, blockHash: Hex, now: number): { findings: FindingInput[]; raised: Record<string, number> } {
  const out: FindingInput[] = [];
  const next: Record<string, number> = {};
  const keep = (key: string) => {
    if (raised[key] !== undefined) next[key] = raised[key];
  };
  const raise = (key: string, f: Omit<FindingInput, "key" | "block" | "blockHash" | "tx">) => {
    if (raised[key] !== undefined) return keep(key);
    next[key] = block;
    out.push({ ...f, key, block, blockHash, tx: null });
  };
  for (const [addr, k] of model.byAddr) {
    const x = model.extra.get(addr);
    if (!x || k.status !== "active") continue;
    if (opts.livenessMaxAgeS !== undefined) {
      const since = x.lastLiveness?.timestamp ?? x.registeredTimestamp;
      const age = now - since;
      const key = `liveness-overdue:${addr}:${x.lastLiveness?.block ?? k.registeredAt}`;
      if (age > opts.livenessMaxAgeS) {
        raise(key, {
          kind: "liveness-overdue",
          severity: "warning",
          kms: k.address,
          message: `no liveness proof for ${age} s (max ${opts.livenessMaxAgeS} s): ${x.lastLiveness ? `last proof in block ${x.lastLiveness.block}` : `none since its registration in block ${k.registeredAt}`}`,
        });
      }
    }
    // the registry's record (verified on chain, or rechecked since) before the watch's own re-verification
    const onChain = k.path === "on-chain" && k.collateralExpiry !== null;
    const exp = onChain ? k.collateralExpiry : x.collateralExpiry;
    if (exp !== null && opts.collateralWarnDays !== undefined) {
      const src = onChain ? "the registry's record" : "the collateral it was re-verified with";
      if (now >= exp) {
        raise(`collateral-expired:${addr}:${exp}`, { kind: "collateral-expired", severity: "critical", kms: k.address, message: `collateral expired at ${iso(exp)} (${src})` });
      } else if (exp - now <= opts.collateralWarnDays * 86400) {
        raise(`collateral-expiring:${addr}:${exp}`, {
          kind: "collateral-expiring",
          severity: "warning",
          kms: k.address,
          message: `collateral expires at ${iso(exp)}, in ${days(exp - now)} days (warning at ${opts.collateralWarnDays} days; ${src})`,
        });
      }
      keep(`collateral-expired:${addr}:${exp}`);
      keep(`collateral-expiring:${addr}:${exp}`);
    }
  }
  return { findings: out, raised: next };
}

/** Follow until `opts.signal` fires; the state is saved before returning. */
export async function follow(opts: FollowOptions): Promise<void> {
  const { signal } = opts;
  const st = opts.state;
  const window = Math.max(opts.windowBlocks ?? 256, 2 * opts.confirmations);
  const batch = opts.maxBatchBlocks ?? 2000;
  let model = replay(st.base.model, st.window);
  let failures = 0;
  let saved = true;
  const save = async () => {
    if (opts.save) await opts.save(st);
    saved = true;
  };
  const request = opts.publicClient.request as never;

  const emitAll = (inputs: FindingInput[]) => {
    const made = inputs.map((i) => makeFinding(opts.registry, opts.chainId, i));
    for (const f of made) opts.emit(f);
    return made;
  };

  const headerAt = async (n: number): Promise<{ hash: Hex; timestamp: bigint } | null> => {
    try {
      const b = await opts.publicClient.getBlock({ blockNumber: BigInt(n) });
      return b.hash ? { hash: b.hash.toLowerCase() as Hex, timestamp: b.timestamp } : null;
    } catch (e) {
      if ((e as { name?: string }).name === "BlockNotFoundError") return null;
      throw e;
    }
  };

  /** The last block both the state and the chain have, or undefined when none of the window's blocks is on the chain. */
  const commonAncestor = async (head: number): Promise<number | undefined> => {
    for (let i = st.blocks.length - 1; i >= 0; i--) {
      const p = st.blocks[i]!;
      if (p.number > head) continue;
      const h = await abortable(headerAt(p.number), signal);
      if (h?.hash.toLowerCase() === p.hash.toLowerCase()) return p.number;
    }
    return undefined;
  };

  const reorgTo = (ancestor: number | undefined, head: number) => {
    const deep = ancestor === undefined;
    const to = ancestor ?? st.base.block;
    const dropped = st.findings.filter((f) => f.block > to);
    const inputs: FindingInput[] = dropped.map((f) => ({
      kind: "retracted",
      severity: "warning",
      kms: f.kms,
      block: f.block,
      blockHash: f.blockHash,
      tx: f.tx,
      key: f.id,
      retracts: f.id,
      message: `block ${f.block} (${f.blockHash.slice(0, 18)}…) is no longer on the chain: finding ${f.id} (${f.kind}) is withdrawn`,
    }));
    if (deep) {
      const last = st.blocks.at(-1)!;
      inputs.push({
        kind: "reorg-beyond-window",
        severity: "critical",
        kms: null,
        block: last.number,
        blockHash: last.hash,
        tx: null,
        key: `reorg:${head}`,
        message: `none of the last ${st.blocks.length} processed blocks is on the chain any more (a reorg deeper than the ${window}-block window): continuing from block ${to + 1}; findings before it are not retracted`,
      });
    }
    st.window = st.window.filter((e) => e.ev.block <= to);
    st.blocks = st.blocks.filter((b) => b.number <= to);
    st.findings = st.findings.filter((f) => f.block <= to);
    st.raised = Object.fromEntries(Object.entries(st.raised).filter(([, b]) => b <= to));
    st.nextBlock = to + 1;
    model = replay(st.base.model, st.window);
    saved = false;
    opts.log(`[watch] reorg: blocks after ${to} were replaced; ${dropped.length} finding${dropped.length === 1 ? "" : "s"} retracted`);
    emitAll(inputs);
  };

  /** One poll; true when there are more confirmed blocks to process right away. */
  const poll = async (): Promise<boolean> => {
    const head = Number(await abortable(opts.publicClient.getBlockNumber({ cacheTime: 0 }), signal));
    const last = st.blocks.at(-1);
    if (last) {
      const h = last.number <= head ? await abortable(headerAt(last.number), signal) : null;
      if (h?.hash.toLowerCase() !== last.hash.toLowerCase()) {
        const ancestor = await commonAncestor(head);
        if (signal.aborted) throw new Aborted();
        reorgTo(ancestor, head);
      }
    }
    const target = head - (opts.confirmations - 1);
    if (target < st.nextBlock) return false;
    const from = st.nextBlock;
    const to = Math.min(target, from + batch - 1);
    const top = await abortable(headerAt(to), signal);
    if (!top) return false;
    const logs: RawLog[] = [];
    const dropped: { reason: DropReason; log: RawLog }[] = [];
    await abortable(
      scanLogs({
        request,
        address: opts.registry,
        fromBlock: BigInt(from),
        toBlock: BigInt(to),
        initialRange: BigInt(batch),
        maxRange: BigInt(batch),
        retries: 0,
        onLogs: (l) => void logs.push(...l),
        onDropped: (d) => void dropped.push({ reason: d.reason, log: d.log }),
      }),
      signal,
    );
    // the head block the logs were read under must still be there: otherwise the logs may be of a dropped fork
    const again = await abortable(headerAt(to), signal);
    if (again?.hash.toLowerCase() !== top.hash.toLowerCase()) throw new Error(`block ${to} changed while its logs were read (a reorg); retrying`);

    const events: { ev: AuditEvent; blockHash: Hex }[] = [];
    const inputs: FindingInput[] = [];
    for (const l of logs) {
      const ev = decodeRegistryLog(l);
      if (ev === "undecodable") {
        inputs.push({ kind: "undecodable-event", severity: "warning", kms: null, block: Number(BigInt(l.blockNumber)), blockHash: l.blockHash, tx: l.transactionHash, key: `${l.transactionHash}:${l.logIndex}`, message: `log ${l.transactionHash}#${BigInt(l.logIndex)} has a registry event topic but does not decode` });
      } else if (ev) events.push({ ev, blockHash: l.blockHash.toLowerCase() as Hex });
    }
    for (const d of dropped) {
      const l = d.log as Partial<RawLog>;
      const tx = typeof l.transactionHash === "string" && /^0x[0-9a-fA-F]{64}$/.test(l.transactionHash) ? (l.transactionHash as Hex) : null;
      inputs.push({ kind: DROPPED_LOG_KIND[d.reason], severity: "warning", kms: null, block: to, blockHash: top.hash, tx, key: `${d.reason}:${tx}:${String(l.logIndex)}`, message: `the RPC returned a log it should not have (${d.reason}) for blocks ${from}…${to}; dropped` });
    }
    events.sort((a, b) => a.ev.block - b.ev.block || a.ev.logIndex - b.ev.logIndex);
    // block timestamps of the blocks with events (the liveness clock starts at the block that proved it)
    const times = new Map<string, number>();
    for (const { blockHash } of events) {
      if (times.has(blockHash)) continue;
      const b = await abortable(opts.publicClient.getBlock({ blockHash }), signal);
      times.set(blockHash, Number(b.timestamp));
    }
    const now = Number(top.timestamp);
    const entries: WindowEntry[] = [];
    const attestations = new Map<string, number>();
    for (const { ev, blockHash } of events) {
      const entry: WindowEntry = { ev, blockHash, timestamp: times.get(blockHash)! };
      if (ev.kind === "registered" && opts.reverify) {
        const key = ev.kms.toLowerCase();
        const n = (attestations.get(key) ?? model.byAddr.get(key)?.attestations.length ?? 0) + 1;
        attestations.set(key, n);
        try {
          // what the same transaction published: collateral (registerVerified, registerWithCollateral) or an
          // SEV-SNP registration's VCEK and AMD chain (registerSnp), if any
          const sameTx = (kind: AuditEvent["kind"]) => events.find((x) => x.ev.kind === kind && x.ev.tx === ev.tx && x.ev.kms.toLowerCase() === key)?.ev;
          const published = sameTx("collateral");
          const collateral = published?.kind === "collateral" ? published.collateral : undefined;
          const snp = sameTx("snp-evidence");
          const snpEvidence = snp?.kind === "snp-evidence" ? { vcek: snp.vcek, amdChain: snp.amdChain } : undefined;
          const quote = hexToBytes(ev.quote, "quote");
          const out = await abortable(
            opts.reverify(quote, {
              kms: ev.kms,
              attestation: n,
              block: ev.block,
              now,
              blockTimestamp: times.get(blockHash)!,
              platform: platformOfQuote(quote),
              ...(collateral ? { collateral } : {}),
              ...(snpEvidence ? { snpEvidence } : {}),
            }),
            signal,
          );
          if (out) entry.reverify = out;
        } catch (e) {
          if (e instanceof Aborted) throw e;
          entry.reverify = { ok: false, detail: firstLine(errorMessage(e)) };
        }
      }
      entries.push(entry);
    }
    if (signal.aborted) throw new Aborted();

    // commit: nothing above changed the state
    const next = replay(toStored(model), []);
    for (const e of entries) inputs.push(...applyEntry(next, e));
    const tw = timeWarnings(next, opts, st.raised, to, top.hash, now);
    inputs.push(...tw.findings);
    model = next;
    st.raised = tw.raised;
    st.window.push(...entries);
    const points = new Map(st.blocks.map((b) => [b.number, b.hash] as const));
    for (const e of entries) points.set(e.ev.block, e.blockHash);
    points.set(to, top.hash.toLowerCase() as Hex);
    st.blocks = [...points].map(([number, hash]) => ({ number, hash })).sort((a, b) => a.number - b.number);
    st.nextBlock = to + 1;
    const made = emitAll(inputs);
    st.findings.push(...made.map((f): WindowFinding => ({ id: f.id, kind: f.kind, kms: f.kms, block: f.block, blockHash: f.blockHash, tx: f.tx })));
    // fold what left the window into the base
    const cutoff = to - window;
    if (cutoff > st.base.block) {
      const old = st.window.filter((e) => e.ev.block <= cutoff);
      if (old.length) st.base.model = toStored(replay(st.base.model, old));
      st.base.block = cutoff;
      st.window = st.window.filter((e) => e.ev.block > cutoff);
      st.findings = st.findings.filter((f) => f.block > cutoff);
      // the newest block at or before the cutoff stays: a reorg check needs one known block
      const keepFrom = st.blocks.filter((b) => b.number <= cutoff).at(-1)?.number ?? cutoff;
      st.blocks = st.blocks.filter((b) => b.number >= keepFrom);
    }
    saved = false;
    if (from !== to || events.length) opts.log(`[watch] processed blocks ${from}…${to} (head ${head}): ${events.length} event${events.length === 1 ? "" : "s"}, ${made.length} finding${made.length === 1 ? "" : "s"}`);
    return to < target;
  };

  while (!signal.aborted) {
    let more: boolean;
    try {
      more = await poll();
      if (failures) opts.log(`[watch] RPC answers again after ${failures} failed attempt${failures === 1 ? "" : "s"}; continuing from block ${st.nextBlock}`);
      failures = 0;
    } catch (e) {
      if (e instanceof Aborted || signal.aborted) break;
      failures++;
      const delay = Math.min(opts.intervalMs * 2 ** failures, opts.maxBackoffMs);
      const details = (e as { details?: unknown }).details;
      const why = `${shortMessage(e).replace(/\.$/, "")}${typeof details === "string" && details ? ` (${firstLine(details).slice(0, 200)})` : ""}`;
      opts.log(`[watch] RPC error (attempt ${failures}): ${why.slice(0, 300)}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, signal);
      continue;
    }
    if (!saved || opts.dirty?.()) await save().catch((e: unknown) => opts.log(`[watch] cannot save the state: ${firstLine(errorMessage(e))}`));
    if (!more) await sleep(opts.intervalMs, signal);
  }
  await save();
}

