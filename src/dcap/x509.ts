/**
 * X.509 as DCAP needs it: certificates and CRLs decoded from DER, PEM blocks, distinguished names
 * (for messages and, read attribute by attribute, for the pinned Intel names), and memoised parsing.
 *
 * Only what DCAP needs is decoded; everything else is skipped structurally. Every decoding problem
 * is an `InputError` (`BAD_DER`, or `BAD_PEM` for PEM text) naming what was being read.
 */
import { base64ToBytes } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { bytesKey, memo, type VerificationCache } from "./cache.js";
import { bitStringBytes, children, derError, expectTag, latin1, oidToString, readTime, readTlv, uintValue, type Tlv } from "./der.js";

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
export const OID_KEY_USAGE = "2.5.29.15";
export const OID_BASIC_CONSTRAINTS = "2.5.29.19";
export const OID_EXT_KEY_USAGE = "2.5.29.37";
export const OID_CRL_DISTRIBUTION_POINTS = "2.5.29.31";
export const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

export const KU_DIGITAL_SIGNATURE = 1 << 0;
export const KU_KEY_CERT_SIGN = 1 << 5;
export const KU_CRL_SIGN = 1 << 6;

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

function normalizeSerial(b: Uint8Array): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.buffer, b.byteOffset + i, b.length - i).toString("hex");
}

function algorithmOid(buf: Uint8Array, t: Tlv, what: string): string {
  expectTag(t, 0x30, what);
  const [oid] = children(buf, t, what);
  if (!oid) throw derError(what, "empty AlgorithmIdentifier");
  return oidToString(buf, expectTag(oid, 0x06, what));
}

/** The three elements every signed X.509 structure has: the signed part, the algorithm, the signature. */
function signedParts(der: Uint8Array, what: string, kind: "certificate" | "CRL"): [tbsT: Tlv, algT: Tlv, sigT: Tlv] {
  const top = expectTag(readTlv(der, 0, der.length, what), 0x30, what);
  if (top.end !== der.length) throw derError(what, `trailing bytes after the ${kind}`);
  const [tbsT, algT, sigT, extra] = children(der, top, what);
  if (!tbsT || !algT || !sigT || extra) throw derError(what, `a ${kind} has exactly three elements`);
  return [tbsT, algT, sigT];
}

function isP256Key(der: Uint8Array, spkiT: Tlv, what: string): boolean {
  const [spkiAlgT] = children(der, spkiT, what);
  if (spkiAlgT?.tag !== 0x30) return false;
  const a = children(der, spkiAlgT, what);
  return a.length === 2 && a[0]!.tag === 0x06 && a[1]!.tag === 0x06 && oidToString(der, a[0]!) === OID_EC_PUBLIC_KEY && oidToString(der, a[1]!) === OID_P256;
}

/** The extensions of the `[3]` fields of a tbsCertificate (issuerUniqueID / subjectUniqueID are skipped). */
function readExtensions(der: Uint8Array, fields: Tlv[], what: string): Extension[] {
  const extensions: Extension[] = [];
  for (const x of fields) {
    if (x.tag !== 0xa3) continue;
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
  return extensions;
}

/** Basic constraints, key usage and extended key usage, each at most once. */
function knownExtensions(extensions: Extension[], what: string): Pick<Certificate, "isCa" | "pathLen" | "keyUsage" | "extKeyUsage"> {
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
  return { isCa, pathLen, keyUsage, extKeyUsage };
}

/** Decode a DER X.509 certificate. Throws `InputError` (`BAD_DER`) naming `what`. */
export function parseCertificate(der: Uint8Array, what = "certificate"): Certificate {
  const [tbsT, algT, sigT] = signedParts(der, what, "certificate");
  expectTag(tbsT, 0x30, what);
  const f = children(der, tbsT, what);
  const i = f[0]?.tag === 0xa0 ? 1 : 0; // version
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
  const isP256 = isP256Key(der, spkiT, what);
  const extensions = readExtensions(der, f.slice(i + 6), what);
  const { isCa, pathLen, keyUsage, extKeyUsage } = knownExtensions(extensions, what);
  const issuer = der.subarray(issuerT.start, issuerT.end);
  const subject = der.subarray(subjectT.start, subjectT.end);
  return {
    der,
    tbs: der.subarray(tbsT.start, tbsT.end),
    signatureAlgorithm,
    signature: bitStringBytes(der, sigT, `${what} signature`),
    serial: normalizeSerial(der.subarray(serialT.cStart, serialT.end)),
    issuer,
    subject,
    issuerKey: latin1(issuer),
    subjectKey: latin1(subject),
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
  const [tbsT, algT, sigT] = signedParts(der, what, "CRL");
  const f = children(der, expectTag(tbsT, 0x30, what), what);
  const i = f[0]?.tag === 0x02 ? 1 : 0; // version
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
  const issuer = der.subarray(issuerT.start, issuerT.end);
  return {
    der,
    tbs: der.subarray(tbsT.start, tbsT.end),
    signatureAlgorithm,
    signature: bitStringBytes(der, sigT, `${what} signature`),
    issuer,
    issuerKey: latin1(issuer),
    thisUpdate: readTime(der, thisT, `${what} thisUpdate`),
    nextUpdate,
    revoked,
  };
}

/** First URI of the certificate's CRL distribution points extension, if any (never throws). */
export function crlDistributionPoint(certDer: Uint8Array): string | undefined {
  let cert;
  try {
    cert = parseCertificate(certDer, "root certificate");
  } catch {
    return undefined;
  }
  const ext = cert.extensions.find((e) => e.oid === OID_CRL_DISTRIBUTION_POINTS);
  if (ext === undefined) return undefined;
  // Walk the structure, returning the first [6] uniformResourceIdentifier.
  const v = ext.value;
  const walk = (start: number, end: number): string | undefined => {
    let p = start;
    while (p < end) {
      const t = readTlv(v, p, end, "CRL distribution points");
      if (t.tag === 0x86) return new TextDecoder().decode(v.subarray(t.cStart, t.end));
      if (t.tag & 0x20) {
        const found = walk(t.cStart, t.end);
        if (found !== undefined) return found;
      }
      p = t.end;
    }
    return undefined;
  };
  try {
    return walk(0, v.length);
  } catch {
    return undefined;
  }
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
// Memoised parsing
// ---------------------------------------------------------------------------------------------

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

/** Every certificate of a PEM text, memoised by the text: `<what> certificate N` names each in errors. */
export function cachedPemChain(text: string, what: string, cache: VerificationCache | undefined): Certificate[] {
  return memo(cache, "pem", text, () => pemBlocks(text, what).map((der, i) => cachedCertificate(der, `${what} certificate ${i + 1}`, cache)));
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

export const OID_CN = "2.5.4.3";
export const OID_O = "2.5.4.10";

const NAME_OIDS: Record<string, string> = {
  [OID_CN]: "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  [OID_O]: "O",
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

const cnMemo = new WeakMap<Uint8Array, string>();

/** The CN of a DER name (or the whole name when it has none), for messages. */
export function commonName(name: Uint8Array): string {
  const hit = cnMemo.get(name);
  if (hit !== undefined) return hit;
  const s = nameToString(name);
  const m = /(?:^|, )CN=([^,]*)/.exec(s);
  const v = m ? m[1]! : s;
  cnMemo.set(name, v);
  return v;
}

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

/** True when the DER name has exactly one attribute `oid` and its value is exactly `value`. */
export function nameHasSoleAttribute(name: Uint8Array, oid: string, value: string): boolean {
  const attrs = nameAttributes(name);
  if (!attrs) return false;
  const found = attrs.filter(([o]) => o === oid);
  return found.length === 1 && found[0]![1] === value;
}
