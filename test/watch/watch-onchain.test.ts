/**
 * `kms-registry watch` on a registry with the on-chain verifier: a real `hardhat node` (Osaka, for the P-256
 * precompile) runs a DcapVerifier whose root is a forged DCAP world's; a KMS registers through
 * `registerVerified` with its forged quote and the world's collateral, then a `recheck` with the same world's
 * collateral in which the PCK CRL revokes the KMS's PCK certificate makes it stale. The watch reports the
 * on-chain verification, warns about the record's collateral expiry, and raises the KMS gone stale.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { toOnChainCollateral } from "../../src/registry/verifier.js";
import { startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { createForgeWorld } from "../../src/testing/forge/index.js";
import type { Finding } from "../../src/watch/finding.js";
import { DEV_ENV } from "../registry/chain-helpers.js";
import { forgedKms, forgedWorld, kmsAddr, startWatch } from "./helpers.js";

let node: DevNode;
let conn: Connection;
let wallet: ReturnType<typeof walletFor>;
let registry: `0x${string}`;
let tmp: string;

beforeAll(async () => {
  node = await startDevNode();
  conn = await connect(node.url);
  wallet = walletFor(conn, accountFromEnv(DEV_ENV));
  tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-watch-onchain-"));
}, 60_000);

afterAll(async () => {
  await node?.stop();
});

async function send(hash: `0x${string}`) {
  const r = await conn.publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return r;
}

describe("watch: a registry with the on-chain verifier", () => {
  it("reports registerVerified, warns of the record's collateral expiry, and raises the KMS gone stale after a recheck", async () => {
    const { world } = await forgedWorld(tmp);
    registry = (await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, toolVersion: "test", verifier: { rootDer: world.rootCaDer } })).address;
    const w = startWatch(["--registry", registry, "--rpc", node.url, "--deployments", tmp, "--interval", "0.2", "--collateral-warn-days", "31"]);
    try {
      const k = await forgedKms(world);
      const kms = kmsAddr(k);
      const coll = toOnChainCollateral(k.quote, world.collateral);
      await send(
        await wallet.writeContract({ address: registry, abi, functionName: "registerVerified", args: [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(k.quote), coll as never] }),
      );
      const of = (fs: Finding[], kind: string) => fs.filter((f) => f.kind === kind && f.kms?.toLowerCase() === kms);
      const fs = await w.until((f) => of(f, "collateral-expiring").length === 1, "the on-chain verification and its collateral warning", 20_000);
      expect(of(fs, "registered")).toHaveLength(1);
      expect(of(fs, "verified-on-chain")).toEqual([expect.objectContaining({ severity: "warning" })]);
      expect(of(fs, "verified-on-chain")[0]!.message).toMatch(/^verified on chain: UpToDate, FMSPC [0-9a-f]{12}, collateral valid until .*NOT GENUINE/);
      expect(of(fs, "collateral-expiring")[0]!.message).toMatch(/in (29|30)\.\d days \(warning at 31 days; the registry's record\)/);
      expect(of(fs, "kms-stale")).toEqual([]);

      // Intel's (here: the forged root's) newer PCK CRL revokes the KMS's PCK certificate
      const revoked = await createForgeWorld({ seed: "watch", now: world.now, revoke: { pckLeaf: true } });
      await send(await wallet.writeContract({ address: registry, abi, functionName: "recheck", args: [kms as `0x${string}`, bytesToHex(k.quote), toOnChainCollateral(k.quote, revoked.collateral) as never] }));
      const after = await w.until((f) => of(f, "kms-stale").length === 1, "the KMS gone stale", 20_000);
      expect(of(after, "rechecked")).toEqual([expect.objectContaining({ severity: "info", message: expect.stringMatching(/, STALE$/) as unknown })]);
      expect(of(after, "kms-stale")[0]).toMatchObject({ severity: "critical" });
      expect(await conn.publicClient.readContract({ address: registry, abi, functionName: "isVerifiedOnChain", args: [kms as `0x${string}`] })).toBe(false);
      expect(await w.stop("SIGTERM")).toBe(0);
    } finally {
      await w.stop("SIGKILL");
    }
  });
});
