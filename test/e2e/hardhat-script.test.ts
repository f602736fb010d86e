/**
 * `npx hardhat run scripts/publish.ts` — the environment-variable wrapper over the plugin's `kms-registry:publish`
 * task's action, for `hardhat run` — on Hardhat's in-process network and on a configured network;
 * `scripts/deploy.ts` with the Ignition module.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { privateKeyToAccount } from "viem/accounts";

import { HARDHAT_DEV_ACCOUNT_1_KEY, hardhatCli, startDevNode } from "../../src/testing/devnode.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

let kms: SimKmsProcess;
beforeAll(async () => {
  kms = await startBootstrappedKms();
}, 60_000);
afterAll(async () => {
  await kms?.stop();
});

function hardhatRun(env: Record<string, string | undefined>, script = "scripts/publish.ts", network?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [hardhatCli(), ...(network ? ["--network", network] : []), "run", script], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("scripts/publish.ts through `hardhat run`", () => {
  it("pulls from a certs dir, verifies (NOT GENUINE, allowed explicitly), deploys on the in-process network and registers", async () => {
    const base = {
      KMS_CERTS_DIR: path.join(kms.dir, "certs"),
      KMS_COLLATERAL: kms.collateralFile,
      KMS_ROOT_CA: kms.rootCaFile,
      KMS_REGISTRY_DEPLOY: "1",
      KMS_REGISTRY_STATE_DIR: path.join(kms.dir, "hh-state"),
      KMS_REGISTRY_DEPLOYMENTS_DIR: path.join(kms.dir, "hh-deployments"),
    };
    const badAccept = await hardhatRun({ ...base, KMS_ACCEPT: "UpToDate,Fine" });
    expect(badAccept.code).toBe(2);
    expect(badAccept.stderr).toMatch(/--accept: unknown TCB status "Fine"/);
    const refused = await hardhatRun(base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to publish: .*NOT GENUINE/);
    const r = await hardhatRun({ ...base, KMS_ALLOW_SIMULATED_ROOT: "1" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE/);
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { ok: boolean; status: string; txHash: string; gasUsed: string; chainId: number };
    expect(j).toMatchObject({ ok: true, status: "registered", chainId: 31337 });
    // the in-process chain ended with the run: no record of its registry was left behind
    expect(existsSync(path.join(kms.dir, "hh-deployments", "local", "31337.json"))).toBe(false);
    expect(Number(j.gasUsed)).toBeGreaterThan(100_000);
  }, 120_000);

  it("--network sepolia: the signing key comes from Hardhat's configVariable (env here; keystore otherwise), and a missing one is named", async () => {
    // hardhat.config.ts's sepolia network (url + accounts are configVariables) pointed at a local node.
    const node = await startDevNode();
    try {
      // An empty home: no Hardhat keystore to fall back on.
      const home = mkdtempSync(path.join(os.tmpdir(), "kms-registry-hh-home-"));
      const base = {
        SEPOLIA_RPC_URL: node.url,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, ".config"),
        XDG_DATA_HOME: path.join(home, ".local", "share"),
        HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
        KMS_REGISTRY_PRIVATE_KEY: undefined,
        KMS_CERTS_DIR: path.join(kms.dir, "certs"),
        KMS_COLLATERAL: kms.collateralFile,
        KMS_ROOT_CA: kms.rootCaFile,
        KMS_ALLOW_SIMULATED_ROOT: "1",
        KMS_REGISTRY_DEPLOY: "1",
        KMS_REGISTRY_STATE_DIR: path.join(kms.dir, "hh-net-state"),
        KMS_REGISTRY_DEPLOYMENTS_DIR: path.join(kms.dir, "hh-net-deployments"),
      };
      const noKey = await hardhatRun(base, "scripts/publish.ts", "sepolia");
      expect(noKey.code, noKey.stderr).toBe(2);
      expect(noKey.stderr).toMatch(/KMS_REGISTRY_PRIVATE_KEY.*not found.*npx hardhat keystore set KMS_REGISTRY_PRIVATE_KEY/);

      const r = await hardhatRun({ ...base, KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }, "scripts/publish.ts", "sepolia");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_1_KEY.slice(2));
      const j = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { hardhatNetwork: string; status: string; txHash: string };
      expect(j).toMatchObject({ hardhatNetwork: "sepolia", status: "registered" });
      // the transaction was signed by the configured key (dev account #1), not by one of the node's accounts
      const res = await fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getTransactionByHash", params: [j.txHash] }) });
      const tx = ((await res.json()) as { result: { from: string } }).result;
      expect(tx.from.toLowerCase()).toBe(privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address.toLowerCase());
    } finally {
      await node.stop();
    }
  }, 120_000);

  it("scripts/deploy.ts deploys with the Ignition module and writes the deployment record", async () => {
    const dir = path.join(kms.dir, "ignition-deployments");
    // the devnode network (osaka, no contract size limit) while the DcapVerifier is larger than EIP-170 allows
    const r = await hardhatRun({ KMS_REGISTRY_DEPLOYMENTS_DIR: dir }, "scripts/deploy.ts", "devnode");
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { ok: boolean; address: string; block: number; recordPath: string; admin: string; deployer: string };
    expect(j.ok).toBe(true);
    expect(j.recordPath).toBe(path.join(dir, "local", "31337.json"));
    expect(j.admin).toBe(j.deployer);
    const rec = JSON.parse(readFileSync(j.recordPath, "utf8")) as { format: string; address: string; verifier: { address: string } };
    expect(rec).toMatchObject({ format: "dstack-kms-registry/deployment@1", address: j.address });
    expect(rec.verifier.address).toMatch(/^0x[0-9a-fA-F]{40}$/); // the module's DcapVerifier, read back from the registry
  }, 120_000);
});
