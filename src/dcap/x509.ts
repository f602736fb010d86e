/**
 * Minimal X.509 / CRL handling for DCAP (spec §2.4, §2.5): a strict DER reader, certificate and CRL
 * decoding, PEM extraction, ECDSA P-256 signature checks with `node:crypto`, certificate path
 * building to a pinned root, CRL checks and the Intel SGX PCK extension.
 *
 * Only what DCAP needs is decoded; everything else is skipped structurally. Every decoding problem
 * is an `InputError` (code `BAD_DER`) naming what was being read; never another exception.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";

import { base64ToBytes, hexToBytes } from "../core/bytes.js";
import { InputError, VerificationError } from "../core/errors.js";
import { bytesKey, memo, type VerificationCache } from "./cache.js";

// ---------------------------------------------------------------------------------------------
// DER reader
// ---------------------------------------------------------------------------------------------

export interface Tlv {
  tag: number;
  /** start of the TLV (tag byte) */
  start: number;
  /** start of the content octets */
  cStart: number;
  /** end of the content octets (= end of the TLV) */
  end: number;
}

export function derError(what: string, message: string): InputError {
  return new InputError("BAD_DER", `${what}: ${message}`, { details: { what } });
}

/** Read one TLV at `pos` that must end by `limit`. Only low tag numbers, definite lengths ≤ 4 bytes. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, what: string): Tlv {
  if (pos + 2 > limit) throw derError(what, "truncated DER");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw derError(what, "high-tag-number form not supported");
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw derError(what, n === 0 ? "indefinite length not allowed in DER" : "length too large");
    if (p + n > limit) throw derError(what, "truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (len > limit - p) throw derError(what, `length ${len} runs past the end`);
  return { tag, start: pos, cStart: p, end: p + len };
}

function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw derError(what, `expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** Children of a constructed TLV. */
export function children(buf: Uint8Array, t: Tlv, what: string): Tlv[] {
  const out: Tlv[] = [];
  let p = t.cStart;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end, what);
    out.push(c);
    p = c.end;
    if (out.length > 100_000) throw derError(what, "too many elements");
  }
  return out;
}

/** Dotted OID from the content of an OBJECT IDENTIFIER TLV. */
export function oidToString(buf: Uint8Array, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.cStart; i < t.end; i++) {
    const b = buf[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Unsigned big-endian integer value of an INTEGER/ENUMERATED content (≤ 2^53). */
export function uintValue(buf: Uint8Array, t: Tlv, what: string): number {
  if (t.end === t.cStart) throw derError(what, "empty INTEGER");
  if (buf[t.cStart]! & 0x80) throw derError(what, "negative INTEGER");
  let v = 0;
  for (let i = t.cStart; i < t.end; i++) {
    v = v * 256 + buf[i]!;
    if (v > Number.MAX_SAFE_INTEGER) throw derError(what, "INTEGER too large");
  }
  return v;
}

const te = /* @__PURE__ */ new TextDecoder("latin1");
function ascii(buf: Uint8Array, s: number, e: number): string {
  return te.decode(buf.subarray(s, e));
}

/** UTCTime / GeneralizedTime → unix seconds. */
export function readTime(buf: Uint8Array, t: Tlv, what: string): number {
  const s = ascii(buf, t.cStart, t.end);
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw derError(what, `bad UTCTime ${JSON.stringify(s)}`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw derError(what, `bad GeneralizedTime ${JSON.stringify(s)}`);
    year = Number(m[1]);
  } else throw derError(what, `expected a time, got tag 0x${t.tag.toString(16)}`);
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw derError(what, `invalid date ${JSON.stringify(s)}`);
  }
  return ms / 1000;
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

const NAME_OIDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

/** Human-readable distinguished name (`CN=…, O=…`) for messages. Never throws. */
export function nameToString(der: Uint8Array): string {
  try {
    const seq = readTlv(der, 0, der.length, "name");
    const parts: string[] = [];
    for (const rdn of children(der, seq, "name")) {
      for (const atv of children(der, rdn, "name")) {
        const [oid, val] = children(der, atv, "name");
        if (!oid || !val) continue;
        const o = oidToString(der, oid);
        parts.push(`${NAME_OIDS[o] ?? o}=${new TextDecoder().decode(der.subarray(val.cStart, val.end))}`);
      }
    }
    return parts.join(", ");
  } catch {
    return "<undecodable name>";
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";
const OID_KEY_USAGE = "2.5.29.15";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_EXT_KEY_USAGE = "2.5.29.37";
const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
/** Extensions we understand (webpki's set that matters here); other critical extensions are rejected. */
const KNOWN_EXTENSIONS = new Set([OID_KEY_USAGE, OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, "2.5.29.17", "2.5.29.14", "2.5.29.35", "2.5.29.31", "2.5.29.32"]);

export interface Extension {
  oid: string;
  critical: boolean;
  /** content of the extnValue OCTET STRING */
  value: Uint8Array;
}

export interface Certificate {
  der: Uint8Array;
  tbs: Uint8Array;
  signatureAlgorithm: string;
  /** DER ECDSA signature (BIT STRING content without the unused-bits byte) */
  signature: Uint8Array;
  /** serial as lower-case hex of the unsigned value, leading zero bytes stripped */
  serial: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  /** issuer/subject as latin1 strings for fast equality */
  issuerKey: string;
  subjectKey: string;
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  /** true when the SPKI is EC P-256 */
  isP256: boolean;
  extensions: Extension[];
  isCa: boolean;
  pathLen: number | undefined;
  /** keyUsage bits (bit 0 = digitalSignature … bit 5 = keyCertSign, bit 6 = cRLSign), undefined if absent */
  keyUsage: number | undefined;
  extKeyUsage: string[] | undefined;
}

function latin1(b: Uint8Array): string {
  return te.decode(b);
}

function normalizeSerial(b: Uint8Array): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.buffer, b.byteOffset + i, b.length - i).toString("hex");
}

function bitStringBytes(buf: Uint8Array, t: Tlv, what: string): Uint8Array {
  expectTag(t, 0x03, what);
  if (t.end - t.cStart < 1 || buf[t.cStart] !== 0) throw derError(what, "BIT STRING with unused bits");
  return buf.subarray(t.cStart + 1, t.end);
}

function algorithmOid(buf: Uint8Array, t: Tlv, what: string): string {
  expectTag(t, 0x30, what);
  const [oid] = children(buf, t, what);
  if (!oid) throw derError(what, "empty AlgorithmIdentifier");
  return oidToString(buf, expectTag(oid, 0x06, what));
}

/** Decode a DER X.509 certificate. Throws `InputError` (`BAD_DER`) naming `what`. */
export function parseCertificate(der: Uint8Array, what = "certificate"): Certificate {
  const top = expectTag(readTlv(der, 0, der.length, what), 0x30, what);
  if (top.end !== der.length) throw derError(what, "trailing bytes after the certificate");
  const [tbsT, algT, sigT, extra] = children(der, top, what);
  if (!tbsT || !algT || !sigT || extra) throw derError(what, "a certificate has exactly three elements");
  expectTag(tbsT, 0x30, what);
  const f = children(der, tbsT, what);
  let i = 0;
  if (f[0]?.tag === 0xa0) i = 1; // version
  const [serialT, innerAlgT, issuerT, validityT, subjectT, spkiT] = f.slice(i, i + 6);
  if (!serialT || !innerAlgT || !issuerT || !validityT || !subjectT || !spkiT) throw derError(what, "tbsCertificate is missing fields");
  expectTag(serialT, 0x02, `${what} serial`);
  const innerAlg = algorithmOid(der, innerAlgT, what);
  const signatureAlgorithm = algorithmOid(der, algT, what);
  if (innerAlg !== signatureAlgorithm) throw derError(what, "signature algorithm differs inside and outside tbsCertificate");
  expectTag(issuerT, 0x30, `${what} issuer`);
  expectTag(subjectT, 0x30, `${what} subject`);
  const [nbT, naT] = children(der, expectTag(validityT, 0x30, `${what} validity`), what);
  if (!nbT || !naT) throw derError(what, "validity needs notBefore and notAfter");
  expectTag(spkiT, 0x30, `${what} subjectPublicKeyInfo`);
  const [spkiAlgT] = children(der, spkiT, what);
  let isP256 = false;
  if (spkiAlgT?.tag === 0x30) {
    const a = children(der, spkiAlgT, what);
    isP256 = a.length === 2 && a[0]!.tag === 0x06 && a[1]!.tag === 0x06 && oidToString(der, a[0]!) === OID_EC_PUBLIC_KEY && oidToString(der, a[1]!) === OID_P256;
  }
  const extensions: Extension[] = [];
  for (const x of f.slice(i + 6)) {
    if (x.tag !== 0xa3) continue; // issuerUniqueID / subjectUniqueID
    const [seq] = children(der, x, what);
    if (!seq) throw derError(what, "empty extensions");
    for (const e of children(der, expectTag(seq, 0x30, what), `${what} extensions`)) {
      const parts = children(der, expectTag(e, 0x30, what), `${what} extension`);
      const oidT = parts[0];
      const valT = parts[parts.length - 1];
      if (!oidT || !valT || parts.length < 2 || parts.length > 3) throw derError(what, "malformed extension");
      let critical = false;
      if (parts.length === 3) {
        const c = expectTag(parts[1]!, 0x01, `${what} extension critical flag`);
        critical = c.end - c.cStart === 1 && der[c.cStart] !== 0;
      }
      extensions.push({ oid: oidToString(der, expectTag(oidT, 0x06, what)), critical, value: der.subarray(expectTag(valT, 0x04, what).cStart, valT.end) });
    }
  }
  let isCa = false;
  let pathLen: number | undefined;
  let keyUsage: number | undefined;
  let extKeyUsage: string[] | undefined;
  const seen = new Set<string>();
  for (const e of extensions) {
    if (seen.has(e.oid)) throw derError(what, `extension ${e.oid} appears more than once`);
    seen.add(e.oid);
    const v = e.value;
    if (e.oid === OID_BASIC_CONSTRAINTS) {
      const s = expectTag(readTlv(v, 0, v.length, `${what} basicConstraints`), 0x30, `${what} basicConstraints`);
      for (const c of children(v, s, `${what} basicConstraints`)) {
        if (c.tag === 0x01) isCa = c.end - c.cStart === 1 && v[c.cStart] !== 0;
        else if (c.tag === 0x02) pathLen = uintValue(v, c, `${what} pathLenConstraint`);
      }
    } else if (e.oid === OID_KEY_USAGE) {
      const b = readTlv(v, 0, v.length, `${what} keyUsage`);
      expectTag(b, 0x03, `${what} keyUsage`);
      keyUsage = 0;
      // bit n of the BIT STRING (MSB first) → bit n of keyUsage
      for (let k = b.cStart + 1, bit = 0; k < b.end; k++, bit += 8) {
        const byte = v[k]!;
        for (let j = 0; j < 8; j++) if (byte & (0x80 >> j)) keyUsage |= 1 << (bit + j);
      }
    } else if (e.oid === OID_EXT_KEY_USAGE) {
      const s = expectTag(readTlv(v, 0, v.length, `${what} extKeyUsage`), 0x30, `${what} extKeyUsage`);
      extKeyUsage = children(v, s, `${what} extKeyUsage`).map((c) => oidToString(v, c));
    }
  }
  return {
    der,
    tbs: der.subarray(tbsT.start, tbsT.end),
    signatureAlgorithm,
    signature: bitStringBytes(der, sigT, `${what} signature`),
    serial: normalizeSerial(der.subarray(serialT.cStart, serialT.end)),
    issuer: der.subarray(issuerT.start, issuerT.end),
    subject: der.subarray(subjectT.start, subjectT.end),
    issuerKey: latin1(der.subarray(issuerT.start, issuerT.end)),
    subjectKey: latin1(der.subarray(subjectT.start, subjectT.end)),
    notBefore: readTime(der, nbT, `${what} notBefore`),
    notAfter: readTime(der, naT, `${what} notAfter`),
    spki: der.subarray(spkiT.start, spkiT.end),
    isP256,
    extensions,
    isCa,
    pathLen,
    keyUsage,
    extKeyUsage,
  };
}

export const KU_DIGITAL_SIGNATURE = 1 << 0;
export const KU_KEY_CERT_SIGN = 1 << 5;
export const KU_CRL_SIGN = 1 << 6;

// ---------------------------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------------------------

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  issuer: Uint8Array;
  issuerKey: string;
  thisUpdate: number;
  nextUpdate: number | undefined;
  /** normalised serials (see `Certificate.serial`) */
  revoked: Set<string>;
}

/** Decode a DER CRL (v1 or v2). Throws `InputError` (`BAD_DER`). */
export function parseCrl(der: Uint8Array, what = "CRL"): Crl {
  const top = expectTag(readTlv(der, 0, der.length, what), 0x30, what);
  if (top.end !== der.length) throw derError(what, "trailing bytes after the CRL");
  const [tbsT, algT, sigT, extra] = children(der, top, what);
  if (!tbsT || !algT || !sigT || extra) throw derError(what, "a CRL has exactly three elements");
  const f = children(der, expectTag(tbsT, 0x30, what), what);
  let i = 0;
  if (f[0]?.tag === 0x02) i = 1; // version
  const innerAlgT = f[i];
  const issuerT = f[i + 1];
  const thisT = f[i + 2];
  if (!innerAlgT || !issuerT || !thisT) throw derError(what, "tbsCertList is missing fields");
  const signatureAlgorithm = algorithmOid(der, algT, what);
  if (algorithmOid(der, innerAlgT, what) !== signatureAlgorithm) throw derError(what, "signature algorithm differs inside and outside tbsCertList");
  expectTag(issuerT, 0x30, `${what} issuer`);
  let k = i + 3;
  let nextUpdate: number | undefined;
  const nu = f[k];
  if (nu && (nu.tag === 0x17 || nu.tag === 0x18)) {
    nextUpdate = readTime(der, nu, `${what} nextUpdate`);
    k++;
  }
  const revoked = new Set<string>();
  const rl = f[k];
  if (rl && rl.tag === 0x30) {
    for (const entry of children(der, rl, `${what} revokedCertificates`)) {
      const [sn] = children(der, expectTag(entry, 0x30, what), `${what} revoked entry`);
      if (!sn) throw derError(what, "empty revoked entry");
      expectTag(sn, 0x02, `${what} revoked serial`);
      revoked.add(normalizeSerial(der.subarray(sn.cStart, sn.end)));
    }
  }
  return {
    der,
    tbs: der.subarray(tbsT.start, tbsT.end),
    signatureAlgorithm,
    signature: bitStringBytes(der, sigT, `${what} signature`),
    issuer: der.subarray(issuerT.start, issuerT.end),
    issuerKey: latin1(der.subarray(issuerT.start, issuerT.end)),
    thisUpdate: readTime(der, thisT, `${what} thisUpdate`),
    nextUpdate,
    revoked,
  };
}

// ---------------------------------------------------------------------------------------------
// PEM
// ---------------------------------------------------------------------------------------------

const PEM_RE = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;

/** PEM text of DER bytes: base64 in 64-character lines between `BEGIN label` / `END label`. */
export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

/** DER bytes of every `BEGIN CERTIFICATE` block in `text` (tolerates trailing NULs, CRLF, junk between blocks). */
export function pemBlocks(text: string, what = "PEM"): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const b64 = m[1]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new InputError("BAD_PEM", `${what}: certificate block ${out.length + 1} is not base64`);
    out.push(base64ToBytes(b64, `${what}: certificate block ${out.length + 1}`));
  }
  return out;
}

/** PEM text or DER bytes → DER (first certificate). */
export function certificateDerFromFile(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes[0] === 0x30) return bytes;
  const blocks = pemBlocks(new TextDecoder().decode(bytes), what);
  if (!blocks[0]) throw new InputError("BAD_PEM", `${what}: neither DER nor a PEM certificate`);
  return blocks[0];
}

// ---------------------------------------------------------------------------------------------
// Signatures (node:crypto, accepts high-S)
// ---------------------------------------------------------------------------------------------

const P256_SPKI_PREFIX = hexToBytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");

/** KeyObject from an SPKI DER; undefined when node cannot import it. */
export function keyFromSpki(spki: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

/** SPKI for a raw 64-byte P-256 point x‖y. */
export function spkiFromRawP256(xy: Uint8Array): Uint8Array {
  const out = new Uint8Array(P256_SPKI_PREFIX.length + 65);
  out.set(P256_SPKI_PREFIX, 0);
  out[P256_SPKI_PREFIX.length] = 4;
  out.set(xy, P256_SPKI_PREFIX.length + 1);
  return out;
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * ECDSA P-256 / SHA-256 check. `encoding` "der" for X.509/CRL signatures, "raw" for r‖s.
 * Returns false for any malformed key or signature (never throws).
 */
export function verifyP256(spki: Uint8Array, message: Uint8Array, signature: Uint8Array, encoding: "der" | "raw", cache?: VerificationCache): boolean {
  if (cache) {
    // the encoding is part of the key: the same bytes read as DER and as r‖s are different signatures
    const k = `${encoding}:${cache.sigKey(spki, message, signature)}`;
    const hit = cache.signatures.get(k);
    if (hit !== undefined) return hit;
    const ok = verifyP256Uncached(spki, message, signature, encoding, cache);
    cache.remember(cache.signatures, k, ok);
    return ok;
  }
  return verifyP256Uncached(spki, message, signature, encoding, undefined);
}

/** True when `spki` is an EC P-256 SubjectPublicKeyInfo (uncompressed or compressed point): a byte comparison, no key import. */
export function isP256Spki(spki: Uint8Array): boolean {
  const n = P256_SPKI_PREFIX.length;
  if (spki.length === n + 65) {
    for (let i = 0; i < n; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
    return spki[n] === 4;
  }
  if (spki.length === n + 33) {
    // 3039 3013 …(same algorithm)… 0322 00 02|03 x
    if (spki[0] !== 0x30 || spki[1] !== 0x39 || spki[n - 3] !== 0x03 || spki[n - 2] !== 0x22 || spki[n - 1] !== 0x00) return false;
    for (let i = 2; i < n - 3; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
    return spki[n] === 2 || spki[n] === 3;
  }
  return false;
}

function verifyP256Uncached(spki: Uint8Array, message: Uint8Array, signature: Uint8Array, encoding: "der" | "raw", cache: VerificationCache | undefined): boolean {
  if (encoding === "raw" && signature.length !== 64) return false;
  if (!isP256Spki(spki)) return false;
  let key: KeyObject | undefined;
  if (cache) {
    const kk = bytesKey(spki);
    key = cache.keys.get(kk);
    if (!key) {
      key = keyFromSpki(spki);
      if (key) cache.remember(cache.keys, kk, key);
    }
  } else key = keyFromSpki(spki);
  if (!key) return false;
  try {
    return cryptoVerify("sha256", buf(message), { key, dsaEncoding: encoding === "raw" ? "ieee-p1363" : "der" }, buf(signature));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Certificate path to the pinned root, with CRL checks (§2.4)
// ---------------------------------------------------------------------------------------------

export interface NamedCrl {
  crl: Crl;
  /** collateral field name, e.g. `root_ca_crl` */
  field: string;
  /** error-code prefix, e.g. `ROOT_CA_CRL` */
  code: string;
}

export interface PathContext {
  root: Certificate;
  /** CRLs to consult; undefined = do not check revocation (signature-only checks) */
  crls: NamedCrl[] | undefined;
  now: number;
  cache: VerificationCache | undefined;
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new VerificationError(code, message, details ? { details } : undefined);
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}

export function isoSeconds(t: number): string {
  return iso(t);
}

const cnMemo = new WeakMap<Uint8Array, string>();
function cn(name: Uint8Array): string {
  const hit = cnMemo.get(name);
  if (hit !== undefined) return hit;
  const v = cnUncached(name);
  cnMemo.set(name, v);
  return v;
}

/** The CN of a DER name (or the whole name when it has none), for messages. */
export function commonName(name: Uint8Array): string {
  return cn(name);
}

function cnUncached(name: Uint8Array): string {
  const s = nameToString(name);
  const m = /(?:^|, )CN=([^,]*)/.exec(s);
  return m ? m[1]! : s;
}

/**
 * Certificate from DER, memoised. A cached entry is parsed from a private copy: its views must not
 * alias a caller's buffer that may be changed in place after the call (the key is the bytes as they
 * were), or a later lookup with the original bytes would see the changed ones.
 */
export function cachedCertificate(der: Uint8Array, what: string, cache: VerificationCache | undefined): Certificate {
  return memo(cache, "cert", bytesKey(der), () => parseCertificate(cache ? der.slice() : der, what));
}

/** CRL from DER, memoised (parsed from a private copy, see `cachedCertificate`). */
export function cachedCrl(der: Uint8Array, what: string, cache: VerificationCache | undefined): Crl {
  return memo(cache, "crl", bytesKey(der), () => parseCrl(cache ? der.slice() : der, what));
}

function signedBy(cert: Certificate, issuer: Certificate, cache: VerificationCache | undefined): boolean {
  return cert.signatureAlgorithm === OID_ECDSA_SHA256 && issuer.isP256 && verifyP256(issuer.spki, cert.tbs, cert.signature, "der", cache);
}

/**
 * Check a CRL issued by `issuer` at `now`: signature (issuer must allow cRLSign when it has a
 * keyUsage), `thisUpdate ≤ now ≤ nextUpdate`. Throws `VerificationError` with `<crl.code>_…` codes.
 */
export function checkCrl(nc: NamedCrl, issuer: Certificate, now: number, cache: VerificationCache | undefined): void {
  const { crl, field, code } = nc;
  if (issuer.keyUsage !== undefined && !(issuer.keyUsage & KU_CRL_SIGN)) {
    fail(`${code}_ISSUER_INVALID`, `${field}: its issuer "${cn(issuer.subject)}" is not allowed to sign CRLs (no cRLSign key usage)`);
  }
  if (crl.signatureAlgorithm !== OID_ECDSA_SHA256 || !issuer.isP256 || !verifyP256(issuer.spki, crl.tbs, crl.signature, "der", cache)) {
    fail(`${code}_SIGNATURE_INVALID`, `${field}: signature does not verify with the key of "${cn(issuer.subject)}"`);
  }
  if (now < crl.thisUpdate) fail(`${code}_NOT_YET_VALID`, `${field}: thisUpdate ${iso(crl.thisUpdate)} is after the verification time ${iso(now)}`);
  if (crl.nextUpdate === undefined) fail(`${code}_EXPIRED`, `${field}: has no nextUpdate, so its freshness cannot be established`);
  if (now > crl.nextUpdate) fail(`${code}_EXPIRED`, `${field}: expired at nextUpdate ${iso(crl.nextUpdate)} (verification time ${iso(now)})`);
}

/**
 * Build and check the path from `chain[0]` (end entity) to the pinned root (§2.4): signatures,
 * validity at `now`, CA flags and path lengths, critical extensions, EKU, and a CRL check for every
 * certificate (the CRL whose issuer is the certificate's issuer, signed by that issuer, fresh at
 * `now`, not listing the serial). Returns `[leaf, …intermediates]` (the root not included).
 * Error codes are `<prefix>_CHAIN_EMPTY`, `<prefix>_ISSUER_UNKNOWN`, `<prefix>_CERT_SIGNATURE_INVALID`,
 * `<prefix>_CERT_EXPIRED`, `<prefix>_CERT_NOT_YET_VALID`, `<prefix>_CERT_INVALID`, `<prefix>_CRL_NOT_FOUND`,
 * `<prefix>_REVOKED` and the CRL codes of `checkCrl`.
 */
export function verifyPath(chain: Certificate[], ctx: PathContext, prefix: string, label: string): Certificate[] {
  const { root, now, cache } = ctx;
  const leaf = chain[0];
  if (!leaf) fail(`${prefix}_CHAIN_EMPTY`, `${label}: no certificate`);
  const path: Certificate[] = [leaf];
  const issuers: Certificate[] = [];
  let current = leaf;
  for (;;) {
    if (path.length > 6) fail(`${prefix}_ISSUER_UNKNOWN`, `${label}: no path to the root within 6 certificates`);
    if (current.issuerKey === root.subjectKey) {
      if (!signedBy(current, root, cache)) {
        fail(`${prefix}_CERT_SIGNATURE_INVALID`, `${label}: "${cn(current.subject)}" names the trusted root as issuer but its signature does not verify with the root key`);
      }
      issuers.push(root);
      break;
    }
    const candidates = chain.filter((c) => c !== current && c.subjectKey === current.issuerKey && c.subjectKey !== c.issuerKey);
    const next = candidates.find((c) => signedBy(current, c, cache));
    if (!next) {
      if (candidates.length) fail(`${prefix}_CERT_SIGNATURE_INVALID`, `${label}: signature of "${cn(current.subject)}" does not verify with the key of "${cn(current.issuer)}"`);
      fail(`${prefix}_ISSUER_UNKNOWN`, `${label}: issuer "${nameToString(current.issuer)}" of "${cn(current.subject)}" is neither the trusted root nor in the chain`);
    }
    if (path.includes(next)) fail(`${prefix}_ISSUER_UNKNOWN`, `${label}: certificate chain has a loop`);
    issuers.push(next);
    path.push(next);
    current = next;
  }
  // root path length: intermediates below the root
  if (root.pathLen !== undefined && path.length - 1 > root.pathLen) {
    fail(`${prefix}_CERT_INVALID`, `${label}: path has ${path.length - 1} intermediates, the root allows ${root.pathLen}`);
  }
  path.forEach((c, i) => {
    const name = cn(c.subject);
    if (now < c.notBefore) fail(`${prefix}_CERT_NOT_YET_VALID`, `${label}: "${name}" is valid from ${iso(c.notBefore)}, verification time is ${iso(now)}`);
    if (now > c.notAfter) fail(`${prefix}_CERT_EXPIRED`, `${label}: "${name}" expired at ${iso(c.notAfter)}, verification time is ${iso(now)}`);
    if (!c.isP256) fail(`${prefix}_CERT_INVALID`, `${label}: "${name}" does not have a P-256 public key`);
    for (const e of c.extensions) {
      if (e.critical && !KNOWN_EXTENSIONS.has(e.oid)) fail(`${prefix}_CERT_INVALID`, `${label}: "${name}" has an unsupported critical extension ${e.oid}`);
    }
    if (c.extKeyUsage && !c.extKeyUsage.includes(OID_SERVER_AUTH)) fail(`${prefix}_CERT_INVALID`, `${label}: "${name}" has an extended key usage without serverAuth`);
    if (i === 0) {
      if (c.isCa) fail(`${prefix}_CERT_INVALID`, `${label}: end-entity certificate "${name}" is a CA certificate`);
    } else {
      if (!c.isCa) fail(`${prefix}_CERT_INVALID`, `${label}: intermediate "${name}" is not a CA certificate`);
      if (c.keyUsage !== undefined && !(c.keyUsage & KU_KEY_CERT_SIGN)) fail(`${prefix}_CERT_INVALID`, `${label}: intermediate "${name}" is not allowed to sign certificates (no keyCertSign key usage)`);
      if (c.pathLen !== undefined && i - 1 > c.pathLen) fail(`${prefix}_CERT_INVALID`, `${label}: intermediate "${name}" allows ${c.pathLen} intermediates below it, found ${i - 1}`);
    }
  });
  // revocation, for every certificate in the path
  const crls = ctx.crls;
  if (!crls) return path;
  path.forEach((c, i) => {
    const issuer = issuers[i]!;
    const nc = crls.find((x) => x.crl.issuerKey === c.issuerKey);
    if (!nc) {
      fail(`${prefix}_CRL_NOT_FOUND`, `${label}: no CRL issued by "${cn(c.issuer)}" in the collateral, so the revocation status of "${cn(c.subject)}" is unknown`);
    }
    checkCrl(nc, issuer, now, cache);
    if (nc.crl.revoked.has(c.serial)) {
      fail(`${prefix}_REVOKED`, `${label}: "${cn(c.subject)}" (serial ${c.serial}) is revoked by ${nc.field}`, { serial: c.serial });
    }
  });
  return path;
}

// ---------------------------------------------------------------------------------------------
// Intel's fixed chain shapes: the TCB Signing certificate and the PCK CA (Intel QVL)
// ---------------------------------------------------------------------------------------------

export const INTEL_ORGANIZATION = "Intel Corporation";
export const INTEL_TCB_SIGNING_CN = "Intel SGX TCB Signing";
export const INTEL_PCK_PLATFORM_CA_CN = "Intel SGX PCK Platform CA";
export const INTEL_PCK_PROCESSOR_CA_CN = "Intel SGX PCK Processor CA";
const OID_CN = "2.5.4.3";
const OID_O = "2.5.4.10";

const utf8Strict = /* @__PURE__ */ new TextDecoder("utf-8", { fatal: true });
const attrMemo = new WeakMap<Uint8Array, [string, string | undefined][] | undefined>();

/**
 * Every attribute of a DER Name as `[oid, value]`, in order, read strictly from the DER (never from
 * the display string, where a value may itself contain `, O=…`). Values of UTF8String, PrintableString
 * and IA5String are decoded; any other string type gives `undefined` (it never matches a pin).
 * Undefined when the name does not decode.
 */
function nameAttributes(name: Uint8Array): [string, string | undefined][] | undefined {
  if (attrMemo.has(name)) return attrMemo.get(name);
  let out: [string, string | undefined][] | undefined;
  try {
    const seq = expectTag(readTlv(name, 0, name.length, "name"), 0x30, "name");
    out = [];
    for (const rdn of children(name, seq, "name")) {
      for (const atv of children(name, expectTag(rdn, 0x31, "name"), "name")) {
        const parts = children(name, expectTag(atv, 0x30, "name"), "name");
        if (parts.length !== 2) throw derError("name", "an attribute has a type and a value");
        const [oidT, valT] = parts as [Tlv, Tlv];
        const oid = oidToString(name, expectTag(oidT, 0x06, "name"));
        const raw = name.subarray(valT.cStart, valT.end);
        let value: string | undefined;
        if (valT.tag === 0x0c) value = utf8Strict.decode(raw);
        else if (valT.tag === 0x13 || valT.tag === 0x16) value = raw.every((x) => x < 0x80) ? latin1(raw) : undefined;
        out.push([oid, value]);
      }
    }
  } catch {
    out = undefined;
  }
  attrMemo.set(name, out);
  return out;
}

/** True when the name has exactly one attribute `oid` and its value is exactly `value`. */
function soleAttributeIs(name: Uint8Array, oid: string, value: string): boolean {
  const attrs = nameAttributes(name);
  if (!attrs) return false;
  const found = attrs.filter(([o]) => o === oid);
  return found.length === 1 && found[0]![1] === value;
}

/**
 * The Intel SGX TCB Signing pin, the signer of `tcb_info` and `qe_identity` (Intel's QVL accepts no
 * other certificate): `chain[0]` must have exactly one CN, `Intel SGX TCB Signing`, and exactly one
 * O, `Intel Corporation`; not be a CA; carry a keyUsage with digitalSignature; and be issued directly
 * by the trusted root, so the path is exactly signer ← root; the chain may hold nothing else but
 * copies of the root. The same shape is required under any trust root (`rootCaDer`). The path is
 * checked as usual too (`verifyPath`: signature, validity, critical extensions, revocation).
 *
 * The subject, CA flag, key usage and an issuer inside the chain are checked first, without any
 * signature work, so a PCK leaf, a PCK CA or any other certificate is refused here, before the
 * document signature is tried. Throws `VerificationError` `TCB_SIGNER_NOT_TCB_SIGNING`, or the
 * `<prefix>_…` codes of `verifyPath` (e.g. `<prefix>_ISSUER_UNKNOWN` for a foreign root). Returns
 * the signer.
 */
export function verifyTcbSigningPath(chain: Certificate[], ctx: PathContext, prefix: string, label: string): Certificate {
  const signer = chain[0];
  if (!signer) fail(`${prefix}_CHAIN_EMPTY`, `${label}: no certificate`);
  const code = "TCB_SIGNER_NOT_TCB_SIGNING";
  // messages are built only on failure (nameToString is not free, and this runs on every verification)
  const what = (): string => `${label}: the signer "${nameToString(signer.subject)}" is not the Intel SGX TCB Signing certificate`;
  if (!soleAttributeIs(signer.subject, OID_CN, INTEL_TCB_SIGNING_CN) || !soleAttributeIs(signer.subject, OID_O, INTEL_ORGANIZATION)) {
    fail(code, `${what()} (subject must be CN=${INTEL_TCB_SIGNING_CN}, O=${INTEL_ORGANIZATION})`);
  }
  if (signer.isCa) fail(code, `${what()}: it is a CA certificate`);
  if (signer.keyUsage === undefined || !(signer.keyUsage & KU_DIGITAL_SIGNATURE)) fail(code, `${what()}: its key usage does not include digitalSignature`);
  const root = ctx.root;
  // issued by an intermediate CA of the chain: the wrong shape. (An issuer found nowhere, e.g. a
  // foreign root, is an unknown issuer; verifyPath says so.)
  if (signer.issuerKey !== root.subjectKey && chain.some((c) => c !== signer && c.subjectKey === signer.issuerKey && c.subjectKey !== c.issuerKey)) {
    fail(code, `${what()}: it is issued by "${cn(signer.issuer)}", not directly by the root "${cn(root.subject)}"`);
  }
  const path = verifyPath(chain, ctx, prefix, label);
  if (path.length !== 1) fail(code, `${what()}: it is not issued directly by the root`);
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i]!;
    if (c !== root && !buf(c.der).equals(buf(root.der))) {
      fail(code, `${label}: certificate ${i + 1} "${cn(c.subject)}" is neither the TCB Signing certificate nor the root (the chain is TCB Signing ← root)`);
    }
  }
  return signer;
}

/**
 * The PCK chain pin (after `verifyPath`, on its `path`): the PCK leaf is issued by a CA with exactly
 * one CN, `Intel SGX PCK Platform CA` or `Intel SGX PCK Processor CA`, that has the basic-constraints
 * CA flag and a keyUsage with keyCertSign, and that CA is issued by the root: the path is exactly
 * leaf ← PCK CA ← root, under any trust root. Throws `VerificationError` `PCK_ISSUER_NOT_PCK_CA`.
 * Returns which CA issued the leaf.
 */
export function checkPckChainShape(path: Certificate[], root: Certificate, label: string): "platform" | "processor" {
  const code = "PCK_ISSUER_NOT_PCK_CA";
  const leaf = path[0]!;
  const ca = path[1];
  const want = `an ${INTEL_PCK_PLATFORM_CA_CN} or ${INTEL_PCK_PROCESSOR_CA_CN} issued by the root`;
  if (!ca) fail(code, `${label}: the PCK certificate "${cn(leaf.subject)}" is issued directly by the root "${cn(root.subject)}", not by ${want}`);
  const kind = soleAttributeIs(ca.subject, OID_CN, INTEL_PCK_PLATFORM_CA_CN) ? "platform" : soleAttributeIs(ca.subject, OID_CN, INTEL_PCK_PROCESSOR_CA_CN) ? "processor" : undefined;
  if (!kind) fail(code, `${label}: the PCK certificate's issuer "${nameToString(ca.subject)}" is not ${want}`);
  if (!ca.isCa) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" has no basic-constraints CA flag`);
  if (ca.keyUsage === undefined || !(ca.keyUsage & KU_KEY_CERT_SIGN)) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" has no keyCertSign key usage`);
  if (path.length !== 2) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" is issued by "${cn(ca.issuer)}", not directly by the root "${cn(root.subject)}"`);
  return kind;
}

// ---------------------------------------------------------------------------------------------
// Intel SGX PCK extension (§2.5)
// ---------------------------------------------------------------------------------------------

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

/** Parse the SGX extension of a PCK leaf. Throws `InputError` (`BAD_DER`) or `VerificationError` (`PCK_SGX_EXTENSION_INVALID`). */
export function parseSgxExtension(cert: Certificate): SgxExtension {
  const what = "PCK certificate SGX extension";
  const exts = cert.extensions.filter((e) => e.oid === OID_SGX_EXTENSION);
  if (exts.length !== 1) fail("PCK_SGX_EXTENSION_INVALID", `${what}: expected exactly one extension ${OID_SGX_EXTENSION}, found ${exts.length}`);
  const v = exts[0]!.value;
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
  const octets = (m: Map<string, Tlv>, sub: string, name: string, len?: number): Uint8Array => {
    const t = m.get(`${OID_SGX_EXTENSION}.${sub}`);
    if (!t) fail("PCK_SGX_EXTENSION_INVALID", `${what}: ${name} (${OID_SGX_EXTENSION}.${sub}) is missing`);
    expectTag(t, 0x04, `${what} ${name}`);
    const b = v.subarray(t.cStart, t.end);
    if (len !== undefined && b.length !== len) fail("PCK_SGX_EXTENSION_INVALID", `${what}: ${name} must be ${len} bytes, found ${b.length}`);
    return b;
  };
  const integer = (m: Map<string, Tlv>, sub: string, name: string, tag: number, max: number): number => {
    const t = m.get(`${OID_SGX_EXTENSION}.${sub}`);
    if (!t) fail("PCK_SGX_EXTENSION_INVALID", `${what}: ${name} (${OID_SGX_EXTENSION}.${sub}) is missing`);
    expectTag(t, tag, `${what} ${name}`);
    const n = uintValue(v, t, `${what} ${name}`);
    if (n > max) fail("PCK_SGX_EXTENSION_INVALID", `${what}: ${name} ${n} is out of range`);
    return n;
  };
  if (!fields.has(`${OID_SGX_EXTENSION}.2`)) fail("PCK_SGX_EXTENSION_INVALID", `${what}: TCB (${OID_SGX_EXTENSION}.2) is missing`);
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
