/**
 * The full re-verification of one registration, for every platform the registry records (`platforms.ts`),
 * with one verdict shape: what `audit --reverify`, the dashboard and `watch` report. Each case verifies a
 * registration from what the chain holds when it can (the collateral a TDX registration published, at its
 * block time; the VCEK, AMD chain and CRL an SEV-SNP registration published, at its block time; the document an
 * AWS Nitro Enclave registration registered, with its own certificate chain, at its timestamp), else from what the
 * caller gives (a TDX registration that published no collateral: the caller's `--collateral` / `--pccs`, at
 * the caller's time).
 */
import { bytesEqual, hexToBytes } from "../core/bytes.js";
import { KmsRegistryError, firstLine } from "../core/errors.js";
import type { VerificationCache } from "../dcap/cache.js";
import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import { parseQuote, QuoteParseError, type Quote } from "../dcap/quote.js";
import type { Check, Collateral, TcbStatus } from "../dcap/types.js";
import { checkQuote } from "../dcap/verify.js";
import { NitroVerificationError, verifyNitroDocument } from "../dstack/platforms/nitro-verify.js";
import { decodeNitroDocument, nitroReportJson } from "../dstack/platforms/nitro.js";
import { amdCertificatesFromFile, amdCrlsFromFile, SnpVerificationError, sortAmdCertificates, verifySnpReport } from "../dstack/platforms/sev-snp-verify.js";
import { parseSnpReport, snpReportJson } from "../dstack/platforms/sev-snp.js";
import type { SnpEvidence } from "./audit-state.js";
import { platformOfRegisteredQuote, type RegistryPlatform } from "./platforms.js";
import { fromOnChainCollateral, type OnChainCollateral } from "./verifier.js";

/** One registration as the registry's events hold it. */
export interface RegistrationEvidence {
  /** `KmsRegistered.quote`: a TDX quote, an SEV-SNP report or an AWS Nitro Enclave attestation document. */
  quote: Uint8Array;
  /** Unix seconds of the registration's block: the time it is verified at from chain data. */
  blockTimestamp: number;
  /** TDX: the collateral it published (`KmsCollateralPublished`). */
  collateral?: OnChainCollateral;
  /** SEV-SNP: the VCEK and AMD chain it published (`KmsSnpEvidencePublished`), and its CRL (`KmsSnpCrlPublished`). */
  snpEvidence?: SnpEvidence;
}

/** The collateral of the caller (`--collateral FILE` / `--pccs URL`), for a TDX registration that published none. */
export interface CollateralSourceHook {
  /** `--collateral` or `--pccs`: named in the verdict. */
  option: "collateral" | "pccs";
  /** The quote parsed and its collateral, or the quote's parse error (a failed verification of it). */
  load: (quote: Uint8Array, now: number) => Promise<{ quote: Quote; collateral: Collateral } | QuoteParseError>;
}

export interface ReverifyRegistrationOptions {
  /** `--root-ca`: a TDX root CA, an SEV-SNP test ARK or a Nitro test root, instead of the vendor's (the verdict is then not genuine). */
  rootCaDer?: Uint8Array;
  /** Accepted TCB statuses (TDX). */
  accept: readonly TcbStatus[];
  /** The caller's collateral; absent: a TDX registration without published collateral is not verified. */
  collateral?: CollateralSourceHook;
  /** The time (unix seconds) for a verification with the caller's collateral. Default now. */
  now?: () => number;
  cache?: VerificationCache;
}

/** The verdict of one registration's re-verification, the same shape for every platform. */
export interface RegistrationVerdict {
  platform: RegistryPlatform;
  ok: boolean;
  /** One line: the verdict and what it was verified with (the audit's `reverify` check detail). */
  summary: string;
  /** Whether a verification ran (false: nothing to verify it with). */
  ran: boolean;
  /**
   * The root trusted (TDX: Intel's, or `--root-ca`'s; compared with the on-chain verifier's): set when a TDX
   * verification ran.
   */
  root?: "intel" | "other";
  /** The chain ends at the vendor's pinned root (Intel's SGX Root CA, AMD's ARK); null when not established. */
  genuine: boolean | null;
  /** TDX: the TCB status found. */
  status: TcbStatus | null;
  /** The named steps, in order (the failing one last), then the policy rules. */
  steps: Check[];
  /** The platform's report fields (SEV-SNP: measurement, host_data, chip_id, reported TCB, …); null when not parsed. */
  report: Record<string, unknown> | null;
  /** Unix seconds the evidence used stops being valid (TDX: the collateral's earliest nextUpdate; SEV-SNP: the VCEK's notAfter; Nitro: null, its certificates are hours-long and checked at its own timestamp). */
  validUntil: number | null;
}

/** Why a TDX registration cannot be re-verified from the chain alone. */
export const NO_PUBLISHED_COLLATERAL = "no collateral was published on chain for this registration (no KmsCollateralPublished)";
/** Why an SEV-SNP registration cannot be re-verified from the chain alone. */
export const NO_PUBLISHED_SNP_EVIDENCE = "no VCEK and AMD chain were published on chain for this SEV-SNP registration (no KmsSnpEvidencePublished)";

const secondsOf = (iso: string): number | null => {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
};

/**
 * Re-verify one registration of `platform` (default: told by the quote's shape). Never throws on bad data:
 * an undecodable quote, unusable evidence or a failed step is a verdict with `ok` false naming it.
 */
export async function reverifyRegistration(platform: RegistryPlatform | undefined, reg: RegistrationEvidence, opts: ReverifyRegistrationOptions): Promise<RegistrationVerdict> {
  const p = platform ?? platformOfRegisteredQuote(reg.quote);
  switch (p) {
    case "tdx":
      return reverifyTdx(reg, opts);
    case "sev-snp":
      return reverifySnp(reg, opts);
    case "nitro-enclave":
      return reverifyNitro(reg, opts);
  }
}

/**
 * TDX: with the collateral the registration published, at its block time, under Intel's root (or `--root-ca`);
 * otherwise with the caller's collateral at the caller's time (the summary says no collateral was published).
 * Then the accepted statuses.
 */
async function reverifyTdx(reg: RegistrationEvidence, opts: ReverifyRegistrationOptions): Promise<RegistrationVerdict> {
  const root = opts.rootCaDer && !bytesEqual(opts.rootCaDer, INTEL_SGX_ROOT_CA_DER) ? "other" : "intel";
  const base = { platform: "tdx" as const, genuine: null, status: null, report: null, validUntil: null };
  const failed = (summary: string, steps: Check[] = []): RegistrationVerdict => ({ ...base, ok: false, summary, ran: true, root, steps });
  let quote: Quote;
  let collateral: Collateral;
  let now: number;
  let source: string;
  if (reg.collateral) {
    try {
      quote = parseQuote(reg.quote);
    } catch (e) {
      if (e instanceof QuoteParseError) return failed(`${e.code}: ${firstLine(e.message)}`, [{ name: "quote.parse", ok: false, detail: e.message }]);
      throw e;
    }
    try {
      collateral = fromOnChainCollateral(reg.collateral, opts.rootCaDer ?? INTEL_SGX_ROOT_CA_DER);
    } catch (e) {
      return failed(`the collateral published on chain is unusable: ${firstLine(e instanceof Error ? e.message : String(e))}`);
    }
    now = reg.blockTimestamp;
    source = `with the collateral published on chain, at the registration's block time ${now}`;
  } else {
    // no verification runs (nothing to compare with an on-chain verdict: no root)
    if (!opts.collateral) return { ...base, ok: false, ran: false, steps: [], summary: `${NO_PUBLISHED_COLLATERAL} and no --collateral FILE or --pccs URL was given` };
    const at = opts.now?.() ?? Math.floor(Date.now() / 1000);
    const parsed = await opts.collateral.load(reg.quote, at);
    if (parsed instanceof QuoteParseError) return failed(`${parsed.code}: ${firstLine(parsed.message)}`, [{ name: "quote.parse", ok: false, detail: parsed.message }]);
    ({ quote, collateral } = parsed);
    now = at;
    source = `${NO_PUBLISHED_COLLATERAL}; with --${opts.collateral.option}, at ${now}`;
  }
  const out = checkQuote(quote, { collateral, now, ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}) });
  if (!out.ok) {
    return { ...failed(`${out.error.code}: ${firstLine(out.error.message)} (${source})`, out.checks), genuine: out.verification?.genuine ?? null };
  }
  const r = out.result;
  const accepted = opts.accept.includes(r.status);
  const genuine = r.genuine ? "" : " (NOT GENUINE: non-Intel root)";
  return {
    platform: "tdx",
    ok: accepted,
    ran: true,
    root,
    genuine: r.genuine,
    status: r.status,
    summary: accepted ? `verified: ${r.status}${genuine} (${source})` : `verified but TCB status ${r.status} is not accepted (${opts.accept.join(", ")})${genuine} (${source})`,
    steps: r.checks,
    report: null,
    validUntil: secondsOf(r.collateral.earliestNextUpdate),
  };
}

/** A report's fields, or null when it does not decode (the verification then names why). */
function fieldsOrNull(read: () => Record<string, unknown>): Record<string, unknown> | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/**
 * SEV-SNP: the raw report of `KmsRegistered` with the VCEK and ASK/ARK chain of `KmsSnpEvidencePublished`, at
 * the registration's block time, to AMD's pinned ARK of the product (or the test ARK of `--root-ca`: NOT
 * GENUINE), then the guest policy rules. A chain that ends at another ARK than the pinned one is not genuine.
 * AMD's revocation of the ASK / VCEK is re-checked with the CRL of `KmsSnpCrlPublished` (the summary says when
 * none was published).
 */
function reverifySnp(reg: RegistrationEvidence, opts: ReverifyRegistrationOptions): RegistrationVerdict {
  const report = fieldsOrNull(() => snpReportJson(parseSnpReport(reg.quote)));
  const base = { platform: "sev-snp" as const, status: null, report, validUntil: null };
  const evidence = reg.snpEvidence;
  if (!evidence) return { ...base, ok: false, ran: false, genuine: null, summary: NO_PUBLISHED_SNP_EVIDENCE, steps: [] };
  const source = `with the VCEK and AMD chain published on chain, at the registration's block time ${reg.blockTimestamp}`;
  try {
    const chain = sortAmdCertificates(amdCertificatesFromFile(hexToBytes(evidence.amdChain, "amdChain"), "the published AMD chain"), "the published AMD chain");
    const vcek = amdCertificatesFromFile(hexToBytes(evidence.vcek, "vcek"), "the published VCEK");
    const crls = evidence.crl ? amdCrlsFromFile(hexToBytes(evidence.crl, "crl"), "the published AMD CRL") : undefined;
    const r = verifySnpReport(reg.quote, {
      vcekDer: vcek[0]!,
      now: reg.blockTimestamp,
      ...(chain.ask ? { askDer: chain.ask } : {}),
      ...(chain.ark ? { arkDer: chain.ark } : {}),
      ...(crls ? { crlDers: crls } : {}),
      ...(opts.rootCaDer ? { testArkDer: opts.rootCaDer } : {}),
    });
    const revocation = r.crl
      ? `; AMD revocation re-checked with the CRL published on chain (${r.crl.issuers.join(", ")}, next update ${r.crl.nextUpdate}): not revoked`
      : "; AMD revocation NOT re-checked: no CRL was published on chain for this registration (no KmsSnpCrlPublished)";
    const genuine = r.genuine ? `, chained to AMD's pinned ARK-${r.product}` : " (NOT GENUINE: test ARK, not AMD's)";
    const steps = [...r.verification.checks, ...r.policy.rules];
    const fields = { ...r.report, vcekNotAfter: r.vcek.notAfter };
    const validUntil = secondsOf(r.vcek.notAfter);
    if (!r.ok) {
      const refused = r.policy.rules.find((x) => !x.ok)!;
      return { ...base, report: fields, validUntil, ok: false, ran: true, genuine: r.genuine, steps, summary: `SEV-SNP report (${r.product}) verified${genuine}, but the guest policy is refused: ${refused.name}: ${refused.detail} (${source})` };
    }
    return { ...base, report: fields, validUntil, ok: true, ran: true, genuine: r.genuine, steps, summary: `verified: SEV-SNP report (${r.product}) signed by its VCEK${genuine}${revocation} (${source})` };
  } catch (e) {
    if (!(e instanceof KmsRegistryError)) throw e;
    const steps = e instanceof SnpVerificationError ? e.checks : [];
    // the chain ends at an ARK that is not the one trusted: not genuine (under AMD's pinned ARK), whatever else holds
    const genuine = e.code === "SNP_ARK_NOT_PINNED" && !opts.rootCaDer ? false : null;
    const withCrl = evidence.crl ? ", with the CRL published on chain" : "";
    return { ...base, report: (e instanceof SnpVerificationError ? e.report : undefined) ?? report, ok: false, ran: true, genuine, steps, summary: `${e.code}: ${firstLine(e.message)} (${source}${withCrl})` };
  }
}

/** How far a Nitro document's timestamp may be after the block that registered it (clock skew). */
const NITRO_CLOCK_SKEW_SECONDS = 300;

/**
 * AWS Nitro Enclave: the NSM attestation document of `KmsRegistered`, which carries its certificate chain: COSE
 * ES384, the cabundle to AWS's pinned Nitro Enclaves Root-G1 (or the test root of `--root-ca`: NOT GENUINE), every
 * certificate valid at the document's own timestamp, which must not be after the registration's block time; then
 * the debug-mode rule (a debug-mode enclave is refused).
 */
function reverifyNitro(reg: RegistrationEvidence, opts: ReverifyRegistrationOptions): RegistrationVerdict {
  const report = fieldsOrNull(() => nitroReportJson(decodeNitroDocument(reg.quote)));
  const base = { platform: "nitro-enclave" as const, status: null, report, validUntil: null };
  const source = "from the document registered on chain (its own certificate chain), at its timestamp";
  let r;
  try {
    r = verifyNitroDocument(reg.quote, opts.rootCaDer ? { rootDer: opts.rootCaDer } : {});
  } catch (e) {
    if (!(e instanceof KmsRegistryError)) throw e;
    const steps = e instanceof NitroVerificationError ? e.checks : [];
    const genuine = e.code === "NITRO_ROOT_NOT_PINNED" && !opts.rootCaDer ? false : null;
    return { ...base, ok: false, ran: true, genuine, steps, summary: `${e.code}: ${firstLine(e.message)} (${source})` };
  }
  const steps = [...r.verification.checks, ...r.policy.rules];
  const fields = r.report;
  const stamped = Math.floor(r.document.timestamp / 1000);
  const when = new Date(r.document.timestamp).toISOString();
  const verdict = { ...base, report: fields, ran: true, genuine: r.genuine, steps };
  if (stamped > reg.blockTimestamp + NITRO_CLOCK_SKEW_SECONDS) {
    return { ...verdict, ok: false, summary: `NITRO_TIMESTAMP_INVALID: the document is stamped ${when}, after the block that registered it (block time ${reg.blockTimestamp}) (${source})` };
  }
  const genuine = r.genuine ? ", chained to AWS's pinned Nitro Enclaves Root-G1" : " (NOT GENUINE: a test root, not AWS's)";
  const what = `AWS Nitro Enclave document of module ${r.document.moduleId} stamped ${when}, ES384 signature verified${genuine}`;
  if (!r.ok) {
    const refused = r.policy.rules.find((x) => !x.ok)!;
    return { ...verdict, ok: false, summary: `${what}, but the policy is refused: ${refused.name}: ${refused.detail} (${source})` };
  }
  return { ...verdict, ok: true, summary: `verified: ${what}; os_image_hash ${String(r.report.osImageHash)} (${source})` };
}
