/**
 * The whole verification of a KMS's bootstrap (`kms-registry verify`, and `publish` before it writes):
 *   (certs-dir checklist, when available) → quote verification (DCAP chain to the pinned root,
 *   collateral at `now`, accepted TCB status) → report_data binding of (ca_pubkey, k256_pubkey) →
 *   event-log replay of RTMR0–3 and decoded dstack runtime events
 * → one report with an overall verdict, every check, the KMS's Ethereum address and the measurements.
 * Never throws for a failed check; throws only for unusable options (e.g. a missing `now`).
 */
import { checkKmsBinding, type BindingCheck } from "../dstack/binding.js";
import { checkEventLog, derivedMeasurements, keyProviderPayload, type EventLogCheck } from "../dstack/eventlog.js";
import { parseQuote, type Quote, type TdReport10 } from "../dcap/quote.js";
import { DEFAULT_ACCEPTED_STATUSES, type Check, type Collateral, type PolicyVerdict, type TcbStatus, type VerificationVerdict, type VerifiedQuote } from "../dcap/types.js";
import { bytesEqual, bytesToHex, type Hex } from "../core/bytes.js";
import { UsageError } from "../core/errors.js";
import { ethAddress } from "../dstack/signatures.js";
import type { BootstrapInfo } from "./bootstrap.js";
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
}

export interface BootstrapReport {
  ok: boolean;
  verdict: "VERIFIED" | "REJECTED";
  /** true only when the quote chained to Intel's root. */
  genuine: boolean;
  /** Names of failed checks. */
  failed: string[];
  checks: Check[];
  kms: { caPubkey: Hex; k256Pubkey: Hex; address: Hex; format: BootstrapInfo["format"] };
  quote: {
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
  } | null;
  binding: BindingCheck | null;
  eventlog: EventLogCheck | null;
  measurements: Record<string, Hex | string | undefined> | null;
  certs: Checklist | null;
  problems: BootstrapInfo["problems"];
  warnings: string[];
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

function tdBody(q: Quote): TdReport10 | null {
  return q.body.type === "td10" || q.body.type === "td15" ? (q.body as TdReport10) : null;
}

export async function verifyBootstrap(info: BootstrapInfo, opts: VerifyBootstrapOptions): Promise<BootstrapReport> {
  if (typeof opts.now !== "number" || !Number.isSafeInteger(opts.now) || opts.now < 0) throw new UsageError(`now must be whole unix seconds, got ${String(opts.now)}`);
  const checks: Check[] = [...(opts.sourceChecks ?? [])];
  const warnings: string[] = [];
  const accepted = opts.acceptedStatuses ?? DEFAULT_ACCEPTED_STATUSES;
  const report: BootstrapReport = {
    ok: false,
    verdict: "REJECTED",
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

  // 0. decoding problems
  for (const p of info.problems) checks.push({ name: `bootstrap.${p.field}`, ok: false, detail: p.message });

  // 1. certs dir
  if (opts.certs) {
    for (const it of opts.certs.items) checks.push({ name: `certs.${it.name}`, ok: it.ok, detail: it.ok ? it.found : `expected ${it.expected}, found ${it.found}` });
  }

  // 2. quote
  let quote: Quote | null = null;
  let lastCollateral: Collateral | null = opts.collateral ?? null;
  if (!info.quote) {
    checks.push({ name: "quote.present", ok: false, detail: "the bootstrap info carries no quote" });
  } else {
    try {
      quote = parseQuote(info.quote);
      const td = tdBody(quote);
      checks.push({ name: "quote.present", ok: td !== null, detail: td ? `TDX v${quote.header.version} quote, ${info.quote.length} bytes` : "the quote is not a TDX quote" });
      if (!td) quote = null;
    } catch (e) {
      checks.push({ name: "quote.present", ok: false, detail: `the quote does not parse: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  if (quote && info.quote) {
    let collateral = opts.collateral ?? null;
    let collateralError: string | null = null;
    if (!collateral && opts.pccsUrl) {
      try {
        const { fetchCollateral } = await import("../dcap/pccs/fetch-collateral.js");
        collateral = await fetchCollateral(info.quote, { pccsUrl: opts.pccsUrl, now: opts.now, ...(opts.pccsCacheDir ? { cacheDir: opts.pccsCacheDir } : {}) });
      } catch (e) {
        collateralError = `collateral could not be fetched from ${opts.pccsUrl}: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    const q: NonNullable<BootstrapReport["quote"]> = {
      verified: false,
      status: null,
      advisoryIds: [],
      accepted: false,
      acceptedStatuses: accepted,
      error: null,
      genuine: false,
      warnings: [],
      collateral: null,
      pck: null,
      verification: null,
      policy: null,
    };
    report.quote = q;
    lastCollateral = collateral;
    if (!collateral) {
      const msg = collateralError ?? "no collateral: pass --collateral FILE or --pccs URL (for a simulated KMS: its <certs-dir>.sim/collateral.json)";
      q.error = { code: "NO_COLLATERAL", message: msg };
      checks.push({ name: "quote.verified", ok: false, detail: msg });
    } else {
      const { checkQuote } = await import("../dcap/verify.js");
      const out = checkQuote(info.quote, { collateral, now: opts.now, acceptStatuses: accepted, ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}), ...(opts.allowDebug ? { allowDebug: true } : {}) });
      if (out.ok) {
        const r = out.result;
        q.verified = true;
        q.status = r.status;
        q.advisoryIds = r.advisoryIds;
        q.genuine = r.genuine;
        q.warnings = r.warnings;
        q.collateral = r.collateral;
        q.pck = r.pck;
        q.accepted = accepted.includes(r.status);
        q.verification = r.verification;
        q.policy = r.policy;
        for (const c of r.checks) checks.push({ name: `quote.${c.name.replace(/^quote\./, "")}`, ok: c.ok, detail: c.detail });
        checks.push({
          name: "quote.verified",
          ok: true,
          detail: `DCAP chain to ${r.genuine ? "Intel's SGX Root CA" : "a NON-INTEL root (--root-ca): NOT GENUINE"}, collateral valid at ${new Date(opts.now * 1000).toISOString()}`,
        });
        checks.push({
          name: "quote.tcb-status",
          ok: q.accepted,
          detail: `${r.status}${r.advisoryIds.length ? ` [${r.advisoryIds.join(", ")}]` : ""}${q.accepted ? " (accepted)" : ` is not one of ${accepted.join(", ")}`}`,
        });
        for (const w of r.warnings) warnings.push(`quote: ${w}`);
      } else {
        q.error = out.error;
        q.pck = out.pck ?? null;
        q.verification = out.verification ?? null;
        q.policy = out.policy ?? null;
        for (const c of out.checks) checks.push({ name: `quote.${c.name.replace(/^quote\./, "")}`, ok: c.ok, detail: c.detail });
        const rootHint = out.error.code.includes("ROOT") || /root/i.test(out.error.message) ? (opts.rootCaDer ? "" : " (verified against Intel's SGX Root CA; a simulated KMS needs --root-ca with its simulated root)") : "";
        checks.push({ name: "quote.verified", ok: false, detail: `${out.error.code}: ${out.error.message.split("\n")[0]}${rootHint}` });
      }
    }
    report.genuine = q.genuine;
  }

  // 3. binding
  if (quote) {
    const td = tdBody(quote)!;
    report.binding = checkKmsBinding(td.reportData, info.caPubkey, info.k256Pubkey);
    checks.push({ name: "binding.report-data", ok: report.binding.ok, detail: report.binding.ok ? report.binding.detail : `${report.binding.detail}: expected ${report.binding.expected}, found ${report.binding.found}` });
    const att = info.decodedAttestation;
    if (att && att.reportData) {
      const same = bytesEqual(att.reportData, td.reportData);
      checks.push({ name: "attestation.report-data", ok: same, detail: same ? "the attestation's report_data equals the quote's" : "the attestation's report_data differs from the quote's" });
    }
  }

  // 4. event log
  if (quote) {
    const td = tdBody(quote)!;
    if (!info.eventLog) {
      if (opts.requireEventLog !== false) checks.push({ name: "eventlog.present", ok: false, detail: "no event log: RTMR3 (the KMS's app identity) cannot be checked" });
      else warnings.push("no event log: RTMR0–3 were not replayed");
    } else {
      const el = checkEventLog(info.eventLog, [td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3]);
      report.eventlog = el;
      checks.push({ name: "eventlog.present", ok: true, detail: `${el.eventCount} events, ${el.events.length} runtime events` });
      for (const r of el.registers) {
        checks.push({ name: `eventlog.rtmr${r.index}`, ok: r.match, detail: r.match ? `replayed = quote ${r.quote.slice(0, 18)}…` : `replayed ${r.replayed} ≠ quote ${r.quote}` });
      }
      for (const i of el.issues) {
        if (i.severity === "error") checks.push({ name: `eventlog.event${i.index}`, ok: false, detail: `${i.event}: ${i.detail}` });
        else warnings.push(`event log: event ${i.index} (${i.event}): ${i.detail}`);
      }
      const d = derivedMeasurements(td, keyProviderPayload(info.eventLog));
      report.measurements = {
        ...baseMeasurements(td),
        mrConfigId: bytesToHex(td.mrConfigId),
        mrOwner: bytesToHex(td.mrOwner),
        mrOwnerConfig: bytesToHex(td.mrOwnerConfig),
        mrSeam: bytesToHex(td.mrSeam),
        tdAttributes: bytesToHex(td.tdAttributes),
        xfam: bytesToHex(td.xfam),
        bootTimeRtmr3: el.bootTimeRtmr3,
        ...d,
        appId: el.runtime.appId,
        composeHash: el.runtime.composeHash,
        instanceId: el.runtime.instanceId,
        osImageHash: el.runtime.osImageHash,
        keyProvider: el.runtime.keyProvider ? (el.runtime.keyProvider.name ?? "?") + (el.runtime.keyProvider.id ? `:${el.runtime.keyProvider.id}` : "") : undefined,
      };
    }
    if (!report.measurements) {
      report.measurements = baseMeasurements(td);
    }
  }

  // 5. the RPC certificate's own attestation (RA-TLS), when we saw the certificate
  if (opts.rpcCertDer) {
    const { checkRpcCertAttestation } = await import("../dstack/ratls.js");
    const rc = await checkRpcCertAttestation(opts.rpcCertDer, {
      collateral: lastCollateral,
      now: opts.now,
      ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}),
      bootstrapQuote: info.quote,
    });
    if (rc.length === 1 && !rc[0]!.ok && /carries no attestation/.test(rc[0]!.detail)) warnings.push(`RPC certificate: ${rc[0]!.detail}`);
    else checks.push(...rc);
  }

  report.failed = checks.filter((c) => !c.ok).map((c) => c.name);
  report.ok = report.failed.length === 0;
  report.verdict = report.ok ? "VERIFIED" : "REJECTED";
  if (report.ok && !report.genuine) warnings.push("NOT GENUINE: the quote was verified against a non-Intel root CA; this says nothing about real TDX hardware");
  return report;
}
