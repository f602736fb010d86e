/**
 * One address on every chain, on two fresh `hardhat node`s with different chain ids (31337 and 8453, Base's),
 * sending from different accounts: Ignition's `create2` strategy (CreateX, the salt of hardhat.config.ts) and
 * the plugin's `kms-registry:deploy --deterministic` (the deterministic-deployment proxy) each give the same
 * address on both chains, equal to the one computed offline; the deployment record of the Ignition deployment
 * carries what reproduces it.
 */
import { rmSync, writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createPublicClient, createWalletClient, encodeDeployData, http, keccak256, parseEther, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { planDeterministic, planVerifierDeterministic, registryInitCode } from "../../src/registry/create2.js";
import { CREATEX_FACTORY, IGNITION_CREATE2_SALT, createXAddress } from "../../src/registry/createx.js";
import { loadRegistryArtifact, loadVerifierArtifact } from "../../src/registry/deploy.js";
import { validateDeploymentRecord } from "../../src/registry/deployments.js";
import { verifierRootArgs } from "../../src/registry/verifier.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { hardhatIn, jsonOut, makePluginProject } from "../helpers/hardhat-project.js";

/** Hardhat's dev account #2 (public test data). */
const DEV_ACCOUNT_2_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a" as const;
const admin = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address;

let a: DevNode;
let b: DevNode;
let tmp: string;
const runId = `kms-det-${process.pid}-${Date.now()}`;
const ignitionDirs: string[] = [];

/** CreateX is on every major chain; a fresh non-31337 node lacks it: install it from its presigned transaction (no chain id). */
async function installCreateX(url: string): Promise<void> {
  const mod = (await import(
    pathToFileURL(path.join(REPO_ROOT, "node_modules/@nomicfoundation/ignition-core/dist/src/internal/execution/strategy/createx-artifact.js")).href
  )) as { presignedTx: Hex };
  const pc = createPublicClient({ transport: http(url) });
  const chain = { id: await pc.getChainId(), name: "dev", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [url] } } };
  const wc = createWalletClient({ account: privateKeyToAccount(HARDHAT_DEV_ACCOUNT_0_KEY), chain, transport: http(url) });
  await pc.waitForTransactionReceipt({ hash: await wc.sendTransaction({ to: "0xeD456e05CaAb11d66C4c797dD6c1D6f9A7F352b5", value: parseEther("0.4") }) });
  const r = await pc.waitForTransactionReceipt({ hash: (await pc.request({ method: "eth_sendRawTransaction", params: [mod.presignedTx] })) as Hex });
  expect(r.contractAddress?.toLowerCase()).toBe(CREATEX_FACTORY.toLowerCase());
}

beforeAll(async () => {
  [a, b] = await Promise.all([startDevNode(), startDevNode({ args: ["--chain-id", "8453"] })]);
  tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-det-"));
  writeFileSync(path.join(tmp, "params.json"), JSON.stringify({ KmsRegistryModule: { admin } }));
}, 120_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  for (const d of ignitionDirs) rmSync(d, { recursive: true, force: true });
});

const rpcEnv = (node: DevNode, key: string) => ({ KMS_REGISTRY_RPC_URL: node.url, KMS_REGISTRY_PRIVATE_KEY: key, HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "1" });

async function ignitionDeploy(node: DevNode, key: string, tag: string): Promise<{ registry: string; verifier: string }> {
  const id = `${runId}-${tag}`;
  ignitionDirs.push(path.join(REPO_ROOT, "ignition", "deployments", id));
  const r = await hardhatIn(
    REPO_ROOT,
    // the default build profile, which `npm test` has compiled (the production profile has the same settings)
    ["--build-profile", "default", "ignition", "deploy", "ignition/modules/KmsRegistry.ts", "--network", "rpc", "--strategy", "create2", "--parameters", path.join(tmp, "params.json"), "--deployment-id", id],
    rpcEnv(node, key),
    120_000,
  );
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const addresses = JSON.parse(readFileSync(path.join(REPO_ROOT, "ignition", "deployments", id, "deployed_addresses.json"), "utf8")) as Record<string, string>;
  return { registry: addresses["KmsRegistryModule#KmsRegistry"]!, verifier: addresses["KmsRegistryModule#DcapVerifier"]! };
}

describe("one address on every chain", () => {
  it("hardhat.config.ts's Ignition salt is IGNITION_CREATE2_SALT (20 zero bytes, flag 0x00)", () => {
    const config = readFileSync(path.join(REPO_ROOT, "hardhat.config.ts"), "utf8");
    expect(config).toContain(`create2: { salt: "${IGNITION_CREATE2_SALT}" }`);
    expect(IGNITION_CREATE2_SALT.slice(2, 44)).toBe("0".repeat(42));
  });

  it("Ignition --strategy create2: the same registry and verifier addresses on chain 31337 and chain 8453, from different senders, as computed offline; the record says how to reproduce them", async () => {
    await installCreateX(b.url);
    // one after the other: two Hardhat processes must not both write the build cache
    const depA = await ignitionDeploy(a, HARDHAT_DEV_ACCOUNT_1_KEY, "a");
    const depB = await ignitionDeploy(b, DEV_ACCOUNT_2_KEY, "b");
    // the salt has 20 zero bytes and flag 0x00: neither the sender nor the chain enters the addresses
    const anySender = "0x000000000000000000000000000000000000dEaD";
    const va = loadVerifierArtifact();
    const verifierInit = encodeDeployData({ abi: va.abi, bytecode: va.bytecode, args: verifierRootArgs(INTEL_SGX_ROOT_CA_DER) });
    const expectedVerifier = createXAddress(IGNITION_CREATE2_SALT, keccak256(verifierInit), anySender, 1);
    const initCodeHash = keccak256(registryInitCode(loadRegistryArtifact(), admin, expectedVerifier));
    const expected = createXAddress(IGNITION_CREATE2_SALT, initCodeHash, anySender, 1);
    expect(depA).toEqual({ registry: expected, verifier: expectedVerifier });
    expect(depB).toEqual({ registry: expected, verifier: expectedVerifier });
    const onA = depA.registry;
    const onB = depB.registry;
    const codeA = await createPublicClient({ transport: http(a.url) }).getCode({ address: onA as Hex });
    const codeB = await createPublicClient({ transport: http(b.url) }).getCode({ address: onB as Hex });
    expect(codeA).toBe(codeB);
    expect(codeA?.length).toBeGreaterThan(1000);

    const dir = path.join(tmp, "deployments");
    // recorded from a user's project with the plugin
    const r = await hardhatIn(makePluginProject(), ["kms-registry:deploy", "--network", "local", "--record", onB, "--deployments", dir, "--json"], { KMS_TEST_RPC_URL: b.url, KMS_REGISTRY_PRIVATE_KEY: DEV_ACCOUNT_2_KEY });
    expect(r.code, r.stderr).toBe(0);
    const rec = validateDeploymentRecord(JSON.parse(readFileSync(path.join(dir, "8453.json"), "utf8")));
    expect(jsonOut<{ address: string }>(r.stdout).address).toBe(expected);
    expect(rec).toMatchObject({ chainId: 8453, address: expected, admin, deployer: privateKeyToAccount(DEV_ACCOUNT_2_KEY).address });
    expect(rec.create2).toMatchObject({ factory: CREATEX_FACTORY, initCodeHash, constructorArgs: { admin, verifier: expectedVerifier } });
    expect(rec.verifier).toMatchObject({ contract: "DcapVerifier", address: expectedVerifier, intelRoot: true });
    expect(rec.create2!.createx).toMatchObject({ salt: IGNITION_CREATE2_SALT, scope: "the same address on every chain, from any sender" });
    expect(rec.create2!.createx!.reproduce).toContain("--strategy create2");
  }, 240_000);

  it("kms-registry:deploy --deterministic (CREATE2 factory, installed on the fresh chains): the same registry and verifier addresses on both", async () => {
    const verifierPlan = planVerifierDeterministic({ rootDer: INTEL_SGX_ROOT_CA_DER });
    const verifier = verifierPlan.address;
    const plan = planDeterministic({ admin, verifier });
    const project = makePluginProject();
    const run = (node: DevNode, key: string, tag: string) =>
      hardhatIn(project, ["kms-registry:deploy", "--network", "local", "--deterministic", "--install-factory", "--admin", admin, "--deployments", path.join(tmp, `arachnid-${tag}`), "--json"], { KMS_TEST_RPC_URL: node.url, KMS_REGISTRY_PRIVATE_KEY: key });
    const [ra, rb] = await Promise.all([run(a, HARDHAT_DEV_ACCOUNT_1_KEY, "a"), run(b, DEV_ACCOUNT_2_KEY, "b")]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    type Out = { address: string; chainId: number; create2: { salt: string }; verifier: { address: string; create2: { salt: string } } };
    const ja = jsonOut<Out>(ra.stdout);
    const jb = jsonOut<Out>(rb.stdout);
    expect(ja.verifier.address).toBe(verifier);
    expect(jb.verifier.address).toBe(verifier);
    expect(ja.verifier.create2.salt).toBe(jb.verifier.create2.salt);
    expect([ja.chainId, jb.chainId]).toEqual([31337, 8453]);
    expect(ja.address).toBe(plan.address);
    expect(jb.address).toBe(plan.address);
    expect(ja.create2.salt).toBe(jb.create2.salt);
  }, 120_000);
});
