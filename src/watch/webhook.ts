/**
 * Delivering findings to an HTTP receiver (`--webhook URL`): one POST per finding (its JSON, the id also in
 * `X-Kms-Registry-Finding-Id`), in order, from a bounded in-memory queue that is saved with the watch state.
 * Enqueueing never waits: a receiver that is down or slow never holds up following the chain. A failed POST
 * (connection refused, timeout, 5xx, 408/425/429) is retried with exponential backoff up to a bound; a
 * refused one (another 4xx) is dropped and logged. When the queue is full the oldest finding is dropped; the
 * number dropped is delivered first once the receiver answers again, as a `webhook-dropped` finding. Credentials
 * in the URL (`https://user:pass@host/…`) are sent as an Authorization header, never printed: the URL is only
 * ever shown as `redactUrl` shows it.
 */
import { UsageError, errorMessage, firstLine } from "../core/errors.js";
import { redactUrl } from "../core/sanitize.js";
import type { Finding } from "./finding.js";
import { sleep } from "./follow.js";

export interface WebhookTarget {
  /** The URL without its credentials. */
  url: string;
  /** `Basic …` from the URL's user and password, if it had them. */
  authorization: string | undefined;
  /** The URL as shown in logs: scheme, host and port only. */
  shown: string;
}

/** Check and split `--webhook URL`: http(s) only; `UsageError` naming the option, never echoing the URL's secrets. */
export function parseWebhookUrl(raw: string): WebhookTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError("--webhook must be an http(s) URL (value not shown: it may carry credentials)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--webhook must be an http(s) URL, got protocol ${u.protocol}`);
  const authorization = u.username || u.password ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}` : undefined;
  const shown = redactUrl(raw);
  u.username = "";
  u.password = "";
  return { url: u.toString(), authorization, shown };
}

export interface WebhookOptions {
  target: WebhookTarget;
  /** Most findings waiting for delivery. */
  maxQueue: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per POST. Default 5 s. */
  timeoutMs?: number;
  log: (line: string) => void;
  /** Builds the `webhook-dropped` finding for `dropped` findings, the first of them `firstDropped` (printed when delivered). */
  droppedFinding: (dropped: number, firstDropped: string) => Finding;
  /** Called with the `webhook-dropped` finding once the receiver has it (to print it). */
  onDroppedDelivered?: (f: Finding) => void;
  /** Queue and drop count saved by an earlier run. */
  initial?: { queue: Finding[]; dropped: number; firstDropped: string | null };
}

type PostResult = "ok" | "retry" | "refused";

export class WebhookSender {
  private queue: Finding[];
  private dropped: number;
  private firstDropped: string | null;
  private failures = 0;
  private running = false;
  private readonly stopper = new AbortController();
  private changed = false;
  /** Findings delivered so far in this run. */
  delivered = 0;

  constructor(private readonly opts: WebhookOptions) {
    this.queue = [...(opts.initial?.queue ?? [])];
    this.dropped = opts.initial?.dropped ?? 0;
    this.firstDropped = opts.initial?.firstDropped ?? null;
  }

  /** Queue `f` for delivery (never waits). */
  enqueue(f: Finding): void {
    if (this.queue.length >= this.opts.maxQueue) {
      const old = this.queue.shift()!;
      if (this.dropped === 0) {
        this.firstDropped = old.id;
        this.opts.log(`[watch] webhook queue full (${this.opts.maxQueue} findings): dropping the oldest until ${this.opts.target.shown} answers again`);
      }
      this.dropped++;
    }
    this.queue.push(f);
    this.changed = true;
    this.kick();
  }

  /** Start delivering what is queued (a restored queue). */
  start(): void {
    this.kick();
  }

  /** The part of the watch state the sender owns. */
  snapshot(): { queue: Finding[]; dropped: number; firstDropped: string | null } {
    return { queue: [...this.queue], dropped: this.dropped, firstDropped: this.firstDropped };
  }

  /** Whether the queue changed since the last call. */
  takeChanged(): boolean {
    const c = this.changed;
    this.changed = false;
    return c;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Stop delivering (whatever is queued stays in the snapshot). */
  stop(): void {
    this.stopper.abort();
  }

  private kick(): void {
    if (this.running || this.stopper.signal.aborted) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (this.queue.length && !this.stopper.signal.aborted) this.kick();
    });
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    while (!signal.aborted && (this.queue.length || this.dropped)) {
      // once the receiver answers again, the first thing it gets is how many findings it missed
      const noticed = this.dropped;
      const notice = noticed && this.firstDropped ? this.opts.droppedFinding(noticed, this.firstDropped) : undefined;
      const f = notice ?? this.queue[0]!;
      const r = await this.post(f);
      if (signal.aborted) return;
      if (r === "retry") {
        this.failures++;
        const delay = Math.min(this.opts.baseDelayMs * 2 ** (this.failures - 1), this.opts.maxDelayMs);
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.opts.log(`[watch] webhook ${this.opts.target.shown} unavailable (attempt ${this.failures}); ${this.queue.length} finding${this.queue.length === 1 ? "" : "s"} queued; retrying in ${(delay / 1000).toFixed(1)} s`);
        }
        await sleep(delay, signal);
        continue;
      }
      if (this.failures) this.opts.log(`[watch] webhook ${this.opts.target.shown} answers again after ${this.failures} failed attempt${this.failures === 1 ? "" : "s"}`);
      this.failures = 0;
      this.changed = true;
      if (notice) {
        // (findings dropped while the notice was on its way are told in the next one)
        this.dropped -= noticed;
        this.firstDropped = this.dropped ? this.firstDropped : null;
        if (r === "ok") this.opts.onDroppedDelivered?.(notice);
        continue;
      }
      this.queue.shift();
      if (r === "ok") this.delivered++;
    }
  }

  private async post(f: Finding): Promise<PostResult> {
    const { target } = this.opts;
    try {
      const res = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-kms-registry-finding-id": f.id,
          ...(target.authorization ? { authorization: target.authorization } : {}),
        },
        body: JSON.stringify(f),
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs ?? 5000), this.stopper.signal]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return "ok";
      if (res.status >= 500 || res.status === 408 || res.status === 425 || res.status === 429) return "retry";
      this.opts.log(`[watch] webhook ${target.shown} refused finding ${f.id} with HTTP ${res.status}; not retried`);
      return "refused";
    } catch (e) {
      if (this.failures === 0 && !this.stopper.signal.aborted) this.opts.log(`[watch] webhook ${target.shown}: ${firstLine(errorMessage((e as { cause?: unknown }).cause ?? e)).slice(0, 200)}`);
      return "retry";
    }
  }
}
