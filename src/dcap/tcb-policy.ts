/**
 * The TCB status of a verified quote, and this verifier's acceptance policy on top of it.
 *
 * Intel's rules, which this module follows where dcap-qvl differs (each difference is shown by a test
 * in `test/attestation/tcb.test.ts`):
 *
 * 1. **TCB level matching** (`matchPlatformLevel`): the first (highest) level of the TCB Info that the
 *    platform's CPUSVN, PCESVN and, for TDX, TEE_TCB_SVN all reach. When `tee_tcb_svn[1] > 0` (a TDX
 *    module major version is reported) components 0 and 1 of `tdxtcbcomponents` are not compared: the
 *    TDX module identity grades them instead (`checkTdxModule`). dcap-qvl compares all 16.
 * 2. **Status convergence** (`convergeStatus`): not simply the more severe status. A module or QE
 *    status `OutOfDate` turns a platform `UpToDate`/`SWHardeningNeeded` into `OutOfDate` and a platform
 *    `ConfigurationNeeded`/`ConfigurationAndSWHardeningNeeded` into `OutOfDateConfigurationNeeded`
 *    (dcap-qvl: `OutOfDate`); `Revoked` wins. For other non-`UpToDate` module/QE statuses, which Intel's
 *    schemas do not produce, the more severe of the two is kept (never better than dcap-qvl).
 *
 * The acceptance policy: the TCB status must be one of the accepted ones, an enclave must not be DEBUG,
 * a TD 1.5 report's `mr_service_td` must be zero, and the TD attributes must pass `tdAttributeRules`:
 * no reserved bit (bit 39 is one; PERFMON, bit 63, is allowed: dcap-qvl's Rust version masks the wrong
 * bytes and does the opposite), not DEBUG, SEPT_VE_DISABLE set. Options relax the last ones.
 */
import { bytesToPlainHex } from "../core/bytes.js";
import { UsageError, VerificationError, type ErrorCode } from "../core/errors.js";
import type { QuoteBody } from "./quote.js";
import type { ModuleIdentity, TcbInfo, TcbLevel } from "./tcb-info.js";
import { DEFAULT_ACCEPTED_STATUSES, TCB_STATUSES, type PolicyVerdict, type TcbStatus } from "./types.js";

export interface StatusWithAdvisories {
  status: TcbStatus;
  advisoryIds: string[];
}

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

const hx = bytesToPlainHex;

// ---------------------------------------------------------------------------------------------
// statuses
// ---------------------------------------------------------------------------------------------

export function severity(s: TcbStatus): number {
  return TCB_STATUSES.indexOf(s);
}

function mergeAdvisories(a: string[], b: string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

/**
 * Intel's convergence of a platform (TCB level) status with a TDX-module or QE status. Advisory IDs:
 * the platform's, then new ones of `other` in order.
 */
export function convergeStatus(platform: StatusWithAdvisories, other: StatusWithAdvisories): StatusWithAdvisories {
  const advisoryIds = mergeAdvisories(platform.advisoryIds, other.advisoryIds);
  const p = platform.status;
  let status: TcbStatus;
  if (p === "Revoked" || other.status === "Revoked") status = "Revoked";
  else if (other.status === "OutOfDate" && (p === "UpToDate" || p === "SWHardeningNeeded")) status = "OutOfDate";
  else if (other.status === "OutOfDate" && (p === "ConfigurationNeeded" || p === "ConfigurationAndSWHardeningNeeded")) status = "OutOfDateConfigurationNeeded";
  else status = severity(other.status) > severity(p) ? other.status : p;
  return { status, advisoryIds };
}

// ---------------------------------------------------------------------------------------------
// matching
// ---------------------------------------------------------------------------------------------

/**
 * The first (highest) TCB level the platform meets, with Intel's TDX component skip.
 * `teeTcbSvn` only for TDX. Throws `TCB_LEVEL_INVALID` (component count) or `TCB_LEVEL_NOT_FOUND`.
 */
export function matchPlatformLevel(info: TcbInfo, cpuSvn: Uint8Array, pceSvn: number, teeTcbSvn?: Uint8Array): TcbLevel {
  const tdx = teeTcbSvn !== undefined;
  const tdxStart = tdx && teeTcbSvn[1]! > 0 ? 2 : 0;
  outer: for (const level of info.tcbLevels) {
    if (pceSvn < level.pceSvn) continue;
    if (level.sgx.length !== 16) fail("TCB_LEVEL_INVALID", `tcb_info: TCB level ${level.tcbDate} has ${level.sgx.length} SGX components, expected 16`);
    for (let i = 0; i < 16; i++) if (cpuSvn[i]! < level.sgx[i]!) continue outer;
    if (tdx) {
      if (level.tdx.length !== 16) fail("TCB_LEVEL_INVALID", `tcb_info: TCB level ${level.tcbDate} has ${level.tdx.length} TDX components, expected 16`);
      for (let i = tdxStart; i < 16; i++) if (teeTcbSvn[i]! < level.tdx[i]!) continue outer;
    }
    return level;
  }
  fail(
    "TCB_LEVEL_NOT_FOUND",
    `no TCB level in tcb_info matches the platform (CPUSVN ${hx(cpuSvn)}, PCESVN ${pceSvn}${tdx ? `, TEE_TCB_SVN ${hx(teeTcbSvn)}` : ""})`,
  );
}

/**
 * The TDX module identity: the SEAM module's MRSIGNER and attributes (under the mask) must be those of
 * the TCB Info's `tdxModule`, or, when a module major version is reported (`tee_tcb_svn[1] > 0`) and
 * the TCB Info lists `tdxModuleIdentities`, those of the identity `TDX_<major>`, whose TCB levels then
 * grade the module SVN (`tee_tcb_svn[0]`). Returns that grade, else undefined.
 */
export function checkTdxModule(info: TcbInfo, teeTcbSvn: Uint8Array, mrSignerSeam: Uint8Array, seamAttributes: Uint8Array): StatusWithAdvisories | undefined {
  if (!info.tdxModule) fail("TCB_INFO_INVALID", "tcb_info: TDX TCB info is missing the tdxModule field");
  const moduleSvn = teeTcbSvn[0]!;
  const moduleVersion = teeTcbSvn[1]!;
  let expected: { mrSigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array } = info.tdxModule;
  let levels: ModuleIdentity["tcbLevels"] | undefined;
  if (moduleVersion > 0 && info.tdxModuleIdentities.length > 0) {
    const want = `TDX_${moduleVersion.toString(16).toUpperCase().padStart(2, "0")}`;
    const ident = info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === want);
    if (!ident) fail("TDX_MODULE_IDENTITY_NOT_FOUND", `tcb_info: no TDX module identity with id ${want} (module major version ${moduleVersion})`);
    expected = ident;
    levels = ident.tcbLevels;
  }
  if (hx(mrSignerSeam) !== hx(expected.mrSigner)) {
    fail("TDX_MODULE_MRSIGNER_MISMATCH", `TDX module MRSIGNER ${hx(mrSignerSeam)} differs from the expected ${hx(expected.mrSigner)}`);
  }
  for (let i = 0; i < 8; i++) {
    const m = expected.attributesMask[i]!;
    if ((expected.attributes[i]! & m) !== (seamAttributes[i]! & m) || (seamAttributes[i]! & ~m & 0xff) !== 0) {
      fail("TDX_MODULE_ATTRIBUTES_MISMATCH", `SEAM attributes ${hx(seamAttributes)} do not match the expected ${hx(expected.attributes)} under mask ${hx(expected.attributesMask)}`);
    }
  }
  if (!levels) return undefined;
  const lv = levels.find((l) => moduleSvn >= l.isvSvn);
  if (!lv) fail("TDX_MODULE_SVN_TOO_LOW", `TDX module ISVSVN ${moduleSvn} is below every level of its identity in tcb_info`);
  return { status: lv.status, advisoryIds: lv.advisoryIds };
}

// ---------------------------------------------------------------------------------------------
// TD attributes
// ---------------------------------------------------------------------------------------------

/** Bit masks per byte of the 8-byte little-endian TD attributes: reserved bits (1–27, 29, 32–62). */
const TD_RESERVED = [0xfe, 0xff, 0xff, 0x2f, 0xff, 0xff, 0xff, 0x7f];

/** One policy rule's outcome; `code` and the detail as message when it refuses the quote. */
export interface TdAttributeRule {
  name: string;
  ok: boolean;
  detail: string;
  code?: ErrorCode;
}

/**
 * The TD-attribute policy as separate rules: reserved bits (1–27, 29, 32–62, including bit 39)
 * always rejected (`td.attributes.reserved`); DEBUG (bit 0) rejected unless `allowDebug`
 * (`td.debug`); SEPT_VE_DISABLE (bit 28) required unless `allowSeptVe` (`td.sept-ve-disable`);
 * PKS (30), KL (31) and PERFMON (63) allowed. Attributes that are not 8 bytes give one failing
 * rule `td.attributes`.
 */
export function tdAttributeRules(attrs: Uint8Array, opts: { allowDebug?: boolean; allowSeptVe?: boolean } = {}): TdAttributeRule[] {
  if (attrs.length !== 8) return [{ name: "td.attributes", ok: false, code: "TD_ATTRIBUTES_INVALID", detail: `TD attributes must be 8 bytes, got ${attrs.length}` }];
  const reserved: number[] = [];
  for (let i = 0; i < 8; i++) {
    const b = attrs[i]! & TD_RESERVED[i]!;
    for (let j = 0; j < 8; j++) if (b & (1 << j)) reserved.push(i * 8 + j);
  }
  const debug = (attrs[0]! & 0x01) !== 0;
  const septVeDisable = (attrs[3]! & 0x10) !== 0;
  return [
    reserved.length
      ? { name: "td.attributes.reserved", ok: false, code: "TD_ATTRIBUTES_RESERVED", detail: `reserved bits in TD attributes are set (bit ${reserved.join(", ")}; attributes ${hx(attrs)})` }
      : { name: "td.attributes.reserved", ok: true, detail: `no reserved bit set (attributes ${hx(attrs)})` },
    !debug
      ? { name: "td.debug", ok: true, detail: "not DEBUG" }
      : opts.allowDebug
        ? { name: "td.debug", ok: true, detail: "DEBUG TD (allowed by option)" }
        : { name: "td.debug", ok: false, code: "TD_DEBUG", detail: "the TD is in DEBUG mode (TD attributes bit 0)" },
    septVeDisable
      ? { name: "td.sept-ve-disable", ok: true, detail: "SEPT_VE_DISABLE (TD attributes bit 28) is set" }
      : opts.allowSeptVe
        ? { name: "td.sept-ve-disable", ok: true, detail: "SEPT_VE_DISABLE (TD attributes bit 28) is not set (allowed by option)" }
        : { name: "td.sept-ve-disable", ok: false, code: "TD_SEPT_VE_DISABLE_CLEAR", detail: "SEPT_VE_DISABLE (TD attributes bit 28) is not set" },
  ];
}

/**
 * The TD-attribute policy (`tdAttributeRules`) as one verdict: the first refusing rule, or
 * undefined when the attributes are acceptable.
 */
export function tdAttributesProblem(attrs: Uint8Array, opts: { allowDebug?: boolean; allowSeptVe?: boolean } = {}): { code: ErrorCode; message: string } | undefined {
  const refused = tdAttributeRules(attrs, opts).find((r) => !r.ok);
  return refused ? { code: refused.code!, message: refused.detail } : undefined;
}

// ---------------------------------------------------------------------------------------------
// the acceptance policy
// ---------------------------------------------------------------------------------------------

/** The options that relax the report rules. */
export interface ReportPolicyOptions {
  allowDebug?: boolean;
  allowServiceTd?: boolean;
  allowSeptVe?: boolean;
}

export interface PolicyRuleOutcome extends TdAttributeRule {
  /** a report rule (refusal throws); false for the accepted-status rule (refusal gives `accepted: false`) */
  report: boolean;
}

/** The accepted TCB statuses: the default ones when `v` is undefined, else `v`, which must list known statuses (`UsageError`). */
export function acceptedStatuses(v: unknown): readonly TcbStatus[] {
  if (v === undefined) return DEFAULT_ACCEPTED_STATUSES;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && (TCB_STATUSES as readonly string[]).includes(s))) {
    throw new UsageError(`acceptStatuses must be an array of TCB statuses (${TCB_STATUSES.join(", ")})`);
  }
  return v as TcbStatus[];
}

function enclaveDebugRule(attributes: Uint8Array, allowDebug: boolean | undefined): PolicyRuleOutcome {
  if ((attributes[0]! & 0x02) === 0) return { name: "enclave.debug", ok: true, report: true, detail: "not DEBUG" };
  return allowDebug
    ? { name: "enclave.debug", ok: true, report: true, detail: "DEBUG enclave (allowed by option)" }
    : { name: "enclave.debug", ok: false, report: true, code: "ENCLAVE_DEBUG", detail: "the enclave is in DEBUG mode (attributes bit 1)" };
}

function serviceTdRule(mrServiceTd: Uint8Array, allowServiceTd: boolean | undefined): PolicyRuleOutcome {
  if (mrServiceTd.every((x) => x === 0)) return { name: "td.mr-service-td", ok: true, report: true, detail: "mr_service_td is zero" };
  return allowServiceTd
    ? { name: "td.mr-service-td", ok: true, report: true, detail: `mr_service_td ${hx(mrServiceTd)} is not zero (allowed by option)` }
    : { name: "td.mr-service-td", ok: false, report: true, code: "TD_SERVICE_TD_INVALID", detail: `mr_service_td ${hx(mrServiceTd)} is not zero (allowServiceTd not set)` };
}

/** The policy's rules for a verified quote with TCB status `status`, in the order they are applied. */
export function policyRules(body: QuoteBody, status: TcbStatus, accept: readonly TcbStatus[], opts: ReportPolicyOptions): PolicyRuleOutcome[] {
  const isAccepted = accept.includes(status);
  const rules: PolicyRuleOutcome[] = [
    { name: "tcb.status", ok: isAccepted, report: false, detail: `${status} ${isAccepted ? "is" : "is not"} one of the accepted statuses (${accept.join(", ")})` },
  ];
  if (body.type === "sgx") return [...rules, enclaveDebugRule(body.attributes, opts.allowDebug)];
  if (body.type === "td15") rules.push(serviceTdRule(body.mrServiceTd, opts.allowServiceTd));
  for (const r of tdAttributeRules(body.tdAttributes, opts)) rules.push({ ...r, report: true });
  return rules;
}

/** The policy's verdict: every rule passed, and the rules as reported. */
export function policyVerdict(rules: PolicyRuleOutcome[]): PolicyVerdict {
  return { ok: rules.every((r) => r.ok), rules: rules.map(({ name, ok, detail }) => ({ name, ok, detail })) };
}

/** TCB statuses a caller may accept: every status except Revoked, which is always an error. */
export const ACCEPTABLE_STATUSES: readonly TcbStatus[] = TCB_STATUSES.filter((s) => s !== "Revoked");

/**
 * A comma-separated list of accepted TCB statuses (`UpToDate,SWHardeningNeeded`), given as `option` (named
 * in the `UsageError`s); `undefined` is the default list.
 */
export function parseAcceptedStatuses(text: string | undefined, option: string): TcbStatus[] {
  if (text === undefined) return [...DEFAULT_ACCEPTED_STATUSES];
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new UsageError(`${option} needs at least one status`);
  for (const s of list) {
    if (!(ACCEPTABLE_STATUSES as readonly string[]).includes(s)) throw new UsageError(`${option}: unknown TCB status ${JSON.stringify(s)} (one of ${ACCEPTABLE_STATUSES.join(", ")})`);
  }
  return list as TcbStatus[];
}
