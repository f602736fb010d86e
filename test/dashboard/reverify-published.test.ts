/**
 * `kms-registry dashboard --collateral FILE` re-verifies a registration the way `audit --reverify` does: one that
 * published its collateral on chain (`registerVerified`) with exactly that collateral at its block time, not with
 * the file (which would give a spurious verdict mismatch when the file is newer), and one that published none
 * (`register`) with the file. A real `hardhat node` whose registry's DcapVerifier trusts a forged DCAP world's
 * root; the file is the same platform's newer collateral, in which the quote's TCB level is Revoked.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { collateralToJson } from "../../src/dcap/collateral.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { publishKms } from "../../src/registry/publish.js";
import { toOnChainCollateral } from "../../src/registry/verifier.js";
import { createForgeWorld, type ForgeWorld } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";
import type { TestChain } from "../registry/chain-helpers.js";
import { forgedKms } from "../watch/helpers.js";
import { revokedLevelWorld, startVerifiedChain } from "./history.js";
import { startDashboard } from "./process.js";

const SEED = "dashboard-published";
let chain: TestChain;
let world: ForgeWorld;
let onChainKms: `0x${string}`;
let registrarKms: `0x${string}`;
let rootFile: string;
let newerFile: string;

beforeAll(async () => {
  const now = Math.floor(Date.now() / 1000) - 120;
  world = await createForgeWorld({ seed: SEED, now });
  chain = await startVerifiedChain(world);
  // the newer collateral of the same platform: the quote's TCB level is now Revoked
  const newer = await revokedLevelWorld(SEED, now);
  rootFile = path.join(chain.tmp, "root.pem");
  newerFile = path.join(chain.tmp, "newer-collateral.json");
  writeFileSync(rootFile, world.rootCaPem);
  writeFileSync(newerFile, collateralToJson(newer.collateral));
  const k = await forgedKms(world);
  const hash = await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "registerVerified", args: [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(k.quote), toOnChainCollateral(k.quote, world.collateral)] });
  await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  onChainKms = getAddress(ethAddress(k.k256Pubkey)) as `0x${string}`;
  const r = await forgedKms(world);
  await publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: r, journalDir: `${chain.tmp}/state` });
  registrarKms = getAddress(ethAddress(r.k256Pubkey)) as `0x${string}`;
}, 60_000);

afterAll(async () => {
  await chain?.node.stop();
});

interface ApiKms {
  anomalies: { kind: string; detail: string }[];
  attestations: { checks: { name: string; ok: boolean; detail: string }[]; reverify: { ok: boolean; detail: string; status: string | null } | null }[];
}

describe("dashboard --collateral: registrations that published collateral are re-verified with it, at their block time", () => {
  it("the registerVerified one agrees with its on-chain verdict (UpToDate) despite the newer file; the register one is verified with the file (its level Revoked); audit --reverify says the same", async () => {
    const dash = await startDashboard(["--registry", chain.registry, "--rpc", chain.node.url, "--from-block", String(chain.record.block), "--port", "0", "--collateral", newerFile, "--root-ca", rootFile]);
    try {
      const get = async (kms: string) => (await (await fetch(`${dash.url}/api/kms/${kms}`)).json()) as ApiKms;
      const on = await get(onChainKms);
      expect(on.attestations[0]!.reverify).toMatchObject({ ok: true, status: "UpToDate" });
      expect(on.attestations[0]!.reverify!.detail).toMatch(/^verified: UpToDate \(NOT GENUINE: non-Intel root\) \(with the collateral published on chain, at the registration's block time \d+\)$/);
      expect(on.attestations[0]!.checks.find((c) => c.name === "on-chain-verdict")).toMatchObject({ ok: true, detail: expect.stringMatching(/agrees .*: UpToDate$/) as unknown });
      expect(on.anomalies).toEqual([]);
      const reg = await get(registrarKms);
      expect(reg.attestations[0]!.reverify).toMatchObject({ ok: false });
      expect(reg.attestations[0]!.reverify!.detail).toMatch(/^TCB_REVOKED: .*\(no collateral was published on chain for this registration \(no KmsCollateralPublished\); with --collateral, at \d+\)$/);
      expect(reg.anomalies.map((a) => a.kind)).toEqual(["quote-not-verifiable"]);
      const page = await (await fetch(`${dash.url}/kms/${onChainKms}`)).text();
      expect(page).not.toContain("verdict-mismatch");
      expect(page).toContain(`Full re-verification — <span class="badge ok">passes</span>`);
    } finally {
      dash.child.kill("SIGINT");
      expect(await dash.exited).toBe(0);
    }
    const audit = await runCli(["audit", "--registry", chain.registry, "--rpc", chain.node.url, "--from-block", String(chain.record.block), "--reverify", "--collateral", newerFile, "--root-ca", rootFile, "--json"]);
    const j = JSON.parse(audit.stdout) as { anomalies: { kind: string; kms: string }[] };
    expect(j.anomalies.map((a) => [a.kind, getAddress(a.kms)])).toEqual([["quote-not-verifiable", registrarKms]]);
  }, 60_000);
});
