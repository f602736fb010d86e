/**
 * Memo of work that depends only on bytes, never on time or policy: parsed certificates, CRLs and
 * collateral JSON, imported public keys, and ECDSA verification outcomes keyed by (key, message,
 * signature). Every time check and every policy decision is re-evaluated on each call, so results
 * are identical with and without a cache; the cache only skips repeated parsing and signature math
 * (auditors verify many quotes against the same collateral and chain).
 */
import type { KeyObject } from "node:crypto";

export interface VerificationCache {
  /** number of memoised entries (all kinds) */
  readonly size: number;
  clear(): void;
  /** @internal */ readonly signatures: Map<string, boolean>;
  /** @internal */ readonly keys: Map<string, KeyObject>;
  /** @internal */ readonly parsed: Map<string, unknown>;
  /** @internal */ sigKey(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): string;
  /** @internal */ remember<V>(map: Map<string, V>, key: string, value: V): void;
}

function l1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

/** Bytes as a Map key (latin1 string, injective). */
export function bytesKey(b: Uint8Array): string {
  return l1(b);
}

class Cache implements VerificationCache {
  readonly signatures = new Map<string, boolean>();
  readonly keys = new Map<string, KeyObject>();
  readonly parsed = new Map<string, unknown>();
  constructor(private readonly maxEntries: number) {}
  get size(): number {
    return this.signatures.size + this.keys.size + this.parsed.size;
  }
  clear(): void {
    this.signatures.clear();
    this.keys.clear();
    this.parsed.clear();
  }
  sigKey(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
    return `${spki.length}:${signature.length}:${l1(spki)}${l1(signature)}${l1(message)}`;
  }
  remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= this.maxEntries) map.clear();
    map.set(key, value);
  }
}

/** A fresh cache; entries per kind are bounded (`maxEntries`, default 4096; the kind is emptied when full). */
export function createVerificationCache(opts: { maxEntries?: number } = {}): VerificationCache {
  return new Cache(opts.maxEntries ?? 4096);
}

/** Memoise `make(key)` under `kind:key` in `cache` (or just call it). */
export function memo<T>(cache: VerificationCache | undefined, kind: string, key: string, make: () => T): T {
  if (!cache) return make();
  const k = `${kind}\u0000${key}`;
  const hit = cache.parsed.get(k);
  if (hit !== undefined) return hit as T;
  const v = make();
  cache.remember(cache.parsed, k, v);
  return v;
}
