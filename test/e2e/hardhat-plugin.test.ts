/**
 * The Hardhat plugin in a user's project (test/fixtures/hardhat-project: `import kmsRegistry from
 * "dstack-kms-registry/hardhat"`, resolved to the built dist/), its tasks run by `hardhat` against a real
 * `hardhat node`, signing with the configured account (a configVariable, from the environment here).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { encodeRegisterVerified } from "../../src/registry/client.js";
import { toOnChainCollateral } from "../../src/registry/verifier.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { hardhatIn, jsonOut, makePluginProject } from "../helpers/hardhat-project.js";
import { stopPccs } from "../helpers/pccs-server.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";
import { makeSnpKdsWorld, startKds } from "./snp-kds-world.js";

const signer = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address;

let node: DevNode;
let kms: SimKmsProcess;
let project: string;
let env: Record<string, string>;

beforeAll(async () => {
  project = makePluginProject();
  // the project's `node` network: osaka (P-256 precompile) and unlimited code size for the DcapVerifier
  [node, kms] = await Promise.all([startDevNode({ cwd: project }), startBootstrappedKms()]);
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
    expect(noKey.code).toBe(2); // a usage / input error, as in the CLI
    expect(noKey.stderr).toMatch(/Configuration Variable "KMS_REGISTRY_PRIVATE_KEY" not found.*npx hardhat keystore set KMS_REGISTRY_PRIVATE_KEY/);
    expect(noKey.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(all.code, all.stderr).toBe(0);
    for (const t of ["kms-registry:deploy", "kms-registry:publish", "kms-registry:recheck", "kms-registry:audit"]) expect(all.stdout).toContain(t);
    expect(help.code, help.stderr).toBe(0);
    for (const o of ["--kms <STRING", "--certs-dir <STRING", "--pccs <STRING", "--collateral <STRING", "--registry <STRING", "--dry-run", "--allow-simulated-root", "--confirmations <INT>"]) {
      expect(help.stdout).toContain(o);
    }
    for (const o of ["--deterministic", "--salt <STRING", "--verify", "--explorers <STRING>", "--admin <STRING"]) expect(deploy.stdout).toContain(o);
  }, 60_000);


  it("deploy (with a DcapVerifier) → publish (simulated KMS, refused until allowed) → recheck on chain → audit, all signed by the configured account", async () => {
    // The verifier pins the simulator's root (development only), so the simulated KMS's quote verifies on chain.
    const d = await hardhatIn(project, ["--network", "local", "kms-registry:deploy", "--verifier-root", kms.rootCaFile, "--json"], env);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/WARNING: the DcapVerifier pins a root CA that is NOT Intel's/);
    const dep = jsonOut<{ address: string; deployer: string; admin: string; recordPath: string; chainId: number; verifier: { address: string; intelRoot: boolean } }>(d.stdout);
    expect(dep.verifier.intelRoot).toBe(false);
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
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/USAGE: .*already records a KmsRegistry at .*--force/);
    expect(bad.code).toBe(2);
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

    // recheck is for KMSs verified on chain: the registrar-path registration is refused before anything is sent
    const refusedRecheck = await hardhatIn(project, ["--network", "local", "kms-registry:recheck", "--kms", pub.kms, "--collateral", kms.collateralFile], env);
    expect(refusedRecheck.code).toBe(1);
    expect(refusedRecheck.stderr).toMatch(/RECHECK_REJECTED: the registry would reject recheck\(\): KmsNotVerifiedOnChain\(/);
    // the same KMS re-attests through the permissionless on-chain path, then the task rechecks it
    const { info } = await pullBootstrap({ certsDir: path.join(kms.dir, "certs") }, { now: Math.floor(Date.now() / 1000) });
    const collateral = parseCollateralJson(readFileSync(kms.collateralFile, "utf8"));
    const chain = { id: 31337, name: "dev", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [node.url] } } };
    const wc = createWalletClient({ account: privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY), chain, transport: http(node.url) });
    const pc = createPublicClient({ chain, transport: http(node.url) });
    const data = encodeRegisterVerified({ caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote!, collateral: toOnChainCollateral(info.quote!, collateral) });
    const reg = await pc.waitForTransactionReceipt({ hash: await wc.sendTransaction({ to: dep.address as `0x${string}`, data }) });
    expect(reg.status).toBe("success");
    const rc = await hardhatIn(project, ["--network", "local", "kms-registry:recheck", "--kms", pub.kms, "--collateral", kms.collateralFile, "--json"], env);
    expect(rc.code, rc.stderr).toBe(0);
    const re = jsonOut<{ stale: boolean; wasStale: boolean; txHash: string; tcbStatus: string; collateralExpiry: number; dryRun: boolean }>(rc.stdout);
    expect(re).toMatchObject({ stale: false, wasStale: false, dryRun: false });
    expect(re.tcbStatus).toMatch(/^(UpToDate|SWHardeningNeeded)$/);
    expect(re.collateralExpiry).toBeGreaterThan(Math.floor(Date.now() / 1000));
    expect(await txFrom(re.txHash)).toBe(signer.toLowerCase());

    const [idem, a, human, badRecheck] = await Promise.all([
      hardhatIn(project, ["--network", "local", "kms-registry:publish", ...source, "--allow-simulated-root", "--json"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:audit", "--json"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:audit"], env),
      hardhatIn(project, ["--network", "local", "kms-registry:recheck", "--kms", signer, "--collateral", kms.collateralFile], env),
    ]);
    expect(badRecheck.code).toBe(2);
    expect(badRecheck.stderr).toMatch(/KMS_NOT_REGISTERED: KMS 0x[0-9a-fA-F]{40} is not registered \(or is revoked\)/);
    expect(idem.code, idem.stderr).toBe(0);
    expect(jsonOut<{ status: string }>(idem.stdout).status).toBe("already-registered");

    expect(a.code, a.stderr).toBe(0);
    const audit = jsonOut<{ registry: string; kms: { address: string; status: string }[]; anomalies: unknown[] }>(a.stdout);
    expect(audit.registry.toLowerCase()).toBe(dep.address.toLowerCase());
    expect(audit.kms).toHaveLength(1); // registered, re-attested on chain, rechecked: one KMS
    expect(audit.kms[0]!.address.toLowerCase()).toBe(pub.kms.toLowerCase());
    expect(audit.kms[0]!.status).toBe("active");
    expect(audit.anomalies).toEqual([]);
    expect(human.stdout).toMatch(/1 KMS.*\n.*active/);
    expect(human.stdout).toContain("No anomalies.");
  }, 180_000);


  it("publish of an SEV-SNP KMS whose attestation lacks its VCEK: --kds-url fetches the VCEK, chain and CRL from a local KDS; registerSnp publishes them", async () => {
    // runs after the deploy above: the project's deployment record names the registry
    const snp = makeSnpKdsWorld(project);
    const kds = await startKds(snp);
    try {
      const args = ["--network", "local", "kms-registry:publish", "--file", snp.bootstrapFile, "--root-ca", snp.arkFile, "--allow-simulated-root", "--json"];
      // collateral is asked for only by a TDX quote
      const [tdx, refused] = await Promise.all([hardhatIn(project, ["--network", "local", "kms-registry:publish", "--certs-dir", path.join(kms.dir, "certs")], env), hardhatIn(project, args, env)]);
      expect(tdx.code, tdx.stderr).toBe(2);
      expect(tdx.stderr).toMatch(/no collateral: pass --collateral FILE .* \(the KMS's attestation is a TDX quote\)/);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/SNP_VCEK_REQUIRED: .*--kds/);
      expect(kds.total()).toBe(0);
      const p = await hardhatIn(project, [...args, "--kds-url", kds.url], { ...env, XDG_CACHE_HOME: path.join(project, ".cache") });
      expect(p.code, p.stderr).toBe(0);
      const pub = jsonOut<{ status: string; platform: string; txHash: string }>(p.stdout);
      expect(pub).toMatchObject({ status: "registered", platform: "sev-snp" });
      expect(kds.total()).toBe(3);
      expect(await txFrom(pub.txHash)).toBe(signer.toLowerCase());
    } finally {
      await stopPccs(kds);
    }
  }, 120_000);
});
