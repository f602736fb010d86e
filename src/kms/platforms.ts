/**
 * A KMS bootstrap whose attestation is not a TDX quote: the platform's evidence verified off chain with the
 * same shape of checks as the TDX path (`platform.*` for the evidence, `binding.*` for the keys):
 *  - nitro-enclave: the NSM document (COSE ES384, cabundle chain to AWS's pinned Root-G1, validity at the
 *    document's timestamp, which must not be after `now`), the debug-mode rule, user_data = the attestation's
 *    report_data, the config's os_image_hash = SHA-256(PCR0 ‖ PCR1 ‖ PCR2), then report_data binding the keys;
 *  - sev-snp: the report signed by its VCEK, VCEK ← ASK ← ARK (pinned), TCB and chip id, the guest policy
 *    rules, then report_data (at 0x50) binding the keys and equal to the attestation's;
 *  - anything else (aws-nitro-tpm, an unknown kind): `platform.supported` fails, naming the platform.
 */
import { bytesToHex, type Hex } from "../core/bytes.js";
import { errorMessage } from "../core/errors.js";
import type { Check } from "../dcap/types.js";
import { configOsImageHash, type DstackAttestation } from "../dstack/attestation.js";
import { checkKmsBinding, type BindingCheck } from "../dstack/binding.js";
import { NitroVerificationError, verifyNitroDocument } from "../dstack/platforms/nitro-verify.js";
import type { MeasuredValues } from "../dstack/policy.js";

export interface PlatformEvidenceOptions {
  now: number;
  allowDebug?: boolean;
  /** A test root for Nitro documents instead of AWS's pinned Root-G1 (the result is then not genuine). */
  nitroRootDer?: Uint8Array;
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

/** Verify a non-TDX attestation's evidence and its key binding; never throws for a failed check. */
export function verifyPlatformEvidence(att: DstackAttestation, caPubkey: Uint8Array, k256Pubkey: Uint8Array, opts: PlatformEvidenceOptions): PlatformEvidenceResult {
  if (att.platform === "nitro-enclave") return verifyNitro(att, caPubkey, k256Pubkey, opts);
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
