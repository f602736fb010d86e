/**
 * TCB evaluation, and each place where this project follows Intel's QVL instead of dcap-qvl
 * (project decisions 1 and 2), shown on the real TCB info / QE identity documents.
 */
import { describe, expect, it } from "vitest";

import { parseQuote } from "../../src/dcap/quote.js";
import { checkQeIdentity, parseQeIdentity } from "../../src/dcap/qe-identity.js";
import { parseTcbInfo } from "../../src/dcap/tcb-info.js";
import { checkTdxModule, convergeStatus, matchPlatformLevel, tdAttributesProblem } from "../../src/dcap/tcb-policy.js";
import { VerificationError } from "../../src/core/errors.js";
import { parseRfc3339 } from "../../src/core/time.js";
import { tdxCollateral, tdxQuote } from "./real-fixtures.js";

const info = () => parseTcbInfo(tdxCollateral().tcbInfo);
const svn = (...b: number[]) => Uint8Array.from([...b, ...new Array(16 - b.length).fill(0)]);
const CPUSVN = Uint8Array.from(Buffer.from("03030202040100050000000000000000", "hex"));

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    return (e as VerificationError).code;
  }
  throw new Error("expected a VerificationError");
}

describe("TD attributes policy (decision 1: intended semantics, not dcap-qvl Rust's byte-mask quirk)", () => {
  const real = () => parseQuote(tdxQuote()).body as { tdAttributes: Uint8Array };
  const withBits = (...bits: number[]) => {
    const a = real().tdAttributes.slice();
    for (const b of bits) a[b >> 3]! |= 1 << (b & 7);
    return a;
  };

  it("the real quote's attributes (only SEPT_VE_DISABLE) pass", () => {
    expect(Buffer.from(real().tdAttributes).toString("hex")).toBe("0000001000000000");
    expect(tdAttributesProblem(real().tdAttributes)).toBeUndefined();
  });

  it("PERFMON (bit 63) is allowed — dcap-qvl Rust would reject it", () => {
    expect(tdAttributesProblem(withBits(63))).toBeUndefined();
  });

  it("bit 39 is a reserved bit and rejected — dcap-qvl Rust would ignore it", () => {
    expect(tdAttributesProblem(withBits(39))).toEqual({
      code: "TD_ATTRIBUTES_RESERVED",
      message: "reserved bits in TD attributes are set (bit 39; attributes 0000001080000000)",
    });
  });

  it("PKS (30) and KL (31) are allowed; every other reserved bit is rejected", () => {
    expect(tdAttributesProblem(withBits(30, 31))).toBeUndefined();
    for (const b of [1, 7, 8, 27, 29, 32, 38, 40, 62]) expect(tdAttributesProblem(withBits(b))?.code, `bit ${b}`).toBe("TD_ATTRIBUTES_RESERVED");
  });

  it("DEBUG is rejected unless allowed; SEPT_VE_DISABLE is required", () => {
    expect(tdAttributesProblem(withBits(0))?.code).toBe("TD_DEBUG");
    expect(tdAttributesProblem(withBits(0), { allowDebug: true })).toBeUndefined();
    expect(tdAttributesProblem(new Uint8Array(8))?.code).toBe("TD_SEPT_VE_DISABLE_CLEAR");
    expect(tdAttributesProblem(new Uint8Array(7))?.code).toBe("TD_ATTRIBUTES_INVALID");
  });
});

describe("status convergence (decision 2: Intel's rules)", () => {
  const s = (status: Parameters<typeof convergeStatus>[0]["status"], ...advisoryIds: string[]) => ({ status, advisoryIds });

  it("module/QE OutOfDate turns Configuration* into OutOfDateConfigurationNeeded (dcap-qvl: OutOfDate)", () => {
    expect(convergeStatus(s("ConfigurationNeeded"), s("OutOfDate")).status).toBe("OutOfDateConfigurationNeeded");
    expect(convergeStatus(s("ConfigurationAndSWHardeningNeeded"), s("OutOfDate")).status).toBe("OutOfDateConfigurationNeeded");
  });

  it("module/QE OutOfDate turns UpToDate/SWHardeningNeeded into OutOfDate", () => {
    expect(convergeStatus(s("UpToDate"), s("OutOfDate")).status).toBe("OutOfDate");
    expect(convergeStatus(s("SWHardeningNeeded"), s("OutOfDate")).status).toBe("OutOfDate");
  });

  it("Revoked wins; an UpToDate module/QE keeps the platform status", () => {
    expect(convergeStatus(s("UpToDate"), s("Revoked")).status).toBe("Revoked");
    expect(convergeStatus(s("Revoked"), s("UpToDate")).status).toBe("Revoked");
    for (const p of ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"] as const) {
      expect(convergeStatus(s(p), s("UpToDate")).status).toBe(p);
    }
    expect(convergeStatus(s("OutOfDateConfigurationNeeded"), s("OutOfDate")).status).toBe("OutOfDateConfigurationNeeded");
  });

  it("merges advisory IDs: platform's first, then new ones, no duplicates", () => {
    expect(convergeStatus(s("OutOfDate", "INTEL-SA-00001"), s("SWHardeningNeeded", "INTEL-SA-00002"))).toEqual(s("OutOfDate", "INTEL-SA-00001", "INTEL-SA-00002"));
    expect(convergeStatus(s("UpToDate", "A", "B"), s("UpToDate", "B", "C")).advisoryIds).toEqual(["A", "B", "C"]);
  });
});

describe("platform TCB level matching on the real TDX TCB info", () => {
  it("the real quote matches the first level (2024-03-13, UpToDate)", () => {
    const l = matchPlatformLevel(info(), CPUSVN, 11, svn(6, 1, 3));
    expect([l.tcbDate, l.status]).toEqual(["2024-03-13T00:00:00Z", "UpToDate"]);
  });

  it("PCESVN below the first level falls to the OutOfDate level with its advisories", () => {
    const l = matchPlatformLevel(info(), CPUSVN, 10, svn(6, 1, 3));
    expect(l.status).toBe("OutOfDate");
    expect(l.advisoryIds).toContain("INTEL-SA-00837");
  });

  it("Intel skips TDX components 0–1 when tee_tcb_svn[1] > 0 (dcap-qvl compares all 16 and finds no level)", () => {
    // component 0 = 4 < 5 required, but the module major version byte is 1 → skipped
    expect(matchPlatformLevel(info(), CPUSVN, 11, svn(4, 1, 2)).status).toBe("UpToDate");
    // with version byte 0 nothing is skipped
    expect(code(() => matchPlatformLevel(info(), CPUSVN, 11, svn(4, 0, 2)))).toBe("TCB_LEVEL_NOT_FOUND");
    // component 2 is still compared
    expect(code(() => matchPlatformLevel(info(), CPUSVN, 11, svn(6, 1, 1)))).toBe("TCB_LEVEL_NOT_FOUND");
  });

  it("an SGX component below every level → no matching level", () => {
    const low = CPUSVN.slice();
    low[7] = 4;
    expect(code(() => matchPlatformLevel(info(), low, 11, svn(6, 1, 3)))).toBe("TCB_LEVEL_NOT_FOUND");
  });

  it("sorts levels canonically whatever their JSON order", () => {
    const doc = JSON.parse(tdxCollateral().tcbInfo) as { tcbLevels: unknown[] };
    doc.tcbLevels.reverse();
    const sorted = parseTcbInfo(JSON.stringify(doc));
    expect(sorted.tcbLevels.map((l) => l.tcbDate)).toEqual(info().tcbLevels.map((l) => l.tcbDate));
  });

  it("a level with the wrong component count is malformed collateral, wherever it is (not a skip)", () => {
    const doc = JSON.parse(tdxCollateral().tcbInfo) as { tcbLevels: { tcb: { tdxtcbcomponents: unknown[] } }[] };
    doc.tcbLevels.at(-1)!.tcb.tdxtcbcomponents.pop();
    expect(code(() => parseTcbInfo(JSON.stringify(doc)))).toBe("TCB_INFO_INVALID");
    expect(() => parseTcbInfo(JSON.stringify(doc))).toThrow(/tdxtcbcomponents has 15 components, expected 16/);
  });
});

describe("TDX module identity", () => {
  const zero48 = new Uint8Array(48);
  const zero8 = new Uint8Array(8);
  it("TDX_01 with SVN 6 → UpToDate; SVN 3 → OutOfDate, which converges an UpToDate level to OutOfDate", () => {
    expect(checkTdxModule(info(), svn(6, 1, 3), zero48, zero8)?.status).toBe("UpToDate");
    const m = checkTdxModule(info(), svn(3, 1, 3), zero48, zero8)!;
    expect(m.status).toBe("OutOfDate");
    expect(convergeStatus({ status: "UpToDate", advisoryIds: [] }, m).status).toBe("OutOfDate");
  });
  it("rejects an unknown module version, a low SVN, a foreign MRSIGNER and SEAM attributes", () => {
    expect(code(() => checkTdxModule(info(), svn(6, 2, 3), zero48, zero8))).toBe("TDX_MODULE_IDENTITY_NOT_FOUND");
    expect(code(() => checkTdxModule(info(), svn(1, 1, 3), zero48, zero8))).toBe("TDX_MODULE_SVN_TOO_LOW");
    expect(code(() => checkTdxModule(info(), svn(6, 1, 3), new Uint8Array(48).fill(1), zero8))).toBe("TDX_MODULE_MRSIGNER_MISMATCH");
    expect(code(() => checkTdxModule(info(), svn(6, 1, 3), zero48, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1)))).toBe("TDX_MODULE_ATTRIBUTES_MISMATCH");
  });
  it("module version 0 → only tdxModule is compared, no module status", () => {
    expect(checkTdxModule(info(), svn(6, 0, 3), zero48, zero8)).toBeUndefined();
  });
});

describe("QE identity policy on the real QE report", () => {
  const qe = () => parseQeIdentity(tdxCollateral().qeIdentity);
  const report = () => ({ ...parseQuote(tdxQuote()).qeReport });
  it("the real QE report → UpToDate", () => {
    expect(checkQeIdentity(qe(), report())).toEqual({ status: "UpToDate", advisoryIds: [] });
  });
  it("each mismatch has its own code", () => {
    expect(code(() => checkQeIdentity(qe(), { ...report(), mrSigner: new Uint8Array(32) }))).toBe("QE_MRSIGNER_MISMATCH");
    const dbg = report();
    dbg.attributes = dbg.attributes.slice();
    dbg.attributes[0]! |= 0x02;
    expect(code(() => checkQeIdentity(qe(), dbg))).toBe("QE_DEBUG");
    expect(code(() => checkQeIdentity(qe(), { ...report(), isvProdId: 1 }))).toBe("QE_ISVPRODID_MISMATCH");
    expect(code(() => checkQeIdentity(qe(), { ...report(), miscSelect: 1 }))).toBe("QE_MISCSELECT_MISMATCH");
    const attr = report();
    attr.attributes = attr.attributes.slice();
    attr.attributes[1] = 0x01;
    expect(code(() => checkQeIdentity(qe(), attr))).toBe("QE_ATTRIBUTES_MISMATCH");
    // bit 0x04 of byte 0 is masked out by attributesMask FB…
    const masked = report();
    masked.attributes = masked.attributes.slice();
    masked.attributes[0]! ^= 0x04;
    expect(checkQeIdentity(qe(), masked).status).toBe("UpToDate");
    expect(code(() => checkQeIdentity(qe(), { ...report(), isvSvn: 3 }))).toBe("QE_TCB_LEVEL_NOT_FOUND");
  });
});

describe("strict document parsing", () => {
  it("RFC 3339 dates need an explicit zone and a real calendar date", () => {
    expect(parseRfc3339("2025-06-19T10:16:03Z")).toBe(1750328163);
    expect(parseRfc3339("2025-06-19T12:16:03+02:00")).toBe(1750328163);
    expect(parseRfc3339("2025-06-19T10:16:03.999Z")).toBe(1750328163);
    for (const bad of ["2025-06-19T10:16:03", "2025-06-19 10:16:03Z", "2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", "", "1750328163"]) {
      expect(parseRfc3339(bad), bad).toBeUndefined();
    }
  });
  it("names the missing or bad field of a TCB info / QE identity", () => {
    const doc = JSON.parse(tdxCollateral().tcbInfo) as Record<string, unknown>;
    delete doc.fmspc;
    expect(() => parseTcbInfo(JSON.stringify(doc))).toThrow(/tcb_info: fmspc is missing/);
    const qd = JSON.parse(tdxCollateral().qeIdentity) as Record<string, unknown>;
    qd.mrsigner = "00";
    expect(() => parseQeIdentity(JSON.stringify(qd))).toThrow(/qe_identity: mrsigner must be 32 bytes of hex/);
    expect(code(() => parseQeIdentity("[]"))).toBe("QE_IDENTITY_INVALID");
  });
});
