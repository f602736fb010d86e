/**
 * The on-disk cache of PCCS responses: one file per requested URL (named by the SHA-256 of the URL),
 * holding the body and the relevant headers. An entry is served only while `now ≤ nextUpdate` of what it
 * holds (TCB Info / QE Identity `nextUpdate`, CRL `nextUpdate`, certificate `notAfter`); otherwise the
 * URL is fetched again. An unreadable, corrupt or undecodable entry is a miss, and a cache that cannot
 * be written is not an error.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";

import { base64ToBytes, bytesToBase64, bytesToPlainHex } from "../../core/bytes.js";
import { INPUT_KINDS, readInput } from "../../core/files.js";
import { httpGet, type Fetched, type HttpGetOptions } from "./client.js";

export interface DiskCacheOptions {
  /** Directory of the on-disk cache; no caching when absent. See `defaultCollateralCacheDir`. */
  cacheDir?: string;
  /** Unix seconds; decides whether cached entries are still fresh. */
  now: number;
}

const CACHE_FORMAT = 1;

interface CacheEntry {
  format: number;
  url: string;
  fetchedAt: number;
  nextUpdate: number;
  headers: Record<string, string>;
  body: string; // base64
}

/** `$XDG_CACHE_HOME/dstack-kms-registry/collateral`, or `~/.cache/dstack-kms-registry/collateral`. */
export function defaultCollateralCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), ".cache");
  return join(base, "dstack-kms-registry", "collateral");
}

function cacheFile(dir: string, url: string): string {
  return join(dir, `${bytesToPlainHex(sha256(new TextEncoder().encode(url)))}.json`);
}

async function readCache(dir: string, url: string, now: number): Promise<Fetched | undefined> {
  let entry: CacheEntry;
  try {
    entry = JSON.parse(new TextDecoder().decode(await readInput(cacheFile(dir, url), INPUT_KINDS.pccsCache))) as CacheEntry;
  } catch {
    return undefined; // absent, unreadable, not a regular file or oversized: a miss
  }
  if (entry.format !== CACHE_FORMAT || entry.url !== url || typeof entry.nextUpdate !== "number" || typeof entry.body !== "string") return undefined;
  if (entry.nextUpdate < now) return undefined; // stale: refetch
  let body: Uint8Array;
  try {
    body = base64ToBytes(entry.body, "cache entry body");
  } catch {
    return undefined; // corrupt: a miss
  }
  return { url, body, headers: entry.headers ?? {}, fromCache: true };
}

async function writeCache(dir: string, f: Fetched, nextUpdate: number, now: number): Promise<void> {
  const entry: CacheEntry = { format: CACHE_FORMAT, url: f.url, fetchedAt: now, nextUpdate, headers: f.headers, body: bytesToBase64(f.body) };
  const file = cacheFile(dir, f.url);
  try {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify(entry));
    await rename(tmp, file);
  } catch {
    // A cache that cannot be written is not an error: the collateral was fetched.
  }
}

/** GET through the cache; `decode` validates the body and returns its `nextUpdate` and value. */
export async function getCached<T>(
  url: string,
  opts: DiskCacheOptions & HttpGetOptions,
  what: string,
  decode: (f: Fetched) => { value: T; nextUpdate: number | undefined },
  extraHeaders?: Record<string, string>,
): Promise<T> {
  if (opts.cacheDir !== undefined) {
    const hit = await readCache(opts.cacheDir, url, opts.now);
    if (hit !== undefined) {
      try {
        return decode(hit).value;
      } catch {
        // a corrupt cache entry is a miss
      }
    }
  }
  const fetched = await httpGet(url, opts, what, extraHeaders);
  const { value, nextUpdate } = decode(fetched);
  if (opts.cacheDir !== undefined && nextUpdate !== undefined && nextUpdate >= opts.now) {
    await writeCache(opts.cacheDir, fetched, nextUpdate, opts.now);
  }
  return value;
}
