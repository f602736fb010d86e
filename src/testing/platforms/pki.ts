/**
 * Certificates and CRLs of the keys other platforms use (ECDSA P-384 with SHA-384, RSA-PSS with SHA-384 and
 * salt 48 as AMD signs), written with the forge's DER writer and signed with node's crypto: the test worlds of
 * AWS Nitro (P-384 chains) and AMD SEV-SNP (ARK → ASK RSA-PSS, VCEK P-384 with AMD's TCB extensions).
 */
import { constants, createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";

import { toPem } from "../../dcap/x509.js";
import { derBitString, derBool, derExplicit, derInt, derOctets, derOid, derSeq, derTime, derTlv } from "../forge/der.js";
import { derName, ext, keyUsageBits, type ForgeKeyUsage, type ForgeName } from "../forge/x509.js";

export type PkiAlgorithm = "ecdsa-sha384" | "rsa-pss-sha384";

export interface PkiKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** How this key signs. */
  algorithm: PkiAlgorithm;
}

const OID_SHA384 = "2.16.840.1.101.3.4.2.2";
const OID_MGF1 = "1.2.840.113549.1.1.8";
const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
const OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3";

/** AlgorithmIdentifier of the signature (RSA-PSS with AMD's parameters: SHA-384, MGF1-SHA-384, salt 48, trailer 1). */
export function algorithmIdentifier(a: PkiAlgorithm): Uint8Array {
  if (a === "ecdsa-sha384") return derSeq(derOid(OID_ECDSA_SHA384));
  const sha384 = derSeq(derOid(OID_SHA384), derTlv(0x05));
  return derSeq(derOid(OID_RSASSA_PSS), derSeq(derExplicit(0, sha384), derExplicit(1, derSeq(derOid(OID_MGF1), sha384)), derExplicit(2, derInt(48)), derExplicit(3, derInt(1))));
}

export function generateP384(): PkiKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
  return { privateKey, publicKey, spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })), algorithm: "ecdsa-sha384" };
}

/** An RSA key that signs RSA-PSS (its SPKI is rsaEncryption, as AMD's ARK and ASK are). */
export function generateRsa(bits = 2048): PkiKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return { privateKey, publicKey, spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })), algorithm: "rsa-pss-sha384" };
}

export function pkiSign(key: PkiKey, data: Uint8Array): Uint8Array {
  if (key.algorithm === "ecdsa-sha384") return new Uint8Array(cryptoSign("sha384", data, key.privateKey));
  return new Uint8Array(cryptoSign("sha384", data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }));
}

export interface PkiCertSpec {
  serial: bigint | number;
  issuer: ForgeName;
  subject: ForgeName;
  notBefore: number;
  notAfter: number;
  /** The certified key's SPKI. */
  spki: Uint8Array;
  /** The issuer's key (signs the certificate). */
  signer: PkiKey;
  ca: boolean;
  pathLen?: number;
  /** keyUsage bits; default keyCertSign+cRLSign for a CA, digitalSignature for an end entity; null for none. */
  keyUsage?: ForgeKeyUsage[] | null;
  /** Further extensions (each from `ext`). */
  extra?: Uint8Array[];
}

export interface PkiCert {
  der: Uint8Array;
  pem: string;
}

const keyId = (spki: Uint8Array) => createHash("sha1").update(spki).digest().subarray(0, 20);

export function makePkiCert(s: PkiCertSpec): PkiCert {
  const alg = algorithmIdentifier(s.signer.algorithm);
  const exts: Uint8Array[] = [ext("2.5.29.14", false, derOctets(keyId(s.spki)))];
  if (s.keyUsage !== null) exts.push(ext("2.5.29.15", true, keyUsageBits(s.keyUsage ?? (s.ca ? ["keyCertSign", "cRLSign"] : ["digitalSignature"]))));
  exts.push(ext("2.5.29.19", true, s.ca ? (s.pathLen === undefined ? derSeq(derBool(true)) : derSeq(derBool(true), derInt(s.pathLen))) : derSeq()));
  if (s.extra) exts.push(...s.extra);
  const tbs = derSeq(
    derExplicit(0, derInt(2)),
    derInt(BigInt(s.serial)),
    alg,
    derName(s.issuer),
    derSeq(derTime(s.notBefore), derTime(s.notAfter)),
    derName(s.subject),
    s.spki,
    derExplicit(3, derSeq(...exts)),
  );
  const der = derSeq(tbs, alg, derBitString(pkiSign(s.signer, tbs)));
  return { der, pem: toPem(der) };
}

export interface PkiCrlSpec {
  issuer: ForgeName;
  signer: PkiKey;
  thisUpdate: number;
  nextUpdate: number;
  /** Serial numbers of revoked certificates. */
  revoked?: (bigint | number)[];
}

/** A v2 CRL signed by `signer`. */
export function makePkiCrl(s: PkiCrlSpec): Uint8Array {
  const alg = algorithmIdentifier(s.signer.algorithm);
  const revoked = (s.revoked ?? []).map((n) => derSeq(derInt(BigInt(n)), derTime(s.thisUpdate)));
  const tbs = derSeq(derInt(1), alg, derName(s.issuer), derTime(s.thisUpdate), derTime(s.nextUpdate), ...(revoked.length ? [derSeq(...revoked)] : []));
  return derSeq(tbs, alg, derBitString(pkiSign(s.signer, tbs)));
}
