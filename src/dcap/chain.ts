/**
 * Certificate chains to the trust root: path building and checking, the two CRLs of the collateral,
 * and Intel's fixed chain shapes. Every chain DCAP checks ends at one root (the pinned Intel SGX Root
 * CA unless the caller names another):
 *   - the PCK chain: PCK leaf ← Intel SGX PCK Platform or Processor CA ← root;
 *   - the signer of TCB Info and QE Identity: Intel SGX TCB Signing ← root.
 * The shapes are required under any root. Failures are `VerificationError`s with stable codes.
 */
import { bytesEqual } from "../core/bytes.js";
import { errorMessage, VerificationError, type ErrorCode } from "../core/errors.js";
import { isoSeconds } from "../core/time.js";
import type { VerificationCache } from "./cache.js";
import { verifyP256 } from "./p256.js";
import { INTEL_PCK_PLATFORM_CA_CN, INTEL_PCK_PROCESSOR_CA_CN } from "./sgx-extension.js";
import {
  cachedCrl,
  commonName as cn,
  KU_CRL_SIGN,
  KU_DIGITAL_SIGNATURE,
  KU_KEY_CERT_SIGN,
  nameHasSoleAttribute,
  nameToString,
  OID_BASIC_CONSTRAINTS,
  OID_CN,
  OID_CRL_DISTRIBUTION_POINTS,
  OID_ECDSA_SHA256,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_O,
  OID_SERVER_AUTH,
  type Certificate,
  type Crl,
} from "./x509.js";

/** The error-code prefix of a collateral CRL: its codes are `<prefix>_INVALID`, `<prefix>_EXPIRED`, … */
export type CrlCodePrefix = "ROOT_CA_CRL" | "PCK_CRL";
/** The error-code prefix of a certificate path: the PCK chain, or the issuer chain of a signed document. */
export type CertPathPrefix = "PCK" | "TCB_INFO_CHAIN" | "QE_IDENTITY_CHAIN";

export interface NamedCrl {
  crl: Crl;
  /** collateral field name, e.g. `root_ca_crl` */
  field: string;
  /** error-code prefix, e.g. `ROOT_CA_CRL` */
  code: CrlCodePrefix;
}

export interface PathContext {
  root: Certificate;
  /** CRLs to consult; undefined = do not check revocation (signature-only checks) */
  crls: NamedCrl[] | undefined;
  now: number;
  cache: VerificationCache | undefined;
}

/** Extensions we understand (webpki's set that matters here); other critical extensions are rejected. */
const KNOWN_EXTENSIONS = new Set([OID_KEY_USAGE, OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, "2.5.29.17", "2.5.29.14", "2.5.29.35", OID_CRL_DISTRIBUTION_POINTS, "2.5.29.32"]);

function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new VerificationError(code, message, details ? { details } : undefined);
}

const iso = isoSeconds;

function signedBy(cert: Certificate, issuer: Certificate, cache: VerificationCache | undefined): boolean {
  return cert.signatureAlgorithm === OID_ECDSA_SHA256 && issuer.isP256 && verifyP256(issuer.spki, cert.tbs, cert.signature, "der", cache);
}

// ---------------------------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------------------------

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

function decodeCrl(der: Uint8Array, field: string, code: CrlCodePrefix, cache: VerificationCache | undefined): NamedCrl {
  try {
    return { crl: cachedCrl(der, field, cache), field, code };
  } catch (e) {
    throw new VerificationError(`${code}_INVALID`, errorMessage(e));
  }
}

/**
 * The collateral's two CRLs, decoded: `root_ca_crl` must be issued by the root, signed by it, current
 * at `now` and must not list the root itself; `pck_crl` is checked later with the PCK chain. Throws
 * `VerificationError` `ROOT_CA_CRL_INVALID` / `PCK_CRL_INVALID` (undecodable), `ROOT_CA_CRL_ISSUER_MISMATCH`,
 * `ROOT_CA_REVOKED` or the `ROOT_CA_CRL_…` codes of `checkCrl`.
 */
export function collateralCrls(
  rootCaCrl: Uint8Array,
  pckCrl: Uint8Array,
  root: Certificate,
  now: number,
  cache: VerificationCache | undefined,
): [rootCaCrl: NamedCrl, pckCrl: NamedCrl] {
  const rootNamed = decodeCrl(rootCaCrl, "root_ca_crl", "ROOT_CA_CRL", cache);
  const pckNamed = decodeCrl(pckCrl, "pck_crl", "PCK_CRL", cache);
  const rootCrl = rootNamed.crl;
  if (rootCrl.issuerKey !== root.subjectKey) {
    fail("ROOT_CA_CRL_ISSUER_MISMATCH", `root_ca_crl is issued by "${nameToString(rootCrl.issuer)}", not by the trusted root "${nameToString(root.subject)}"`);
  }
  checkCrl(rootNamed, root, now, cache);
  if (rootCrl.revoked.has(root.serial)) fail("ROOT_CA_REVOKED", `the root CA (serial ${root.serial}) is listed in root_ca_crl`);
  return [rootNamed, pckNamed];
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/** Walk from `chain[0]` to the root through issuers found in `chain`; returns the path and each certificate's issuer. */
function buildPath(chain: Certificate[], ctx: PathContext, prefix: CertPathPrefix, label: string): { path: Certificate[]; issuers: Certificate[] } {
  const { root, cache } = ctx;
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
      return { path, issuers };
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
}

/** Validity at `now`, key type, critical extensions, EKU, CA flags and path lengths of every certificate of the path. */
function checkPathCertificates(path: Certificate[], ctx: PathContext, prefix: CertPathPrefix, label: string): void {
  const { root, now } = ctx;
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
}

/** Every certificate of the path checked against the CRL its issuer signed. */
function checkRevocation(path: Certificate[], issuers: Certificate[], crls: NamedCrl[], ctx: PathContext, prefix: CertPathPrefix, label: string): void {
  path.forEach((c, i) => {
    const issuer = issuers[i]!;
    const nc = crls.find((x) => x.crl.issuerKey === c.issuerKey);
    if (!nc) {
      fail(`${prefix}_CRL_NOT_FOUND`, `${label}: no CRL issued by "${cn(c.issuer)}" in the collateral, so the revocation status of "${cn(c.subject)}" is unknown`);
    }
    checkCrl(nc, issuer, ctx.now, ctx.cache);
    if (nc.crl.revoked.has(c.serial)) {
      fail(`${prefix}_REVOKED`, `${label}: "${cn(c.subject)}" (serial ${c.serial}) is revoked by ${nc.field}`, { serial: c.serial });
    }
  });
}

/**
 * Build and check the path from `chain[0]` (end entity) to the root: signatures, validity at `now`,
 * CA flags and path lengths, critical extensions, EKU, and a CRL check for every certificate (the CRL
 * whose issuer is the certificate's issuer, signed by that issuer, fresh at `now`, not listing the
 * serial). Returns `[leaf, …intermediates]` (the root not included).
 * Error codes are `<prefix>_CHAIN_EMPTY`, `<prefix>_ISSUER_UNKNOWN`, `<prefix>_CERT_SIGNATURE_INVALID`,
 * `<prefix>_CERT_EXPIRED`, `<prefix>_CERT_NOT_YET_VALID`, `<prefix>_CERT_INVALID`, `<prefix>_CRL_NOT_FOUND`,
 * `<prefix>_REVOKED` and the CRL codes of `checkCrl`.
 */
export function verifyPath(chain: Certificate[], ctx: PathContext, prefix: CertPathPrefix, label: string): Certificate[] {
  const { path, issuers } = buildPath(chain, ctx, prefix, label);
  checkPathCertificates(path, ctx, prefix, label);
  if (ctx.crls) checkRevocation(path, issuers, ctx.crls, ctx, prefix, label);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Intel's fixed chain shapes: the TCB Signing certificate and the PCK CA
// ---------------------------------------------------------------------------------------------

export const INTEL_ORGANIZATION = "Intel Corporation";
export const INTEL_TCB_SIGNING_CN = "Intel SGX TCB Signing";

/**
 * The Intel SGX TCB Signing pin, the signer of `tcb_info` and `qe_identity` (Intel's verifier accepts no
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
export function verifyTcbSigningPath(chain: Certificate[], ctx: PathContext, prefix: CertPathPrefix, label: string): Certificate {
  const signer = chain[0];
  if (!signer) fail(`${prefix}_CHAIN_EMPTY`, `${label}: no certificate`);
  const code = "TCB_SIGNER_NOT_TCB_SIGNING";
  // messages are built only on failure (nameToString is not free, and this runs on every verification)
  const what = (): string => `${label}: the signer "${nameToString(signer.subject)}" is not the Intel SGX TCB Signing certificate`;
  if (!nameHasSoleAttribute(signer.subject, OID_CN, INTEL_TCB_SIGNING_CN) || !nameHasSoleAttribute(signer.subject, OID_O, INTEL_ORGANIZATION)) {
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
    if (c !== root && !bytesEqual(c.der, root.der)) {
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
 */
export function checkPckChainShape(path: Certificate[], root: Certificate, label: string): void {
  const code = "PCK_ISSUER_NOT_PCK_CA";
  const leaf = path[0]!;
  const ca = path[1];
  const want = `an ${INTEL_PCK_PLATFORM_CA_CN} or ${INTEL_PCK_PROCESSOR_CA_CN} issued by the root`;
  if (!ca) fail(code, `${label}: the PCK certificate "${cn(leaf.subject)}" is issued directly by the root "${cn(root.subject)}", not by ${want}`);
  if (!nameHasSoleAttribute(ca.subject, OID_CN, INTEL_PCK_PLATFORM_CA_CN) && !nameHasSoleAttribute(ca.subject, OID_CN, INTEL_PCK_PROCESSOR_CA_CN)) {
    fail(code, `${label}: the PCK certificate's issuer "${nameToString(ca.subject)}" is not ${want}`);
  }
  if (!ca.isCa) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" has no basic-constraints CA flag`);
  if (ca.keyUsage === undefined || !(ca.keyUsage & KU_KEY_CERT_SIGN)) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" has no keyCertSign key usage`);
  if (path.length !== 2) fail(code, `${label}: the PCK CA "${cn(ca.subject)}" is issued by "${cn(ca.issuer)}", not directly by the root "${cn(root.subject)}"`);
}

/**
 * The PCK chain to the root: `pck_crl` (when revocation is checked) must be issued by the leaf's issuer,
 * the path is checked (`verifyPath`, codes `PCK_…`) and has Intel's shape (`checkPckChainShape`).
 * Throws `VerificationError` `PCK_CRL_ISSUER_MISMATCH` first. Returns the path.
 */
export function verifyPckChain(certs: Certificate[], ctx: PathContext, pckCrl: Crl | undefined, label: string): Certificate[] {
  const leaf = certs[0]!;
  if (pckCrl && pckCrl.issuerKey !== leaf.issuerKey) {
    fail("PCK_CRL_ISSUER_MISMATCH", `pck_crl is issued by "${nameToString(pckCrl.issuer)}", but the PCK certificate's issuer is "${nameToString(leaf.issuer)}"`);
  }
  const path = verifyPath(certs, ctx, "PCK", label);
  checkPckChainShape(path, ctx.root, label);
  return path;
}
