/**
 * X.509 v3 certificates of P-256 keys signed with ECDSA-SHA256, written with the DER writer: names,
 * the extensions the forge uses (AKI, SKI, keyUsage, basicConstraints, CRL distribution point) and the
 * signed certificate itself.
 */
import { sha256 } from "@noble/hashes/sha2.js";

import { utf8 } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { toPem } from "../../dcap/x509.js";
import { derBitString, derBool, derExplicit, derInt, derOctets, derOid, derPrintable, derSeq, derSet, derTime, derTlv, derUtf8 } from "./der.js";
import { signDer } from "./secrets.js";

export const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  cn: "2.5.4.3",
  o: "2.5.4.10",
  ou: "2.5.4.11",
  l: "2.5.4.7",
  st: "2.5.4.8",
  c: "2.5.4.6",
  ski: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  crlDistributionPoints: "2.5.29.31",
  aki: "2.5.29.35",
  sgx: "1.2.840.113741.1.13.1",
} as const;

export const ALG_ECDSA_SHA256 = derSeq(derOid(OID.ecdsaWithSha256));

export interface ForgeName {
  cn: string;
  o?: string;
  ou?: string;
  l?: string;
  st?: string;
  c?: string;
}

/** keyUsage bits by name, in the order of the X.509 KeyUsage BIT STRING. */
export type ForgeKeyUsage = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign";

export interface ForgeCert {
  der: Uint8Array;
  pem: string;
  serial: Uint8Array;
}

export function derName(n: ForgeName): Uint8Array {
  const rdn = (oid: string, value: Uint8Array): Uint8Array => derSet(derSeq(derOid(oid), value));
  const parts = [rdn(OID.cn, derUtf8(n.cn))];
  if (n.o !== undefined) parts.push(rdn(OID.o, derUtf8(n.o)));
  if (n.ou !== undefined) parts.push(rdn(OID.ou, derUtf8(n.ou)));
  if (n.l !== undefined) parts.push(rdn(OID.l, derUtf8(n.l)));
  if (n.st !== undefined) parts.push(rdn(OID.st, derUtf8(n.st)));
  if (n.c !== undefined) parts.push(rdn(OID.c, derPrintable(n.c)));
  return derSeq(...parts);
}

function spki(pk: Uint8Array): Uint8Array {
  return derSeq(derSeq(derOid(OID.ecPublicKey), derOid(OID.prime256v1)), derBitString(pk));
}

function keyId(pk: Uint8Array): Uint8Array {
  return sha256(pk).slice(0, 20);
}

/** One Extension: OID, the critical flag when set, the value in an OCTET STRING. */
export function ext(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? derSeq(derOid(oid), derBool(true), derOctets(value)) : derSeq(derOid(oid), derOctets(value));
}

/** The authorityKeyIdentifier extension naming `issuerPk`. */
export function akiExtension(issuerPk: Uint8Array): Uint8Array {
  return ext(OID.aki, false, derSeq(derTlv(0x80, keyId(issuerPk))));
}

const KU_CA = derBitString(Uint8Array.of(0x06), 1); // keyCertSign | cRLSign
const KU_EE = derBitString(Uint8Array.of(0xc0), 6); // digitalSignature | nonRepudiation
const KU_BITS: Record<ForgeKeyUsage, number> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

/** keyUsage BIT STRING of the named bits (DER: trailing zero bits counted as unused). */
export function keyUsageBits(names: ForgeKeyUsage[]): Uint8Array {
  let byte = 0;
  for (const n of names) {
    const bit = KU_BITS[n];
    if (bit === undefined) throw new UsageError(`forge: unknown key usage ${String(n)}`);
    byte |= 0x80 >> bit;
  }
  if (byte === 0) return derBitString(new Uint8Array(0));
  let unused = 0;
  while (!(byte & (1 << unused))) unused++;
  return derBitString(Uint8Array.of(byte), unused);
}

function basicConstraints(ca: boolean, pathLen?: number): Uint8Array {
  if (!ca) return derSeq();
  return pathLen === undefined ? derSeq(derBool(true)) : derSeq(derBool(true), derInt(pathLen));
}

function crlDp(uri: string): Uint8Array {
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
  return derSeq(derSeq(derTlv(0xa0, derTlv(0xa0, derTlv(0x86, utf8(uri))))));
}

export interface CertSpec {
  serial: Uint8Array;
  issuer: ForgeName;
  subject: ForgeName;
  notBefore: number;
  notAfter: number;
  pk: Uint8Array;
  issuerPk: Uint8Array;
  issuerSk: Uint8Array;
  ca: boolean;
  pathLen?: number;
  crlUri?: string;
  extra?: Uint8Array[];
  /** keyUsage override: a BIT STRING, or null for no keyUsage extension (default by `ca`) */
  keyUsage?: Uint8Array | null;
}

export function makeCert(s: CertSpec): ForgeCert {
  const exts = [akiExtension(s.issuerPk)];
  if (s.crlUri !== undefined) exts.push(ext(OID.crlDistributionPoints, false, crlDp(s.crlUri)));
  exts.push(ext(OID.ski, false, derOctets(keyId(s.pk))));
  if (s.keyUsage !== null) exts.push(ext(OID.keyUsage, true, s.keyUsage ?? (s.ca ? KU_CA : KU_EE)));
  exts.push(ext(OID.basicConstraints, true, basicConstraints(s.ca, s.pathLen)));
  if (s.extra) exts.push(...s.extra);
  const tbs = derSeq(
    derExplicit(0, derInt(2)),
    derInt(s.serial),
    ALG_ECDSA_SHA256,
    derName(s.issuer),
    derSeq(derTime(s.notBefore), derTime(s.notAfter)),
    derName(s.subject),
    spki(s.pk),
    derExplicit(3, derSeq(...exts)),
  );
  const der = derSeq(tbs, ALG_ECDSA_SHA256, derBitString(signDer(s.issuerSk, tbs)));
  return { der, pem: toPem(der), serial: s.serial };
}
