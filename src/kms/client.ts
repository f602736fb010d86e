/**
 * HTTP(S) client for a live dstack KMS (prpc JSON, formats doc §3): `GET /prpc/KMS.GetMeta`.
 *
 * Over https a KMS serves an RPC certificate issued by its OWN root CA, so the system trust store
 * is useless. The server is accepted only if its certificate is signed by the CA key whose SPKI
 * equals `ca_pubkey`:
 *  - with `caPubkey` given (pinned by the caller), the check runs during the TLS handshake, before any
 *    response is read;
 *  - without it (first contact), the served chain is recorded and, once GetMeta arrives, the leaf must
 *    be signed by `ca_cert`'s key, and `ca_cert`'s SPKI must equal `bootstrap_info.ca_pubkey` — a
 *    server that cannot prove it holds the CA the bootstrap info names is rejected.
 * Transient failures (ECONNREFUSED/RESET, timeouts, 502/503/504, a connection closed mid-response)
 * are retried a bounded number of times with exponential backoff. Bodies are capped (16 MiB) and JSON
 * nesting is limited. HTML answers (the onboarding page, Rocket's 404 page) get a clear error.
 */
import { X509Certificate, createPublicKey, type KeyObject } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";

import { bytesEqual, bytesToHex } from "../encoding/index.js";
import { InputError, KmsRegistryError, NetworkError, VerificationError } from "../errors.js";
import { DEFAULT_MAX_JSON_BYTES, isPlainObject, parseJsonLimited } from "./json.js";
import { toPem } from "./pki.js";

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

const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "KMS_TIMEOUT", "KMS_CONNECTION_CLOSED"]);
const TRANSIENT_STATUS = new Set([502, 503, 504]);

/** Normalise a KMS base URL: `https://host:port`, `…/prpc`, `…/prpc/`, `…/prpc/KMS.GetMeta` all become `https://host:port`. */
export function kmsBaseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError("BAD_URL", `KMS URL ${JSON.stringify(url)} is not a URL (expected e.g. https://kms.example.com:9201)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InputError("BAD_URL", `KMS URL must be http:// or https://, got ${u.protocol}`);
  // also accept the full method URL the tutorials curl (…/prpc/KMS.GetMeta)
  u.pathname = u.pathname.replace(/\/+$/, "").replace(/\/prpc(\/[A-Za-z0-9_]+\.[A-Za-z0-9_]+)?$/, "");
  u.search = "";
  u.hash = "";
  return u;
}

function spkiKey(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new InputError("BAD_CA_PUBKEY", `ca_pubkey is not a public key: ${e instanceof Error ? e.message : String(e)}`);
  }
}


/** Does the leaf verify under the CA key with this SPKI, and is it within its validity at `now`? Returns a reason or null. */
export function leafPinProblem(leafDer: Uint8Array, caSpki: Uint8Array, now: number): string | null {
  let leaf: X509Certificate;
  try {
    // pass PEM, not DER: given DER, OpenSSL's loader first scans for a PEM block, and a dstack RPC certificate
    // embeds a quote whose PCK chain is PEM text — it would load that certificate instead
    leaf = new X509Certificate(toPem(leafDer, "CERTIFICATE"));
  } catch (e) {
    return `the server certificate cannot be parsed (${e instanceof Error ? e.message : String(e)})`;
  }
  if (!leaf.verify(spkiKey(caSpki))) {
    const selfSpki = new Uint8Array(leaf.publicKey.export({ type: "spki", format: "der" }));
    return bytesEqual(selfSpki, caSpki)
      ? "the server presents the CA certificate itself, not an RPC certificate issued by it"
      : `the server certificate (${leaf.subject.replace(/\n/g, ", ")}) is not signed by the pinned KMS root CA key ${bytesToHex(caSpki).slice(0, 20)}…`;
  }
  const from = Date.parse(leaf.validFrom) / 1000;
  const to = Date.parse(leaf.validTo) / 1000;
  if (now < from || now > to) return `the server certificate is outside its validity (${leaf.validFrom} … ${leaf.validTo})`;
  return null;
}

function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return TRANSIENT_CODES.has(e.code) || (e.code === "KMS_HTTP_STATUS" && TRANSIENT_STATUS.has((e.details?.status as number) ?? 0));
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function attempt(url: URL, method: "GET" | "POST", body: string | undefined, opts: Required<Pick<KmsClientOptions, "timeoutMs" | "maxBytes">> & KmsClientOptions): Promise<KmsResponse> {
  const https = url.protocol === "https:";
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  return new Promise<KmsResponse>((resolveP, rejectP) => {
    let settled = false;
    let tls: TlsInfo | null = null;
    const done = (e: unknown, r?: KmsResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) {
        req.destroy();
        rejectP(e);
      } else resolveP(r!);
    };
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const reqOpts = { method, headers, agent: false as const };
    const onResponse = (res: IncomingMessage) => {
      const declared = Number(res.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        done(new NetworkError("KMS_RESPONSE_TOO_LARGE", `KMS ${url.host}: response of ${declared} bytes exceeds the limit of ${opts.maxBytes}`, { details: { limit: opts.maxBytes } }));
        return;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      res.on("data", (c: Buffer) => {
        n += c.length;
        if (n > opts.maxBytes) {
          done(new NetworkError("KMS_RESPONSE_TOO_LARGE", `KMS ${url.host}: response exceeds the limit of ${opts.maxBytes} bytes`, { details: { limit: opts.maxBytes } }));
          return;
        }
        chunks.push(c);
      });
      res.on("aborted", () => done(new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${url.host} closed the connection mid-response (after ${n} bytes)`)));
      res.on("error", (e) => done(new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${url.host} closed the connection mid-response (after ${n} bytes): ${e.message}`, { cause: e })));
      res.on("end", () => {
        if (!res.complete) {
          done(new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${url.host} closed the connection mid-response (after ${n} bytes)`));
          return;
        }
        done(null, { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: new Uint8Array(Buffer.concat(chunks)), tls, attempts: 1 });
      });
    };
    const req = https
      ? httpsRequest(url, { ...reqOpts, rejectUnauthorized: false, servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname }, onResponse)
      : httpRequest(url, reqOpts, onResponse);
    if (https) {
      req.on("socket", (s) => {
        s.once("secureConnect", () => {
          const sock = s as TLSSocket;
          const chain: Uint8Array[] = [];
          let c = sock.getPeerCertificate(true);
          const seen = new Set<string>();
          while (c && c.raw && !seen.has(c.fingerprint256)) {
            seen.add(c.fingerprint256);
            chain.push(new Uint8Array(c.raw));
            c = c.issuerCertificate;
          }
          const leaf = sock.getPeerCertificate(false);
          tls = { peerChain: chain, pinnedAtHandshake: false, leafSubject: leaf?.subject ? Object.entries(leaf.subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") : "", leafSan: leaf?.subjectaltname ?? null };
          if (!chain.length) {
            done(new VerificationError("KMS_TLS_NO_CERTIFICATE", `KMS ${url.host}: the TLS server presented no certificate`));
            return;
          }
          if (opts.caPubkey) {
            const problem = leafPinProblem(chain[0]!, opts.caPubkey, now);
            if (problem) {
              done(new VerificationError("KMS_TLS_PIN_MISMATCH", `KMS ${url.host}: TLS rejected: ${problem}`, { details: { pinned: bytesToHex(opts.caPubkey) } }));
              return;
            }
            tls.pinnedAtHandshake = true;
          }
        });
      });
    }
    req.on("error", (e: NodeJS.ErrnoException) => {
      const code = e.code ?? "";
      if (https && (code === "EPROTO" || code.startsWith("ERR_SSL_") || /wrong version number|ssl3_get_record|packet length too long/i.test(e.message))) {
        // OpenSSL's message is a multi-field internal string; say what it means instead
        const plain = /wrong version number|packet length too long|http request/i.test(e.message);
        done(
          new NetworkError(
            "KMS_TLS_HANDSHAKE",
            plain
              ? `KMS ${url.host}: TLS handshake failed: the server does not speak TLS on this port (it answers plain http — a KMS in onboard mode serves http://${url.host})`
              : `KMS ${url.host}: TLS handshake failed (${code || "TLS error"}: ${e.message.split(":").pop()?.trim() || e.message})`,
            { cause: e },
          ),
        );
      } else if (code === "ECONNRESET" || e.message === "socket hang up")
        done(new NetworkError("KMS_CONNECTION_CLOSED", `KMS ${url.host} closed the connection (${code || e.message})${https ? "" : " — if this KMS serves https (normal mode), use https://"}`, { cause: e }));
      else if (TRANSIENT_CODES.has(code)) done(new NetworkError(code, `KMS ${url.host} unreachable (${code})`, { cause: e }));
      else done(new NetworkError("KMS_UNREACHABLE", `KMS ${url.host}: ${code ? `${code}: ` : ""}${e.message}`, { cause: e }));
    });
    const timer = setTimeout(() => done(new NetworkError("KMS_TIMEOUT", `KMS ${url.host} did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.end(body);
  });
}

/** One prpc call with retries; returns the raw response. Non-2xx statuses other than transient ones are returned, not thrown. */
export async function kmsFetch(url: URL, method: "GET" | "POST", body: string | undefined, opts: KmsClientOptions = {}): Promise<KmsResponse> {
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
    throw new NetworkError(e instanceof KmsRegistryError ? e.code : "KMS_BAD_JSON", e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (isPlainObject(v) && typeof v.error === "string") {
    throw new NetworkError("KMS_RPC_ERROR", `KMS ${host}: ${what} failed: ${v.error.split("\n")[0]}`, { details: { status: r.status, error: v.error } });
  }
  if (r.status !== 200) throw new NetworkError("KMS_HTTP_STATUS", `KMS ${host}: ${what} answered HTTP ${r.status}`, { details: { status: r.status } });
  if (!isPlainObject(v)) throw new NetworkError("KMS_BAD_JSON", `KMS ${host}: ${what} answered JSON that is not an object`);
  return v;
}

function prefix(base: URL): string {
  return base.pathname.replace(/\/+$/, "");
}

export interface GetMetaResult {
  meta: Record<string, unknown>;
  url: string;
  tls: TlsInfo | null;
  attempts: number;
}

/** `GET /prpc/KMS.GetMeta`. TLS pinning (when `caPubkey` is set) happens at the handshake. */
export async function getMeta(baseUrl: string, opts: KmsClientOptions = {}): Promise<GetMetaResult> {
  const base = kmsBaseUrl(baseUrl);
  const url = new URL(`${prefix(base)}/prpc/KMS.GetMeta`, base);
  const r = await kmsFetch(url, "GET", undefined, opts);
  return { meta: decodePrpcJson(r, "KMS.GetMeta", base.host), url: url.toString(), tls: r.tls, attempts: r.attempts };
}

/** POST a prpc method with a JSON body (`?json`). */
export async function kmsCall(baseUrl: string, method: string, args: Record<string, unknown>, opts: KmsClientOptions = {}): Promise<{ result: Record<string, unknown>; tls: TlsInfo | null }> {
  const base = kmsBaseUrl(baseUrl);
  const url = new URL(`${prefix(base)}/prpc/${method}?json`, base);
  const r = await kmsFetch(url, "POST", JSON.stringify(args), opts);
  return { result: decodePrpcJson(r, method, base.host), tls: r.tls };
}
