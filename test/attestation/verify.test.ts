import { createHash } from "node:crypto";

import { describe, expect, it } from "vitest";

import { KmsRegistryError, UsageError } from "../../src/core/errors.js";
import { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from "../../src/dcap/intel-root.js";
import { createVerificationCache } from "../../src/dcap/cache.js";
import {
  checkQuote,
  QuoteVerificationError,
  verifyQuote,
  verifyQuoteSignatures,
  type VerifyOptions,
} from "../../src/dcap/verify.js";
import { QuoteParseError } from "../../src/dcap/quote.js";
import { parseSgxExtension } from "../../src/dcap/sgx-extension.js";
import { parseCertificate, parseCrl, pemBlocks } from "../../src/dcap/x509.js";
import type { Collateral } from "../../src/dcap/types.js";
import {
  fixtureBytes,
  hex,
  liteQuote,
  SGX_NOW,
  SGX_WINDOW,
  sgxCollateral,
  sgxQuote,
  TDX_NOW,
  TDX_WINDOW,
  tdxCollateral,
  tdxQuote,
} from "./real-fixtures.js";

function failure(quote: Uint8Array, opts: VerifyOptions): QuoteVerificationError {
  try {
    verifyQuote(quote, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(QuoteVerificationError);
    const err = e as QuoteVerificationError;
    // the last check is the failing one, all others passed
    expect(err.checks.at(-1)?.ok).toBe(false);
    expect(err.checks.slice(0, -1).every((c) => c.ok)).toBe(true);
    return err;
  }
  throw new Error("expected verification to fail");
}

const flip = (b: Uint8Array, off: number, mask = 0x01): Uint8Array => {
  const c = b.slice();
  c[off]! ^= mask;
  return c;
};

describe("the pinned Intel SGX Root CA", () => {
  it("is the 659-byte DER with Intel's published SHA-256 and equals the fixture", () => {
    expect(INTEL_SGX_ROOT_CA_DER.length).toBe(659);
    expect(createHash("sha256").update(INTEL_SGX_ROOT_CA_DER).digest("hex")).toBe(INTEL_SGX_ROOT_CA_SHA256);
    expect(INTEL_SGX_ROOT_CA_SHA256).toBe("44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    expect(hex(INTEL_SGX_ROOT_CA_DER)).toBe(hex(fixtureBytes("intel_sgx_root_ca.der")));
    const root = parseCertificate(INTEL_SGX_ROOT_CA_DER);
    expect(root.serial).toBe("22650cd65a9d3489f383b49552bf501b392706ac");
    expect(root.isCa).toBe(true);
    expect(root.pathLen).toBe(1);
    expect(root.notBefore).toBe(Date.UTC(2018, 4, 21, 10, 45, 10) / 1000);
    expect(root.notAfter).toBe(Date.UTC(2049, 11, 31, 23, 59, 59) / 1000);
    expect(hex(root.spki.subarray(-64))).toBe(
      "0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394",
    );
  });
});

describe("verifyQuote on the real fixtures", () => {
  it("tdx_quote + collateral at 1752919234 → UpToDate, no advisories, every step recorded", () => {
    const r = verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(r.status).toBe("UpToDate");
    expect(r.advisoryIds).toEqual([]);
    expect(r.genuine).toBe(true);
    expect(r.platformStatus).toEqual({ status: "UpToDate", advisoryIds: [] });
    expect(r.qeStatus).toEqual({ status: "UpToDate", advisoryIds: [] });
    expect(r.warnings).toEqual(["70 bytes after the signature data were ignored"]);
    expect(r.checks.map((c) => c.name)).toEqual([
      "quote.parse",
      "quote.header",
      "root-ca.crl",
      "tcb-info.validity",
      "tcb-info.chain",
      "tcb-info.signature",
      "qe-identity.validity",
      "qe-identity.chain",
      "qe-identity.signature",
      "qe-identity.id",
      "pck.chain",
      "pck.extension",
      "qe-report.signature",
      "qe-report.binding",
      "qe-identity.policy",
      "quote.signature",
      "tcb.fmspc",
      "tcb.level",
      "tcb.tdx-module",
      "tcb.status",
      "report.policy",
    ]);
    expect(r.checks.every((c) => c.ok)).toBe(true);
    // intermediate values of the real quote (test/fixtures/dcap/README.md)
    expect(r.checks.find((c) => c.name === "tcb.level")?.detail).toBe("level 2024-03-13T00:00:00Z → UpToDate");
    expect(r.checks.find((c) => c.name === "tcb.tdx-module")?.detail).toContain("TDX_01) → UpToDate");
    expect(r.checks.find((c) => c.name === "qe-identity.policy")?.detail).toBe("QE ISVSVN 6 → UpToDate");
    expect(r.pck).toEqual({
      fmspc: "0xb0c06f000000",
      pceId: "0x0000",
      ca: "platform",
      ppid: "0x811dca2a26b952e85bb6448b097ba4fd",
      cpuSvn: "0x03030202040100050000000000000000",
      pceSvn: 11,
      sgxType: 1,
    });
    expect(r.report.type).toBe("td10");
    expect(r.report.teeTcbSvn).toBe("0x06010300000000000000000000000000");
    expect(r.report.tdAttributes).toBe("0x0000001000000000");
    expect(r.report.xfam).toBe("0xe702060000000000");
    expect(String(r.report.mrTd)).toMatch(/^0x91eb2b44d141d4ec/);
    expect(String(r.report.reportData)).toMatch(/^0x9a9d48e7f6799642/);
    for (const k of ["mrTd", "rtMr0", "rtMr1", "rtMr2", "rtMr3", "reportData", "mrSeam", "mrSignerSeam", "seamAttributes", "tdAttributes", "xfam", "mrConfigId", "mrOwner", "mrOwnerConfig", "teeTcbSvn"]) {
      expect(r.report[k], k).toMatch(/^0x[0-9a-f]+$/);
    }
    expect(r.collateral).toEqual({
      tcbInfoIssueDate: "2025-06-19T10:16:03Z",
      tcbInfoNextUpdate: "2025-07-19T10:16:03Z",
      qeIdentityIssueDate: "2025-06-19T10:32:27Z",
      qeIdentityNextUpdate: "2025-07-19T10:32:27Z",
      pckCrlThisUpdate: "2025-06-19T10:00:35Z",
      pckCrlNextUpdate: "2025-07-19T10:00:35Z",
      rootCaCrlThisUpdate: "2025-03-20T11:21:57Z",
      rootCaCrlNextUpdate: "2026-04-03T11:21:57Z",
      // the end of the fixture's valid window (its README): the PCK CRL's nextUpdate
      earliestNextUpdate: "2025-07-19T10:00:35Z",
    });
  });

  it("sgx_quote + collateral at 1752919277 → ConfigurationAndSWHardeningNeeded with INTEL-SA-00289, INTEL-SA-00615", () => {
    const r = verifyQuote(sgxQuote(), { collateral: sgxCollateral(), now: SGX_NOW });
    expect(r.status).toBe("ConfigurationAndSWHardeningNeeded");
    expect(r.advisoryIds).toEqual(["INTEL-SA-00289", "INTEL-SA-00615"]);
    expect(r.report.type).toBe("sgx");
    expect(r.pck.ca).toBe("processor");
    expect(r.pck.cpuSvn).toBe("0x0b0b0202ff0100000000000000000000");
    expect(r.pck.pceSvn).toBe(13);
    expect(r.pck.ppid).toBe("0xd04ec06d4e6d92dc90d0ad3cf5ee2ddf");
    expect(r.pck.sgxType).toBe(0);
    expect(r.qeStatus.status).toBe("UpToDate");
    expect(r.checks.some((c) => c.name === "tcb.tdx-module")).toBe(false);
    // the end of the SGX fixture's window is the QE identity's nextUpdate
    expect(r.collateral.earliestNextUpdate).toBe("2025-07-19T10:01:18Z");
    expect(new Date(r.collateral.earliestNextUpdate).getTime() / 1000).toBe(SGX_WINDOW.to);
  });

  it("is valid over the whole window, inclusive, and fails one second outside it", () => {
    for (const now of [TDX_WINDOW.from, TDX_NOW, TDX_WINDOW.to]) {
      expect(verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now }).status).toBe("UpToDate");
    }
    const late = failure(tdxQuote(), { collateral: tdxCollateral(), now: TDX_WINDOW.to + 1 });
    expect(late.code).toBe("PCK_CRL_EXPIRED");
    expect(late.message).toContain("pck_crl: expired at nextUpdate 2025-07-19T10:00:35Z");
    const early = failure(tdxQuote(), { collateral: tdxCollateral(), now: TDX_WINDOW.from - 1 });
    expect(early.code).toBe("QE_IDENTITY_NOT_YET_VALID");
    expect(verifyQuote(sgxQuote(), { collateral: sgxCollateral(), now: SGX_WINDOW.to }).status).toBe("ConfigurationAndSWHardeningNeeded");
    // for the SGX sample the earliest nextUpdate is the QE identity's (10:01:18Z)
    expect(failure(sgxQuote(), { collateral: sgxCollateral(), now: SGX_WINDOW.to + 1 }).code).toBe("QE_IDENTITY_EXPIRED");
    expect(failure(sgxQuote(), { collateral: sgxCollateral(), now: SGX_WINDOW.from - 1 }).code).toBe("TCB_INFO_NOT_YET_VALID");
  });

  it("each later expiry is reported by the step that owns it", () => {
    const c = tdxCollateral();
    // TCB info expires 2025-07-19T10:16:03Z; QE identity 10:32:27Z; both after the PCK CRL
    expect(failure(tdxQuote(), { collateral: c, now: Date.UTC(2025, 6, 19, 10, 16, 4) / 1000 }).code).toBe("TCB_INFO_EXPIRED");
    expect(failure(tdxQuote(), { collateral: c, now: Date.UTC(2026, 3, 3, 11, 21, 58) / 1000 }).code).toBe("ROOT_CA_CRL_EXPIRED");
  });

  it("the PCK CRL lists 44 serials, none in the chain", () => {
    const crl = parseCrl(tdxCollateral().pckCrl);
    expect(crl.revoked.size).toBe(44);
    const q = tdxQuote();
    const chain = pemBlocks(Buffer.from(q.subarray(1258, 1258 + 3678)).toString("latin1")).map((d) => parseCertificate(d));
    expect(chain).toHaveLength(3);
    for (const c of chain) expect(crl.revoked.has(c.serial)).toBe(false);
    const ext = parseSgxExtension(chain[0]!);
    expect(hex(ext.platformInstanceId!)).toBe("07828474603e7019dc930775ffe8cdd2");
  });
});

describe("verifyQuote rejections with the real data (byte flips, swapped collateral)", () => {
  const ok = (): VerifyOptions => ({ collateral: tdxCollateral(), now: TDX_NOW });

  it("a flipped byte in the signed region → quote signature invalid", () => {
    for (const off of [0 + 8, 48 + 520, 631]) {
      const e = failure(flip(tdxQuote(), off), ok());
      expect(e.code).toBe("QUOTE_SIGNATURE_INVALID");
      expect(e.checks.at(-1)?.name).toBe("quote.signature");
    }
  });

  it("a flipped byte of the quote signature → quote signature invalid", () => {
    expect(failure(flip(tdxQuote(), 640), ok()).code).toBe("QUOTE_SIGNATURE_INVALID");
  });

  it("a flipped byte of the QE report or its signature → QE report signature invalid", () => {
    expect(failure(flip(tdxQuote(), 770 + 100), ok()).code).toBe("QE_REPORT_SIGNATURE_INVALID");
    expect(failure(flip(tdxQuote(), 1160), ok()).code).toBe("QE_REPORT_SIGNATURE_INVALID");
  });

  it("a flipped attestation key or QE auth data byte → QE report binding mismatch", () => {
    expect(failure(flip(tdxQuote(), 710), ok()).code).toBe("QE_REPORT_BINDING_MISMATCH");
    expect(failure(flip(tdxQuote(), 1230), ok()).code).toBe("QE_REPORT_BINDING_MISMATCH");
  });

  it("a modified PCK leaf certificate → PCK chain signature invalid", () => {
    const q = tdxQuote();
    // change one base64 character in the middle of the first PEM block (inside tbsCertificate)
    const pemStart = 1258;
    const text = Buffer.from(q.subarray(pemStart, pemStart + 3678)).toString("latin1");
    const pos = text.indexOf("\n", 400) + 1;
    const c = q.slice();
    c[pemStart + pos] = c[pemStart + pos] === 0x41 ? 0x42 : 0x41;
    const e = failure(c, ok());
    expect(["PCK_CERT_SIGNATURE_INVALID", "PCK_CHAIN_MALFORMED", "PCK_SGX_EXTENSION_INVALID"]).toContain(e.code);
  });

  it("a wrong QE vendor id is a header error", () => {
    const e = failure(flip(tdxQuote(), 12), ok());
    expect(e.code).toBe("QUOTE_HEADER_INVALID");
  });

  it("swapped CRLs → the root CRL is not issued by the root", () => {
    const c = tdxCollateral();
    const e = failure(tdxQuote(), { collateral: { ...c, rootCaCrl: c.pckCrl, pckCrl: c.rootCaCrl }, now: TDX_NOW });
    expect(e.code).toBe("ROOT_CA_CRL_ISSUER_MISMATCH");
  });

  it("the root CRL in place of the PCK CRL → PCK CRL issuer mismatch (decision 5)", () => {
    const c = tdxCollateral();
    const e = failure(tdxQuote(), { collateral: { ...c, pckCrl: c.rootCaCrl }, now: TDX_NOW });
    expect(e.code).toBe("PCK_CRL_ISSUER_MISMATCH");
  });

  it("the Processor-CA CRL for a Platform-CA PCK → PCK CRL issuer mismatch", () => {
    const c = tdxCollateral();
    const e = failure(tdxQuote(), { collateral: { ...c, pckCrl: sgxCollateral().pckCrl }, now: TDX_NOW });
    expect(e.code).toBe("PCK_CRL_ISSUER_MISMATCH");
  });

  it("a CRL with a flipped signature byte → CRL signature invalid", () => {
    const c = tdxCollateral();
    const root = flip(c.rootCaCrl, c.rootCaCrl.length - 5);
    expect(failure(tdxQuote(), { collateral: { ...c, rootCaCrl: root }, now: TDX_NOW }).code).toBe("ROOT_CA_CRL_SIGNATURE_INVALID");
    const pck = flip(c.pckCrl, c.pckCrl.length - 5);
    expect(failure(tdxQuote(), { collateral: { ...c, pckCrl: pck }, now: TDX_NOW }).code).toBe("PCK_CRL_SIGNATURE_INVALID");
  });

  it("undecodable CRL bytes → a CRL error, not an exception", () => {
    const c = tdxCollateral();
    expect(failure(tdxQuote(), { collateral: { ...c, pckCrl: new Uint8Array([0x30, 0x03, 1, 2]) }, now: TDX_NOW }).code).toBe("PCK_CRL_INVALID");
    expect(failure(tdxQuote(), { collateral: { ...c, rootCaCrl: new Uint8Array() }, now: TDX_NOW }).code).toBe("ROOT_CA_CRL_INVALID");
  });

  it("tcb_info changed by one character, or its signature flipped → TCB info signature invalid", () => {
    const c = tdxCollateral();
    const text = c.tcbInfo.replace('"tcbEvaluationDataNumber":', '"tcbEvaluationDataNumber": ');
    expect(text).not.toBe(c.tcbInfo);
    expect(failure(tdxQuote(), { collateral: { ...c, tcbInfo: text }, now: TDX_NOW }).code).toBe("TCB_INFO_SIGNATURE_INVALID");
    expect(failure(tdxQuote(), { collateral: { ...c, tcbInfoSignature: flip(c.tcbInfoSignature, 3) }, now: TDX_NOW }).code).toBe("TCB_INFO_SIGNATURE_INVALID");
    expect(failure(tdxQuote(), { collateral: { ...c, qeIdentitySignature: flip(c.qeIdentitySignature, 40) }, now: TDX_NOW }).code).toBe("QE_IDENTITY_SIGNATURE_INVALID");
  });

  it("tcb_info that is not the TCB info object → TCB_INFO_INVALID naming the field", () => {
    const c = tdxCollateral();
    let e = failure(tdxQuote(), { collateral: { ...c, tcbInfo: "{not json" }, now: TDX_NOW });
    expect(e.code).toBe("TCB_INFO_INVALID");
    e = failure(tdxQuote(), { collateral: { ...c, tcbInfo: c.tcbInfo.replace('"UpToDate"', '"Great"') }, now: TDX_NOW });
    expect(e.code).toBe("TCB_INFO_INVALID");
    expect(e.message).toContain("tcbStatus");
  });

  it("an empty issuer chain or one that does not lead to the root is rejected", () => {
    const c = tdxCollateral();
    expect(failure(tdxQuote(), { collateral: { ...c, tcbInfoIssuerChain: "" }, now: TDX_NOW }).code).toBe("TCB_INFO_CHAIN_EMPTY");
    // the PCK CRL issuer chain starts with the PCK Platform CA: only the TCB Signing certificate may sign
    const e = failure(tdxQuote(), { collateral: { ...c, qeIdentityIssuerChain: c.pckCrlIssuerChain }, now: TDX_NOW });
    expect(e.code).toBe("TCB_SIGNER_NOT_TCB_SIGNING");
    expect(e.message).toContain('the signer "CN=Intel SGX PCK Platform CA, O=Intel Corporation');
    expect(e.message).toContain("is not the Intel SGX TCB Signing certificate");
    // the TCB signing chain without its root still validates (trust comes from the pinned root)
    const signerOnly = `${c.tcbInfoIssuerChain.split("-----END CERTIFICATE-----")[0]}-----END CERTIFICATE-----\n`;
    expect(verifyQuote(tdxQuote(), { collateral: { ...c, tcbInfoIssuerChain: signerOnly }, now: TDX_NOW }).status).toBe("UpToDate");
  });

  it("SGX collateral for the TDX quote → QE identity / TCB info mismatch", () => {
    const s = sgxCollateral();
    const t = tdxCollateral();
    // times: pick one where both collaterals are valid
    const now = TDX_NOW;
    const e = failure(tdxQuote(), { collateral: { ...t, qeIdentity: s.qeIdentity, qeIdentitySignature: s.qeIdentitySignature }, now });
    expect(e.code).toBe("QE_IDENTITY_MISMATCH");
    const e2 = failure(tdxQuote(), { collateral: { ...t, tcbInfo: s.tcbInfo, tcbInfoSignature: s.tcbInfoSignature }, now });
    expect(e2.code).toBe("FMSPC_MISMATCH");
  });

  it("another root CA → the real chain does not lead to it", () => {
    // use the Intel PCK Platform CA certificate as a 'root'
    const platformCa = pemBlocks(tdxCollateral().pckCrlIssuerChain)[0]!;
    const e = failure(tdxQuote(), { ...ok(), rootCaDer: platformCa });
    expect(e.code).toBe("ROOT_CA_CRL_ISSUER_MISMATCH");
  });

  it("a quote that does not parse throws QuoteParseError (an InputError)", () => {
    expect(() => verifyQuote(tdxQuote().subarray(0, 100), ok())).toThrow(QuoteParseError);
  });
});

describe("the verification time is mandatory (decision 4)", () => {
  for (const now of [undefined, Number.NaN, 1.5, Infinity, -1, "1752919234", null]) {
    it(`now = ${String(now)} → UsageError, never "skip the time checks"`, () => {
      expect(() => verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: now as number })).toThrow(UsageError);
      expect(() => verifyQuoteSignatures(tdxQuote(), { now: now as number })).toThrow(UsageError);
      const r = checkQuote(tdxQuote(), { collateral: tdxCollateral(), now: now as number });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe("USAGE");
    });
  }
});

describe("checkQuote", () => {
  it("returns the result or the error with the checks that ran, never throws", () => {
    const good = checkQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(good.ok).toBe(true);
    const bad = checkQuote(flip(tdxQuote(), 100), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe("QUOTE_SIGNATURE_INVALID");
      expect(bad.checks.filter((c) => c.ok).length).toBe(15);
    }
    const garbage = checkQuote(new Uint8Array(10), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) expect(garbage.checks).toEqual([expect.objectContaining({ name: "quote.parse", ok: false })]);
    const noColl = checkQuote(tdxQuote(), { collateral: undefined as unknown as Collateral, now: TDX_NOW });
    expect(noColl.ok).toBe(false);
    // an unusable root is not a quote problem: no quote.parse check is invented
    const badRoot = checkQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW, rootCaDer: new Uint8Array([0x30, 0x01]) });
    expect(badRoot).toMatchObject({ ok: false, error: { code: "BAD_DER" }, checks: [] });
  });
});

describe("the verification cache", () => {
  it("gives identical results and identical errors with and without a cache", () => {
    const cache = createVerificationCache();
    const cases: [Uint8Array, () => Collateral, number][] = [
      [tdxQuote(), tdxCollateral, TDX_NOW],
      [sgxQuote(), sgxCollateral, SGX_NOW],
      [tdxQuote(), tdxCollateral, TDX_WINDOW.to + 1],
      [flip(tdxQuote(), 300), tdxCollateral, TDX_NOW],
      [tdxQuote(), tdxCollateral, TDX_WINDOW.from - 1],
      [flip(tdxQuote(), 1160), tdxCollateral, TDX_NOW],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [q, c, now] of cases) {
        const plain = checkQuote(q, { collateral: c(), now });
        const cached = checkQuote(q, { collateral: c(), now, cache });
        expect(cached).toEqual(plain);
      }
    }
    expect(cache.size).toBeGreaterThan(0);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("a caller changing its collateral buffers in place after a call does not change what the cache returns", () => {
    const cache = createVerificationCache();
    const c = tdxCollateral();
    const pristine = { ...c, pckCrl: c.pckCrl.slice(), rootCaCrl: c.rootCaCrl.slice() };
    expect(verifyQuote(tdxQuote(), { collateral: c, now: TDX_NOW, cache }).status).toBe("UpToDate");
    // the caller reuses its buffers: the PCK CRL's signature and the root CRL's body change in place
    c.pckCrl[c.pckCrl.length - 5]! ^= 1;
    c.rootCaCrl[40]! ^= 1;
    const changed = checkQuote(tdxQuote(), { collateral: c, now: TDX_NOW, cache });
    expect(changed).toEqual(checkQuote(tdxQuote(), { collateral: c, now: TDX_NOW }));
    expect(changed.ok).toBe(false);
    // the original bytes (other buffers) still verify, with and without the cache
    expect(checkQuote(tdxQuote(), { collateral: pristine, now: TDX_NOW, cache })).toEqual(checkQuote(tdxQuote(), { collateral: pristine, now: TDX_NOW }));
    expect(verifyQuote(tdxQuote(), { collateral: pristine, now: TDX_NOW, cache }).status).toBe("UpToDate");
  });

  it("a signature outcome cached for one encoding is never reused for the other (DER vs raw r‖s)", async () => {
    const { verifyP256 } = await import("../../src/dcap/p256.js");
    const q = tdxQuote();
    const leaf = parseCertificate(pemBlocks(Buffer.from(q.subarray(1258, 1258 + 3678)).toString("latin1"))[0]!);
    const pckCa = parseCertificate(pemBlocks(Buffer.from(q.subarray(1258, 1258 + 3678)).toString("latin1"))[1]!);
    const cache = createVerificationCache();
    // the leaf's DER signature by its CA is valid as DER …
    expect(verifyP256(pckCa.spki, leaf.tbs, leaf.signature, "der", cache)).toBe(true);
    // … and the same bytes are not a raw r‖s signature, cached or not
    expect(verifyP256(pckCa.spki, leaf.tbs, leaf.signature, "raw")).toBe(false);
    expect(verifyP256(pckCa.spki, leaf.tbs, leaf.signature, "raw", cache)).toBe(false);
    expect(verifyP256(pckCa.spki, leaf.tbs, leaf.signature, "der", cache)).toBe(true);
  });
});

describe("verifyQuoteSignatures (no collateral)", () => {
  it("checks dstack's tdx-lite quote: chain to the pinned root, QE report signature and binding, quote signature", () => {
    const now = Date.UTC(2026, 5, 1) / 1000; // inside the PCK leaf's validity (2026-04-15 … 2033-04-15)
    const r = verifyQuoteSignatures(liteQuote(), { now });
    expect(r.genuine).toBe(true);
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ["quote.parse", true],
      ["quote.header", true],
      ["pck.chain", true],
      ["pck.extension", true],
      ["qe-report.signature", true],
      ["qe-report.binding", true],
      ["quote.signature", true],
    ]);
    expect(r.pck.fmspc).toBe("0x90c06f000000");
    expect(r.pck.ca).toBe("platform");
    expect(() => verifyQuoteSignatures(liteQuote(), { now: Date.UTC(2026, 0, 1) / 1000 })).toThrow(/PCK chain: "Intel SGX PCK Certificate" is valid from 2026-04-15/);
    expect(() => verifyQuoteSignatures(flip(liteQuote(), 60), { now })).toThrow(QuoteVerificationError);
  });

  it("also accepts the real tdx_quote and SGX quote", () => {
    expect(verifyQuoteSignatures(tdxQuote(), { now: TDX_NOW }).checks.every((c) => c.ok)).toBe(true);
    expect(verifyQuoteSignatures(sgxQuote(), { now: SGX_NOW }).report.type).toBe("sgx");
  });

  it("errors are KmsRegistryErrors", () => {
    try {
      verifyQuoteSignatures(flip(tdxQuote(), 1160), { now: TDX_NOW });
    } catch (e) {
      expect(e).toBeInstanceOf(KmsRegistryError);
      expect((e as QuoteVerificationError).code).toBe("QE_REPORT_SIGNATURE_INVALID");
      return;
    }
    throw new Error("expected failure");
  });
});

describe("more inputs", () => {
  it("accepts an already parsed Quote", async () => {
    const { parseQuote } = await import("../../src/dcap/quote.js");
    expect(verifyQuote(parseQuote(tdxQuote()), { collateral: tdxCollateral(), now: TDX_NOW }).status).toBe("UpToDate");
  });

  it("pck_certificate_chain in the collateral overrides the quote's chain (e.g. certification type 4)", () => {
    // the inner certification type (offset 1252) is outside every signature: type 4 = 'PCK leaf only'
    const q = tdxQuote();
    q[1252] = 4;
    const c = tdxCollateral();
    expect(failure(q, { collateral: c, now: TDX_NOW }).code).toBe("PCK_CERT_TYPE_UNSUPPORTED");
    const chain = Buffer.from(tdxQuote().subarray(1258, 1258 + 3678)).toString("latin1");
    const r = verifyQuote(q, { collateral: { ...c, pckCertificateChain: chain }, now: TDX_NOW });
    expect(r.status).toBe("UpToDate");
    // another platform's chain (Processor CA): the Platform-CA pck_crl does not belong to its issuer
    const sgxChain = Buffer.from(sgxQuote().subarray(1052, 1052 + 3548)).toString("latin1");
    expect(failure(q, { collateral: { ...c, pckCertificateChain: sgxChain }, now: TDX_NOW }).code).toBe("PCK_CRL_ISSUER_MISMATCH");
    expect(failure(q, { collateral: { ...c, pckCertificateChain: "" }, now: TDX_NOW }).code).toBe("PCK_CHAIN_EMPTY");
  });

  it("an SGX report in a v5 quote parses but is rejected: SGX quotes must be version 3", () => {
    const s = sgxQuote();
    // v5 = header(v5) ‖ type 1 ‖ size 384 ‖ body ‖ L ‖ sig ‖ key ‖ type 6 ‖ size ‖ QE certification data
    const qeCert = s.subarray(564, 436 + 4164);
    const sig = new Uint8Array(128 + 6 + qeCert.length);
    sig.set(s.subarray(436, 564));
    new DataView(sig.buffer).setUint16(128, 6, true);
    new DataView(sig.buffer).setUint32(130, qeCert.length, true);
    sig.set(qeCert, 134);
    const v5 = new Uint8Array(54 + 384 + 4 + sig.length);
    v5.set(s.subarray(0, 48));
    v5[0] = 5;
    v5[48] = 1;
    new DataView(v5.buffer).setUint32(50, 384, true);
    v5.set(s.subarray(48, 432), 54);
    new DataView(v5.buffer).setUint32(438, sig.length, true);
    v5.set(sig, 442);
    const e = failure(v5, { collateral: sgxCollateral(), now: SGX_NOW });
    expect(e.code).toBe("QUOTE_HEADER_INVALID");
    expect(e.message).toContain("SGX quotes must be version 3, got 5");
  });

  it("collateral of the wrong shape (JS callers) is a UsageError, not an internal error", () => {
    const c = { ...tdxCollateral(), pckCrl: "00" as unknown as Uint8Array };
    expect(() => verifyQuote(tdxQuote(), { collateral: c, now: TDX_NOW })).toThrow(/collateral.pckCrl must be a Uint8Array/);
    const d = { ...tdxCollateral(), tcbInfo: { id: "TDX" } as unknown as string };
    expect(() => verifyQuote(tdxQuote(), { collateral: d, now: TDX_NOW })).toThrow(UsageError);
  });
});

describe("isP256Spki (the byte-level key-type gate before any signature check)", () => {
  it("accepts P-256 SPKIs (uncompressed and compressed) and rejects other curves", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { isP256Spki } = await import("../../src/dcap/p256.js");
    const spki = (curve: string) => new Uint8Array(generateKeyPairSync("ec", { namedCurve: curve }).publicKey.export({ format: "der", type: "spki" }));
    expect(isP256Spki(spki("P-256"))).toBe(true);
    expect(isP256Spki(new Uint8Array(Buffer.from(`3039301306072a8648ce3d020106082a8648ce3d03010703220002${"11".repeat(32)}`, "hex")))).toBe(true);
    expect(isP256Spki(spki("secp256k1"))).toBe(false);
    expect(isP256Spki(spki("P-384"))).toBe(false);
    expect(isP256Spki(new Uint8Array(91))).toBe(false);
  });
});
