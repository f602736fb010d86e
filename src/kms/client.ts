/**
 * HTTP(S) client for a live dstack KMS, the one transport of every KMS call. A KMS speaks prpc: a method is
 * `GET /prpc/<Service>.<Method>` or `POST /prpc/<Service>.<Method>?json` with a JSON object as the body, and
 * it answers a JSON object, or `{"error": "…"}`. Calls: `getMeta` (`KMS.GetMeta`), `getAppEnvEncryptPubKey`
 * (`KMS.GetAppEnvEncryptPubKey`) and `kmsCall` for any other method (e.g. `Onboard.Bootstrap`).
 *
 * Over https a KMS serves an RPC certificate issued by its OWN root CA, so the system trust store
 * is useless. The server is accepted only if its certificate is signed by the CA key whose SPKI
 * equals `ca_pubkey`:
 *  - with `caPubkey` given (pinned by the caller), the check runs during the TLS handshake, before any
 *    response is read;
 *  - without it (first contact), the served chain is recorded and, once GetMeta arrives, the leaf must
 *    be signed by `ca_cert`'s key, and `ca_cert`'s SPKI must equal `bootstrap_info.ca_pubkey` — a
 *    server that cannot prove it holds the CA the bootstrap info names is rejected.
 * Either way the leaf must be issued BY the CA, not be it: a server presenting the CA certificate itself
 * (its key is `ca_pubkey`) or any certificate with basicConstraints CA=true is rejected. A pin is checked
 * up front (`assertCaPubkeyPin`: a P-256 SPKI whose point is on the curve), before anything connects, and
 * every event-listener body settles the request with a typed error instead of letting a throw escape.
 * Transient failures (ECONNREFUSED/RESET, timeouts, 502/503/504, a connection closed mid-response)
 * are retried a bounded number of times with exponential backoff. Bodies are capped (16 MiB) and JSON
 * nesting is limited. HTML answers (the onboarding page, Rocket's 404 page) get a clear error.
 */
import { X509Certificate, createPublicKey, type KeyObject } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";

import { p256 } from "@noble/curves/nist.js";

import { bytesEqual, bytesToHex, bytesToPlainHex, decodeBytesField } from "../core/bytes.js";
import { errorMessage, firstLine, InputError, KmsRegistryError, NetworkError, VerificationError, type ErrorCode } from "../core/errors.js";
import { DEFAULT_MAX_JSON_BYTES, isPlainObject, parseJsonLimited } from "../core/json.js";
import { toPem } from "../dcap/x509.js";
import { P256_SPKI_PREFIX } from "../dcap/p256.js";
import { assertCaPubkeyShape } from "../dstack/binding.js";

export interface KmsClientOptions {
  /** Per attempt, milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Extra attempts after the first on transient errors. Default 3. */
  retries?: number;
  /** First backoff delay (doubles each retry). Default 250 ms. */
  retryDelayMs?: number;
  /** Response body cap. Default 16 MiB. */
  maxBytes?: number;
  /** Pin: 91-byte SPKI DER of the KMS root CA key (https only). */
  caPubkey?: Uint8Array;
  /** Unix seconds for the RPC certificate's validity check. Default: the clock. */
  now?: number;
}

export interface TlsInfo {
  /** DER of the served chain, leaf first. */
  peerChain: Uint8Array[];
  /** Whether the handshake-time pin check ran and passed. */
  pinnedAtHandshake: boolean;
  leafSubject: string;
  leafSan: string | null;
}

export interface KmsResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
  tls: TlsInfo | null;
  attempts: number;
}

const TRANSIENT_CODES: ReadonlySet<string> = new Set<ErrorCode>(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "KMS_TIMEOUT", "KMS_CONNECTION_CLOSED"]);
const TRANSIENT_STATUS = new Set([502, 503, 504]);

/** Whether a socket error's code is one retried as transient (it is then also a catalogued code). */
function isTransientCode(code: string): code is ErrorCode {
  return TRANSIENT_CODES.has(code);
}

/** Normalise a KMS base URL: `https://host:port`, `…/prpc`, `…/prpc/`, `…/prpc/KMS.GetMeta` all become `https://host:port`. */
export function kmsBaseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError("BAD_URL", `KMS URL ${JSON.stringify(url)} is not a URL (expected e.g. https://kms.example.com:9201)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InputError("BAD_URL", `KMS URL must be http:// or https://, got ${u.protocol}`);
  // also accept the full method URL (…/prpc/KMS.GetMeta), as curl examples show it
  u.pathname = u.pathname.replace(/\/+$/, "").replace(/\/prpc(\/[A-Za-z0-9_]+\.[A-Za-z0-9_]+)?$/, "");
  u.search = "";
  u.hash = "";
  return u;
}

/**
 * Throws `InputError` `BAD_CA_PUBKEY` unless `spki` is what a KMS root CA key is: a 91-byte P-256
 * SubjectPublicKeyInfo (DER) with an uncompressed point that lies on the curve. `field` names the value in
 * the message (e.g. `--ca-pubkey`).
 */
export function assertCaPubkeyPin(spki: Uint8Array, field = "ca_pubkey"): void {
  assertCaPubkeyShape(spki, field);
  try {
    p256.Point.fromBytes(spki.subarray(P256_SPKI_PREFIX.length));
  } catch {
    throw new InputError("BAD_CA_PUBKEY", `${field}: the point (x, y) of this P-256 SubjectPublicKeyInfo is not on the curve, so it is no public key`, { details: { field } });
  }
}

function spkiKey(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new InputError("BAD_CA_PUBKEY", `ca_pubkey is not a public key: ${errorMessage(e)}`);
  }
}

/**
 * Is the leaf an RPC certificate issued by the CA key with this SPKI, and within its validity at `now`?
 * Returns a reason or null. The CA certificate itself verifies under its own key, so the leaf is also
 * refused when its key is `caSpki` or when it is a CA certificate (basicConstraints CA=true).
 */
export function leafPinProblem(leafDer: Uint8Array, caSpki: Uint8Array, now: number): string | null {
  let leaf: X509Certificate;
  let leafSpki: Uint8Array;
  try {
    // pass PEM, not DER: given DER, OpenSSL's loader first scans for a PEM block, and a dstack RPC certificate
    // embeds a quote whose PCK chain is PEM text — it would load that certificate instead
    leaf = new X509Certificate(toPem(leafDer, "CERTIFICATE"));
    leafSpki = new Uint8Array(leaf.publicKey.export({ type: "spki", format: "der" }));
  } catch (e) {
    return `the server certificate cannot be parsed (${errorMessage(e)})`;
  }
  const subject = leaf.subject.replace(/\n/g, ", ");
  if (bytesEqual(leafSpki, caSpki)) return `the server presents the KMS root CA certificate itself (${subject}, its key is ca_pubkey), not an RPC certificate issued by it`;
  if (!leaf.verify(spkiKey(caSpki))) return `the server certificate (${subject}) is not signed by the pinned KMS root CA key ${bytesToHex(caSpki).slice(0, 20)}…`;
  if (leaf.ca) return `the server certificate (${subject}) is a CA certificate (basicConstraints CA=true), not an RPC certificate`;
  const from = Date.parse(leaf.validFrom) / 1000;
  const to = Date.parse(leaf.validTo) / 1000;
  if (now < from || now > to) return `the server certificate is outside its validity (${leaf.validFrom} … ${leaf.validTo})`;
  return null;
}

/**
 * The pin check as a typed error: `KMS_TLS_PIN_MISMATCH` with the reason from `leafPinProblem`, or
 * `KMS_TLS_PIN_CHECK_FAILED` when the check itself throws (the certificate could not be checked, so it is
 * not accepted). Null when the leaf is pinned.
 */
export function tlsPinError(leafDer: Uint8Array, caSpki: Uint8Array, now: number, host: string): KmsRegistryError | null {
  let problem: string | null;
  try {
    problem = leafPinProblem(leafDer, caSpki, now);
  } catch (e) {
    if (e instanceof KmsRegistryError) return e;
    return new VerificationError("KMS_TLS_PIN_CHECK_FAILED", `KMS ${host}: TLS rejected: the server certificate could not be checked against the pinned CA key (${errorMessage(e)})`, {
      cause: e,
      details: { pinned: bytesToHex(caSpki) },
    });
  }
  return problem === null ? null : new VerificationError("KMS_TLS_PIN_MISMATCH", `KMS ${host}: TLS rejected: ${problem}`, { details: { pinned: bytesToHex(caSpki) } });
}

function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return TRANSIENT_CODES.has(e.code) || (e.code === "KMS_HTTP_STATUS" && TRANSIENT_STATUS.has((e.details?.status as number) ?? 0));
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the TLS socket presented: the chain (leaf first, each certificate once) and the leaf's subject and SAN. */
function peerTlsInfo(sock: TLSSocket): TlsInfo {
  const chain: Uint8Array[] = [];
  let c = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    chain.push(new Uint8Array(c.raw));
    c = c.issuerCertificate;
  }
  const leaf = sock.getPeerCertificate(false);
  return {
    peerChain: chain,
    pinnedAtHandshake: false,
    leafSubject: leaf?.subject ? Object.entries(leaf.subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") : "",
    leafSan: leaf?.subjectaltname ?? null,
  };
}

/** A failed request (socket or TLS error) as a typed error; OpenSSL's internal strings are said in plain words. */
function requestError(e: NodeJS.ErrnoException, host: string, https: boolean): NetworkError {
  const code = e.code ?? "";
  if (https && (code === "EPROTO" || code.startsWith("ERR_SSL_") || /wrong version number|ssl3_get_record|packet length too long/i.test(e.message))) {
    const plain = /wrong version number|packet length too long|http request/i.test(e.message);
    return new NetworkError(
      "KMS_TLS_HANDSHAKE",
      plain
        ? `KMS ${host}: TLS handshake failed: the server does not speak TLS on this port (it answers plain http — a KMS in onboard mode serves http://${host})`
        : `KMS ${host}: TLS handshake failed (${code || "TLS error"}: ${e.message.split(":").pop()?.trim() || e.message})`,
      { cause: e },
    );
  }
  if (code === "ECONNRESET" || e.message === "socket hang up") {
    return new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${host} closed the connection (${code || e.message})${https ? "" : " — if this KMS serves https (normal mode), use https://"}`, { cause: e });
  }
  if (isTransientCode(code)) return new NetworkError(code, `KMS ${host} unreachable (${code})`, { cause: e });
  return new NetworkError("KMS_UNREACHABLE", `KMS ${host}: ${code ? `${code}: ` : ""}${e.message}`, { cause: e });
}

const tooLarge = (host: string, limit: number, declared?: number) =>
  new NetworkError("KMS_RESPONSE_TOO_LARGE", declared === undefined ? `KMS ${host}: response exceeds the limit of ${limit} bytes` : `KMS ${host}: response of ${declared} bytes exceeds the limit of ${limit}`, {
    details: { limit },
  });

const closedMidResponse = (host: string, n: number, e?: Error) =>
  new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${host} closed the connection mid-response (after ${n} bytes)${e ? `: ${e.message}` : ""}`, e ? { cause: e } : undefined);

/** A throw while reading the response, as a typed error. */
const responseFaultAt = (host: string) => (e: unknown) => new NetworkError("KMS_BAD_RESPONSE", `KMS ${host}: the response could not be read (${errorMessage(e)})`, { cause: e });

/** How a listener settles its attempt: `done` (the first outcome wins) and `guard` (a throw settles with a typed error). */
interface Settle {
  done(e: unknown, r?: KmsResponse): void;
  guard<A extends unknown[]>(toError: (e: unknown) => KmsRegistryError, fn: (...args: A) => void): (...args: A) => void;
}

/** The response listener: the status, content type and body, capped at `maxBytes`; a connection closed mid-body is an error. */
function collectBody(res: IncomingMessage, host: string, maxBytes: number, tls: () => TlsInfo | null, { done, guard }: Settle): void {
  const responseFault = responseFaultAt(host);
  const declared = Number(res.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    done(tooLarge(host, maxBytes, declared));
    return;
  }
  const chunks: Buffer[] = [];
  let n = 0;
  res.on(
    "data",
    guard(responseFault, (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        done(tooLarge(host, maxBytes));
        return;
      }
      chunks.push(c);
    }),
  );
  res.on(
    "aborted",
    guard(responseFault, () => done(closedMidResponse(host, n))),
  );
  res.on(
    "error",
    guard(responseFault, (e: Error) => done(closedMidResponse(host, n, e))),
  );
  res.on(
    "end",
    guard(responseFault, () => {
      if (!res.complete) {
        done(closedMidResponse(host, n));
        return;
      }
      done(null, { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: new Uint8Array(Buffer.concat(chunks)), tls: tls(), attempts: 1 });
    }),
  );
}

/** Once the handshake is done: record the served chain; with a pin, the leaf must be issued by the pinned CA key before any response is read. */
function checkHandshake(sock: TLSSocket, host: string, caPubkey: Uint8Array | undefined, now: number, { done }: Settle): TlsInfo {
  const tls = peerTlsInfo(sock);
  if (!tls.peerChain.length) {
    done(new VerificationError("KMS_TLS_NO_CERTIFICATE", `KMS ${host}: the TLS server presented no certificate`));
    return tls;
  }
  if (caPubkey) {
    const pinError = tlsPinError(tls.peerChain[0]!, caPubkey, now, host);
    if (pinError) {
      done(pinError);
      return tls;
    }
    tls.pinnedAtHandshake = true;
  }
  return tls;
}

/** One HTTP(S) exchange: the TLS pin at the handshake (when `caPubkey` is set), the capped body, a timeout. */
function attempt(url: URL, method: "GET" | "POST", body: string | undefined, opts: Required<Pick<KmsClientOptions, "timeoutMs" | "maxBytes">> & KmsClientOptions): Promise<KmsResponse> {
  const https = url.protocol === "https:";
  const host = url.host;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  return new Promise<KmsResponse>((resolveP, rejectP) => {
    let settled = false;
    let tls: TlsInfo | null = null;
    const settle: Settle = {
      done: (e, r) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) {
          req.destroy();
          rejectP(e);
        } else resolveP(r!);
      },
      // Every listener body runs inside `guard`: whatever it throws settles this attempt with a typed error
      // (`toError`) rather than escaping to the event loop as an uncaught exception.
      guard:
        <A extends unknown[]>(toError: (e: unknown) => KmsRegistryError, fn: (...args: A) => void) =>
        (...args: A): void => {
          try {
            fn(...args);
          } catch (e) {
            settle.done(e instanceof KmsRegistryError ? e : toError(e));
          }
        },
    };
    const { done, guard } = settle;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const reqOpts = { method, headers, agent: false as const };
    const tlsFault = (e: unknown) => new VerificationError("KMS_TLS_PIN_CHECK_FAILED", `KMS ${host}: TLS rejected: the server certificate could not be checked (${errorMessage(e)})`, { cause: e });
    const requestFault = (e: unknown) => new NetworkError("KMS_UNREACHABLE", `KMS ${host}: ${errorMessage(e)}`, { cause: e });
    const onResponse = guard(responseFaultAt(host), (res: IncomingMessage) => collectBody(res, host, opts.maxBytes, () => tls, settle));
    const req = https
      ? httpsRequest(url, { ...reqOpts, rejectUnauthorized: false, servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname }, onResponse)
      : httpRequest(url, reqOpts, onResponse);
    if (https) {
      req.on(
        "socket",
        guard(tlsFault, (s) => {
          s.once(
            "secureConnect",
            guard(tlsFault, () => {
              tls = checkHandshake(s as TLSSocket, host, opts.caPubkey, now, settle);
            }),
          );
        }),
      );
    }
    req.on(
      "error",
      guard(requestFault, (e: NodeJS.ErrnoException) => done(requestError(e, host, https))),
    );
    const timer = setTimeout(() => done(new NetworkError("KMS_TIMEOUT", `KMS ${host} did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.end(body);
  });
}

/** One prpc call with retries; returns the raw response. Non-2xx statuses other than transient ones are returned, not thrown. */
export async function kmsFetch(url: URL, method: "GET" | "POST", body: string | undefined, opts: KmsClientOptions = {}): Promise<KmsResponse> {
  // a pin that is no P-256 public key is the caller's mistake: say so before connecting
  if (opts.caPubkey !== undefined) assertCaPubkeyPin(opts.caPubkey, "caPubkey");
  const o = { ...opts, timeoutMs: opts.timeoutMs ?? 10_000, maxBytes: opts.maxBytes ?? DEFAULT_MAX_JSON_BYTES };
  const retries = Math.max(0, Math.min(opts.retries ?? 3, 10));
  let delay = opts.retryDelayMs ?? 250;
  for (let i = 0; ; i++) {
    try {
      const r = await attempt(url, method, body, o);
      if (TRANSIENT_STATUS.has(r.status) && i < retries) throw new NetworkError("KMS_HTTP_STATUS", `KMS ${url.host} answered HTTP ${r.status}`, { details: { status: r.status } });
      return { ...r, attempts: i + 1 };
    } catch (e) {
      if (!isTransient(e) || i >= retries) {
        if (e instanceof NetworkError && i > 0) throw new NetworkError(e.code, `${e.message} (after ${i + 1} attempts)`, { cause: e, ...(e.details ? { details: e.details } : {}) });
        throw e;
      }
      await sleep(delay);
      delay *= 2;
    }
  }
}

/** Decode a prpc JSON answer: HTML → `KMS_HTML_RESPONSE`; `{"error"}` or non-200 → `KMS_RPC_ERROR`. */
export function decodePrpcJson(r: KmsResponse, what: string, host: string): Record<string, unknown> {
  const text = new TextDecoder().decode(r.body);
  const trimmed = text.trimStart();
  if (/text\/html/i.test(r.contentType) || /^<(!doctype|html|head|body)/i.test(trimmed)) {
    throw new NetworkError(
      "KMS_HTML_RESPONSE",
      `KMS ${host}: ${what} answered an HTML page (HTTP ${r.status}) instead of JSON — the KMS is probably still in onboard mode (showing its onboarding page): bootstrap and finish it (Onboard.Bootstrap, then /finish), or pull the saved Bootstrap response with --file`,
      { details: { status: r.status } },
    );
  }
  let v: unknown;
  try {
    v = parseJsonLimited(text, `KMS ${host}: ${what}`);
  } catch (e) {
    if (r.status !== 200) throw new NetworkError("KMS_HTTP_STATUS", `KMS ${host}: ${what} answered HTTP ${r.status} with a non-JSON body`, { details: { status: r.status } });
    throw new NetworkError(e instanceof KmsRegistryError ? e.code : "KMS_BAD_JSON", errorMessage(e), { cause: e });
  }
  if (isPlainObject(v) && typeof v.error === "string") {
    throw new NetworkError("KMS_RPC_ERROR", `KMS ${host}: ${what} failed: ${firstLine(v.error)}`, { details: { status: r.status, error: v.error } });
  }
  if (r.status !== 200) throw new NetworkError("KMS_HTTP_STATUS", `KMS ${host}: ${what} answered HTTP ${r.status}`, { details: { status: r.status } });
  if (!isPlainObject(v)) throw new NetworkError("KMS_BAD_JSON", `KMS ${host}: ${what} answered JSON that is not an object`);
  return v;
}

/** The URL of a prpc method under a KMS base URL (which may sit under a path, e.g. behind a gateway). */
function methodUrl(baseUrl: string, method: string, query = ""): { url: URL; host: string } {
  const base = kmsBaseUrl(baseUrl);
  return { url: new URL(`${base.pathname.replace(/\/+$/, "")}/prpc/${method}${query}`, base), host: base.host };
}

export interface GetMetaResult {
  meta: Record<string, unknown>;
  url: string;
  tls: TlsInfo | null;
  attempts: number;
}

/** `GET /prpc/KMS.GetMeta`. TLS pinning (when `caPubkey` is set) happens at the handshake. */
export async function getMeta(baseUrl: string, opts: KmsClientOptions = {}): Promise<GetMetaResult> {
  const { url, host } = methodUrl(baseUrl, "KMS.GetMeta");
  const r = await kmsFetch(url, "GET", undefined, opts);
  return { meta: decodePrpcJson(r, "KMS.GetMeta", host), url: url.toString(), tls: r.tls, attempts: r.attempts };
}

export interface KmsCallResult {
  result: Record<string, unknown>;
  tls: TlsInfo | null;
  /** The method URL that was called. */
  url: string;
}

/** POST a prpc method with a JSON body (`?json`). */
export async function kmsCall(baseUrl: string, method: string, args: Record<string, unknown>, opts: KmsClientOptions = {}): Promise<KmsCallResult> {
  const { url, host } = methodUrl(baseUrl, method, "?json");
  const r = await kmsFetch(url, "POST", JSON.stringify(args), opts);
  return { result: decodePrpcJson(r, method, host), tls: r.tls, url: url.toString() };
}

/** A KMS's answer to `KMS.GetAppEnvEncryptPubKey`: an app's X25519 env-encrypt key, signed by the KMS root key. */
export interface EnvEncryptAnswer {
  publicKey: Uint8Array;
  /** When the KMS signed it (unix seconds), part of `signatureV1`'s message. */
  timestamp: bigint;
  /** Signature over "dstack-env-encrypt-pubkey:" ‖ app id ‖ timestamp (u64 big-endian) ‖ public key. */
  signatureV1: Uint8Array;
  /** Signature without the timestamp, when the KMS still sends one. */
  signature?: Uint8Array;
}

/**
 * `POST /prpc/KMS.GetAppEnvEncryptPubKey?json {"app_id": "<40 hex>"}` → the decoded answer. The answer must
 * carry `signature_v1` (`KMS_NO_SIGNATURE_V1` otherwise) with a whole-number `timestamp`, a 32-byte
 * `public_key` and 65-byte signatures (`KMS_BAD_ANSWER` otherwise).
 */
export async function getAppEnvEncryptPubKey(kmsUrl: string, appId: Uint8Array, opts: KmsClientOptions = {}): Promise<EnvEncryptAnswer> {
  if (appId.length !== 20) throw new InputError("BAD_APP_ID", `app id must be 20 bytes, got ${appId.length}`);
  const { result, url } = await kmsCall(kmsUrl, "KMS.GetAppEnvEncryptPubKey", { app_id: bytesToPlainHex(appId) }, opts);
  return decodeEnvEncryptAnswer(result, url);
}

function decodeEnvEncryptAnswer(ans: Record<string, unknown>, url: string): EnvEncryptAnswer {
  if (typeof ans.signature_v1 !== "string" || ans.signature_v1 === "") {
    throw new NetworkError("KMS_NO_SIGNATURE_V1", `${url}: the KMS returned no signature_v1 (it predates timestamped env-key signatures, dstack f8d2bac5); liveness needs it`);
  }
  const ts = ans.timestamp;
  if (!(typeof ts === "number" && Number.isSafeInteger(ts) && ts >= 0) && !(typeof ts === "string" && /^\d+$/.test(ts))) {
    throw new NetworkError("KMS_BAD_ANSWER", `${url}: timestamp is missing or not a whole number`);
  }
  try {
    return {
      publicKey: decodeBytesField(String(ans.public_key), "public_key", 32),
      timestamp: BigInt(ts),
      signatureV1: decodeBytesField(ans.signature_v1, "signature_v1", 65),
      ...(typeof ans.signature === "string" && ans.signature ? { signature: decodeBytesField(ans.signature, "signature", 65) } : {}),
    };
  } catch (e) {
    throw new NetworkError("KMS_BAD_ANSWER", `${url}: ${errorMessage(e)}`, { cause: e });
  }
}
