/**
 * A simulated dstack KMS for development and the end-to-end demo: a real `node:http` (or
 * `node:https`) server with the dstack prpc API shapes (formats doc §3).
 *
 * Onboard mode (fresh certs dir): `GET /` onboarding page; `POST /prpc/Onboard.Bootstrap?json
 * {"domain"}` generates REAL keys and certificates (see `generate.ts`), writes exactly the 8 files and
 * answers the BootstrapResponse; a second Bootstrap fails with "Bootstrap already completed" and
 * touches nothing; `Onboard.GetAttestationInfo` (mr_aggregated, os_image_hash… of the simulated CVM,
 * for allow-listing before Bootstrap); `GET /finish` / `POST /prpc/Onboard.Finish` switch to normal mode (over TLS with
 * rpc.crt/rpc.key when `https` is set).
 * Normal mode: `KMS.GetMeta`, `KMS.GetAppEnvEncryptPubKey {"app_id"}` (messages B and C signed by the
 * root k256 key), and SIMULATOR-ONLY calls `Sim.GetAppKey {"app_id"}` (app key pubkey + message-A
 * `k256_signature`) and `Sim.GetKey {"app_id","path","purpose"}` (derived pubkey + chain [D, A]).
 *
 * The quote and event log are produced with the DCAP forge under a SIMULATED root: report_data binds
 * the generated keys and the event log replays to the quote's RTMRs. The forge's public root
 * certificate and collateral are written OUTSIDE the certs dir (default `<certs-dir>.sim/`, which also
 * keeps the saved Bootstrap response) and served at `GET /sim/dcap-root-ca.pem` and
 * `GET /sim/collateral.json`. Verification against them says `genuine: false`; against Intel's root
 * it fails.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";

import { x25519 } from "@noble/curves/ed25519.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";

import { expectedKmsReportData } from "../dstack/binding.js";
import { encodeDstackAttestationV0 } from "../dstack/attestation.js";
import { eventLogToJson, makeRuntimeEvent, replayEventLog, type EventLogEntry } from "../dstack/eventlog.js";
import { bytesToPlainHex, concatBytes, hexToBytes, utf8 } from "../core/bytes.js";
import { InputError, KmsRegistryError, UsageError } from "../core/errors.js";
import {
  appKeyMessage,
  deriveKey,
  envEncryptMessage,
  envEncryptMessageV1,
  keyChainMessage,
  publicKeyFromPrivate,
  signMessage,
} from "../dstack/signatures.js";
import { CERTS_DIR_FILES } from "../kms/certs-dir.js";
import { INPUT_KINDS, readInput, type InputKind } from "../core/files.js";
import { generateKmsKeys, writeCertsDir } from "./generate.js";
import { isPlainObject, parseJsonLimited } from "../core/json.js";
import { OID_EVENT_LOG, OID_TDX_QUOTE } from "../dstack/ratls.js";
import { validateDomain } from "./pki.js";

export interface SimulatedKmsOptions {
  port?: number;
  host?: string;
  certsDir: string;
  /** Where the forge's public root + collateral and the saved Bootstrap response go. Default `<certsDir>.sim`. */
  simDir?: string;
  /** Bootstrap at start with this domain (then start in normal mode). */
  autoBootstrapDomain?: string;
  /** Serve normal mode over TLS with rpc.crt / rpc.key. */
  https?: boolean;
  /** Unix seconds used for certificates, the forge world's collateral window and signature timestamps. Default: the clock. */
  now?: number | (() => number);
  /** `"legacy"` (default): {quote, eventlog}; `"attestation"`: {attestation} V0 SCALE. */
  format?: "legacy" | "attestation";
  /** Imitate dstack issue #539: do not write bootstrap-info.json; GetMeta says `bootstrap_info: null`. */
  omitBootstrapInfo?: boolean;
  /** Seed for the forge world (reproducible collateral); keys are always random. */
  forgeSeed?: string;
}

export interface SimulatedKms {
  /** Current base URL (`http://…` in onboard mode; `https://…` after Finish when `https`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly mode: "onboard" | "normal";
  readonly certsDir: string;
  readonly simDir: string;
  readonly bootstrapped: boolean;
  /** Paths of the simulated DCAP root (PEM) and collateral JSON, once bootstrapped. */
  readonly simRootCaPath: string;
  readonly simCollateralPath: string;
  /** Bootstrap programmatically (same as the RPC). */
  bootstrap(domain: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const MAX_REQUEST_BYTES = 64 * 1024;

class RpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Loaded {
  domain: string;
  k256: Uint8Array;
  k256Pubkey: Uint8Array;
  caCertPem: string;
  rpcCertPem: string;
  rpcKeyPem: string;
  /** dstack-shaped BootstrapResponse (plain hex). */
  bootstrapResponse: Record<string, string>;
  infoWritten: boolean;
}

/** A plausible KMS CVM event log: synthetic firmware events for RTMR0–2, dstack's runtime events in RTMR3. */
export function simulatedKmsEventLog(opts: { instanceId: Uint8Array }): EventLogEntry[] {
  const boot = (imr: number, eventType: number, label: string): EventLogEntry => ({
    imr,
    eventType,
    digest: sha384(utf8(`dstack-kms-registry simulator: ${label}`)),
    event: "",
    payload: new Uint8Array(0),
    version: 1,
  });
  const events: EventLogEntry[] = [
    boot(0, 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot"),
    boot(0, 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG PK"),
    boot(0, 0x0000000a, "EV_PLATFORM_CONFIG_FLAGS acpi"),
    boot(1, 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION kernel"),
    boot(1, 0x00000004, "EV_SEPARATOR"),
    boot(2, 0x00000006, "EV_EVENT_TAG cmdline"),
    boot(2, 0x00000006, "EV_EVENT_TAG initrd"),
  ];
  const compose = utf8('{"manifest_version":2,"name":"dstack-kms-simulator","runner":"docker-compose"}');
  events.push(
    makeRuntimeEvent("system-preparing", new Uint8Array(0)),
    makeRuntimeEvent("app-id", sha256(utf8("dstack-kms-simulator app id")).subarray(0, 20)),
    makeRuntimeEvent("compose-hash", sha256(compose)),
    makeRuntimeEvent("instance-id", opts.instanceId),
    makeRuntimeEvent("boot-mr-done", new Uint8Array(0)),
    makeRuntimeEvent("os-image-hash", sha256(utf8("dstack-kms-simulator os image"))),
    makeRuntimeEvent("key-provider", utf8(JSON.stringify({ name: "local-sgx", id: bytesToPlainHex(sha256(utf8("simulated local-sgx key provider"))) }))),
    makeRuntimeEvent("storage-fs", utf8("zfs")),
    makeRuntimeEvent("system-ready", new Uint8Array(0)),
  );
  return events;
}

export const SIMULATED_MR_TD = sha384(utf8("dstack-kms-registry simulator MRTD"));

function page(state: { bootstrapped: boolean; mode: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dstack KMS onboarding (SIMULATOR)</title>
<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}pre{background:#eee;padding:1em;overflow:auto;white-space:pre-wrap;word-break:break-all}</style></head>
<body>
<h1>dstack KMS — onboarding</h1>
<p><strong>Simulated KMS</strong> (kms-registry simulate-kms): real keys, FORGED quote under a simulated root — not genuine TDX.</p>
<p>State: ${state.bootstrapped ? "bootstrapped" : "not bootstrapped"}, mode: ${state.mode}.</p>
<form id="bootstrap"><label>Domain <input name="domain" required placeholder="kms.example.com"></label>
<button type="submit">Bootstrap</button></form>
<pre id="out"></pre>
<button id="finish">Finish Setup</button>
<script>
document.getElementById("bootstrap").addEventListener("submit", async (e) => {
  e.preventDefault();
  const domain = new FormData(e.target).get("domain");
  const r = await fetch("/prpc/Onboard.Bootstrap?json", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ domain }) });
  const j = await r.json();
  document.getElementById("out").textContent = j.error ? "Error: " + j.error :
    JSON.stringify({ caPubkey: "0x" + j.ca_pubkey, k256Pubkey: "0x" + j.k256_pubkey, quote: j.quote && "0x" + j.quote, eventlog: j.eventlog && "0x" + j.eventlog, attestation: j.attestation && "0x" + j.attestation }, null, 2);
});
document.getElementById("finish").addEventListener("click", async () => {
  const r = await fetch("/finish");
  document.getElementById("out").textContent = await r.text();
});
</script>
</body></html>
`;
}

const NOT_FOUND_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title></head>
<body align="center"><div role="main" align="center"><h1>404: Not Found</h1><p>The requested resource could not be found.</p><hr/></div>
<div role="contentinfo" align="center"><small>Rocket</small></div></body></html>
`;

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

function appIdArg(args: Record<string, unknown>): Uint8Array {
  const v = args.app_id;
  if (typeof v !== "string") throw new RpcError(400, "app_id is required (20-byte hex)");
  let b: Uint8Array;
  try {
    b = hexToBytes(v, "app_id");
  } catch (e) {
    throw new RpcError(400, e instanceof Error ? e.message : String(e));
  }
  if (b.length !== 20) throw new RpcError(400, `invalid app_id length: expected 20 bytes, got ${b.length}`);
  return b;
}

async function readText(p: string, kind: InputKind): Promise<string> {
  return new TextDecoder().decode(await readInput(p, kind));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Start the simulator. Resolves once it listens. */
export async function startSimulatedKms(opts: SimulatedKmsOptions): Promise<SimulatedKms> {
  if (!opts.certsDir) throw new UsageError("simulate-kms: a certs dir is required");
  const certsDir = resolve(opts.certsDir);
  const simDir = resolve(opts.simDir ?? `${certsDir.replace(/[\\/]+$/, "")}.sim`);
  const host = opts.host ?? "127.0.0.1";
  const clock = () => (typeof opts.now === "function" ? opts.now() : (opts.now ?? Math.floor(Date.now() / 1000)));
  const format = opts.format ?? "legacy";
  const simRootCaPath = join(simDir, "dcap-root-ca.pem");
  const simCollateralPath = join(simDir, "collateral.json");
  const savedResponsePath = join(simDir, "bootstrap-response.json");

  let existing: string[];
  try {
    await mkdir(certsDir, { recursive: true, mode: 0o755 });
    existing = await readdir(certsDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError("CERTS_DIR_INVALID", `${certsDir}: cannot use as a certs dir (${code}${code === "EEXIST" || code === "ENOTDIR" ? ": a file is in the way" : ""})`, { cause: e });
  }
  let loaded: Loaded | null = null;
  // the CVM's event log is fixed at boot (a fresh instance id per start), before any bootstrap
  const bootEventLog = simulatedKmsEventLog({ instanceId: randomBytes(20) });
  let bootstrapping: Promise<Record<string, string>> | null = null;

  // --- resume from an existing certs dir -----------------------------------------------------
  const present = existing.filter((f) => (CERTS_DIR_FILES as readonly string[]).includes(f));
  if (present.length) {
    const keyFiles = CERTS_DIR_FILES.filter((f) => f !== "bootstrap-info.json");
    const missing = keyFiles.filter((f) => !present.includes(f));
    if (missing.length) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir} is partially populated (missing ${missing.join(", ")}); refusing to start`);
    const k256 = await readInput(join(certsDir, "root-k256.key"), INPUT_KINDS.certsDirFile);
    if (k256.length !== 32) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir}/root-k256.key is ${k256.length} bytes, expected 32`);
    let response: Record<string, string> | null = null;
    let infoWritten = false;
    if (present.includes("bootstrap-info.json")) {
      response = parseJsonLimited(await readText(join(certsDir, "bootstrap-info.json"), INPUT_KINDS.bootstrap), "bootstrap-info.json") as Record<string, string>;
      infoWritten = true;
    } else if (await exists(savedResponsePath)) {
      response = parseJsonLimited(await readText(savedResponsePath, INPUT_KINDS.bootstrap), "saved bootstrap response") as Record<string, string>;
    }
    if (!response) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir} has keys but no bootstrap-info.json and no saved response in ${simDir}`);
    const { X509Certificate } = await import("node:crypto");
    const rpcCertPem = await readText(join(certsDir, "rpc.crt"), INPUT_KINDS.certsDirFile);
    const cn = /CN=([^\n,]+)/.exec(new X509Certificate(rpcCertPem).subject)?.[1] ?? "localhost";
    loaded = {
      domain: cn,
      k256,
      k256Pubkey: publicKeyFromPrivate(k256),
      caCertPem: await readText(join(certsDir, "root-ca.crt"), INPUT_KINDS.certsDirFile),
      rpcCertPem,
      rpcKeyPem: await readText(join(certsDir, "rpc.key"), INPUT_KINDS.certsDirFile),
      bootstrapResponse: response,
      infoWritten,
    };
  }

  async function doBootstrap(domainArg: unknown): Promise<Record<string, string>> {
    if (loaded) throw new RpcError(400, "Bootstrap already completed");
    if (bootstrapping) throw new RpcError(400, "Bootstrap already completed (in progress)");
    let domain: string;
    try {
      domain = validateDomain(domainArg);
    } catch (e) {
      throw new RpcError(400, e instanceof Error ? e.message : String(e));
    }
    const run = async (): Promise<Record<string, string>> => {
      const now = clock();
      const { createForgeWorld, forgeQuote } = await import("./forge/index.js");
      const { collateralToJson } = await import("../dcap/collateral.js");
      const { ratlsReportData } = await import("../dstack/ratls.js");
      const world = await createForgeWorld({ now, ...(opts.forgeSeed ? { seed: opts.forgeSeed } : {}) });
      const eventLog = bootEventLog;
      const rtmrs = replayEventLog(eventLog).rtmrs;
      const eventlogText = JSON.stringify(eventLogToJson(eventLog));
      // RA-TLS as up to v0.5.8: the RPC cert carries its own quote (report_data = SHA-512("ratls-cert:" ‖ SPKI)) and the event log
      const m = await generateKmsKeys({
        domain,
        now,
        rpcExtensions: async (spki) => ({
          [OID_TDX_QUOTE]: await forgeQuote(world, { reportData: ratlsReportData(spki), mrTd: SIMULATED_MR_TD, rtMrs: [...rtmrs] }),
          [OID_EVENT_LOG]: utf8(eventlogText),
        }),
      });
      const reportData = expectedKmsReportData(m.caPubkey, m.k256Pubkey);
      const quote = await forgeQuote(world, { reportData, mrTd: SIMULATED_MR_TD, rtMrs: [...rtmrs] });
      const response: Record<string, string> =
        format === "attestation"
          ? {
              ca_pubkey: bytesToPlainHex(m.caPubkey),
              k256_pubkey: bytesToPlainHex(m.k256Pubkey),
              attestation: bytesToPlainHex(encodeDstackAttestationV0({ quote, eventLog, reportData, config: JSON.stringify({ simulator: true }) })),
            }
          : {
              ca_pubkey: bytesToPlainHex(m.caPubkey),
              k256_pubkey: bytesToPlainHex(m.k256Pubkey),
              quote: bytesToPlainHex(quote),
              eventlog: bytesToPlainHex(utf8(eventlogText)),
            };
      await mkdir(simDir, { recursive: true, mode: 0o755 });
      await writeFile(simRootCaPath, world.rootCaPem.endsWith("\n") ? world.rootCaPem : `${world.rootCaPem}\n`);
      await writeFile(simCollateralPath, collateralToJson(world.collateral));
      await writeFile(savedResponsePath, JSON.stringify(response));
      await writeCertsDir(certsDir, m, opts.omitBootstrapInfo ? null : response);
      loaded = {
        domain,
        k256: m.k256,
        k256Pubkey: m.k256Pubkey,
        caCertPem: m.rootCaPem,
        rpcCertPem: m.rpcPem,
        rpcKeyPem: m.rpc.privatePem,
        bootstrapResponse: response,
        infoWritten: !opts.omitBootstrapInfo,
      };
      return response;
    };
    bootstrapping = run();
    try {
      return await bootstrapping;
    } finally {
      bootstrapping = null;
    }
  }

  if (!loaded && opts.autoBootstrapDomain) {
    try {
      await doBootstrap(opts.autoBootstrapDomain);
    } catch (e) {
      if (e instanceof RpcError) throw new InputError("BAD_DOMAIN", `--auto-bootstrap: ${e.message}`);
      throw e;
    }
  }
  let mode: "onboard" | "normal" = loaded ? "normal" : "onboard";

  function meta(): Record<string, unknown> {
    const l = loaded!;
    return {
      ca_cert: l.caCertPem,
      allow_any_upgrade: true,
      k256_pubkey: bytesToPlainHex(l.k256Pubkey),
      bootstrap_info: l.infoWritten ? l.bootstrapResponse : null,
      is_dev: true,
      gateway_app_id: "",
      kms_contract_address: null,
      chain_id: null,
      app_auth_implementation: null,
    };
  }

  function appKey(appId: Uint8Array): { priv: Uint8Array; pub: Uint8Array; sig: Uint8Array } {
    const l = loaded!;
    const priv = deriveKey(l.k256, appId, "app-key");
    const pub = publicKeyFromPrivate(priv);
    return { priv, pub, sig: signMessage(appKeyMessage(appId, pub), l.k256) };
  }

  async function rpc(method: string, args: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case "Onboard.Bootstrap":
        return doBootstrap(args.domain);
      case "Onboard.GetAttestationInfo":
      case "KMS.GetAttestationInfo": {
        const rt = replayEventLog(bootEventLog).rtmrs;
        return {
          device_id: bytesToPlainHex(sha256(utf8("dstack-kms-registry simulator device"))),
          mr_aggregated: bytesToPlainHex(sha256(concatBytes(SIMULATED_MR_TD, ...rt))),
          os_image_hash: bytesToPlainHex(sha256(utf8("dstack-kms-simulator os image"))),
          tee_variant: "tdx",
          site_name: "simulator",
          eth_rpc_url: "",
          kms_contract_address: "",
          ppid: "",
        };
      }
      case "Onboard.Onboard":
        throw new RpcError(400, "Onboard (replication from another KMS) is not supported by the simulator");
      case "Onboard.Finish":
        if (!loaded) throw new RpcError(400, "KMS is not bootstrapped yet");
        return {};
    }
    if (!loaded || mode === "onboard") throw new RpcError(404, "not found");
    const l = loaded;
    switch (method) {
      case "KMS.GetMeta":
        return meta();
      case "KMS.GetAppEnvEncryptPubKey": {
        const appId = appIdArg(args);
        const secret = deriveKey(l.k256, appId, "env-encrypt-key");
        const pub = x25519.getPublicKey(secret);
        const ts = clock();
        return {
          public_key: bytesToPlainHex(pub),
          signature: bytesToPlainHex(signMessage(envEncryptMessage(appId, pub), l.k256)),
          timestamp: ts,
          signature_v1: bytesToPlainHex(signMessage(envEncryptMessageV1(appId, ts, pub), l.k256)),
        };
      }
      case "Sim.GetAppKey": {
        const appId = appIdArg(args);
        const k = appKey(appId);
        return {
          simulator_only: true,
          app_id: bytesToPlainHex(appId),
          app_pubkey: bytesToPlainHex(k.pub),
          k256_signature: bytesToPlainHex(k.sig),
          kms_pubkey: bytesToPlainHex(l.k256Pubkey),
        };
      }
      case "Sim.GetKey": {
        const appId = appIdArg(args);
        const path = typeof args.path === "string" ? args.path : "";
        const purpose = typeof args.purpose === "string" ? args.purpose : "";
        const k = appKey(appId);
        const derived = deriveKey(k.priv, path);
        const derivedPub = publicKeyFromPrivate(derived);
        const d = signMessage(keyChainMessage(purpose, derivedPub), k.priv);
        return {
          simulator_only: true,
          app_id: bytesToPlainHex(appId),
          path,
          purpose,
          public_key: bytesToPlainHex(derivedPub),
          app_pubkey: bytesToPlainHex(k.pub),
          signature_chain: [bytesToPlainHex(d), bytesToPlainHex(k.sig)],
        };
      }
      default:
        throw new RpcError(404, `method ${method} not found`);
    }
  }

  let server: Server;
  let currentProto: "http" | "https" = "http";
  let port = opts.port ?? 0;
  let switching: Promise<void> | null = null;

  function send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }
  const sendJson = (res: ServerResponse, status: number, v: unknown) => send(res, status, "application/json", JSON.stringify(v, null, status === 200 ? undefined : 2));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://sim.invalid");
    const path = u.pathname;
    try {
      if (req.method === "GET" && (path === "/" || path === "/index.html")) return send(res, 200, "text/html; charset=utf-8", page({ bootstrapped: loaded !== null, mode }));
      if (path === "/finish" || path === "/prpc/Onboard.Finish") {
        if (!loaded) throw new RpcError(400, "KMS is not bootstrapped yet");
        if (path === "/finish") send(res, 200, "text/plain", "OK");
        else sendJson(res, 200, {});
        if (mode === "onboard") {
          mode = "normal";
          if (opts.https) res.once("finish", () => void (switching = switchToHttps()));
        }
        return;
      }
      if (req.method === "GET" && path === "/sim/dcap-root-ca.pem") {
        if (!loaded) throw new RpcError(404, "not bootstrapped");
        return send(res, 200, "application/x-pem-file", await readText(simRootCaPath, INPUT_KINDS.certificate));
      }
      if (req.method === "GET" && path === "/sim/collateral.json") {
        if (!loaded) throw new RpcError(404, "not bootstrapped");
        return send(res, 200, "application/json", await readText(simCollateralPath, INPUT_KINDS.collateral));
      }
      const m = /^\/prpc\/([A-Za-z0-9_.]+)$/.exec(path);
      if (!m) return send(res, 404, "text/html; charset=utf-8", NOT_FOUND_HTML);
      let method = m[1]!;
      if (!method.includes(".")) method = `${mode === "onboard" ? "Onboard" : "KMS"}.${method}`;
      if (mode === "onboard" && method.startsWith("KMS.")) return send(res, 404, "text/html; charset=utf-8", NOT_FOUND_HTML);
      let args: Record<string, unknown> = {};
      if (req.method === "GET") {
        args = Object.fromEntries(u.searchParams.entries());
      } else if (req.method === "POST") {
        const isJson = u.searchParams.has("json") || /json/i.test(req.headers["content-type"] ?? "");
        if (!isJson) throw new RpcError(400, "the simulator speaks JSON only: add ?json or Content-Type: application/json");
        const text = await readBody(req);
        if (text.trim() !== "") {
          let v: unknown;
          try {
            v = parseJsonLimited(text, "request", { maxDepth: 16 });
          } catch (e) {
            throw new RpcError(400, e instanceof Error ? e.message : String(e));
          }
          if (!isPlainObject(v)) throw new RpcError(400, "request body must be a JSON object");
          args = v;
        }
      } else {
        throw new RpcError(405, `method ${req.method} not allowed`);
      }
      const out = await rpc(method, args);
      if (method === "Onboard.Finish" && mode === "onboard") mode = "normal";
      sendJson(res, 200, out);
    } catch (e) {
      const status = e instanceof RpcError ? e.status : e instanceof KmsRegistryError ? 400 : 500;
      const msg = e instanceof Error ? e.message : String(e);
      if (status === 404 && !(e instanceof RpcError && e.message.startsWith("method"))) return send(res, 404, "text/html; charset=utf-8", NOT_FOUND_HTML);
      if (!res.headersSent) sendJson(res, status, { error: msg });
      else res.destroy();
    }
  }

  function makeServer(proto: "http" | "https"): Server {
    const handler = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
    if (proto === "https") return createHttpsServer({ cert: loaded!.rpcCertPem, key: loaded!.rpcKeyPem }, handler);
    return createHttpServer(handler);
  }

  async function listen(s: Server): Promise<void> {
    await new Promise<void>((ok, fail) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const code = e.code ?? "";
        const why = code === "EADDRINUSE" ? "the port is already in use" : code === "EACCES" ? "permission denied (ports below 1024 need privileges)" : code === "EADDRNOTAVAIL" ? "no such local address" : e.message;
        fail(new InputError(code === "EADDRINUSE" ? "PORT_IN_USE" : "LISTEN_FAILED", `cannot listen on ${host}:${port}: ${why}${code ? ` (${code})` : ""}`, { cause: e }));
      };
      s.once("error", onError);
      s.listen(port, host, () => {
        s.off("error", onError);
        ok();
      });
    });
    port = (s.address() as AddressInfo).port;
  }

  async function closeServer(s: Server): Promise<void> {
    await new Promise<void>((ok) => {
      s.close(() => ok());
      s.closeAllConnections();
    });
  }

  async function switchToHttps(): Promise<void> {
    await closeServer(server);
    currentProto = "https";
    server = makeServer("https");
    await listen(server);
  }

  currentProto = opts.https && mode === "normal" ? "https" : "http";
  server = makeServer(currentProto);
  await listen(server);

  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    get url() {
      return `${currentProto}://${urlHost}:${port}`;
    },
    get port() {
      return port;
    },
    host,
    get mode() {
      return mode;
    },
    certsDir,
    simDir,
    get bootstrapped() {
      return loaded !== null;
    },
    simRootCaPath,
    simCollateralPath,
    async bootstrap(domain: string) {
      try {
        return await doBootstrap(domain);
      } catch (e) {
        if (e instanceof RpcError) throw new InputError(e.message === "Bootstrap already completed" ? "ALREADY_BOOTSTRAPPED" : "BAD_DOMAIN", e.message);
        throw e;
      }
    },
    async close() {
      if (switching) await switching.catch(() => undefined);
      await closeServer(server);
    },
  };
}
