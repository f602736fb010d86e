/**
 * The registry followed as blocks arrive: the head is polled every `intervalMs`. When it moved, the new
 * blocks are asked for the registry's logs (the bounded scan); every change of the registry's state comes with
 * one of its events, so blocks without any, on the same chain (the previous head's hash unchanged), only move
 * the head. Otherwise — registry logs, a reorg, or a failed last refresh — a new snapshot is built
 * (`loadSnapshot`, a full rebuild, so a reorg simply yields the new history). Every subscriber hears the head
 * and the timeline entries that were not in the previous snapshot, each with its block. A failed refresh keeps
 * the last good snapshot and records the error (redacted: RPC URLs may carry keys). One refresh runs at a time;
 * `stop` ends the loop.
 */
import type { Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { scanLogs } from "../registry/logs.js";
import type { DashboardSnapshot, TimelineEntry } from "./model.js";
import { loadSnapshot, newSourceCache, type SourceCache, type SourceOptions } from "./source.js";

export interface LiveUpdate {
  head: number;
  /** Timeline entries new in this snapshot, oldest first. */
  events: Pick<TimelineEntry, "id" | "kind" | "kms" | "block" | "tx" | "summary">[];
  /** Set when the refresh failed (the snapshot is then the last good one); announced once per distinct error. */
  error: string | null;
}

export interface LiveOptions extends SourceOptions {
  /** Head polling interval. Default 2000 ms. */
  intervalMs?: number;
  /** Applied to every error message kept or reported (e.g. the CLI's secret redactor). */
  redact?: (text: string) => string;
  onError?: (message: string) => void;
  onUpdate?: (u: LiveUpdate, snap: DashboardSnapshot) => void;
}

export class LiveRegistry {
  private snap: DashboardSnapshot | undefined;
  private readonly cache: SourceCache = newSourceCache();
  private readonly listeners = new Set<(u: LiveUpdate) => void>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private headHash: Hex | undefined;
  private builds = 0;

  constructor(private readonly opts: LiveOptions) {}

  /** The latest snapshot (set once `start` resolved). */
  get snapshot(): DashboardSnapshot {
    if (!this.snap) throw new Error("LiveRegistry not started");
    return this.snap;
  }

  /** Build the first snapshot (its errors are thrown), then follow the chain. */
  async start(): Promise<void> {
    this.snap = await this.build();
    this.schedule();
  }

  /** How many snapshots were built (the first included). */
  get rebuilds(): number {
    return this.builds;
  }

  private async build(): Promise<DashboardSnapshot> {
    const snap = await loadSnapshot(this.opts, this.cache);
    this.builds++;
    this.headHash = await this.hashOf(snap.registry.head);
    return snap;
  }

  private async hashOf(block: number): Promise<Hex | undefined> {
    return (await this.opts.publicClient.getBlock({ blockNumber: BigInt(block) }).catch(() => undefined))?.hash ?? undefined;
  }

  /** Whether blocks (from, to] hold no registry log and `from` is still the block it was. */
  private async quiet(from: number, to: number): Promise<boolean> {
    if (this.headHash === undefined || (await this.hashOf(from)) !== this.headHash) return false;
    let logs = 0;
    await scanLogs({
      request: this.opts.publicClient.request as never,
      address: this.opts.registry,
      fromBlock: BigInt(from + 1),
      toBlock: BigInt(to),
      onLogs: (l) => {
        logs += l.length;
      },
    });
    return logs === 0;
  }

  subscribe(fn: (u: LiveUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule());
    }, this.opts.intervalMs ?? 2000);
    this.timer.unref?.();
  }

  /** One poll: refresh when the head moved or the last refresh failed. */
  async tick(): Promise<void> {
    const prev = this.snap!;
    try {
      const head = Number(await this.opts.publicClient.getBlockNumber({ cacheTime: 0 }));
      if (head === prev.registry.head && prev.error === null) return;
      if (prev.error === null && head > prev.registry.head && (await this.quiet(prev.registry.head, head))) {
        const hash = await this.hashOf(head);
        if (hash !== undefined) {
          this.headHash = hash;
          this.snap = { ...prev, registry: { ...prev.registry, head } };
          const u: LiveUpdate = { head, events: [], error: null };
          for (const fn of this.listeners) fn(u);
          return;
        }
      }
      const next = await this.build();
      if (this.stopped) return;
      const seen = new Set(prev.recent.map((e) => e.id));
      const events = next.recent
        .filter((e) => !seen.has(e.id))
        .reverse()
        .map(({ id, kind, kms, block, tx, summary }) => ({ id, kind, kms, block, tx, summary }));
      this.snap = next;
      const u: LiveUpdate = { head: next.registry.head, events, error: null };
      this.opts.onUpdate?.(u, next);
      for (const fn of this.listeners) fn(u);
    } catch (e) {
      const redact = this.opts.redact ?? ((t: string) => t);
      const message = redact(firstLine(errorMessage(e))).slice(0, 500);
      this.snap = { ...prev, error: message };
      if (message === prev.error) return;
      this.opts.onError?.(message);
      const u: LiveUpdate = { head: prev.registry.head, events: [], error: message };
      for (const fn of this.listeners) fn(u);
    }
  }
}
