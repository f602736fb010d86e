/**
 * KmsRegistry's on-chain path on real verification: `registerVerified` / `recheck` / `isVerifiedOnChain` with
 * the real DcapVerifier, under Intel's root with the real Intel-signed `tdx_quote` at its documented time, and
 * under a forge's root with forged worlds whose quotes bind fresh keys (TCB levels, statuses, evaluation numbers,
 * revocations and dates varied, every document correctly signed unless a test breaks it on purpose).
 *
 * `isVerifiedOnChain` requires Intel's root, which nobody outside Intel can sign a key-binding quote under: those
 * states are reached through `IntelRootForTest`, which runs the real forged-root verifier and only reports its
 * root as Intel's (every check is still the real verifier's).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { getAddress, keccak256, zeroAddress, type Address } from "viem";
import { describe, expect, it } from "vitest";

import type { Hex } from "../../src/core/bytes.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { TCB_STATUSES, type TcbStatus } from "../../src/dcap/types.js";
import { decodeRegistryLogs, readKms, REGISTRAR_ROLE } from "../../src/registry/client.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { toOnChainCollateral, VERIFIER_REASONS, VERIFIER_STEPS, verifierRootArgs, type OnChainCollateral } from "../../src/registry/verifier.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { readCollateral } from "./dcap-verifier-lib.js";
import { bindingReportData, expectRevert, hex, newKms, REAL_QUOTE, type TestKms } from "./helpers.js";

const DAY = 86_400;
const COLLATERAL_FIELDS: (keyof OnChainCollateral)[] = [
  "tcbInfoJson",
  "tcbInfoSignature",
  "qeIdentityJson",
  "qeIdentitySignature",
  "tcbSigningCert",
  "pckCaCert",
  "pckLeafCert",
  "pckCrl",
  "rootCaCrl",
  "qeIdentitySigningCert",
];
const N = FORGE_DEFAULT_NOW;
const SEED = "registry-verified";
const status = (s: TcbStatus): number => TCB_STATUSES.indexOf(s);
const step = (s: (typeof VERIFIER_STEPS)[number]): number => VERIFIER_STEPS.indexOf(s);
const reason = (r: (typeof VERIFIER_REASONS)[number]): number => VERIFIER_REASONS.indexOf(r);

type Json = Record<string, unknown>;
type Level = { tcb: { pcesvn: number }; tcbStatus: string };

/** A world of the shared seed: same root, PCK CA and PCK leaf as every other one (the certificates depend on the seed and `now` only). */
function world(opts: ForgeWorldOptions = {}): Promise<ForgeWorld> {
  return createForgeWorld({ seed: SEED, now: N, ...opts });
}

/** TCB Info options: evaluation number `n`, the quote's level (the first) given `first` status. */
function tcbInfo(n: number, first?: string, extra: { nextUpdate?: number; issueDate?: number } = {}): ForgeWorldOptions["tcbInfo"] {
  return {
    tcbEvaluationDataNumber: n,
    ...extra,
    ...(first
      ? {
          edit: (t: Json) => {
            (t.tcbLevels as Level[])[0]!.tcbStatus = first;
          },
        }
      : {}),
  };
}

/** Every document of the collateral issued at `issue`, next update `next` (certificates unchanged). */
function dated(issue: number, next: number, n: number): ForgeWorldOptions {
  return {
    tcbInfo: { tcbEvaluationDataNumber: n, issueDate: issue, nextUpdate: next },
    qeIdentity: { issueDate: issue, nextUpdate: next },
    rootCrl: { thisUpdate: issue, nextUpdate: next },
    pckCrl: { thisUpdate: issue, nextUpdate: next },
  };
}

async function chain(initialDate: number) {
  const { viem } = await network.connect({ override: { hardfork: "osaka", initialDate: new Date(initialDate * 1000) } });
  const publicClient = await viem.getPublicClient();
  const testClient = await viem.getTestClient();
  const wallets = await viem.getWalletClients();
  const anyone = wallets[5]!;
  return { viem, publicClient, testClient, admin: wallets[0]!, anyone, anyoneAddress: getAddress(anyone.account.address) };
}
type Chain = Awaited<ReturnType<typeof chain>>;

/** The real DcapVerifier under `rootDer`, optionally behind IntelRootForTest, and a registry using it. */
async function deploy(c: Chain, rootDer: Uint8Array, asIntel = false) {
  const verifier = await c.viem.deployContract("DcapVerifier", verifierRootArgs(rootDer));
  const used = asIntel ? (await c.viem.deployContract("IntelRootForTest", [verifier.address])).address : verifier.address;
  const registry = await c.viem.deployContract("KmsRegistry", [c.admin.account.address, used]);
  const asAnyone = await c.viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: c.anyone } });
  return { verifier, registry, asAnyone };
}
type Deployed = Awaited<ReturnType<typeof deploy>>;

/** A fresh KMS whose forged quote (in `w`) binds its keys. */
async function boundKms(w: ForgeWorld): Promise<TestKms> {
  const k = newKms();
  return { ...k, address: getAddress(k.address), quote: await forgeQuote(w, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey) }) };
}

const col = (k: TestKms, w: ForgeWorld): OnChainCollateral => toOnChainCollateral(k.quote, w.collateral);

async function registerVerified(c: Chain, d: Deployed, k: TestKms, w: ForgeWorld) {
  const hash = await d.asAnyone.write.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, w)]);
  const receipt = await c.publicClient.getTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

async function recheck(c: Chain, d: Deployed, k: TestKms, w: ForgeWorld) {
  const hash = await d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, w)]);
  const receipt = await c.publicClient.getTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  const ev = decodeRegistryLogs(receipt.logs).find((e) => e.eventName === "KmsRechecked");
  if (ev?.eventName !== "KmsRechecked") throw new Error("no KmsRechecked event");
  return ev.args;
}

/** Asserts that a failing call reverts with `name` and leaves the record exactly as it was. */
async function revertsUnchanged(d: Deployed, kms: Address, call: Promise<unknown>, name: string): Promise<readonly unknown[]> {
  const before = await d.registry.read.kmsInfo([kms]);
  const args = await expectRevert(call, name);
  expect(await d.registry.read.kmsInfo([kms])).toEqual(before);
  return args;
}

describe.concurrent("registerVerified under Intel's root, the real tdx_quote at its documented time", () => {
  const REAL_TIME = 1752919234;

  it("verifies the real quote on chain, then the key binding refuses it (its report_data binds no key of ours)", async () => {
    const c = await chain(REAL_TIME - 60);
    const d = await deploy(c, INTEL_SGX_ROOT_CA_DER);
    expect(await d.registry.read.verifier()).toBe(getAddress(d.verifier.address));
    const collateral = readCollateral(new URL("../fixtures/dcap/tdx_quote_collateral.json", import.meta.url));
    const k = newKms(undefined, REAL_QUOTE);
    await c.testClient.setNextBlockTimestamp({ timestamp: BigInt(REAL_TIME) });
    await c.testClient.mine({ blocks: 1 });
    // the real quote as it is: every Intel check passes (UpToDate), the binding does not
    const real = toOnChainCollateral(REAL_QUOTE, collateral);
    const args = await expectRevert(d.asAnyone.simulate.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(REAL_QUOTE), real]), "ReportDataMismatch");
    expect(args[1]).toBe(hex(REAL_QUOTE.slice(568, 600)));
    // re-bound to our keys, the quote's signature no longer verifies: Intel's checks refuse it first
    const rebound = await expectRevert(d.asAnyone.simulate.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), real]), "VerificationFailed");
    expect(rebound).toEqual([step("quote.signature"), reason("SignatureInvalid")]);
  });

  it("after the collateral's nextUpdate the verifier refuses it (Expired) before any binding check", async () => {
    const c = await chain(REAL_TIME - 60);
    const d = await deploy(c, INTEL_SGX_ROOT_CA_DER);
    const collateral = readCollateral(new URL("../fixtures/dcap/tdx_quote_collateral.json", import.meta.url));
    const tcbNext = Date.parse((JSON.parse(collateral.tcbInfo) as { nextUpdate: string }).nextUpdate) / 1000;
    await c.testClient.setNextBlockTimestamp({ timestamp: BigInt(tcbNext + 1) });
    await c.testClient.mine({ blocks: 1 });
    const k = newKms(undefined, REAL_QUOTE);
    const args = await expectRevert(
      d.asAnyone.simulate.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(REAL_QUOTE), toOnChainCollateral(REAL_QUOTE, collateral)]),
      "VerificationFailed",
    );
    expect(args[1]).toBe(reason("Expired"));
  });
});

describe.concurrent("registerVerified with forged worlds (forge root)", () => {
  it("anyone registers a KMS whose quote binds its keys: record, KmsRegistered + KmsVerifiedOnChain + KmsCollateralPublished", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer);
    const k = await boundKms(w);
    expect(await d.registry.read.hasRole([REGISTRAR_ROLE, c.anyone.account.address])).toBe(false);
    const receipt = await registerVerified(c, d, k, w);
    const events = decodeRegistryLogs(receipt.logs);
    expect(events.map((e) => e.eventName)).toEqual(["KmsRegistered", "KmsVerifiedOnChain", "KmsCollateralPublished"]);
    const [reg, verified, published] = events;
    if (reg?.eventName !== "KmsRegistered" || verified?.eventName !== "KmsVerifiedOnChain" || published?.eventName !== "KmsCollateralPublished") throw new Error("events");
    expect(reg.args.registrar).toBe(c.anyoneAddress);
    expect(reg.args.quote).toBe(hex(k.quote));
    expect(verified.args).toMatchObject({ kms: k.address, quoteHash: keccak256(k.quote), tcbStatus: status("UpToDate"), fmspc: hex(w.pck.fmspc), intelRoot: false });
    expect(verified.args.collateralExpiry).toBe(BigInt(N + 30 * DAY));
    expect(published.args.collateral).toEqual(col(k, w));
    const info = await readKms(c.publicClient, d.registry.address, k.address);
    expect(info).toMatchObject({
      active: true,
      path: "on-chain",
      intelRoot: false,
      stale: false,
      tcbStatus: "UpToDate",
      fmspc: hex(w.pck.fmspc).slice(2),
      collateralExpiry: N + 30 * DAY,
      tcbEvaluationDataNumber: 17,
      pckLeafHash: keccak256(w.certs.pckLeaf.der),
      registrar: c.anyoneAddress,
    });
    expect(await d.registry.read.isRegistered([k.address])).toBe(true);
    // not Intel's root: never "verified on chain" for a dapp
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
  });

  it("the key binding holds on this path too: a forged quote binding other keys is refused (ReportDataMismatch)", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer);
    const k = await boundKms(w);
    const other = newKms();
    await expectRevert(d.asAnyone.write.registerVerified([hex(other.caPubkey), hex(other.k256Pubkey), hex(k.quote), col(k, w)]), "ReportDataMismatch");
  });

  it("a status outside the accepted set reverts (StatusNotAccepted) until the admin accepts it (AcceptedStatusSet)", async () => {
    const c = await chain(N);
    const w = await world({ tcbInfo: tcbInfo(17, "OutOfDate") });
    const d = await deploy(c, w.rootCaDer);
    const k = await boundKms(w);
    const [s] = await expectRevert(d.asAnyone.write.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, w)]), "StatusNotAccepted");
    expect(s).toBe(status("OutOfDate"));
    await expectRevert(d.asAnyone.write.setStatusAccepted([status("OutOfDate"), true]), "AccessControlUnauthorizedAccount");
    const hash = await d.registry.write.setStatusAccepted([status("OutOfDate"), true]);
    const ev = decodeRegistryLogs((await c.publicClient.getTransactionReceipt({ hash })).logs)[0];
    expect(ev?.eventName === "AcceptedStatusSet" && ev.args).toEqual({ tcbStatus: status("OutOfDate"), accepted: true });
    expect(await d.registry.read.isStatusAccepted([status("OutOfDate")])).toBe(true);
    await registerVerified(c, d, k, w);
    expect((await readKms(c.publicClient, d.registry.address, k.address)).tcbStatus).toBe("OutOfDate");
  });

  it("the default accepted set is UpToDate and SWHardeningNeeded, announced by the constructor; Revoked can never be accepted", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer);
    const events = await c.publicClient.getContractEvents({ address: d.registry.address, abi: d.registry.abi, eventName: "AcceptedStatusSet", fromBlock: 0n });
    expect(events.map((e) => e.args)).toEqual([
      { tcbStatus: status("UpToDate"), accepted: true },
      { tcbStatus: status("SWHardeningNeeded"), accepted: true },
    ]);
    for (const [i, s] of TCB_STATUSES.entries()) expect(await d.registry.read.isStatusAccepted([i]), s).toBe(s === "UpToDate" || s === "SWHardeningNeeded");
    await expectRevert(d.registry.write.setStatusAccepted([status("Revoked"), true]), "InvalidTcbStatus");
    await expectRevert(d.registry.write.setStatusAccepted([7, true]), "InvalidTcbStatus");
    await d.registry.write.setStatusAccepted([status("UpToDate"), false]);
    expect(await d.registry.read.isStatusAccepted([status("UpToDate")])).toBe(false);
  });

  it("a registry deployed without a verifier refuses the on-chain path (NoVerifier) and keeps the registrar path", async () => {
    const c = await chain(N);
    const w = await world();
    const registry = await c.viem.deployContract("KmsRegistry", [c.admin.account.address, zeroAddress]);
    expect(await registry.read.verifier()).toBe(zeroAddress);
    const k = await boundKms(w);
    await expectRevert(registry.write.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, w)]), "NoVerifier");
    await expectRevert(registry.write.recheck([k.address, hex(k.quote), col(k, w)]), "NoVerifier");
    await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(await registry.read.isRegistered([k.address])).toBe(true);
  });
});

describe.concurrent("isVerifiedOnChain and recheck (the forged root reported as Intel's)", () => {
  it("true after registerVerified; false once the collateral expires by time; a recheck with renewed collateral makes it true again", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
    const expiry = N + 30 * DAY;
    await c.testClient.setNextBlockTimestamp({ timestamp: BigInt(expiry) });
    await c.testClient.mine({ blocks: 1 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true); // ≤ expiry
    await c.testClient.mine({ blocks: 1 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    expect(await d.registry.read.isRegistered([k.address])).toBe(true);
    // the old collateral is expired now: a recheck with it reverts and changes nothing
    const [, r] = await revertsUnchanged(d, k.address, d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, w)]), "VerificationFailed");
    expect(r).toBe(reason("Expired"));
    // renewed documents (same certificates), issued after the old ones expired
    const renewed = await world(dated(expiry - DAY, expiry + 30 * DAY, 17));
    const ev = await recheck(c, d, k, renewed);
    expect(ev).toMatchObject({ kms: k.address, by: c.anyoneAddress, tcbStatus: status("UpToDate"), collateralExpiry: BigInt(expiry + 30 * DAY), stale: false });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
  });

  it("newer collateral with a status outside the accepted set makes it stale; a later accepted one clears it", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    const outOfDate = await world({ tcbInfo: tcbInfo(18, "OutOfDate") });
    expect(await recheck(c, d, k, outOfDate)).toMatchObject({ tcbStatus: status("OutOfDate"), stale: true });
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ stale: true, tcbStatus: "OutOfDate", tcbEvaluationDataNumber: 18, active: true });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    expect(await d.registry.read.isRegistered([k.address])).toBe(true); // stale is not revoked
    // the return value says the same
    expect(await d.asAnyone.simulate.recheck([k.address, hex(k.quote), col(k, outOfDate)]).then((r) => r.result)).toBe(true);
    const upToDate = await world({ tcbInfo: tcbInfo(19) });
    expect(await recheck(c, d, k, upToDate)).toMatchObject({ tcbStatus: status("UpToDate"), stale: false });
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ stale: false, tcbStatus: "UpToDate", tcbEvaluationDataNumber: 19 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
  });

  it("the TCB level Revoked by Intel's newer TCB Info: stale and Revoked, final (KmsRevokedByIntel for later rechecks and re-attestation with the same PCK leaf)", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    const revoked = await world({ tcbInfo: tcbInfo(18, "Revoked") });
    expect(await recheck(c, d, k, revoked)).toMatchObject({ tcbStatus: status("Revoked"), stale: true });
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ stale: true, tcbStatus: "Revoked", tcbEvaluationDataNumber: 18 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    const later = await world({ tcbInfo: tcbInfo(19) });
    await revertsUnchanged(d, k.address, d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, later)]), "KmsRevokedByIntel");
    await revertsUnchanged(d, k.address, d.asAnyone.write.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, later)]), "KmsRevokedByIntel");
  });

  it("no TCB level matching any more (of the platform, the QE, the TDX module): stale, status kept; an accepted recheck clears it", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    const noLevel = await world({
      tcbInfo: {
        tcbEvaluationDataNumber: 18,
        edit: (t: Json) => {
          for (const l of t.tcbLevels as Level[]) l.tcb.pcesvn = 65535;
        },
      },
    });
    expect(await recheck(c, d, k, noLevel)).toMatchObject({ tcbStatus: status("UpToDate"), stale: true });
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ stale: true, tcbEvaluationDataNumber: 18 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    expect(await recheck(c, d, k, await world({ tcbInfo: tcbInfo(19) }))).toMatchObject({ stale: false });
    // the QE's ISVSVN below every level of Intel's newer QE Identity
    const qeNoLevel = await world({ tcbInfo: tcbInfo(19), qeIdentity: { tcbLevels: [{ isvsvn: 200, tcbStatus: "UpToDate" }] } });
    expect(await recheck(c, d, k, qeNoLevel)).toMatchObject({ stale: true });
    expect(await recheck(c, d, k, await world({ tcbInfo: tcbInfo(20) }))).toMatchObject({ stale: false });
    // the TDX module's SVN below every level of its identity
    const moduleNoLevel = await world({
      tcbInfo: {
        tcbEvaluationDataNumber: 20,
        edit: (t: Json) => {
          for (const m of t.tdxModuleIdentities as { tcbLevels: { tcb: { isvsvn: number } }[] }[]) for (const l of m.tcbLevels) l.tcb.isvsvn = 200;
        },
      },
    });
    expect(await recheck(c, d, k, moduleNoLevel)).toMatchObject({ stale: true });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
  });

  it("the registered PCK leaf revoked on a newer PCK CRL, or its CA on the root CRL: stale and Revoked", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    const crl = await world({ revoke: { pckLeaf: true }, pckCrl: { thisUpdate: N - 3600, nextUpdate: N + 30 * DAY } });
    expect(await recheck(c, d, k, crl)).toMatchObject({ tcbStatus: status("Revoked"), stale: true });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    // its PCK CA on the root CA's CRL (signed by the root): the same verdict
    const k2 = await boundKms(w);
    await registerVerified(c, d, k2, w);
    expect(await recheck(c, d, k2, await world({ revoke: { pckCa: true } }))).toMatchObject({ tcbStatus: status("Revoked"), stale: true });
  });

  it("junk can never make a KMS stale: every such recheck reverts with the verifier's error and changes nothing", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    const call = (x: ForgeWorld) => d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, x)]);
    // a "Revoked" TCB Info that is not Intel's: signed by an unrelated key, or by the PCK leaf
    const wrongKey = await world({ tcbInfo: { ...tcbInfo(18, "Revoked"), signWithWrongKey: true } });
    expect(await revertsUnchanged(d, k.address, call(wrongKey), "VerificationFailed")).toEqual([step("tcb-info.signature"), reason("SignatureInvalid")]);
    const byLeaf = await world({ tcbInfo: { ...tcbInfo(18, "Revoked"), signer: "pckLeaf" } });
    expect((await revertsUnchanged(d, k.address, call(byLeaf), "VerificationFailed"))[0]).toBe(step("tcb-info.chain"));
    // a PCK CRL listing the leaf but signed by the wrong key
    const badCrl = await world({ revoke: { pckLeaf: true }, pckCrl: { signWithWrongKey: true } });
    expect(await revertsUnchanged(d, k.address, call(badCrl), "VerificationFailed")).toEqual([step("pck.chain"), reason("SignatureInvalid")]);
    // Intel's document for another platform (FMSPC) that has no level for it
    const foreign = await world({
      tcbInfo: {
        tcbEvaluationDataNumber: 18,
        fmspc: "00906ed50000",
        edit: (t: Json) => {
          for (const l of t.tcbLevels as Level[]) l.tcb.pcesvn = 65535;
        },
      },
    });
    await revertsUnchanged(d, k.address, call(foreign), "FmspcMismatch");
    // an expired "OutOfDate" TCB Info
    const expired = await world({ tcbInfo: tcbInfo(18, "OutOfDate", { issueDate: N - 40 * DAY, nextUpdate: N - 10 * DAY }) });
    expect(await revertsUnchanged(d, k.address, call(expired), "VerificationFailed")).toEqual([step("tcb-info.validity"), reason("Expired")]);
    // a "Revoked" level in a TCB Info that is not yet valid
    const future = await world({ tcbInfo: tcbInfo(18, "Revoked", { issueDate: N + 10 * DAY, nextUpdate: N + 40 * DAY }) });
    expect(await revertsUnchanged(d, k.address, call(future), "VerificationFailed")).toEqual([step("tcb-info.validity"), reason("NotYetValid")]);
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ stale: false, tcbStatus: "UpToDate", tcbEvaluationDataNumber: 17 });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
  });

  it("a different PCK leaf, another quote, an older TCB evaluation (both with a passing and a revoking document): revert, nothing changes", async () => {
    const c = await chain(N);
    const w = await world({ tcbInfo: tcbInfo(18) });
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await registerVerified(c, d, k, w);
    // another platform's PCK leaf (another seed: another chain of certificates)
    const otherPlatform = await createForgeWorld({ seed: "another platform", now: N, revoke: { pckLeaf: true } });
    const otherQuote = await forgeQuote(otherPlatform, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    const foreignLeaf = d.asAnyone.write.recheck([k.address, hex(k.quote), toOnChainCollateral(otherQuote, otherPlatform.collateral)]);
    const [registeredLeaf, submittedLeaf] = await revertsUnchanged(d, k.address, foreignLeaf, "PckLeafMismatch");
    expect([registeredLeaf, submittedLeaf]).toEqual([keccak256(w.certs.pckLeaf.der), keccak256(otherPlatform.certs.pckLeaf.der)]);
    // another quote of the same KMS (same keys, same platform)
    const again = await forgeQuote(w, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey), mrTd: new Uint8Array(48).fill(7) });
    await revertsUnchanged(d, k.address, d.asAnyone.write.recheck([k.address, hex(again), col(k, w)]), "QuoteHashMismatch");
    // older evaluation numbers: passing (17, UpToDate) and revoking (16, Revoked), both refused
    const older = await world({ tcbInfo: tcbInfo(17) });
    expect(await revertsUnchanged(d, k.address, d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, older)]), "CollateralRollback")).toEqual([18n, 17n]);
    const olderRevoking = await world({ tcbInfo: tcbInfo(16, "Revoked") });
    expect(await revertsUnchanged(d, k.address, d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, olderRevoking)]), "CollateralRollback")).toEqual([18n, 16n]);
    // re-attesting through registerVerified may not roll back either
    await revertsUnchanged(d, k.address, d.asAnyone.write.registerVerified([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, older)]), "CollateralRollback");
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
  });

  it("recheck needs an active on-chain registration (KmsNotRegistered, KmsNotVerifiedOnChain, KmsIsRevoked)", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    await expectRevert(d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, w)]), "KmsNotRegistered");
    await d.registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    await expectRevert(d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, w)]), "KmsNotVerifiedOnChain");
    // anyone may upgrade it to the on-chain path with the same quote
    await registerVerified(c, d, k, w);
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
    await d.registry.write.revoke([k.address, "retired"]);
    await expectRevert(d.asAnyone.write.recheck([k.address, hex(k.quote), col(k, w)]), "KmsIsRevoked");
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
  });
});

describe.concurrent("registerWithCollateral (registrar path)", () => {
  it("REGISTRAR_ROLE only; registers without on-chain verification and publishes the collateral; register() after registerVerified returns the record to the registrar path", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer, true);
    const k = await boundKms(w);
    const args = [hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote), col(k, w)] as const;
    await expectRevert(d.asAnyone.write.registerWithCollateral(args), "AccessControlUnauthorizedAccount");
    const hash = await d.registry.write.registerWithCollateral(args);
    const events = decodeRegistryLogs((await c.publicClient.getTransactionReceipt({ hash })).logs);
    expect(events.map((e) => e.eventName)).toEqual(["KmsRegistered", "KmsCollateralPublished"]);
    const published = events[1];
    expect(published?.eventName === "KmsCollateralPublished" && published.args).toEqual({ kms: k.address, quoteHash: keccak256(k.quote), collateral: col(k, w) });
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ path: "registrar", tcbStatus: null, stale: false, intelRoot: false });
    expect(await d.registry.read.isRegistered([k.address])).toBe(true);
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
    // the collateral is not checked on this path: junk is published as given (the registrar vouches)
    const junk = { ...col(k, w), tcbInfoSignature: `0x${"00".repeat(64)}` as Hex };
    await d.registry.write.registerWithCollateral([args[0], args[1], args[2], junk]);
    // on chain, then back to the registrar path: the on-chain fields no longer apply
    await registerVerified(c, d, k, w);
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(true);
    await d.registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(await readKms(c.publicClient, d.registry.address, k.address)).toMatchObject({ path: "registrar", tcbStatus: null, collateralExpiry: 0, intelRoot: false });
    expect(await d.registry.read.isVerifiedOnChain([k.address])).toBe(false);
  });
});

describe.concurrent("the record's storage stays compatible with the registrar-only registry", () => {
  it("register() on a fresh KMS leaves the on-chain fields zero", async () => {
    const c = await chain(N);
    const w = await world();
    const d = await deploy(c, w.rootCaDer);
    const k = await boundKms(w);
    await d.registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    const raw = await d.registry.read.kmsInfo([k.address]);
    expect(raw).toMatchObject({ path: 0, intelRoot: false, stale: false, tcbStatus: 0, fmspc: "0x000000000000", collateralExpiry: 0n, tcbEvaluationDataNumber: 0n });
  });
});

describe("the agreed on-chain interface", () => {
  it("KmsRegistry's runtime code fits EIP-170 (24,576 bytes) with the on-chain path", () => {
    const art = JSON.parse(readFileSync(new URL("../../artifacts/contracts/KmsRegistry.sol/KmsRegistry.json", import.meta.url), "utf8")) as { deployedBytecode: string };
    expect((art.deployedBytecode.length - 2) / 2).toBeLessThanOrEqual(24_576);
  });

  it("the ABI has exactly the functions and events the other tools code against (types, mutability, indexed fields)", () => {
    const collateral = "(bytes,bytes,bytes,bytes,bytes,bytes,bytes,bytes,bytes,bytes)";
    const want = [
      "constructor(address,address)",
      "function verifier() view returns (address)",
      `function registerVerified(bytes,bytes,bytes,${collateral}) returns (address)`,
      `function registerWithCollateral(bytes,bytes,bytes,${collateral}) returns (address)`,
      `function recheck(address,bytes,${collateral}) returns (bool)`,
      "function setStatusAccepted(uint8,bool)",
      "function isStatusAccepted(uint8) view returns (bool)",
      "function isVerifiedOnChain(address) view returns (bool)",
      "function isRegistered(address) view returns (bool)",
      "event KmsVerifiedOnChain(address indexed,bytes32 indexed,uint8,bytes6,uint64,bool)",
      `event KmsCollateralPublished(address indexed,bytes32 indexed,${collateral})`,
      "event KmsRechecked(address indexed,address indexed,uint8,uint64,bool)",
      "event AcceptedStatusSet(uint8 indexed,bool)",
      "function kmsInfo(address) view returns ((bytes32,bytes32,bytes32,address,uint40,bool,uint48,uint8,bool,bool,uint8,bytes6,uint64,uint64,bytes32))",
    ];
    type P = { type: string; indexed?: boolean; components?: readonly P[] };
    const t = (p: P): string => (p.type.startsWith("tuple") ? `(${(p.components ?? []).map(t).join(",")})${p.type.slice(5)}` : p.type);
    const fmt = (x: { type: string; name?: string; inputs?: readonly P[]; outputs?: readonly P[]; stateMutability?: string }): string => {
      const ins = (x.inputs ?? []).map((p) => t(p) + (p.indexed ? " indexed" : "")).join(",");
      if (x.type !== "function") return `${x.type}${x.name ? ` ${x.name}` : ""}(${ins})`;
      const mut = x.stateMutability === "view" || x.stateMutability === "pure" ? ` ${x.stateMutability}` : "";
      const outs = (x.outputs ?? []).map(t).join(",");
      return `function ${x.name}(${ins})${mut}${outs ? ` returns (${outs})` : ""}`;
    };
    const have = new Set(kmsRegistryAbi.map((x) => fmt(x as never)));
    for (const w of want) expect(have, w).toContain(w);
    // the struct's field names are the TypeScript OnChainCollateral's keys
    const recheckAbi = kmsRegistryAbi.find((x) => x.type === "function" && x.name === "recheck") as { inputs: readonly { components?: readonly { name: string }[] }[] };
    expect(recheckAbi.inputs[2]!.components!.map((c) => c.name)).toEqual(COLLATERAL_FIELDS);
  });
});
