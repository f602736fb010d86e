/**
 * Online collateral (spec §3.2): fetch the PCK CRL, TCB Info, QE Identity and root CA CRL for a
 * quote from a PCCS or from Intel's PCS, with an optional on-disk cache.
 *
 * - FMSPC and the PCK CA type (`platform` / `processor`) come from the PCK leaf embedded in the
 *   quote (certification data type 5).
 * - `tcb_info` / `qe_identity` are cut out of the response body as raw text (never re-serialised),
 *   so the TCB Signing signature stays valid whatever the server's JSON formatting.
 * - Issuer-chain headers are percent-decoded.
 * - Root CA CRL: a PCCS serves it at `…/rootcacrl` (hex text, DER tolerated); for Intel's PCS, or
 *   when that call fails, it is downloaded from the CRL distribution point of the root
 *   certificate (last certificate of the QE Identity issuer chain).
 * - Cache: one file per requested URL (SHA-256 of the URL), storing the body and the relevant
 *   headers. An entry is served only while `now ≤ nextUpdate` of what it holds (TCB Info / QE
 *   Identity `nextUpdate`, CRL `nextUpdate`); otherwise it is fetched again.
 *
 * - Encrypted-PPID quotes (certification data type 2/3): the PCK certificate is fetched from
 *   `…/pckcert?qeid=…&encrypted_ppid=…&cpusvn=…&pcesvn=…&pceid=…` (spec §3.2 step 6) and returned
 *   as `pckCertificateChain`; an `SGX-TCBm` other than the quote's raw TCB is an error.
 *
 * - Redirects are followed only within the requested URL's origin (same scheme, host and port), at most
 *   `MAX_PCCS_REDIRECTS` per request; one to another host or port, or from https to http, is refused.
 *
 * Errors: `NetworkError` with `code` `PCCS_HTTP_STATUS` (details: status, url, path),
 * `PCCS_TIMEOUT`, `PCCS_UNREACHABLE`, `PCCS_BAD_RESPONSE` (what was missing or malformed),
 * `PCCS_REDIRECT` (a redirect that is not followed; details: location), `PCCS_PCK_TCB_NOT_REGISTERED`;
 * `InputError` `PCCS_NO_PCK_CHAIN` when the quote carries no usable PCK chain;
 * `UsageError` for a bad base URL or `now`.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";

import { base64ToBytes, bytesToBase64, bytesToPlainHex, concatBytes, hexToBytes, isHexText } from "../core/bytes.js";
import { InputError, KmsRegistryError, NetworkError, UsageError } from "../core/errors.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseQuote } from "./quote.js";
import type { Collateral } from "./types.js";
import { children, nameToString, oidToString, parseCertificate, parseCrl, pemBlocks, readTlv, OID_SGX_EXTENSION } from "./x509.js";

export interface FetchCollateralOptions {
  /** PCCS or PCS base URL, e.g. `https://pccs.phala.network` or `https://api.trustedservices.intel.com`. */
  pccsUrl: string;
  /** Directory of the on-disk cache; no caching when absent. See `defaultCollateralCacheDir`. */
  cacheDir?: string;
  /** Unix seconds; decides whether cached entries are still fresh. */
  now: number;
  /** Per request. Default 30 000 ms. */
  timeoutMs?: number;
  /** Injected fetch (defaults to the global one). */
  fetch?: typeof fetch;
  /** Intel PCS subscription key, sent as `Ocp-Apim-Subscription-Key` with the PCK certificate request only. */
  apiKey?: string;
}

/** What was read from the quote to know what to ask for. */
export interface CollateralRequestInfo {
  tee: "tdx" | "sgx";
  /** 12 upper-case hex digits. */
  fmspc: string;
  ca: "platform" | "processor";
}

export const INTEL_PCS_URL = "https://api.trustedservices.intel.com";
export const DEFAULT_PCCS_URL = "https://pccs.phala.network";

const CACHE_FORMAT = 1;
const OID_FMSPC = `${OID_SGX_EXTENSION}.4`;

/** `$XDG_CACHE_HOME/dstack-kms-registry/collateral`, or `~/.cache/dstack-kms-registry/collateral`. */
export function defaultCollateralCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), ".cache");
  return join(base, "dstack-kms-registry", "collateral");
}

/**
 * Normalise a user-supplied base URL: http(s) only; strip query/fragment, trailing `/`, and a
 * trailing `/sgx/certification/v4` or `/tdx/certification/v4`.
 */
export function normalizePccsBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--pccs: not a URL: ${JSON.stringify(url)}`, { details: { url } });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`--pccs: only http and https URLs are supported, got ${u.protocol}`, { details: { url } });
  }
  let path = u.pathname.replace(/\/+$/, "");
  path = path.replace(/\/(sgx|tdx)\/certification\/v4$/i, "").replace(/\/+$/, "");
  return `${u.protocol}//${u.host}${path}`;
}

export function isIntelPcs(base: string): boolean {
  try {
    return new URL(base).hostname.toLowerCase() === "api.trustedservices.intel.com";
  } catch {
    return false;
  }
}

/** FMSPC, CA type and TEE of a quote, from its embedded PCK leaf (spec §3.2 step 1). */
export function collateralRequestInfo(quote: Uint8Array): CollateralRequestInfo {
  const q = parseQuote(quote);
  if (q.certificationType !== 5) {
    throw new InputError(
      "PCCS_NO_PCK_CHAIN",
      `the quote carries certification data type ${q.certificationType}, not a PEM PCK chain (type 5)${
        q.certificationType === 2 || q.certificationType === 3 ? " (an encrypted PPID: fetchCollateral asks the PCCS for the PCK certificate)" : ""
      }`,
      { details: { certificationType: q.certificationType } },
    );
  }
  return requestInfoFromLeaf(teeOf(q.header.teeType), embeddedLeaf(q.certificationData));
}

function teeOf(teeType: number): "tdx" | "sgx" {
  return teeType === 0x81 ? "tdx" : "sgx";
}

function embeddedLeaf(pemData: Uint8Array): Uint8Array {
  const blocks = pemBlocks(new TextDecoder("latin1").decode(pemData), "quote PCK chain");
  const leafDer = blocks[0];
  if (leafDer === undefined) throw new InputError("PCCS_NO_PCK_CHAIN", "the quote's PCK chain holds no certificate");
  return leafDer;
}

function requestInfoFromLeaf(tee: "tdx" | "sgx", leafDer: Uint8Array): CollateralRequestInfo {
  const leaf = parseCertificate(leafDer, "PCK leaf certificate");
  const issuer = nameToString(leaf.issuer);
  const ca = issuer.includes("Processor") ? "processor" : issuer.includes("Platform") ? "platform" : "processor";
  const ext = leaf.extensions.find((e) => e.oid === OID_SGX_EXTENSION);
  if (ext === undefined) throw new InputError("PCCS_NO_PCK_CHAIN", "the PCK leaf certificate has no Intel SGX extension (1.2.840.113741.1.13.1), so its FMSPC is unknown");
  const v = ext.value;
  const top = readTlv(v, 0, v.length, "SGX extension");
  let fmspc: Uint8Array | undefined;
  for (const item of children(v, top, "SGX extension")) {
    const [oidT, valT] = children(v, item, "SGX extension entry");
    if (oidT?.tag === 0x06 && valT?.tag === 0x04 && oidToString(v, oidT) === OID_FMSPC) fmspc = v.subarray(valT.cStart, valT.end);
  }
  if (fmspc === undefined || fmspc.length !== 6) {
    throw new InputError("PCCS_NO_PCK_CHAIN", `the PCK leaf's SGX extension has no 6-byte FMSPC (${OID_FMSPC})`);
  }
  return { tee, fmspc: bytesToPlainHex(fmspc).toUpperCase(), ca };
}

/** The fields of certification data types 2 / 3 (encrypted PPID), spec §1.6. */
export interface EncryptedPpidData {
  encryptedPpid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
}

export function parseEncryptedPpidData(type: number, data: Uint8Array): EncryptedPpidData {
  const ppidLen = type === 2 ? 256 : type === 3 ? 384 : -1;
  if (ppidLen < 0) throw new InputError("PCCS_NO_PCK_CHAIN", `certification data type ${type} does not carry an encrypted PPID`);
  if (data.length < ppidLen + 20) {
    throw new InputError("PCCS_NO_PCK_CHAIN", `certification data type ${type} must hold ${ppidLen + 20} bytes (encrypted PPID, CPUSVN, PCESVN, PCE-ID), got ${data.length}`);
  }
  return {
    encryptedPpid: data.subarray(0, ppidLen),
    cpuSvn: data.subarray(ppidLen, ppidLen + 16),
    pceSvn: data[ppidLen + 16]! | (data[ppidLen + 17]! << 8),
    pceId: data.subarray(ppidLen + 18, ppidLen + 20),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP + cache
// ---------------------------------------------------------------------------------------------

interface Fetched {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
  fromCache: boolean;
}

interface CacheEntry {
  format: number;
  url: string;
  fetchedAt: number;
  nextUpdate: number;
  headers: Record<string, string>;
  body: string; // base64
}

const RELEVANT_HEADERS = [
  "content-type",
  "sgx-pck-certificate-issuer-chain",
  "sgx-tcbm",
  "sgx-pck-crl-issuer-chain",
  "tcb-info-issuer-chain",
  "sgx-tcb-info-issuer-chain",
  "sgx-enclave-identity-issuer-chain",
  "enclave-identity-issuer-chain",
];

const HEADER_DISPLAY: Record<string, string> = {
  "sgx-pck-crl-issuer-chain": "SGX-PCK-CRL-Issuer-Chain",
  "tcb-info-issuer-chain": "TCB-Info-Issuer-Chain",
  "sgx-tcb-info-issuer-chain": "SGX-TCB-Info-Issuer-Chain",
  "sgx-enclave-identity-issuer-chain": "SGX-Enclave-Identity-Issuer-Chain",
  "enclave-identity-issuer-chain": "Enclave-Identity-Issuer-Chain",
  "sgx-pck-certificate-issuer-chain": "SGX-PCK-Certificate-Issuer-Chain",
};

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

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** Largest response body accepted (Intel's largest CRLs are a few hundred KiB). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

async function readBody(res: Response, url: string, what: string): Promise<Uint8Array> {
  const tooBig = (n: number | string): NetworkError =>
    new NetworkError("PCCS_BAD_RESPONSE", `${what}: response from ${pathOf(url)} is larger than ${MAX_RESPONSE_BYTES} bytes (${n})`, {
      details: { url, path: pathOf(url) },
    });
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw tooBig(`content-length ${declared}`);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooBig("streamed");
    }
    parts.push(value);
  }
  return concatBytes(...parts);
}

/** Redirects followed per request; only within the requested URL's origin (same scheme, host and port). */
export const MAX_PCCS_REDIRECTS = 3;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/**
 * The URL a redirect answer points to, when it may be followed: within the origin of `url` (same scheme, host
 * and port — never to another host, nor from https to http) and at most `MAX_PCCS_REDIRECTS` times. Anything
 * else is `NetworkError` `PCCS_REDIRECT` naming the Location.
 */
async function sameOriginRedirect(res: Response, url: string, current: string, followed: number, what: string): Promise<string> {
  await res.body?.cancel().catch(() => undefined);
  const location = res.headers.get("location");
  const shown = location === null ? "" : JSON.stringify(location.length > 200 ? `${location.slice(0, 200)}…` : location);
  const origin = new URL(url).origin;
  const refuse = (why: string): NetworkError =>
    new NetworkError("PCCS_REDIRECT", `${what}: ${pathOf(current)} answered HTTP ${res.status} ${why}`, {
      details: { status: res.status, url, path: pathOf(url), ...(location === null ? {} : { location: location.slice(0, 500) }) },
    });
  if (location === null) throw refuse("(a redirect) without a Location header");
  let target: URL;
  try {
    target = new URL(location, current);
  } catch {
    throw refuse(`redirecting to ${shown}, which is not a URL`);
  }
  if (target.origin !== origin) {
    throw refuse(`redirecting to ${shown}, outside ${origin}: only redirects with the same scheme, host and port are followed`);
  }
  if (followed >= MAX_PCCS_REDIRECTS) throw refuse(`redirecting to ${shown} after ${followed} redirects already: at most ${MAX_PCCS_REDIRECTS} are followed`);
  return target.href;
}

async function httpGet(url: string, opts: FetchCollateralOptions, what: string, extraHeaders: Record<string, string> = {}): Promise<Fetched> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const fetchOnce = async (target: string): Promise<Response> => {
    try {
      // redirects are not left to fetch: it would follow them to any host and from https to http
      return await doFetch(target, { signal, redirect: "manual", headers: { accept: "*/*", ...extraHeaders } });
    } catch (e) {
      const name = (e as { name?: string } | undefined)?.name;
      if (name === "TimeoutError" || name === "AbortError") {
        throw new NetworkError("PCCS_TIMEOUT", `${what}: no answer from ${url} within ${timeoutMs} ms`, { cause: e, details: { url, path: pathOf(url), timeoutMs } });
      }
      const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
      const reason = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
      throw new NetworkError("PCCS_UNREACHABLE", `${what}: cannot reach ${target} (${reason})`, { cause: e, details: { url, path: pathOf(url) } });
    }
  };
  let current = url;
  let res = await fetchOnce(current);
  for (let followed = 0; REDIRECT_STATUS.has(res.status); followed++) {
    current = await sameOriginRedirect(res, url, current, followed, what);
    res = await fetchOnce(current);
  }
  let body: Uint8Array;
  try {
    body = await readBody(res, url, what);
  } catch (e) {
    if (e instanceof KmsRegistryError) throw e;
    const name = (e as { name?: string } | undefined)?.name;
    const code = name === "TimeoutError" || name === "AbortError" ? "PCCS_TIMEOUT" : "PCCS_UNREACHABLE";
    throw new NetworkError(code, `${what}: the response body from ${url} did not arrive (${(e as Error)?.message ?? String(e)})`, { cause: e, details: { url, path: pathOf(url) } });
  }
  if (res.status < 200 || res.status > 299) {
    const snippet = new TextDecoder().decode(body.subarray(0, 200)).replace(/\s+/g, " ").trim();
    throw new NetworkError("PCCS_HTTP_STATUS", `${what}: HTTP ${res.status} for ${pathOf(url)}${snippet ? ` (${snippet})` : ""}`, {
      details: { status: res.status, url, path: pathOf(url) },
    });
  }
  const headers: Record<string, string> = {};
  for (const h of RELEVANT_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) headers[h] = v;
  }
  return { url, body, headers, fromCache: false };
}

/** GET through the cache; `decode` validates the body and returns its `nextUpdate` and value. */
async function getCached<T>(
  url: string,
  opts: FetchCollateralOptions,
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

// ---------------------------------------------------------------------------------------------
// Body decoding
// ---------------------------------------------------------------------------------------------

function bad(what: string, f: Fetched, message: string): NetworkError {
  return new NetworkError("PCCS_BAD_RESPONSE", `${what}: ${message} (from ${pathOf(f.url)})`, { details: { url: f.url, path: pathOf(f.url) } });
}

function header(f: Fetched, what: string, names: string[]): string {
  for (const n of names) {
    const v = f.headers[n];
    if (v !== undefined) {
      try {
        return decodeURIComponent(v);
      } catch {
        throw bad(what, f, `header ${n} is not valid percent-encoding`);
      }
    }
  }
  throw bad(what, f, `missing header ${names.map((n) => HEADER_DISPLAY[n] ?? n).join(" / ")}`);
}

/** A CRL body: DER, hex text, or PEM (`X509 CRL`). */
function crlBytes(f: Fetched, what: string): Uint8Array {
  const b = f.body;
  let der: Uint8Array;
  if (b[0] === 0x30) der = b;
  else {
    const text = new TextDecoder("latin1").decode(b).trim();
    const pemMatch = /-----BEGIN X509 CRL-----([^-]*)-----END X509 CRL-----/.exec(text);
    try {
      if (pemMatch) der = base64ToBytes(pemMatch[1]!, `${what} (PEM)`);
      else if (text.length > 0 && isHexText(text)) der = hexToBytes(text, what);
      else throw bad(what, f, "body is not a CRL (neither DER, hex nor PEM)");
    } catch (e) {
      if (e instanceof NetworkError) throw e;
      throw bad(what, f, `body is not a CRL: ${(e as Error).message}`);
    }
  }
  try {
    parseCrl(der, what);
  } catch (e) {
    throw bad(what, f, `body is not a parsable CRL: ${(e as Error).message}`);
  }
  return der;
}

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

function signedJson(f: Fetched, what: string, key: "tcbInfo" | "enclaveIdentity"): { text: string; signature: Uint8Array; nextUpdate: number } {
  const body = new TextDecoder("utf-8", { fatal: false }).decode(f.body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw bad(what, f, "body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw bad(what, f, "body is not a JSON object");
  const obj = parsed as Record<string, unknown>;
  const inner = obj[key];
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) throw bad(what, f, `body has no "${key}" object`);
  const text = rawJsonMember(body, key);
  if (text === undefined) throw bad(what, f, `could not locate exactly one raw "${key}" text`);
  const sigHex = obj.signature;
  if (typeof sigHex !== "string" || !isHexText(sigHex) || sigHex.replace(/^0x/i, "").length !== 128) {
    throw bad(what, f, `body has no 64-byte hex "signature"`);
  }
  const nu = (inner as Record<string, unknown>).nextUpdate;
  const nextUpdate = typeof nu === "string" ? Date.parse(nu) / 1000 : NaN;
  if (!Number.isFinite(nextUpdate)) throw bad(what, f, `"${key}.nextUpdate" is missing or not a date`);
  return { text, signature: hexToBytes(sigHex, `${what} signature`), nextUpdate: Math.floor(nextUpdate) };
}

function crlNextUpdate(der: Uint8Array, what: string): number | undefined {
  return parseCrl(der, what).nextUpdate;
}

// ---------------------------------------------------------------------------------------------
// fetchCollateral
// ---------------------------------------------------------------------------------------------

/**
 * Fetch the collateral for `quote` from a PCCS / Intel PCS (spec §3.2). The result is in the same
 * in-memory form as a collateral JSON file (`Collateral`), ready for `verifyQuote`.
 */
export async function fetchCollateral(quote: Uint8Array, opts: FetchCollateralOptions): Promise<Collateral> {
  try {
    return await fetchCollateralInner(quote, opts);
  } catch (e) {
    if (e instanceof NetworkError) {
      // Say what it means for the caller and how to get past it.
      throw new NetworkError(e.code, `${e.message}; no collateral could be fetched: try again, use another PCCS, or supply a collateral JSON file (dcap-qvl QuoteCollateralV3, --collateral FILE)`, {
        cause: e,
        ...(e.details ? { details: e.details } : {}),
      });
    }
    throw e;
  }
}

async function fetchCollateralInner(quote: Uint8Array, opts: FetchCollateralOptions): Promise<Collateral> {
  if (typeof opts.now !== "number" || !Number.isSafeInteger(opts.now)) {
    throw new UsageError(`now must be an integer number of unix seconds, got ${String(opts.now)}`);
  }
  const base = normalizePccsBase(opts.pccsUrl);
  const q = parseQuote(quote);
  const v4 = (tee: string): string => `${base}/${tee}/certification/v4`;
  let info: CollateralRequestInfo;
  let pckCertificateChain: string | undefined;
  if (q.certificationType === 5) {
    info = requestInfoFromLeaf(teeOf(q.header.teeType), embeddedLeaf(q.certificationData));
  } else if (q.certificationType === 2 || q.certificationType === 3) {
    const pck = await fetchPckCertificate(q.certificationType, q.certificationData, q.header.userData, v4("sgx"), opts);
    pckCertificateChain = pck.chain;
    info = requestInfoFromLeaf(teeOf(q.header.teeType), pck.leafDer);
  } else {
    throw new InputError(
      "PCCS_NO_PCK_CHAIN",
      `the quote carries certification data type ${q.certificationType}: neither a PEM PCK chain (5) nor an encrypted PPID (2, 3); supply collateral with pck_certificate_chain via --collateral`,
      { details: { certificationType: q.certificationType } },
    );
  }

  const pckCrlUrl = `${v4("sgx")}/pckcrl?ca=${info.ca}&encoding=der`;
  const tcbUrl = `${v4(info.tee)}/tcb?fmspc=${info.fmspc}`;
  const qeUrl = `${v4(info.tee)}/qe/identity?update=standard`;
  const rootCrlUrl = `${v4("sgx")}/rootcacrl`;
  const pcs = isIntelPcs(base);

  const pckCrlP = getCached(pckCrlUrl, opts, "PCK CRL", (f) => {
    const der = crlBytes(f, "PCK CRL");
    const chain = header(f, "PCK CRL", ["sgx-pck-crl-issuer-chain"]);
    return { value: { der, chain }, nextUpdate: crlNextUpdate(der, "PCK CRL") };
  });
  const tcbP = getCached(tcbUrl, opts, "TCB Info", (f) => {
    const j = signedJson(f, "TCB Info", "tcbInfo");
    const chain = header(f, "TCB Info", ["tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"]);
    return { value: { ...j, chain }, nextUpdate: j.nextUpdate };
  });
  const qeP = getCached(qeUrl, opts, "QE Identity", (f) => {
    const j = signedJson(f, "QE Identity", "enclaveIdentity");
    const chain = header(f, "QE Identity", ["sgx-enclave-identity-issuer-chain", "enclave-identity-issuer-chain"]);
    return { value: { ...j, chain }, nextUpdate: j.nextUpdate };
  });
  const decodeRootCrl = (f: Fetched): { value: Uint8Array; nextUpdate: number | undefined } => {
    const der = crlBytes(f, "root CA CRL");
    return { value: der, nextUpdate: crlNextUpdate(der, "root CA CRL") };
  };
  const rootFromPccsP: Promise<Uint8Array | KmsRegistryError> = pcs
    ? Promise.resolve(new NetworkError("PCCS_HTTP_STATUS", "Intel PCS has no rootcacrl endpoint"))
    : getCached(rootCrlUrl, opts, "root CA CRL", decodeRootCrl).catch((e: unknown) => {
        if (e instanceof KmsRegistryError) return e;
        throw e;
      });

  // Settle everything before throwing, so no request is left dangling.
  const [pckCrlR, tcbR, qeR, rootR] = await Promise.allSettled([pckCrlP, tcbP, qeP, rootFromPccsP]);
  for (const r of [pckCrlR, tcbR, qeR, rootR]) if (r.status === "rejected") throw r.reason;
  const pckCrl = (pckCrlR as PromiseFulfilledResult<Awaited<typeof pckCrlP>>).value;
  const tcb = (tcbR as PromiseFulfilledResult<Awaited<typeof tcbP>>).value;
  const qe = (qeR as PromiseFulfilledResult<Awaited<typeof qeP>>).value;
  let rootCrl = (rootR as PromiseFulfilledResult<Uint8Array | KmsRegistryError>).value;

  if (rootCrl instanceof KmsRegistryError) {
    const pccsError = rootCrl;
    const rootDer = pemBlocks(qe.chain, "QE Identity issuer chain").at(-1);
    const cdp = rootDer === undefined ? undefined : crlDistributionPoint(rootDer);
    if (cdp === undefined) {
      throw new NetworkError(
        "PCCS_BAD_RESPONSE",
        `root CA CRL: ${pcs ? "" : `the PCCS call failed (${pccsError.message}) and `}the root certificate of the QE Identity issuer chain has no CRL distribution point`,
        { details: { url: rootCrlUrl } },
      );
    }
    rootCrl = await getCached(cdp, opts, "root CA CRL", decodeRootCrl);
  }

  return {
    pckCrlIssuerChain: pckCrl.chain,
    rootCaCrl: rootCrl,
    pckCrl: pckCrl.der,
    tcbInfoIssuerChain: tcb.chain,
    tcbInfo: tcb.text,
    tcbInfoSignature: tcb.signature,
    qeIdentityIssuerChain: qe.chain,
    qeIdentity: qe.text,
    qeIdentitySignature: qe.signature,
    ...(pckCertificateChain === undefined ? {} : { pckCertificateChain }),
  };
}

/**
 * Spec §3.2 step 6: the PCK certificate for an encrypted-PPID quote. Returns the leaf and
 * `leaf + "\n" + issuer chain` for `pck_certificate_chain`. The PCS answers with the certificate for
 * the best TCB it has registered (`SGX-TCBm`); a different TCB than the quote's raw one means the
 * platform's current TCB is not registered, which is an error.
 */
async function fetchPckCertificate(
  type: number,
  data: Uint8Array,
  userData: Uint8Array,
  sgxV4: string,
  opts: FetchCollateralOptions,
): Promise<{ leafDer: Uint8Array; chain: string }> {
  const e = parseEncryptedPpidData(type, data);
  const H = (b: Uint8Array): string => bytesToPlainHex(b).toUpperCase();
  const pceSvnLe = Uint8Array.of(e.pceSvn & 0xff, e.pceSvn >>> 8);
  const url = `${sgxV4}/pckcert?qeid=${H(userData.subarray(0, 16))}&encrypted_ppid=${H(e.encryptedPpid)}&cpusvn=${H(e.cpuSvn)}&pcesvn=${H(pceSvnLe)}&pceid=${H(e.pceId)}`;
  const what = "PCK certificate";
  return getCached(
    url,
    opts,
    what,
    (f) => {
      const text = new TextDecoder().decode(f.body);
      const leafDer = pemBlocks(text, what)[0];
      if (leafDer === undefined) throw bad(what, f, "body holds no PEM certificate");
      let notAfter: number;
      try {
        notAfter = parseCertificate(leafDer, what).notAfter;
      } catch (err) {
        throw bad(what, f, `body is not a parsable certificate: ${(err as Error).message}`);
      }
      const issuerChain = header(f, what, ["sgx-pck-certificate-issuer-chain"]);
      const tcbm = f.headers["sgx-tcbm"];
      const want = H(e.cpuSvn) + H(pceSvnLe);
      if (tcbm !== undefined && tcbm.toUpperCase() !== want) {
        throw new NetworkError(
          "PCCS_PCK_TCB_NOT_REGISTERED",
          `${what}: the PCCS returned the certificate for TCB ${tcbm.toUpperCase()}, not the quote's ${want} (CPUSVN ‖ PCESVN): the platform's current TCB is not registered`,
          { details: { url: f.url, path: pathOf(f.url), tcbm, expected: want } },
        );
      }
      const leafPem = text.slice(text.indexOf("-----BEGIN CERTIFICATE-----"), text.indexOf("-----END CERTIFICATE-----") + 25);
      return { value: { leafDer, chain: `${leafPem}\n${issuerChain}` }, nextUpdate: notAfter };
    },
    opts.apiKey === undefined ? undefined : { "Ocp-Apim-Subscription-Key": opts.apiKey },
  );
}

/** First URI of the certificate's CRL distribution points extension, if any. */
function crlDistributionPoint(certDer: Uint8Array): string | undefined {
  let cert;
  try {
    cert = parseCertificate(certDer, "root certificate");
  } catch {
    return undefined;
  }
  const ext = cert.extensions.find((e) => e.oid === "2.5.29.31");
  if (ext === undefined) return undefined;
  // Walk the structure, returning the first [6] uniformResourceIdentifier.
  const v = ext.value;
  const walk = (start: number, end: number): string | undefined => {
    let p = start;
    while (p < end) {
      const t = readTlv(v, p, end, "CRL distribution points");
      if (t.tag === 0x86) return new TextDecoder().decode(v.subarray(t.cStart, t.end));
      if (t.tag & 0x20) {
        const found = walk(t.cStart, t.end);
        if (found !== undefined) return found;
      }
      p = t.end;
    }
    return undefined;
  };
  try {
    return walk(0, v.length);
  } catch {
    return undefined;
  }
}
