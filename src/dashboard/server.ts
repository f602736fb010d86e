/**
 * The dashboard's HTTP server: the pages (`/`, `/kms/ADDR`), the JSON API (`/api/…`, the snapshot's data),
 * server-sent events (`/api/events`) and the two assets. Bounded: only GET and HEAD without a body, a
 * short URL, few headers, header and request timeouts, a cap on connections and on event streams. Every
 * response carries a strict Content-Security-Policy (nothing but this origin's script and style; no
 * inline code, frames, forms or plugins) and `nosniff`. Bound to a loopback address, it answers only
 * requests whose Host names that address (a web page elsewhere cannot reach it through DNS rebinding).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { NetworkError } from "../core/errors.js";
import { escapeJsonControls } from "../core/sanitize.js";
import { DASHBOARD_CSS, LIVE_JS } from "./assets.js";
import type { LiveRegistry, LiveUpdate } from "./live.js";
import type { DashboardSnapshot, KmsView } from "./model.js";
import { renderKms, renderNotFound, renderOverview, type RenderOptions } from "./render.js";

export interface DashboardServerOptions {
  live: LiveRegistry;
  host?: string;
  port?: number;
  explorer?: string;
  /** Concurrent event streams. Default 32. */
  maxEventStreams?: number;
  /** Concurrent connections. Default 64. */
  maxConnections?: number;
  /** Comment line sent on idle event streams. Default 15000 ms. */
  heartbeatMs?: number;
  /** Clock for ages and times left, unix seconds. */
  now?: () => number;
}

export interface DashboardServer {
  url: string;
  host: string;
  port: number;
  close: () => Promise<void>;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const MAX_URL = 2048;

/** Whether `host` is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function securityHeaders(type: string): Record<string, string> {
  return {
    "content-type": type,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
  };
}

/** JSON for the API: indented, DEL/C1 escaped, and `<`, `>`, `&` as \u escapes (inert if ever sniffed as HTML). */
export function apiJson(value: unknown): string {
  return escapeJsonControls(JSON.stringify(value, null, 2)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function kmsSummary(k: KmsView): Omit<KmsView, "attestations" | "timeline"> {
  const { attestations: _a, timeline: _t, ...rest } = k;
  return rest;
}

const API_INDEX = {
  "/api/registry": "the registry: chain, address, deployment block, head, accepted statuses, verifier, allowlist, counts",
  "/api/kms": "one entry per KMS: state, path, root, TCB status, collateral expiry, last liveness proof, counts, anomalies",
  "/api/kms/{address}": "one KMS with its timeline and attestations (measurements, checks, re-verification trail)",
  "/api/anomalies": "every anomaly of the audit",
  "/api/timeline": "every event, newest first",
  "/api/snapshot": "all of the above in one document",
  "/api/events": "server-sent events: `hello` {head}, then `snapshot` {head, events[], error} after each new block or failed refresh",
};

/** Start serving; resolves once listening. `NetworkError` (`DASHBOARD_LISTEN`) when the address cannot be bound. */
export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const host = opts.host ?? "127.0.0.1";
  const loopback = isLoopbackHost(host);
  const maxStreams = opts.maxEventStreams ?? 32;
  const streams = new Set<http.ServerResponse>();
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  let port = 0;

  const render = (): RenderOptions => ({ ...(opts.explorer ? { explorer: opts.explorer } : {}), now: now() });
  const send = (res: http.ServerResponse, status: number, type: string, body: string, head: boolean, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...securityHeaders(type), "content-length": String(Buffer.byteLength(body)), ...extra });
    res.end(head ? undefined : body);
  };
  const sendJson = (res: http.ServerResponse, status: number, value: unknown, head: boolean) => send(res, status, "application/json; charset=utf-8", apiJson(value) + "\n", head);
  const sendHtml = (res: http.ServerResponse, status: number, body: string, head: boolean) => send(res, status, "text/html; charset=utf-8", body, head);
  const findKms = (snap: DashboardSnapshot, addr: string) => (/^0x[0-9a-fA-F]{40}$/.test(addr) ? snap.kms.find((k) => k.address.toLowerCase() === addr.toLowerCase()) : undefined);

  const eventStream = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (streams.size >= maxStreams) return send(res, 503, "text/plain; charset=utf-8", "too many event streams\n", false, { "retry-after": "10" });
    res.writeHead(200, { ...securityHeaders("text/event-stream; charset=utf-8"), connection: "keep-alive" });
    streams.add(res);
    const write = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    res.write("retry: 3000\n\n");
    write("hello", { head: opts.live.snapshot.registry.head });
    const off = opts.live.subscribe((u: LiveUpdate) => write("snapshot", u));
    const beat = setInterval(() => res.write(": ping\n\n"), opts.heartbeatMs ?? 15_000);
    beat.unref();
    const done = () => {
      clearInterval(beat);
      off();
      streams.delete(res);
    };
    req.on("close", done);
    res.on("close", done);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (loopback && !hostAllowed(req.headers.host, port)) return send(res, 421, "text/plain; charset=utf-8", "this dashboard only answers requests addressed to its loopback address\n", false);
    if (method !== "GET" && method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "only GET and HEAD\n", false, { allow: "GET, HEAD" });
    if (url.length > MAX_URL) return send(res, 414, "text/plain; charset=utf-8", "URL too long\n", false);
    const len = Number(req.headers["content-length"] ?? 0);
    if (len > 0 || req.headers["transfer-encoding"] !== undefined) return send(res, 413, "text/plain; charset=utf-8", "no request bodies\n", false, { connection: "close" });
    const head = method === "HEAD";
    const path = url.split("?")[0]!;
    const snap = opts.live.snapshot;
    if (path === "/") return sendHtml(res, 200, renderOverview(snap, render()), head);
    const kmsPage = /^\/kms\/([^/]+)$/.exec(path);
    if (kmsPage) {
      const k = findKms(snap, kmsPage[1]!);
      return k ? sendHtml(res, 200, renderKms(snap, k, render()), head) : sendHtml(res, 404, renderNotFound(snap, "No KMS with this address was registered on this registry."), head);
    }
    if (path === "/assets/dashboard.css") return send(res, 200, "text/css; charset=utf-8", DASHBOARD_CSS, head);
    if (path === "/assets/live.js") return send(res, 200, "text/javascript; charset=utf-8", LIVE_JS, head);
    if (path === "/favicon.ico") return send(res, 204, "text/plain", "", true);
    if (path === "/api" || path === "/api/") return sendJson(res, 200, API_INDEX, head);
    if (path === "/api/events") return head ? send(res, 200, "text/event-stream; charset=utf-8", "", true) : eventStream(req, res);
    if (path === "/api/snapshot") return sendJson(res, 200, snap, head);
    if (path === "/api/registry") {
      return sendJson(res, 200, { ...snap.registry, kms: snap.kms.length, events: snap.events, anomalies: snap.anomalyCount, builtAt: snap.builtAt, error: snap.error }, head);
    }
    if (path === "/api/kms") return sendJson(res, 200, snap.kms.map(kmsSummary), head);
    const kmsApi = /^\/api\/kms\/([^/]+)$/.exec(path);
    if (kmsApi) {
      const k = findKms(snap, kmsApi[1]!);
      return k ? sendJson(res, 200, k, head) : sendJson(res, 404, { error: "no KMS with this address" }, head);
    }
    if (path === "/api/anomalies") return sendJson(res, 200, [...snap.registryAnomalies, ...snap.kms.flatMap((k) => k.anomalies)], head);
    if (path === "/api/timeline") return sendJson(res, 200, snap.recent, head);
    if (path.startsWith("/api/")) return sendJson(res, 404, { error: "no such endpoint", endpoints: Object.keys(API_INDEX) }, head);
    return sendHtml(res, 404, renderNotFound(snap, "There is no page at this address."), head);
  };

  const server = http.createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n", false);
      else res.destroy();
    }
  });
  server.maxHeadersCount = 64;
  server.maxConnections = opts.maxConnections ?? 64;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new NetworkError("DASHBOARD_LISTEN", `cannot listen on ${host}:${opts.port ?? 0}: ${e.code ?? e.message}`, { cause: e })));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}`,
    host,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** The Host header names this loopback server (127.0.0.1, localhost or ::1, with its port). */
function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim());
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  return isLoopbackHost(m[1]!);
}
