/**
 * The HTTP routes of the simulated KMS: `GET /` (onboarding page), `GET /finish` and `/prpc/Onboard.Finish`
 * (switch to normal mode), `GET /sim/dcap-root-ca.pem` and `GET /sim/collateral.json` (the forged DCAP root
 * and collateral, once bootstrapped) and `/prpc/<Method>` (JSON in — the query of a GET or the JSON body of
 * a POST — and JSON out). A method without a service name gets the mode's (`Onboard.` or `KMS.`). Errors
 * answer `{"error"}` with their status; a 404 other than an unknown method answers the Not Found page.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import { errorMessage, KmsRegistryError } from "../../core/errors.js";
import { INPUT_KINDS, type InputKind } from "../../core/files.js";
import { isPlainObject, parseJsonLimited } from "../../core/json.js";
import { readText } from "./keys.js";
import { NOT_FOUND_HTML, onboardingPage } from "./page.js";
import { callMethod } from "./rpc.js";
import { RpcError, UnknownMethodError, type SimulatorState } from "./state.js";

const MAX_REQUEST_BYTES = 64 * 1024;
const HTML = "text/html; charset=utf-8";

export interface Routes {
  state: SimulatorState;
  /** Called when Finish switches the KMS to normal mode, with the response that answered it. */
  onFinish(res: ServerResponse): void;
}

export async function handleRequest(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const u = new URL(req.url ?? "/", "http://sim.invalid");
  try {
    await route(routes, req, res, u);
  } catch (e) {
    answerError(res, e);
  }
}

async function route(routes: Routes, req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
  const { state } = routes;
  const path = u.pathname;
  if (req.method === "GET" && (path === "/" || path === "/index.html")) return send(res, 200, HTML, onboardingPage({ bootstrapped: state.keys !== null, mode: state.mode }));
  if (path === "/finish" || path === "/prpc/Onboard.Finish") return finish(routes, res, path);
  if (req.method === "GET" && path === "/sim/dcap-root-ca.pem") return sendSimFile(state, res, "application/x-pem-file", state.config.simRootCaPath, INPUT_KINDS.certificate);
  if (req.method === "GET" && path === "/sim/collateral.json") return sendSimFile(state, res, "application/json", state.config.simCollateralPath, INPUT_KINDS.collateral);
  const m = /^\/prpc\/([A-Za-z0-9_.]+)$/.exec(path);
  if (!m) return send(res, 404, HTML, NOT_FOUND_HTML);
  const method = m[1]!.includes(".") ? m[1]! : `${state.mode === "onboard" ? "Onboard" : "KMS"}.${m[1]!}`;
  if (state.mode === "onboard" && method.startsWith("KMS.")) return send(res, 404, HTML, NOT_FOUND_HTML);
  const out = await callMethod(state, method, await requestArgs(req, u));
  if (method === "Onboard.Finish" && state.mode === "onboard") state.mode = "normal";
  sendJson(res, 200, out);
}

function finish(routes: Routes, res: ServerResponse, path: string): void {
  const { state } = routes;
  if (!state.keys) throw new RpcError(400, "KMS is not bootstrapped yet");
  if (path === "/finish") send(res, 200, "text/plain", "OK");
  else sendJson(res, 200, {});
  if (state.mode === "onboard") {
    state.mode = "normal";
    routes.onFinish(res);
  }
}

async function sendSimFile(state: SimulatorState, res: ServerResponse, type: string, path: string, kind: InputKind): Promise<void> {
  if (!state.keys) throw new RpcError(404, "not bootstrapped");
  send(res, 200, type, await readText(path, kind));
}

/** The arguments of a call: the query of a GET, the JSON object of a POST (an empty body is `{}`). */
async function requestArgs(req: IncomingMessage, u: URL): Promise<Record<string, unknown>> {
  if (req.method === "GET") return Object.fromEntries(u.searchParams.entries());
  if (req.method !== "POST") throw new RpcError(405, `method ${req.method} not allowed`);
  const isJson = u.searchParams.has("json") || /json/i.test(req.headers["content-type"] ?? "");
  if (!isJson) throw new RpcError(400, "the simulator speaks JSON only: add ?json or Content-Type: application/json");
  const text = await readBody(req);
  if (text.trim() === "") return {};
  let v: unknown;
  try {
    v = parseJsonLimited(text, "request", { maxDepth: 16 });
  } catch (e) {
    throw new RpcError(400, errorMessage(e));
  }
  if (!isPlainObject(v)) throw new RpcError(400, "request body must be a JSON object");
  return v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_REQUEST_BYTES) throw new RpcError(413, `request body larger than ${MAX_REQUEST_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function answerError(res: ServerResponse, e: unknown): void {
  const status = e instanceof RpcError ? e.status : e instanceof KmsRegistryError ? 400 : 500;
  if (status === 404 && !(e instanceof UnknownMethodError)) return send(res, 404, HTML, NOT_FOUND_HTML);
  if (!res.headersSent) sendJson(res, status, { error: errorMessage(e) });
  else res.destroy();
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** JSON: compact when 200, indented for errors. */
function sendJson(res: ServerResponse, status: number, v: unknown): void {
  send(res, status, "application/json", JSON.stringify(v, null, status === 200 ? undefined : 2));
}
