/**
 * Offline SEV-SNP verification over real reports: go-sev-guest's v2 Milan report with its VCEK and
 * AMD's Milan ASK/ARK, dstack's V0 SEV-SNP attestation with its VCEK and ASK (and the dstack verifier's
 * fixture, which carries them in its cert_chain), and each failure at its named step.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { AMD_ARKS, AMD_PRODUCTS } from "../../src/dstack/platforms/amd-roots.js";
import { amdCertificatesFromFile, SnpVerificationError, sortAmdCertificates, verifySnpReport, verifySnpReportOrThrow, type SnpVerifyOptions } from "../../src/dstack/platforms/sev-snp-verify.js";

const DIR = new URL("../fixtures/sev-snp/", import.meta.url);
const file = (name: string) => new Uint8Array(readFileSync(new URL(name, DIR)));
const certs = (name: string) => sortAmdCertificates(amdCertificatesFromFile(file(name), name), name);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const milan = certs("amd-milan-ask-ark.pem");
const genoa = certs("amd-genoa-ask-ark.pem");
const goReport = file("go-sev-guest-report-v2-milan.bin");
const goVcek = file("go-sev-guest-vcek-milan.der");
const dstackAttestation = decodeDstackAttestation(file("dstack-sev-snp-attestation-v0.bin"));
const dstackVcek = certs("dstack-sev-snp-vcek.pem").vcek!;
const dstackAsk = certs("dstack-sev-snp-ask-milan.pem").ask!;
/** 2027-01-01: inside both VCEKs' validity (2022-09-24 … 2029-09-24 and 2026-06-17 … 2033-06-17). */
const NOW = Date.UTC(2027, 0, 1) / 1000;

const goOpts: SnpVerifyOptions = { vcekDer: goVcek, askDer: milan.ask!, arkDer: milan.ark!, now: NOW };

/** The failure of `f`: an `SnpVerificationError` with its code and the failed (last) step. */
function failure(f: () => unknown): { code: string; step: string | undefined; checks: string[] } {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SnpVerificationError)) throw e;
    const last = e.checks[e.checks.length - 1];
    expect(last?.ok).toBe(false);
    return { code: e.code, step: last?.name, checks: e.checks.map((c) => c.name) };
  }
  throw new Error("expected an SnpVerificationError");
}

describe("pinned AMD ARKs", () => {
  it("each pinned ARK is the second certificate of AMD's cert_chain of the product, with its SHA-256", () => {
    for (const p of AMD_PRODUCTS) {
      const chain = certs(`amd-${p.toLowerCase()}-ask-ark.pem`);
      expect(sha256(AMD_ARKS[p].der)).toBe(AMD_ARKS[p].sha256);
      expect(Buffer.from(chain.ark!).equals(Buffer.from(AMD_ARKS[p].der))).toBe(true);
    }
    expect(new Set(AMD_PRODUCTS.map((p) => AMD_ARKS[p].sha256)).size).toBe(3);
  });
});

describe("verifySnpReport: go-sev-guest v2 Milan report", () => {
  it("verifies with its VCEK and the Milan ASK/ARK; the debug policy rule refuses it, --allow-debug accepts it", () => {
    const r = verifySnpReport(goReport, goOpts);
    expect(r.verification.ok).toBe(true);
    expect(r.verification.checks.map((c) => c.name)).toEqual(["report.parse", "vcek.parse", "report.product", "chain.ark", "chain.ask", "chain.vcek", "chain.validity", "vcek.chip-id", "vcek.tcb", "report.signature"]);
    expect(r.verification.checks.every((c) => c.ok)).toBe(true);
    expect(r.product).toBe("Milan");
    expect(r.report.version).toBe(2);
    expect(r.report.vmpl).toBe(0);
    expect(r.report.policy).toBe("0x00000000000b0000");
    // 4901323769462652930 = 0x4405000000000002
    expect(r.report.reportedTcb).toBe(`0x${4901323769462652930n.toString(16).padStart(16, "0")}`);
    expect(r.report.reportedTcbLevels).toEqual({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    expect(r.report.reportData).toBe(`0x0102030405${"00".repeat(59)}`);
    expect(String(r.report.chipId).startsWith("0x3ac3fe21")).toBe(true);
    expect(r.vcek.hwId).toBe(r.report.chipId);
    expect(r.ok).toBe(false);
    expect(r.policy.rules.find((x) => !x.ok)?.name).toBe("snp.policy.debug");
    expect(r.policy.rules.find((x) => x.name === "snp.policy.smt")?.detail).toMatch(/SMT allowed/);
    expect(r.policy.rules.find((x) => x.name === "snp.policy.migrate-ma")?.detail).toBe("no migration agent");
    const f = failure(() => verifySnpReportOrThrow(goReport, goOpts));
    expect(f).toMatchObject({ code: "SNP_POLICY_REFUSED", step: "report.policy" });
    const allowed = verifySnpReportOrThrow(goReport, { ...goOpts, allowDebug: true });
    expect(allowed.ok).toBe(true);
    expect(allowed.policy.rules.every((x) => x.ok)).toBe(true);
  });

  it("the pinned ARK is used when none is given", () => {
    const { arkDer: _ark, ...noArk } = goOpts;
    const r = verifySnpReport(goReport, noArk);
    expect(r.verification.checks.find((c) => c.name === "chain.ark")?.detail).toMatch(/^pinned ARK-Milan/);
  });

  it("a flipped report_data byte fails report.signature", () => {
    const bad = Uint8Array.from(goReport);
    bad[0x50]! ^= 0x01;
    expect(failure(() => verifySnpReport(bad, goOpts))).toMatchObject({ code: "SNP_REPORT_SIGNATURE_INVALID", step: "report.signature" });
  });

  it("a flipped signature byte fails report.signature", () => {
    const bad = Uint8Array.from(goReport);
    bad[0x2a0]! ^= 0x01;
    expect(failure(() => verifySnpReport(bad, goOpts))).toMatchObject({ code: "SNP_REPORT_SIGNATURE_INVALID", step: "report.signature" });
  });

  it("another chip's VCEK (dstack's, also AMD-signed) fails vcek.chip-id", () => {
    expect(failure(() => verifySnpReport(goReport, { ...goOpts, vcekDer: dstackVcek }))).toMatchObject({ code: "SNP_CHIP_ID_MISMATCH", step: "vcek.chip-id" });
  });

  it("a Genoa ARK for the Milan chain fails chain.ark", () => {
    expect(failure(() => verifySnpReport(goReport, { ...goOpts, arkDer: genoa.ark! }))).toMatchObject({ code: "SNP_ARK_NOT_PINNED", step: "chain.ark" });
  });

  it("the Genoa ASK for a Milan VCEK fails chain.ask", () => {
    expect(failure(() => verifySnpReport(goReport, { ...goOpts, askDer: genoa.ask! }))).toMatchObject({ code: "SNP_CHAIN_INVALID", step: "chain.ask" });
  });

  it("an ASK with its last DER byte flipped fails chain.ask", () => {
    const ask = Uint8Array.from(milan.ask!);
    ask[ask.length - 1]! ^= 0x01;
    expect(failure(() => verifySnpReport(goReport, { ...goOpts, askDer: ask }))).toMatchObject({ code: "SNP_CHAIN_INVALID", step: "chain.ask" });
  });

  it("a time before or after the VCEK's validity fails chain.validity", () => {
    for (const now of [Date.UTC(2022, 0, 1) / 1000, Date.UTC(2030, 0, 1) / 1000]) {
      expect(failure(() => verifySnpReport(goReport, { ...goOpts, now }))).toMatchObject({ code: "SNP_CERT_NOT_VALID_AT", step: "chain.validity" });
    }
  });

  it("a report whose reported_tcb differs from the VCEK's TCB fails vcek.tcb", () => {
    const bad = Uint8Array.from(goReport);
    bad[0x187] = 69; // microcode SPL 68 → 69
    const f = failure(() => verifySnpReport(bad, goOpts));
    expect(f).toMatchObject({ code: "SNP_TCB_MISMATCH", step: "vcek.tcb" });
  });

  it("the ASK given as the VCEK fails vcek.parse", () => {
    expect(failure(() => verifySnpReport(goReport, { ...goOpts, vcekDer: milan.ask! }))).toMatchObject({ code: "SNP_CERT_INVALID", step: "vcek.parse" });
  });
});

describe("verifySnpReport: dstack V0 SEV-SNP attestation", () => {
  it("verifies with its VCEK and ASK under the pinned Milan ARK; fields as the dstack fixture states", () => {
    expect(dstackAttestation.platform).toBe("sev-snp");
    const r = verifySnpReportOrThrow(dstackAttestation.evidence, { vcekDer: dstackVcek, askDer: dstackAsk, now: NOW });
    expect(r.ok).toBe(true);
    expect(r.verification.checks.every((c) => c.ok)).toBe(true);
    expect(r.report.version).toBe(3);
    expect(r.report.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 1 });
    expect(r.report.policy).toBe("0x0000000000030000");
    expect(r.report.reportedTcb).toBe("0xd517000000000004");
    expect(r.report.reportedTcbLevels).toEqual({ bootloader: 4, tee: 0, snp: 23, microcode: 213 });
    const marker = Buffer.alloc(64);
    marker.write("attest-test-fixture-2026", "latin1");
    expect(r.report.reportData).toBe(`0x${marker.toString("hex")}`);
    expect(String(r.report.hostData).startsWith("0x783f0057")).toBe(true);
    expect(String(r.report.hostData).endsWith("680f742f")).toBe(true);
    expect(String(r.report.chipId).startsWith("0x38d17458")).toBe(true);
    expect(r.report.measurement).not.toBe(`0x${"00".repeat(48)}`);
  });

  it("the dstack verifier's fixture carries the same signed report and, in its cert_chain, the ASK and VCEK that verify it", () => {
    const json = JSON.parse(readFileSync(new URL("dstack-verifier-sev-snp-attestation.json", DIR), "utf8")) as { attestation: string };
    const a = decodeDstackAttestation(new Uint8Array(Buffer.from(json.attestation.replace(/^0x/, ""), "hex")));
    expect(Buffer.from(a.evidence).equals(Buffer.from(dstackAttestation.evidence))).toBe(true);
    const chain = sortAmdCertificates(a.snp!.certChain.flatMap((c, i) => amdCertificatesFromFile(c, `cert_chain ${i}`)), "cert_chain");
    expect(Buffer.from(chain.vcek!).equals(Buffer.from(dstackVcek))).toBe(true);
    const r = verifySnpReportOrThrow(a.evidence, { vcekDer: chain.vcek!, askDer: chain.ask!, now: NOW });
    expect(r.ok).toBe(true);
  });

  it("a zeroed report and a report truncated by 200 bytes are refused before any step", () => {
    expect(() => verifySnpReport(new Uint8Array(1184), { vcekDer: dstackVcek, askDer: dstackAsk, now: NOW })).toThrow(expect.objectContaining({ code: "SNP_REPORT_MALFORMED" }));
    expect(() => verifySnpReport(dstackAttestation.evidence.subarray(0, 984), { vcekDer: dstackVcek, askDer: dstackAsk, now: NOW })).toThrow(expect.objectContaining({ code: "SNP_REPORT_MALFORMED" }));
  });

  it("host_data and measurement flips fail report.signature", () => {
    for (const off of [0x90, 0xc0]) {
      const bad = Uint8Array.from(dstackAttestation.evidence);
      bad[off]! ^= 0x01;
      expect(failure(() => verifySnpReport(bad, { vcekDer: dstackVcek, askDer: dstackAsk, now: NOW }))).toMatchObject({ step: "report.signature" });
    }
  });
});
