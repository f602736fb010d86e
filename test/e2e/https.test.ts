/** A simulated KMS in normal mode over https (its own CA): publish and prove liveness through the CLI. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HARDHAT_DEV_ACCOUNT_0_KEY, freePort, startDevNode, stopChild, type DevNode } from "../../src/testing/devnode.js";
import { BIN, REPO_ROOT, runCli } from "../helpers/cli.js";

let sim: ChildProcess;
let node: DevNode;
let dir: string;
let kmsUrl: string;

async function tcpUp(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error("simulate-kms --https did not come up");
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "kms-registry-https-"));
  const port = await freePort();
  sim = spawn(process.execPath, [BIN, "simulate-kms", "--port", String(port), "--host", "127.0.0.1", "--certs-dir", path.join(dir, "certs"), "--auto-bootstrap", "kms.https.localhost", "--https"], {
    cwd: REPO_ROOT,
    stdio: "ignore",
  });
  kmsUrl = `https://127.0.0.1:${port}`;
  [node] = await Promise.all([startDevNode(), tcpUp(port)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([sim && stopChild(sim), node?.stop()]);
});

describe("publish and prove-liveness against a KMS over https (self-issued certificate)", () => {
  it("publishes over https and pins the liveness call's TLS to the CA key registered on chain", async () => {
    const env = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_STATE_DIR: path.join(dir, "state") };
    const deployments = path.join(dir, "deployments");
    const dep = await runCli(["deploy", "--rpc", node.url, "--deployments", deployments, "--json"], { env });
    expect(dep.code, dep.stderr).toBe(0);
    const registry = (JSON.parse(dep.stdout) as { address: string }).address;
    const sim = path.join(dir, "certs.sim");
    const pub = await runCli(
      ["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kmsUrl, "--collateral", path.join(sim, "collateral.json"), "--root-ca", path.join(sim, "dcap-root-ca.pem"), "--allow-simulated-root", "--json"],
      { env },
    );
    expect(pub.code, pub.stderr).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ status: "registered", genuine: false });
    const live = await runCli(["prove-liveness", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kmsUrl, "--json"], { env });
    expect(live.code, live.stderr).toBe(0);
    expect(live.stderr).toMatch(/pinning the KMS's TLS certificate to its registered CA key/);
    expect(JSON.parse(live.stdout)).toMatchObject({ ok: true });

    // another KMS at another URL, claimed to be the registered one: its certificate is not issued by the
    // registered CA key, so the TLS pin refuses it before anything is signed or sent
    const port2 = await freePort();
    const other = spawn(process.execPath, [BIN, "simulate-kms", "--port", String(port2), "--host", "127.0.0.1", "--certs-dir", path.join(dir, "certs2"), "--auto-bootstrap", "kms.https.localhost", "--https"], {
      cwd: REPO_ROOT,
      stdio: "ignore",
    });
    try {
      await tcpUp(port2);
      const kms = (JSON.parse(pub.stdout) as { kms: string }).kms;
      const bad = await runCli(["prove-liveness", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", `https://127.0.0.1:${port2}`, "--kms-address", kms], { env });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/TLS rejected: the server certificate .* is not signed by the pinned KMS root CA key/);
    } finally {
      await stopChild(other);
    }
  }, 180_000);
});
