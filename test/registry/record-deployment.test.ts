import { parseAbi } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { recordExistingDeployment } from "../../src/registry/deploy.js";
import { validateDeploymentRecord } from "../../src/registry/deployments.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY } from "../../src/testing/devnode.js";
import { runCli } from "../helpers/cli.js";
import { startChain, type TestChain } from "./chain-helpers.js";

let chain: TestChain;
beforeAll(async () => {
  chain = await startChain();
  await chain.conn.publicClient.request({ method: "hardhat_mine" as never, params: ["0x400"] as never });
});
afterAll(async () => {
  await chain?.node.stop();
});

describe("recording a registry deployed elsewhere (Ignition, another tool)", () => {
  it("finds the creation block by bisecting history, the deploy tx, the deployer and the admin", async () => {
    const rec = await recordExistingDeployment(chain.conn.publicClient, chain.registry, { toolVersion: "test" });
    expect(validateDeploymentRecord(rec)).toBeTruthy();
    const { deployedAt: _a, ...want } = chain.record;
    const { deployedAt: _b, ...got } = rec;
    expect(got).toEqual(want);
  });

  it("uses --deploy-tx when given, and refuses an address without code or a tx that did not deploy it", async () => {
    const rec = await recordExistingDeployment(chain.conn.publicClient, chain.registry, { deployTx: chain.record.deployTx });
    expect(rec.block).toBe(chain.record.block);
    await expect(recordExistingDeployment(chain.conn.publicClient, "0x000000000000000000000000000000000000dEaD")).rejects.toThrow(/no contract at/);
    const other = await chain.wallet.sendTransaction({ to: chain.wallet.account.address, value: 1n });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash: other });
    await expect(recordExistingDeployment(chain.conn.publicClient, chain.registry, { deployTx: other })).rejects.toThrow(/did not deploy/);
    // a later transaction of the registry itself (here grantRole(DEFAULT_ADMIN_ROLE, …), which emits the same
    // RoleGranted event as the constructor) is not its deployment either
    const grant = await chain.wallet.writeContract({
      address: chain.registry,
      abi: parseAbi(["function grantRole(bytes32 role, address account)"]),
      functionName: "grantRole",
      args: [`0x${"00".repeat(32)}`, "0x000000000000000000000000000000000000bEEF"],
    });
    expect((await chain.conn.publicClient.waitForTransactionReceipt({ hash: grant })).logs.length).toBeGreaterThan(0);
    await expect(recordExistingDeployment(chain.conn.publicClient, chain.registry, { deployTx: grant })).rejects.toThrow(/did not deploy/);
  });

  it("CLI: deploy refuses an unwritable records directory before sending anything", async () => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(`${chain.tmp}/not-a-dir`, "x");
    const before = await chain.conn.publicClient.getTransactionCount({ address: chain.wallet.account.address });
    const r = await runCli(["deploy", "--rpc", chain.node.url, "--deployments", `${chain.tmp}/not-a-dir`, "--json"], {
      env: { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY },
    });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "DIR_NOT_WRITABLE" } });
    expect(r.stderr).not.toMatch(/\[deploy\] send/);
    expect(await chain.conn.publicClient.getTransactionCount({ address: chain.wallet.account.address })).toBe(before);
  });

  it("CLI: deploy from an account without funds names that cause (exit 1, nothing sent)", async () => {
    const { generatePrivateKey, privateKeyToAddress } = await import("viem/accounts");
    const key = generatePrivateKey();
    const r = await runCli(["deploy", "--rpc", chain.node.url, "--deployments", `${chain.tmp}/unfunded`, "--json"], {
      env: { KMS_REGISTRY_PRIVATE_KEY: key },
    });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(doc.error.code).toBe("DEPLOY_FAILED");
    expect(doc.error.message).toContain(`${privateKeyToAddress(key)} has no funds on chain 31337`);
    expect(r.stdout + r.stderr).not.toContain(key.slice(2));
  });

  it("CLI: deploy --record ADDR writes the record without deploying", async () => {
    const r = await runCli(["deploy", "--rpc", chain.node.url, "--record", chain.registry, "--deployments", chain.tmp, "--json"], { env: { KMS_REGISTRY_PRIVATE_KEY: "" } });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { address: string; block: number; recordPath: string };
    expect(j.address).toBe(chain.registry);
    expect(j.block).toBe(chain.record.block);
    expect(j.recordPath).toMatch(/local\/31337\.json$/);
  });
});
