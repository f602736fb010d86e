/** `kms-registry deploy` with the on-chain verifier, on a real `hardhat node`: deployed first (Intel's root or another), reused, or left out. */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { getAddress, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { toPem } from "../../src/dcap/x509.js";
import { connect, type Connection } from "../../src/registry/connect.js";
import { readDeploymentFile } from "../../src/registry/deployments.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { createForgeWorld } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";

const env = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY };
let node: DevNode;
let conn: Connection;
let dir: string;

beforeAll(async () => {
  node = await startDevNode();
  conn = await connect(node.url);
  dir = mkdtempSync(path.join(os.tmpdir(), "deploy-verifier-"));
}, 60_000);
afterAll(async () => {
  await node?.stop();
});

async function deploy(...extra: string[]) {
  const r = await runCli(["deploy", "--rpc", node.url, "--deployments", dir, "--force", "--json", ...extra], { env });
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { address: `0x${string}`; recordPath: string };
  const rec = await readDeploymentFile(doc.recordPath);
  const onChain = await conn.publicClient.readContract({ address: doc.address, abi: kmsRegistryAbi, functionName: "verifier" });
  return { rec, onChain };
}

describe("deploy and the DcapVerifier", () => {
  it("by default deploys a DcapVerifier under Intel's root first and builds the registry with it; the record lists both", async () => {
    const { rec, onChain } = await deploy();
    expect(rec.verifier).toMatchObject({ contract: "DcapVerifier", intelRoot: true });
    expect(rec.verifier!.deployTx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(onChain).toBe(getAddress(rec.verifier!.address));
    // --verifier ADDR reuses it: nothing deployed for it, the record says so (no deployTx)
    const reused = await deploy("--verifier", rec.verifier!.address);
    expect(reused.onChain).toBe(getAddress(rec.verifier!.address));
    expect(reused.rec.verifier).toMatchObject({ address: rec.verifier!.address, intelRoot: true });
    expect(reused.rec.verifier!.deployTx).toBeUndefined();
    expect(reused.rec.address).not.toBe(rec.address);
  }, 60_000);

  it("--verifier-root FILE deploys one under another root (not Intel's); --no-verifier a registrar-only registry", async () => {
    const world = await createForgeWorld({ seed: "deploy-verifier" });
    const rootFile = path.join(dir, "root.pem");
    writeFileSync(rootFile, toPem(world.rootCaDer));
    const simulated = await deploy("--verifier-root", rootFile);
    expect(simulated.rec.verifier).toMatchObject({ intelRoot: false });
    const human = await runCli(["deploy", "--rpc", node.url, "--deployments", dir, "--force", "--verifier-root", rootFile], { env });
    expect(human.stdout).toMatch(/verifier DcapVerifier 0x[0-9a-fA-F]{40} \(NOT Intel's root/);
    const none = await deploy("--no-verifier");
    expect(none.rec.verifier).toBeUndefined();
    expect(none.onChain).toBe(zeroAddress);
  }, 60_000);

  it("refuses conflicting verifier options and a verifier address without a DcapVerifier", async () => {
    const both = await runCli(["deploy", "--rpc", node.url, "--deployments", dir, "--no-verifier", "--verifier", zeroAddress], { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--verifier, --verifier-root and --no-verifier exclude each other");
    const record = await runCli(["deploy", "--rpc", node.url, "--deployments", dir, "--record", zeroAddress, "--no-verifier"], { env });
    expect(record.code).toBe(2);
    expect(record.stderr).toContain("--record reads the registry's verifier from the chain");
    const nothing = await runCli(["deploy", "--rpc", node.url, "--deployments", dir, "--force", "--verifier", "0x000000000000000000000000000000000000dEaD"], { env });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("no contract at verifier address");
  }, 60_000);
});
