/**
 * The named steps of a quote verification, in the order `verifyQuote` runs them (see `verify.ts`). Each
 * step records one `Check` through the run's `StepRunner` under a stable name, with a detail saying what
 * it established, and fails with a stable error code. The rules themselves live with what they are
 * about: `chain.ts` (certificate paths, CRLs, Intel's chain shapes), `tcb-info.ts`, `qe-identity.ts`,
 * `sgx-extension.ts` and `tcb-policy.ts`.
 */
import { createHash } from "node:crypto";

import { bytesEqual, bytesToPlainHex } from "../core/bytes.js";
import { VerificationError, type ErrorCode } from "../core/errors.js";
import { isoSeconds } from "../core/time.js";
import { bytesKey, memo, type VerificationCache } from "./cache.js";
import { collateralCrls, verifyPckChain, verifyTcbSigningPath, type NamedCrl, type PathContext } from "./chain.js";
import { checkDocumentCurrent, type CollateralDocument } from "./intel-document.js";
import { spkiFromRawP256, verifyP256 } from "./p256.js";
import { checkQeIdentity, checkQeIdentityForQuote, parseQeIdentity, type QeIdentity } from "./qe-identity.js";
import { INTEL_QE_VENDOR_ID, quotePckPem, TEE_TYPE_SGX, TEE_TYPE_TDX, type Quote } from "./quote.js";
import { parseSgxExtension, type SgxExtension } from "./sgx-extension.js";
import { checkTcbInfoForPlatform, parseTcbInfo, type TcbInfo } from "./tcb-info.js";
import { checkTdxModule, convergeStatus, matchPlatformLevel, type PolicyRuleOutcome, type StatusWithAdvisories } from "./tcb-policy.js";
import type { Check, Collateral } from "./types.js";
import { cachedPemChain, commonName, type Certificate } from "./x509.js";

/** Runs one named step: `fn` returns its value and the detail recorded for it; a failure ends the verification. */
export interface StepRunner {
  readonly checks: Check[];
  run<T>(name: string, malformedCode: ErrorCode, fn: () => [T, string]): T;
}

/** One verification: the parsed quote, the trust root, the time, the cache and the steps so far. */
export interface Run {
  quote: Quote;
  tdx: boolean;
  root: Certificate;
  genuine: boolean;
  now: number;
  cache: VerificationCache;
  steps: StepRunner;
}

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

const hx = bytesToPlainHex;
const HEX = (b: Uint8Array): string => bytesToPlainHex(b).toUpperCase();
const cn = (c: Certificate): string => commonName(c.subject);
const withAdvisories = (s: StatusWithAdvisories): string => `${s.status}${s.advisoryIds.length ? ` ${s.advisoryIds.join(",")}` : ""}`;

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function utf8Bytes(text: string, cache: VerificationCache | undefined): Uint8Array {
  return memo(cache, "utf8", text, () => new Uint8Array(Buffer.from(text, "utf8")));
}

/** `quote.header`: Intel's QE, an ECDSA P-256 attestation key, and a version that fits the TEE. */
export function checkQuoteHeader(run: Run): void {
  run.steps.run("quote.header", "QUOTE_HEADER_INVALID", () => {
    const h = run.quote.header;
    if (!bytesEqual(h.qeVendorId, INTEL_QE_VENDOR_ID)) fail("QUOTE_HEADER_INVALID", `QE vendor id ${hx(h.qeVendorId)} is not Intel's ${hx(INTEL_QE_VENDOR_ID)}`);
    if (h.attestationKeyType !== 2) fail("QUOTE_HEADER_INVALID", `attestation key type ${h.attestationKeyType} is not supported (only 2 = ECDSA P-256)`);
    if (h.teeType === TEE_TYPE_SGX && h.version !== 3) fail("QUOTE_HEADER_INVALID", `SGX quotes must be version 3, got ${h.version}`);
    if (h.teeType === TEE_TYPE_TDX && h.version !== 4 && h.version !== 5) fail("QUOTE_HEADER_INVALID", `TDX quotes must be version 4 or 5, got ${h.version}`);
    if (h.teeType !== TEE_TYPE_SGX && h.teeType !== TEE_TYPE_TDX) fail("QUOTE_HEADER_INVALID", `unknown TEE type 0x${h.teeType.toString(16)}`);
    return [undefined, "Intel QE vendor id, ECDSA P-256 attestation key"];
  });
}

/** `root-ca.crl`: both CRLs decoded, the root's checked against the root. */
export function checkCollateralCrls(run: Run, c: Collateral): [NamedCrl, NamedCrl] {
  const { root, now, cache } = run;
  return run.steps.run("root-ca.crl", "CRL_MALFORMED", () => {
    const crls = collateralCrls(c.rootCaCrl, c.pckCrl, root, now, cache);
    return [crls, `root_ca_crl signed by ${cn(root)}, valid until ${isoSeconds(crls[0].crl.nextUpdate!)}, root not revoked`];
  });
}

/** One of Intel's signed documents in the collateral, and how its steps name and describe it. */
interface SignedDocument<T extends CollateralDocument> {
  step: "tcb-info" | "qe-identity";
  field: "tcb_info" | "qe_identity";
  code: "TCB_INFO" | "QE_IDENTITY";
  /** memo kind of the parsed document */
  kind: string;
  text: string;
  issuerChain: string;
  signature: Uint8Array;
  parse: (text: string) => T;
  describe: (doc: T) => string;
}

export function tcbInfoDocument(c: Collateral): SignedDocument<TcbInfo> {
  return {
    step: "tcb-info",
    field: "tcb_info",
    code: "TCB_INFO",
    kind: "tcbinfo",
    text: c.tcbInfo,
    issuerChain: c.tcbInfoIssuerChain,
    signature: c.tcbInfoSignature,
    parse: parseTcbInfo,
    describe: (i) => `${i.id} v${i.version}, FMSPC ${HEX(i.fmspc)}, ${i.issueDateText} … ${i.nextUpdateText}`,
  };
}

export function qeIdentityDocument(c: Collateral): SignedDocument<QeIdentity> {
  return {
    step: "qe-identity",
    field: "qe_identity",
    code: "QE_IDENTITY",
    kind: "qeid",
    text: c.qeIdentity,
    issuerChain: c.qeIdentityIssuerChain,
    signature: c.qeIdentitySignature,
    parse: parseQeIdentity,
    describe: (q) => `${q.id} v${q.version}, ${q.issueDateText} … ${q.nextUpdateText}`,
  };
}

/**
 * `<doc>.validity` (parsed, current at `now`), `<doc>.chain` (issued by Intel's TCB Signing certificate
 * under the root: the signer is pinned before any signature is tried) and `<doc>.signature`.
 */
export function checkSignedDocument<T extends CollateralDocument>(run: Run, ctx: PathContext, d: SignedDocument<T>): T {
  const { steps, cache, now } = run;
  const doc = steps.run(`${d.step}.validity`, `${d.code}_INVALID`, () => {
    const parsed = memo(cache, d.kind, d.text, () => d.parse(d.text));
    checkDocumentCurrent(parsed, d.field, d.code, now);
    return [parsed, d.describe(parsed)];
  });
  const chainField = `${d.field}_issuer_chain`;
  const signer = steps.run(`${d.step}.chain`, `${d.code}_CHAIN_MALFORMED`, () => {
    const certs = cachedPemChain(d.issuerChain, chainField, cache);
    if (!certs.length) fail(`${d.code}_CHAIN_EMPTY`, `${chainField} has no certificate`);
    const s = verifyTcbSigningPath(certs, ctx, `${d.code}_CHAIN`, chainField);
    return [s, `${cn(s)} ← ${cn(run.root)}; TCB Signing pin, valid, not revoked`];
  });
  steps.run(`${d.step}.signature`, `${d.code}_SIGNATURE_INVALID`, () => {
    if (!verifyP256(signer.spki, utf8Bytes(d.text, cache), d.signature, "raw", cache)) {
      fail(`${d.code}_SIGNATURE_INVALID`, `${d.field}_signature does not verify over ${d.field} with the key of "${cn(signer)}"`);
    }
    return [undefined, `signed by ${cn(signer)}`];
  });
  return doc;
}

/** `qe-identity.id`: the QE identity is the one for this kind of quote. */
export function checkQeIdentityKind(run: Run, qe: QeIdentity): void {
  run.steps.run("qe-identity.id", "QE_IDENTITY_MISMATCH", () => {
    checkQeIdentityForQuote(qe, run.tdx);
    return [undefined, `${qe.id} v${qe.version} matches a ${run.tdx ? "TDX" : "SGX"} quote`];
  });
}

/** The PCK chain's PEM: the collateral's `pck_certificate_chain` when given, else the quote's own (type 5). */
export function pckChainPem(quote: Quote, collateralChain: string | undefined): { pem: string; source: string } {
  if (collateralChain !== undefined) return { pem: collateralChain, source: "collateral pck_certificate_chain" };
  const pem = quotePckPem(quote);
  if (pem === undefined) {
    fail("PCK_CERT_TYPE_UNSUPPORTED", `certification data type ${quote.certificationType} is not supported (need 5 = PEM PCK chain, or pck_certificate_chain in the collateral)`);
  }
  return { pem, source: "the quote" };
}

/**
 * `pck.chain`: the PCK chain (the collateral's when given, else the quote's) verified to the root,
 * revocation checked when `crls` are given; returns the leaf.
 */
export function checkPckChain(run: Run, crls: NamedCrl[] | undefined, collateralChain?: string): Certificate {
  const { quote, root, now, cache } = run;
  return run.steps.run("pck.chain", "PCK_CHAIN_MALFORMED", () => {
    const { pem, source } = pckChainPem(quote, collateralChain);
    const certs = cachedPemChain(pem, "PCK chain", cache);
    if (!certs.length) fail("PCK_CHAIN_EMPTY", `no certificate in the PCK chain from ${source}`);
    const path = verifyPckChain(certs, { root, now, cache, crls }, crls?.[1]!.crl, "PCK chain");
    return [certs[0]!, `${path.map(cn).join(" ← ")} ← ${cn(root)}${crls ? "; valid, not revoked" : "; valid (revocation not checked)"}`];
  });
}

/** `pck.extension`: the PCK leaf's SGX extension (the detail names the CPUSVN when `withCpuSvn`). */
export function readPckExtension(run: Run, leaf: Certificate, withCpuSvn: boolean): SgxExtension {
  return run.steps.run("pck.extension", "PCK_SGX_EXTENSION_INVALID", () => {
    const e = memo(run.cache, "sgxext", bytesKey(leaf.der), () => parseSgxExtension(leaf));
    return [e, `FMSPC ${HEX(e.fmspc)}, PCE-ID ${hx(e.pceId)}, PCESVN ${e.pceSvn}${withCpuSvn ? `, CPUSVN ${hx(e.cpuSvn)}` : ""}`];
  });
}

/** `qe-report.signature` (signed by the PCK key) and `qe-report.binding` (it binds the attestation key). */
export function checkQeReport(run: Run, leaf: Certificate): void {
  const { quote, steps, cache } = run;
  steps.run("qe-report.signature", "QE_REPORT_SIGNATURE_INVALID", () => {
    if (!verifyP256(leaf.spki, quote.qeReportRaw, quote.qeReportSignature, "raw", cache)) {
      fail("QE_REPORT_SIGNATURE_INVALID", "the QE report signature does not verify with the PCK certificate key");
    }
    return [undefined, "QE report signed by the PCK key"];
  });
  steps.run("qe-report.binding", "QE_REPORT_BINDING_MISMATCH", () => {
    // Intel's verifier accepts QE authentication data of any length (dcap-qvl requires 32); the hash binds it either way
    const h = sha256(quote.attestationKey, quote.qeAuthData);
    const rd = quote.qeReport.reportData;
    if (!bytesEqual(h, rd.subarray(0, 32))) fail("QE_REPORT_BINDING_MISMATCH", `QE report_data[0..32) ${hx(rd.subarray(0, 32))} ≠ SHA-256(attestation key ‖ QE auth data) ${hx(h)}`);
    for (let i = 32; i < 64; i++) if (rd[i] !== 0) fail("QE_REPORT_BINDING_MISMATCH", "QE report_data[32..64) is not zero");
    return [undefined, "QE report_data = SHA-256(attestation key ‖ QE auth data) ‖ zeros"];
  });
}

/** `qe-identity.policy`: the QE report against the QE identity; returns the QE's TCB status. */
export function checkQeReportIdentity(run: Run, qe: QeIdentity): StatusWithAdvisories {
  const report = run.quote.qeReport;
  return run.steps.run("qe-identity.policy", "QE_IDENTITY_POLICY", () => {
    const s = checkQeIdentity(qe, report);
    return [s, `QE ISVSVN ${report.isvSvn} → ${withAdvisories(s)}`];
  });
}

/** `quote.signature`: the attestation key signed the header and body. */
export function checkQuoteSignature(run: Run): void {
  const { quote, cache } = run;
  run.steps.run("quote.signature", "QUOTE_SIGNATURE_INVALID", () => {
    const signed = quote.raw.subarray(0, quote.signedLength);
    if (!verifyP256(spkiFromRawP256(quote.attestationKey), signed, quote.signature, "raw", cache)) {
      fail("QUOTE_SIGNATURE_INVALID", `the quote signature over bytes [0, ${quote.signedLength}) does not verify with the attestation key`);
    }
    return [undefined, `bytes [0, ${quote.signedLength}) signed by the attestation key`];
  });
}

/** `tcb.fmspc`: the TCB Info is this platform's (FMSPC, PCE-ID) and this kind of quote's. */
export function checkTcbInfoPlatform(run: Run, pck: SgxExtension, info: TcbInfo): void {
  run.steps.run("tcb.fmspc", "FMSPC_MISMATCH", () => {
    checkTcbInfoForPlatform(info, pck, run.tdx);
    return [undefined, `FMSPC ${HEX(pck.fmspc)} and PCE-ID ${HEX(pck.pceId)} match ${info.id} TCB info`];
  });
}

/** `tcb.level` (the platform's TCB level) and, for TDX, `tcb.tdx-module` (the module converged in). */
export function platformStatus(run: Run, pck: SgxExtension, info: TcbInfo): StatusWithAdvisories {
  const { steps, quote } = run;
  const body = quote.body;
  const level = steps.run("tcb.level", "TCB_LEVEL_NOT_FOUND", () => {
    const l = matchPlatformLevel(info, pck.cpuSvn, pck.pceSvn, body.type === "sgx" ? undefined : body.teeTcbSvn);
    return [l, `level ${l.tcbDate} → ${withAdvisories(l)}`];
  });
  const platform: StatusWithAdvisories = { status: level.status, advisoryIds: level.advisoryIds };
  if (body.type === "sgx") return platform;
  return steps.run("tcb.tdx-module", "TDX_MODULE_INVALID", () => {
    const m = checkTdxModule(info, body.teeTcbSvn, body.mrSignerSeam, body.seamAttributes);
    const merged = m ? convergeStatus(platform, m) : platform;
    return [merged, m ? `TDX module SVN ${body.teeTcbSvn[0]} (TDX_${HEX(body.teeTcbSvn.subarray(1, 2))}) → ${m.status}` : "module MRSIGNER and attributes match; no module TCB levels"];
  });
}

/** `tcb.status`: the platform and QE statuses converged; Revoked fails. */
export function finalStatus(run: Run, platform: StatusWithAdvisories, qeStatus: StatusWithAdvisories): StatusWithAdvisories {
  return run.steps.run("tcb.status", "TCB_REVOKED", () => {
    const f = convergeStatus(platform, qeStatus);
    if (f.status === "Revoked") fail("TCB_REVOKED", "the TCB status is Revoked");
    return [f, `${withAdvisories(f)} (platform ${platform.status}, QE ${qeStatus.status})`];
  });
}

/** `report.policy`: the first refusing report rule fails it with that rule's code. */
export function checkReportPolicy(run: Run, rules: PolicyRuleOutcome[]): void {
  run.steps.run("report.policy", "REPORT_POLICY", () => {
    const refused = rules.find((r) => r.report && !r.ok);
    if (refused) fail(refused.code!, refused.detail);
    const b = run.quote.body;
    if (b.type === "sgx") return [undefined, rules.find((r) => r.name === "enclave.debug")!.detail];
    const allowed = rules.filter((r) => r.report && r.detail.endsWith("(allowed by option)")).map((r) => r.name);
    return [undefined, `TD attributes ${hx(b.tdAttributes)} acceptable${b.type === "td15" ? ", mr_service_td checked" : ""}${allowed.length ? ` (allowed by option: ${allowed.join(", ")})` : ""}`];
  });
}
