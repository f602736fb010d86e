/** `npx hardhat run scripts/publish.ts` — the Hardhat users' way to publish — on Hardhat's in-process network. */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { hardhatCli } from "../../src/registry/devnode.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

let kms: SimKmsProcess;
beforeAll(async () => {
  kms = await startBootstrappedKms();
}, 60_000);
afterAll(async () => {
  await kms?.stop();
});

function hardhatRun(env: Record<string, string>, script = "scripts/publish.ts"): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [hardhatCli(), "run", script], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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
    const refused = await hardhatRun(base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to publish: .*NOT GENUINE/);
    const r = await hardhatRun({ ...base, KMS_ALLOW_SIMULATED_ROOT: "1" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE/);
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { ok: boolean; status: string; txHash: string; gasUsed: string; chainId: number };
    expect(j).toMatchObject({ ok: true, status: "registered", chainId: 31337 });
    expect(Number(j.gasUsed)).toBeGreaterThan(100_000);
  }, 120_000);

  it("scripts/deploy.ts deploys with the Ignition module and writes the deployment record", async () => {
    const dir = path.join(kms.dir, "ignition-deployments");
    const r = await hardhatRun({ KMS_REGISTRY_DEPLOYMENTS_DIR: dir }, "scripts/deploy.ts");
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { ok: boolean; address: string; block: number; recordPath: string; admin: string; deployer: string };
    expect(j.ok).toBe(true);
    expect(j.recordPath).toBe(path.join(dir, "local", "31337.json"));
    expect(j.admin).toBe(j.deployer);
    const rec = JSON.parse(readFileSync(j.recordPath, "utf8")) as { format: string; address: string };
    expect(rec).toMatchObject({ format: "dstack-kms-registry/deployment@1", address: j.address });
  }, 120_000);
});
