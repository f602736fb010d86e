/**
 * Hardening #9 item 1: only Intel's TCB Signing certificate may sign TCB Info and QE Identity, the
 * PCK chain has Intel's shape (leaf ← PCK Platform/Processor CA ← root), and the signed JSON may not
 * hold a duplicate key or a `tcbType` other than 0.
 *
 * The attack this closes: a PCK private key extracted from one out-of-date platform signs its own
 * `tcbInfo` saying UpToDate. Before the pin, `tcb-info.chain` accepted any non-CA certificate chaining
 * to the root, so the PCK leaf passed and the forged document verified. Each wrong signer is shown
 * refused at the chain step, before the document signature is tried, with forged worlds and with the
 * real Intel fixture's own PCK chain.
 */
import "reflect-metadata";

import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";

import { createForgeWorld, forgeQuote, forgeSignCollateralText, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { parseQuote } from "../../src/dcap/quote.js";
import { findDuplicateKey } from "../../src/dcap/strict-json.js";
import { parseQeIdentity } from "../../src/dcap/qe-identity.js";
import { parseTcbInfo } from "../../src/dcap/tcb-info.js";
import type { Check, Collateral } from "../../src/dcap/types.js";
import { createVerificationCache } from "../../src/dcap/cache.js";
import { verifyPath, type NamedCrl } from "../../src/dcap/chain.js";
import { verifyP256 } from "../../src/dcap/p256.js";
import { checkQuote, verifyQuote, verifyQuoteSignatures, type VerifyOptions } from "../../src/dcap/verify.js";
import { cachedCrl, parseCertificate, pemBlocks } from "../../src/dcap/x509.js";
import { utf8 } from "../../src/core/bytes.js";
import { sgxCollateral, sgxQuote, SGX_NOW, tdxCollateral, tdxQuote, TDX_NOW } from "./real-fixtures.js";

const SIGNER_CODE = "TCB_SIGNER_NOT_TCB_SIGNING";
const PCK_CODE = "PCK_ISSUER_NOT_PCK_CA";

type Outcome = ReturnType<typeof checkQuote>;

function failed(r: Outcome): { code: string; message: string; checks: Check[] } {
  if (r.ok) throw new Error(`expected a failure, got success (${r.result.status})`);
  return { ...r.error, checks: r.checks };
}

/** The failure happened at `step` (recorded last, everything before it passed) and no later step ran. */
function failedAt(r: Outcome, step: string, code: string, message?: RegExp): { code: string; message: string; checks: Check[] } {
  const e = failed(r);
  expect(e.code).toBe(code);
  if (message) expect(e.message).toMatch(message);
  expect(e.checks.at(-1)).toMatchObject({ name: step, ok: false });
  expect(e.checks.slice(0, -1).every((c) => c.ok)).toBe(true);
  return e;
}

const names = (checks: Check[]): string[] => checks.map((c) => c.name);

async function forged(opts: ForgeWorldOptions = {}, edit?: (c: Collateral, w: ForgeWorld) => Collateral): Promise<Outcome & { world: ForgeWorld }> {
  const world = await createForgeWorld({ seed: "signer-pin", ...opts });
  const quote = await forgeQuote(world);
  const collateral = edit ? edit(world.collateral, world) : world.collateral;
  return { ...checkQuote(quote, { collateral, now: world.now, rootCaDer: world.rootCaDer }), world };
}

/** The PEM PCK chain embedded in a real quote (certification data type 5). */
function quoteChainPem(quote: Uint8Array): string {
  const cd = parseQuote(quote).certificationData;
  return Buffer.from(cd.buffer, cd.byteOffset, cd.byteLength).toString("latin1").replace(/\0+$/, "");
}

describe("the forge's default world has Intel's chain shapes", () => {
  it("TCB Signing: CN Intel SGX TCB Signing, O Intel Corporation, end entity, digitalSignature, issued by the root; PCK CA: Intel's CN", async () => {
    const w = await createForgeWorld({ seed: "signer-pin" });
    const tcb = parseCertificate(w.certs.tcbSigning.der);
    const root = parseCertificate(w.rootCaDer);
    expect(tcb.issuerKey).toBe(root.subjectKey);
    expect(tcb.isCa).toBe(false);
    expect(tcb.keyUsage! & 1).toBe(1);
    const x = x509;
    const subject = new x.X509Certificate(w.certs.tcbSigning.der).subjectName;
    expect(subject.getField("CN")).toEqual(["Intel SGX TCB Signing"]);
    expect(subject.getField("O")).toEqual(["Intel Corporation"]);
    // …still labelled: the OU and the root say it is not Intel's
    expect(subject.getField("OU")[0]).toMatch(/NOT Intel/);
    expect(new x.X509Certificate(w.rootCaDer).subject).toMatch(/NOT Intel/);
    expect(new x.X509Certificate(w.certs.pckCa.der).subjectName.getField("CN")).toEqual(["Intel SGX PCK Platform CA"]);
    const processor = await createForgeWorld({ seed: "signer-pin", ca: "processor" });
    expect(new x.X509Certificate(processor.certs.pckCa.der).subjectName.getField("CN")).toEqual(["Intel SGX PCK Processor CA"]);
  });

  it("default, Processor-CA, SGX and Intel-named worlds verify under their own root (genuine: false)", async () => {
    for (const opts of [{}, { ca: "processor" as const }, { tee: "sgx" as const, ca: "processor" as const }, { intelNames: true }]) {
      const r = await forged(opts);
      if (!r.ok) throw new Error(`${JSON.stringify(opts)}: ${r.error.code} ${r.error.message}`);
      expect(r.result.genuine).toBe(false);
      expect(r.result.checks.find((c) => c.name === "tcb-info.chain")?.detail).toMatch(/^Intel SGX TCB Signing ← .*Root CA; TCB Signing pin/);
    }
  });
});

describe("only the TCB Signing certificate signs TCB Info and QE Identity (forged worlds)", () => {
  const wrong = ["pckLeaf", "pckCa", "other", "root"] as const;

  for (const signer of wrong) {
    it(`collateral signed by ${signer === "other" ? "a second root-issued leaf not named TCB Signing" : `the ${signer}`}: refused at tcb-info.chain`, async () => {
      const r = await forged({ collateralSigner: signer });
      const e = failedAt(r, "tcb-info.chain", SIGNER_CODE, /tcb_info_issuer_chain: the signer ".*" is not the Intel SGX TCB Signing certificate/);
      expect(names(e.checks)).not.toContain("tcb-info.signature");
      // the document signature itself is fine: only the pin stops it
      const chain = pemBlocks(r.world.collateral.tcbInfoIssuerChain).map((d) => parseCertificate(d));
      expect(verifyP256(chain[0]!.spki, utf8(r.world.collateral.tcbInfo), r.world.collateral.tcbInfoSignature, "raw")).toBe(true);
    });

    it(`qe_identity signed by ${signer}: refused at qe-identity.chain, after TCB Info passed`, async () => {
      const r = await forged({ qeIdentity: { signer } });
      const e = failedAt(r, "qe-identity.chain", SIGNER_CODE, /qe_identity_issuer_chain: the signer/);
      expect(names(e.checks)).toContain("tcb-info.signature");
      expect(names(e.checks)).not.toContain("qe-identity.signature");
    });
  }

  it("the attack: an out-of-date platform's own PCK key signs a TCB Info calling it UpToDate", async () => {
    // honest collateral grades this platform OutOfDate…
    const honest = await forged({ tcbInfo: { tcbLevels: [{ sgx: new Array(16).fill(0), pcesvn: 0, tdx: new Array(16).fill(0), tcbStatus: "OutOfDate" }] } });
    expect(honest.ok && honest.result.status).toBe("OutOfDate");
    // …the platform owner, holding its PCK key, forges an UpToDate TCB Info and signs it with that key
    const forgedInfo = await forged({ tcbInfo: { signer: "pckLeaf" } });
    const e = failedAt(forgedInfo, "tcb-info.chain", SIGNER_CODE, /not the Intel SGX TCB Signing certificate/);
    expect(e.message).toMatch(/subject must be CN=Intel SGX TCB Signing, O=Intel Corporation/);
  });

  it("a certificate named TCB Signing but issued by the PCK CA: not issued directly by the root", async () => {
    const r = await forged({ collateralSigner: "other", otherSigner: { issuer: "pckCa", subject: { cn: "Intel SGX TCB Signing", o: "Intel Corporation" } } });
    failedAt(r, "tcb-info.chain", SIGNER_CODE, /issued by "Intel SGX PCK Platform CA", not directly by the root/);
  });

  it("a TCB Signing certificate with the CA flag, or without digitalSignature, or without a keyUsage", async () => {
    failedAt(await forged({ tcbSigningShape: { ca: true, keyUsage: ["digitalSignature", "keyCertSign"] } }), "tcb-info.chain", SIGNER_CODE, /it is a CA certificate/);
    failedAt(await forged({ tcbSigningShape: { keyUsage: ["nonRepudiation"] } }), "tcb-info.chain", SIGNER_CODE, /key usage does not include digitalSignature/);
    failedAt(await forged({ tcbSigningShape: { keyUsage: null } }), "tcb-info.chain", SIGNER_CODE, /key usage does not include digitalSignature/);
    // digitalSignature alone is enough
    expect((await forged({ tcbSigningShape: { keyUsage: ["digitalSignature"] } })).ok).toBe(true);
  });

  it("names: another O, another CN, and a CN that merely contains the O text are refused", async () => {
    const base = { l: "Santa Clara", st: "CA", c: "US" };
    failedAt(await forged({ tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing", o: "Not Intel Corporation", ...base } } }), "tcb-info.chain", SIGNER_CODE);
    failedAt(await forged({ tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing" } } }), "tcb-info.chain", SIGNER_CODE);
    failedAt(await forged({ tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing2", o: "Intel Corporation" } } }), "tcb-info.chain", SIGNER_CODE);
    // a display-string reader would see "CN=Intel SGX TCB Signing, O=Intel Corporation, O=Evil": the pin reads the DER
    failedAt(await forged({ tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing, O=Intel Corporation", o: "Evil", ...base } } }), "tcb-info.chain", SIGNER_CODE);
    // exactly Intel's CN and O with no other attribute is fine
    expect((await forged({ tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing", o: "Intel Corporation" } } })).ok).toBe(true);
  });

  it("the chain holds only the signer and the root: an extra certificate is refused; signer alone or the root twice is fine", async () => {
    failedAt(
      await forged({}, (c, w) => ({ ...c, tcbInfoIssuerChain: w.certs.tcbSigning.pem + w.certs.pckCa.pem + w.certs.root.pem })),
      "tcb-info.chain",
      SIGNER_CODE,
      /certificate 2 "Intel SGX PCK Platform CA" is neither the TCB Signing certificate nor the root/,
    );
    expect((await forged({}, (c, w) => ({ ...c, tcbInfoIssuerChain: w.certs.tcbSigning.pem }))).ok).toBe(true);
    expect((await forged({}, (c, w) => ({ ...c, qeIdentityIssuerChain: w.certs.tcbSigning.pem + w.certs.root.pem + w.certs.root.pem }))).ok).toBe(true);
  });

  it("forgeSignCollateralText signs with the chosen key", async () => {
    const w = await createForgeWorld({ seed: "signer-pin", collateralSigner: "other" });
    const text = '{"x":1}';
    const other = parseCertificate(w.certs.other!.der);
    expect(verifyP256(other.spki, utf8(text), forgeSignCollateralText(w, text, "other"), "raw")).toBe(true);
    expect(verifyP256(other.spki, utf8(text), forgeSignCollateralText(w, text), "raw")).toBe(false);
    await expect(async () => forgeSignCollateralText(await createForgeWorld({ seed: "x" }), text, "other")).rejects.toThrow(/no "other" signer/);
  });
});

describe("only the TCB Signing certificate signs (real Intel data)", () => {
  const tdxChain = quoteChainPem(tdxQuote());

  it("the real collateral passes, with the pinned root", () => {
    const r = verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(r.status).toBe("UpToDate");
    expect(r.checks.find((c) => c.name === "tcb-info.chain")?.detail).toBe("Intel SGX TCB Signing ← Intel SGX Root CA; TCB Signing pin, valid, not revoked");
  });

  it("the quote's own PCK chain as tcb_info_issuer_chain fails at tcb-info.chain, not at the signature", () => {
    expect(pemBlocks(tdxChain)).toHaveLength(3);
    const r = checkQuote(tdxQuote(), { collateral: { ...tdxCollateral(), tcbInfoIssuerChain: tdxChain }, now: TDX_NOW });
    const e = failedAt(r, "tcb-info.chain", SIGNER_CODE, /the signer "CN=Intel SGX PCK Certificate, O=Intel Corporation.*" is not the Intel SGX TCB Signing certificate/);
    expect(names(e.checks)).not.toContain("tcb-info.signature");
  });

  it("the quote's own PCK chain as qe_identity_issuer_chain fails at qe-identity.chain, not at the signature", () => {
    const r = checkQuote(tdxQuote(), { collateral: { ...tdxCollateral(), qeIdentityIssuerChain: tdxChain }, now: TDX_NOW });
    const e = failedAt(r, "qe-identity.chain", SIGNER_CODE, /qe_identity_issuer_chain: the signer "CN=Intel SGX PCK Certificate/);
    expect(names(e.checks)).toContain("tcb-info.signature");
    expect(names(e.checks)).not.toContain("qe-identity.signature");
  });

  it("the PCK CA (pck_crl_issuer_chain) and the SGX quote's Processor-CA chain are refused as signers too", () => {
    const c = tdxCollateral();
    failedAt(checkQuote(tdxQuote(), { collateral: { ...c, tcbInfoIssuerChain: c.pckCrlIssuerChain }, now: TDX_NOW }), "tcb-info.chain", SIGNER_CODE, /"CN=Intel SGX PCK Platform CA/);
    const sgxChain = quoteChainPem(sgxQuote());
    const s = sgxCollateral();
    failedAt(checkQuote(sgxQuote(), { collateral: { ...s, tcbInfoIssuerChain: sgxChain }, now: SGX_NOW }), "tcb-info.chain", SIGNER_CODE);
    failedAt(checkQuote(sgxQuote(), { collateral: { ...s, qeIdentityIssuerChain: sgxChain }, now: SGX_NOW }), "qe-identity.chain", SIGNER_CODE);
  });

  it("the real root given explicitly as --root-ca (rootCaDer): same pin, still genuine", async () => {
    const rootDer = pemBlocks(tdxCollateral().tcbInfoIssuerChain)[1]!;
    const opts: VerifyOptions = { collateral: { ...tdxCollateral(), tcbInfoIssuerChain: tdxChain }, now: TDX_NOW, rootCaDer: rootDer };
    failedAt(checkQuote(tdxQuote(), opts), "tcb-info.chain", SIGNER_CODE);
    expect(verifyQuote(tdxQuote(), { ...opts, collateral: tdxCollateral() }).genuine).toBe(true);
  });
});

describe("the PCK chain has Intel's shape: leaf ← PCK Platform/Processor CA ← root", () => {
  it("real TDX (Platform CA) and SGX (Processor CA) chains pass", () => {
    expect(verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW }).pck.ca).toBe("platform");
    expect(verifyQuote(sgxQuote(), { collateral: sgxCollateral(), now: SGX_NOW }).pck.ca).toBe("processor");
  });

  it("a PCK CA with another name is refused", async () => {
    const r = await forged({ pckCaShape: { subject: { cn: "Forged SGX PCK Platform CA", o: "Intel Corporation" } } });
    failedAt(r, "pck.chain", PCK_CODE, /the PCK certificate's issuer "CN=Forged SGX PCK Platform CA, O=Intel Corporation" is not an Intel SGX PCK Platform CA or Intel SGX PCK Processor CA issued by the root/);
  });

  it("a PCK CA without keyCertSign or without the CA flag is refused", async () => {
    // no keyUsage at all: the generic path allows it, the pin does not
    failedAt(await forged({ pckCaShape: { keyUsage: null } }), "pck.chain", PCK_CODE, /has no keyCertSign key usage/);
    // a keyUsage without keyCertSign: refused by the path check itself
    failedAt(await forged({ pckCaShape: { keyUsage: ["cRLSign"] } }), "pck.chain", "PCK_CERT_INVALID", /"Intel SGX PCK Platform CA" is not allowed to sign certificates \(no keyCertSign key usage\)/);
    failedAt(await forged({ pckCaShape: { ca: false } }), "pck.chain", "PCK_CERT_INVALID", /intermediate "Intel SGX PCK Platform CA" is not a CA certificate/);
  });

  it("a PCK leaf issued directly by the root (here the TCB Signing certificate, with the root CRL as pck_crl) is refused", async () => {
    const w = await createForgeWorld({ seed: "signer-pin" });
    const q = await forgeQuote(w, { pemChain: w.certs.tcbSigning.pem + w.certs.root.pem });
    const r = checkQuote(q, { collateral: { ...w.collateral, pckCrl: w.collateral.rootCaCrl }, now: w.now, rootCaDer: w.rootCaDer });
    failedAt(r, "pck.chain", PCK_CODE, /is issued directly by the root "Forged SGX Root CA", not by an Intel SGX PCK Platform CA or Intel SGX PCK Processor CA/);
  });

  it("the pin also holds for the collateral-free signature checks", async () => {
    const w = await createForgeWorld({ seed: "signer-pin", pckCaShape: { keyUsage: null } });
    const q = await forgeQuote(w);
    expect(() => verifyQuoteSignatures(q, { now: w.now, rootCaDer: w.rootCaDer })).toThrow(/has no keyCertSign key usage/);
    const good = await createForgeWorld({ seed: "signer-pin" });
    expect(verifyQuoteSignatures(await forgeQuote(good), { now: good.now, rootCaDer: good.rootCaDer }).pck.ca).toBe("platform");
  });

  it("the PCK CRL must be issued by the leaf's CA and the root CRL by the root (unchanged)", async () => {
    failedAt(await forged({}, (c) => ({ ...c, pckCrl: c.rootCaCrl })), "pck.chain", "PCK_CRL_ISSUER_MISMATCH");
    failedAt(await forged({}, (c) => ({ ...c, rootCaCrl: c.pckCrl })), "root-ca.crl", "ROOT_CA_CRL_ISSUER_MISMATCH");
  });

  it("verifyPath on its own still reports a missing CRL for a CA in the path", async () => {
    const w = await createForgeWorld({ seed: "signer-pin" });
    const chain = pemBlocks(w.pckChainPem).map((d) => parseCertificate(d));
    const root = parseCertificate(w.rootCaDer);
    const rootOnly: NamedCrl[] = [{ crl: cachedCrl(w.collateral.rootCaCrl, "root_ca_crl", undefined), field: "root_ca_crl", code: "ROOT_CA_CRL" }];
    expect(() => verifyPath(chain, { root, now: w.now, cache: undefined, crls: rootOnly }, "PCK", "PCK chain")).toThrow(/no CRL issued by "Intel SGX PCK Platform CA"/);
  });
});

describe("signed JSON: no duplicate key at any depth, tcbType 0", () => {
  it("findDuplicateKey: top level, nested, inside arrays, escaped spellings; none in siblings or string values", () => {
    expect(findDuplicateKey('{"a":1,"b":2}')).toBeUndefined();
    expect(findDuplicateKey('{"a":1,"a":2}')).toBe("a");
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toBe("a");
    expect(findDuplicateKey('{"l":[{"t":{"s":1}},{"t":{"s":1,"s":2}}]}')).toBe("l[1].t.s");
    expect(findDuplicateKey('{"l":[[1,2],[{"x":1,"y":{"x":2}}]]}')).toBeUndefined();
    expect(findDuplicateKey('[{"x":1},{"x":1}]')).toBeUndefined();
    expect(findDuplicateKey('[0,{"x":1,"x":1}]')).toBe("[1].x");
    expect(findDuplicateKey('{"s":"{\\"a\\":1,\\"a\\":2}","t":"\\"a\\",\\"a\\""}')).toBeUndefined();
    expect(findDuplicateKey('{"a" : 1 , "b" : { "c" : [ ] , "c" : { } } }')).toBe("b.c");
    const many = `{${Array.from({ length: 200 }, (_, i) => `"k${i}":${i}`).join(",")},"k150":0}`;
    expect(findDuplicateKey(many)).toBe("k150");
    // hostile nesting: linear and iterative
    const deep = `${"[".repeat(200_000)}{"a":1,"a":2}${"]".repeat(200_000)}`;
    const path = findDuplicateKey(deep)!;
    expect(path).toHaveLength(200_000 * 3 + 2);
    expect(path.endsWith("[0][0].a")).toBe(true);
  });

  it("the real documents have no duplicate keys", () => {
    for (const c of [tdxCollateral(), sgxCollateral()]) {
      expect(findDuplicateKey(c.tcbInfo)).toBeUndefined();
      expect(findDuplicateKey(c.qeIdentity)).toBeUndefined();
    }
  });

  it("a properly signed TCB Info with a duplicated tcbStatus (OutOfDate first, UpToDate last) is rejected at tcb-info.validity", async () => {
    const w0 = await createForgeWorld({ seed: "signer-pin" });
    // rapidjson would read the first status, JSON.parse the last
    const at = w0.collateral.tcbInfo.indexOf('"tcbLevels":[{"tcb":{"sgxtcbcomponents"');
    expect(at).toBeGreaterThan(0);
    const text = w0.collateral.tcbInfo.slice(0, at) + w0.collateral.tcbInfo.slice(at).replace('"tcbStatus":"UpToDate"', '"tcbStatus":"OutOfDate","tcbStatus":"UpToDate"');
    expect(text).not.toBe(w0.collateral.tcbInfo);
    const r = await forged({ tcbInfo: { text } });
    failedAt(r, "tcb-info.validity", "TCB_INFO_INVALID", /tcb_info: tcbLevels\[0\]\.tcbStatus appears more than once \(duplicate JSON key/);
    expect(() => parseTcbInfo(text)).toThrow(/duplicate JSON key/);
  });

  it("a properly signed QE Identity with a duplicated key (top level or nested) is rejected at qe-identity.validity", async () => {
    const w0 = await createForgeWorld({ seed: "signer-pin" });
    const top = w0.collateral.qeIdentity.replace('"isvprodid":2', '"isvprodid":3,"isvprodid":2');
    failedAt(await forged({ qeIdentity: { text: top } }), "qe-identity.validity", "QE_IDENTITY_INVALID", /qe_identity: isvprodid appears more than once/);
    const nested = w0.collateral.qeIdentity.replace('{"isvsvn":4}', '{"isvsvn":4,"isvsvn":0}');
    expect(nested).not.toBe(w0.collateral.qeIdentity);
    failedAt(await forged({ qeIdentity: { text: nested } }), "qe-identity.validity", "QE_IDENTITY_INVALID", /tcbLevels\[0\]\.tcb\.isvsvn appears more than once/);
    expect(() => parseQeIdentity(nested)).toThrow(/duplicate JSON key/);
  });

  it("real TCB Info with a key repeated is rejected before its signature is tried", () => {
    const c = tdxCollateral();
    const text = c.tcbInfo.replace('"tcbType":0', '"tcbType":0,"tcbType":0');
    expect(text).not.toBe(c.tcbInfo);
    const e = failedAt(checkQuote(tdxQuote(), { collateral: { ...c, tcbInfo: text }, now: TDX_NOW }), "tcb-info.validity", "TCB_INFO_INVALID", /tcbType appears more than once/);
    expect(names(e.checks)).not.toContain("tcb-info.signature");
  });

  it("tcbType other than 0 is rejected, even properly signed", async () => {
    const r = await forged({ tcbInfo: { edit: (o) => ({ ...o, tcbType: 1 }) } });
    failedAt(r, "tcb-info.validity", "TCB_INFO_TCB_TYPE_UNSUPPORTED", /tcb_info: tcbType 1 is not supported \(only 0\)/);
    expect((await forged({ tcbInfo: { edit: (o) => ({ ...o, tcbType: 0 }) } })).ok).toBe(true);
  });

  it("with a verification cache the same rules hold on every call (failures are not memoised as successes)", async () => {
    const w0 = await createForgeWorld({ seed: "signer-pin" });
    const text = w0.collateral.tcbInfo.replace('"version":3', '"version":3,"version":3');
    const w = await createForgeWorld({ seed: "signer-pin", tcbInfo: { text } });
    const q = await forgeQuote(w);
    const cache = createVerificationCache();
    for (let i = 0; i < 2; i++) {
      const r = checkQuote(q, { collateral: w.collateral, now: w.now, rootCaDer: w.rootCaDer, cache });
      expect(!r.ok && r.error.code).toBe("TCB_INFO_INVALID");
    }
    const good = await createForgeWorld({ seed: "signer-pin", collateralSigner: "pckLeaf" });
    const gq = await forgeQuote(good);
    for (let i = 0; i < 2; i++) expect(failed(checkQuote(gq, { collateral: good.collateral, now: good.now, rootCaDer: good.rootCaDer, cache })).code).toBe(SIGNER_CODE);
  });
});
