/** A KMS that goes away mid-answer: real servers on loopback that drop the connection. */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { NetworkError } from "../../src/core/errors.js";
import { getAppEnvEncryptPubKey } from "../../src/kms/client.js";
import { getKmsK256Pubkey } from "../../src/workflows/prove-liveness.js";
import { runCli } from "../helpers/cli.js";

let midBody: http.Server;
let midBodyUrl: string;
let hangup: net.Server;
let hangupUrl: string;
let html: http.Server;
let htmlUrl: string;

beforeAll(async () => {
  // Answers 200 with a JSON body announced as 100 kB, sends 30 bytes, then drops the connection.
  midBody = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": "100000" });
    res.write('{"ca_pubkey":"3059301306072a86');
    setTimeout(() => req.socket.destroy(), 20);
  });
  // Accepts the TCP connection and closes it before any HTTP answer.
  hangup = net.createServer((s) => s.destroy());
  // Answers an HTML page (an onboarding page / proxy error) instead of JSON.
  html = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>Onboarding</title>");
  });
  await Promise.all([midBody, hangup, html].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
  midBodyUrl = `http://127.0.0.1:${(midBody.address() as AddressInfo).port}`;
  hangupUrl = `http://127.0.0.1:${(hangup.address() as AddressInfo).port}`;
  htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of [midBody, html]) s.closeAllConnections();
  await Promise.all([midBody, hangup, html].map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const ARGS = ["--registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "--rpc", "http://127.0.0.1:9", "--collateral", "/nonexistent.json"];
const ENV = { KMS_REGISTRY_PRIVATE_KEY: "0x" + "11".repeat(32) };

describe("a KMS that goes away mid-pull", () => {
  it("publish: the KMS drops the connection mid-body → one clear line, exit 1, nothing sent", async () => {
    const r = await runCli(["publish", ...ARGS, "--kms", midBodyUrl, "--retries", "1"], { env: ENV });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("[publish]"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kms-registry: publish: .*127\.0\.0\.1:\d+.*(closed|reset|dropped|ended|abort|incomplete|socket hang up)/i);
    expect(r.stderr).not.toMatch(/\[publish\] (send|estimate)/);
    expect(r.stdout).toBe("");
  });

  it("publish: the KMS hangs up before answering → clear error after bounded retries", async () => {
    const r = await runCli(["publish", ...ARGS, "--kms", hangupUrl, "--retries", "2", "--json"], { env: ENV });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(j.ok).toBe(false);
    expect(j.error.message).toMatch(/127\.0\.0\.1:\d+/);
    expect(j.error.message).toMatch(/after 3 attempts/);
  });

  it("liveness client: dropped connection and HTML answers are typed NetworkErrors naming the URL", async () => {
    const appId = new Uint8Array(20).fill(1);
    for (const [url, code] of [
      [midBodyUrl, /^KMS_CONNECTION_CLOSED$/],
      [hangupUrl, /^KMS_CONNECTION_CLOSED$/],
      [htmlUrl, /^KMS_HTML_RESPONSE$/],
    ] as const) {
      const e = await getAppEnvEncryptPubKey(url, appId, { timeoutMs: 3000 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NetworkError);
      expect((e as NetworkError).code).toMatch(code);
      expect((e as NetworkError).message).toContain(url.replace("http://", ""));
    }
    const html2 = await getAppEnvEncryptPubKey(htmlUrl, appId).catch((x: unknown) => x);
    expect((html2 as Error).message).toMatch(/an HTML page/);
    const meta = await getKmsK256Pubkey(hangupUrl).catch((x: unknown) => x);
    expect(meta).toBeInstanceOf(NetworkError);
  });
});
