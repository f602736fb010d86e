/**
 * The signed JSON of a TCB Info or QE Identity response, cut out of the body byte for byte. Intel signs
 * the exact text of the `tcbInfo` / `enclaveIdentity` member, so it is never re-serialised: the
 * signature stays valid whatever the server's formatting, key order or whitespace.
 */
import { hexToBytes, isHexText } from "../../core/bytes.js";
import { badResponse, type Fetched } from "./client.js";

function skipWs(t: string, i: number): number {
  while (i < t.length && (t[i] === " " || t[i] === "\n" || t[i] === "\r" || t[i] === "\t")) i++;
  return i;
}

function scanString(t: string, i: number): number {
  // t[i] === '"'; returns the index after the closing quote
  for (let j = i + 1; j < t.length; j++) {
    if (t[j] === "\\") j++;
    else if (t[j] === '"') return j + 1;
  }
  return -1;
}

function scanValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return scanString(t, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const d = t[j];
      if (d === '"') {
        j = scanString(t, j) - 1;
        if (j < 0) return -1;
      } else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < t.length && !/[\s,}\]]/.test(t[j]!)) j++;
  return j;
}

/**
 * The exact source text of top-level member `key` of the JSON object `text` (the body must
 * already have been checked with `JSON.parse`). Returns undefined when absent or when the key
 * occurs more than once (`JSON.parse` would keep the last one; which text was signed is then
 * ambiguous).
 */
export function rawJsonMember(text: string, key: string): string | undefined {
  let i = skipWs(text, 0);
  if (text[i] !== "{") return undefined;
  i = skipWs(text, i + 1);
  let found: string | undefined;
  let count = 0;
  while (i < text.length && text[i] !== "}") {
    if (text[i] !== '"') return undefined;
    const keyEnd = scanString(text, i);
    if (keyEnd < 0) return undefined;
    const k = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    if (text[i] !== ":") return undefined;
    i = skipWs(text, i + 1);
    const vEnd = scanValue(text, i);
    if (vEnd < 0) return undefined;
    if (k === key) {
      found = text.slice(i, vEnd);
      count++;
    }
    i = skipWs(text, vEnd);
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  return count === 1 ? found : undefined;
}

/** A signed document of a response: its exact text, Intel's signature over it, and its `nextUpdate` (unix seconds). */
export interface SignedJson {
  text: string;
  signature: Uint8Array;
  nextUpdate: number;
}

/**
 * The signed document `key` of a TCB Info (`tcbInfo`) or QE Identity (`enclaveIdentity`) response
 * `{ "<key>": {…}, "signature": "<64-byte hex>" }`. Throws `NetworkError` `PCCS_BAD_RESPONSE` saying what is
 * missing.
 */
export function signedJsonResponse(f: Fetched, what: string, key: "tcbInfo" | "enclaveIdentity"): SignedJson {
  const body = new TextDecoder("utf-8", { fatal: false }).decode(f.body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw badResponse(what, f, "body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw badResponse(what, f, "body is not a JSON object");
  const obj = parsed as Record<string, unknown>;
  const inner = obj[key];
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) throw badResponse(what, f, `body has no "${key}" object`);
  const text = rawJsonMember(body, key);
  if (text === undefined) throw badResponse(what, f, `could not locate exactly one raw "${key}" text`);
  const sigHex = obj.signature;
  if (typeof sigHex !== "string" || !isHexText(sigHex) || sigHex.replace(/^0x/i, "").length !== 128) {
    throw badResponse(what, f, `body has no 64-byte hex "signature"`);
  }
  const nu = (inner as Record<string, unknown>).nextUpdate;
  const nextUpdate = typeof nu === "string" ? Date.parse(nu) / 1000 : NaN;
  if (!Number.isFinite(nextUpdate)) throw badResponse(what, f, `"${key}.nextUpdate" is missing or not a date`);
  return { text, signature: hexToBytes(sigHex, `${what} signature`), nextUpdate: Math.floor(nextUpdate) };
}
