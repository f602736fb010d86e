/**
 * AMD SEV-SNP attestation reports (the 1184-byte ATTESTATION_REPORT the AMD secure processor signs):
 * the fields a verifier reads, at their fixed offsets (all integers little-endian). Decoding only: the
 * VCEK signature and the AMD certificate chain are not checked here.
 */
import { bytesToHex, type Hex } from "../../core/bytes.js";
import { InputError } from "../../core/errors.js";

export const SNP_REPORT_LENGTH = 1184;
/** report_data: 64 bytes at 0x50. */
export const SNP_REPORT_DATA_OFFSET = 0x50;

export interface SnpReport {
  version: number;
  guestSvn: number;
  policy: bigint;
  familyId: Hex;
  imageId: Hex;
  vmpl: number;
  signatureAlgorithm: number;
  currentTcb: bigint;
  platformInfo: bigint;
  reportData: Uint8Array;
  measurement: Hex;
  hostData: Hex;
  idKeyDigest: Hex;
  authorKeyDigest: Hex;
  reportId: Hex;
  reportedTcb: bigint;
  /** CPUID family/model/stepping (report version 3 and later; null before). */
  cpuid: { family: number; model: number; stepping: number } | null;
  chipId: Hex;
  committedTcb: bigint;
  launchTcb: bigint;
  /** ECDSA P-384 signature r and s, each a 72-byte little-endian field. */
  signature: { r: Hex; s: Hex };
}

/** True when the bytes have the length of an SNP report, a report version 2–5 and signature algorithm 1 (ECDSA P-384 with SHA-384). */
export function looksLikeSnpReport(b: Uint8Array): boolean {
  if (b.length !== SNP_REPORT_LENGTH) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const version = dv.getUint32(0, true);
  return version >= 2 && version <= 5 && dv.getUint32(0x34, true) === 1;
}

/** The report's fields, after checking its length, version (2 to 5) and signature algorithm (1), as the registry's on-chain reader does. */
export function parseSnpReport(b: Uint8Array): SnpReport {
  if (b.length !== SNP_REPORT_LENGTH) {
    throw new InputError("SNP_REPORT_MALFORMED", `SEV-SNP report: ${b.length} bytes, expected ${SNP_REPORT_LENGTH}`, { details: { field: "report", length: b.length } });
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const version = dv.getUint32(0, true);
  if (version < 2 || version > 5) throw new InputError("SNP_REPORT_MALFORMED", `SEV-SNP report: version ${version} (expected 2 to 5)`, { details: { field: "version", offset: 0 } });
  const algorithm = dv.getUint32(0x34, true);
  if (algorithm !== 1) throw new InputError("SNP_REPORT_MALFORMED", `SEV-SNP report: signature algorithm ${algorithm} (expected 1, ECDSA P-384 with SHA-384)`, { details: { field: "signature_algo", offset: 0x34 } });
  const hex = (off: number, n: number) => bytesToHex(b.subarray(off, off + n));
  const u64 = (off: number) => dv.getBigUint64(off, true);
  const reversedHex = (off: number, n: number) => bytesToHex(Uint8Array.from(b.subarray(off, off + n)).reverse());
  return {
    version,
    guestSvn: dv.getUint32(0x04, true),
    policy: u64(0x08),
    familyId: hex(0x10, 16),
    imageId: hex(0x20, 16),
    vmpl: dv.getUint32(0x30, true),
    signatureAlgorithm: dv.getUint32(0x34, true),
    currentTcb: u64(0x38),
    platformInfo: u64(0x40),
    reportData: b.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64),
    measurement: hex(0x90, 48),
    hostData: hex(0xc0, 32),
    idKeyDigest: hex(0xe0, 48),
    authorKeyDigest: hex(0x110, 48),
    reportId: hex(0x140, 32),
    reportedTcb: u64(0x180),
    cpuid: version >= 3 ? { family: b[0x188]!, model: b[0x189]!, stepping: b[0x18a]! } : null,
    chipId: hex(0x1a0, 64),
    committedTcb: u64(0x1e0),
    launchTcb: u64(0x1f0),
    signature: { r: reversedHex(0x2a0, 72), s: reversedHex(0x2e8, 72) },
  };
}

/** The report's fields as JSON (64-bit values as 0x-hex strings, the signature's r and s big-endian). */
export function snpReportJson(r: SnpReport): Record<string, unknown> {
  const h64 = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;
  return {
    version: r.version,
    guestSvn: r.guestSvn,
    policy: h64(r.policy),
    familyId: r.familyId,
    imageId: r.imageId,
    vmpl: r.vmpl,
    signatureAlgorithm: r.signatureAlgorithm,
    currentTcb: h64(r.currentTcb),
    platformInfo: h64(r.platformInfo),
    reportData: bytesToHex(r.reportData),
    measurement: r.measurement,
    hostData: r.hostData,
    idKeyDigest: r.idKeyDigest,
    authorKeyDigest: r.authorKeyDigest,
    reportId: r.reportId,
    reportedTcb: h64(r.reportedTcb),
    cpuid: r.cpuid,
    chipId: r.chipId,
    committedTcb: h64(r.committedTcb),
    launchTcb: h64(r.launchTcb),
    signature: r.signature,
  };
}
