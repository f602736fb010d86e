/**
 * Real keys and certificates the way a dstack KMS makes them at bootstrap:
 * P-256 root CA `O=Dstack, CN=Dstack KMS CA` (self-signed, CA pathlen 1, critical), RPC cert
 * `CN=<domain>` with SAN DNS `<domain>` signed by the root CA, temp CA `O=Dstack, CN=Dstack Client
 * Temp CA` (self-signed, CA pathlen 0), secp256k1 root key as raw 32 bytes. Keys are PKCS#8 PEM.
 * notBefore is rcgen's default 1975-01-01, notAfter issuance + 3650 days.
 *
 * Options exist to make deliberately wrong material for tests of the operator's checklist.
 */
import "reflect-metadata";
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from "node:crypto";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as x509 from "@peculiar/x509";

import { errorMessage, InputError } from "../core/errors.js";
import { toPem } from "../dcap/x509.js";
import { OID_SPECIAL_USAGE } from "../dstack/ratls.js";
import { derOctets } from "./forge/der.js";

const subtle = webcrypto.subtle;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const provider = webcrypto as any;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

export const RCGEN_NOT_BEFORE = Date.UTC(1975, 0, 1) / 1000;
export const CERT_LIFETIME_DAYS = 3650;
export const ROOT_CA_NAME = "O=Dstack, CN=Dstack KMS CA";
export const TEMP_CA_NAME = "O=Dstack, CN=Dstack Client Temp CA";

export interface P256KeyPair {
  keys: CryptoKeyPair;
  /** PKCS#8 PEM of the private key. */
  privatePem: string;
  /** 91-byte SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
}

export async function generateP256(): Promise<P256KeyPair> {
  const keys = (await subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  return p256FromKeys(keys);
}

async function p256FromKeys(keys: CryptoKeyPair): Promise<P256KeyPair> {
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", keys.privateKey));
  const spki = new Uint8Array(await subtle.exportKey("spki", keys.publicKey));
  return { keys, privatePem: toPem(pkcs8, "PRIVATE KEY"), spki };
}

/** Load a PKCS#8 / SEC1 PEM P-256 key (e.g. `root-ca.key`) as a signing key pair. */
export async function loadP256(pem: string): Promise<P256KeyPair> {
  let der: Uint8Array;
  try {
    der = new Uint8Array(createPrivateKey(pem).export({ type: "pkcs8", format: "der" }));
  } catch (e) {
    throw new InputError("BAD_PRIVATE_KEY", `not a PEM private key (${errorMessage(e)})`, { cause: e });
  }
  const privateKey = await subtle.importKey("pkcs8", der, EC, true, ["sign"]);
  const spkiDer = new Uint8Array(createPublicKey(pem).export({ type: "spki", format: "der" }));
  const publicKey = await subtle.importKey("spki", spkiDer, EC, true, ["verify"]);
  return p256FromKeys({ privateKey, publicKey });
}

/** A fresh secp256k1 private key (raw 32 bytes, a valid scalar). */
export function generateK256(): Uint8Array {
  return secp256k1.utils.randomSecretKey();
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  if (b[0] === 0) b[0] = 1;
  return b.toString("hex");
}

export interface CaOptions {
  name?: string;
  pathLength?: number;
  /** Default true. false omits BasicConstraints CA (a broken CA). */
  isCa?: boolean;
  keyUsage?: number;
  notBefore?: number;
  notAfter?: number;
  /** Default: issuance at `now`. */
  now?: number;
}

/** Self-signed CA certificate (PEM). */
export async function createSelfSignedCa(key: P256KeyPair, opts: CaOptions = {}): Promise<string> {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.isCa ?? true, opts.isCa === false ? undefined : (opts.pathLength ?? 1), true),
    new x509.KeyUsagesExtension(opts.keyUsage ?? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, false),
    await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey, false, provider),
  ];
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: opts.name ?? ROOT_CA_NAME,
      notBefore: new Date((opts.notBefore ?? RCGEN_NOT_BEFORE) * 1000),
      notAfter: new Date((opts.notAfter ?? now + CERT_LIFETIME_DAYS * 86400) * 1000),
      signingAlgorithm: SIGN,
      keys: key.keys,
      extensions,
    },
    provider,
  );
  return cert.toString("pem") + "\n";
}

export interface LeafOptions {
  domain: string;
  /** Subject CN (default the domain). */
  commonName?: string;
  /** SAN DNS names (default [domain]). */
  sanDns?: string[];
  notBefore?: number;
  notAfter?: number;
  now?: number;
  /** Extra extensions: OID → raw value bytes (wrapped in an OCTET STRING like dstack does). */
  extraExtensions?: Record<string, Uint8Array>;
}

/** RPC certificate for `domain`, signed by the CA. */
export async function issueRpcCert(leaf: P256KeyPair, caCertPem: string, caKey: P256KeyPair, opts: LeafOptions): Promise<string> {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const ca = new x509.X509Certificate(caCertPem);
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, false),
    new x509.SubjectAlternativeNameExtension((opts.sanDns ?? [opts.domain]).map((value) => ({ type: "dns" as const, value })), false),
    new x509.Extension(OID_SPECIAL_USAGE, false, derOctets(new TextEncoder().encode("kms:rpc"))),
    await x509.AuthorityKeyIdentifierExtension.create(caKey.keys.publicKey, false, provider),
  ];
  for (const [oid, value] of Object.entries(opts.extraExtensions ?? {})) extensions.push(new x509.Extension(oid, false, derOctets(value)));
  const cn = opts.commonName ?? opts.domain;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: [{ CN: [cn] }],
      issuer: ca.subjectName,
      notBefore: new Date((opts.notBefore ?? RCGEN_NOT_BEFORE) * 1000),
      notAfter: new Date((opts.notAfter ?? now + CERT_LIFETIME_DAYS * 86400) * 1000),
      signingAlgorithm: SIGN,
      publicKey: leaf.keys.publicKey,
      signingKey: caKey.keys.privateKey,
      extensions,
    },
    provider,
  );
  return cert.toString("pem") + "\n";
}

/** Reject domains a dstack KMS rejects: DNS labels (a leading `*` label allowed), at most 253 characters, ASCII. */
export function validateDomain(domain: unknown): string {
  if (typeof domain !== "string" || domain.length === 0) throw new InputError("BAD_DOMAIN", "domain: a non-empty string is required");
  if (domain.length > 253) throw new InputError("BAD_DOMAIN", `domain: ${domain.length} characters exceed 253`);
  const labels = domain.split(".");
  for (const l of labels) {
    if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l) && !(l === "*" && labels[0] === l)) {
      throw new InputError("BAD_DOMAIN", `domain: ${JSON.stringify(domain.slice(0, 80))} is not a DNS name (label ${JSON.stringify(l.slice(0, 70))})`);
    }
  }
  return domain;
}
