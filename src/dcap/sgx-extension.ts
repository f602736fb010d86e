/**
 * The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): the platform's PPID, its
 * TCB (16 CPUSVN components and the PCESVN), the PCE-ID, the FMSPC that names its TCB Info, and the SGX
 * type; and which Intel PCK CA (Platform or Processor) issued the certificate. Read here once, for the
 * verifier and for the collateral requests alike.
 */
import { bytesToHex } from "../core/bytes.js";
import { VerificationError } from "../core/errors.js";
import { children, derError, expectTag, oidToString, readTlv, uintValue, type Tlv } from "./der.js";
import type { PckInfoJson } from "./types.js";
import { nameToString, type Certificate } from "./x509.js";

export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";

export interface SgxExtension {
  ppid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  sgxType: number;
  /** comp01…comp16 from the TCB sequence */
  tcbComponents: number[];
  platformInstanceId?: Uint8Array;
}

function fail(message: string): never {
  throw new VerificationError("PCK_SGX_EXTENSION_INVALID", message);
}

/** The extension's entries by OID, and the entries of its TCB sequence (`….2`) by OID. */
function entries(v: Uint8Array, what: string): { fields: Map<string, Tlv>; tcb: Map<string, Tlv> } {
  const top = expectTag(readTlv(v, 0, v.length, what), 0x30, what);
  const fields = new Map<string, Tlv>();
  const tcb = new Map<string, Tlv>();
  for (const item of children(v, top, what)) {
    const [oidT, valT] = children(v, expectTag(item, 0x30, what), what);
    if (!oidT || !valT) throw derError(what, "entry without value");
    const oid = oidToString(v, expectTag(oidT, 0x06, what));
    fields.set(oid, valT);
    if (oid === `${OID_SGX_EXTENSION}.2`) {
      for (const c of children(v, expectTag(valT, 0x30, what), what)) {
        const [o, x] = children(v, expectTag(c, 0x30, what), what);
        if (!o || !x) throw derError(what, "TCB entry without value");
        tcb.set(oidToString(v, expectTag(o, 0x06, what)), x);
      }
    }
  }
  return { fields, tcb };
}

/**
 * Parse the SGX extension of a PCK leaf: exactly one such extension, with every field of the right
 * type and size. Throws `InputError` (`BAD_DER`) or `VerificationError` (`PCK_SGX_EXTENSION_INVALID`).
 */
export function parseSgxExtension(cert: Certificate): SgxExtension {
  const what = "PCK certificate SGX extension";
  const exts = cert.extensions.filter((e) => e.oid === OID_SGX_EXTENSION);
  if (exts.length !== 1) fail(`${what}: expected exactly one extension ${OID_SGX_EXTENSION}, found ${exts.length}`);
  const v = exts[0]!.value;
  const { fields, tcb } = entries(v, what);
  const octets = (m: Map<string, Tlv>, sub: string, name: string, len?: number): Uint8Array => {
    const t = m.get(`${OID_SGX_EXTENSION}.${sub}`);
    if (!t) fail(`${what}: ${name} (${OID_SGX_EXTENSION}.${sub}) is missing`);
    expectTag(t, 0x04, `${what} ${name}`);
    const b = v.subarray(t.cStart, t.end);
    if (len !== undefined && b.length !== len) fail(`${what}: ${name} must be ${len} bytes, found ${b.length}`);
    return b;
  };
  const integer = (m: Map<string, Tlv>, sub: string, name: string, tag: number, max: number): number => {
    const t = m.get(`${OID_SGX_EXTENSION}.${sub}`);
    if (!t) fail(`${what}: ${name} (${OID_SGX_EXTENSION}.${sub}) is missing`);
    expectTag(t, tag, `${what} ${name}`);
    const n = uintValue(v, t, `${what} ${name}`);
    if (n > max) fail(`${what}: ${name} ${n} is out of range`);
    return n;
  };
  if (!fields.has(`${OID_SGX_EXTENSION}.2`)) fail(`${what}: TCB (${OID_SGX_EXTENSION}.2) is missing`);
  const tcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const t = tcb.get(`${OID_SGX_EXTENSION}.2.${i}`);
    tcbComponents.push(t && t.tag === 0x02 ? uintValue(v, t, what) : 0);
  }
  const out: SgxExtension = {
    ppid: octets(fields, "1", "PPID", 16),
    cpuSvn: octets(tcb, "2.18", "CPUSVN", 16),
    pceSvn: integer(tcb, "2.17", "PCESVN", 0x02, 0xffff),
    pceId: octets(fields, "3", "PCE-ID", 2),
    fmspc: octets(fields, "4", "FMSPC", 6),
    sgxType: integer(fields, "5", "SGX type", 0x0a, 0xff),
    tcbComponents,
  };
  const pii = fields.get(`${OID_SGX_EXTENSION}.6`);
  if (pii && pii.tag === 0x04) out.platformInstanceId = v.subarray(pii.cStart, pii.end);
  return out;
}

/** The two Intel CAs that issue PCK certificates, by the CN of their subject. */
export const INTEL_PCK_PLATFORM_CA_CN = "Intel SGX PCK Platform CA";
export const INTEL_PCK_PROCESSOR_CA_CN = "Intel SGX PCK Processor CA";

export type PckCaType = "platform" | "processor";

/**
 * Which Intel PCK CA issued a PCK certificate, as PCCS requests name it: `platform` when the issuer's
 * name says Platform (`Intel SGX PCK Platform CA`), otherwise `processor`. The chain step pins the exact
 * CA names; this only reads which of the two it is.
 */
export function pckCaType(leaf: Certificate): PckCaType {
  return nameToString(leaf.issuer).includes("Platform") ? "platform" : "processor";
}

/** The PCK leaf's identity as JSON (`0x` lower-case hex). */
export function pckInfoJson(leaf: Certificate, ext: SgxExtension): PckInfoJson {
  return {
    fmspc: bytesToHex(ext.fmspc),
    pceId: bytesToHex(ext.pceId),
    ca: pckCaType(leaf),
    ppid: bytesToHex(ext.ppid),
    cpuSvn: bytesToHex(ext.cpuSvn),
    pceSvn: ext.pceSvn,
    sgxType: ext.sgxType,
  };
}
