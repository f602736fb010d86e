/**
 * The dashboard's view of the on-chain path, on the real DcapVerifier in Hardhat's EDR (osaka, for the
 * P-256 precompile): a forged world (its own root, so "NOT Intel's root") whose quotes bind fresh keys;
 * one KMS registered permissionlessly through `registerVerified`, then rechecked against the same
 * platform's newer collateral whose TCB level is Revoked (the KMS goes stale); one registered by the
 * registrar. The snapshot (`loadSnapshot`, built on the audit) and the rendered pages show the path, the
 * TCB status, the FMSPC, the collateral expiry, the stale state and the recheck in the timeline.
 */
import { network } from "hardhat";
import { getAddress, keccak256 } from "viem";
import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { loadSnapshot, newSourceCache } from "../../src/dashboard/source.js";
import { renderKms, renderOverview } from "../../src/dashboard/render.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { toOnChainCollateral, verifierRootArgs } from "../../src/registry/verifier.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { randomKms } from "../registry/chain-helpers.js";

const N = FORGE_DEFAULT_NOW;
const DAY = 86_400;
const SEED = "dashboard-onchain";

type Json = Record<string, unknown>;
const world = (opts: ForgeWorldOptions = {}): Promise<ForgeWorld> => createForgeWorld({ seed: SEED, now: N, ...opts });

describe("dashboard: on-chain verified registrations, rechecks and stale state", () => {
  it("shows path, root, TCB status, FMSPC, collateral expiry, the recheck and the stale state", async () => {
    const { viem } = await network.connect({ override: { hardfork: "osaka", allowUnlimitedContractSize: true, initialDate: new Date(N * 1000) } });
    const publicClient = await viem.getPublicClient();
    const [admin, anyone] = await viem.getWalletClients();
    const w = await world();
    const verifier = await viem.deployContract("DcapVerifier", verifierRootArgs(w.rootCaDer));
    const registry = await viem.deployContract("KmsRegistry", [admin!.account.address, verifier.address]);
    const asAnyone = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: anyone! } });
    const deployBlock = await publicClient.getBlockNumber();

    // permissionless on-chain registration of a KMS whose forged quote binds its keys
    const k = randomKms();
    const quote = await forgeQuote(w, { reportData: expectedKmsReportData(k.caPubkey, k.k256Pubkey) });
    const kms = getAddress(ethAddress(k.k256Pubkey));
    const col = toOnChainCollateral(quote, w.collateral);
    await publicClient.waitForTransactionReceipt({ hash: await asAnyone.write.registerVerified([bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(quote), col]) });
    // a registrar registration on the same registry
    const r = randomKms();
    await publicClient.waitForTransactionReceipt({ hash: await registry.write.register([bytesToHex(r.caPubkey), bytesToHex(r.k256Pubkey), bytesToHex(r.quote)]) });

    const opts = { publicClient: publicClient as never, registry: registry.address, fromBlock: deployBlock, deploymentSource: "--from-block" as const, now: () => N + 60 };
    const cache = newSourceCache();
    const before = await loadSnapshot(opts, cache);
    expect(before.registry.acceptedStatuses).toEqual(["UpToDate", "SWHardeningNeeded"]);
    expect(before.registry.verifier).toBe(getAddress(verifier.address));
    const v = before.kms.find((x) => x.address === kms)!;
    expect(v).toMatchObject({ state: "active", path: "on-chain", root: "other", tcbStatus: "UpToDate", tcbSource: "on-chain", fmspc: bytesToHex(w.pck.fmspc), collateralExpiry: N + 30 * DAY });
    expect(v.record).toMatchObject({ path: "on-chain", intelRoot: false, stale: false, verifiedOnChain: false, tcbEvaluationDataNumber: 17 });
    expect(v.attestations[0]!.onChain).toEqual({ tcbStatus: "UpToDate", fmspc: bytesToHex(w.pck.fmspc), collateralExpiry: N + 30 * DAY, intelRoot: false });
    expect(v.binding.ok).toBe(true);
    const reg = before.kms.find((x) => x.address === getAddress(ethAddress(r.k256Pubkey)))!;
    expect(reg).toMatchObject({ path: "registrar", tcbStatus: null, collateralExpiry: null });
    // The audit's role check also covers the permissionless registrant of `registerVerified`, who never held
    // REGISTRAR_ROLE: it is reported as registrar-lost-role (the audit's behaviour, shown as the audit shows it).
    const odd = before.kms.flatMap((x) => x.anomalies).filter((a) => !(a.kind === "registrar-lost-role" && a.kms === kms));
    expect(odd).toEqual([]);

    // Intel's newer collateral for the same platform says the quote's TCB level is Revoked: a recheck makes it stale
    const revoked = await world({
      tcbInfo: {
        tcbEvaluationDataNumber: 18,
        edit: (t: Json) => {
          (t.tcbLevels as { tcbStatus: string }[])[0]!.tcbStatus = "Revoked";
        },
      },
    });
    await publicClient.waitForTransactionReceipt({ hash: await asAnyone.write.recheck([kms, bytesToHex(quote), toOnChainCollateral(quote, revoked.collateral)]) });
    const after = await loadSnapshot(opts, cache);
    const s = after.kms.find((x) => x.address === kms)!;
    expect(s.state).toBe("stale");
    expect(s.record?.stale).toBe(true);
    expect(s.tcbStatus).toBe("Revoked");
    expect(s.timeline.map((e) => e.kind)).toEqual(["registered", "rechecked"]);
    expect(s.timeline[1]!.summary).toMatch(/rechecked by 0x[0-9a-fA-F]{40}: Revoked, collateral valid until \d{4}-\d\d-\d\d — now STALE/);

    const overview = renderOverview(after, { now: N + 60 });
    expect(overview).toContain(`<tr data-kms="${kms}">`);
    expect(overview).toMatch(new RegExp(`data-kms="${kms}">[\\s\\S]*?data-state="stale">stale<[\\s\\S]*?on-chain verified[\\s\\S]*?NOT GENUINE[\\s\\S]*?Revoked[\\s\\S]*?29 days left`));
    expect(overview).toContain("UpToDate, SWHardeningNeeded");
    const page = renderKms(after, s, { now: N + 60 });
    expect(page).toContain("On-chain verification (KmsVerifiedOnChain)");
    expect(page).toContain(bytesToHex(w.pck.fmspc));
    expect(page).toContain('data-kind="rechecked"');
    expect(keccak256(quote)).toBe(s.attestations[0]!.quoteHash);
  }, 60_000);
});
