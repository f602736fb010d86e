/**
 * The forge itself: every certificate, CRL and signature it makes is checked with independent
 * code (@peculiar/x509 over WebCrypto, @noble/curves), the SGX extension byte layout against the
 * the PCK certificate's Intel SGX extension layout, and the quote layout against the parser.
 */
import "reflect-metadata";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";

import { bytesEqual, bytesToHex, concatBytes, hexToBytes, utf8 } from "../../src/core/bytes.js";
import { createForgeWorld, FORGE_DEFAULT_NOW, forgeQuote, forgeSignCollateralText, type ForgeWorld } from "../../src/testing/forge/index.js";
import { parseQuote } from "../../src/dcap/quote.js";

const SGX_OID = "1.2.840.113741.1.13.1";

function cert(der: Uint8Array): x509.X509Certificate {
  return new x509.X509Certificate(der);
}

function spkiPoint(c: x509.X509Certificate): Uint8Array {
  const spki = new Uint8Array(c.publicKey.rawData);
  return spki.subarray(spki.length - 65);
}

describe("forge: certificates", () => {
  it("builds a root → PCK CA → PCK leaf chain and a TCB Signing cert that verify with WebCrypto", async () => {
    const w = await createForgeWorld({ seed: "certs" });
    const root = cert(w.certs.root.der);
    const ca = cert(w.certs.pckCa.der);
    const leaf = cert(w.certs.pckLeaf.der);
    const tcb = cert(w.certs.tcbSigning.der);
    expect(await root.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    expect(await ca.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    expect(await leaf.verify({ publicKey: ca, signatureOnly: true })).toBe(true);
    expect(await tcb.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    // and not with the wrong issuer
    expect(await leaf.verify({ publicKey: root, signatureOnly: true })).toBe(false);

    expect(root.subject).toBe(root.issuer);
    expect(ca.issuer).toBe(root.subject);
    expect(leaf.issuer).toBe(ca.subject);
    expect(ca.subject).toContain("Platform");
    expect(root.subject).toContain("NOT Intel");

    const bc = (c: x509.X509Certificate) => c.getExtension(x509.BasicConstraintsExtension);
    expect(bc(root)?.ca).toBe(true);
    expect(bc(root)?.pathLength).toBe(1);
    expect(bc(ca)?.ca).toBe(true);
    expect(bc(ca)?.pathLength).toBe(0);
    expect(bc(leaf)?.ca).toBe(false);
    expect(bc(leaf)?.critical).toBe(true);
    const ku = (c: x509.X509Certificate) => c.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
    expect(ku(root)).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ku(ca)).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ku(leaf)).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation);

    // default validity brackets `now`
    for (const c of [root, ca, leaf, tcb]) {
      expect(c.notBefore.getTime() / 1000).toBeLessThanOrEqual(FORGE_DEFAULT_NOW);
      expect(c.notAfter.getTime() / 1000).toBeGreaterThanOrEqual(FORGE_DEFAULT_NOW);
    }
    // GeneralizedTime for 2049 and beyond is parsed correctly
    expect(root.notAfter.toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(bytesEqual(w.rootCaDer, w.certs.root.der)).toBe(true);
    expect(w.rootCaPem).toBe(w.certs.root.pem);
    expect(w.pckChainPem).toBe(w.certs.pckLeaf.pem + w.certs.pckCa.pem + w.certs.root.pem);
  });

  it("writes the Intel SGX extension exactly as Intel lays it out", async () => {
    const w = await createForgeWorld({ seed: "ext", pceSvn: 200, cpuSvn: "ff0102030405060708090a0b0c0d0e0f", fmspc: "00A067110000", sgxType: 1 });
    const leaf = cert(w.certs.pckLeaf.der);
    const ext = leaf.getExtension(SGX_OID);
    expect(ext).not.toBeNull();
    expect(ext!.critical).toBe(false);
    const v = new Uint8Array(ext!.value);
    const hex = bytesToHex(v).slice(2);
    const oid = "060a2a864886f84d010d01"; // prefix of sub-OIDs 1.2.840.113741.1.13.1.N
    expect(hex.startsWith("3082")).toBe(true);
    // PPID: OCTET STRING of 16 bytes
    expect(hex).toContain(`${oid}010410${bytesToHex(w.pck.ppid).slice(2)}`);
    // comp01 = 255 is encoded as 02 02 00 ff
    expect(hex).toContain("060b2a864886f84d010d010201020200ff");
    // comp02 = 1
    expect(hex).toContain("060b2a864886f84d010d0102020201" + "01");
    // PCESVN 200 → two content bytes 00 c8
    expect(hex).toContain("060b2a864886f84d010d0102110202" + "00c8");
    // CPUSVN OCTET STRING(16)
    expect(hex).toContain("060b2a864886f84d010d0102120410ff0102030405060708090a0b0c0d0e0f");
    // PCE-ID, FMSPC, SGX type (ENUMERATED), platform instance id, configuration
    expect(hex).toContain(`${oid}0304020000`);
    expect(hex).toContain(`${oid}04040600a067110000`);
    expect(hex).toContain(`${oid}050a0101`);
    expect(hex).toContain(`${oid}060410`);
    expect(hex).toContain(`${oid}0730`);
    // A Processor-CA world has neither the platform instance id nor the configuration
    const p = await createForgeWorld({ seed: "ext", ca: "processor" });
    const phex = bytesToHex(new Uint8Array(cert(p.certs.pckLeaf.der).getExtension(SGX_OID)!.value)).slice(2);
    expect(phex).not.toContain(`${oid}0604`);
    expect(phex).toContain(`${oid}050a0100`);
    expect(cert(p.certs.pckLeaf.der).issuer).toContain("Processor");
  });

  it("can make the PCK leaf a CA, drop its SGX extension and move validity windows", async () => {
    const w = await createForgeWorld({ seed: "odd", pckLeafIsCa: true, omitSgxExtension: true, pckLeafValidity: { notBefore: 1_800_000_000, notAfter: 1_900_000_000 } });
    const leaf = cert(w.certs.pckLeaf.der);
    expect(leaf.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(leaf.getExtension(SGX_OID)).toBeNull();
    expect(leaf.notBefore.getTime()).toBe(1_800_000_000_000);
    expect(leaf.notAfter.getTime()).toBe(1_900_000_000_000);
  });
});

describe("forge: CRLs", () => {
  it("signs both CRLs with the right keys and lists the requested revocations", async () => {
    const w = await createForgeWorld({ seed: "crl", revoke: { pckLeaf: true, pckCa: true }, pckCrl: { nextUpdate: FORGE_DEFAULT_NOW + 5 } });
    const root = cert(w.certs.root.der);
    const ca = cert(w.certs.pckCa.der);
    const rootCrl = new x509.X509Crl(w.collateral.rootCaCrl);
    const pckCrl = new x509.X509Crl(w.collateral.pckCrl);
    expect(await rootCrl.verify({ publicKey: root })).toBe(true);
    expect(await pckCrl.verify({ publicKey: ca })).toBe(true);
    expect(await pckCrl.verify({ publicKey: root })).toBe(false);
    expect(rootCrl.issuer).toBe(root.subject);
    expect(pckCrl.issuer).toBe(ca.subject);
    expect(pckCrl.nextUpdate?.getTime()).toBe((FORGE_DEFAULT_NOW + 5) * 1000);
    const serial = (c: x509.X509Certificate) => c.serialNumber.toLowerCase();
    expect(pckCrl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial(cert(w.certs.pckLeaf.der)));
    expect(rootCrl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial(ca));
    expect(pckCrl.entries.length).toBe(3); // two unrelated + the leaf
  });

  it("signs a CRL with an unrelated key on request (issuer name unchanged)", async () => {
    const w = await createForgeWorld({ seed: "crl2", pckCrl: { signWithWrongKey: true }, rootCrl: { signWithWrongKey: true } });
    expect(await new x509.X509Crl(w.collateral.pckCrl).verify({ publicKey: cert(w.certs.pckCa.der) })).toBe(false);
    expect(await new x509.X509Crl(w.collateral.rootCaCrl).verify({ publicKey: cert(w.certs.root.der) })).toBe(false);
    expect(new x509.X509Crl(w.collateral.pckCrl).issuer).toBe(cert(w.certs.pckCa.der).subject);
  });
});

describe("forge: TCB Info and QE Identity", () => {
  const verifyRaw = (w: ForgeWorld, text: string, sig: Uint8Array) =>
    p256.verify(sig, utf8(text), spkiPoint(cert(w.certs.tcbSigning.der)), { lowS: false });

  it("signs the exact JSON text with the TCB Signing key", async () => {
    const w = await createForgeWorld({ seed: "json" });
    const c = w.collateral;
    expect(verifyRaw(w, c.tcbInfo, c.tcbInfoSignature)).toBe(true);
    expect(verifyRaw(w, c.qeIdentity, c.qeIdentitySignature)).toBe(true);
    expect(verifyRaw(w, c.tcbInfo + " ", c.tcbInfoSignature)).toBe(false);
    const ti = JSON.parse(c.tcbInfo);
    expect(ti.id).toBe("TDX");
    expect(ti.version).toBe(3);
    expect(ti.fmspc).toBe("B0C06F000000");
    expect(ti.issueDate).toBe("2025-12-31T00:00:00Z");
    expect(ti.nextUpdate).toBe("2026-01-31T00:00:00Z");
    expect(ti.tcbLevels).toHaveLength(2);
    expect(ti.tcbLevels[0].tcb.sgxtcbcomponents).toHaveLength(16);
    expect(ti.tcbLevels[0].tcb.tdxtcbcomponents).toHaveLength(16);
    expect(ti.tdxModuleIdentities[0].id).toBe("TDX_01");
    const qe = JSON.parse(c.qeIdentity);
    expect(qe.id).toBe("TD_QE");
    expect(qe.mrsigner).toBe(bytesToHex(w.qe.mrSigner).slice(2).toUpperCase());
    // chains: TCB Signing then root
    expect(c.tcbInfoIssuerChain).toBe(w.certs.tcbSigning.pem + w.certs.root.pem);
    expect(c.qeIdentityIssuerChain).toBe(w.certs.tcbSigning.pem + w.certs.root.pem);
    expect(c.pckCrlIssuerChain).toBe(w.certs.pckCa.pem + w.certs.root.pem);
  });

  it("takes levels, edits, raw text and a wrong signer", async () => {
    const w = await createForgeWorld({
      seed: "json2",
      tcbInfo: {
        tcbLevels: [{ sgx: Array(16).fill(0), pcesvn: 0, tdx: Array(16).fill(0), tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-1"] }],
        edit: (o) => {
          o.extra = "x";
        },
        signWithWrongKey: true,
      },
      qeIdentity: { text: '{ "id" : "TD_QE" }' },
    });
    const ti = JSON.parse(w.collateral.tcbInfo);
    expect(ti.extra).toBe("x");
    expect(ti.tcbLevels[0].advisoryIDs).toEqual(["INTEL-SA-1"]);
    expect(verifyRaw(w, w.collateral.tcbInfo, w.collateral.tcbInfoSignature)).toBe(false);
    expect(w.collateral.qeIdentity).toBe('{ "id" : "TD_QE" }');
    expect(verifyRaw(w, w.collateral.qeIdentity, w.collateral.qeIdentitySignature)).toBe(true);
    const sig = forgeSignCollateralText(w, "hello");
    expect(verifyRaw(w, "hello", sig)).toBe(true);
  });

  it("makes SGX worlds with SGX TCB Info and a QE identity", async () => {
    const w = await createForgeWorld({ seed: "sgx", tee: "sgx", ca: "processor" });
    const ti = JSON.parse(w.collateral.tcbInfo);
    expect(ti.id).toBe("SGX");
    expect(ti.tdxModule).toBeUndefined();
    expect(ti.tcbLevels[0].tcb.tdxtcbcomponents).toBeUndefined();
    expect(JSON.parse(w.collateral.qeIdentity).id).toBe("QE");
  });
});

describe("forge: quotes", () => {
  it("forges a TDX v4 quote the parser reads back field by field, with valid signatures and binding", async () => {
    const w = await createForgeWorld({ seed: "quote" });
    const reportData = hexToBytes("aa".repeat(64));
    const mrTd = hexToBytes("11".repeat(48));
    const rtMrs = ["21", "22", "23", "24"].map((x) => x.repeat(48));
    const bytes = await forgeQuote(w, { reportData, mrTd, rtMrs });
    const q = parseQuote(bytes);
    expect(q.header.version).toBe(4);
    expect(q.header.teeType).toBe(0x81);
    expect(q.signedLength).toBe(632);
    const body = q.body as unknown as Record<string, Uint8Array>;
    expect(bytesToHex(body.reportData!)).toBe(bytesToHex(reportData));
    expect(bytesToHex(body.mrTd!)).toBe(bytesToHex(mrTd));
    expect(bytesToHex(body.rtMr3!)).toBe(`0x${"24".repeat(48)}`);
    expect(bytesToHex(body.tdAttributes!)).toBe("0x0000001000000000");
    // attestation-key signature over [0, 632)
    const ak = concatBytes(Uint8Array.of(4), q.attestationKey);
    expect(p256.verify(q.signature, bytes.subarray(0, q.signedLength), ak, { lowS: false })).toBe(true);
    // QE report signed by the PCK leaf, binding SHA-256(ak ‖ auth) ‖ zeros
    const leaf = cert(w.certs.pckLeaf.der);
    expect(p256.verify(q.qeReportSignature, q.qeReportRaw, spkiPoint(leaf), { lowS: false })).toBe(true);
    expect(bytesToHex(q.qeReport.reportData)).toBe(bytesToHex(concatBytes(sha256(concatBytes(q.attestationKey, q.qeAuthData)), new Uint8Array(32))));
    expect(q.qeAuthData).toHaveLength(32);
    expect(q.certificationType).toBe(5);
    const pemText = new TextDecoder().decode(q.certificationData);
    expect(pemText).toBe(`${w.pckChainPem}\0`);
    expect(q.qeReport.isvSvn).toBe(w.qe.isvSvn);
    expect(q.qeReport.isvProdId).toBe(w.qe.isvProdId);
  });

  it("forges v5 TD10 / TD15 and SGX v3 quotes with the right signed lengths", async () => {
    const w = await createForgeWorld({ seed: "v5" });
    const td10 = parseQuote(await forgeQuote(w, { version: 5, body: "td10" }));
    expect(td10.signedLength).toBe(638);
    expect(td10.bodyDescriptor).toEqual({ bodyType: 2, bodySize: 584 });
    const td15 = parseQuote(await forgeQuote(w, { version: 5, body: "td15", mrServiceTd: "33".repeat(48) }));
    expect(td15.signedLength).toBe(702);
    expect(bytesToHex((td15.body as unknown as Record<string, Uint8Array>).mrServiceTd!)).toBe(`0x${"33".repeat(48)}`);
    const s = await createForgeWorld({ seed: "v3", tee: "sgx" });
    const sgxBytes = await forgeQuote(s, { reportData: "0xbeef" });
    const sgx = parseQuote(sgxBytes);
    expect(sgx.header.version).toBe(3);
    expect(sgx.signedLength).toBe(432);
    expect(bytesToHex((sgx.body as unknown as Record<string, Uint8Array>).reportData!).slice(0, 6)).toBe("0xbeef");
    await expect(forgeQuote(w, { version: 4, body: "td15" })).rejects.toThrow(/version 5/);
  });

  it("is deterministic with a seed and random without", async () => {
    const a = await createForgeWorld({ seed: "same" });
    const b = await createForgeWorld({ seed: "same" });
    expect(bytesToHex(a.rootCaDer)).toBe(bytesToHex(b.rootCaDer));
    expect(a.collateral.tcbInfo).toBe(b.collateral.tcbInfo);
    expect(bytesToHex(a.collateral.pckCrl)).toBe(bytesToHex(b.collateral.pckCrl));
    expect(bytesToHex(await forgeQuote(a, { reportData: "01" }))).toBe(bytesToHex(await forgeQuote(b, { reportData: "01" })));
    const c = await createForgeWorld();
    const d = await createForgeWorld();
    expect(bytesToHex(c.rootCaDer)).not.toBe(bytesToHex(d.rootCaDer));
  });

  it("a seeded world is stable across runs and machines (golden digests; change only on purpose)", async () => {
    // changed on purpose (#9): the PCK CA and the TCB Signing certificate now carry Intel's pinned CN / O
    const w = await createForgeWorld({ seed: "golden" });
    const h = (b: Uint8Array | string) => bytesToHex(sha256(typeof b === "string" ? utf8(b) : b)).slice(2);
    expect(h(w.rootCaDer)).toBe("a66c9e099cfe33b40f77a0010eff1cd531251f9b01a568767dbf7d1ad3f3fa48");
    const c = w.collateral;
    expect(h(concatBytes(c.rootCaCrl, c.pckCrl, c.tcbInfoSignature, c.qeIdentitySignature, utf8(c.tcbInfo + c.qeIdentity + c.tcbInfoIssuerChain + c.pckCrlIssuerChain)))).toBe("94f11945162a6f0b1f5ef3a5374d0946a7f80610678b65c843828a86613e4619");
    expect(h(await forgeQuote(w, { reportData: "0x01" }))).toBe("f3db66ddad8906104182cc47109928fdaac07ae080c4c5eadba23f7476836298");
  });

  it("never exposes private keys on the world object", async () => {
    const w = await createForgeWorld({ seed: "secret" });
    const json = JSON.stringify(w);
    // the private keys are the seed-derived scalars; none of their hex appears; no "sk"/"private" field
    expect(json).not.toMatch(/"(sk|privateKey|secret)"/i);
    expect(Object.keys(w)).not.toContain("keys");
    expect(() => forgeSignCollateralText({ ...w }, "x")).toThrow(/not a world made by createForgeWorld/);
  });

  it("applies the requested corruptions", async () => {
    const w = await createForgeWorld({ seed: "corrupt" });
    const leafKey = spkiPoint(cert(w.certs.pckLeaf.der));
    const wrongQe = parseQuote(await forgeQuote(w, { signQeReportWithWrongKey: true }));
    expect(p256.verify(wrongQe.qeReportSignature, wrongQe.qeReportRaw, leafKey, { lowS: false })).toBe(false);
    const wrongQuote = await forgeQuote(w, { signQuoteWithWrongKey: true });
    const wq = parseQuote(wrongQuote);
    expect(p256.verify(wq.signature, wrongQuote.subarray(0, wq.signedLength), concatBytes(Uint8Array.of(4), wq.attestationKey), { lowS: false })).toBe(false);
    const broken = parseQuote(await forgeQuote(w, { breakQeBinding: true }));
    expect(bytesEqual(broken.qeReport.reportData.subarray(0, 32), sha256(concatBytes(broken.attestationKey, broken.qeAuthData)))).toBe(false);
    expect(p256.verify(broken.qeReportSignature, broken.qeReportRaw, leafKey, { lowS: false })).toBe(true);
    const trailing = parseQuote(await forgeQuote(w, { trailing: "000000" }));
    expect(trailing.trailingBytes).toBe(3);
  });
});
