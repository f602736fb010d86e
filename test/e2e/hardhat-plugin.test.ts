/**
 * The Hardhat plugin in a user's project (test/fixtures/hardhat-project: `import kmsRegistry from
 * "dstack-kms-registry/hardhat"`, resolved to the built dist/), its tasks run by `hardhat` against a real
 * `hardhat node`, signing with the configured account (a configVariable, from the environment here).
 */
import { existsSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createPublicClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { hardhatIn, jsonOut, makePluginProject } from "../helpers/hardhat-project.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

const signer = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address;

let node: DevNode;
let kms: SimKmsProcess;
let project: string;
let env: Record<string, string>;

beforeAll(async () => {
  [node, kms] = await Promise.all([startDevNode(), startBootstrappedKms()]);
  project = makePluginProject();
  env = { KMS_TEST_RPC_URL: node.url, KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY, KMS_REGISTRY_STATE_DIR: path.join(project, ".state") };
}, 120_000);
afterAll(async () => {
  await Promise.all([node?.stop(), kms?.stop()]);
});

const txFrom = async (hash: string) => {
  const c = createPublicClient({ transport: http(node.url) });
  return (await c.getTransaction({ hash: hash as `0x${string}` })).from.toLowerCase();
};

describe("dstack-kms-registry/hardhat in a Hardhat 3 project", () => {
  it("lists the tasks, a task's --help lists its typed options; without the configured key a task names the configuration variable", async () => {
    const [all, help, deploy, noKey] = await Promise.all([
      hardhatIn(project, ["--help"]),
      hardhatIn(project, ["kms-registry:publish", "--help"]),
      hardhatIn(project, ["kms-registry:deploy", "--help"]),
      hardhatIn(project, ["--network", "local", "kms-registry:deploy"], { KMS_TEST_RPC_URL: node.url }),
    ]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/Configuration Variable "KMS_REGISTRY_PRIVATE_KEY" not found.*npx hardhat keystore set KMS_REGISTRY_PRIVATE_KEY/);
    expect(noKey.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(all.code, all.stderr).toBe(0);
    for (const t of ["kms-registry:deploy", "kms-registry:publish", "kms-registry:audit"]) expect(all.stdout).toContain(t);
    expect(help.code, help.stderr).toBe(0);
    for (const o of ["--kms <STRING", "--certs-dir <STRING", "--pccs <STRING", "--collateral <STRING", "--registry <STRING", "--dry-run", "--allow-simulated-root", "--confirmations <INT>"]) {
      expect(help.stdout).toContain(o);
    }
    for (const o of ["--deterministic", "--salt <STRING", "--verify", "--explorers <STRING>", "--admin <STRING"]) expect(deploy.stdout).toContain(o);
  }, 60_000);


  it("deploy → publish (simulated KMS, refused until allowed) → audit, all signed by the configured account", async () => {
    const d = await hardhatIn(project, ["--network", "local", "kms-registry:deploy", "--json"], env);
    expect(d.code, d.stderr).toBe(0);
    const dep = jsonOut<{ address: string; deployer: string; admin: string; recordPath: string; chainId: number }>(d.stdout);
    expect(dep.recordPath).toBe(path.join(project, "deployments", "local", "31337.json"));
    expect(existsSync(dep.recordPath)).toBe(true);
    expect(dep.deployer.toLowerCase()).toBe(signer.toLowerCase());
    expect(dep.admin.toLowerCase()).toBe(signer.toLowerCase());

    const source = ["--certs-dir", path.join(kms.dir, "certs"), "--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile];
    const [again, bad, refused] = await Promise.all([
      hardhatIn(project, ["--network", "local", "kms-registry:deploy"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:publish", ...source, "--accept", "UpToDate,Fine"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:publish", ...source], env),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/USAGE: .*already records a KmsRegistry at .*--force/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--accept: unknown TCB status "Fine"/);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/refusing to publish: .*NOT GENUINE/);

    const p = await hardhatIn(project, ["--network", "local", "kms-registry:publish", ...source, "--allow-simulated-root", "--json"], env);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/WARNING: NOT GENUINE/);
    const pub = jsonOut<{ ok: boolean; status: string; txHash: string; kms: string; registry: string; genuine: boolean }>(p.stdout);
    expect(pub).toMatchObject({ ok: true, status: "registered", genuine: false });
    expect(await txFrom(pub.txHash)).toBe(signer.toLowerCase());
    expect(p.stdout + p.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_1_KEY.slice(2));

    const [idem, a, human] = await Promise.all([
      hardhatIn(project, ["--network", "local", "kms-registry:publish", ...source, "--allow-simulated-root", "--json"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:audit", "--json"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:audit"], env),
    ]);
    expect(idem.code, idem.stderr).toBe(0);
    expect(jsonOut<{ status: string }>(idem.stdout).status).toBe("already-registered");

    expect(a.code, a.stderr).toBe(0);
    const audit = jsonOut<{ registry: string; kms: { address: string; status: string }[]; anomalies: unknown[] }>(a.stdout);
    expect(audit.registry.toLowerCase()).toBe(dep.address.toLowerCase());
    expect(audit.kms).toHaveLength(1);
    expect(audit.kms[0]!.address.toLowerCase()).toBe(pub.kms.toLowerCase());
    expect(audit.kms[0]!.status).toBe("active");
    expect(audit.anomalies).toEqual([]);
    expect(human.stdout).toMatch(/1 KMS.*\n.*active/);
    expect(human.stdout).toContain("No anomalies.");
  }, 180_000);

});
