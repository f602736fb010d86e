/**
 * The registry followed as blocks arrive: the head is polled every `intervalMs`; when it moved (or the last
 * refresh failed) a new snapshot is built (`loadSnapshot`, a full rebuild, so a reorg simply yields the new
 * history) and every subscriber hears the head and the timeline entries that were not in the previous
 * snapshot, each with its block. A failed refresh keeps the last good snapshot and records the error
 * (redacted: RPC URLs may carry keys). One refresh runs at a time; `stop` ends the loop.
 */
import { errorMessage, firstLine } from "../core/errors.js";
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

  constructor(private readonly opts: LiveOptions) {}

  /** The latest snapshot (set once `start` resolved). */
  get snapshot(): DashboardSnapshot {
    if (!this.snap) throw new Error("LiveRegistry not started");
    return this.snap;
  }

  /** Build the first snapshot (its errors are thrown), then follow the chain. */
  async start(): Promise<void> {
    this.snap = await loadSnapshot(this.opts, this.cache);
    this.schedule();
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
      const next = await loadSnapshot(this.opts, this.cache);
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
