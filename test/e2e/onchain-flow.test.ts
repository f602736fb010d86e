/**
 * The on-chain-verified path end to end, every step through the `kms-registry` executable against real
 * processes: `simulate-kms` (a KMS whose quote verifies under the simulator's root) and a real `hardhat node`
 * (hardfork osaka, unlimited code size) with a DcapVerifier deployed under that root and a KmsRegistry using it.
 * `publish --on-chain` registers through the permissionless `registerVerified` from an account without
 * REGISTRAR_ROLE; `recheck` reads the quote back from the event and re-verifies it on chain.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { REGISTRAR_ROLE, readKms, readVerifiedOnChain } from "../../src/registry/client.js";
import { connect, walletFor } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { deployVerifier } from "../../src/registry/onchain-verify.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

/** Account #1 holds no role on the registry: the on-chain path needs none. */
const NO_ROLE_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY, KMS_REGISTRY_DEBUG: "" };
const NO_ROLE = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address;

let kms: SimKmsProcess;
let node: DevNode;
let registry: string;
let kmsAddress: string;
let state: string;
const all: RunResult[] = [];

async function cli(args: string[], env: Record<string, string> = NO_ROLE_ENV): Promise<RunResult> {
  const r = await runCli(args, { env: { KMS_REGISTRY_STATE_DIR: state, ...env }, timeoutMs: 120_000 });
  all.push(r);
  return r;
}
const simArgs = () => ["--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile, "--allow-simulated-root"];

beforeAll(async () => {
  [kms, node] = await Promise.all([startBootstrappedKms(), startDevNode()]);
  state = path.join(kms.dir, "state");
  const conn = await connect(node.url, { pollingIntervalMs: 50 });
  const admin = walletFor(conn, privateKeyToAccount(HARDHAT_DEV_ACCOUNT_0_KEY));
  const verifier = await deployVerifier(conn.publicClient, admin, certificateDerFromFile(readFileSync(kms.rootCaFile), "sim root"));
  const rec = await deployRegistry({ publicClient: conn.publicClient, walletClient: admin, verifier: { address: verifier } });
  registry = rec.address;
  expect(await conn.publicClient.readContract({ address: rec.address, abi: kmsRegistryAbi, functionName: "hasRole", args: [REGISTRAR_ROLE, NO_ROLE] })).toBe(false);
}, 120_000);

afterAll(async () => {
  await Promise.all([kms?.stop(), node?.stop()]);
  for (const r of all) {
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_1_KEY.slice(2));
  }
});

describe("publish --on-chain and recheck (simulate-kms + hardhat node + CLI)", () => {
  it("publish --on-chain --dry-run shows the gas of registerVerified and sends nothing", async () => {
    const r = await cli(["publish", "--registry", registry, "--rpc", node.url, "--kms", kms.url, ...simArgs(), "--on-chain", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { status: string; estimatedGas: string; kms: string; onChain?: unknown };
    expect(j.status).toBe("dry-run");
    expect(Number(j.estimatedGas)).toBeGreaterThan(500_000);
    expect(r.stderr).toMatch(/\[publish\] estimate: registerVerified\(\) for 0x[0-9a-fA-F]{40} \(new registration\) needs about \d+ gas/);
    expect(j.onChain).toBeUndefined();
    kmsAddress = j.kms;
    const conn = await connect(node.url);
    expect((await readKms(conn.publicClient, registry as `0x${string}`, kmsAddress as `0x${string}`)).registered).toBe(false);
  }, 120_000);

  it("publish --on-chain from an account without REGISTRAR_ROLE registers, verified on chain (NOT GENUINE root: not isVerifiedOnChain)", async () => {
    const r = await cli(["publish", "--registry", registry, "--rpc", node.url, "--kms", kms.url, ...simArgs(), "--on-chain", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE/);
    const j = JSON.parse(r.stdout) as { status: string; gasUsed: string; onChain: { path: string; tcbStatus: string; intelRoot: boolean; stale: boolean; isVerifiedOnChain: boolean; collateralExpiry: number } };
    expect(j.status).toBe("registered");
    expect(Number(j.gasUsed)).toBeGreaterThan(500_000);
    expect(j.onChain).toMatchObject({ path: "on-chain", tcbStatus: "UpToDate", intelRoot: false, stale: false, isVerifiedOnChain: false });
    expect(j.onChain.collateralExpiry).toBeGreaterThan(Date.now() / 1000);
    const conn = await connect(node.url);
    const k = await readKms(conn.publicClient, registry as `0x${string}`, kmsAddress as `0x${string}`);
    expect(k.active).toBe(true);
    expect(k.registrar).toBe(NO_ROLE);
    expect(await readVerifiedOnChain(conn.publicClient, registry as `0x${string}`, kmsAddress as `0x${string}`)).toBe(false);
    // human output of a re-run: already registered, no transaction
    const again = await cli(["publish", "--registry", registry, "--rpc", node.url, "--kms", kms.url, ...simArgs(), "--on-chain"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already registered.*no transaction sent/);
    expect(again.stdout).toMatch(/^ {2}on chain: path on-chain, TCB status UpToDate, FMSPC [0-9A-F]{12}, collateral until \d{4}-/m);
    expect(again.stdout).toMatch(/^ {2}isVerifiedOnChain: false \(the registry's verifier root is not Intel's/m);
  }, 120_000);

  it("recheck --dry-run without a key: the quote read from the event, the gas, not stale, nothing sent", async () => {
    const r = await cli(["recheck", "--registry", registry, "--kms", kmsAddress, "--rpc", node.url, "--collateral", kms.collateralFile, "--dry-run", "--json"], { KMS_REGISTRY_DEBUG: "" });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { dryRun: boolean; stale: boolean; estimatedGas: string; registeredIn: string; txHash?: string; before: { path: string } };
    expect(j).toMatchObject({ dryRun: true, stale: false, before: { path: "on-chain" } });
    expect(j.registeredIn).toMatch(/^0x[0-9a-f]{64}$/);
    expect(j.txHash).toBeUndefined();
    expect(Number(j.estimatedGas)).toBeGreaterThan(300_000);
    expect(r.stderr).toMatch(/\[recheck\] estimate: recheck\(\) for .* needs about \d+ gas; the KMS would pass/);
  }, 120_000);

  it("recheck sends from an account without a role: the record is re-verified, not stale", async () => {
    const r = await cli(["recheck", "--registry", registry, "--kms", kmsAddress, "--rpc", node.url, "--collateral", kms.collateralFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rechecked KMS 0x[0-9a-fA-F]{40}: not stale; tx 0x[0-9a-f]{64} in block \d+, gas used \d+$/m);
    expect(r.stdout).toMatch(/^ {2}after: {2}path on-chain, TCB status UpToDate, not stale/m);
  }, 120_000);

  it("recheck with collateral that does not verify the quote is refused by the chain (exit 1, nothing changes)", async () => {
    const real = new URL("../fixtures/dcap/tdx_quote_collateral.json", import.meta.url).pathname;
    const r = await cli(["recheck", "--registry", registry, "--kms", kmsAddress, "--rpc", node.url, "--collateral", real]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the registry would reject recheck\(\): [A-Za-z]+\(/);
  }, 120_000);

  it("recheck of an unregistered KMS, and without a key: named errors", async () => {
    const none = await cli(["recheck", "--registry", registry, "--kms", "0x000000000000000000000000000000000000dEaD", "--rpc", node.url, "--collateral", kms.collateralFile, "--dry-run"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/is not registered \(or is revoked\).*nothing to recheck/);
    const noKey = await cli(["recheck", "--registry", registry, "--kms", kmsAddress, "--rpc", node.url, "--collateral", kms.collateralFile], { KMS_REGISTRY_DEBUG: "" });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/KMS_REGISTRY_PRIVATE_KEY/);
    const noColl = await cli(["recheck", "--registry", registry, "--kms", kmsAddress, "--rpc", node.url, "--dry-run"]);
    expect(noColl.code).toBe(2);
    expect(noColl.stderr).toMatch(/no collateral was supplied/);
  }, 120_000);
});
