/**
 * Time as this library handles it: whole unix seconds. A verification time is always passed in by the
 * caller (never read from the clock here), checked once at the edge with `requireNow`.
 */
import { UsageError } from "./errors.js";

/**
 * `now` checked at the edge: a whole, non-negative number of unix seconds (a safe integer), else
 * `UsageError` naming the value. `name` is what the caller calls it in the message (default `now`).
 */
export function requireNow(now: unknown, name = "now"): number {
  if (typeof now !== "number" || !Number.isSafeInteger(now) || now < 0) {
    throw new UsageError(`${name} must be a whole, non-negative number of unix seconds, got ${now === undefined ? "undefined" : JSON.stringify(now) ?? String(now)}`);
  }
  return now;
}

/** Unix seconds as an ISO 8601 UTC date-time without fractions: `2025-07-19T09:20:34Z`. */
export function isoSeconds(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 date-time with an explicit zone (`Z` or `±hh:mm`) → unix seconds, fractions floored; a
 * leap second counts as :59. Undefined when the text is not such a date or names an impossible day.
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, Math.min(se, 59));
  if (new Date(ms).getUTCDate() !== d) return undefined;
  let off = 0;
  const z = m[8]!;
  if (z !== "Z" && z !== "z") {
    const oh = Number(z.slice(1, 3));
    const om = Number(z.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    off = (z[0] === "+" ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return Math.floor(ms / 1000) - off;
}
