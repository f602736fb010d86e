/**
 * The on-chain DER / X.509 / CRL readers (contracts/dcap/{Der,X509,Crl}.sol, through X509Harness) agree
 * with the TypeScript verifier (src/dcap/x509.ts, sgx-extension.ts, p256.ts) field by field on every real
 * certificate and CRL of the DCAP fixtures, and on forged ones for the shapes the real data lacks
 * (GeneralizedTime, a revoked PCK leaf, a Processor CA, extended key usage, an unknown critical extension).
 */
import { network } from "hardhat";
import { describe, expect, it } from "vitest";

import { bytesEqual, bytesToHex, utf8, type Hex } from "../../src/core/bytes.js";
import { INTEL_ORGANIZATION, INTEL_TCB_SIGNING_CN } from "../../src/dcap/chain.js";
import { readTlv } from "../../src/dcap/der.js";
import { verifyP256 } from "../../src/dcap/p256.js";
import { INTEL_PCK_PLATFORM_CA_CN, INTEL_PCK_PROCESSOR_CA_CN, OID_SGX_EXTENSION, parseSgxExtension } from "../../src/dcap/sgx-extension.js";
import {
  commonName,
  nameHasSoleAttribute,
  OID_CN,
  OID_O,
  OID_SERVER_AUTH,
  parseCertificate,
  parseCrl,
  type Certificate,
} from "../../src/dcap/x509.js";
import { createForgeWorld, FORGE_DEFAULT_NOW } from "../../src/testing/forge/index.js";
import { realX509 } from "./dcap-x509-data.js";

const { viem } = await network.connect({ override: { hardfork: "osaka" } });
const harness = await viem.deployContract("X509Harness");

const KNOWN = new Set(["2.5.29.15", "2.5.29.19", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35", "2.5.29.31", "2.5.29.32"]);

const hex = (b: Uint8Array): Hex => bytesToHex(b);
const serialOf = (s: string): bigint => BigInt(`0x${s}`);

function keyXY(c: Certificate): [Hex, Hex] {
  const p = c.spki.subarray(c.spki.length - 64);
  return [hex(p.subarray(0, 32)), hex(p.subarray(32))];
}

const NAME_PINS: [oid: string, attr: bigint, value: string][] = [
  [OID_CN, 3n, INTEL_TCB_SIGNING_CN],
  [OID_O, 10n, INTEL_ORGANIZATION],
  [OID_CN, 3n, INTEL_PCK_PLATFORM_CA_CN],
  [OID_CN, 3n, INTEL_PCK_PROCESSOR_CA_CN],
];

/** Every field of the contract's reading of `der` equals the TypeScript one; returns the parsed certificate. */
async function expectCertificateAgrees(der: Uint8Array): Promise<Certificate> {
  const ts = parseCertificate(der);
  const c = await harness.read.parseCertificate([hex(der)]);
  expect(hex(der.subarray(Number(c.tbsStart), Number(c.tbsEnd)))).toBe(hex(ts.tbs));
  expect(c.serial).toBe(serialOf(ts.serial));
  expect(hex(der.subarray(Number(c.issuerStart), Number(c.issuerEnd)))).toBe(hex(ts.issuer));
  expect(hex(der.subarray(Number(c.subjectStart), Number(c.subjectEnd)))).toBe(hex(ts.subject));
  expect(c.notBefore).toBe(BigInt(ts.notBefore));
  expect(c.notAfter).toBe(BigInt(ts.notAfter));
  expect(c.isP256).toBe(ts.isP256);
  if (ts.isP256) expect([c.pkX, c.pkY]).toEqual(keyXY(ts));
  expect(c.isCa).toBe(ts.isCa);
  expect(c.hasKeyUsage).toBe(ts.keyUsage !== undefined);
  expect(Number(c.keyUsage)).toBe(ts.keyUsage ?? 0);
  expect(c.hasExtKeyUsage).toBe(ts.extKeyUsage !== undefined);
  expect(c.extKeyUsageServerAuth).toBe(ts.extKeyUsage?.includes(OID_SERVER_AUTH) ?? false);
  expect(c.unknownCritical).toBe(ts.extensions.some((e) => e.critical && !KNOWN.has(e.oid)));
  expect([c.r, c.s]).toEqual(ecdsaRS(ts.signature));
  const sgx = ts.extensions.find((e) => e.oid === OID_SGX_EXTENSION);
  if (sgx) {
    expect(hex(der.subarray(Number(c.sgxStart), Number(c.sgxEnd)))).toBe(hex(sgx.value));
    const tx = parseSgxExtension(ts);
    const x = await harness.read.sgxExtension([hex(der)]);
    expect(x.ppid).toBe(hex(tx.ppid));
    expect(x.cpuSvn).toBe(hex(tx.cpuSvn));
    expect(x.tcbComponents).toBe(hex(Uint8Array.from(tx.tcbComponents)));
    expect(x.pceSvn).toBe(BigInt(tx.pceSvn));
    expect(x.pceId).toBe(hex(tx.pceId));
    expect(x.fmspc).toBe(hex(tx.fmspc));
    expect(x.sgxType).toBe(BigInt(tx.sgxType));
  } else {
    expect([c.sgxStart, c.sgxEnd]).toEqual([0n, 0n]);
    await expect(harness.read.sgxExtension([hex(der)])).rejects.toThrow(/SgxExtensionMissing/);
  }
  // names: the pinned Intel attributes and the certificate's own CN, in issuer and subject
  for (const [name, start, end] of [
    [ts.subject, c.subjectStart, c.subjectEnd],
    [ts.issuer, c.issuerStart, c.issuerEnd],
  ] as const) {
    const pins: [string, bigint, string][] = [...NAME_PINS, [OID_CN, 3n, commonName(name)]];
    for (const [oid, attr, value] of pins) {
      expect(await harness.read.hasSoleAttribute([hex(der), start, end, attr, hex(utf8(value))]), `${oid}=${value}`).toBe(nameHasSoleAttribute(name, oid, value));
    }
  }
  return ts;
}

/** r and s of a DER ECDSA-Sig-Value, as 32-byte words. */
function ecdsaRS(sig: Uint8Array): [Hex, Hex] {
  const seq = readTlv(sig, 0, sig.length, "signature");
  const r = readTlv(sig, seq.cStart, seq.end, "r");
  const s = readTlv(sig, r.end, seq.end, "s");
  const word = (t: typeof r): Hex => `0x${BigInt(hex(sig.subarray(t.cStart, t.end))).toString(16).padStart(64, "0")}`;
  return [word(r), word(s)];
}

/** The contract and TypeScript agree on whether `cert` is signed by `issuer`'s key. */
async function expectSignatureAgrees(cert: Certificate, issuer: Certificate): Promise<boolean> {
  const ts = verifyP256(issuer.spki, cert.tbs, cert.signature, "der");
  const [x, y] = keyXY(issuer);
  expect(await harness.read.verifyCertificate([hex(cert.der), x, y])).toBe(ts);
  expect(await harness.read.issuedBy([hex(cert.der), hex(issuer.der)])).toBe(bytesEqual(cert.issuer, issuer.subject));
  return ts;
}

/** Every field of the contract's reading of CRL `der` equals the TypeScript one; the signature check by `issuer` too. */
async function expectCrlAgrees(der: Uint8Array, issuer: Certificate): Promise<{ revoked: bigint[]; signed: boolean }> {
  const ts = parseCrl(der);
  const l = await harness.read.parseCrl([hex(der)]);
  expect(hex(der.subarray(Number(l.tbsStart), Number(l.tbsEnd)))).toBe(hex(ts.tbs));
  expect(hex(der.subarray(Number(l.issuerStart), Number(l.issuerEnd)))).toBe(hex(ts.issuer));
  expect(l.thisUpdate).toBe(BigInt(ts.thisUpdate));
  expect(l.hasNextUpdate).toBe(ts.nextUpdate !== undefined);
  expect(l.nextUpdate).toBe(BigInt(ts.nextUpdate ?? 0));
  const revoked = [...(await harness.read.revokedSerials([hex(der)]))];
  expect(new Set(revoked.map((s) => s.toString(16)))).toEqual(new Set([...ts.revoked].map((s) => serialOf(s).toString(16))));
  for (const s of revoked.slice(0, 3)) expect(await harness.read.isRevoked([hex(der), s])).toBe(true);
  const signed = verifyP256(issuer.spki, ts.tbs, ts.signature, "der");
  const [x, y] = keyXY(issuer);
  expect(await harness.read.verifyCrl([hex(der), x, y])).toBe(signed);
  return { revoked, signed };
}

describe("X509 / Crl contracts against the TypeScript verifier, real Intel data", () => {
  const real = realX509();
  const certs = [...real.certs.values()].map((c) => parseCertificate(c.der));
  const issuerOf = (c: Certificate): Certificate | undefined => certs.find((i) => bytesEqual(i.subject, c.issuer) && verifyP256(i.spki, c.tbs, c.signature, "der"));

  it("agree on every field of every certificate of the PCK chains and TCB Signing chains", async () => {
    expect(real.quoteCount).toBe(6); // tdx_quote, sgx_quote and the four in real/
    expect(certs.length).toBeGreaterThanOrEqual(10);
    for (const c of certs) await expectCertificateAgrees(c.der);
    // the leaves carry the SGX extension; the kinds of certificate are all there
    for (const der of real.pckLeaves) expect(parseCertificate(der).extensions.some((e) => e.oid === OID_SGX_EXTENSION)).toBe(true);
    expect(certs.some((c) => nameHasSoleAttribute(c.subject, OID_CN, INTEL_TCB_SIGNING_CN))).toBe(true);
    expect(certs.some((c) => nameHasSoleAttribute(c.subject, OID_CN, INTEL_PCK_PLATFORM_CA_CN) || nameHasSoleAttribute(c.subject, OID_CN, INTEL_PCK_PROCESSOR_CA_CN))).toBe(true);
  });

  it("agree on every certificate's signature by its issuer, and refuse it under another key", async () => {
    let checked = 0;
    for (const c of certs) {
      const issuer = issuerOf(c);
      expect(issuer, commonName(c.subject)).toBeDefined();
      expect(await expectSignatureAgrees(c, issuer!)).toBe(true);
      const other = certs.find((o) => o.isP256 && !bytesEqual(o.spki, issuer!.spki))!;
      expect(await expectSignatureAgrees(c, other)).toBe(false);
      checked++;
    }
    expect(checked).toBe(certs.length);
  });

  it("agree on every field, revoked serial and signature of the real root CA and PCK CRLs", async () => {
    expect(real.crls.size).toBeGreaterThanOrEqual(2);
    let revokedTotal = 0;
    for (const { der } of real.crls.values()) {
      const crl = parseCrl(der);
      const issuer = certs.find((i) => bytesEqual(i.subject, crl.issuer) && verifyP256(i.spki, crl.tbs, crl.signature, "der"));
      expect(issuer).toBeDefined();
      const { revoked, signed } = await expectCrlAgrees(der, issuer!);
      expect(signed).toBe(true);
      revokedTotal += revoked.length;
      // no real PCK leaf or CA of the fixtures is revoked
      for (const c of certs) expect(await harness.read.isRevoked([hex(der), serialOf(c.serial)])).toBe(crl.revoked.has(c.serial));
    }
    expect(revokedTotal).toBeGreaterThan(0);
  });
});

describe("X509 / Crl contracts against the TypeScript verifier, forged shapes", () => {
  it("GeneralizedTime validity, a revoked PCK leaf, extended key usage and an unknown critical extension", async () => {
    const world = await createForgeWorld({
      seed: "x509-contract",
      pckLeafValidity: { notAfter: Date.UTC(2061, 1, 28, 23, 59, 59) / 1000 },
      pckLeafSerial: "00ff00000000000000000000000000000000000001",
      revoke: { pckLeaf: true },
      pckLeafExtraExtensions: [
        { oid: "2.5.29.37", value: "300a06082b06010505070301" },
        { oid: "1.2.3.4.5", critical: true, value: "0500" },
      ],
    });
    const leaf = await expectCertificateAgrees(world.certs.pckLeaf.der);
    expect(leaf.der[0x0] === 0x30 && leaf.notAfter).toBe(Date.UTC(2061, 1, 28, 23, 59, 59) / 1000);
    expect(leaf.extKeyUsage).toEqual([OID_SERVER_AUTH]);
    const ca = await expectCertificateAgrees(world.certs.pckCa.der);
    const root = await expectCertificateAgrees(world.rootCaDer);
    expect(await expectSignatureAgrees(leaf, ca)).toBe(true);
    expect(await expectSignatureAgrees(ca, root)).toBe(true);
    const pckCrl = world.collateral.pckCrl;
    const { revoked } = await expectCrlAgrees(pckCrl, ca);
    expect(revoked).toContain(serialOf(leaf.serial));
    expect(await harness.read.isRevoked([hex(pckCrl), serialOf(leaf.serial)])).toBe(true);
    expect(await harness.read.isRevoked([hex(pckCrl), serialOf(leaf.serial) + 1n])).toBe(false);
    await expectCrlAgrees(world.collateral.rootCaCrl, root);
  });

  it("a Processor CA world, a TCB Signing certificate without key usage, CRLs signed by the wrong key", async () => {
    const world = await createForgeWorld({
      seed: "x509-contract-2",
      ca: "processor",
      now: FORGE_DEFAULT_NOW,
      tcbSigningShape: { keyUsage: null, ca: true },
      revoke: { pckCa: true },
      pckCrl: { signWithWrongKey: true },
    });
    const root = parseCertificate(world.rootCaDer);
    const ca = await expectCertificateAgrees(world.certs.pckCa.der);
    expect(nameHasSoleAttribute(ca.subject, OID_CN, INTEL_PCK_PROCESSOR_CA_CN)).toBe(true);
    const signer = await expectCertificateAgrees(world.certs.tcbSigning.der);
    expect([signer.keyUsage, signer.isCa]).toEqual([undefined, true]);
    await expectCertificateAgrees(world.certs.pckLeaf.der);
    expect((await expectCrlAgrees(world.collateral.pckCrl, ca)).signed).toBe(false);
    const { revoked, signed } = await expectCrlAgrees(world.collateral.rootCaCrl, root);
    expect(signed).toBe(true);
    expect(revoked).toContain(serialOf(ca.serial));
  });
});
