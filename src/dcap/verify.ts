/**
 * DCAP quote verification (spec §2), synchronous, with `node:crypto` for P-256.
 *
 * Steps, each recorded as a `Check` (name, ok, detail) in the order performed:
 *   quote.parse, quote.header, root-ca.crl, tcb-info.validity, tcb-info.chain, tcb-info.signature,
 *   qe-identity.validity, qe-identity.chain, qe-identity.signature, qe-identity.id, pck.chain,
 *   pck.extension, qe-report.signature, qe-report.binding, qe-identity.policy, quote.signature,
 *   tcb.fmspc, tcb.level, tcb.tdx-module, tcb.status, report.policy
 * The first failing step throws `QuoteVerificationError` with a stable `code` and `checks` = the
 * passed steps plus the failing one. All steps but `report.policy` are Intel's rules (the result's
 * `verification`); `report.policy` and the accepted TCB statuses are this verifier's policy (the
 * result's `policy`, one entry per rule). Stricter than dcap-qvl (project decisions): `now` is a required
 * whole number of seconds, CRL `thisUpdate` is checked, `root_ca_crl` must be issued by the root and
 * `pck_crl` by the PCK leaf's issuer, the QE report's `report_data[32..64)` must be zero, and Intel's
 * rules replace dcap-qvl's where they differ (decision 2): the TDX component skip and status
 * convergence (see `tcb.ts`), QE authentication data of any length (dcap-qvl demands 32 bytes;
 * Intel's QVL takes the declared length, and the SHA-256 binding covers it either way), and the PCK's
 * PCE-ID must equal the TCB info's `pceId` like its FMSPC (dcap-qvl compares only the FMSPC).
 */
import { createHash } from "node:crypto";

import { bytesEqual, bytesToHex, bytesToPlainHex, type Hex } from "../core/bytes.js";
import { KmsRegistryError, UsageError, VerificationError } from "../core/errors.js";
import { bytesKey, createVerificationCache, memo, type VerificationCache } from "./cache.js";
import { INTEL_SGX_ROOT_CA_DER } from "./intel-root.js";
import { INTEL_QE_VENDOR_ID, parseQuote, QuoteParseError, TEE_TYPE_SGX, TEE_TYPE_TDX, type Quote, type QuoteBody } from "./quote.js";
import { checkQeIdentity, checkTdxModule, convergeStatus, matchPlatformLevel, parseQeIdentity, parseTcbInfo, tdAttributeRules, type StatusWithAdvisories, type TdAttributeRule } from "./tcb.js";
import { DEFAULT_ACCEPTED_STATUSES, TCB_STATUSES, type Check, type Collateral, type PckInfoJson, type PolicyVerdict, type ReportJson, type TcbStatus, type VerificationVerdict, type VerifiedQuote } from "./types.js";
import {
  cachedCertificate,
  cachedCrl,
  checkCrl,
  commonName,
  isoSeconds,
  nameToString,
  parseSgxExtension,
  pemBlocks,
  verifyP256,
  verifyPath,
  verifyTcbSigningPath,
  checkPckChainShape,
  spkiFromRawP256,
  type Certificate,
  type NamedCrl,
  type PathContext,
  type SgxExtension,
} from "./x509.js";

export type { VerificationCache } from "./cache.js";
export { createVerificationCache } from "./cache.js";

export interface VerifyOptions {
  collateral: Collateral;
  /** unix seconds, required, a whole number */
  now: number;
  /** trust anchor (DER); default the pinned Intel SGX Root CA. Any other root → `genuine: false`. */
  rootCaDer?: Uint8Array;
  /** accept a DEBUG workload (TD or enclave). The QE must never be debug. */
  allowDebug?: boolean;
  /** accept a non-zero `mr_service_td` in TD 1.5 reports */
  allowServiceTd?: boolean;
  /** accept a TD whose SEPT_VE_DISABLE attribute (bit 28) is clear (never for a dstack KMS) */
  allowSeptVe?: boolean;
  /** the policy's accepted TCB statuses (default UpToDate, SWHardeningNeeded); another status gives `accepted: false`, not an error */
  acceptStatuses?: readonly TcbStatus[];
  /** memo of byte-only work (parsed certs/CRLs/JSON, signature outcomes); results are identical without it */
  cache?: VerificationCache;
}

/**
 * A failed verification step. `checks` lists the steps that passed, then the failing one. When
 * `verifyQuote` throws it after the quote parsed, it also carries what was attested (`report`, and
 * `pck` when the PCK leaf was readable), Intel's verdict (`verification`) and, when only the policy
 * refused the quote, the policy's rules (`policy`; null when the policy was not reached).
 */
export class QuoteVerificationError extends VerificationError {
  readonly checks: Check[];
  report?: ReportJson;
  pck?: PckInfoJson;
  verification?: VerificationVerdict;
  policy?: PolicyVerdict | null;
  constructor(code: string, message: string, checks: Check[], options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.checks = checks;
  }
}

/** Validate `now`: a finite whole number of seconds, else `UsageError`. */
export function requireNow(now: unknown): number {
  if (typeof now !== "number" || !Number.isSafeInteger(now) || now < 0) {
    throw new UsageError(`now must be a whole, non-negative number of unix seconds, got ${now === undefined ? "undefined" : JSON.stringify(now) ?? String(now)}`);
  }
  return now;
}

class Steps {
  readonly checks: Check[] = [];
  run<T>(name: string, malformedCode: string, fn: () => [T, string]): T {
    let out: [T, string];
    try {
      out = fn();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.checks.push({ name, ok: false, detail: message });
      if (e instanceof QuoteVerificationError) throw e;
      const code = e instanceof VerificationError ? e.code : e instanceof KmsRegistryError ? malformedCode : "INTERNAL";
      const details = e instanceof KmsRegistryError ? e.details : undefined;
      throw new QuoteVerificationError(code, `${name}: ${message}`, this.checks.slice(), { cause: e, ...(details ? { details } : {}) });
    }
    this.checks.push({ name, ok: true, detail: out[1] });
    return out[0];
  }
}

function fail(code: string, message: string): never {
  throw new VerificationError(code, message);
}

const hx = bytesToPlainHex;

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function utf8Bytes(text: string, cache: VerificationCache | undefined): Uint8Array {
  return memo(cache, "utf8", text, () => new Uint8Array(Buffer.from(text, "utf8")));
}

function certsFromPem(text: string, what: string, cache: VerificationCache | undefined): Certificate[] {
  return memo(cache, "pem", text, () => pemBlocks(text, what).map((der, i) => cachedCertificate(der, `${what} certificate ${i + 1}`, cache)));
}

function cnOf(c: Certificate): string {
  return commonName(c.subject);
}

/** Report fields as JSON (`0x` lower-case hex, numbers for integers). */
export function reportToJson(body: QuoteBody): ReportJson {
  const out: ReportJson = { type: body.type };
  for (const [k, v] of Object.entries(body)) {
    if (k === "type") continue;
    out[k] = v instanceof Uint8Array ? bytesToHex(v) : (v as number);
  }
  return out;
}

function pckInfo(leaf: Certificate, ext: SgxExtension): PckInfoJson {
  const issuer = nameToString(leaf.issuer);
  return {
    fmspc: bytesToHex(ext.fmspc),
    pceId: bytesToHex(ext.pceId),
    ca: issuer.includes("Platform") ? "platform" : "processor",
    ppid: bytesToHex(ext.ppid),
    cpuSvn: bytesToHex(ext.cpuSvn),
    pceSvn: ext.pceSvn,
    sgxType: ext.sgxType,
  };
}

interface Prepared {
  quote: Quote;
  root: Certificate;
  genuine: boolean;
  now: number;
  cache: VerificationCache;
  steps: Steps;
}

function prepare(input: Uint8Array | Quote, opts: { rootCaDer?: Uint8Array; now: number; cache?: VerificationCache }): Prepared {
  if (typeof opts !== "object" || opts === null) throw new UsageError("verification options are required ({ collateral, now })");
  const now = requireNow(opts.now);
  const cache = opts.cache ?? createVerificationCache();
  const rootDer = opts.rootCaDer ?? INTEL_SGX_ROOT_CA_DER;
  if (!(rootDer instanceof Uint8Array)) throw new UsageError("rootCaDer must be a Uint8Array (DER)");
  const root = cachedCertificate(rootDer, "root CA certificate", cache);
  const genuine = bytesEqual(rootDer, INTEL_SGX_ROOT_CA_DER);
  const steps = new Steps();
  let quote: Quote;
  if (input instanceof Uint8Array) {
    try {
      quote = parseQuote(input);
    } catch (e) {
      steps.checks.push({ name: "quote.parse", ok: false, detail: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  } else if (typeof input === "object" && input !== null && input.raw instanceof Uint8Array) {
    quote = input;
  } else throw new UsageError("quote must be bytes or a parsed Quote");
  const b = quote.body;
  steps.checks.push({
    name: "quote.parse",
    ok: true,
    detail: `v${quote.header.version} ${quote.header.teeType === TEE_TYPE_TDX ? "TDX" : "SGX"} quote, ${b.type} body, signed length ${quote.signedLength}`,
  });
  steps.run("quote.header", "QUOTE_HEADER_INVALID", () => {
    const h = quote.header;
    if (!bytesEqual(h.qeVendorId, INTEL_QE_VENDOR_ID)) fail("QUOTE_HEADER_INVALID", `QE vendor id ${hx(h.qeVendorId)} is not Intel's ${hx(INTEL_QE_VENDOR_ID)}`);
    if (h.attestationKeyType !== 2) fail("QUOTE_HEADER_INVALID", `attestation key type ${h.attestationKeyType} is not supported (only 2 = ECDSA P-256)`);
    if (h.teeType === TEE_TYPE_SGX && h.version !== 3) fail("QUOTE_HEADER_INVALID", `SGX quotes must be version 3, got ${h.version}`);
    if (h.teeType === TEE_TYPE_TDX && h.version !== 4 && h.version !== 5) fail("QUOTE_HEADER_INVALID", `TDX quotes must be version 4 or 5, got ${h.version}`);
    if (h.teeType !== TEE_TYPE_SGX && h.teeType !== TEE_TYPE_TDX) fail("QUOTE_HEADER_INVALID", `unknown TEE type 0x${h.teeType.toString(16)}`);
    return [undefined, "Intel QE vendor id, ECDSA P-256 attestation key"];
  });
  return { quote, root, genuine, now, cache, steps };
}

/** The PCK chain (collateral override or the quote's PEM), verified to the root. */
function pckChain(p: Prepared, collateral: Collateral | undefined, crls: NamedCrl[] | undefined): { leaf: Certificate; path: Certificate[] } {
  const { quote, steps, cache } = p;
  return steps.run("pck.chain", "PCK_CHAIN_MALFORMED", () => {
    let pem: string;
    let source: string;
    if (collateral?.pckCertificateChain !== undefined) {
      pem = collateral.pckCertificateChain;
      source = "collateral pck_certificate_chain";
    } else {
      if (quote.certificationType !== 5) fail("PCK_CERT_TYPE_UNSUPPORTED", `certification data type ${quote.certificationType} is not supported (need 5 = PEM PCK chain, or pck_certificate_chain in the collateral)`);
      const cd = quote.certificationData;
      pem = Buffer.from(cd.buffer, cd.byteOffset, cd.byteLength).toString("latin1");
      source = "the quote";
    }
    const certs = certsFromPem(pem, "PCK chain", cache);
    if (!certs.length) fail("PCK_CHAIN_EMPTY", `no certificate in the PCK chain from ${source}`);
    const leaf = certs[0]!;
    if (crls) {
      const pckCrl = crls[1]!.crl;
      if (pckCrl.issuerKey !== leaf.issuerKey) {
        fail("PCK_CRL_ISSUER_MISMATCH", `pck_crl is issued by "${nameToString(pckCrl.issuer)}", but the PCK certificate's issuer is "${nameToString(leaf.issuer)}"`);
      }
    }
    const ctx: PathContext = { root: p.root, now: p.now, cache, crls };
    const path = verifyPath(certs, ctx, "PCK", "PCK chain");
    // Intel's shape: leaf ← PCK Platform/Processor CA ← root (the PCK CRL's issuer is that CA, checked above)
    checkPckChainShape(path, p.root, "PCK chain");
    return [
      { leaf, path },
      `${path.map(cnOf).join(" ← ")} ← ${cnOf(p.root)}${crls ? "; valid, not revoked" : "; valid (revocation not checked)"}`,
    ];
  });
}

function qeAndQuoteSignatures(p: Prepared, leaf: Certificate): void {
  const { quote, steps, cache } = p;
  steps.run("qe-report.signature", "QE_REPORT_SIGNATURE_INVALID", () => {
    if (!verifyP256(leaf.spki, quote.qeReportRaw, quote.qeReportSignature, "raw", cache)) {
      fail("QE_REPORT_SIGNATURE_INVALID", "the QE report signature does not verify with the PCK certificate key");
    }
    return [undefined, "QE report signed by the PCK key"];
  });
  steps.run("qe-report.binding", "QE_REPORT_BINDING_MISMATCH", () => {
    // Intel's QVL accepts QE authentication data of any length (dcap-qvl requires 32); the hash binds it either way
    const h = sha256(quote.attestationKey, quote.qeAuthData);
    const rd = quote.qeReport.reportData;
    if (!bytesEqual(h, rd.subarray(0, 32))) fail("QE_REPORT_BINDING_MISMATCH", `QE report_data[0..32) ${hx(rd.subarray(0, 32))} ≠ SHA-256(attestation key ‖ QE auth data) ${hx(h)}`);
    for (let i = 32; i < 64; i++) if (rd[i] !== 0) fail("QE_REPORT_BINDING_MISMATCH", "QE report_data[32..64) is not zero");
    return [undefined, "QE report_data = SHA-256(attestation key ‖ QE auth data) ‖ zeros"];
  });
}

function quoteSignature(p: Prepared): void {
  const { quote, steps, cache } = p;
  steps.run("quote.signature", "QUOTE_SIGNATURE_INVALID", () => {
    const signed = quote.raw.subarray(0, quote.signedLength);
    if (!verifyP256(spkiFromRawP256(quote.attestationKey), signed, quote.signature, "raw", cache)) {
      fail("QUOTE_SIGNATURE_INVALID", `the quote signature over bytes [0, ${quote.signedLength}) does not verify with the attestation key`);
    }
    return [undefined, `bytes [0, ${quote.signedLength}) signed by the attestation key`];
  });
}

interface PolicyRuleOutcome extends TdAttributeRule {
  /** a report rule (refusal throws); false for the accepted-status rule (refusal gives `accepted: false`) */
  report: boolean;
}

function acceptedStatuses(v: unknown): readonly TcbStatus[] {
  if (v === undefined) return DEFAULT_ACCEPTED_STATUSES;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && (TCB_STATUSES as readonly string[]).includes(s))) {
    throw new UsageError(`acceptStatuses must be an array of TCB statuses (${TCB_STATUSES.join(", ")})`);
  }
  return v as TcbStatus[];
}

/** The policy's rules for a verified quote with TCB status `status`, in the order they are applied. */
function policyRules(body: QuoteBody, status: TcbStatus, accept: readonly TcbStatus[], opts: { allowDebug?: boolean; allowServiceTd?: boolean; allowSeptVe?: boolean }): PolicyRuleOutcome[] {
  const isAccepted = accept.includes(status);
  const rules: PolicyRuleOutcome[] = [
    { name: "tcb.status", ok: isAccepted, report: false, detail: `${status} ${isAccepted ? "is" : "is not"} one of the accepted statuses (${accept.join(", ")})` },
  ];
  if (body.type === "sgx") {
    const debug = (body.attributes[0]! & 0x02) !== 0;
    rules.push(
      !debug
        ? { name: "enclave.debug", ok: true, report: true, detail: "not DEBUG" }
        : opts.allowDebug
          ? { name: "enclave.debug", ok: true, report: true, detail: "DEBUG enclave (allowed by option)" }
          : { name: "enclave.debug", ok: false, report: true, code: "ENCLAVE_DEBUG", detail: "the enclave is in DEBUG mode (attributes bit 1)" },
    );
    return rules;
  }
  if (body.type === "td15") {
    const zero = body.mrServiceTd.every((x) => x === 0);
    rules.push(
      zero
        ? { name: "td.mr-service-td", ok: true, report: true, detail: "mr_service_td is zero" }
        : opts.allowServiceTd
          ? { name: "td.mr-service-td", ok: true, report: true, detail: `mr_service_td ${hx(body.mrServiceTd)} is not zero (allowed by option)` }
          : { name: "td.mr-service-td", ok: false, report: true, code: "TD_SERVICE_TD_INVALID", detail: `mr_service_td ${hx(body.mrServiceTd)} is not zero (allowServiceTd not set)` },
    );
  }
  for (const r of tdAttributeRules(body.tdAttributes, opts)) rules.push({ ...r, report: true });
  return rules;
}

/** The `report.policy` step: the first refusing report rule fails it with that rule's code. */
function reportPolicy(p: Prepared, rules: PolicyRuleOutcome[]): void {
  const { quote, steps } = p;
  steps.run("report.policy", "REPORT_POLICY", () => {
    const refused = rules.find((r) => r.report && !r.ok);
    if (refused) fail(refused.code!, refused.detail);
    const b = quote.body;
    if (b.type === "sgx") return [undefined, rules.find((r) => r.name === "enclave.debug")!.detail];
    const allowed = rules.filter((r) => r.report && r.detail.endsWith("(allowed by option)")).map((r) => r.name);
    return [undefined, `TD attributes ${hx(b.tdAttributes)} acceptable${b.type === "td15" ? ", mr_service_td checked" : ""}${allowed.length ? ` (allowed by option: ${allowed.join(", ")})` : ""}`];
  });
}

const policyVerdict = (rules: PolicyRuleOutcome[]): PolicyVerdict => ({ ok: rules.every((r) => r.ok), rules: rules.map(({ name, ok, detail }) => ({ name, ok, detail })) });

/** What `verifyQuote` learned before a step failed. */
interface Progress {
  body?: QuoteBody;
  genuine?: boolean;
  pck?: PckInfoJson;
  final?: StatusWithAdvisories;
  rules?: PolicyRuleOutcome[];
}

/** The PCK leaf's identity when it can be read (chain from the collateral or the quote), else undefined. */
function readablePck(body: Quote, collateral: unknown): PckInfoJson | undefined {
  try {
    const override = typeof collateral === "object" && collateral !== null ? (collateral as Collateral).pckCertificateChain : undefined;
    let pem: string;
    if (typeof override === "string") pem = override;
    else if (body.certificationType === 5) pem = Buffer.from(body.certificationData.buffer, body.certificationData.byteOffset, body.certificationData.byteLength).toString("latin1");
    else return undefined;
    const leaf = certsFromPem(pem, "PCK chain", undefined)[0];
    return leaf ? pckInfo(leaf, parseSgxExtension(leaf)) : undefined;
  } catch {
    return undefined;
  }
}

/** Attach what was attested and the two verdicts to a `QuoteVerificationError` thrown after the quote parsed. */
function annotate(e: QuoteVerificationError, quoteInput: Uint8Array | Quote, opts: VerifyOptions, progress: Progress): void {
  let quote: Quote | undefined;
  try {
    quote = quoteInput instanceof Uint8Array ? parseQuote(quoteInput) : quoteInput;
  } catch {
    return; // not parsed: nothing was attested
  }
  e.report = reportToJson(progress.body ?? quote.body);
  const pck = progress.pck ?? readablePck(quote, opts.collateral);
  if (pck) e.pck = pck;
  const policyRefused = progress.rules !== undefined && e.checks.at(-1)?.name === "report.policy";
  const revoked = e.code === "TCB_REVOKED";
  e.verification = {
    ok: policyRefused,
    status: progress.final?.status ?? (revoked ? "Revoked" : null),
    advisoryIds: progress.final?.advisoryIds ?? [],
    genuine: progress.genuine ?? false,
    checks: e.checks.filter((c) => c.name !== "report.policy"),
  };
  e.policy = policyRefused ? policyVerdict(progress.rules!) : null;
}

/**
 * Verify a quote against collateral at `now` (§2.3). Returns the status and report, or throws
 * `QuoteVerificationError` (failing step), `QuoteParseError` (undecodable quote) or `UsageError` (bad options).
 */
export function verifyQuote(quoteInput: Uint8Array | Quote, opts: VerifyOptions): VerifiedQuote {
  const progress: Progress = {};
  try {
    return verifySteps(quoteInput, opts, progress);
  } catch (e) {
    if (e instanceof QuoteVerificationError) annotate(e, quoteInput, opts, progress);
    throw e;
  }
}

function verifySteps(quoteInput: Uint8Array | Quote, opts: VerifyOptions, progress: Progress): VerifiedQuote {
  const accept = acceptedStatuses(opts?.acceptStatuses);
  const p = prepare(quoteInput, opts);
  progress.body = p.quote.body;
  progress.genuine = p.genuine;
  const { quote, steps, cache, now, root } = p;
  const c = opts.collateral;
  if (typeof c !== "object" || c === null) throw new UsageError("collateral is required");
  for (const k of ["rootCaCrl", "pckCrl", "tcbInfoSignature", "qeIdentitySignature"] as const) {
    if (!(c[k] instanceof Uint8Array)) throw new UsageError(`collateral.${k} must be a Uint8Array (use parseCollateralJson for JSON)`);
  }
  for (const k of ["tcbInfoIssuerChain", "tcbInfo", "qeIdentityIssuerChain", "qeIdentity"] as const) {
    if (typeof c[k] !== "string") throw new UsageError(`collateral.${k} must be a string`);
  }
  if (c.pckCertificateChain !== undefined && typeof c.pckCertificateChain !== "string") throw new UsageError("collateral.pckCertificateChain must be a string");
  const tdx = quote.header.teeType === TEE_TYPE_TDX;

  // 1. CRLs and the root
  const crls = steps.run("root-ca.crl", "CRL_MALFORMED", () => {
    let rootCrl, pckCrl;
    try {
      rootCrl = cachedCrl(c.rootCaCrl, "root_ca_crl", cache);
    } catch (e) {
      throw new VerificationError("ROOT_CA_CRL_INVALID", e instanceof Error ? e.message : String(e));
    }
    try {
      pckCrl = cachedCrl(c.pckCrl, "pck_crl", cache);
    } catch (e) {
      throw new VerificationError("PCK_CRL_INVALID", e instanceof Error ? e.message : String(e));
    }
    const named: NamedCrl[] = [
      { crl: rootCrl, field: "root_ca_crl", code: "ROOT_CA_CRL" },
      { crl: pckCrl, field: "pck_crl", code: "PCK_CRL" },
    ];
    if (rootCrl.issuerKey !== root.subjectKey) {
      fail("ROOT_CA_CRL_ISSUER_MISMATCH", `root_ca_crl is issued by "${nameToString(rootCrl.issuer)}", not by the trusted root "${nameToString(root.subject)}"`);
    }
    checkCrl(named[0]!, root, now, cache);
    if (rootCrl.revoked.has(root.serial)) fail("ROOT_CA_REVOKED", `the root CA (serial ${root.serial}) is listed in root_ca_crl`);
    return [named, `root_ca_crl signed by ${cnOf(root)}, valid until ${isoSeconds(rootCrl.nextUpdate!)}, root not revoked`];
  });
  const ctx: PathContext = { root, now, cache, crls };

  // 2. TCB info
  const tcbInfo = steps.run("tcb-info.validity", "TCB_INFO_INVALID", () => {
    const info = memo(cache, "tcbinfo", c.tcbInfo, () => parseTcbInfo(c.tcbInfo));
    if (now < info.issueDate) fail("TCB_INFO_NOT_YET_VALID", `tcb_info issueDate ${info.issueDateText} is after the verification time ${isoSeconds(now)}`);
    if (now > info.nextUpdate) fail("TCB_INFO_EXPIRED", `tcb_info expired at nextUpdate ${info.nextUpdateText} (verification time ${isoSeconds(now)})`);
    return [info, `${info.id} v${info.version}, FMSPC ${hx(info.fmspc).toUpperCase()}, ${info.issueDateText} … ${info.nextUpdateText}`];
  });
  const tcbSigner = steps.run("tcb-info.chain", "TCB_INFO_CHAIN_MALFORMED", () => {
    const certs = certsFromPem(c.tcbInfoIssuerChain, "tcb_info_issuer_chain", cache);
    if (!certs.length) fail("TCB_INFO_CHAIN_EMPTY", "tcb_info_issuer_chain has no certificate");
    // only Intel's TCB Signing certificate, issued by the root, may sign TCB Info (checked before any signature)
    const signer = verifyTcbSigningPath(certs, ctx, "TCB_INFO_CHAIN", "tcb_info_issuer_chain");
    return [signer, `${cnOf(signer)} ← ${cnOf(root)}; TCB Signing pin, valid, not revoked`];
  });
  steps.run("tcb-info.signature", "TCB_INFO_SIGNATURE_INVALID", () => {
    if (!verifyP256(tcbSigner.spki, utf8Bytes(c.tcbInfo, cache), c.tcbInfoSignature, "raw", cache)) {
      fail("TCB_INFO_SIGNATURE_INVALID", `tcb_info_signature does not verify over tcb_info with the key of "${cnOf(tcbSigner)}"`);
    }
    return [undefined, `signed by ${cnOf(tcbSigner)}`];
  });

  // 3. QE identity
  const qeId = steps.run("qe-identity.validity", "QE_IDENTITY_INVALID", () => {
    const qi = memo(cache, "qeid", c.qeIdentity, () => parseQeIdentity(c.qeIdentity));
    if (now < qi.issueDate) fail("QE_IDENTITY_NOT_YET_VALID", `qe_identity issueDate ${qi.issueDateText} is after the verification time ${isoSeconds(now)}`);
    if (now > qi.nextUpdate) fail("QE_IDENTITY_EXPIRED", `qe_identity expired at nextUpdate ${qi.nextUpdateText} (verification time ${isoSeconds(now)})`);
    return [qi, `${qi.id} v${qi.version}, ${qi.issueDateText} … ${qi.nextUpdateText}`];
  });
  const qeSigner = steps.run("qe-identity.chain", "QE_IDENTITY_CHAIN_MALFORMED", () => {
    const certs = certsFromPem(c.qeIdentityIssuerChain, "qe_identity_issuer_chain", cache);
    if (!certs.length) fail("QE_IDENTITY_CHAIN_EMPTY", "qe_identity_issuer_chain has no certificate");
    const signer = verifyTcbSigningPath(certs, ctx, "QE_IDENTITY_CHAIN", "qe_identity_issuer_chain");
    return [signer, `${cnOf(signer)} ← ${cnOf(root)}; TCB Signing pin, valid, not revoked`];
  });
  steps.run("qe-identity.signature", "QE_IDENTITY_SIGNATURE_INVALID", () => {
    if (!verifyP256(qeSigner.spki, utf8Bytes(c.qeIdentity, cache), c.qeIdentitySignature, "raw", cache)) {
      fail("QE_IDENTITY_SIGNATURE_INVALID", `qe_identity_signature does not verify over qe_identity with the key of "${cnOf(qeSigner)}"`);
    }
    return [undefined, `signed by ${cnOf(qeSigner)}`];
  });
  steps.run("qe-identity.id", "QE_IDENTITY_MISMATCH", () => {
    const ok = tdx ? qeId.id === "TD_QE" && (qeId.version === 2 || qeId.version === 3) : qeId.id === "QE" && qeId.version === 2;
    if (!ok) fail("QE_IDENTITY_MISMATCH", `qe_identity is ${qeId.id} v${qeId.version}, a ${tdx ? "TDX quote needs TD_QE v2/v3" : "SGX quote needs QE v2"}`);
    return [undefined, `${qeId.id} v${qeId.version} matches a ${tdx ? "TDX" : "SGX"} quote`];
  });

  // 4. PCK chain, QE report, quote signature
  const { leaf } = pckChain(p, c, crls);
  const ext = steps.run("pck.extension", "PCK_SGX_EXTENSION_INVALID", () => {
    const e = memo(cache, "sgxext", bytesKey(leaf.der), () => parseSgxExtension(leaf));
    return [e, `FMSPC ${hx(e.fmspc).toUpperCase()}, PCE-ID ${hx(e.pceId)}, PCESVN ${e.pceSvn}, CPUSVN ${hx(e.cpuSvn)}`];
  });
  progress.pck = pckInfo(leaf, ext);
  qeAndQuoteSignatures(p, leaf);
  const qeStatus = steps.run("qe-identity.policy", "QE_IDENTITY_POLICY", () => {
    const s = checkQeIdentity(qeId, quote.qeReport);
    return [s, `QE ISVSVN ${quote.qeReport.isvSvn} → ${s.status}${s.advisoryIds.length ? ` ${s.advisoryIds.join(",")}` : ""}`];
  });
  quoteSignature(p);

  // 5. platform TCB
  steps.run("tcb.fmspc", "FMSPC_MISMATCH", () => {
    if (!bytesEqual(ext.fmspc, tcbInfo.fmspc)) fail("FMSPC_MISMATCH", `PCK FMSPC ${hx(ext.fmspc).toUpperCase()} differs from tcb_info's ${hx(tcbInfo.fmspc).toUpperCase()}`);
    // Intel's QVL also requires the PCE-ID to match (dcap-qvl does not compare it)
    if (!bytesEqual(ext.pceId, tcbInfo.pceId)) fail("PCEID_MISMATCH", `PCK PCE-ID ${hx(ext.pceId).toUpperCase()} differs from tcb_info's ${hx(tcbInfo.pceId).toUpperCase()}`);
    if (tdx && !(tcbInfo.id === "TDX" && tcbInfo.version >= 3)) fail("TCB_INFO_TEE_MISMATCH", `TDX quote with non-TDX TCB info (${tcbInfo.id} v${tcbInfo.version})`);
    if (!tdx && !(tcbInfo.id === "SGX" && tcbInfo.version >= 2)) fail("TCB_INFO_TEE_MISMATCH", `SGX quote with non-SGX TCB info (${tcbInfo.id} v${tcbInfo.version})`);
    return [undefined, `FMSPC ${hx(ext.fmspc).toUpperCase()} and PCE-ID ${hx(ext.pceId).toUpperCase()} match ${tcbInfo.id} TCB info`];
  });
  const teeTcbSvn = quote.body.type === "sgx" ? undefined : quote.body.teeTcbSvn;
  const level = steps.run("tcb.level", "TCB_LEVEL_NOT_FOUND", () => {
    const l = matchPlatformLevel(tcbInfo, ext.cpuSvn, ext.pceSvn, teeTcbSvn);
    return [l, `level ${l.tcbDate} → ${l.status}${l.advisoryIds.length ? ` ${l.advisoryIds.join(",")}` : ""}`];
  });
  let platform: StatusWithAdvisories = { status: level.status, advisoryIds: level.advisoryIds };
  if (quote.body.type !== "sgx") {
    const body = quote.body;
    platform = steps.run("tcb.tdx-module", "TDX_MODULE_INVALID", () => {
      const m = checkTdxModule(tcbInfo, body.teeTcbSvn, body.mrSignerSeam, body.seamAttributes);
      const merged = m ? convergeStatus(platform, m) : platform;
      return [merged, m ? `TDX module SVN ${body.teeTcbSvn[0]} (TDX_${hx(body.teeTcbSvn.subarray(1, 2)).toUpperCase()}) → ${m.status}` : "module MRSIGNER and attributes match; no module TCB levels"];
    });
  }
  const final = steps.run("tcb.status", "TCB_REVOKED", () => {
    const f = convergeStatus(platform, qeStatus);
    if (f.status === "Revoked") fail("TCB_REVOKED", "the TCB status is Revoked");
    return [f, `${f.status}${f.advisoryIds.length ? ` ${f.advisoryIds.join(",")}` : ""} (platform ${platform.status}, QE ${qeStatus.status})`];
  });

  progress.final = final;

  // 6. policy: accepted statuses and the report rules
  const rules = policyRules(quote.body, final.status, accept, opts);
  progress.rules = rules;
  reportPolicy(p, rules);
  const policy = policyVerdict(rules);

  const warnings: string[] = [];
  if (!p.genuine) warnings.push(`NOT GENUINE: verified against a non-Intel root "${nameToString(root.subject)}"`);
  if (quote.trailingBytes > 0) warnings.push(`${quote.trailingBytes} bytes after the signature data were ignored`);
  if (rules.some((r) => r.name === "td.sept-ve-disable" && r.detail.endsWith("(allowed by option)"))) {
    warnings.push("the TD's SEPT_VE_DISABLE attribute is clear (accepted by allowSeptVe): the TD may take #VE on EPT violations, not acceptable for a dstack KMS");
  }
  const rootCrl = crls[0]!.crl;
  const pckCrl = crls[1]!.crl;
  return {
    status: final.status as VerifiedQuote["status"],
    advisoryIds: final.advisoryIds,
    genuine: p.genuine,
    warnings,
    checks: steps.checks,
    report: reportToJson(quote.body),
    pck: progress.pck!,
    accepted: policy.ok,
    verification: { ok: true, status: final.status, advisoryIds: final.advisoryIds, genuine: p.genuine, checks: steps.checks.filter((x) => x.name !== "report.policy") },
    policy,
    platformStatus: platform,
    qeStatus,
    collateral: {
      tcbInfoIssueDate: tcbInfo.issueDateText,
      tcbInfoNextUpdate: tcbInfo.nextUpdateText,
      qeIdentityIssueDate: qeId.issueDateText,
      qeIdentityNextUpdate: qeId.nextUpdateText,
      pckCrlThisUpdate: isoSeconds(pckCrl.thisUpdate),
      pckCrlNextUpdate: isoSeconds(pckCrl.nextUpdate ?? 0),
      rootCaCrlThisUpdate: isoSeconds(rootCrl.thisUpdate),
      rootCaCrlNextUpdate: isoSeconds(rootCrl.nextUpdate ?? 0),
      earliestNextUpdate: isoSeconds(Math.min(tcbInfo.nextUpdate, qeId.nextUpdate, pckCrl.nextUpdate ?? 0, rootCrl.nextUpdate ?? 0)),
    },
  };
}

/** The failure result of `checkQuote`. */
export interface QuoteCheckFailure {
  ok: false;
  error: { code: string; message: string };
  checks: Check[];
  /** present when the quote parsed: Intel's verdict (`ok: true` when only the policy refused the quote) */
  verification?: VerificationVerdict;
  /** the policy's rules when only the policy refused the quote, null when the policy was not reached */
  policy?: PolicyVerdict | null;
  /** what was attested, when the quote parsed */
  report?: ReportJson;
  /** the PCK leaf's identity, when it was readable */
  pck?: PckInfoJson;
}

/** Like `verifyQuote` but never throws on bad data: returns the result or the error and the checks so far. */
export function checkQuote(quote: Uint8Array, opts: VerifyOptions): { ok: true; result: VerifiedQuote } | QuoteCheckFailure {
  try {
    return { ok: true, result: verifyQuote(quote, opts) };
  } catch (e) {
    if (e instanceof QuoteVerificationError) {
      return {
        ok: false,
        error: { code: e.code, message: e.message },
        checks: e.checks,
        ...(e.verification ? { verification: e.verification, policy: e.policy ?? null } : {}),
        ...(e.report ? { report: e.report } : {}),
        ...(e.pck ? { pck: e.pck } : {}),
      };
    }
    if (e instanceof KmsRegistryError) {
      return { ok: false, error: { code: e.code, message: e.message }, checks: e instanceof QuoteParseError ? [{ name: "quote.parse", ok: false, detail: e.message }] : [] };
    }
    return { ok: false, error: { code: "INTERNAL", message: e instanceof Error ? e.message : String(e) }, checks: [] };
  }
}

export interface SignatureCheckResult {
  genuine: boolean;
  checks: Check[];
  report: ReportJson;
  pck: PckInfoJson;
  /** hex of the attestation key (x‖y) */
  attestationKey: Hex;
}

/**
 * Collateral-free checks: parse, header, the PCK chain's signatures and validity at `now` up to the
 * root (no CRLs), the QE report signature and binding, and the quote signature. Useful when no
 * collateral is at hand; it does not establish TCB status or revocation. Throws like `verifyQuote`.
 */
export function verifyQuoteSignatures(quoteInput: Uint8Array | Quote, opts: { now: number; rootCaDer?: Uint8Array; cache?: VerificationCache }): SignatureCheckResult {
  const p = prepare(quoteInput, opts);
  const { leaf } = pckChain(p, undefined, undefined);
  const ext = p.steps.run("pck.extension", "PCK_SGX_EXTENSION_INVALID", () => {
    const e = parseSgxExtension(leaf);
    return [e, `FMSPC ${hx(e.fmspc).toUpperCase()}, PCE-ID ${hx(e.pceId)}, PCESVN ${e.pceSvn}`];
  });
  qeAndQuoteSignatures(p, leaf);
  quoteSignature(p);
  return { genuine: p.genuine, checks: p.steps.checks, report: reportToJson(p.quote.body), pck: pckInfo(leaf, ext), attestationKey: bytesToHex(p.quote.attestationKey) };
}
