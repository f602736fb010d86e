/**
 * The dashboard's HTTP server on a real registry (`hardhat node`): security headers on every answer, the
 * JSON API, server-sent events announcing a new block's events, and the bounds (methods, bodies, URL length,
 * Host header, event-stream cap). The CLI refuses a non-loopback --host without --allow-remote, and a bad
 * --explorer template.
 */
import http from "node:http";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LiveRegistry } from "../../src/dashboard/live.js";
import { CONTENT_SECURITY_POLICY, startDashboardServer, type DashboardServer } from "../../src/dashboard/server.js";
import { publishKms } from "../../src/registry/publish.js";
import { runCli } from "../helpers/cli.js";
import { randomKms, startChain, type TestChain } from "../registry/chain-helpers.js";

let chain: TestChain;
let live: LiveRegistry;
let server: DashboardServer;

const publish = () => publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: randomKms(), journalDir: `${chain.tmp}/state` });

/** A raw HTTP request (any method, headers and body; the Host header as given). */
function raw(opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method: opts.method ?? "GET", path: opts.path ?? "/", headers: opts.headers ?? {} }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Read server-sent events from /api/events until `until` says stop. */
function readEvents(until: (events: { event: string; data: unknown }[]) => boolean, timeoutMs = 15_000): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: unknown }[] = [];
    const req = http.get({ host: "127.0.0.1", port: server.port, path: "/api/events" }, (res) => {
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      let buf = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(events)}`));
    }, timeoutMs);
    req.on("error", () => undefined);
  });
}

beforeAll(async () => {
  chain = await startChain();
  await publish();
  live = new LiveRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: BigInt(chain.record.block), deploymentSource: "--from-block", intervalMs: 300 });
  await live.start();
  server = await startDashboardServer({ live, port: 0, maxEventStreams: 2 });
}, 60_000);

afterAll(async () => {
  await live?.stop();
  await server?.close();
  await chain?.node.stop();
});

describe("dashboard server", () => {
  it("every answer carries the strict CSP, nosniff, no-referrer and frame denial", async () => {
    for (const p of ["/", "/api/kms", "/assets/live.js", "/assets/dashboard.css", "/nope", "/api/nope"]) {
      const r = await raw({ path: p });
      expect(r.headers["content-security-policy"], p).toBe(CONTENT_SECURITY_POLICY);
      expect(r.headers["x-content-type-options"], p).toBe("nosniff");
      expect(r.headers["referrer-policy"], p).toBe("no-referrer");
      expect(r.headers["x-frame-options"], p).toBe("DENY");
    }
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe");
    expect((await raw({ path: "/nope" })).status).toBe(404);
  });

  it("the JSON API: registry, kms list, one kms, anomalies, timeline, snapshot", async () => {
    const reg = JSON.parse((await raw({ path: "/api/registry" })).body) as Record<string, unknown>;
    expect(reg).toMatchObject({ chainId: 31337, address: chain.registry, deploymentBlock: chain.record.block, kms: 1, anomalies: 0, allowlistEnabled: false });
    const list = JSON.parse((await raw({ path: "/api/kms" })).body) as { address: string; state: string; attestationCount: number }[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ state: "active", attestationCount: 1 });
    const one = JSON.parse((await raw({ path: `/api/kms/${list[0]!.address.toLowerCase()}` })).body) as { timeline: unknown[]; attestations: { quote: { measurements: { mrTd: string } } }[] };
    expect(one.timeline).toHaveLength(1);
    expect(one.attestations[0]!.quote.measurements.mrTd).toMatch(/^0x[0-9a-f]{96}$/);
    expect((await raw({ path: "/api/kms/0x1234" })).status).toBe(404);
    expect(JSON.parse((await raw({ path: "/api/anomalies" })).body)).toEqual([]);
    expect(JSON.parse((await raw({ path: "/api" })).body)).toHaveProperty(["/api/events"]);
    const snap = JSON.parse((await raw({ path: "/api/snapshot" })).body) as { kms: unknown[]; recent: unknown[] };
    expect(snap.kms).toHaveLength(1);
  });

  it("server-sent events: hello with the head, then a snapshot naming the new registration and its block", async () => {
    const reading = readEvents((evs) => evs.some((e) => e.event === "snapshot" && (e.data as { events: unknown[] }).events.length > 0));
    await new Promise((r) => setTimeout(r, 200));
    const r = await publish();
    const evs = await reading;
    expect(evs[0]).toMatchObject({ event: "hello", data: { head: expect.any(Number) as unknown } });
    const snap = evs.find((e) => e.event === "snapshot" && (e.data as { events: unknown[] }).events.length > 0)!.data as { head: number; events: { kind: string; block: number; kms: string }[] };
    expect(snap.events).toEqual([expect.objectContaining({ kind: "registered", block: Number(r.blockNumber) })]);
    expect(snap.head).toBeGreaterThanOrEqual(Number(r.blockNumber));
    expect(snap.events[0]!.kms.toLowerCase()).toBe(r.kms.toLowerCase());
  });

  it("bounded: only GET/HEAD, no bodies, short URLs, loopback Host only, a cap on event streams", async () => {
    expect((await raw({ method: "POST", path: "/" })).status).toBe(405);
    expect((await raw({ method: "DELETE", path: "/api/kms" })).status).toBe(405);
    expect((await raw({ method: "GET", path: "/", headers: { "content-length": "5" }, body: "hello" })).status).toBe(413);
    expect((await raw({ path: "/" + "a".repeat(3000) })).status).toBe(414);
    expect((await raw({ path: "/", headers: { host: "evil.example" } })).status).toBe(421);
    expect((await raw({ path: "/", headers: { host: `attacker.example:${server.port}` } })).status).toBe(421);
    expect((await raw({ path: "/", headers: { host: `localhost:${server.port}` } })).status).toBe(200);
    const head = await raw({ method: "HEAD", path: "/api/kms" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    // two streams allowed, the third is refused
    const open: http.ClientRequest[] = [];
    const opened = () =>
      new Promise<number>((resolve) => {
        const req = http.get({ host: "127.0.0.1", port: server.port, path: "/api/events" }, (res) => resolve(res.statusCode!));
        req.on("error", () => undefined);
        open.push(req);
      });
    expect(await opened()).toBe(200);
    expect(await opened()).toBe(200);
    expect(await opened()).toBe(503);
    for (const r of open) r.destroy();
  });
});

describe("kms-registry dashboard (CLI)", () => {
  it("refuses a non-loopback --host without --allow-remote, and a bad --explorer template", async () => {
    const base = ["dashboard", "--registry", chain.registry, "--rpc", chain.node.url, "--port", "0"];
    const remote = await runCli([...base, "--host", "0.0.0.0"]);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/--host 0\.0\.0\.0 is not a loopback address.*--allow-remote/);
    const explorer = await runCli([...base, "--explorer", "javascript:alert(1)//{tx}"]);
    expect(explorer.code).toBe(2);
    expect(explorer.stderr).toMatch(/--explorer must be an http\(s\) URL template with \{tx\}/);
    const noTx = await runCli([...base, "--explorer", "https://etherscan.io/tx/"]);
    expect(noTx.code).toBe(2);
  });

  it("--allow-remote binds as asked and warns; Ctrl-C stops it", async () => {
    const { spawn } = await import("node:child_process");
    const { BIN, REPO_ROOT } = await import("../helpers/cli.js");
    const child = spawn(process.execPath, [BIN, "dashboard", "--registry", chain.registry, "--rpc", chain.node.url, "--port", "0", "--host", "0.0.0.0", "--allow-remote"], { cwd: REPO_ROOT });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    for (let i = 0; i < 100 && !/dashboard: http/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/dashboard: http:\/\/0\.0\.0\.0:\d+\//);
    expect(err).toMatch(/WARNING: the dashboard listens on 0\.0\.0\.0, reachable from other machines/);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
