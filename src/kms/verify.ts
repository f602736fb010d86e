/**
 * The whole verification of a KMS's bootstrap (`kms-registry verify`, and `publish` before it writes):
 *   (certs-dir checklist, when available) → quote verification (DCAP chain to the pinned root,
 *   collateral at `now`, accepted TCB status) → report_data binding of (ca_pubkey, k256_pubkey) →
 *   event-log replay of RTMR0–3 and decoded dstack runtime events
 * → one report with an overall verdict, every check, the KMS's Ethereum address and the measurements.
 * Never throws for a failed check; throws only for unusable options (e.g. a missing `now`).
 */
import { bytesEqual, bytesToHex, hexToBytes, type Hex } from "../core/bytes.js";
import { errorMessage, firstLine, UsageError } from "../core/errors.js";
import { fetchCollateral } from "../dcap/pccs/fetch-collateral.js";
import { parseQuote, type Quote, type TdReport10 } from "../dcap/quote.js";
import { DEFAULT_ACCEPTED_STATUSES, type Check, type Collateral, type PolicyVerdict, type TcbStatus, type VerificationVerdict, type VerifiedQuote } from "../dcap/types.js";
import { checkQuote, type QuoteCheckFailure } from "../dcap/verify.js";
import { checkKmsBinding, type BindingCheck } from "../dstack/binding.js";
import { checkEventLog, derivedMeasurements, keyProviderPayload, type EventLogCheck, type EventLogEntry, type RegisterCheck } from "../dstack/eventlog.js";
import { measuredValues } from "../dstack/measurement.js";
import { checkMeasurementPolicy, type MeasuredValues, type MeasurementPolicy } from "../dstack/policy.js";
import { checkRpcCert } from "../dstack/ratls.js";
import { ethAddress } from "../dstack/signatures.js";
import { configOsImageHash, type DstackAttestation } from "../dstack/attestation.js";
import type { BootstrapInfo } from "./bootstrap.js";
import { verifyPlatformEvidence } from "./platforms.js";
import type { Checklist } from "./certs-dir.js";

export interface VerifyBootstrapOptions {
  /** Collateral for the quote; if absent and `pccsUrl` is set it is fetched; if neither, the quote check fails with an explanation. */
  collateral?: Collateral | null;
  pccsUrl?: string;
  pccsCacheDir?: string;
  /** Unix seconds, required. */
  now: number;
  /** Trust anchor (DER); default Intel's SGX Root CA. Another root → `genuine: false`. */
  rootCaDer?: Uint8Array;
  /** Accepted TCB statuses (default UpToDate, SWHardeningNeeded). */
  acceptedStatuses?: readonly TcbStatus[];
  allowDebug?: boolean;
  /** The certs-dir checklist to fold into the verdict. */
  certs?: Checklist | null;
  /** Checks made while pulling (TLS pin, GetMeta cross-checks). */
  sourceChecks?: Check[];
  /** The KMS's RPC certificate (DER, e.g. `PullResult.tlsLeaf`): its RA-TLS attestation is checked when present. */
  rpcCertDer?: Uint8Array;
  /** Require an event log that replays (default true). */
  requireEventLog?: boolean;
  /**
   * The measurement policy (`--expect`): each rule is a check `expect.<field>`. It also accepts the
   * registers a lite event log does not cover (RTMR<i> pinned by `rtMr<i>` or by `mrAggregated`).
   */
  policy?: MeasurementPolicy;
  /** Nitro: a test root instead of AWS's pinned Nitro Enclaves Root-G1 (the result is then not genuine). */
  nitroRootDer?: Uint8Array;
  /** SEV-SNP: a test ARK instead of AMD's pinned one (the result is then not genuine). */
  snpTestArkDer?: Uint8Array;
  /** SEV-SNP: AMD CRLs (DER) to check the chain against. */
  amdCrlDers?: Uint8Array[];
  /** SEV-SNP: fetch the VCEK, chain and CRL the attestation does not carry from this KDS (cached in `cacheDir`). */
  kds?: { url: string; cacheDir?: string };
}

export interface BootstrapReport {
  ok: boolean;
  verdict: "VERIFIED" | "REJECTED";
  /** The attestation's platform (`tdx` for a legacy quote). */
  platform: string;
  /** A non-TDX platform's verified report (its fields), null for TDX. */
  platformReport: Record<string, unknown> | null;
  /** true only when the quote chained to Intel's root (for another platform: to its vendor's pinned root). */
  genuine: boolean;
  /** Names of failed checks. */
  failed: string[];
  checks: Check[];
  kms: { caPubkey: Hex; k256Pubkey: Hex; address: Hex; format: BootstrapInfo["format"] };
  quote: QuoteSummary | null;
  binding: BindingCheck | null;
  eventlog: EventLogCheck | null;
  measurements: Record<string, Hex | string | undefined> | null;
  certs: Checklist | null;
  problems: BootstrapInfo["problems"];
  warnings: string[];
  /** Only with a measurement policy: the policy and the values it was checked against. */
  expect?: { policy: MeasurementPolicy; measured: MeasuredValues };
}

/** What the report says about the quote's verification. */
export interface QuoteSummary {
    verified: boolean;
    status: string | null;
    advisoryIds: string[];
    accepted: boolean;
    acceptedStatuses: readonly string[];
    error: { code: string; message: string } | null;
    genuine: boolean;
    warnings: string[];
    collateral: VerifiedQuote["collateral"] | null;
    pck: VerifiedQuote["pck"] | null;
    /** Intel's verdict on the quote (null when it did not parse or had no collateral) */
    verification: VerificationVerdict | null;
    /** the acceptance policy's rules (strict: SEPT_VE_DISABLE required); null when the policy was not reached */
    policy: PolicyVerdict | null;
}

/** The state the steps share: the report they fill in, and what one step hands to the next. */
interface Verification {
  info: BootstrapInfo;
  opts: VerifyBootstrapOptions;
  accepted: readonly TcbStatus[];
  report: BootstrapReport;
  checks: Check[];
  warnings: string[];
  /** The quote, parsed once, when it is a TDX quote; the later steps take it from here. */
  quote: Quote | null;
  /** Its TD report: the binding and event-log steps need it. */
  td: TdReport10 | null;
  /** The collateral the quote was verified with (given or fetched); the RPC certificate's quote uses it too. */
  collateral: Collateral | null;
  /** Another platform's values for the measurement policy. */
  otherMeasured?: MeasuredValues;
}

type Step = (v: Verification) => void | Promise<void>;

/** The steps, in the order their checks appear in the report. */
const STEPS: Step[] = [recordDecodingProblems, foldCertsChecklist, parseBootstrapQuote, verifyBootstrapQuote, checkReportDataBinding, replayEventLog, checkVmConfigOsImage, checkOtherPlatform, checkExpectedMeasurements, checkRpcCertificate];

export async function verifyBootstrap(info: BootstrapInfo, opts: VerifyBootstrapOptions): Promise<BootstrapReport> {
  if (typeof opts.now !== "number" || !Number.isSafeInteger(opts.now) || opts.now < 0) throw new UsageError(`now must be whole unix seconds, got ${String(opts.now)}`);
  const v = startVerification(info, opts);
  for (const step of STEPS) await step(v);
  return conclude(v.report);
}

function startVerification(info: BootstrapInfo, opts: VerifyBootstrapOptions): Verification {
  const checks: Check[] = [...(opts.sourceChecks ?? [])];
  const warnings: string[] = [];
  const report: BootstrapReport = {
    ok: false,
    verdict: "REJECTED",
    platform: info.decodedAttestation?.platform ?? "tdx",
    platformReport: null,
    genuine: false,
    failed: [],
    checks,
    kms: { caPubkey: bytesToHex(info.caPubkey), k256Pubkey: bytesToHex(info.k256Pubkey), address: ethAddress(info.k256Pubkey), format: info.format },
    quote: null,
    binding: null,
    eventlog: null,
    measurements: null,
    certs: opts.certs ?? null,
    problems: info.problems,
    warnings,
  };
  return { info, opts, accepted: opts.acceptedStatuses ?? DEFAULT_ACCEPTED_STATUSES, report, checks, warnings, quote: null, td: null, collateral: opts.collateral ?? null };
}

/** The verdict: every check passed. */
function conclude(report: BootstrapReport): BootstrapReport {
  report.failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
  report.ok = report.failed.length === 0;
  report.verdict = report.ok ? "VERIFIED" : "REJECTED";
  if (report.ok && !report.genuine) report.warnings.push(report.platform === "tdx" || report.platform === "gcp-tdx" ? "NOT GENUINE: the quote was verified against a non-Intel root CA; this says nothing about real TDX hardware" : `NOT GENUINE: the ${report.platform} evidence was verified against a test root, not its vendor's; this says nothing about real hardware`);
  return report;
}

/** `bootstrap.<field>`: a quote or event log that did not decode fails the verification. */
function recordDecodingProblems({ info, checks }: Verification): void {
  for (const p of info.problems) checks.push({ name: `bootstrap.${p.field}`, ok: false, detail: p.message });
}

/** `certs.<item>`: the certs-dir checklist, when there is one. */
function foldCertsChecklist({ opts, checks }: Verification): void {
  for (const it of opts.certs?.items ?? []) checks.push({ name: `certs.${it.name}`, ok: it.ok, detail: it.ok ? it.found : `expected ${it.expected}, found ${it.found}` });
}

/** `quote.present`: the bootstrap info carries a TDX quote. */
function parseBootstrapQuote(v: Verification): void {
  const bytes = v.info.quote;
  if (!bytes) {
    if (otherPlatform(v.info)) return; // its evidence is checked by checkOtherPlatform
    v.checks.push({ name: "quote.present", ok: false, detail: "the bootstrap info carries no quote" });
    return;
  }
  let quote: Quote;
  try {
    quote = parseQuote(bytes);
  } catch (e) {
    v.checks.push({ name: "quote.present", ok: false, detail: `the quote does not parse: ${errorMessage(e)}` });
    return;
  }
  v.td = tdBody(quote);
  if (v.td) v.quote = quote;
  v.checks.push({ name: "quote.present", ok: v.td !== null, detail: v.td ? `TDX v${quote.header.version} quote, ${bytes.length} bytes` : "the quote is not a TDX quote" });
}

function tdBody(q: Quote): TdReport10 | null {
  return q.body.type === "td10" || q.body.type === "td15" ? (q.body as TdReport10) : null;
}

/** `quote.*` (the DCAP checks), `quote.verified` and `quote.tcb-status`: the quote verifies with collateral at `now` and its TCB status is accepted. */
async function verifyBootstrapQuote(v: Verification): Promise<void> {
  const { quote } = v;
  if (!quote) return;
  const { collateral, error: collateralError } = await collateralFor(quote, v.opts);
  const q: QuoteSummary = {
    verified: false,
    status: null,
    advisoryIds: [],
    accepted: false,
    acceptedStatuses: v.accepted,
    error: null,
    genuine: false,
    warnings: [],
    collateral: null,
    pck: null,
    verification: null,
    policy: null,
  };
  v.report.quote = q;
  v.collateral = collateral;
  if (!collateral) {
    const msg = collateralError ?? "no collateral: pass --collateral FILE or --pccs URL (for a simulated KMS: its <certs-dir>.sim/collateral.json)";
    q.error = { code: "NO_COLLATERAL", message: msg };
    v.checks.push({ name: "quote.verified", ok: false, detail: msg });
  } else {
    const { opts } = v;
    const out = checkQuote(quote, { collateral, now: opts.now, acceptStatuses: v.accepted, ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}), ...(opts.allowDebug ? { allowDebug: true } : {}) });
    if (out.ok) recordVerifiedQuote(v, q, out.result);
    else recordRejectedQuote(v, q, out);
  }
  v.report.genuine = q.genuine;
  reportTpmQuote(v);
}

/** gcp-tdx: its TDX quote is verified like any TDX quote; the TPM quote beside it is reported, not verified. */
function reportTpmQuote(v: Verification): void {
  const att = v.info.decodedAttestation;
  if (att?.platform !== "gcp-tdx") return;
  const t = att.tpmQuote;
  v.report.platformReport = { tpmQuote: t ? { present: true, verified: false, pcrs: t.pcrValues.map((p) => p.index), akCertLength: t.akCert.length } : { present: false } };
  v.warnings.push(t ? `gcp-tdx: the attestation carries a TPM quote (PCRs ${t.pcrValues.map((p) => p.index).join(", ") || "none"}); it was NOT verified (only the TDX quote is)` : "gcp-tdx: the attestation carries no TPM quote");
}

/** The given collateral, else the one fetched from the PCCS; null (with the reason when a fetch failed) when there is none. */
async function collateralFor(quote: Quote, opts: VerifyBootstrapOptions): Promise<{ collateral: Collateral | null; error: string | null }> {
  if (opts.collateral || !opts.pccsUrl) return { collateral: opts.collateral ?? null, error: null };
  try {
    return { collateral: await fetchCollateral(quote, { pccsUrl: opts.pccsUrl, now: opts.now, ...(opts.pccsCacheDir ? { cacheDir: opts.pccsCacheDir } : {}) }), error: null };
  } catch (e) {
    return { collateral: null, error: `collateral could not be fetched from ${opts.pccsUrl}: ${errorMessage(e)}` };
  }
}

function pushQuoteChecks(checks: Check[], dcapChecks: Check[]): void {
  for (const c of dcapChecks) checks.push({ name: `quote.${c.name.replace(/^quote\./, "")}`, ok: c.ok, detail: c.detail });
}

function recordVerifiedQuote(v: Verification, q: QuoteSummary, r: VerifiedQuote): void {
  q.verified = true;
  q.status = r.status;
  q.advisoryIds = r.advisoryIds;
  q.genuine = r.genuine;
  q.warnings = r.warnings;
  q.collateral = r.collateral;
  q.pck = r.pck;
  q.accepted = v.accepted.includes(r.status);
  q.verification = r.verification;
  q.policy = r.policy;
  pushQuoteChecks(v.checks, r.checks);
  v.checks.push({
    name: "quote.verified",
    ok: true,
    detail: `DCAP chain to ${r.genuine ? "Intel's SGX Root CA" : "a NON-INTEL root (--root-ca): NOT GENUINE"}, collateral valid at ${new Date(v.opts.now * 1000).toISOString()}`,
  });
  v.checks.push({
    name: "quote.tcb-status",
    ok: q.accepted,
    detail: `${r.status}${r.advisoryIds.length ? ` [${r.advisoryIds.join(", ")}]` : ""}${q.accepted ? " (accepted)" : ` is not one of ${v.accepted.join(", ")}`}`,
  });
  for (const w of r.warnings) v.warnings.push(`quote: ${w}`);
}

function recordRejectedQuote(v: Verification, q: QuoteSummary, out: QuoteCheckFailure): void {
  q.error = out.error;
  q.pck = out.pck ?? null;
  q.verification = out.verification ?? null;
  q.policy = out.policy ?? null;
  pushQuoteChecks(v.checks, out.checks);
  const rootHint = isTrustRootFailure(out.error.code) && !v.opts.rootCaDer ? " (verified against Intel's SGX Root CA; a simulated KMS needs --root-ca with its simulated root)" : "";
  v.checks.push({ name: "quote.verified", ok: false, detail: `${out.error.code}: ${firstLine(out.error.message)}${rootHint}` });
}

/**
 * The quote's certificates or signed collateral do not lead to the trust root in use: a root CA or root CRL
 * failure, an issuer found nowhere on the way to the root, a signature that does not verify on that way,
 * or a TCB signer / PCK CA that is not the root's. (A simulated KMS checked against Intel's root fails so.)
 */
function isTrustRootFailure(code: string): boolean {
  return code.includes("ROOT") || code.endsWith("_ISSUER_UNKNOWN") || code.endsWith("_CERT_SIGNATURE_INVALID") || code === "TCB_SIGNER_NOT_TCB_SIGNING" || code === "PCK_ISSUER_NOT_PCK_CA";
}

/** `binding.report-data` (and `attestation.report-data`): the quote's report_data binds (ca_pubkey, k256_pubkey). */
function checkReportDataBinding(v: Verification): void {
  const { td, info, checks } = v;
  if (!td) return;
  const binding = checkKmsBinding(td.reportData, info.caPubkey, info.k256Pubkey);
  v.report.binding = binding;
  checks.push({ name: "binding.report-data", ok: binding.ok, detail: binding.ok ? binding.detail : `${binding.detail}: expected ${binding.expected}, found ${binding.found}` });
  const att = info.decodedAttestation;
  if (att && att.reportData) {
    const same = bytesEqual(att.reportData, td.reportData);
    checks.push({ name: "attestation.report-data", ok: same, detail: same ? "the attestation's report_data equals the quote's" : "the attestation's report_data differs from the quote's" });
  }
}

/** `eventlog.present`, `eventlog.rtmr<i>`, `eventlog.event<i>`: the event log replays to the quote's RTMR0–3; the measurements. */
function replayEventLog(v: Verification): void {
  const { td, info, checks, warnings } = v;
  if (!td) return;
  if (!info.eventLog) {
    if (v.opts.requireEventLog !== false) checks.push({ name: "eventlog.present", ok: false, detail: "no event log: RTMR3 (the KMS's app identity) cannot be checked" });
    else warnings.push("no event log: RTMR0–3 were not replayed");
    v.report.measurements = baseMeasurements(td);
    return;
  }
  const el = checkEventLog(info.eventLog, [td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3]);
  v.report.eventlog = el;
  checks.push({ name: "eventlog.present", ok: true, detail: `${el.eventCount} events, ${el.events.length} runtime events` });
  for (const r of el.registers) checks.push(registerCheck(r, v.opts.policy));
  for (const i of el.issues) {
    if (i.severity === "error") checks.push({ name: `eventlog.event${i.index}`, ok: false, detail: `${i.event}: ${i.detail}` });
    else warnings.push(`event log: event ${i.index} (${i.event}): ${i.detail}`);
  }
  v.report.measurements = fullMeasurements(td, el, info.eventLog);
}

/**
 * `eventlog.rtmr<i>`: replayed and equal to the quote (passes), replayed and different (fails), or not covered
 * by a lite log: passes only when the measurement policy pins that register (its `rtMr<i>` or `mrAggregated`).
 */
function registerCheck(r: RegisterCheck, policy: MeasurementPolicy | undefined): Check {
  const name = `eventlog.rtmr${r.index}`;
  if (r.coverage === "replayed-matches") return { name, ok: true, detail: `replayed = quote ${r.quote.slice(0, 18)}…` };
  if (r.coverage === "replayed-differs") return { name, ok: false, detail: `replayed ${r.replayed} ≠ quote ${r.quote}` };
  const field = `rtMr${r.index}` as "rtMr0" | "rtMr1" | "rtMr2";
  const pinnedBy = policy?.[field] ? `--expect ${field}` : policy?.mrAggregated ? "--expect mrAggregated" : null;
  const what = `not covered by this lite event log (only RTMR0's ACPI events and the runtime events): RTMR${r.index} ${r.quote.slice(0, 18)}… is covered by the OS image measurement`;
  return { name, ok: pinnedBy !== null, detail: pinnedBy ? `${what}; accepted by ${pinnedBy}` : `${what}; pin it with --expect (${field} or mrAggregated)` };
}

/**
 * `attestation.os-image-hash`: a TDX attestation's vm_config (its `config`) names the OS image; the
 * `os-image-hash` runtime event (measured into RTMR3) must name the same one. A difference is a finding: the
 * config an operator or a policy reads is not the image that booted.
 */
function checkVmConfigOsImage(v: Verification): void {
  const att = v.info.decodedAttestation;
  if (!v.td || !att?.quote) return;
  const stated = configOsImageHash(att.config);
  const event = v.report.eventlog?.runtime.osImageHash;
  if (stated === undefined || event === undefined) return;
  const same = event.slice(2).toLowerCase() === stated;
  v.checks.push({
    name: "attestation.os-image-hash",
    ok: same,
    detail: same
      ? `the os-image-hash runtime event (RTMR3) equals the vm_config's os_image_hash ${stated}`
      : `OS image discrepancy: the os-image-hash runtime event (RTMR3) ${event} is not the vm_config's os_image_hash 0x${stated} (the attestation's config names another image than the one measured)`,
  });
}

/** The decoded attestation when its platform carries no TDX quote (SEV-SNP, Nitro, …). */
function otherPlatform(info: BootstrapInfo): DstackAttestation | null {
  const a = info.decodedAttestation;
  return a && !a.quote ? a : null;
}

/** `platform.*`, `binding.*`: a non-TDX attestation's evidence, its policy and its key binding. */
async function checkOtherPlatform(v: Verification): Promise<void> {
  const att = otherPlatform(v.info);
  if (!att) return;
  const { opts } = v;
  const r = await verifyPlatformEvidence(att, v.info.caPubkey, v.info.k256Pubkey, {
    now: opts.now,
    ...(opts.allowDebug ? { allowDebug: true } : {}),
    ...(opts.nitroRootDer ? { nitroRootDer: opts.nitroRootDer } : {}),
    ...(opts.snpTestArkDer ? { snpTestArkDer: opts.snpTestArkDer } : {}),
    ...(opts.amdCrlDers ? { amdCrlDers: opts.amdCrlDers } : {}),
    ...(opts.kds ? { kds: opts.kds } : {}),
  });
  v.checks.push(...r.checks);
  v.warnings.push(...r.warnings);
  v.report.genuine = r.genuine;
  v.report.platformReport = r.report;
  v.report.binding = r.binding;
  v.report.measurements = r.measurements;
  v.otherMeasured = r.measured;
}

/** `expect.<field>`: each rule of the measurement policy, when one is given. */
function checkExpectedMeasurements(v: Verification): void {
  const { policy } = v.opts;
  if (!policy) return;
  const ppid = v.report.quote?.pck?.ppid;
  const measured: MeasuredValues = v.td ? measuredValues(v.td, v.info.eventLog ?? null, ppid ? hexToBytes(ppid, "PPID") : undefined) : (v.otherMeasured ?? {});
  v.report.expect = { policy, measured };
  v.checks.push(...checkMeasurementPolicy(policy, measured));
}

/** The measurements every report carries: MRTD, RTMR0–3, report_data. */
function baseMeasurements(td: TdReport10): Record<string, Hex> {
  return {
    mrTd: bytesToHex(td.mrTd),
    rtMr0: bytesToHex(td.rtMr0),
    rtMr1: bytesToHex(td.rtMr1),
    rtMr2: bytesToHex(td.rtMr2),
    rtMr3: bytesToHex(td.rtMr3),
    reportData: bytesToHex(td.reportData),
  };
}

/** With an event log: the other TD report fields, the boot-time RTMR3, dstack's derived measurements and the runtime identity. */
function fullMeasurements(td: TdReport10, el: EventLogCheck, eventLog: EventLogEntry[]): Record<string, Hex | string | undefined> {
  const kp = el.runtime.keyProvider;
  return {
    ...baseMeasurements(td),
    mrConfigId: bytesToHex(td.mrConfigId),
    mrOwner: bytesToHex(td.mrOwner),
    mrOwnerConfig: bytesToHex(td.mrOwnerConfig),
    mrSeam: bytesToHex(td.mrSeam),
    tdAttributes: bytesToHex(td.tdAttributes),
    xfam: bytesToHex(td.xfam),
    bootTimeRtmr3: el.bootTimeRtmr3,
    ...derivedMeasurements(td, keyProviderPayload(eventLog)),
    appId: el.runtime.appId,
    composeHash: el.runtime.composeHash,
    instanceId: el.runtime.instanceId,
    osImageHash: el.runtime.osImageHash,
    keyProvider: kp ? (kp.name ?? "?") + (kp.id ? `:${kp.id}` : "") : undefined,
  };
}

/** `rpc-cert.*`: the RPC certificate's own attestation (RA-TLS), when the certificate was seen; one without any is a warning. */
function checkRpcCertificate(v: Verification): void {
  const { opts } = v;
  if (!opts.rpcCertDer) return;
  const rc = checkRpcCert(opts.rpcCertDer, { collateral: v.collateral, now: opts.now, ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}), bootstrapQuote: v.quote ?? v.info.quote });
  if (!rc.attested) v.warnings.push(`RPC certificate: ${rc.checks[0]!.detail}`);
  else v.checks.push(...rc.checks);
}
