/**
 * A KMS bootstrap whose attestation is not a TDX quote: the platform's evidence verified off chain with the
 * same shape of checks as the TDX path (`platform.*` for the evidence, `binding.*` for the keys):
 *  - nitro-enclave: the NSM document (COSE ES384, cabundle chain to AWS's pinned Root-G1, validity at the
 *    document's timestamp, which must not be after `now`), the debug-mode rule, user_data = the attestation's
 *    report_data, the config's os_image_hash = SHA-256(PCR0 ‖ PCR1 ‖ PCR2), then report_data binding the keys;
 *  - sev-snp: the report signed by its VCEK (from the attestation's cert_chain, else AMD's KDS), VCEK ← ASK ←
 *    ARK (pinned), TCB and chip id, the CRL when given or fetched, the guest policy rules, then report_data (at
 *    0x50) binding the keys and equal to the attestation's; device_id = SHA-256(chip_id) as dstack has it;
 *  - anything else (aws-nitro-tpm, an unknown kind): `platform.supported` fails, naming the platform.
 */
import { bytesEqual, bytesToHex, type Hex } from "../core/bytes.js";
import { errorMessage, InputError, KmsRegistryError } from "../core/errors.js";
import type { Check } from "../dcap/types.js";
import { configOsImageHash, type DstackAttestation } from "../dstack/attestation.js";
import { checkKmsBinding, type BindingCheck } from "../dstack/binding.js";
import { dstackDeviceId } from "../dstack/measurement.js";
import { fetchAmdCrl, fetchCertChain, fetchVcek, snpProductOf } from "../dstack/platforms/amd-kds.js";
import { NitroVerificationError, verifyNitroDocument } from "../dstack/platforms/nitro-verify.js";
import { amdCertificatesFromFile, SnpVerificationError, sortAmdCertificates, verifySnpReport } from "../dstack/platforms/sev-snp-verify.js";
import { checkSnpHostData, snpMrAggregated, snpMrSystem } from "../dstack/platforms/mr-config.js";
import { parseSnpReport, snpReportJson, type SnpReport } from "../dstack/platforms/sev-snp.js";
import type { MeasuredValues } from "../dstack/policy.js";

export interface PlatformEvidenceOptions {
  now: number;
  allowDebug?: boolean;
  /** A test root for Nitro documents instead of AWS's pinned Root-G1 (the result is then not genuine). */
  nitroRootDer?: Uint8Array;
  /** SEV-SNP: a test ARK instead of AMD's pinned one (the result is then not genuine). */
  snpTestArkDer?: Uint8Array;
  /** SEV-SNP: CRLs (DER) to check the chain against (AMD's ARK CRL). */
  amdCrlDers?: Uint8Array[];
  /** SEV-SNP: fetch what the attestation does not carry (VCEK, chain, CRL) from this KDS. */
  kds?: { url: string; cacheDir?: string };
}

export interface PlatformEvidenceResult {
  platform: string;
  checks: Check[];
  warnings: string[];
  /** True only when the evidence chained to the platform vendor's pinned root. */
  genuine: boolean;
  /** What the platform attested (its report's fields), null when nothing verified. */
  report: Record<string, unknown> | null;
  binding: BindingCheck | null;
  measurements: Record<string, Hex | string | undefined> | null;
  /** The values a measurement policy is checked against. */
  measured: MeasuredValues;
}

function keyBinding(reportData: Uint8Array, caPubkey: Uint8Array, k256Pubkey: Uint8Array, checks: Check[], where: string): BindingCheck {
  const binding = checkKmsBinding(reportData, caPubkey, k256Pubkey);
  checks.push({ name: "binding.report-data", ok: binding.ok, detail: binding.ok ? `${where}: ${binding.detail}` : `${where}: ${binding.detail}: expected ${binding.expected}, found ${binding.found}` });
  return binding;
}

function verifyNitro(att: DstackAttestation, caPubkey: Uint8Array, k256Pubkey: Uint8Array, opts: PlatformEvidenceOptions): PlatformEvidenceResult {
  const out: PlatformEvidenceResult = { platform: "nitro-enclave", checks: [], warnings: [], genuine: false, report: null, binding: null, measurements: null, measured: {} };
  const osImageHash = configOsImageHash(att.config);
  try {
    const r = verifyNitroDocument(att.evidence, {
      ...(att.reportData ? { expectedUserData: att.reportData } : {}),
      ...(osImageHash !== undefined ? { configOsImageHash: osImageHash } : {}),
      ...(opts.allowDebug ? { allowDebug: true } : {}),
      ...(opts.nitroRootDer ? { rootDer: opts.nitroRootDer } : {}),
    });
    for (const c of r.verification.checks) out.checks.push({ name: `platform.${c.name}`, ok: c.ok, detail: c.detail });
    out.genuine = r.genuine;
    out.report = r.report;
    const stamped = Math.floor(r.document.timestamp / 1000);
    const future = stamped > opts.now + 300;
    out.checks.push({
      name: "platform.verified",
      ok: !future,
      detail: future
        ? `the document is stamped ${new Date(r.document.timestamp).toISOString()}, after the verification time ${new Date(opts.now * 1000).toISOString()}`
        : `AWS Nitro Enclave document chained to ${r.genuine ? "AWS's pinned Nitro Enclaves Root-G1" : "a NON-AWS root: NOT GENUINE"}, valid at its timestamp ${new Date(r.document.timestamp).toISOString()}`,
    });
    if (!future && opts.now - stamped > 3600) out.warnings.push(`nitro: the attestation document is ${Math.round((opts.now - stamped) / 3600)} h old (made at bootstrap; its signing certificate was checked at the document's timestamp)`);
    for (const rule of r.policy.rules) {
      const name = rule.name === "enclave.debug" ? "platform.enclave.debug" : rule.name === "config.os-image-hash" ? "attestation.os-image-hash" : rule.name;
      out.checks.push({ name, ok: rule.ok, detail: rule.detail });
    }
    out.measurements = { pcr0: r.report.pcr0 as Hex, pcr1: r.report.pcr1 as Hex, pcr2: r.report.pcr2 as Hex, osImageHash: String(r.report.osImageHash), moduleId: r.document.moduleId, reportData: att.reportData ? bytesToHex(att.reportData) : undefined };
    out.measured = { osImageHash: `0x${String(r.report.osImageHash)}` as Hex };
    // the keys are bound by what AWS signed: the document's user_data (dstack puts report_data there)
    const userData = r.document.userData;
    if (userData) out.binding = keyBinding(userData, caPubkey, k256Pubkey, out.checks, "the document's user_data");
    else out.checks.push({ name: "binding.report-data", ok: false, detail: "the document carries no user_data: nothing AWS signed binds the KMS keys" });
  } catch (e) {
    if (!(e instanceof NitroVerificationError)) throw e;
    for (const c of e.checks) out.checks.push({ name: `platform.${c.name}`, ok: c.ok, detail: c.detail });
    out.checks.push({ name: "platform.verified", ok: false, detail: `${e.code}: ${errorMessage(e)}` });
    out.report = e.report ?? null;
  }
  return out;
}

/** What AMD's KDS gave for an SNP report: the certificates and the CRL asked for, and what was fetched (for the trail). */
export interface SnpKdsFetch {
  vcek?: Uint8Array;
  ask?: Uint8Array;
  ark?: Uint8Array;
  crl?: Uint8Array;
  product: string;
  /** "VCEK", "cert_chain", "CRL": what was asked of the KDS (answered from its disk cache while valid). */
  fetched: string[];
}

/**
 * What an SNP attestation's cert_chain lacks, from AMD's KDS (cached on disk while valid): the VCEK of the
 * report's chip at its reported TCB, the product's ASK and ARK, and (`want.crl`) the ARK's CRL. Throws the KDS
 * client's `KDS_*` errors.
 */
export async function fetchSnpFromKds(report: SnpReport, have: { vcek?: boolean; ask?: boolean; crl?: boolean }, kds: { url: string; cacheDir?: string }, now: number): Promise<SnpKdsFetch> {
  const product = snpProductOf(report, undefined);
  const k = { kdsUrl: kds.url, now, ...(kds.cacheDir ? { cacheDir: kds.cacheDir } : {}) };
  const out: SnpKdsFetch = { product, fetched: [] };
  if (!have.vcek) {
    out.vcek = (await fetchVcek(product, report, k)).der;
    out.fetched.push("VCEK");
  }
  if (!have.ask) {
    const c = await fetchCertChain(product, k);
    out.ask = c.ask;
    out.ark = c.ark;
    out.fetched.push("cert_chain");
  }
  if (!have.crl) {
    out.crl = (await fetchAmdCrl(product, k)).der;
    out.fetched.push("CRL");
  }
  return out;
}

/** The VCEK, ASK and ARK an SNP attestation's cert_chain carries (DER or PEM entries, in any order). */
export function carriedAmdCertificates(att: DstackAttestation): { vcek?: Uint8Array; ask?: Uint8Array; ark?: Uint8Array } {
  const blobs = att.snp?.certChain ?? [];
  return blobs.length ? sortAmdCertificates(blobs.flatMap((c, i) => amdCertificatesFromFile(c, `the attestation's cert_chain ${i}`)), "the attestation's cert_chain") : {};
}

/** The VCEK, ASK, ARK and CRLs of an SNP attestation: carried in its cert_chain, given, or fetched from the KDS. */
async function snpCollateral(att: DstackAttestation, report: SnpReport, opts: PlatformEvidenceOptions, out: PlatformEvidenceResult): Promise<{ vcek?: Uint8Array; ask?: Uint8Array; ark?: Uint8Array; crls?: Uint8Array[] }> {
  const carried = carriedAmdCertificates(att);
  const got: { vcek?: Uint8Array; ask?: Uint8Array; ark?: Uint8Array; crls?: Uint8Array[] } = { ...carried, ...(opts.amdCrlDers ? { crls: opts.amdCrlDers } : {}) };
  if (!opts.kds) return got;
  const f = await fetchSnpFromKds(report, { vcek: !!got.vcek, ask: !!got.ask, crl: !!got.crls }, opts.kds, opts.now);
  if (f.vcek) got.vcek = f.vcek;
  if (f.ask) {
    got.ask = f.ask;
    got.ark = f.ark;
  }
  if (f.crl) got.crls = [f.crl];
  if (f.fetched.length) out.checks.push({ name: "platform.kds", ok: true, detail: `fetched ${f.fetched.join(", ")} of ${f.product} from ${opts.kds.url}` });
  return got;
}

async function verifySnp(att: DstackAttestation, caPubkey: Uint8Array, k256Pubkey: Uint8Array, opts: PlatformEvidenceOptions): Promise<PlatformEvidenceResult> {
  const out: PlatformEvidenceResult = { platform: "sev-snp", checks: [], warnings: [], genuine: false, report: null, binding: null, measurements: null, measured: {} };
  let report: SnpReport;
  try {
    report = parseSnpReport(att.evidence);
  } catch (e) {
    out.checks.push({ name: "platform.report.parse", ok: false, detail: errorMessage(e) });
    return out;
  }
  out.report = snpReportJson(report);
  let c: Awaited<ReturnType<typeof snpCollateral>>;
  try {
    c = await snpCollateral(att, report, opts, out);
  } catch (e) {
    if (!(e instanceof KmsRegistryError)) throw e;
    out.checks.push({ name: e.code.startsWith("KDS_") ? "platform.kds" : "platform.vcek", ok: false, detail: `${e.code}: ${errorMessage(e)}` });
    return out;
  }
  if (!c.vcek) {
    out.checks.push({ name: "platform.vcek", ok: false, detail: "SNP_VCEK_REQUIRED: the attestation's cert_chain carries no VCEK; verifying it needs the VCEK of its chip (--kds fetches it from AMD's KDS)" });
    return out;
  }
  try {
    const r = verifySnpReport(att.evidence, {
      vcekDer: c.vcek,
      now: opts.now,
      ...(c.ask ? { askDer: c.ask } : {}),
      ...(c.ark ? { arkDer: c.ark } : {}),
      ...(c.crls ? { crlDers: c.crls } : {}),
      ...(opts.snpTestArkDer ? { testArkDer: opts.snpTestArkDer } : {}),
      ...(opts.allowDebug ? { allowDebug: true } : {}),
    });
    for (const x of r.verification.checks) out.checks.push({ name: `platform.${x.name}`, ok: x.ok, detail: x.detail });
    out.checks.push({ name: "platform.verified", ok: true, detail: `SEV-SNP report (${r.product}) signed by its VCEK, chained to ${r.genuine ? `AMD's pinned ARK-${r.product}` : "a TEST ARK: NOT GENUINE"}` });
    for (const rule of r.policy.rules) out.checks.push({ name: `platform.${rule.name}`, ok: rule.ok, detail: rule.detail });
    if (!r.crl) out.warnings.push("sev-snp: revocation was not checked (no CRL: --amd-crl FILE or --kds)");
    out.genuine = r.genuine;
    out.report = { ...r.report, vcek: r.vcek, crl: r.crl, mrConfig: att.snp?.mrConfig ?? null };
  } catch (e) {
    if (!(e instanceof SnpVerificationError) && !(e instanceof InputError)) throw e;
    const checks = e instanceof SnpVerificationError ? e.checks : [{ name: "vcek.parse", ok: false, detail: errorMessage(e) }];
    for (const x of checks) out.checks.push({ name: `platform.${x.name}`, ok: x.ok, detail: x.detail });
    out.checks.push({ name: "platform.verified", ok: false, detail: `${e.code}: ${errorMessage(e)}` });
  }
  // report_data at 0x50, signed by the VCEK, binds the keys; the attestation's report_data must be it
  const same = att.reportData !== null && bytesEqual(att.reportData, report.reportData);
  out.checks.push({ name: "attestation.report-data", ok: same, detail: same ? "the attestation's report_data equals the SNP report's (0x50)" : "the attestation's report_data differs from the SNP report's (0x50)" });
  out.binding = keyBinding(report.reportData, caPubkey, k256Pubkey, out.checks, "the SNP report's report_data (0x50)");
  // HOST_DATA binds the MrConfig V3 document (app id, compose hash, key provider), as dstack checks it
  const hd = checkSnpHostData(att.snp?.mrConfig ?? "", report.hostData);
  out.checks.push({ name: "platform.snp.host-data", ok: hd.ok, detail: hd.detail });
  const deviceId = dstackDeviceId(Buffer.from(report.chipId.slice(2), "hex"));
  const mrAggregated = snpMrAggregated(report.measurement, report.hostData);
  out.measurements = {
    measurement: report.measurement,
    hostData: report.hostData,
    chipId: report.chipId,
    reportedTcb: `0x${report.reportedTcb.toString(16).padStart(16, "0")}`,
    reportData: bytesToHex(report.reportData),
    deviceId,
    mrSystem: snpMrSystem(report.measurement),
    mrAggregated,
    ...(hd.ok && hd.mrConfig ? { composeHash: hd.mrConfig.composeHash, ...(hd.mrConfig.appId ? { appId: hd.mrConfig.appId } : {}) } : {}),
  };
  // the app identity counts only when HOST_DATA binds the document it comes from
  out.measured = { deviceId, mrAggregated, ...(hd.ok && hd.mrConfig ? { composeHash: hd.mrConfig.composeHash, ...(hd.mrConfig.appId ? { appId: hd.mrConfig.appId } : {}) } : {}) };
  return out;
}

/** Verify a non-TDX attestation's evidence and its key binding; never throws for a failed check. */
export async function verifyPlatformEvidence(att: DstackAttestation, caPubkey: Uint8Array, k256Pubkey: Uint8Array, opts: PlatformEvidenceOptions): Promise<PlatformEvidenceResult> {
  if (att.platform === "nitro-enclave") return verifyNitro(att, caPubkey, k256Pubkey, opts);
  if (att.platform === "sev-snp") return verifySnp(att, caPubkey, k256Pubkey, opts);
  return {
    platform: att.platform,
    checks: [{ name: "platform.supported", ok: false, detail: `PLATFORM_NOT_SUPPORTED: the attestation is a ${att.platform} attestation; verifying ${att.platform} is not supported yet` }],
    warnings: [],
    genuine: false,
    report: att.reportData ? { reportData: bytesToHex(att.reportData) } : null,
    binding: null,
    measurements: null,
    measured: {},
  };
}
