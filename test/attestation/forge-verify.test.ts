/**
 * Every TCB status and every rejection path of the verifier, each with a correctly re-signed
 * synthetic DCAP world from the forge (not byte flips): the data is valid in every respect except
 * the one under test, so each case shows the verifier catching exactly that.
 */
import { readFile } from "node:fs/promises";

import { describe, expect, it } from "vitest";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import {
  createForgeWorld,
  forgeQuote,
  type ForgeQuoteOptions,
  type ForgeTcbLevel,
  type ForgeWorld,
  type ForgeWorldOptions,
} from "../../src/testing/forge/index.js";
import type { Collateral, VerifiedQuote } from "../../src/dcap/types.js";
import { checkQuote, verifyQuote, type VerifyOptions } from "../../src/dcap/verify.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);

/** The forge's default platform: CPUSVN, PCESVN and TEE_TCB_SVN (module SVN 6, major version 1). */
const CPU = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const PCESVN = 11;
const TEE = [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

function level(tcbStatus: string, advisoryIDs?: string[], over: Partial<ForgeTcbLevel> = {}): ForgeTcbLevel {
  return { sgx: CPU, pcesvn: PCESVN, tdx: TEE, tcbStatus, ...(advisoryIDs ? { advisoryIDs } : {}), ...over };
}

interface Case {
  world?: ForgeWorldOptions;
  quote?: ForgeQuoteOptions;
  verify?: Partial<VerifyOptions>;
  collateral?: (c: Collateral, w: ForgeWorld) => Collateral;
  /** verify at this time instead of the world's */
  at?: (w: ForgeWorld) => number;
  /** trust the forged root (default true) */
  trustForgedRoot?: boolean;
}

async function run(c: Case = {}): Promise<ReturnType<typeof checkQuote> & { world: ForgeWorld; quote: Uint8Array }> {
  const world = await createForgeWorld({ seed: "forge-verify", ...c.world });
  const quote = await forgeQuote(world, c.quote);
  const collateral = c.collateral ? c.collateral(world.collateral, world) : world.collateral;
  const opts: VerifyOptions = {
    collateral,
    now: c.at ? c.at(world) : world.now,
    ...(c.trustForgedRoot === false ? {} : { rootCaDer: world.rootCaDer }),
    ...c.verify,
  };
  return { ...checkQuote(quote, opts), world, quote };
}

async function ok(c: Case = {}): Promise<VerifiedQuote> {
  const r = await run(c);
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r.result;
}

async function rejected(c: Case, code: string, message: RegExp): Promise<{ code: string; message: string; checks: { name: string; ok: boolean }[] }> {
  const r = await run(c);
  if (r.ok) throw new Error(`expected ${code}, got success (${r.result.status})`);
  expect(r.error.code).toBe(code);
  expect(r.error.message).toMatch(message);
  // the failing step is recorded last and everything before it passed
  const last = r.checks.at(-1);
  expect(last?.ok).toBe(false);
  expect(r.checks.slice(0, -1).every((x) => x.ok)).toBe(true);
  return { ...r.error, checks: r.checks };
}

describe("forged worlds verify under their own root, never as genuine", () => {
  it("a default TDX world is UpToDate, genuine:false, with a loud warning", async () => {
    const r = await ok();
    expect(r.status).toBe("UpToDate");
    expect(r.advisoryIds).toEqual([]);
    expect(r.genuine).toBe(false);
    expect(r.warnings.join("\n")).toMatch(/NOT GENUINE/);
    expect(r.report.type).toBe("td10");
    expect(r.pck.fmspc).toBe("0xb0c06f000000");
    expect(r.pck.ca).toBe("platform");
  });

  it("body fields come back as forged", async () => {
    const r = await ok({ quote: { reportData: "ab".repeat(64), mrTd: "cd".repeat(48), rtMrs: ["01".repeat(48), "02".repeat(48), "03".repeat(48), "04".repeat(48)] } });
    expect(r.report.reportData).toBe(`0x${"ab".repeat(64)}`);
    expect(r.report.mrTd).toBe(`0x${"cd".repeat(48)}`);
    expect(r.report.rtMr3).toBe(`0x${"04".repeat(48)}`);
  });

  it("v5 TD10, v5 TD15 (service TD allowed) and SGX v3 worlds verify", async () => {
    expect((await ok({ quote: { version: 5, body: "td10" } })).report.type).toBe("td10");
    const td15 = await ok({ quote: { version: 5, body: "td15", mrServiceTd: "11".repeat(48) }, verify: { allowServiceTd: true } });
    expect(td15.report.type).toBe("td15");
    const sgx = await ok({ world: { tee: "sgx", ca: "processor" } });
    expect(sgx.report.type).toBe("sgx");
    expect(sgx.status).toBe("UpToDate");
    expect(sgx.pck.ca).toBe("processor");
  });

  it("tolerates trailing bytes with a warning", async () => {
    const r = await ok({ quote: { trailing: "00".repeat(70) } });
    expect(r.warnings.join("\n")).toMatch(/70 bytes after the signature data/);
  });

  it("the pinned Intel root (default) rejects a forged world", async () => {
    await rejected({ trustForgedRoot: false }, "ROOT_CA_CRL_ISSUER_MISMATCH", /not by the trusted root "CN=Intel SGX Root CA/);
  });

  it("…and with Intel's real root CRL swapped in, the forged chains have an unknown issuer", async () => {
    const real = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
    // the real root CRL is valid 2025-03-20 … 2026-04-03, which brackets the forge's default time
    const e = await rejected({ trustForgedRoot: false, collateral: (c) => ({ ...c, rootCaCrl: real.rootCaCrl }) }, "TCB_INFO_CHAIN_ISSUER_UNKNOWN", /issuer "CN=Forged SGX Root CA.*" of "Intel SGX TCB Signing" is neither the trusted root nor in the chain/);
    expect(e.checks.map((x) => x.name)).toContain("root-ca.crl");
  });

  it("a world that copies Intel's names exactly still fails: names match, signatures do not", async () => {
    const e = await rejected({ trustForgedRoot: false, world: { intelNames: true } }, "ROOT_CA_CRL_SIGNATURE_INVALID", /root_ca_crl/);
    expect(e.message).toMatch(/signature/i);
  });

  it("impersonation: a forged quote with Intel's names against Intel's REAL collateral is rejected at the PCK chain", async () => {
    const real = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
    const e = await rejected(
      { trustForgedRoot: false, world: { intelNames: true, now: 1752919234 }, collateral: () => real },
      "PCK_CERT_SIGNATURE_INVALID",
      /"Intel SGX PCK Platform CA" names the trusted root as issuer but its signature does not verify with the root key/,
    );
    // all of Intel's collateral passed before the forged chain was reached
    expect(e.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["root-ca.crl", "tcb-info.signature", "qe-identity.signature"]));
  });

  it("impersonation: forged collateral with Intel's names and Intel's real root CRL fails at the TCB Signing cert", async () => {
    const real = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
    await rejected(
      { trustForgedRoot: false, world: { intelNames: true, now: 1752919234 }, collateral: (c) => ({ ...c, rootCaCrl: real.rootCaCrl }) },
      "TCB_INFO_CHAIN_CERT_SIGNATURE_INVALID",
      /"Intel SGX TCB Signing" names the trusted root as issuer but its signature does not verify with the root key/,
    );
  });
});

describe("every TCB status, each from a re-signed TCB Info", () => {
  const statuses = ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"];
  for (const s of statuses) {
    it(s, async () => {
      const r = await ok({ world: { tcbInfo: { tcbLevels: [level(s, ["INTEL-SA-00001"])] } } });
      expect(r.status).toBe(s);
      expect(r.advisoryIds).toEqual(["INTEL-SA-00001"]);
      expect(r.platformStatus.status).toBe(s);
      expect(r.qeStatus.status).toBe("UpToDate");
    });
  }

  it("Revoked is an error, not a status", async () => {
    await rejected({ world: { tcbInfo: { tcbLevels: [level("Revoked", ["INTEL-SA-00002"])] } } }, "TCB_REVOKED", /Revoked/);
  });

  it("SGX worlds too: ConfigurationAndSWHardeningNeeded with advisories", async () => {
    const sgxCpu = [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const r = await ok({
      world: {
        tee: "sgx",
        tcbInfo: {
          tcbLevels: [
            { sgx: sgxCpu.map((v, i) => (i === 7 ? 12 : v)), pcesvn: 13, tcbStatus: "UpToDate" },
            { sgx: sgxCpu, pcesvn: 13, tcbStatus: "ConfigurationAndSWHardeningNeeded", advisoryIDs: ["INTEL-SA-00289", "INTEL-SA-00615"] },
          ],
        },
      },
    });
    expect(r.status).toBe("ConfigurationAndSWHardeningNeeded");
    expect(r.advisoryIds).toEqual(["INTEL-SA-00289", "INTEL-SA-00615"]);
  });

  it("the first level the platform meets wins, whatever the JSON order", async () => {
    const higher = level("UpToDate", undefined, { sgx: CPU.map((v, i) => (i === 0 ? v + 1 : v)) });
    const lower = level("SWHardeningNeeded", ["INTEL-SA-00003"], { sgx: CPU.map((v, i) => (i === 0 ? v - 1 : v)) });
    const exact = level("ConfigurationNeeded", ["INTEL-SA-00004"]);
    const r = await ok({ world: { tcbInfo: { tcbLevels: [lower, higher, exact] } } });
    expect(r.status).toBe("ConfigurationNeeded");
    expect(r.advisoryIds).toEqual(["INTEL-SA-00004"]);
  });

  it("PCESVN below every level → no matching level", async () => {
    await rejected({ world: { pceSvn: 10, tcbInfo: { tcbLevels: [level("UpToDate")] } } }, "TCB_LEVEL_NOT_FOUND", /no TCB level .*PCESVN 10/);
  });

  it("an SGX component below every level → no matching level", async () => {
    await rejected({ world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { sgx: CPU.map((v, i) => (i === 7 ? 6 : v)) })] } } }, "TCB_LEVEL_NOT_FOUND", /no TCB level/);
  });

  it("a TDX component (index ≥ 2) below every level → no matching level", async () => {
    await rejected({ world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 2 ? 4 : v)) })] } } }, "TCB_LEVEL_NOT_FOUND", /TEE_TCB_SVN 060103/);
  });

  it("a level without 16 components is malformed collateral (read as the TCB Info is read), not a skip", async () => {
    await rejected({ world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.slice(0, 15) })] } } }, "TCB_INFO_INVALID", /tdxtcbcomponents has 15 components, expected 16/);
  });

  it("advisory IDs merge: level's, then the module's new ones, then the QE's new ones", async () => {
    const r = await ok({
      world: {
        tcbInfo: {
          tcbLevels: [level("SWHardeningNeeded", ["INTEL-SA-A", "INTEL-SA-B"])],
          tdxModuleIdentities: [{ id: "TDX_01", tcbLevels: [{ isvsvn: 4, tcbStatus: "UpToDate", advisoryIDs: ["INTEL-SA-B", "INTEL-SA-C"] }] }],
        },
        qeIdentity: { tcbLevels: [{ isvsvn: 4, tcbStatus: "SWHardeningNeeded", advisoryIDs: ["INTEL-SA-C", "INTEL-SA-D"] }] },
      },
    });
    expect(r.status).toBe("SWHardeningNeeded");
    expect(r.advisoryIds).toEqual(["INTEL-SA-A", "INTEL-SA-B", "INTEL-SA-C", "INTEL-SA-D"]);
    expect(r.qeStatus).toEqual({ status: "SWHardeningNeeded", advisoryIds: ["INTEL-SA-C", "INTEL-SA-D"] });
  });

  it("the worse of platform and QE status wins (QE OutOfDate over platform UpToDate)", async () => {
    const r = await ok({ world: { qeIdentity: { tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 5, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-QE"] }] } } });
    expect(r.status).toBe("OutOfDate");
    expect(r.advisoryIds).toEqual(["INTEL-SA-QE"]);
  });
});

describe("where the project follows Intel's QVL instead of dcap-qvl (a decision of this project)", () => {
  const moduleOutOfDate = [{ id: "TDX_01", tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 2, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-MOD"] }] }];

  it("convergence: module OutOfDate + ConfigurationNeeded level → OutOfDateConfigurationNeeded (dcap-qvl: OutOfDate)", async () => {
    const r = await ok({ world: { tcbInfo: { tcbLevels: [level("ConfigurationNeeded", ["INTEL-SA-LVL"])], tdxModuleIdentities: moduleOutOfDate } } });
    expect(r.status).toBe("OutOfDateConfigurationNeeded");
    expect(r.advisoryIds).toEqual(["INTEL-SA-LVL", "INTEL-SA-MOD"]);
  });

  it("convergence: module OutOfDate + ConfigurationAndSWHardeningNeeded → OutOfDateConfigurationNeeded", async () => {
    const r = await ok({ world: { tcbInfo: { tcbLevels: [level("ConfigurationAndSWHardeningNeeded")], tdxModuleIdentities: moduleOutOfDate } } });
    expect(r.status).toBe("OutOfDateConfigurationNeeded");
  });

  it("convergence: module OutOfDate + SWHardeningNeeded level → OutOfDate", async () => {
    const r = await ok({ world: { tcbInfo: { tcbLevels: [level("SWHardeningNeeded")], tdxModuleIdentities: moduleOutOfDate } } });
    expect(r.status).toBe("OutOfDate");
  });

  it("convergence: QE OutOfDate + ConfigurationNeeded level → OutOfDateConfigurationNeeded", async () => {
    const r = await ok({
      world: { tcbInfo: { tcbLevels: [level("ConfigurationNeeded")] }, qeIdentity: { tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 1, tcbStatus: "OutOfDate" }] } },
    });
    expect(r.status).toBe("OutOfDateConfigurationNeeded");
  });

  it("tee_tcb_svn[1] > 0: TDX components 0–1 are not compared (graded by the module identity instead)", async () => {
    // The level demands module SVN 9 and major version 2 in components 0–1; the quote has 6 and 1.
    // dcap-qvl compares all 16 and finds no level; Intel skips 0–1 and matches.
    const demanding = level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 0 ? 9 : i === 1 ? 2 : v)) });
    const r = await ok({ world: { tcbInfo: { tcbLevels: [demanding] } } });
    expect(r.status).toBe("UpToDate");
  });

  it("tee_tcb_svn[1] = 0: components 0–1 are compared", async () => {
    const demanding = level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 0 ? 9 : i === 1 ? 0 : v)) });
    await rejected({ world: { tcbInfo: { tcbLevels: [demanding] } }, quote: { teeTcbSvn: "06000300000000000000000000000000" } }, "TCB_LEVEL_NOT_FOUND", /no TCB level/);
  });
});

describe("TDX module identity", () => {
  it("no identity for the module's major version", async () => {
    await rejected({ world: { tcbInfo: { tdxModuleIdentities: [{ id: "TDX_03", tcbLevels: [{ isvsvn: 1, tcbStatus: "UpToDate" }] }] } } }, "TDX_MODULE_IDENTITY_NOT_FOUND", /TDX_01/);
  });

  it("module MRSIGNER differs from the identity's", async () => {
    await rejected({ quote: { mrSignerSeam: "11".repeat(48) } }, "TDX_MODULE_MRSIGNER_MISMATCH", /MRSIGNER 1111/);
  });

  it("SEAM attributes outside the mask", async () => {
    await rejected({ quote: { seamAttributes: "0100000000000000" } }, "TDX_MODULE_ATTRIBUTES_MISMATCH", /SEAM attributes 0100000000000000/);
  });

  it("module SVN below every module level", async () => {
    await rejected({ quote: { teeTcbSvn: "01010300000000000000000000000000" } }, "TDX_MODULE_SVN_TOO_LOW", /ISVSVN 1 is below/);
  });

  it("TCB Info without tdxModule", async () => {
    await rejected({ world: { tcbInfo: { tdxModule: null } } }, "TCB_INFO_INVALID", /tdxModule/);
  });

  it("module version 0 uses tdxModule and grades nothing extra", async () => {
    const r = await ok({ world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 1 ? 0 : v)) })] } }, quote: { teeTcbSvn: "06000300000000000000000000000000" } });
    expect(r.status).toBe("UpToDate");
  });
});

describe("revocation and CRLs", () => {
  it("PCK leaf revoked (PCK CRL)", async () => {
    await rejected({ world: { revoke: { pckLeaf: true } } }, "PCK_REVOKED", /PCK Certificate.*revoked by pck_crl/);
  });

  it("PCK CA revoked (root CRL)", async () => {
    await rejected({ world: { revoke: { pckCa: true } } }, "PCK_REVOKED", /PCK Platform CA.*revoked by root_ca_crl/);
  });

  it("TCB Signing revoked (root CRL)", async () => {
    await rejected({ world: { revoke: { tcbSigning: true } } }, "TCB_INFO_CHAIN_REVOKED", /TCB Signing.*revoked by root_ca_crl/);
  });

  it("root revoked by its own CRL", async () => {
    await rejected({ world: { revoke: { root: true } } }, "ROOT_CA_REVOKED", /root CA .* is listed in root_ca_crl/);
  });

  it("PCK CRL signed by the wrong key", async () => {
    await rejected({ world: { pckCrl: { signWithWrongKey: true } } }, "PCK_CRL_SIGNATURE_INVALID", /pck_crl: signature does not verify with the key of "Intel SGX PCK Platform CA"/);
  });

  it("root CRL signed by the wrong key", async () => {
    await rejected({ world: { rootCrl: { signWithWrongKey: true } } }, "ROOT_CA_CRL_SIGNATURE_INVALID", /root_ca_crl: signature does not verify with the key of "Forged SGX Root CA"/);
  });

  it("PCK CRL past its nextUpdate", async () => {
    await rejected({ world: { pckCrl: { nextUpdate: 1767225599 } } }, "PCK_CRL_EXPIRED", /pck_crl: expired at nextUpdate 2025-12-31T23:59:59Z/);
  });

  it("root CRL past its nextUpdate", async () => {
    await rejected({ world: { rootCrl: { nextUpdate: 1767225599 } } }, "ROOT_CA_CRL_EXPIRED", /root_ca_crl: expired at nextUpdate/);
  });

  it("CRL not yet issued (thisUpdate after now)", async () => {
    await rejected({ world: { pckCrl: { thisUpdate: 1767225601 } } }, "PCK_CRL_NOT_YET_VALID", /thisUpdate 2026-01-01T00:00:01Z is after/);
  });

  it("root CRL supplied as the PCK CRL", async () => {
    await rejected({ collateral: (c) => ({ ...c, pckCrl: c.rootCaCrl }) }, "PCK_CRL_ISSUER_MISMATCH", /pck_crl/);
  });

  it("PCK CRL supplied as the root CRL", async () => {
    await rejected({ collateral: (c) => ({ ...c, rootCaCrl: c.pckCrl }) }, "ROOT_CA_CRL_ISSUER_MISMATCH", /root_ca_crl is issued by "CN=Intel SGX PCK Platform CA/);
  });

  it("a Processor-CA CRL for a Platform-CA leaf", async () => {
    const processor = await createForgeWorld({ seed: "forge-verify", ca: "processor" });
    await rejected({ collateral: (c) => ({ ...c, pckCrl: processor.collateral.pckCrl }) }, "PCK_CRL_ISSUER_MISMATCH", /pck_crl/);
  });
});

describe("collateral validity and signatures", () => {
  it("TCB Info expired", async () => {
    await rejected({ world: { tcbInfo: { nextUpdate: 1767225599 } } }, "TCB_INFO_EXPIRED", /tcb_info expired at nextUpdate 2025-12-31T23:59:59Z/);
  });

  it("TCB Info issued in the future", async () => {
    await rejected({ world: { tcbInfo: { issueDate: 1767225601 } } }, "TCB_INFO_NOT_YET_VALID", /issueDate 2026-01-01T00:00:01Z is after the verification time/);
  });

  it("QE Identity expired", async () => {
    await rejected({ world: { qeIdentity: { nextUpdate: 1767225599 } } }, "QE_IDENTITY_EXPIRED", /qe_identity expired/);
  });

  it("QE Identity issued in the future", async () => {
    await rejected({ world: { qeIdentity: { issueDate: 1767225601 } } }, "QE_IDENTITY_NOT_YET_VALID", /qe_identity issueDate .* is after/);
  });

  it("TCB Info signed by another key", async () => {
    await rejected({ world: { tcbInfo: { signWithWrongKey: true } } }, "TCB_INFO_SIGNATURE_INVALID", /tcb_info_signature does not verify/);
  });

  it("QE Identity signed by another key", async () => {
    await rejected({ world: { qeIdentity: { signWithWrongKey: true } } }, "QE_IDENTITY_SIGNATURE_INVALID", /qe_identity_signature does not verify/);
  });

  it("a valid signature over a re-serialised TCB Info does not carry over", async () => {
    await rejected(
      { collateral: (c) => ({ ...c, tcbInfo: JSON.stringify(JSON.parse(c.tcbInfo), null, 1) }) },
      "TCB_INFO_SIGNATURE_INVALID",
      /tcb_info_signature/,
    );
  });

  it("wrong FMSPC in TCB Info", async () => {
    await rejected({ world: { tcbInfo: { fmspc: "00906ED50000" } } }, "FMSPC_MISMATCH", /PCK FMSPC B0C06F000000 differs from tcb_info's 00906ED50000/);
  });

  it("TCB Info for another PCE-ID (Intel's QVL checks it; dcap-qvl compares only the FMSPC)", async () => {
    await rejected({ world: { tcbInfo: { edit: (t) => ({ ...t, pceId: "0100" }) } } }, "PCEID_MISMATCH", /PCK PCE-ID 0000 differs from tcb_info's 0100/);
  });

  it("SGX TCB Info for a TDX quote", async () => {
    await rejected({ world: { tcbInfo: { edit: (o) => ({ ...o, id: "SGX" }) } } }, "TCB_INFO_TEE_MISMATCH", /TDX quote with non-TDX TCB info/);
  });

  it("SGX QE identity for a TDX quote", async () => {
    await rejected({ world: { qeIdentity: { id: "QE" } } }, "QE_IDENTITY_MISMATCH", /TD_QE/);
  });

  it("TCB Signing cert expired", async () => {
    await rejected({ world: { tcbSigningValidity: { notAfter: 1767225599 } } }, "TCB_INFO_CHAIN_CERT_EXPIRED", /TCB Signing" expired at 2025-12-31T23:59:59Z/);
  });
});

describe("QE identity policy", () => {
  it("QE MRSIGNER mismatch", async () => {
    await rejected({ world: { qeIdentity: { mrsigner: "00".repeat(32) } } }, "QE_MRSIGNER_MISMATCH", /QE report MRSIGNER dc9e2a7c/);
  });

  it("QE ISVPRODID mismatch", async () => {
    await rejected({ quote: { qe: { isvProdId: 3 } } }, "QE_ISVPRODID_MISMATCH", /ISVPRODID 3 differs from qe_identity's 2/);
  });

  it("QE MISCSELECT mismatch", async () => {
    await rejected({ quote: { qe: { miscSelect: 1 } } }, "QE_MISCSELECT_MISMATCH", /MISCSELECT 0x1/);
  });

  it("QE ATTRIBUTES mismatch under the mask", async () => {
    await rejected({ quote: { qe: { attributes: "35000000000000000000000000000000" } } }, "QE_ATTRIBUTES_MISMATCH", /ATTRIBUTES 3500/);
  });

  it("QE ATTRIBUTES differing only outside the mask are fine", async () => {
    expect((await ok({ quote: { qe: { attributes: "11000000000000001234000000000000" } } })).status).toBe("UpToDate");
  });

  it("QE ISVSVN below every level", async () => {
    await rejected({ quote: { qe: { isvSvn: 3 } } }, "QE_TCB_LEVEL_NOT_FOUND", /QE ISVSVN 3 is below the minimum required by qe_identity \(4\)/);
  });

  it("QE in debug mode, even with allowDebug", async () => {
    await rejected({ quote: { qe: { attributes: "17000000000000000000000000000000" } }, verify: { allowDebug: true } }, "QE_DEBUG", /DEBUG/);
  });
});

describe("QE report, attestation key and quote signatures", () => {
  it("QE report signed by a key other than the PCK leaf's", async () => {
    await rejected({ quote: { signQeReportWithWrongKey: true } }, "QE_REPORT_SIGNATURE_INVALID", /QE report signature does not verify with the PCK certificate key/);
  });

  it("QE report does not bind the attestation key", async () => {
    await rejected({ quote: { breakQeBinding: true } }, "QE_REPORT_BINDING_MISMATCH", /report_data\[0\.\.32\) [0-9a-f]{64} ≠ SHA-256\(attestation key ‖ QE auth data\)/);
  });

  it("QE report data [32..64) not zero (project strictness)", async () => {
    await rejected({ quote: { qe: { reportDataTail: "01".repeat(32) } } }, "QE_REPORT_BINDING_MISMATCH", /report_data\[32\.\.64\) is not zero/);
  });

  it("quote body signed by a key other than the embedded attestation key", async () => {
    await rejected({ quote: { signQuoteWithWrongKey: true } }, "QUOTE_SIGNATURE_INVALID", /quote signature over bytes \[0, 632\) does not verify with the attestation key/);
  });

  it("QE authentication data of another length is bound like any other (Intel's QVL; dcap-qvl requires 32)", async () => {
    for (const qeAuthData of ["", "00".repeat(16), "ab".repeat(100)]) {
      expect((await ok({ quote: { qeAuthData } })).status).toBe("UpToDate");
    }
    // …and the binding still covers it: auth data changed after the QE signed its report
    const r = await run({ quote: { qeAuthData: "00".repeat(16) } });
    const q = r.quote.slice();
    const authAt = 632 + 4 + 128 + 6 + 384 + 64 + 2; // v4: sig-data length, sig ‖ key, outer type/size, QE report, QE signature, size
    expect(q[authAt - 2]! | (q[authAt - 1]! << 8)).toBe(16);
    q[authAt]! ^= 1;
    const bad = checkQuote(q, { collateral: r.world.collateral, now: r.world.now, rootCaDer: r.world.rootCaDer });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe("QE_REPORT_BINDING_MISMATCH");
  });
});

describe("PCK certificate chain", () => {
  it("PCK leaf not yet valid", async () => {
    await rejected({ world: { pckLeafValidity: { notBefore: 1767225601 } } }, "PCK_CERT_NOT_YET_VALID", /PCK Certificate" is valid from 2026-01-01T00:00:01Z/);
  });

  it("PCK leaf expired", async () => {
    await rejected({ world: { pckLeafValidity: { notAfter: 1767225599 } } }, "PCK_CERT_EXPIRED", /PCK Certificate" expired at 2025-12-31T23:59:59Z/);
  });

  it("PCK CA expired", async () => {
    await rejected({ world: { pckCaValidity: { notAfter: 1767225599 } } }, "PCK_CERT_EXPIRED", /PCK Platform CA" expired/);
  });

  it("PCK leaf signed by a key other than its CA's (names right)", async () => {
    await rejected({ world: { certSignedByWrongKey: { pckLeaf: true } } }, "PCK_CERT_SIGNATURE_INVALID", /signature of "Forged SGX PCK Certificate" does not verify with the key of "Intel SGX PCK Platform CA"/);
  });

  it("PCK CA signed by a key other than the root's (names right)", async () => {
    await rejected({ world: { certSignedByWrongKey: { pckCa: true } } }, "PCK_CERT_SIGNATURE_INVALID", /"Intel SGX PCK Platform CA" names the trusted root as issuer but its signature does not verify with the root key/);
  });

  it("TCB Signing cert signed by a key other than the root's", async () => {
    await rejected({ world: { certSignedByWrongKey: { tcbSigning: true } } }, "TCB_INFO_CHAIN_CERT_SIGNATURE_INVALID", /"Intel SGX TCB Signing" names the trusted root as issuer but its signature does not verify/);
  });

  it("a CA certificate used as the PCK leaf", async () => {
    await rejected({ world: { pckLeafIsCa: true } }, "PCK_CERT_INVALID", /end-entity certificate "Forged SGX PCK Certificate" is a CA certificate/);
  });

  it("PCK leaf without the SGX extension", async () => {
    await rejected({ world: { omitSgxExtension: true } }, "PCK_SGX_EXTENSION_INVALID", /exactly one extension 1\.2\.840\.113741\.1\.13\.1, found 0/);
  });

  it("a chain from another forged world (same names, other keys) does not chain to the trusted root", async () => {
    const other = await createForgeWorld({ seed: "another world" });
    await rejected({ quote: { pemChain: other.pckChainPem } }, "PCK_CERT_SIGNATURE_INVALID", /signature/i);
  });

  it("encrypted-PPID certification data (type 3) without a supplied PCK chain", async () => {
    await rejected({ quote: { innerCertType: 3 } }, "PCK_CERT_TYPE_UNSUPPORTED", /certification data type 3 is not supported/);
  });
});

describe("report policy", () => {
  it("workload DEBUG rejected, accepted with allowDebug", async () => {
    await rejected({ quote: { tdAttributes: "0100001000000000" } }, "TD_DEBUG", /DEBUG/);
    expect((await ok({ quote: { tdAttributes: "0100001000000000" }, verify: { allowDebug: true } })).status).toBe("UpToDate");
  });

  it("reserved TD attribute bits rejected, even with allowDebug", async () => {
    await rejected({ quote: { tdAttributes: "0200001000000000" }, verify: { allowDebug: true } }, "TD_ATTRIBUTES_RESERVED", /bit 1\b/);
    await rejected({ quote: { tdAttributes: "0000003000000000" } }, "TD_ATTRIBUTES_RESERVED", /bit 29\b/);
  });

  it("bit 39 rejected and PERFMON (bit 63) allowed — the project's decision, unlike dcap-qvl Rust's mask", async () => {
    await rejected({ quote: { tdAttributes: "0000001080000000" } }, "TD_ATTRIBUTES_RESERVED", /bit 39\b/);
    expect((await ok({ quote: { tdAttributes: "0000001000000080" } })).status).toBe("UpToDate");
    expect((await ok({ quote: { tdAttributes: "00000010000000c0".replace("c0", "80") } })).status).toBe("UpToDate");
  });

  it("PKS and KL allowed", async () => {
    expect((await ok({ quote: { tdAttributes: "000000d000000000" } })).status).toBe("UpToDate");
  });

  it("SEPT_VE_DISABLE clear", async () => {
    await rejected({ quote: { tdAttributes: "0000000000000000" } }, "TD_SEPT_VE_DISABLE_CLEAR", /SEPT_VE_DISABLE/);
  });

  it("non-zero mr_service_td in a TD 1.5 report", async () => {
    await rejected({ quote: { version: 5, body: "td15", mrServiceTd: "01".repeat(48) } }, "TD_SERVICE_TD_INVALID", /mr_service_td 0101/);
  });

  it("SGX enclave in debug mode", async () => {
    await rejected({ world: { tee: "sgx" }, quote: { sgx: { attributes: "07000000000000000300000000000000" } } }, "ENCLAVE_DEBUG", /enclave is in DEBUG mode/);
  });
});

describe("quote header", () => {
  it("wrong QE vendor id", async () => {
    await rejected({ quote: { qeVendorId: "00".repeat(16) } }, "QUOTE_HEADER_INVALID", /QE vendor id 0{32} is not Intel's/);
  });

  it("attestation key type 3 (P-384) unsupported", async () => {
    await rejected({ quote: { attestationKeyType: 3 } }, "QUOTE_HEADER_INVALID", /attestation key type 3 is not supported/);
  });

  it("outer certification data type other than 6 (project strictness)", async () => {
    await rejected({ quote: { outerCertType: 5 } }, "QUOTE_UNSUPPORTED_CERT_TYPE", /expected type 6 .* got 5/);
  });

  it("v5 body_size that does not match the body type (project strictness)", async () => {
    await rejected({ quote: { version: 5, bodySize: 600 } }, "QUOTE_BODY_SIZE_MISMATCH", /body type 2 needs 584 bytes, body_size says 600/);
  });

  it("SGX body in a v5 quote", async () => {
    await rejected({ world: { tee: "sgx" }, quote: { version: 5, body: "sgx" } }, "QUOTE_HEADER_INVALID", /SGX quotes must be version 3/);
  });
});

describe("time is mandatory", () => {
  for (const [label, now] of [
    ["missing", undefined],
    ["NaN", Number.NaN],
    ["fractional", 1767225600.5],
    ["negative", -1],
  ] as const) {
    it(`${label} now is a usage error, never "skip the time checks"`, async () => {
      const w = await createForgeWorld({ seed: "forge-verify" });
      const q = await forgeQuote(w);
      expect(() => verifyQuote(q, { collateral: w.collateral, now: now as number, rootCaDer: w.rootCaDer })).toThrow(/now must be a whole/);
      const r = checkQuote(q, { collateral: w.collateral, now: now as number, rootCaDer: w.rootCaDer });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe("USAGE");
    });
  }
});
