/**
 * Output hygiene of the real `kms-registry` executable against hostile or failing servers on 127.0.0.1:
 * - an RPC URL's credentials, path key and query key never appear on stdout or stderr (human or --json),
 *   however the RPC fails (HTTP 500 echoing the request, garbage, closed connections);
 * - a KMS or PCCS that answers with terminal escapes (a forged "VERIFIED" line, C1 and OSC sequences)
 *   gets none of them onto the terminal, and the message still says what went wrong.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToPlainHex } from "../src/core/bytes.js";
import { connect } from "../src/registry/connect.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY } from "../src/testing/devnode.js";
import { runCli, type RunResult } from "./helpers/cli.js";
import { startPccs, stopPccs, type Handler, type Pccs } from "./helpers/pccs-server.js";
import { randomKms } from "./registry/chain-helpers.js";
import { startBootstrappedKms, type SimKmsProcess } from "./e2e/helpers.js";

const USER = "rpcUserXq7";
const PASSWORD = "pw5ecretZ9";
const PATH_KEY = "APIKEY123";
const QUERY_KEY = "QUERYSECRET";
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
const SECRETS = [USER, PASSWORD, PATH_KEY, QUERY_KEY, BASIC];
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_DEBUG: "" };

/** Raw control characters a terminal would act on: C0 except TAB and LF, DEL, C1. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // eslint-disable-line no-control-regex

type Mode = "echo-500" | "garbage" | "close" | "down-500" | "down-close";

interface Server {
  port: number;
  close: () => Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<Server> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A JSON-RPC endpoint that answers eth_chainId (31337), eth_getCode (some code) and eth_blockNumber, and
 * fails everything else per `mode` ("down-…" modes fail eth_chainId too). The 500 answers echo the request
 * path, query and Authorization header, as hosted RPCs echo an invalid API key.
 */
function failingRpc(mode: Mode): Promise<Server> {
  return listen((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      const calls = [JSON.parse(body) as { id: unknown; method: string }].flat();
      const answer = (m: string): unknown => (m === "eth_chainId" ? "0x7a69" : m === "eth_getCode" ? "0x6080604052" : m === "eth_blockNumber" ? "0x10" : undefined);
      const healthy = !mode.startsWith("down-") && calls.every((c) => answer(c.method) !== undefined);
      if (healthy) {
        const out = calls.map((c) => ({ jsonrpc: "2.0", id: c.id, result: answer(c.method) }));
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(Array.isArray(JSON.parse(body)) ? out : out[0]));
      } else if (mode === "echo-500" || mode === "down-500") {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: `invalid project id in ${req.url} (authorization: ${req.headers.authorization})` }));
      } else if (mode === "garbage") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`<<garbage for ${req.url} ${req.headers.authorization}>>`);
      } else {
        req.socket.destroy();
      }
    });
  });
}

const secretUrl = (port: number) => `http://${USER}:${PASSWORD}@127.0.0.1:${port}/v3/${PATH_KEY}?apikey=${QUERY_KEY}`;

function expectNoSecret(r: RunResult, what: string): void {
  for (const [name, stream] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    for (const s of SECRETS) expect(stream, `${what}: ${name} contains ${s}`).not.toContain(s);
  }
}

function expectOneJsonDocument(r: RunResult, what: string): Record<string, unknown> {
  let doc: Record<string, unknown> | undefined;
  expect(() => (doc = JSON.parse(r.stdout) as Record<string, unknown>), `${what}: stdout is one JSON document: ${r.stdout}`).not.toThrow();
  return doc!;
}

describe("RPC credentials never reach the output", () => {
  const servers = new Map<Mode, Server>();
  let kms: SimKmsProcess;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-hygiene-"));
    const modes: Mode[] = ["echo-500", "garbage", "close", "down-500", "down-close"];
    const [sim, ...started] = await Promise.all([startBootstrappedKms(), ...modes.map(failingRpc)]);
    kms = sim;
    modes.forEach((m, i) => servers.set(m, started[i]!));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([kms?.stop(), ...[...servers.values()].map((s) => s.close())]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (kms) rmSync(kms.dir, { recursive: true, force: true });
  });

  it("the RPC error wrapper redacts viem's messages (URL, echoed key, Basic credentials) in the whole cause chain", async () => {
    const conn = await connect(secretUrl(servers.get("echo-500")!.port), { timeoutMs: 5000 });
    let err: unknown;
    try {
      await conn.publicClient.getLogs({ address: REGISTRY, fromBlock: 0n, toBlock: 1n });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    const texts: string[] = [];
    for (let cur = err as { message?: string; shortMessage?: string; details?: string; stack?: string; url?: string; metaMessages?: string[]; cause?: unknown } | undefined; cur; cur = cur.cause as typeof cur) {
      texts.push(String(cur.message), String(cur.shortMessage), String(cur.details), String(cur.stack), String(cur.url), ...(cur.metaMessages ?? []));
    }
    const all = texts.join("\n");
    // still says what happened: viem's short message, the status, where (without the secret parts)
    expect((err as { shortMessage: string }).shortMessage).toBe("HTTP request failed.");
    expect(all).toContain("Status: 500");
    expect(all).toContain(`URL: http://127.0.0.1:${servers.get("echo-500")!.port}/***`);
    expect(all).toContain("invalid project id in ***");
    for (const s of SECRETS) expect(all, `error text contains ${s}`).not.toContain(s);
  });

  /** Each command, the RPC failures it meets, and what its stderr says once the RPC failed (it got that far). */
  const runs: { name: string; args: (rpc: string) => string[]; modes: Mode[]; reached: RegExp; code?: string }[] = [
    {
      name: "audit",
      args: (rpc) => ["audit", "--registry", REGISTRY, "--rpc", rpc, "--from-block", "0"],
      modes: ["echo-500", "garbage", "close", "down-500", "down-close"],
      reached: /eth_getLogs \[0, 16\] failed: HTTP request failed|did not answer eth_chainId: HTTP request failed/,
    },
    {
      name: "deploy",
      args: (rpc) => ["deploy", "--rpc", rpc, "--deployments", path.join(tmp, "deployments")],
      modes: ["echo-500", "garbage", "down-500"],
      reached: /deployment transaction was not accepted: HTTP request failed|did not answer eth_chainId/,
    },
    {
      name: "check-signature",
      args: (rpc) => ["check-signature", "--registry", REGISTRY, "--rpc", rpc, "--kms", REGISTRY, "--app-id", `0x${"11".repeat(20)}`, "--app-pubkey", `0x02${"22".repeat(32)}`, "--signature", `0x${"33".repeat(64)}1b`],
      modes: ["echo-500", "garbage", "close"],
      reached: /HTTP request failed/,
      code: "RPC_UNREACHABLE",
    },
    {
      name: "prove-liveness",
      args: (rpc) => ["prove-liveness", "--registry", REGISTRY, "--rpc", rpc, "--kms", kms.url, "--kms-address", REGISTRY],
      modes: ["echo-500", "close"],
      reached: /HTTP request failed/,
      code: "RPC_UNREACHABLE",
    },
    {
      name: "publish",
      args: (rpc) => ["publish", "--registry", REGISTRY, "--rpc", rpc, "--kms", kms.url, "--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile, "--allow-simulated-root", "--journal-dir", path.join(tmp, "journal")],
      modes: ["echo-500", "garbage"],
      reached: /\[publish\] chain: chain 31337[^]*kms-registry: publish: .*HTTP request failed/,
    },
  ];

  for (const run of runs) {
    it(`${run.name} --rpc with a failing RPC: no user, password, path key or query key on stdout or stderr, with and without --json`, async () => {
      for (const mode of run.modes) {
        const rpc = secretUrl(servers.get(mode)!.port);
        for (const json of [false, true]) {
          const what = `${run.name} (${mode}${json ? ", --json" : ""})`;
          const r = await runCli([...run.args(rpc), ...(json ? ["--json"] : [])], { env: { ...KEY_ENV, KMS_REGISTRY_STATE_DIR: path.join(tmp, "state") }, timeoutMs: 120_000 });
          expect(r.code, `${what}: ${r.stderr}`).toBeGreaterThan(0);
          expect(r.stderr, what).toMatch(new RegExp(`kms-registry: ${run.name}: `));
          expect(r.stderr, what).toMatch(run.reached);
          expect(r.stderr, what).not.toMatch(/\n\s+at /); // no stack trace
          expectNoSecret(r, what);
          if (json) {
            const doc = expectOneJsonDocument(r, what);
            expect(doc.ok, what).toBe(false);
            expect((doc.error as { code: string }).code, what).toMatch(/^[A-Z_]+$/);
            // a failing node is named as such, never an internal error
            expect((doc.error as { code: string }).code, what).not.toBe("INTERNAL");
            if (run.code) expect((doc.error as { code: string }).code, what).toBe(run.code);
          }
        }
      }
    }, 300_000);
  }

  it("every secret-bearing URL on the command line is redacted wherever it is printed: --kms in progress lines, --rpc in errors", async () => {
    const closed = await listen(() => undefined);
    const closedPort = closed.port;
    await closed.close();
    const kmsSecrets = ["kmsUserQ", "kmsPassQ", "KMSTOKEN77"];
    const kmsUrl = `http://kmsUserQ:kmsPassQ@127.0.0.1:${closedPort}/?token=KMSTOKEN77`;
    for (const json of [false, true]) {
      const r = await runCli(["publish", "--registry", REGISTRY, "--rpc", secretUrl(servers.get("down-500")!.port), "--kms", kmsUrl, "--collateral", kms.collateralFile, ...(json ? ["--json"] : [])], { env: KEY_ENV });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`[publish] pull: from http://127.0.0.1:${closedPort}/***`);
      expect(r.stderr).toMatch(/kms-registry: publish: KMS 127\.0\.0\.1:\d+ unreachable/);
      for (const s of [...kmsSecrets, ...SECRETS]) expect(r.stdout + r.stderr, `publish${json ? " --json" : ""} prints ${s}`).not.toContain(s);
      if (json) expectOneJsonDocument(r, "publish --json");
    }
    const unreachable = await runCli(["audit", "--registry", REGISTRY, "--rpc", secretUrl(servers.get("down-500")!.port)], { env: KEY_ENV });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`JSON-RPC endpoint http://127.0.0.1:${servers.get("down-500")!.port}/*** did not answer eth_chainId`);
    expectNoSecret(unreachable, "audit against a down RPC");
  }, 60_000);
});

/** Server text meant to take over the terminal: erase the line, print a green "VERIFIED", C1 CSI/OSC, OSC title and hyperlink, DEL, NUL, BS. */
const HOSTILE =
  "quota exceeded for this key\x1b[2K\r\x1b[32mVERIFIED\x1b[0m\nVERIFIED: all checks passed\n\u009b2J\u009d0;owned\u0007\x1b]0;title\x07\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\\x7f\x00\x08\x1bc end";

function expectTerminalSafe(r: RunResult, what: string): void {
  for (const [name, stream] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    const m = RAW_CONTROL.exec(stream);
    expect(m, `${what}: ${name} has raw control U+${m?.[0].charCodeAt(0).toString(16).padStart(4, "0")} in ${JSON.stringify(stream)}`).toBeNull();
    // no line a server forged: every line that says VERIFIED is one of ours that also says who spoke
    for (const line of stream.split("\n")) expect(line, `${what}: forged line in ${name}`).not.toMatch(/^\s*VERIFIED/);
  }
}

describe("hostile KMS and PCCS text never reaches the terminal raw", () => {
  let kms: Server;
  let kmsHtml: Server;
  let pccs: Pccs;
  let tmp: string;
  let bootstrapFile: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-hostile-"));
    // GetMeta answers an error whose text is HOSTILE (in the JSON `error` field); the other KMS answers 200 with hostile meta fields.
    kms = await listen((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: HOSTILE }));
    });
    kmsHtml = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ca_cert: HOSTILE, k256_pubkey: HOSTILE, bootstrap_info: { ca_pubkey: HOSTILE } }));
    });
    // A PCCS whose every resource answers HTTP 500 with HOSTILE as the body.
    const hostile: Handler = (_req, res) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(HOSTILE);
    };
    const routes = new Map<string, Handler>();
    routes.get = () => hostile;
    pccs = await startPccs(routes);
    const id = randomKms();
    bootstrapFile = path.join(tmp, "bootstrap.json");
    writeFileSync(bootstrapFile, JSON.stringify({ ca_pubkey: bytesToPlainHex(id.caPubkey), k256_pubkey: bytesToPlainHex(id.k256Pubkey), quote: bytesToPlainHex(id.quote), eventlog: "" }));
  });

  afterAll(async () => {
    await Promise.all([kms?.close(), kmsHtml?.close(), pccs && stopPccs(pccs)]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const env = () => ({ XDG_CACHE_HOME: path.join(tmp, "cache"), KMS_REGISTRY_DEBUG: "" });

  it("pull and verify --kms: the KMS's error text is stripped of escapes and stays on one line, still informative", async () => {
    for (const cmd of ["pull", "verify"]) {
      for (const json of [false, true]) {
        const what = `${cmd} --kms (error body${json ? ", --json" : ""})`;
        const r = await runCli([cmd, "--kms", `http://127.0.0.1:${kms.port}`, ...(cmd === "verify" ? ["--collateral", "test/fixtures/dcap/tdx_quote_collateral.json"] : []), ...(json ? ["--json"] : [])], { env: env() });
        expect(r.code, what).toBeGreaterThan(0);
        expectTerminalSafe(r, what);
        expect(r.stderr, what).toContain(`kms-registry: ${cmd}: KMS 127.0.0.1:${kms.port}: KMS.GetMeta failed: quota exceeded for this key`);
        if (json) expect((expectOneJsonDocument(r, what).error as { code: string }).code).toBe("KMS_RPC_ERROR");
      }
      const hostileMeta = await runCli([cmd, "--kms", `http://127.0.0.1:${kmsHtml.port}`, ...(cmd === "verify" ? ["--collateral", "test/fixtures/dcap/tdx_quote_collateral.json"] : [])], { env: env() });
      expect(hostileMeta.code).toBeGreaterThan(0);
      expectTerminalSafe(hostileMeta, `${cmd} --kms (hostile meta)`);
      expect(hostileMeta.stderr).toMatch(new RegExp(`kms-registry: ${cmd}: .+`));
    }
  }, 120_000);

  it("verify-quote --pccs and verify --pccs: the PCCS's error snippet is stripped of escapes, still informative", async () => {
    for (const json of [false, true]) {
      const what = `verify-quote --pccs${json ? " --json" : ""}`;
      const r = await runCli(["verify-quote", "test/fixtures/dcap/tdx_quote", "--pccs", pccs.url, ...(json ? ["--json"] : [])], { env: env() });
      expect(r.code, what).toBeGreaterThan(0);
      expectTerminalSafe(r, what);
      expect(r.stderr, what).toMatch(/HTTP 500 for \/\S+ \(quota exceeded for this key/);
      if (json) expect((expectOneJsonDocument(r, what).error as { code: string }).code).toBe("PCCS_HTTP_STATUS");
    }
    for (const json of [false, true]) {
      const what = `verify --file --pccs${json ? " --json" : ""}`;
      const r = await runCli(["verify", "--file", bootstrapFile, "--pccs", pccs.url, ...(json ? ["--json"] : [])], { env: env() });
      expect(r.code, what).toBe(1);
      expectTerminalSafe(r, what);
      const out = json ? JSON.stringify(expectOneJsonDocument(r, what)) : r.stdout;
      expect(out, what).toMatch(/collateral could not be fetched from http:\/\/127\.0\.0\.1:\d+: .*HTTP 500 for \/\S+ \(quota exceeded for this key/);
    }
  }, 120_000);
});
