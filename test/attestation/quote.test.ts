import { describe, expect, it } from "vitest";

import { InputError } from "../../src/core/errors.js";
import { parseQuote, quotePckChain, QuoteParseError, type Quote } from "../../src/dcap/quote.js";
import { parseSgxExtension } from "../../src/dcap/sgx-extension.js";
import { commonName } from "../../src/dcap/x509.js";
import { hex, liteQuote, sgxQuote, tdxAsV5Td15, tdxQuote } from "./real-fixtures.js";

/** Offset of a view inside the quote buffer. */
function at(q: Quote, v: Uint8Array): [number, number] {
  return [v.byteOffset - q.raw.byteOffset, v.byteOffset - q.raw.byteOffset + v.length];
}

function parseError(bytes: Uint8Array): QuoteParseError {
  try {
    parseQuote(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(QuoteParseError);
    expect(e).toBeInstanceOf(InputError);
    return e as QuoteParseError;
  }
  throw new Error("expected a QuoteParseError");
}

function u32le(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = b.slice();
  new DataView(c.buffer).setUint32(off, v, true);
  return c;
}

describe("parseQuote on the real TDX v4 quote", () => {
  const q = parseQuote(tdxQuote());

  it("reads the header", () => {
    expect(q.header.version).toBe(4);
    expect(q.header.attestationKeyType).toBe(2);
    expect(q.header.teeType).toBe(0x81);
    expect(hex(q.header.qeVendorId)).toBe("939a7233f79c4ca9940a0db3957f0607");
    expect(hex(q.header.userData)).toBe("889b7d6ff9df2405b240a830e73faf3d00000000");
    expect(at(q, q.header.userData)).toEqual([28, 48]);
  });

  it("puts every structure at the absolute offsets of a real quote", () => {
    expect(q.body.type).toBe("td10");
    expect(q.bodyOffset).toBe(48);
    expect(q.signedLength).toBe(632);
    expect(q.signatureDataLength).toBe(4300);
    expect(at(q, q.signature)).toEqual([636, 700]);
    expect(at(q, q.attestationKey)).toEqual([700, 764]);
    expect(q.outerCertificationType).toBe(6);
    expect(at(q, q.qeReportRaw)).toEqual([770, 1154]);
    expect(at(q, q.qeReportSignature)).toEqual([1154, 1218]);
    expect(at(q, q.qeAuthData)).toEqual([1220, 1252]);
    expect(q.certificationType).toBe(5);
    expect(at(q, q.certificationData)).toEqual([1258, 1258 + 3678]);
    expect(q.trailingBytes).toBe(70);
    // outer size 4166 at 766
    expect(new DataView(q.raw.buffer, q.raw.byteOffset).getUint32(766, true)).toBe(4166);
    expect(q.outerCertificationDataSize).toBe(4166);
  });

  it("reads the TD 1.0 body fields at their offsets with the sample's known values", () => {
    const b = q.body;
    if (b.type !== "td10") throw new Error("td10 expected");
    const rel = (v: Uint8Array) => at(q, v).map((x) => x - 48);
    expect(rel(b.teeTcbSvn)).toEqual([0, 16]);
    expect(rel(b.mrSeam)).toEqual([16, 64]);
    expect(rel(b.mrSignerSeam)).toEqual([64, 112]);
    expect(rel(b.seamAttributes)).toEqual([112, 120]);
    expect(rel(b.tdAttributes)).toEqual([120, 128]);
    expect(rel(b.xfam)).toEqual([128, 136]);
    expect(rel(b.mrTd)).toEqual([136, 184]);
    expect(rel(b.mrConfigId)).toEqual([184, 232]);
    expect(rel(b.mrOwner)).toEqual([232, 280]);
    expect(rel(b.mrOwnerConfig)).toEqual([280, 328]);
    expect(rel(b.rtMr0)).toEqual([328, 376]);
    expect(rel(b.rtMr1)).toEqual([376, 424]);
    expect(rel(b.rtMr2)).toEqual([424, 472]);
    expect(rel(b.rtMr3)).toEqual([472, 520]);
    expect(rel(b.reportData)).toEqual([520, 584]);
    expect(hex(b.teeTcbSvn)).toBe("06010300000000000000000000000000");
    expect(hex(b.mrSeam)).toMatch(/^5b38e33a.*7b00c1$/);
    expect(hex(b.mrSignerSeam)).toBe("00".repeat(48));
    expect(hex(b.tdAttributes)).toBe("0000001000000000");
    expect(hex(b.xfam)).toBe("e702060000000000");
    expect(hex(b.mrTd)).toMatch(/^91eb2b44d141d4ec.*873118b7$/);
    expect(hex(b.rtMr3)).toBe("00".repeat(48));
    expect(hex(b.reportData)).toMatch(/^9a9d48e7f6799642.*2b523f20$/);
  });

  it("reads the QE report", () => {
    const r = q.qeReport;
    expect(r.isvSvn).toBe(6);
    expect(r.isvProdId).toBe(2);
    expect(r.attributes[0]).toBe(0x15);
    expect(hex(r.mrSigner)).toMatch(/^dc9e2a7c.*a8c5$/);
    const rel = (v: Uint8Array) => at(q, v).map((x) => x - 770);
    expect(rel(r.cpuSvn)).toEqual([0, 16]);
    expect(rel(r.attributes)).toEqual([48, 64]);
    expect(rel(r.mrEnclave)).toEqual([64, 96]);
    expect(rel(r.mrSigner)).toEqual([128, 160]);
    expect(rel(r.configId)).toEqual([192, 256]);
    expect(rel(r.isvFamilyId)).toEqual([304, 320]);
    expect(rel(r.reportData)).toEqual([320, 384]);
    expect(rel(r.isvExtProdId)).toEqual([32, 48]);
    const dv = new DataView(q.raw.buffer, q.raw.byteOffset + 770);
    expect(r.miscSelect).toBe(dv.getUint32(16, true));
    expect(r.isvProdId).toBe(dv.getUint16(256, true));
    expect(r.isvSvn).toBe(dv.getUint16(258, true));
    expect(r.configSvn).toBe(dv.getUint16(260, true));
    expect(hex(q.qeAuthData)).toBe(Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0")).join(""));
  });

  it("truncation at every byte offset gives a QuoteParseError naming field and offset, never another exception", () => {
    const full = tdxQuote();
    const sigEnd = 636 + 4300;
    const seen = new Set<string>();
    for (let n = 0; n < full.length; n++) {
      const cut = full.subarray(0, n);
      if (n < sigEnd) {
        const e = parseError(cut);
        expect(typeof e.field).toBe("string");
        expect(e.offset).toBeGreaterThanOrEqual(0);
        expect(e.offset).toBeLessThanOrEqual(n);
        expect(e.message).toContain(e.field);
        expect(e.message).toContain(`offset ${e.offset}`);
        seen.add(e.field);
      } else {
        expect(parseQuote(cut).trailingBytes).toBe(n - sigEnd);
      }
    }
    expect([...seen].sort()).toEqual(["body (TD 1.0 report)", "header", "signature_data", "signature_data_length"]);
  });

  it("names the inner structure when a length field inside the signature data is wrong", () => {
    const q0 = tdxQuote();
    // sig data shortened (declared length) so the PEM no longer fits
    let e = parseError(u32le(q0, 632, 4300 - 100));
    expect(e.field).toBe("certification_data");
    expect(e.offset).toBe(770);
    // outer size too large for the signature data
    e = parseError(u32le(q0, 766, 5000));
    expect(e.code).toBe("QUOTE_LENGTH_PAST_END");
    expect(e.field).toBe("certification_data");
    // inner PEM size past the QE certification data
    e = parseError(u32le(q0, 1254, 3679));
    expect(e.field).toBe("pck_cert_data");
    expect(e.offset).toBe(1258);
    // QE auth data size past the end
    const qa = q0.slice();
    qa[1218] = 0xff;
    qa[1219] = 0xff;
    e = parseError(qa);
    expect(e.field).toBe("qe_auth_data");
    // shorter declared sizes are fine: the rest of the region is ignored
    expect(parseQuote(u32le(q0, 1254, 100)).certificationData.length).toBe(100);
  });

  it("rejects length fields above 1 MiB without allocating", () => {
    const e = parseError(u32le(tdxQuote(), 632, 0x7fffffff));
    expect(e.code).toBe("QUOTE_LENGTH_TOO_LARGE");
    expect(e.field).toBe("signature_data_length");
    expect(e.offset).toBe(632);
    expect(parseError(u32le(tdxQuote(), 1254, 0xffffffff)).code).toBe("QUOTE_LENGTH_TOO_LARGE");
    expect(parseError(u32le(tdxQuote(), 766, (1 << 20) + 1)).field).toBe("certification_data.size");
  });

  it("a length pointing past the end of the buffer is an error", () => {
    const e = parseError(u32le(tdxQuote(), 632, 5006 - 636 + 1));
    expect(e.code).toBe("QUOTE_LENGTH_PAST_END");
    expect(e.field).toBe("signature_data");
    expect(e.offset).toBe(636);
  });

  it("applies the stricter checks of decision 3 and rejects unsupported versions/types", () => {
    const q0 = tdxQuote();
    const withByte = (off: number, v: number) => {
      const c = q0.slice();
      c[off] = v;
      return c;
    };
    // outer certification type must be 6
    let e = parseError(withByte(764, 5));
    expect(e.code).toBe("QUOTE_UNSUPPORTED_CERT_TYPE");
    expect(e.field).toBe("certification_data.type");
    expect(e.offset).toBe(764);
    for (const v of [0, 1, 2, 6, 7]) expect(parseError(withByte(0, v)).field).toBe("header.version");
    // v4 with an unknown TEE type; v3 with TDX
    expect(parseError(withByte(4, 0x82)).field).toBe("header.tee_type");
    expect(parseError(withByte(0, 3)).field).toBe("header.tee_type");
    // v5: body size must match the body type; body type 1..3 only
    const v5 = tdxAsV5Td15();
    expect(parseQuote(v5).body.type).toBe("td15");
    const badSize = u32le(v5, 50, 584);
    e = parseError(badSize);
    expect(e.code).toBe("QUOTE_BODY_SIZE_MISMATCH");
    expect(e.offset).toBe(50);
    const badType = v5.slice();
    badType[48] = 4;
    expect(parseError(badType).field).toBe("body_descriptor.body_type");
  });

  it("accepts non-Uint8Array input only as an error", () => {
    expect(() => parseQuote("0x04" as unknown as Uint8Array)).toThrow(QuoteParseError);
  });
});

describe("quotePckChain", () => {
  it("decodes the embedded PEM chain: PCK leaf, Platform CA, Intel root", () => {
    const chain = quotePckChain(parseQuote(tdxQuote()));
    expect(chain.map((c) => commonName(c.subject))).toEqual(["Intel SGX PCK Certificate", "Intel SGX PCK Platform CA", "Intel SGX Root CA"]);
    expect(hex(parseSgxExtension(chain[0]!).fmspc)).toBe("b0c06f000000");
    expect(quotePckChain(parseQuote(sgxQuote())).map((c) => commonName(c.subject))[1]).toBe("Intel SGX PCK Processor CA");
  });
  it("another certification type is a QuoteParseError naming the type field and its offset", () => {
    const q = tdxQuote();
    q[1252] = 4;
    try {
      quotePckChain(parseQuote(q));
      throw new Error("expected an error");
    } catch (e) {
      expect(e).toBeInstanceOf(QuoteParseError);
      expect((e as QuoteParseError).field).toBe("pck_cert_data.type");
      expect((e as QuoteParseError).offset).toBe(1252);
    }
  });
});

describe("parseQuote on a v5 TD 1.5 quote (re-assembled from the real body)", () => {
  const mrServiceTd = new Uint8Array(48).fill(0xab);
  const teeTcbSvn2 = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  const q = parseQuote(tdxAsV5Td15({ mrServiceTd, teeTcbSvn2 }));

  it("places the v5 descriptor, body and signature data at their absolute offsets", () => {
    expect(q.header.version).toBe(5);
    expect(q.bodyDescriptor).toEqual({ bodyType: 3, bodySize: 648 });
    expect(q.bodyOffset).toBe(54);
    expect(q.signedLength).toBe(702);
    expect(at(q, q.signature)).toEqual([706, 770]);
    expect(at(q, q.attestationKey)).toEqual([770, 834]);
    expect(at(q, q.qeReportRaw)).toEqual([840, 1224]);
    expect(at(q, q.qeReportSignature)).toEqual([1224, 1288]);
    expect(at(q, q.qeAuthData)).toEqual([1290, 1322]);
    expect(at(q, q.certificationData)[0]).toBe(1328);
  });

  it("reads the TD 1.5 extension fields", () => {
    const b = q.body;
    if (b.type !== "td15") throw new Error("td15 expected");
    expect(at(q, b.teeTcbSvn2)).toEqual([54 + 584, 54 + 600]);
    expect(b.teeTcbSvn2).toEqual(teeTcbSvn2);
    expect(b.mrServiceTd).toEqual(mrServiceTd);
    expect(hex(b.teeTcbSvn)).toBe("06010300000000000000000000000000");
    expect(hex(b.tdAttributes)).toBe("0000001000000000");
  });

  it("also parses a v5 TD 1.0 body (type 2)", () => {
    const src = tdxQuote();
    const v5 = new Uint8Array(src.length + 6);
    v5.set(src.subarray(0, 48));
    v5[0] = 5;
    v5[48] = 2;
    new DataView(v5.buffer).setUint32(50, 584, true);
    v5.set(src.subarray(48), 54);
    const p = parseQuote(v5);
    expect(p.body.type).toBe("td10");
    expect(p.signedLength).toBe(638);
  });
});

describe("parseQuote on the real SGX v3 quote", () => {
  const q = parseQuote(sgxQuote());
  it("uses the v3 layout without a type-6 wrapper", () => {
    expect(q.header.version).toBe(3);
    expect(q.body.type).toBe("sgx");
    expect(q.signedLength).toBe(432);
    expect(q.signatureDataLength).toBe(4164);
    expect(q.outerCertificationType).toBeUndefined();
    expect(q.outerCertificationDataSize).toBeUndefined();
    expect(q.header.qeSvn).toBe(new DataView(q.raw.buffer, q.raw.byteOffset).getUint16(8, true));
    expect(q.header.pceSvn).toBe(new DataView(q.raw.buffer, q.raw.byteOffset).getUint16(10, true));
    expect(at(q, q.signature)).toEqual([436, 500]);
    expect(at(q, q.attestationKey)).toEqual([500, 564]);
    expect(at(q, q.qeReportRaw)).toEqual([564, 948]);
    expect(at(q, q.qeReportSignature)).toEqual([948, 1012]);
    expect(at(q, q.qeAuthData)).toEqual([1014, 1046]);
    expect(q.certificationType).toBe(5);
    expect(at(q, q.certificationData)).toEqual([1052, 1052 + 3548]);
    expect(q.qeReport.isvSvn).toBe(10);
  });
  it("every truncation of the SGX quote is a QuoteParseError", () => {
    const full = sgxQuote();
    const end = 436 + 4164;
    for (let n = 0; n < end; n++) parseError(full.subarray(0, n));
    expect(parseQuote(full.subarray(0, end)).trailingBytes).toBe(0);
  });
});

describe("parseQuote on dstack's tdx-lite-getquote.json quote", () => {
  it("parses a v4 TDX quote with tee_tcb_svn 0c0104…", () => {
    const q = parseQuote(liteQuote());
    expect(q.header.version).toBe(4);
    expect(q.body.type).toBe("td10");
    if (q.body.type !== "td10") return;
    expect(hex(q.body.teeTcbSvn)).toMatch(/^0c0104/);
    expect(Buffer.from(q.body.reportData).toString("latin1")).toMatch(/^dip1::secp256k1c-pk:A55pWmteJIJOj8_pI7-pzeDxy1G2q18GDv88HNRdBXkQ/);
    expect(hex(q.body.rtMr3)).toBe("6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e3a66824b5b56869137e");
  });
});
