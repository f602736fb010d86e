/**
 * TdxQuote + QuoteSignatures (contracts/dcap) against the TypeScript verifier (src/dcap): on real quotes,
 * forged quotes and systematic corruptions of both, the harness and TypeScript agree on accept / reject,
 * on the custom error (the failing step and field, with its offset), and on every parsed field.
 * Hardhat in-process network on Osaka (the P-256 precompile at 0x100).
 */
import { network } from "hardhat";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, concatBytes } from "../../src/core/bytes.js";
import { parseQuote, type Quote } from "../../src/dcap/quote.js";
import type { Certificate } from "../../src/dcap/x509.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { decodeRevert, expectedParse, expectedSignatureSteps, expectedVerify, pckLeaf, realQuotes, type Outcome } from "./dcap-quote-helpers.js";

const { viem } = await network.connect({ override: { hardfork: "osaka" } });
const harness = await viem.deployContract("TdxQuoteHarness");
const abi = harness.abi;

interface Key {
  leaf: Certificate;
  x: `0x${string}`;
  y: `0x${string}`;
}

const tally = { quotes: 0, accepted: 0, rejected: 0, fieldsCompared: 0, byStep: {} as Record<string, number> };

async function onChainVerify(q: Uint8Array, key: Key): Promise<{ error?: string; args?: readonly (number | string)[] }> {
  try {
    await harness.read.verify([bytesToHex(q), key.x, key.y]);
    return {};
  } catch (e) {
    return decodeRevert(e, abi);
  }
}

/** Same outcome on chain as in TypeScript; for a parsed quote, the same fields and the same step answers. */
async function agree(label: string, q: Uint8Array, key: Key): Promise<void> {
  const expected: Outcome = expectedVerify(q, key.leaf);
  const got = await onChainVerify(q, key);
  expect({ error: got.error, args: got.args }, `${label}: ${expected.step}`).toEqual({ error: expected.error, args: expected.args });
  tally.quotes++;
  tally.byStep[expected.step] = (tally.byStep[expected.step] ?? 0) + 1;
  if (expected.error) tally.rejected++;
  else tally.accepted++;
  const { quote } = expectedParse(q);
  if (quote && !expectedParse(q).outcome.error) await sameFields(label, q, quote, key);
}

async function sameFields(label: string, q: Uint8Array, t: Quote, key: Key): Promise<void> {
  const hq = bytesToHex(q);
  const [p, td, qe, binding, quoteSig, qeSig] = await Promise.all([
    harness.read.parse([hq]),
    harness.read.tdReport([hq]),
    harness.read.qeReport([hq]),
    harness.read.qeReportBindingOk([hq]),
    harness.read.quoteSignatureOk([hq]),
    harness.read.qeReportSignatureOk([hq, key.x, key.y]),
  ]);
  const b = t.body;
  if (b.type === "sgx") throw new Error(`${label}: an SGX body passed the TDX parse`);
  const h = bytesToHex;
  expect(
    {
      version: Number(p.version),
      bodyType: Number(p.bodyType),
      bodyOffset: Number(p.bodyOffset),
      signedLength: Number(p.signedLength),
      signatureDataLength: Number(p.signatureDataLength),
      certificationType: Number(p.certificationType),
      trailingBytes: Number(p.trailingBytes),
      ...td,
      ...qe,
    },
    label,
  ).toEqual({
    version: t.header.version,
    bodyType: b.type === "td15" ? 3 : 2,
    bodyOffset: t.bodyOffset,
    signedLength: t.signedLength,
    signatureDataLength: t.signatureDataLength,
    certificationType: t.certificationType,
    trailingBytes: t.trailingBytes,
    teeTcbSvn: h(b.teeTcbSvn),
    mrSeam: h(b.mrSeam),
    mrSignerSeam: h(b.mrSignerSeam),
    seamAttributes: h(b.seamAttributes),
    tdAttributes: h(b.tdAttributes),
    xfam: h(b.xfam),
    mrTd: h(b.mrTd),
    mrConfigId: h(b.mrConfigId),
    mrOwner: h(b.mrOwner),
    mrOwnerConfig: h(b.mrOwnerConfig),
    rtMr0: h(b.rtMr0),
    rtMr1: h(b.rtMr1),
    rtMr2: h(b.rtMr2),
    rtMr3: h(b.rtMr3),
    reportData: h(b.reportData),
    teeTcbSvn2: b.type === "td15" ? h(b.teeTcbSvn2) : h(new Uint8Array(16)),
    mrServiceTd: b.type === "td15" ? h(b.mrServiceTd) : "0x",
    miscSelect: t.qeReport.miscSelect,
    attributes: h(t.qeReport.attributes),
    mrEnclave: h(t.qeReport.mrEnclave),
    mrSigner: h(t.qeReport.mrSigner),
    isvProdId: t.qeReport.isvProdId,
    isvSvn: t.qeReport.isvSvn,
    qeReportData: h(t.qeReport.reportData),
    quoteSignature: h(t.signature),
    attestationKey: h(t.attestationKey),
    qeReportSignature: h(t.qeReportSignature),
    qeAuthData: h(t.qeAuthData),
    certificationData: h(t.certificationData),
  });
  const s = expectedSignatureSteps(t, key.leaf);
  expect({ binding, quoteSig, qeSig }, `${label}: signature steps`).toEqual({
    binding: s.qeReportBinding,
    quoteSig: s.quoteSignature,
    qeSig: s.qeReportSignature,
  });
  tally.fieldsCompared++;
}

/** Offsets of every length / type / version byte a quote's layout depends on (from the TypeScript parse). */
function structuralOffsets(q: Uint8Array): number[] {
  const t = parseQuote(q);
  const sig = t.signedLength;
  const qeStart = t.qeReportRaw.byteOffset - q.byteOffset;
  const auth = t.qeAuthData.byteOffset - q.byteOffset;
  const cert = t.certificationData.byteOffset - q.byteOffset;
  const spans: [number, number][] = [
    [0, 12],
    [12, 14],
    [sig, sig + 4],
    [qeStart - 6, qeStart],
    [auth - 2, auth],
    [cert - 6, cert],
  ];
  if (t.header.version === 5) spans.push([48, 54]);
  return spans.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i));
}

/** Boundaries of the parts of a quote (truncation points). */
function boundaries(q: Uint8Array): number[] {
  const t = parseQuote(q);
  const off = (b: Uint8Array): number => b.byteOffset - q.byteOffset;
  const points = [0, 1, 47, 48, 49, 53, 54, t.signedLength, t.signedLength + 4, off(t.signature) + 64, off(t.attestationKey) + 64, off(t.qeReportRaw) - 2, off(t.qeReportRaw), off(t.qeReportSignature) + 64, off(t.qeAuthData) - 2, off(t.qeAuthData), off(t.certificationData) - 6, off(t.certificationData) - 4, off(t.certificationData), q.length - 1];
  return [...new Set(points.flatMap((p) => [p - 1, p, p + 1]))].filter((p) => p >= 0 && p < q.length);
}

function flipped(q: Uint8Array, at: number, mask: number): Uint8Array {
  const c = q.slice();
  c[at] = c[at]! ^ mask;
  return c;
}

/** Systematic corruptions: flips at structural bytes (two masks), every `step`-th byte, truncations. */
async function corruptions(name: string, q: Uint8Array, key: Key, step: number): Promise<void> {
  for (const at of structuralOffsets(q)) {
    for (const mask of [0x01, 0x80]) await agree(`${name} flip ${at}^${mask}`, flipped(q, at, mask), key);
  }
  for (let at = 3; at < q.length; at += step) await agree(`${name} flip ${at}`, flipped(q, at, 0x04), key);
  for (const len of boundaries(q)) await agree(`${name} truncated to ${len}`, q.subarray(0, len), key);
  for (let len = 100; len < q.length; len += step * 7) await agree(`${name} truncated to ${len}`, q.subarray(0, len), key);
}

const REAL = realQuotes();
const TDX_KEY: Key = pckLeaf(REAL[0]!.bytes);

describe("TdxQuote on real quotes", () => {
  it("accepts the real TDX quotes (v4, v5/TD15) with every field and step as TypeScript reads them, and rejects the SGX ones with QuoteNotTdx", async () => {
    for (const { name, bytes } of REAL) {
      const key = pckLeaf(bytes);
      await agree(name, bytes, key);
      const tdx = parseQuote(bytes).header.teeType === 0x81;
      const got = await onChainVerify(bytes, key);
      expect(got.error, name).toBe(tdx ? undefined : "QuoteNotTdx");
    }
  });

  it("the real 5006-byte tdx_quote: systematic flips and truncations agree", async () => {
    await corruptions("tdx_quote", REAL[0]!.bytes, TDX_KEY, 13);
  });

  it("the other real quotes: flips and truncations agree", async () => {
    for (const { name, bytes } of REAL.slice(1)) await corruptions(name, bytes, pckLeaf(bytes), 149);
  });

  it("a wrong PCK key fails qe-report.signature on chain and in TypeScript", async () => {
    const other = pckLeaf(REAL.find((r) => r.name === "gtg_v5_td15_2602")!.bytes);
    await agree("tdx_quote with another platform's PCK key", REAL[0]!.bytes, other);
    expect((await onChainVerify(REAL[0]!.bytes, other)).error).toBe("QeReportSignatureInvalid");
  });
});

describe("TdxQuote on forged quotes", () => {
  let world: ForgeWorld;
  let key: Key;
  beforeAll(async () => {
    world = await createForgeWorld({ seed: "dcap-quote-onchain" });
    key = pckLeaf(await forgeQuote(world));
  });

  it("v4/v5, TD10/TD15, QE auth data of any length, trailing bytes and deliberate corruptions agree", async () => {
    const variants: [string, Parameters<typeof forgeQuote>[1]][] = [
      ["v4 td10", {}],
      ["v5 td10", { version: 5, body: "td10" }],
      ["v5 td15", { version: 5, body: "td15", teeTcbSvn2: "0x" + "22".repeat(16), mrServiceTd: "0x" + "33".repeat(48) }],
      ["qe auth 0 bytes", { qeAuthData: new Uint8Array(0) }],
      ["qe auth 1 byte", { qeAuthData: Uint8Array.of(7) }],
      ["qe auth 300 bytes", { qeAuthData: new Uint8Array(300).fill(9) }],
      ["trailing bytes", { trailing: new Uint8Array(17).fill(1) }],
      ["wrong quote signer", { signQuoteWithWrongKey: true }],
      ["wrong QE report signer", { signQeReportWithWrongKey: true }],
      ["broken binding", { breakQeBinding: true }],
      ["QE report_data tail", { qe: { reportDataTail: new Uint8Array(32).fill(1) } }],
      ["outer cert type 5", { outerCertType: 5 }],
      ["inner cert type 3", { innerCertType: 3, certData: new Uint8Array(400).fill(3) }],
      ["v5 body size", { version: 5, body: "td10", bodySize: 648 }],
      ["vendor id", { qeVendorId: new Uint8Array(16).fill(0xab) }],
      ["attestation key type 3", { attestationKeyType: 3 }],
      ["tee type 0x82", { teeType: 0x82 }],
      ["sgx v3", { version: 3, body: "sgx", teeType: 0 }],
    ];
    for (const [name, opts] of variants) {
      const q = await forgeQuote(world, opts);
      await agree(`forged ${name}`, q, key);
    }
    const v5 = await forgeQuote(world, { version: 5, body: "td15" });
    await corruptions("forged v5 td15", v5, key, 97);
    const auth = await forgeQuote(world, { qeAuthData: new Uint8Array(70).fill(5), trailing: Uint8Array.of(1, 2) });
    await corruptions("forged qe auth 70", auth, key, 97);
    // a length field declaring more than 1 MiB
    const big = concatBytes(v5.subarray(0, parseQuote(v5).signedLength), Uint8Array.of(0, 0, 0x20, 0), v5.subarray(parseQuote(v5).signedLength + 4));
    await agree("signature_data_length 2 MiB", big, key);
  });

  it("covers every outcome", () => {
    console.log(`dcap-quote agreement: ${JSON.stringify(tally)}`);
    for (const step of ["accepted", "parse", "quote.header", "tdx", "qe-report.signature", "qe-report.binding", "quote.signature"]) {
      expect(tally.byStep[step], step).toBeGreaterThan(0);
    }
  });
});
