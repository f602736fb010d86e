/**
 * DCAP quote verification, synchronous, with `node:crypto` for P-256.
 *
 * `verifyQuote` is a list of named steps, each recorded as a `Check` (name, ok, detail) in this order:
 *   quote.parse, quote.header, root-ca.crl, tcb-info.validity, tcb-info.chain, tcb-info.signature,
 *   qe-identity.validity, qe-identity.chain, qe-identity.signature, qe-identity.id, pck.chain,
 *   pck.extension, qe-report.signature, qe-report.binding, qe-identity.policy, quote.signature,
 *   tcb.fmspc, tcb.level, tcb.tdx-module, tcb.status, report.policy
 * The first failing step throws `QuoteVerificationError` with a stable `code` and `checks` = the
 * passed steps plus the failing one. All steps but `report.policy` are Intel's rules (the result's
 * `verification`); `report.policy` and the accepted TCB statuses are this verifier's policy (the
 * result's `policy`, one entry per rule).
 *
 * Stricter than dcap-qvl: `now` is a required whole number of seconds, CRL `thisUpdate` is checked,
 * `root_ca_crl` must be issued by the root and `pck_crl` by the PCK leaf's issuer, the QE report's
 * `report_data[32..64)` must be zero, and Intel's rules replace dcap-qvl's where they differ: the TDX
 * component skip and status convergence (see `tcb-policy.ts`), QE authentication data of any length
 * (dcap-qvl demands 32 bytes; Intel's verifier takes the declared length, and the SHA-256 binding
 * covers it either way), and the PCK's PCE-ID must equal the TCB info's `pceId` like its FMSPC
 * (dcap-qvl compares only the FMSPC).
 */
import { bytesEqual, bytesToHex, type Hex } from "../core/bytes.js";
import { errorMessage, KmsRegistryError, UsageError, VerificationError, type ErrorCode, type KmsRegistryErrorOptions } from "../core/errors.js";
import { isoSeconds, requireNow } from "../core/time.js";
import { createVerificationCache, type VerificationCache } from "./cache.js";
import type { NamedCrl, PathContext } from "./chain.js";
import { INTEL_SGX_ROOT_CA_DER } from "./intel-root.js";
import type { QeIdentity } from "./qe-identity.js";
import { asQuote, isParsedQuote, isTdxQuote, QuoteParseError, reportToJson, TEE_TYPE_TDX, type Quote } from "./quote.js";
import { parseSgxExtension, pckInfoJson } from "./sgx-extension.js";
import type { TcbInfo } from "./tcb-info.js";
import { acceptedStatuses, policyRules, policyVerdict, type PolicyRuleOutcome, type StatusWithAdvisories } from "./tcb-policy.js";
import type { Check, Collateral, PckInfoJson, PolicyVerdict, ReportJson, TcbStatus, VerificationVerdict, VerifiedQuote } from "./types.js";
import {
  checkCollateralCrls,
  checkPckChain,
  checkQeIdentityKind,
  checkQeReport,
  checkQeReportIdentity,
  checkQuoteHeader,
  checkQuoteSignature,
  checkReportPolicy,
  checkSignedDocument,
  checkTcbInfoPlatform,
  finalStatus,
  pckChainPem,
  platformStatus,
  qeIdentityDocument,
  readPckExtension,
  tcbInfoDocument,
  type Run,
  type StepRunner,
} from "./verify-steps.js";
import { cachedCertificate, cachedPemChain, nameToString } from "./x509.js";

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

/** The options of `verifyQuoteSignatures`: no collateral, so no TCB status and no revocation. */
export interface VerifyQuoteSignaturesOptions {
  /** unix seconds, required, a whole number */
  now: number;
  /** trust anchor (DER); default the pinned Intel SGX Root CA */
  rootCaDer?: Uint8Array;
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
  constructor(code: ErrorCode, message: string, checks: Check[], options?: KmsRegistryErrorOptions) {
    super(code, message, options);
    this.checks = checks;
  }
}

/** The options of `verifyQuote` (the quote is its first argument). */
export type VerifyQuoteParameters = VerifyOptions;
export type VerifyQuoteReturnType = VerifiedQuote;
/** What `verifyQuote` throws: a failed step, an undecodable quote, or unusable options. */
export type VerifyQuoteErrorType = QuoteVerificationError | QuoteParseError | UsageError;

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

/** The options of `checkQuote`, the same as `verifyQuote`'s. */
export type CheckQuoteParameters = VerifyOptions;
export type CheckQuoteReturnType = { ok: true; result: VerifiedQuote } | QuoteCheckFailure;
/** `checkQuote` never throws: every failure is a `QuoteCheckFailure`. */
export type CheckQuoteErrorType = never;

/** The result of the collateral-free checks (`verifyQuoteSignatures`). */
export interface QuoteSignatureCheck {
  genuine: boolean;
  checks: Check[];
  report: ReportJson;
  pck: PckInfoJson;
  /** hex of the attestation key (x‖y) */
  attestationKey: Hex;
}
/** @deprecated the earlier name of `QuoteSignatureCheck` */
export type SignatureCheckResult = QuoteSignatureCheck;

export type VerifyQuoteSignaturesParameters = VerifyQuoteSignaturesOptions;
export type VerifyQuoteSignaturesReturnType = QuoteSignatureCheck;
export type VerifyQuoteSignaturesErrorType = QuoteVerificationError | QuoteParseError | UsageError;

// ---------------------------------------------------------------------------------------------
// the public operations
// ---------------------------------------------------------------------------------------------

/**
 * Verify a quote (its bytes, or the `Quote` already parsed) against collateral at `now`. Returns the
 * status and report, or throws `QuoteVerificationError` (failing step), `QuoteParseError` (undecodable
 * quote) or `UsageError` (bad options).
 */
export function verifyQuote(quote: Uint8Array | Quote, opts: VerifyQuoteParameters): VerifyQuoteReturnType {
  const progress: Progress = {};
  try {
    return verifySteps(quote, opts, progress);
  } catch (e) {
    if (e instanceof QuoteVerificationError) annotate(e, opts, progress);
    throw e;
  }
}

/** Like `verifyQuote` but never throws on bad data: returns the result or the error and the checks so far. */
export function checkQuote(quote: Uint8Array | Quote, opts: CheckQuoteParameters): CheckQuoteReturnType {
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
    return { ok: false, error: { code: "INTERNAL", message: errorMessage(e) }, checks: [] };
  }
}

/**
 * Collateral-free checks: parse, header, the PCK chain's signatures and validity at `now` up to the
 * root (no CRLs), the QE report signature and binding, and the quote signature. Useful when no
 * collateral is at hand; it does not establish TCB status or revocation. Throws like `verifyQuote`.
 */
export function verifyQuoteSignatures(quote: Uint8Array | Quote, opts: VerifyQuoteSignaturesParameters): VerifyQuoteSignaturesReturnType {
  const run = startRun(quote, opts); // quote.parse
  checkQuoteHeader(run); // quote.header
  const leaf = checkPckChain(run, undefined); // pck.chain (no revocation)
  const pck = readPckExtension(run, leaf, false); // pck.extension
  checkQeReport(run, leaf); // qe-report.signature, qe-report.binding
  checkQuoteSignature(run); // quote.signature
  return { genuine: run.genuine, checks: run.steps.checks, report: reportToJson(run.quote.body), pck: pckInfoJson(leaf, pck), attestationKey: bytesToHex(run.quote.attestationKey) };
}

// ---------------------------------------------------------------------------------------------
// verifyQuote, step by step
// ---------------------------------------------------------------------------------------------

function verifySteps(quoteInput: Uint8Array | Quote, opts: VerifyOptions, progress: Progress): VerifiedQuote {
  const accept = acceptedStatuses(opts?.acceptStatuses);
  const run = (progress.run = startRun(quoteInput, opts)); // quote.parse
  checkQuoteHeader(run); // quote.header
  progress.genuine = run.genuine;
  const collateral = requireCollateral(opts.collateral);
  const crls = checkCollateralCrls(run, collateral); // root-ca.crl
  const ctx: PathContext = { root: run.root, now: run.now, cache: run.cache, crls };
  const tcbInfo = checkSignedDocument(run, ctx, tcbInfoDocument(collateral)); // tcb-info.validity, .chain, .signature
  const qeIdentity = checkSignedDocument(run, ctx, qeIdentityDocument(collateral)); // qe-identity.validity, .chain, .signature
  checkQeIdentityKind(run, qeIdentity); // qe-identity.id
  const leaf = checkPckChain(run, crls, collateral.pckCertificateChain); // pck.chain
  const pck = readPckExtension(run, leaf, true); // pck.extension
  progress.pck = pckInfoJson(leaf, pck);
  checkQeReport(run, leaf); // qe-report.signature, qe-report.binding
  const qeStatus = checkQeReportIdentity(run, qeIdentity); // qe-identity.policy
  checkQuoteSignature(run); // quote.signature
  checkTcbInfoPlatform(run, pck, tcbInfo); // tcb.fmspc
  const platform = platformStatus(run, pck, tcbInfo); // tcb.level, tcb.tdx-module
  const final = (progress.final = finalStatus(run, platform, qeStatus)); // tcb.status
  const rules = (progress.rules = policyRules(run.quote.body, final.status, accept, opts));
  checkReportPolicy(run, rules); // report.policy
  return verifiedQuote(run, { crls, tcbInfo, qeIdentity, pck: progress.pck, platform, qeStatus, final, rules });
}

/** The running steps and what they have recorded. */
class Steps implements StepRunner {
  readonly checks: Check[] = [];
  /** Run step `name`: `fn` returns its value and detail; a failure (code `malformedCode` for an input error) ends the verification. */
  run<T>(name: string, malformedCode: ErrorCode, fn: () => [T, string]): T {
    let out: [T, string];
    try {
      out = fn();
    } catch (e) {
      const message = errorMessage(e);
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

/** What `verifyQuote` learned before a step failed (`genuine` once the header was accepted). */
interface Progress {
  run?: Run;
  genuine?: boolean;
  pck?: PckInfoJson;
  final?: StatusWithAdvisories;
  rules?: PolicyRuleOutcome[];
}

/** The options checked, the root decoded, then the step `quote.parse`. */
function startRun(input: Uint8Array | Quote, opts: { rootCaDer?: Uint8Array; now: number; cache?: VerificationCache }): Run {
  if (typeof opts !== "object" || opts === null) throw new UsageError("verification options are required ({ collateral, now })");
  const now = requireNow(opts.now);
  const cache = opts.cache ?? createVerificationCache();
  const rootDer = opts.rootCaDer ?? INTEL_SGX_ROOT_CA_DER;
  if (!(rootDer instanceof Uint8Array)) throw new UsageError("rootCaDer must be a Uint8Array (DER)");
  const root = cachedCertificate(rootDer, "root CA certificate", cache);
  const steps = new Steps();
  const quote = parsedQuote(steps, input);
  return { quote, tdx: isTdxQuote(quote), root, genuine: bytesEqual(rootDer, INTEL_SGX_ROOT_CA_DER), now, cache, steps };
}

/** `quote.parse`: the quote parsed once (a `QuoteParseError` is left to the caller: `checkQuote` reports it as this step). */
function parsedQuote(steps: Steps, input: Uint8Array | Quote): Quote {
  if (!(input instanceof Uint8Array) && !isParsedQuote(input)) throw new UsageError("quote must be bytes or a parsed Quote");
  const quote = asQuote(input);
  const { version, teeType } = quote.header;
  steps.checks.push({
    name: "quote.parse",
    ok: true,
    detail: `v${version} ${teeType === TEE_TYPE_TDX ? "TDX" : "SGX"} quote, ${quote.body.type} body, signed length ${quote.signedLength}`,
  });
  return quote;
}

/** The collateral, checked at the edge: byte fields are bytes and text fields text (`UsageError`). */
function requireCollateral(c: Collateral): Collateral {
  if (typeof c !== "object" || c === null) throw new UsageError("collateral is required");
  for (const k of ["rootCaCrl", "pckCrl", "tcbInfoSignature", "qeIdentitySignature"] as const) {
    if (!(c[k] instanceof Uint8Array)) throw new UsageError(`collateral.${k} must be a Uint8Array (use parseCollateralJson for JSON)`);
  }
  for (const k of ["tcbInfoIssuerChain", "tcbInfo", "qeIdentityIssuerChain", "qeIdentity"] as const) {
    if (typeof c[k] !== "string") throw new UsageError(`collateral.${k} must be a string`);
  }
  if (c.pckCertificateChain !== undefined && typeof c.pckCertificateChain !== "string") throw new UsageError("collateral.pckCertificateChain must be a string");
  return c;
}

/** What the steps established, for the result. */
interface Established {
  crls: [NamedCrl, NamedCrl];
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  pck: PckInfoJson;
  platform: StatusWithAdvisories;
  qeStatus: StatusWithAdvisories;
  final: StatusWithAdvisories;
  rules: PolicyRuleOutcome[];
}

function verifiedQuote(run: Run, e: Established): VerifiedQuote {
  const { quote, steps, genuine, root } = run;
  const { final, tcbInfo, qeIdentity } = e;
  const policy = policyVerdict(e.rules);
  const warnings: string[] = [];
  if (!genuine) warnings.push(`NOT GENUINE: verified against a non-Intel root "${nameToString(root.subject)}"`);
  if (quote.trailingBytes > 0) warnings.push(`${quote.trailingBytes} bytes after the signature data were ignored`);
  if (e.rules.some((r) => r.name === "td.sept-ve-disable" && r.detail.endsWith("(allowed by option)"))) {
    warnings.push("the TD's SEPT_VE_DISABLE attribute is clear (accepted by allowSeptVe): the TD may take #VE on EPT violations, not acceptable for a dstack KMS");
  }
  const rootCrl = e.crls[0].crl;
  const pckCrl = e.crls[1].crl;
  return {
    status: final.status as VerifiedQuote["status"],
    advisoryIds: final.advisoryIds,
    genuine,
    warnings,
    checks: steps.checks,
    report: reportToJson(quote.body),
    pck: e.pck,
    accepted: policy.ok,
    verification: { ok: true, status: final.status, advisoryIds: final.advisoryIds, genuine, checks: steps.checks.filter((x) => x.name !== "report.policy") },
    policy,
    platformStatus: e.platform,
    qeStatus: e.qeStatus,
    collateral: {
      tcbInfoIssueDate: tcbInfo.issueDateText,
      tcbInfoNextUpdate: tcbInfo.nextUpdateText,
      qeIdentityIssueDate: qeIdentity.issueDateText,
      qeIdentityNextUpdate: qeIdentity.nextUpdateText,
      pckCrlThisUpdate: isoSeconds(pckCrl.thisUpdate),
      pckCrlNextUpdate: isoSeconds(pckCrl.nextUpdate ?? 0),
      rootCaCrlThisUpdate: isoSeconds(rootCrl.thisUpdate),
      rootCaCrlNextUpdate: isoSeconds(rootCrl.nextUpdate ?? 0),
      earliestNextUpdate: isoSeconds(Math.min(tcbInfo.nextUpdate, qeIdentity.nextUpdate, pckCrl.nextUpdate ?? 0, rootCrl.nextUpdate ?? 0)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// a failed verification: what was attested, and the two verdicts
// ---------------------------------------------------------------------------------------------

/** The PCK leaf's identity when it can be read (chain from the collateral or the quote), else undefined. */
function readablePck(quote: Quote, collateral: unknown): PckInfoJson | undefined {
  try {
    const override = typeof collateral === "object" && collateral !== null ? (collateral as Collateral).pckCertificateChain : undefined;
    const { pem } = pckChainPem(quote, typeof override === "string" ? override : undefined);
    const leaf = cachedPemChain(pem, "PCK chain", undefined)[0];
    return leaf ? pckInfoJson(leaf, parseSgxExtension(leaf)) : undefined;
  } catch {
    return undefined;
  }
}

/** Attach what was attested and the two verdicts to a `QuoteVerificationError` thrown after the quote parsed. */
function annotate(e: QuoteVerificationError, opts: VerifyOptions, progress: Progress): void {
  const quote = progress.run?.quote;
  if (!quote) return; // not parsed: nothing was attested
  e.report = reportToJson(quote.body);
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
