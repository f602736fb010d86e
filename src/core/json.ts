/**
 * JSON from untrusted peers and files: size cap, nesting-depth cap (checked by a linear scan before
 * `JSON.parse`, so hostile nesting cannot exhaust the stack) and typed errors.
 */
import { InputError } from "./errors.js";

/** 16 MiB: far above any real bootstrap info (≈25 KB) or GetMeta answer. */
export const DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_JSON_DEPTH = 64;

export interface JsonLimits {
  maxBytes?: number;
  maxDepth?: number;
}

/** Deepest `[`/`{` nesting of JSON text, ignoring brackets inside strings. Linear, no recursion. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Parse JSON text with limits; throws `InputError` (`JSON_TOO_LARGE`, `JSON_TOO_DEEP`, `BAD_JSON`) naming `what`. */
export function parseJsonLimited(text: string, what: string, limits: JsonLimits = {}): unknown {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_JSON_BYTES;
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  if (typeof text !== "string") throw new InputError("BAD_JSON", `${what}: expected JSON text, got ${typeof text}`);
  if (text.length > maxBytes) {
    throw new InputError("JSON_TOO_LARGE", `${what}: ${text.length} characters of JSON exceed the limit of ${maxBytes}`, {
      details: { limit: maxBytes, found: text.length },
    });
  }
  const depth = jsonNestingDepth(text);
  if (depth > maxDepth) {
    throw new InputError("JSON_TOO_DEEP", `${what}: JSON nested ${depth} levels deep, limit is ${maxDepth}`, {
      details: { limit: maxDepth, found: depth },
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const trimmed = text.trimStart();
    const hint = /^<(!doctype|html|head|body|\?xml)/i.test(trimmed) ? " (this is HTML, not JSON)" : trimmed === "" ? " (empty)" : "";
    throw new InputError("BAD_JSON", `${what}: not valid JSON${hint}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, { cause: e });
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
