/**
 * TDX (v4, v5 with TD 1.0 / TD 1.5 bodies) and SGX (v3) DCAP quote parser.
 *
 * The parser is total: for any input it either returns a `Quote` or throws a `QuoteParseError`
 * naming the field and the byte offset where the input stopped making sense. It never allocates
 * more than the input (all byte fields are `subarray` views of the input) and never loops over a
 * length field.
 *
 * Stricter than dcap-qvl: a v5 `body_size` must match the body type, the
 * outer certification-data type of v4/v5 quotes must be 6 (QE report certification data), and a
 * declared length that runs past the end of its enclosing region is an error. Bytes after the
 * signature data are tolerated and counted in `trailingBytes`.
 */
import { bytesToHex } from "../core/bytes.js";
import { InputError, type ErrorCode } from "../core/errors.js";
import type { ReportJson } from "./types.js";
import { parseCertificate, pemBlocks, type Certificate } from "./x509.js";

export const HEADER_SIZE = 48;
export const ENCLAVE_REPORT_SIZE = 384;
export const TD10_REPORT_SIZE = 584;
export const TD15_REPORT_SIZE = 648;
export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;
/** Largest length field accepted anywhere in a quote (dcap-qvl's limit). */
export const MAX_LENGTH_FIELD = 1 << 20;
/** Intel's QE vendor id `939A7233F79C4CA9940A0DB3957F0607`. */
export const INTEL_QE_VENDOR_ID = Uint8Array.from([0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07]);

/** A quote that could not be decoded. `field` names the structure being read, `offset` where (from quote start). */
export class QuoteParseError extends InputError {
  readonly field: string;
  readonly offset: number;
  constructor(code: ErrorCode, field: string, offset: number, message: string) {
    super(code, `quote: ${field} at offset ${offset}: ${message}`, { details: { field, offset } });
    this.field = field;
    this.offset = offset;
  }
}

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** SGX enclave report (384 bytes): the body of SGX quotes and, always, the QE report. */
export interface EnclaveReport {
  type: "sgx";
  cpuSvn: Uint8Array;
  miscSelect: number;
  isvExtProdId: Uint8Array;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  configId: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn: number;
  isvFamilyId: Uint8Array;
  reportData: Uint8Array;
}

/** TD report (584 bytes for TD 1.0, 648 for TD 1.5). `td15` adds `teeTcbSvn2` and `mrServiceTd`. */
export interface TdReport10 {
  type: "td10";
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtMr0: Uint8Array;
  rtMr1: Uint8Array;
  rtMr2: Uint8Array;
  rtMr3: Uint8Array;
  reportData: Uint8Array;
}

export interface TdReport15 extends Omit<TdReport10, "type"> {
  type: "td15";
  teeTcbSvn2: Uint8Array;
  mrServiceTd: Uint8Array;
}

export type QuoteBody = EnclaveReport | TdReport10 | TdReport15;

export interface Quote {
  /** The whole input (a view, not a copy). */
  raw: Uint8Array;
  header: QuoteHeader;
  /** v5 only: body type (1 SGX, 2 TD10, 3 TD15) and declared body size. */
  bodyDescriptor?: { bodyType: number; bodySize: number };
  body: QuoteBody;
  bodyOffset: number;
  /** The attestation-key signature covers `raw[0, signedLength)`. */
  signedLength: number;
  signatureDataLength: number;
  /** Raw r‖s over `raw[0, signedLength)`. */
  signature: Uint8Array;
  /** Raw x‖y (no 0x04 prefix). */
  attestationKey: Uint8Array;
  /** v4/v5: outer certification-data type (always 6 after parsing); undefined for v3. */
  outerCertificationType?: number;
  /** v4/v5: declared size of the outer certification data (the QE report certification data); undefined for v3. */
  outerCertificationDataSize?: number;
  qeReportRaw: Uint8Array;
  qeReport: EnclaveReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** Inner certification-data type (5 = PEM PCK chain). */
  certificationType: number;
  certificationData: Uint8Array;
  /** Bytes after the end of the signature data (tolerated). */
  trailingBytes: number;
}

/** Little-endian reader over a region `[pos, end)` of the quote; every read is bounds-checked. */
class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
    readonly region: string,
  ) {}

  need(n: number, field: string): void {
    if (n > this.end - this.pos) {
      throw new QuoteParseError(
        "QUOTE_TRUNCATED",
        field,
        this.pos,
        `needs ${n} bytes but only ${Math.max(0, this.end - this.pos)} remain in the ${this.region}`,
      );
    }
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    const v = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
    this.pos += 4;
    return v;
  }
  /** Read a u32/u16 length, then return a sub-reader over exactly that many following bytes. */
  lengthPrefixed(width: 2 | 4, lenField: string, field: string, region: string): Reader {
    const at = this.pos;
    const n = width === 2 ? this.u16(lenField) : this.u32(lenField);
    if (n > MAX_LENGTH_FIELD) {
      throw new QuoteParseError("QUOTE_LENGTH_TOO_LARGE", lenField, at, `declares ${n} bytes, more than the 1 MiB limit`);
    }
    if (n > this.end - this.pos) {
      throw new QuoteParseError(
        "QUOTE_LENGTH_PAST_END",
        field,
        this.pos,
        `${lenField} declares ${n} bytes but only ${this.end - this.pos} remain in the ${this.region}`,
      );
    }
    const sub = new Reader(this.buf, this.pos, this.pos + n, region);
    this.pos += n;
    return sub;
  }
}

function parseHeader(r: Reader): QuoteHeader {
  r.need(HEADER_SIZE, "header");
  const version = r.u16("header.version");
  const attestationKeyType = r.u16("header.attestation_key_type");
  const teeType = r.u32("header.tee_type");
  const qeSvn = r.u16("header.qe_svn");
  const pceSvn = r.u16("header.pce_svn");
  const qeVendorId = r.bytes(16, "header.qe_vendor_id");
  const userData = r.bytes(20, "header.user_data");
  return { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

/** Parse a 384-byte SGX enclave report starting at `r.pos`. */
function parseEnclaveReport(r: Reader, field: string): EnclaveReport {
  r.need(ENCLAVE_REPORT_SIZE, field);
  const b = r.buf;
  const o = r.pos;
  r.pos += ENCLAVE_REPORT_SIZE;
  const v = (a: number, n: number) => b.subarray(o + a, o + a + n);
  const u16 = (a: number) => b[o + a]! | (b[o + a + 1]! << 8);
  return {
    type: "sgx",
    cpuSvn: v(0, 16),
    miscSelect: (b[o + 16]! | (b[o + 17]! << 8) | (b[o + 18]! << 16)) + b[o + 19]! * 0x1000000,
    isvExtProdId: v(32, 16),
    attributes: v(48, 16),
    mrEnclave: v(64, 32),
    mrSigner: v(128, 32),
    configId: v(192, 64),
    isvProdId: u16(256),
    isvSvn: u16(258),
    configSvn: u16(260),
    isvFamilyId: v(304, 16),
    reportData: v(320, 64),
  };
}

function parseTdReport(r: Reader, td15: boolean): TdReport10 | TdReport15 {
  const size = td15 ? TD15_REPORT_SIZE : TD10_REPORT_SIZE;
  r.need(size, td15 ? "body (TD 1.5 report)" : "body (TD 1.0 report)");
  const b = r.buf;
  const o = r.pos;
  r.pos += size;
  const v = (a: number, n: number) => b.subarray(o + a, o + a + n);
  const base = {
    teeTcbSvn: v(0, 16),
    mrSeam: v(16, 48),
    mrSignerSeam: v(64, 48),
    seamAttributes: v(112, 8),
    tdAttributes: v(120, 8),
    xfam: v(128, 8),
    mrTd: v(136, 48),
    mrConfigId: v(184, 48),
    mrOwner: v(232, 48),
    mrOwnerConfig: v(280, 48),
    rtMr0: v(328, 48),
    rtMr1: v(376, 48),
    rtMr2: v(424, 48),
    rtMr3: v(472, 48),
    reportData: v(520, 64),
  };
  if (!td15) return { type: "td10", ...base };
  return { type: "td15", ...base, teeTcbSvn2: v(584, 16), mrServiceTd: v(600, 48) };
}

const V5_BODY: Record<number, { kind: "sgx" | "td10" | "td15"; size: number }> = {
  1: { kind: "sgx", size: ENCLAVE_REPORT_SIZE },
  2: { kind: "td10", size: TD10_REPORT_SIZE },
  3: { kind: "td15", size: TD15_REPORT_SIZE },
};

/** The argument of `parseQuote`: the quote's bytes. */
export type ParseQuoteParameters = Uint8Array;
export type ParseQuoteReturnType = Quote;
export type ParseQuoteErrorType = QuoteParseError;

/**
 * Parse a DCAP quote: header, body (by version and TEE type), signature data, QE report and its
 * certification data. Throws `QuoteParseError` (an `InputError`) naming the field and offset.
 */
export function parseQuote(bytes: ParseQuoteParameters): ParseQuoteReturnType {
  if (!(bytes instanceof Uint8Array)) throw new QuoteParseError("QUOTE_NOT_BYTES", "quote", 0, "expected a Uint8Array");
  const r = new Reader(bytes, 0, bytes.length, "quote");
  const header = parseHeader(r);
  const { body, bodyDescriptor } = parseBody(r, header);
  const bodyOffset = header.version === 5 ? HEADER_SIZE + 6 : HEADER_SIZE;
  const signedLength = r.pos;
  const { outerCertificationType, outerCertificationDataSize, ...signatureData } = parseSignatureData(r, header.version);
  const quote: Quote = { raw: bytes, header, body, bodyOffset, signedLength, ...signatureData };
  if (bodyDescriptor) quote.bodyDescriptor = bodyDescriptor;
  if (outerCertificationType !== undefined) quote.outerCertificationType = outerCertificationType;
  if (outerCertificationDataSize !== undefined) quote.outerCertificationDataSize = outerCertificationDataSize;
  return quote;
}

/** The body after the header: by version and TEE type (v3 SGX; v4 SGX or TD 1.0; v5 by its body descriptor). */
function parseBody(r: Reader, header: QuoteHeader): { body: QuoteBody; bodyDescriptor?: Quote["bodyDescriptor"] } {
  const { version, teeType } = header;
  if (version === 3) {
    if (teeType !== TEE_TYPE_SGX) {
      throw new QuoteParseError("QUOTE_UNSUPPORTED", "header.tee_type", 4, `version 3 quotes must be SGX (tee_type 0), got 0x${teeType.toString(16)}`);
    }
    return { body: parseEnclaveReport(r, "body (SGX enclave report)") };
  }
  if (version === 4) {
    if (teeType === TEE_TYPE_SGX) return { body: parseEnclaveReport(r, "body (SGX enclave report)") };
    if (teeType === TEE_TYPE_TDX) return { body: parseTdReport(r, false) };
    throw new QuoteParseError("QUOTE_UNSUPPORTED", "header.tee_type", 4, `unknown TEE type 0x${teeType.toString(16)}`);
  }
  if (version !== 5) throw new QuoteParseError("QUOTE_UNSUPPORTED", "header.version", 0, `unsupported quote version ${version} (expected 3, 4 or 5)`);
  const bodyType = r.u16("body_descriptor.body_type");
  const bodySize = r.u32("body_descriptor.body_size");
  const desc = V5_BODY[bodyType];
  if (!desc) throw new QuoteParseError("QUOTE_UNSUPPORTED", "body_descriptor.body_type", 48, `unknown v5 body type ${bodyType} (expected 1, 2 or 3)`);
  if (bodySize !== desc.size) {
    throw new QuoteParseError("QUOTE_BODY_SIZE_MISMATCH", "body_descriptor.body_size", 50, `body type ${bodyType} needs ${desc.size} bytes, body_size says ${bodySize}`);
  }
  if ((desc.kind === "sgx") !== (teeType === TEE_TYPE_SGX) || (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX)) {
    throw new QuoteParseError("QUOTE_UNSUPPORTED", "header.tee_type", 4, `tee_type 0x${teeType.toString(16)} does not match v5 body type ${bodyType}`);
  }
  const body = desc.kind === "sgx" ? parseEnclaveReport(r, "body (SGX enclave report)") : parseTdReport(r, desc.kind === "td15");
  return { body, bodyDescriptor: { bodyType, bodySize } };
}

type SignatureData = Omit<Quote, "raw" | "header" | "bodyDescriptor" | "body" | "bodyOffset" | "signedLength">;

/**
 * The signature data after the body: the quote signature and attestation key, then (v4/v5 inside the
 * outer certification data of type 6) the QE report, its signature, the QE authentication data and the
 * inner certification data (the PCK chain).
 */
function parseSignatureData(r: Reader, version: number): SignatureData {
  const bytes = r.buf;
  const sig = r.lengthPrefixed(4, "signature_data_length", "signature_data", "signature data");
  const signatureDataLength = sig.end - sig.pos;
  const trailingBytes = bytes.length - sig.end;
  const signature = sig.bytes(64, "quote_signature");
  const attestationKey = sig.bytes(64, "attestation_key");

  let qe: Reader;
  let outerCertificationType: number | undefined;
  let outerCertificationDataSize: number | undefined;
  if (version === 3) {
    qe = sig;
  } else {
    const typeAt = sig.pos;
    outerCertificationType = sig.u16("certification_data.type");
    if (outerCertificationType !== 6) {
      throw new QuoteParseError(
        "QUOTE_UNSUPPORTED_CERT_TYPE",
        "certification_data.type",
        typeAt,
        `expected type 6 (QE report certification data), got ${outerCertificationType}`,
      );
    }
    qe = sig.lengthPrefixed(4, "certification_data.size", "certification_data", "signature data");
    outerCertificationDataSize = qe.end - qe.pos;
    qe = new Reader(qe.buf, qe.pos, qe.end, "QE report certification data");
  }
  const qeReportStart = qe.pos;
  const qeReport = parseEnclaveReport(qe, "qe_report");
  const qeReportRaw = bytes.subarray(qeReportStart, qeReportStart + ENCLAVE_REPORT_SIZE);
  const qeReportSignature = qe.bytes(64, "qe_report_signature");
  const authReader = qe.lengthPrefixed(2, "qe_auth_data.size", "qe_auth_data", qe.region);
  const qeAuthData = bytes.subarray(authReader.pos, authReader.end);
  const certificationType = qe.u16("pck_cert_data.type");
  const certReader = qe.lengthPrefixed(4, "pck_cert_data.size", "pck_cert_data", qe.region);
  const certificationData = bytes.subarray(certReader.pos, certReader.end);
  const out: SignatureData = {
    signatureDataLength,
    signature,
    attestationKey,
    qeReportRaw,
    qeReport,
    qeReportSignature,
    qeAuthData,
    certificationType,
    certificationData,
    trailingBytes,
  };
  if (outerCertificationType !== undefined) out.outerCertificationType = outerCertificationType;
  if (outerCertificationDataSize !== undefined) out.outerCertificationDataSize = outerCertificationDataSize;
  return out;
}

/** True for a parsed `Quote` (not its bytes). */
export function isParsedQuote(input: unknown): input is Quote {
  return typeof input === "object" && input !== null && !(input instanceof Uint8Array) && (input as Quote).raw instanceof Uint8Array;
}

/** A quote parsed once: the parsed `Quote` itself, or its bytes parsed with `parseQuote`. */
export function asQuote(input: Uint8Array | Quote): Quote {
  return isParsedQuote(input) ? input : parseQuote(input);
}

/**
 * The PEM text of the PCK chain embedded in a quote (inner certification data type 5), as the quote
 * carries it; undefined for any other certification type.
 */
export function quotePckPem(q: Quote): string | undefined {
  if (q.certificationType !== 5) return undefined;
  const cd = q.certificationData;
  return Buffer.from(cd.buffer, cd.byteOffset, cd.byteLength).toString("latin1");
}

/**
 * The PEM PCK chain embedded in a quote (inner certification data type 5), decoded: leaf first, as
 * the quote lists them. Throws `QuoteParseError` when the quote carries another certification type,
 * `InputError` (`BAD_PEM` / `BAD_DER`) for an undecodable block. No signature or validity check here.
 */
export function quotePckChain(q: Quote): Certificate[] {
  const pem = quotePckPem(q);
  if (pem === undefined) {
    const at = q.certificationData.byteOffset - q.raw.byteOffset - 6;
    throw new QuoteParseError("QUOTE_NO_PCK_CHAIN", "pck_cert_data.type", at, `certification data type ${q.certificationType} is not a PEM PCK chain (type 5)`);
  }
  return pemBlocks(pem, "quote PCK chain").map((der, i) => parseCertificate(der, `quote PCK chain certificate ${i + 1}`));
}

/** "TDX" or "SGX" by header tee type. */
export function isTdxQuote(q: Quote): boolean {
  return q.header.teeType === TEE_TYPE_TDX;
}

/** Report fields as JSON (`0x` lower-case hex, numbers for integers). */
export function reportToJson(body: QuoteBody): ReportJson {
  const out: ReportJson = { type: body.type };
  for (const [k, v] of Object.entries(body)) {
    if (k === "type") continue;
    out[k] = v instanceof Uint8Array ? bytesToHex(v) : (v as number);
  }
  return out;
}
