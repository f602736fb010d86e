/** `kms-registry demo` (what `npm run demo` runs after building), as a real process. */
import { spawn } from "node:child_process";

import { describe, expect, it } from "vitest";

import { DemoStageError, runDemo } from "../../src/demo/run.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, freePort } from "../../src/testing/devnode.js";
import { BIN, REPO_ROOT, runCli } from "../helpers/cli.js";

async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
}

describe("kms-registry demo", () => {
  it("runs every stage, prints a summary, stops its processes and exits 0", async () => {
    const r = await runCli(["demo", "--json"], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown> & {
      kmsUrl: string;
      rpcUrl: string;
      publish: { status: string };
      republish: { status: string };
      audit: { kms: number; anomalies: number; reverified: number };
      keyChain: { valid: boolean };
      appKey: { valid: boolean };
      envKey: { valid: boolean };
      liveness: { appId: string; epoch: string };
      registry: string;
      kms: string;
      onChain: { genuine: boolean; registry: string; verifier: string; registeredBy: string; status: string; gasUsed: string; path: string; tcbStatus: string; intelRoot: boolean; isVerifiedOnChain: boolean };
    };
    expect(s.ok).toBe(true);
    expect(s.genuine).toBe(false);
    expect(s.intelRootRejects).toBe(true);
    expect(s.publish.status).toBe("registered");
    expect(s.republish.status).toBe("already-registered");
    expect([s.appKey.valid, s.envKey.valid, s.keyChain.valid]).toEqual([true, true, true]);
    expect(s.audit).toMatchObject({ kms: 1, anomalies: 0, reverified: 1 });
    // a fresh node: the proof is for liveness epoch 0 (blocks 0–127), anchored on the genesis block
    expect(s.liveness).toMatchObject({ appId: expect.stringMatching(/^0x[0-9a-f]{40}$/), epoch: "0" });
    expect(r.stderr).toMatch(/liveness proven: challenge 0x[0-9a-f]{40} \(epoch 0\)/);
    // the on-chain path: registerVerified by an account with no role, in a registry wired to a verifier under the simulated root
    expect(s.onChain).toMatchObject({ genuine: false, status: "registered", path: "on-chain", tcbStatus: "UpToDate", intelRoot: false, isVerifiedOnChain: false });
    expect(s.onChain.registry).not.toBe(s.registry);
    expect(s.onChain.registeredBy).toBe("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    expect(Number(s.onChain.gasUsed)).toBeGreaterThan(500_000);
    expect(Number(s.onChain.gasUsed)).toBeLessThan(1_500_000);
    expect(r.stderr).toMatch(/\[onchain-verify\] permissionless registerVerified: the quote verified ON CHAIN \(NOT GENUINE: simulated root\)/);
    expect(r.stderr).toMatch(/DcapVerifier at 0x[0-9a-fA-F]{40} — NOT GENUINE: its trust root is the simulated root/);
    expect(r.stderr).toMatch(/record: path on-chain, TCB status UpToDate, .*isVerifiedOnChain false/);
    for (const stage of ["start-kms", "start-node", "bootstrap", "pull", "verify", "deploy", "publish", "prove-liveness", "app-key", "env-key", "key-chain", "audit", "onchain-verify"]) {
      expect(r.stderr).toContain(`[${stage}]`);
    }
    expect(r.stderr).toMatch(/NOT GENUINE/);
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    expect(await refuses(s.kmsUrl)).toBe(true);
    expect(await refuses(s.rpcUrl)).toBe(true);
  }, 180_000);

  it("human output: a short summary on stdout", async () => {
    const r = await runCli(["demo"], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Demo complete .* every stage passed\. NOT GENUINE/);
    expect(r.stdout).toMatch(/audit +1 KMS, 2 events, 1 quote\(s\) re-verified, 0 anomalies/);
    expect(r.stdout).toMatch(/on-chain path +NOT GENUINE: simulated root — registerVerified by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \(no role\) on 0x[0-9a-fA-F]{40}: UpToDate, gas \d+, isVerifiedOnChain false/);
  }, 180_000);

  it("a stage that fails (the JSON-RPC node is unreachable) is named, and every process started is stopped", async () => {
    const lines: string[] = [];
    let nodeStopped = false;
    const deadPort = await freePort();
    const err = await runDemo({
      log: (l) => lines.push(l),
      // a "node" nobody listens on: everything up to the deploy stage works, then the chain is gone
      startNode: () => Promise.resolve({ url: `http://127.0.0.1:${deadPort}`, stop: () => Promise.resolve(void (nodeStopped = true)) }),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DemoStageError);
    expect((err as DemoStageError).stage).toBe("deploy");
    expect((err as DemoStageError).message).toMatch(/^demo failed at stage "deploy": JSON-RPC endpoint .* did not answer eth_chainId/);
    for (const stage of ["start-kms", "start-node", "bootstrap", "pull", "verify", "deploy"]) expect(lines.join("\n")).toContain(`[${stage}]`);
    expect(lines.join("\n")).not.toContain("[publish]");
    expect(nodeStopped).toBe(true);
    const kmsUrl = /simulated KMS at (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join("\n"))![1]!;
    expect(await refuses(kmsUrl)).toBe(true);
  }, 180_000);

  it("on SIGINT: stops every process it started, names the stage, exits 1", async () => {
    const child = spawn(process.execPath, [BIN, "demo"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`demo never reached the deploy stage: ${err}`)), 90_000);
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        if (!child.killed && err.includes("JSON-RPC node at") && err.includes("simulated KMS at")) {
          clearTimeout(t);
          child.kill("SIGINT");
          resolve();
        }
      });
    });
    const [code, sig] = await new Promise<[number | null, string | null]>((r) => child.once("close", (c, s) => r([c, s])));
    expect([code, sig], err).toEqual([1, null]);
    expect(err).toMatch(/interrupted/);
    expect(err).toMatch(/demo failed at stage "[a-z-]+": interrupted/);
    expect(out).toBe("");
    const kmsUrl = /simulated KMS at (http:\/\/127\.0\.0\.1:\d+)/.exec(err)![1]!;
    const rpcUrl = /JSON-RPC node at (http:\/\/127\.0\.0\.1:\d+)/.exec(err)![1]!;
    expect(await refuses(kmsUrl)).toBe(true);
    expect(await refuses(rpcUrl)).toBe(true);
  }, 180_000);
});
