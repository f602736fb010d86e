/**
 * Offline verification of an AWS Nitro Enclaves attestation document (the NSM's COSE_Sign1):
 *  - the COSE structure: protected header alg ES384 (-35), no critical header this verifier does not know;
 *  - the document's fields: digest SHA384, 48-byte PCRs, AWS's size limits of user_data, nonce, public_key;
 *  - the chain: the cabundle starts with AWS's Nitro Enclaves Root-G1, pinned by its SHA-256 fingerprint;
 *    every next certificate (the cabundle in order, then the document's certificate) is issued by the previous
 *    one and carries its ECDSA P-384 / SHA-384 signature; CA certificates are CAs within their path length;
 *    the signing certificate is an end entity allowed to sign;
 *  - every certificate valid at the verification time (the document's own timestamp unless `now` is given);
 *  - the document's timestamp inside the signing certificate's validity (and not after `now` when given);
 *  - the COSE signature: ECDSA P-384 / SHA-384 over the Sig_structure ["Signature1", protected, h'', payload]
 *    by the signing certificate's key.
 * Then the policy: a debug-mode enclave (PCR0, PCR1 and PCR2 all zero) is refused unless allowed; when the
 * caller gives the bytes the document must carry in user_data (dstack puts the attestation's report_data
 * there), that binding; when it gives the config's os_image_hash, that it is SHA-256(PCR0 ‖ PCR1 ‖ PCR2) as
 * dstack computes it. No revocation is checked: AWS's attestation PKI publishes no CRL and its documented
 * validation disables revocation checking (the signing certificate lives hours).
 */
import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";

import { base64ToBytes, bytesEqual, bytesToHex, concatBytes } from "../../core/bytes.js";
import { VerificationError, type ErrorCode } from "../../core/errors.js";
import { commonName, KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, parseCertificate, type Certificate } from "../../dcap/x509.js";
import { decodeNitroDocument, nitroReportJson, type NitroDocument } from "./nitro.js";

/** AWS Nitro Enclaves Root-G1 (`CN=aws.nitro-enclaves, OU=AWS, O=Amazon, C=US`, P-384, valid 2019-10-28 … 2049-10-28). */
export const AWS_NITRO_ROOT_G1 = {
  /** SHA-256 of the DER, as AWS publishes it for AWS_NitroEnclaves_Root-G1. */
  sha256: "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b",
  der: base64ToBytes(
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTELMAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYDVQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQLDANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEGBSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZEh8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkFR+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYCMQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPWrfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6NIwLz3/Y=",
    "AWS Nitro Enclaves Root-G1",
  ),
} as const;

export interface NitroCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface NitroVerifyOptions {
  /** Verification time, unix seconds; default the document's own timestamp. */
  now?: number;
  /** Accept a debug-mode enclave (PCR0–2 all zero; refused by default). */
  allowDebug?: boolean;
  /** The bytes the document's user_data must equal (dstack: the attestation's report_data). */
  expectedUserData?: Uint8Array;
  /** The os_image_hash (hex) the attestation's config states: it must be dstack's SHA-256 of PCR0 ‖ PCR1 ‖ PCR2. */
  configOsImageHash?: string;
  /** Another trust anchor (DER) instead of AWS's pinned root (tests; the result is then not genuine). */
  rootDer?: Uint8Array;
}

export interface VerifiedNitroDocument {
  ok: boolean;
  platform: "nitro-enclave";
  /** True only when the chain ends at AWS's pinned Root-G1. */
  genuine: boolean;
  /** The verification time (unix seconds) and where it came from. */
  at: number;
  atSource: "document" | "now";
  verification: { ok: true; checks: NitroCheck[] };
  policy: { ok: boolean; rules: NitroCheck[] };
  report: Record<string, unknown>;
  document: NitroDocument;
}

/** A failed step: the checks so far (the last one failed), the report when the document decoded, the verdicts when only the policy refused. */
export class NitroVerificationError extends VerificationError {
  readonly checks: NitroCheck[];
  report?: Record<string, unknown>;
  verification?: { ok: boolean; checks: NitroCheck[] };
  policy?: { ok: boolean; rules: NitroCheck[] } | null;
  constructor(code: ErrorCode, message: string, checks: NitroCheck[]) {
    super(code, message, { details: { step: checks[checks.length - 1]?.name } });
    this.checks = checks;
  }
}

const ES384 = -35;
const OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3";
/** AWS's limits on the optional fields (the attestation document specification). */
const MAX_USER_DATA = 512;
const MAX_NONCE = 512;
const MAX_PUBLIC_KEY = 1024;
/** A document stamped later than `now` by more than this is from the future. */
const CLOCK_SKEW_SECONDS = 300;

const iso = (t: number) => new Date(t * 1000).toISOString();

/** The CBOR head of a byte (major 2) or text (major 3) string of length n. */
function cborHead(major: 2 | 3, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** COSE's Sig_structure for COSE_Sign1 (RFC 9052) with an empty external_aad: the bytes ES384 signs. */
export function coseSign1SigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  const context = new TextEncoder().encode("Signature1");
  return concatBytes(Uint8Array.of(0x84), cborHead(3, context.length), context, cborHead(2, protectedHeader.length), protectedHeader, Uint8Array.of(0x40), cborHead(2, payload.length), payload);
}

function ecdsaP384Verifies(issuer: Certificate, cert: Certificate): boolean {
  if (cert.signatureAlgorithm !== OID_ECDSA_SHA384) return false;
  try {
    return cryptoVerify("sha384", cert.tbs, createPublicKey({ key: Buffer.from(issuer.spki), format: "der", type: "spki" }), cert.signature);
  } catch {
    return false;
  }
}

function isP384(spki: Uint8Array): boolean {
  try {
    const k = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    return k.asymmetricKeyType === "ec" && k.asymmetricKeyDetails?.namedCurve === "secp384r1";
  } catch {
    return false;
  }
}

/** True when PCR0, PCR1 and PCR2 are all zero: how Nitro reports an enclave started in debug mode. */
export function isDebugEnclave(d: NitroDocument): boolean {
  return [0, 1, 2].every((i) => {
    const v = d.pcrs[String(i)];
    return v !== undefined && /^0x0*$/.test(v);
  });
}

/** dstack's os_image_hash of a Nitro enclave: SHA-256 of PCR0 ‖ PCR1 ‖ PCR2. */
export function nitroOsImageHash(d: NitroDocument): string {
  const h = createHash("sha256");
  for (const i of [0, 1, 2]) h.update(Buffer.from((d.pcrs[String(i)] ?? "0x").slice(2), "hex"));
  return h.digest("hex");
}

/** The report of a Nitro document: its fields, PCR0–2 named, and dstack's os_image_hash of them. */
export function nitroVerifiedReportJson(d: NitroDocument): Record<string, unknown> {
  return { ...nitroReportJson(d), pcr0: d.pcrs["0"] ?? null, pcr1: d.pcrs["1"] ?? null, pcr2: d.pcrs["2"] ?? null, osImageHash: nitroOsImageHash(d), debug: isDebugEnclave(d) };
}

/** Verify the document; throws `NitroVerificationError` for a failed step, returns `ok: false` when only the policy refused. */
export function verifyNitroDocument(bytes: Uint8Array, opts: NitroVerifyOptions = {}): VerifiedNitroDocument {
  const checks: NitroCheck[] = [];
  const seen: { report?: Record<string, unknown> } = {};
  const pass = (name: string, detail: string) => checks.push({ name, ok: true, detail });
  const fail = (code: ErrorCode, name: string, detail: string): never => {
    checks.push({ name, ok: false, detail });
    const e = new NitroVerificationError(code, `Nitro ${name}: ${detail}`, checks);
    if (seen.report) e.report = seen.report;
    throw e;
  };

  let d: NitroDocument;
  try {
    d = decodeNitroDocument(bytes);
  } catch (e) {
    return fail("NITRO_DOCUMENT_MALFORMED", "document.decode", (e as Error).message);
  }
  const report = nitroVerifiedReportJson(d);
  seen.report = report;
  if (d.kind !== "nitro-enclave") fail("PLATFORM_NOT_SUPPORTED", "document.decode", "the document carries nitrotpm_pcrs: an AWS Nitro TPM document, whose verification is not supported yet");
  pass("document.decode", `COSE_Sign1, module ${d.moduleId}, ${Object.keys(d.pcrs).length} PCRs`);

  // COSE headers
  if (d.algorithm !== ES384) fail("NITRO_COSE_INVALID", "cose.header", `protected header alg ${String(d.algorithm)}, expected ES384 (-35)`);
  if (d.critical.length > 0) fail("NITRO_COSE_INVALID", "cose.header", `critical header parameters ${d.critical.map(String).join(", ")} are not understood`);
  pass("cose.header", "alg ES384 (-35), no critical parameters");

  // the document's fields
  if (d.digest !== "SHA384") fail("NITRO_DOCUMENT_INVALID", "document.fields", `digest ${JSON.stringify(d.digest)}, expected "SHA384"`);
  const badPcr = Object.entries(d.pcrs).find(([, v]) => (v.length - 2) / 2 !== 48);
  if (badPcr) fail("NITRO_DOCUMENT_INVALID", "document.fields", `PCR${badPcr[0]} is ${(badPcr[1].length - 2) / 2} bytes, expected 48 (SHA-384)`);
  for (const i of [0, 1, 2]) if (d.pcrs[String(i)] === undefined) fail("NITRO_DOCUMENT_INVALID", "document.fields", `PCR${i} is missing`);
  if (d.moduleId.length === 0) fail("NITRO_DOCUMENT_INVALID", "document.fields", "module_id is empty");
  if (d.timestamp <= 0) fail("NITRO_DOCUMENT_INVALID", "document.fields", "timestamp is zero");
  for (const [name, v, max] of [["user_data", d.userData, MAX_USER_DATA], ["nonce", d.nonce, MAX_NONCE], ["public_key", d.publicKey, MAX_PUBLIC_KEY]] as const) {
    if (v && v.length > max) fail("NITRO_DOCUMENT_INVALID", "document.fields", `${name} is ${v.length} bytes, at most ${max} allowed`);
  }
  if (d.cabundle.length === 0) fail("NITRO_DOCUMENT_INVALID", "document.fields", "cabundle is empty (it must start with the root)");
  pass("document.fields", `digest SHA384, ${Object.keys(d.pcrs).length} PCRs of 48 bytes, cabundle of ${d.cabundle.length}`);

  // the root: pinned
  const anchor = opts.rootDer ?? AWS_NITRO_ROOT_G1.der;
  const genuine = opts.rootDer === undefined || bytesEqual(opts.rootDer, AWS_NITRO_ROOT_G1.der);
  const first = d.cabundle[0]!;
  const fingerprint = createHash("sha256").update(first).digest("hex");
  if (!bytesEqual(first, anchor)) {
    fail("NITRO_ROOT_NOT_PINNED", "chain.root", `the cabundle starts with a certificate of SHA-256 ${fingerprint}, not ${genuine ? `AWS's Nitro Enclaves Root-G1 (${AWS_NITRO_ROOT_G1.sha256})` : "the given root"}`);
  }
  const parse = (der: Uint8Array, what: string): Certificate => {
    try {
      return parseCertificate(der, what);
    } catch (e) {
      return fail("NITRO_CHAIN_INVALID", "chain.path", (e as Error).message);
    }
  };
  const root = parse(first, "cabundle[0]");
  if (!ecdsaP384Verifies(root, root)) fail("NITRO_CHAIN_INVALID", "chain.root", "the root's self-signature (ECDSA P-384 / SHA-384) does not verify");
  pass("chain.root", `${genuine ? "AWS Nitro Enclaves Root-G1" : "the given root (NOT GENUINE)"} CN=${commonName(root.subject)}, SHA-256 ${fingerprint}; self-signature verifies`);

  // the path: cabundle[1..] then the signing certificate
  const path = [root];
  const ders = [...d.cabundle.slice(1), d.certificate];
  ders.forEach((der, i) => {
    const last = i === ders.length - 1;
    const what = last ? "the signing certificate" : `cabundle[${i + 1}]`;
    const c = parse(der, what);
    const issuer = path[path.length - 1]!;
    if (c.issuerKey !== issuer.subjectKey) fail("NITRO_CHAIN_INVALID", "chain.path", `${what} (CN=${commonName(c.subject)}) is issued by CN=${commonName(c.issuer)}, not by the previous certificate CN=${commonName(issuer.subject)}`);
    if (!issuer.isCa || (issuer.keyUsage !== undefined && (issuer.keyUsage & KU_KEY_CERT_SIGN) === 0)) fail("NITRO_CHAIN_INVALID", "chain.path", `CN=${commonName(issuer.subject)} is not a CA allowed to sign certificates`);
    if (!isP384(c.spki)) fail("NITRO_CHAIN_INVALID", "chain.path", `${what}'s key is not an EC P-384 key`);
    if (!ecdsaP384Verifies(issuer, c)) fail("NITRO_CHAIN_INVALID", "chain.path", `${what}'s signature (ECDSA P-384 / SHA-384) does not verify with CN=${commonName(issuer.subject)}'s key`);
    if (last) {
      if (c.isCa) fail("NITRO_CHAIN_INVALID", "chain.path", "the signing certificate is a CA certificate");
      if (c.keyUsage !== undefined && ((c.keyUsage & KU_DIGITAL_SIGNATURE) === 0 || (c.keyUsage & KU_KEY_CERT_SIGN) !== 0)) fail("NITRO_CHAIN_INVALID", "chain.path", "the signing certificate's key usage does not allow (only) digital signatures");
    }
    path.push(c);
  });
  // a CA's pathLen bounds the CA certificates below it (the signing certificate is not one)
  path.forEach((c, j) => {
    const below = path.length - 2 - j;
    if (c.pathLen !== undefined && below > c.pathLen) fail("NITRO_CHAIN_INVALID", "chain.path", `CN=${commonName(c.subject)} allows ${c.pathLen} CA certificates below it, ${below} follow`);
  });
  const leaf = path[path.length - 1]!;
  pass("chain.path", `${path.map((c) => `CN=${commonName(c.subject)}`).join(" → ")} (ECDSA P-384 / SHA-384)`);

  // validity at the verification time
  const docSeconds = Math.floor(d.timestamp / 1000);
  const at = opts.now ?? docSeconds;
  const atSource = opts.now === undefined ? "document" : "now";
  for (const c of path) {
    if (at < c.notBefore || at > c.notAfter) fail("NITRO_CERT_NOT_VALID_AT", "chain.validity", `CN=${commonName(c.subject)} is valid ${iso(c.notBefore)} … ${iso(c.notAfter)}, not at ${iso(at)} (${atSource === "now" ? "--at" : "the document's timestamp"})`);
  }
  pass("chain.validity", `${path.length} certificates valid at ${iso(at)} (${atSource === "now" ? "the given time" : "the document's timestamp"}; the signing certificate until ${iso(leaf.notAfter)})`);

  // the document's timestamp
  const stamped = new Date(d.timestamp).toISOString();
  if (docSeconds < leaf.notBefore || docSeconds > leaf.notAfter) fail("NITRO_TIMESTAMP_INVALID", "document.timestamp", `stamped ${stamped}, outside the signing certificate's validity ${iso(leaf.notBefore)} … ${iso(leaf.notAfter)}`);
  if (opts.now !== undefined && docSeconds > opts.now + CLOCK_SKEW_SECONDS) fail("NITRO_TIMESTAMP_INVALID", "document.timestamp", `stamped ${stamped}, after the verification time ${iso(opts.now)}`);
  pass("document.timestamp", `stamped ${stamped}, within the signing certificate's validity${opts.now !== undefined ? `; ${Math.max(0, opts.now - docSeconds)} s before the verification time` : ""}`);

  // the COSE signature
  if (d.signature.length !== 96) fail("NITRO_SIGNATURE_INVALID", "cose.signature", `the signature is ${d.signature.length} bytes, expected 96 (r ‖ s of P-384)`);
  const signed = coseSign1SigStructure(d.protectedHeader, d.payload);
  let ok: boolean;
  try {
    ok = cryptoVerify("sha384", signed, { key: createPublicKey({ key: Buffer.from(leaf.spki), format: "der", type: "spki" }), dsaEncoding: "ieee-p1363" }, d.signature);
  } catch {
    ok = false;
  }
  if (!ok) fail("NITRO_SIGNATURE_INVALID", "cose.signature", "the ES384 signature over the Sig_structure does not verify with the signing certificate's key");
  pass("cose.signature", "ES384 over [\"Signature1\", protected, h'', payload] verifies with the signing certificate's key");

  // policy
  const rules: NitroCheck[] = [];
  const debug = isDebugEnclave(d);
  rules.push({
    name: "enclave.debug",
    ok: !debug || opts.allowDebug === true,
    detail: debug ? `PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode (its memory is readable by the parent instance)${opts.allowDebug ? "; accepted by --allow-debug" : ""}` : "PCR0–2 measure the enclave image (not a debug-mode enclave)",
  });
  if (opts.expectedUserData) {
    const same = d.userData !== null && bytesEqual(d.userData, opts.expectedUserData);
    rules.push({
      name: "binding.user-data",
      ok: same,
      detail: same ? "user_data equals the attestation's report_data" : `user_data ${d.userData ? bytesToHex(d.userData) : "(absent)"} is not the attestation's report_data ${bytesToHex(opts.expectedUserData)}`,
    });
  }
  if (opts.configOsImageHash !== undefined) {
    const computed = nitroOsImageHash(d);
    const same = opts.configOsImageHash.replace(/^0x/i, "").toLowerCase() === computed;
    rules.push({
      name: "config.os-image-hash",
      ok: same,
      detail: same ? `the config's os_image_hash is SHA-256(PCR0 ‖ PCR1 ‖ PCR2) = ${computed}` : `the config's os_image_hash ${opts.configOsImageHash} is not SHA-256(PCR0 ‖ PCR1 ‖ PCR2) = ${computed}`,
    });
  }
  const policyOk = rules.every((r) => r.ok);
  return { ok: policyOk, platform: "nitro-enclave", genuine, at, atSource, verification: { ok: true, checks }, policy: { ok: policyOk, rules }, report, document: d };
}

/** `verifyNitroDocument`, and a policy refusal thrown with a named code: `NITRO_DEBUG_ENCLAVE`, `NITRO_USER_DATA_MISMATCH` or `NITRO_OS_IMAGE_HASH_MISMATCH`. */
export function verifyNitroDocumentOrThrow(bytes: Uint8Array, opts: NitroVerifyOptions = {}): VerifiedNitroDocument {
  const r = verifyNitroDocument(bytes, opts);
  if (r.ok) return r;
  const refused = r.policy.rules.find((x) => !x.ok)!;
  const code: ErrorCode = refused.name === "enclave.debug" ? "NITRO_DEBUG_ENCLAVE" : refused.name === "binding.user-data" ? "NITRO_USER_DATA_MISMATCH" : "NITRO_OS_IMAGE_HASH_MISMATCH";
  const e = new NitroVerificationError(code, `Nitro ${refused.name}: ${refused.detail}`, [...r.verification.checks, { name: "document.policy", ok: false, detail: `${refused.name}: ${refused.detail}` }]);
  e.report = r.report;
  e.verification = r.verification;
  e.policy = r.policy;
  throw e;
}
