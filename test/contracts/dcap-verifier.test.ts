/**
 * The on-chain TDX quote verifier (contracts/dcap/DcapVerifier.sol) against the TypeScript one
 * (src/dcap/verify.ts): the same verdict, TCB status, advisory IDs and FMSPC on the real quotes with
 * their collateral, the same failing step at times just outside the collateral's windows, and the same
 * failing step on forged worlds (under the forge's root, which is not Intel's).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { getContractAddress } from "viem";
import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { parseQuote } from "../../src/dcap/quote.js";
import type { Collateral } from "../../src/dcap/types.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { chainCollateral, chainResultOutcome, readCollateral, revertData, revertStep, rootArgs, tsOutcome, type Outcome } from "./dcap-verifier-lib.js";

const { viem } = await network.connect({ override: { hardfork: "osaka" } });
const intel = await viem.deployContract("DcapVerifier", rootArgs(INTEL_SGX_ROOT_CA_DER));

type Verifier = typeof intel;

async function chainOutcome(v: Verifier, quote: Uint8Array, c: Collateral, now: number): Promise<Outcome> {
  try {
    return chainResultOutcome(await v.read.verify([bytesToHex(quote), chainCollateral(quote, c), BigInt(now)]));
  } catch (e) {
    const data = revertData(e);
    if (!data) throw e;
    return { ok: false, step: revertStep(v.abi, data) };
  }
}

const DCAP = new URL("../fixtures/dcap/", import.meta.url);
const REAL = new URL("real/", DCAP);

/** The real TDX quotes, their collateral and the verification times of the fixtures' READMEs. */
const CASES: { name: string; quote: Uint8Array; collateral: Collateral; now: number }[] = [
  { name: "tdx_quote", quote: readFileSync(new URL("tdx_quote", DCAP)), collateral: readCollateral(new URL("tdx_quote_collateral.json", DCAP)), now: 1752919234 },
  ...(
    [
      ["qvl_near_v4", 1757462400],
      ["auto_forge_v4_0625", 1749095100],
      ["gtg_v5_td15_2602", 1771980350],
    ] as const
  ).map(([name, now]) => ({ name, quote: readFileSync(new URL(`${name}.quote`, REAL)), collateral: readCollateral(new URL(`${name}.collateral.json`, REAL)), now })),
].map((c) => ({ ...c, quote: new Uint8Array(c.quote) }));

/** The TCB Info and QE Identity windows together: the later issueDate and the earlier nextUpdate. */
function windowOf(c: Collateral): { start: number; end: number } {
  const tcb = JSON.parse(c.tcbInfo) as { issueDate: string; nextUpdate: string };
  const qe = JSON.parse(c.qeIdentity) as { issueDate: string; nextUpdate: string };
  const secs = (s: string): number => Date.parse(s) / 1000;
  return { start: Math.max(secs(tcb.issueDate), secs(qe.issueDate)), end: Math.min(secs(tcb.nextUpdate), secs(qe.nextUpdate)) };
}

/** EIP-170's runtime and EIP-3860's initcode limits. */
const MAX_RUNTIME = 24_576;
const MAX_INITCODE = 49_152;

function artifactSizes(name: string): { runtime: number; initcode: number } {
  const a = JSON.parse(readFileSync(new URL(`../../artifacts/contracts/dcap/${name}.sol/${name}.json`, import.meta.url), "utf8")) as {
    bytecode: string;
    deployedBytecode: string;
  };
  return { runtime: (a.deployedBytecode.length - 2) / 2, initcode: (a.bytecode.length - 2) / 2 };
}

describe("DcapVerifier on the real quotes", () => {
  it("deploys under Intel's root: isIntelRoot", async () => {
    expect(await intel.read.isIntelRoot()).toBe(true);
  });

  it("deploys within EIP-170 and EIP-3860 (no unlimited code size): the verifier and the two helpers its constructor creates", async () => {
    const publicClient = await viem.getPublicClient();
    // the constructor creates DcapPki (nonce 1) and DcapCollateral (nonce 2)
    const deployed = [intel.address, ...[1n, 2n].map((nonce) => getContractAddress({ from: intel.address, nonce }))];
    const runtimes: number[] = [];
    for (const address of deployed) {
      const code = await publicClient.getCode({ address });
      runtimes.push(code ? (code.length - 2) / 2 : 0);
    }
    const names = ["DcapVerifier", "DcapPki", "DcapCollateral"];
    names.forEach((name, i) => {
      const a = artifactSizes(name);
      expect(runtimes[i], `${name} deployed`).toBe(a.runtime);
      expect(a.runtime, `${name} runtime`).toBeLessThanOrEqual(MAX_RUNTIME);
      // the constructor arguments (four words) follow the initcode
      expect(a.initcode + (name === "DcapCollateral" ? 0 : 128), `${name} initcode`).toBeLessThanOrEqual(MAX_INITCODE);
    });
    // DcapVerifier's initcode embeds both helpers' initcode
    expect(artifactSizes("DcapVerifier").initcode).toBeGreaterThan(artifactSizes("DcapPki").initcode + artifactSizes("DcapCollateral").initcode);
  });

  it("the real tdx_quote verifies with the same status, advisory IDs and FMSPC as verifyQuote", async () => {
    const c = CASES[0]!;
    const ts = tsOutcome(c.quote, c.collateral, c.now);
    expect(ts.ok).toBe(true);
    const chain = await chainOutcome(intel, c.quote, c.collateral, c.now);
    expect(chain).toEqual(ts);
    const r = await intel.read.verify([bytesToHex(c.quote), chainCollateral(c.quote, c.collateral), BigInt(c.now)]);
    const q = parseQuote(c.quote);
    if (q.body.type === "sgx") throw new Error("tdx_quote is a TDX quote");
    expect(r.reportData).toBe(bytesToHex(q.body.reportData));
    expect(r.mrTd).toBe(bytesToHex(q.body.mrTd));
    expect(r.rtMrs).toEqual([q.body.rtMr0, q.body.rtMr1, q.body.rtMr2, q.body.rtMr3].map((m) => bytesToHex(m)));
    expect(r.tdAttributes).toBe(bytesToHex(q.body.tdAttributes));
    expect(r.isIntelRoot).toBe(true);
    expect(r.tcbDate.length).toBeGreaterThan(0);
    expect(Number(r.earliestNextUpdate)).toBeGreaterThanOrEqual(c.now);
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s: both verifiers agree at its time and just outside its windows", async (_name, c) => {
    const ts = tsOutcome(c.quote, c.collateral, c.now);
    expect(await chainOutcome(intel, c.quote, c.collateral, c.now)).toEqual(ts);
    const w = windowOf(c.collateral);
    for (const t of [w.start - 1, w.end + 1]) {
      const outside = tsOutcome(c.quote, c.collateral, t);
      expect(outside.ok).toBe(false);
      expect(await chainOutcome(intel, c.quote, c.collateral, t)).toEqual(outside);
    }
  });
});

describe("DcapVerifier on forged worlds", () => {
  const now = FORGE_DEFAULT_NOW;
  const worlds: [string, ForgeWorldOptions, string | undefined][] = [
    ["default (accepted)", {}, undefined],
    ["TCB Info signed by the PCK leaf", { tcbInfo: { signer: "pckLeaf" } }, "tcb-info.chain"],
    ["collateral signed by the PCK CA", { collateralSigner: "pckCa" }, "tcb-info.chain"],
    ["revoked PCK leaf", { revoke: { pckLeaf: true } }, "pck.chain"],
    ["expired PCK CRL", { pckCrl: { nextUpdate: now - 60 } }, "pck.chain"],
    ["expired root CRL", { rootCrl: { nextUpdate: now - 60 } }, "root-ca.crl"],
  ];

  it.each(worlds)("%s: the same outcome in both", async (_name, opts, step) => {
    const world = await createForgeWorld({ seed: "dcap-verifier", now, ...opts });
    const forged = await viem.deployContract("DcapVerifier", rootArgs(world.rootCaDer));
    expect(await forged.read.isIntelRoot()).toBe(false);
    const quote = await forgeQuote(world, {});
    const ts = tsOutcome(quote, world.collateral, now, world.rootCaDer);
    if (step) expect(ts).toEqual({ ok: false, step });
    else expect(ts.ok).toBe(true);
    expect(await chainOutcome(forged, quote, world.collateral, now)).toEqual(ts);
    // under Intel's root the forged quote fails in both
    const underIntel = await chainOutcome(intel, quote, world.collateral, now);
    expect(underIntel.ok).toBe(false);
  });

  it.each(["pckLeaf", "pckCa", "root", "other"] as const)(
    "only the QE Identity signed by the wrong signer (%s): both fail at qe-identity.chain, and the collateral names that signer",
    async (signer) => {
      const world = await createForgeWorld({ seed: `dcap-verifier-qe-${signer}`, now, qeIdentity: { signer } });
      const forged = await viem.deployContract("DcapVerifier", rootArgs(world.rootCaDer));
      const quote = await forgeQuote(world, {});
      const ts = tsOutcome(quote, world.collateral, now, world.rootCaDer);
      expect(ts).toEqual({ ok: false, step: "qe-identity.chain" });
      const c = chainCollateral(quote, world.collateral);
      // the TCB Info keeps the TCB Signing certificate; the QE Identity's signer is passed on its own
      expect(c.qeIdentitySigningCert).not.toBe("0x");
      expect(c.qeIdentitySigningCert).not.toBe(c.tcbSigningCert);
      expect(await chainOutcome(forged, quote, world.collateral, now)).toEqual(ts);
    },
  );

  it("a QE Identity signing certificate equal to the TCB Info's, passed explicitly, verifies as the empty field does", async () => {
    const world = await createForgeWorld({ seed: "dcap-verifier", now });
    const forged = await viem.deployContract("DcapVerifier", rootArgs(world.rootCaDer));
    const quote = await forgeQuote(world, {});
    const c = chainCollateral(quote, world.collateral);
    expect(c.qeIdentitySigningCert).toBe("0x");
    const implicit = await forged.read.verify([bytesToHex(quote), c, BigInt(now)]);
    const explicit = await forged.read.verify([bytesToHex(quote), { ...c, qeIdentitySigningCert: c.tcbSigningCert }, BigInt(now)]);
    expect(explicit).toEqual(implicit);
    // a QE Identity signer other than the one that signed it fails the signature step
    const world2 = await createForgeWorld({ seed: "dcap-verifier-qe-other", now, qeIdentity: { signer: "other" } });
    const c2 = chainCollateral(quote, world2.collateral);
    expect(await chainOutcome(forged, quote, world.collateral, now)).toMatchObject({ ok: true });
    let step: string | undefined;
    try {
      await forged.read.verify([bytesToHex(quote), { ...c, qeIdentitySigningCert: c2.tcbSigningCert }, BigInt(now)]);
    } catch (e) {
      const data = revertData(e);
      step = data ? revertStep(forged.abi, data) : undefined;
    }
    // world2's TCB Signing certificate is issued by world2's root, not this world's
    expect(step).toBe("qe-identity.chain");
  });

  it("a DEBUG TD fails report.policy in both", async () => {
    const world = await createForgeWorld({ seed: "dcap-verifier", now });
    const forged = await viem.deployContract("DcapVerifier", rootArgs(world.rootCaDer));
    for (const [attrs, step] of [
      ["0100001000000000", "report.policy"],
      ["0000000000000000", "report.policy"],
      ["0000001000000080", undefined],
    ] as const) {
      const quote = await forgeQuote(world, { tdAttributes: attrs });
      const ts = tsOutcome(quote, world.collateral, now, world.rootCaDer);
      if (step) expect(ts).toEqual({ ok: false, step });
      else expect(ts.ok).toBe(true);
      expect(await chainOutcome(forged, quote, world.collateral, now)).toEqual(ts);
    }
  });
});
