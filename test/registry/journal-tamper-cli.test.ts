/**
 * The `publish` command's exit codes for refused journals and for a KMS that is not registered afterwards:
 * the built `kms-registry` executable against `simulate-kms` and a real hardhat node.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import { encodeFunctionData, type LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Hex } from "../../src/core/bytes.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { journalPath } from "../../src/registry/publish-journal.js";
import { startBootstrappedKms, type SimKmsProcess } from "../e2e/helpers.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { DEV_ENV, startChain, type TestChain } from "./chain-helpers.js";

let kms: SimKmsProcess;
let chain: TestChain;
beforeAll(async () => {
  [kms, chain] = await Promise.all([startBootstrappedKms(), startChain()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([kms?.stop(), chain?.node.stop()]);
});

const stateDir = () => path.join(kms.dir, "state");
const publish = (...extra: string[]): Promise<RunResult> =>
  runCli(
    [
      "publish",
      "--registry",
      chain.registry,
      "--rpc",
      chain.node.url,
      "--deployments",
      path.join(kms.dir, "no-deployments"),
      "--kms",
      kms.url,
      "--collateral",
      kms.collateralFile,
      "--root-ca",
      kms.rootCaFile,
      "--allow-simulated-root",
      "--journal-dir",
      stateDir(),
      "--json",
      ...extra,
    ],
    { env: { ...DEV_ENV, KMS_REGISTRY_DEBUG: "" }, timeoutMs: 120_000 },
  );

describe("kms-registry publish: journal checks and the final isRegistered check decide the exit code", () => {
  it("a journal naming an unrelated successful transaction exits 2 (JOURNAL_MISMATCH) and is kept; a revoked KMS exits 1", async () => {
    const dry = await publish("--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    const { kms: kmsAddr, quoteHash } = JSON.parse(dry.stdout) as { kms: Hex; quoteHash: Hex };

    // An unrelated transaction from the same account that succeeded (a view function sent as a transaction).
    const account = chain.wallet.account as LocalAccount;
    const nonce = await chain.conn.publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
    const request = await chain.wallet.prepareTransactionRequest({
      to: chain.registry,
      data: encodeFunctionData({ abi: kmsRegistryAbi, functionName: "isRegistered", args: [kmsAddr] }),
      nonce,
    });
    const rawTx = await chain.wallet.signTransaction(request as never);
    const txHash = await chain.conn.publicClient.sendRawTransaction({ serializedTransaction: rawTx });
    expect((await chain.conn.publicClient.waitForTransactionReceipt({ hash: txHash })).status).toBe("success");
    const file = journalPath(stateDir(), chain.conn.chainId, chain.registry, quoteHash);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify({ format: "dstack-kms-registry/publish-journal@1", chainId: chain.conn.chainId, registry: chain.registry, kms: kmsAddr, quoteHash, from: account.address, nonce, txHash, rawTx }),
    );

    const refused = await publish();
    expect(refused.code, refused.stderr).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, error: { code: "JOURNAL_MISMATCH" } });
    expect(refused.stderr).toContain(file);
    expect(refused.stderr).toMatch(/calls isRegistered\(\), not register\(\).*remove it to publish afresh/);
    expect(existsSync(file)).toBe(true);
    expect(await chain.conn.publicClient.readContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kmsAddr] })).toBe(false);

    // Removed as the message says: a fresh publish registers.
    rmSync(file);
    const ok = await publish();
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, status: "registered", kms: kmsAddr });

    // Revoked since: the event is there, isRegistered is not; publish is not a success.
    const revoke = await chain.wallet.writeContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "revoke", args: [kmsAddr, "test"] });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash: revoke });
    const revoked = await publish();
    expect(revoked.code, revoked.stderr).toBe(1);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ ok: false, error: { code: "NOT_REGISTERED_AFTER_PUBLISH" } });
    expect(revoked.stderr).toMatch(/isRegistered\(0x[0-9a-fA-F]{40}\) is false .*revoked/);
  }, 240_000);
});
