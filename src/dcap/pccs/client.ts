/**
 * HTTP to a PCCS or Intel's PCS: one GET with a timeout and a bounded body, redirects followed only
 * within the requested URL's origin (same scheme, host and port) and at most `MAX_PCCS_REDIRECTS` times,
 * and the few response headers collateral needs. Failures are `NetworkError`s: `PCCS_TIMEOUT`,
 * `PCCS_UNREACHABLE`, `PCCS_HTTP_STATUS` (details: status, url, path), `PCCS_REDIRECT` (details:
 * location) and `PCCS_BAD_RESPONSE` (an oversized body here, or what a decoder found missing).
 */
import { concatBytes } from "../../core/bytes.js";
import { KmsRegistryError, NetworkError, UsageError } from "../../core/errors.js";

export const INTEL_PCS_URL = "https://api.trustedservices.intel.com";
export const DEFAULT_PCCS_URL = "https://pccs.phala.network";

export interface HttpGetOptions {
  /** Per request. Default 30 000 ms. */
  timeoutMs?: number;
  /** Injected fetch (defaults to the global one). */
  fetch?: typeof fetch;
  /** Largest body accepted; default `MAX_RESPONSE_BYTES`. */
  maxResponseBytes?: number;
}

/** A response as collateral needs it: the body and the relevant headers (lower-case names). */
export interface Fetched {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
  fromCache: boolean;
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

/** True when the base URL is Intel's PCS (which has no `rootcacrl` endpoint). */
export function isIntelPcs(base: string): boolean {
  try {
    return new URL(base).hostname.toLowerCase() === "api.trustedservices.intel.com";
  } catch {
    return false;
  }
}

/** The path and query of a URL, for messages (the whole text when it is not a URL). */
export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** `NetworkError` `PCCS_BAD_RESPONSE`: the response `f` to the `what` request is unusable. */
export function badResponse(what: string, f: Fetched, message: string): NetworkError {
  return new NetworkError("PCCS_BAD_RESPONSE", `${what}: ${message} (from ${pathOf(f.url)})`, { details: { url: f.url, path: pathOf(f.url) } });
}

/** The first present header of `names`, percent-decoded; `PCCS_BAD_RESPONSE` when none is present or it does not decode. */
export function responseHeader(f: Fetched, what: string, names: string[]): string {
  for (const n of names) {
    const v = f.headers[n];
    if (v !== undefined) {
      try {
        return decodeURIComponent(v);
      } catch {
        throw badResponse(what, f, `header ${n} is not valid percent-encoding`);
      }
    }
  }
  throw badResponse(what, f, `missing header ${names.map((n) => HEADER_DISPLAY[n] ?? n).join(" / ")}`);
}

/** Largest response body accepted (Intel's largest CRLs are a few hundred KiB). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

async function readBody(res: Response, url: string, what: string, max: number): Promise<Uint8Array> {
  const tooBig = (n: number | string): NetworkError =>
    new NetworkError("PCCS_BAD_RESPONSE", `${what}: response from ${pathOf(url)} is larger than ${max} bytes (${n})`, {
      details: { url, path: pathOf(url) },
    });
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
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
    if (n > max) {
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

function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string } | undefined)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

/** GET `url` (the `what` request), following same-origin redirects; a 2xx answer or `NetworkError`. */
export async function httpGet(url: string, opts: HttpGetOptions, what: string, extraHeaders: Record<string, string> = {}): Promise<Fetched> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const fetchOnce = async (target: string): Promise<Response> => {
    try {
      // redirects are not left to fetch: it would follow them to any host and from https to http
      return await doFetch(target, { signal, redirect: "manual", headers: { accept: "*/*", ...extraHeaders } });
    } catch (e) {
      if (isTimeout(e)) {
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
    body = await readBody(res, url, what, opts.maxResponseBytes ?? MAX_RESPONSE_BYTES);
  } catch (e) {
    if (e instanceof KmsRegistryError) throw e;
    const code = isTimeout(e) ? "PCCS_TIMEOUT" : "PCCS_UNREACHABLE";
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
