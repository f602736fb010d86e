/**
 * End to end over real processes, real HTTP and real JSON-RPC: `simulate-kms` and `hardhat node` as child
 * processes, every step through the `kms-registry` executable.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { BIN, REPO_ROOT, runCli, type RunResult } from "../helpers/cli.js";
import { postJson, startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_DEBUG: "" };
let kms: SimKmsProcess;
let node: DevNode;
let registry: string;
let deployments: string;
let state: string;
const all: RunResult[] = [];

async function cli(args: string[], env: Record<string, string> = KEY_ENV): Promise<RunResult> {
  const r = await runCli(args, { env: { KMS_REGISTRY_STATE_DIR: state, ...env }, timeoutMs: 120_000 });
  all.push(r);
  return r;
}

async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
  const r = await fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return ((await r.json()) as { result: unknown }).result;
}

const simArgs = () => ["--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile];

beforeAll(async () => {
  [kms, node] = await Promise.all([startBootstrappedKms(), startDevNode()]);
  deployments = path.join(kms.dir, "deployments");
  state = path.join(kms.dir, "state");
}, 120_000);

afterAll(async () => {
  await Promise.all([kms?.stop(), node?.stop()]);
  // No command ever prints the signing key.
  for (const r of all) {
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_1_KEY.slice(2));
  }
});

describe("kms-registry end to end (simulate-kms + hardhat node + CLI)", () => {
  it("deploy writes deployments/local/31337.json and refuses a second deploy without --force", async () => {
    const r = await cli(["deploy", "--rpc", node.url, "--deployments", deployments, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { address: string; chainId: number; block: number; recordPath: string };
    expect(j.chainId).toBe(31337);
    expect(j.recordPath).toBe(path.join(deployments, "local", "31337.json"));
    const rec = JSON.parse(readFileSync(j.recordPath, "utf8")) as Record<string, unknown>;
    expect(rec.format).toBe("dstack-kms-registry/deployment@1");
    expect(rec.address).toBe(j.address);
    expect(rec.bytecodeHash).toMatch(/^0x[0-9a-f]{64}$/);
    registry = j.address;
    const again = await cli(["deploy", "--rpc", node.url, "--deployments", deployments]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already records a KmsRegistry.*--force/);
  }, 180_000);

  it("publish refuses the simulated quote under Intel's root, and without --allow-simulated-root", async () => {
    const intel = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms.url, "--collateral", kms.collateralFile]);
    expect(intel.code).toBe(1);
    expect(intel.stderr).toMatch(/refusing to publish: quote\.[a-z.-]+: .*not by the trusted root "CN=Intel SGX Root CA/);
    const noFlag = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms.url, ...simArgs()]);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toMatch(/NOT GENUINE.*--allow-simulated-root/);
    // only the deployment's two transactions (the DcapVerifier, then the registry): nothing was sent
    expect(await rpc("eth_getTransactionCount", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"])).toBe("0x2");
  }, 180_000);

  it("publish with --allow-simulated-root: loud NOT GENUINE warning, progress per stage, tx hash and gas; re-run is a no-op", async () => {
    const r = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms.url, ...simArgs(), "--allow-simulated-root", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE/);
    for (const stage of ["pull", "verify", "state", "estimate", "send", "wait"]) expect(r.stderr).toContain(`[publish] ${stage}:`);
    const j = JSON.parse(r.stdout) as { status: string; txHash: string; gasUsed: string; genuine: boolean };
    expect(j.status).toBe("registered");
    expect(j.genuine).toBe(false);
    expect(j.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(Number(j.gasUsed)).toBeGreaterThan(100_000);
    const again = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms.url, ...simArgs(), "--allow-simulated-root"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already registered.*no transaction sent/);
  }, 180_000);

  it("publish from a certs dir runs the operator's checklist too: a world-readable private key is refused", async () => {
    const { cpSync, chmodSync } = await import("node:fs");
    const copy = path.join(kms.dir, "certs-copy");
    cpSync(path.join(kms.dir, "certs"), copy, { recursive: true });
    chmodSync(path.join(copy, "root-k256.key"), 0o644);
    const r = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--certs-dir", copy, ...simArgs(), "--allow-simulated-root", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { ok: boolean; stage: string; checks: { name: string; ok: boolean }[] };
    expect(j).toMatchObject({ ok: false, stage: "verify" });
    expect(j.checks.filter((c) => !c.ok).map((c) => c.name).join(" ")).toMatch(/root-k256/);
    chmodSync(path.join(copy, "root-k256.key"), 0o600);
    const ok = await cli(["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--certs-dir", copy, ...simArgs(), "--allow-simulated-root", "--dry-run", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: "already-registered" });
  }, 180_000);

  it("publish refuses when the RPC serves another chain than the deployment record", async () => {
    const other = await startDevNode();
    try {
      // same registry address on a fresh chain id 31337 would match; fake a record for another chain id instead
      const { writeFileSync, mkdirSync } = await import("node:fs");
      const dir = path.join(kms.dir, "deployments-mismatch");
      mkdirSync(dir, { recursive: true });
      const rec = JSON.parse(readFileSync(path.join(deployments, "local", "31337.json"), "utf8")) as Record<string, unknown>;
      writeFileSync(path.join(dir, "11155111.json"), JSON.stringify({ ...rec, chainId: 11155111, network: "sepolia" }));
      const r = await cli(["publish", "--registry", registry, "--rpc", other.url, "--deployments", dir, "--kms", kms.url, ...simArgs(), "--allow-simulated-root"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/chain mismatch: the deployment record says registry .* on chain 11155111 .* RPC serves chain 31337/);
    } finally {
      await other.stop();
    }
  }, 180_000);

  it("prove-liveness: challenge for the current epoch → the live KMS signs → proveLiveness", async () => {
    type Proof = { appId: string; epoch: string; nonce: string; txHash: string; blockNumber: string; gasUsed: string };
    const prove = async () => {
      const r = await cli(["prove-liveness", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms.url, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/\[prove-liveness\] challenge: challenge app id 0x[0-9a-f]{40} for epoch \d+ \(block \d+\)/);
      return JSON.parse(r.stdout) as Proof;
    };
    const j = await prove();
    expect(j.appId).toMatch(/^0x[0-9a-f]{40}$/);
    expect(Number(j.gasUsed)).toBeGreaterThan(21_000);
    expect(j.nonce).toBe("0");
    // the proof was made for the epoch it landed in (or the one before)
    const landed = BigInt(j.blockNumber) / 128n;
    expect([landed, landed - 1n]).toContain(BigInt(j.epoch));
    // 300 blocks later (same timestamp, so the KMS's clock still agrees with the chain's): a new epoch, the
    // nonce moved on, a new challenge
    await rpc("hardhat_mine", ["0x12c", "0x0"]);
    const j2 = await prove();
    expect(j2.appId).not.toBe(j.appId);
    expect(j2.nonce).toBe("1");
    expect(BigInt(j2.epoch)).toBeGreaterThanOrEqual(BigInt(j.epoch) + 2n);
    expect(BigInt(j2.epoch)).toBe(BigInt(j2.blockNumber) / 128n);
  }, 180_000);

  it("prove-liveness: a KMS that answers only after two epochs have passed gets the registry's LivenessEpochTooOld, nothing is sent", async () => {
    // a real HTTP hop in front of the KMS that lets the chain run 257 blocks before it forwards the signing request
    const slow = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void (async () => {
          if (req.url?.includes("GetAppEnvEncryptPubKey")) await rpc("hardhat_mine", ["0x101", "0x0"]);
          const ans = await fetch(kms.url + req.url, { method: req.method, headers: { "content-type": "application/json" }, ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}) });
          res.writeHead(ans.status, { "content-type": ans.headers.get("content-type") ?? "application/json" });
          res.end(Buffer.from(await ans.arrayBuffer()));
        })().catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const r = await cli(["prove-liveness", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", url]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/the registry rejected proveLiveness: LivenessEpochTooOld\(\d+, \d+\)/);
      expect(r.stderr).not.toMatch(/\[prove-liveness\] send:/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  }, 180_000);

  it("check-signature: app key, env key and a derived key chain from the KMS agree off and on chain; tampering is caught by both", async () => {
    const appId = randomBytes(20).toString("hex");
    const ak = await postJson(`${kms.url}/prpc/Sim.GetAppKey?json`, { app_id: appId });
    const base = ["check-signature", "--registry", registry, "--rpc", node.url, "--app-id", appId];
    const a = await cli([...base, "--app-pubkey", String(ak.app_pubkey), "--signature", String(ak.k256_signature)]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^VALID: app-key/);
    expect(a.stdout).toMatch(/both agree/);

    const env = await postJson(`${kms.url}/prpc/KMS.GetAppEnvEncryptPubKey?json`, { app_id: appId });
    const e = await cli([...base, "--public-key", String(env.public_key), "--timestamp", String(env.timestamp), "--signature", String(env.signature_v1), "--json"]);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ ok: true, kind: "env-key", agree: true, offChain: { valid: true }, onChain: { valid: true } });

    const gk = await postJson(`${kms.url}/prpc/Sim.GetKey?json`, { app_id: appId, path: "wallet/eth", purpose: "signing" });
    const chainJson = JSON.stringify(gk.signature_chain);
    const k = await cli([...base, "--purpose", "signing", "--derived-pubkey", String(gk.public_key), "--signature-chain", chainJson, "--json"]);
    expect(k.code, k.stderr).toBe(0);
    const kj = JSON.parse(k.stdout) as { offChain: { derivedSigner: string }; onChain: { derivedSigner: string } };
    expect(kj.onChain.derivedSigner).toBe(kj.offChain.derivedSigner);
    expect(kj.onChain.derivedSigner).not.toBe("0x0000000000000000000000000000000000000000");

    // wrong purpose: both sides say invalid, they agree, exit 1
    const wrong = await cli([...base, "--purpose", "encryption", "--derived-pubkey", String(gk.public_key), "--signature-chain", chainJson]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^INVALID/);
    // a signature by an unregistered key
    const fake = String(ak.k256_signature).replace(/^(..)/, (m) => (m === "00" ? "01" : "00"));
    const f = await cli([...base, "--app-pubkey", String(ak.app_pubkey), "--signature", fake]);
    expect(f.code).toBe(1);
    // bad input: exit 2, one line
    const bad = await cli([...base, "--app-pubkey", "zz", "--signature", String(ak.k256_signature)]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    // a --registry with no contract behind it: a usage error, not an internal one
    const noCode = await cli(["check-signature", "--registry", "0x0000000000000000000000000000000000000001", "--rpc", node.url, "--app-id", appId, "--app-pubkey", String(ak.app_pubkey), "--signature", String(ak.k256_signature)]);
    expect(noCode.code).toBe(2);
    expect(noCode.stderr.trim().split("\n")).toEqual([expect.stringMatching(/no contract at 0x0000000000000000000000000000000000000001/)]);
    // a signature of the wrong length is bad input (exit 2), not an "invalid" verdict
    const short = await cli([...base, "--public-key", String(env.public_key), "--timestamp", String(env.timestamp), "--signature", String(env.signature_v1).slice(0, 128)]);
    expect(short.code).toBe(2);
    expect(short.stderr.trim().split("\n")).toEqual([expect.stringMatching(/--signature must be 65 bytes of hex, got 64/)]);
  }, 180_000);

  it("audit --reverify re-verifies every published quote from chain data alone", async () => {
    const r = await cli(["audit", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--reverify", ...simArgs(), "--json"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const j = JSON.parse(r.stdout) as { fromBlock: number; kms: { status: string; livenessProofs: unknown[]; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: unknown[] };
    const rec = JSON.parse(readFileSync(path.join(deployments, "local", "31337.json"), "utf8")) as { block: number };
    expect(j.fromBlock).toBe(rec.block);
    expect(j.anomalies).toEqual([]);
    expect(j.kms).toHaveLength(1);
    expect(j.kms[0]!.livenessProofs).toHaveLength(2);
    expect(j.kms[0]!.checks.find((c) => c.name === "reverify")).toMatchObject({ ok: true, detail: expect.stringMatching(/NOT GENUINE/) });
    // under Intel's root the simulated quote is not verifiable: an anomaly, exit 1
    const intel = await cli(["audit", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--reverify", "--collateral", kms.collateralFile, "--json"]);
    expect(intel.code).toBe(1);
    expect((JSON.parse(intel.stdout) as { anomalies: { kind: string }[] }).anomalies.map((a) => a.kind)).toEqual(["quote-not-verifiable"]);
  }, 180_000);

  it("publish killed right after sending, then re-run: no duplicate registration, nothing lost", async () => {
    // a second KMS identity: a fresh simulator process
    const kms2 = await startBootstrappedKms();
    try {
      await rpc("evm_setAutomine", [false]);
      const args = ["publish", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms2.url, "--collateral", kms2.collateralFile, "--root-ca", kms2.rootCaFile, "--allow-simulated-root"];
      const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...KEY_ENV, KMS_REGISTRY_STATE_DIR: state }, stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      const sent = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no send line: ${err}`)), 60_000);
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          const m = /\[publish\] send: sent (0x[0-9a-f]{64})/.exec(err);
          if (m) {
            clearTimeout(t);
            child.kill("SIGKILL");
            resolve(m[1]!);
          }
        });
      });
      await new Promise((r) => child.once("close", r));
      expect(await rpc("eth_getTransactionByHash", [sent])).not.toBeNull();
      // re-run while still pending; mine once the re-run is waiting
      const rerun = cli([...args, "--json"]);
      setTimeout(() => void rpc("evm_mine"), 3000);
      const r = await rerun;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/unconfirmed transaction .* from an earlier run/);
      const j = JSON.parse(r.stdout) as { status: string; txHash: string };
      expect(j.status).toBe("recovered");
      expect(j.txHash).toBe(sent);
      await rpc("evm_setAutomine", [true]);
      const third = await cli([...args, "--json"]);
      expect(JSON.parse(third.stdout)).toMatchObject({ status: "already-registered", txHash: sent });
      const audit = await cli(["audit", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--json"]);
      const aj = JSON.parse(audit.stdout) as { kms: { attestations: unknown[] }[]; anomalies: unknown[] };
      expect(aj.kms).toHaveLength(2);
      expect(aj.kms.map((k) => k.attestations.length)).toEqual([1, 1]);
      expect(aj.anomalies).toEqual([]);
      // liveness asked from the wrong KMS: its signature is checked off chain before anything is sent
      const first = (JSON.parse(audit.stdout) as { kms: { address: string; registeredAt: number }[] }).kms.sort((x, y) => x.registeredAt - y.registeredAt)[0]!.address;
      const wrong = await cli(["prove-liveness", "--registry", registry, "--rpc", node.url, "--deployments", deployments, "--kms", kms2.url, "--kms-address", first]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/signed with 0x[0-9a-fA-F]{40}, not with the registered KMS/);
      expect(wrong.stderr).not.toMatch(/\[prove-liveness\] send:/);
    } finally {
      await rpc("evm_setAutomine", [true]);
      await kms2.stop();
    }
  }, 180_000);

  it("signing key: missing or malformed is a one-line usage error that never echoes the value", async () => {
    const missing = await cli(["deploy", "--rpc", node.url, "--deployments", deployments, "--force"], { KMS_REGISTRY_PRIVATE_KEY: "" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/set KMS_REGISTRY_PRIVATE_KEY/);
    const secretish = "0x" + "ab".repeat(31) + "zz";
    const bad = await cli(["deploy", "--rpc", node.url, "--deployments", deployments, "--force"], { KMS_REGISTRY_PRIVATE_KEY: secretish });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a private key.*value not shown/);
    expect(bad.stderr).not.toContain("abab");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  }, 180_000);
});
