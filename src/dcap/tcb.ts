/**
 * TCB Info (v3) and QE Identity (v2) documents, TCB level matching, the TDX module identity, status
 * convergence and the TD-attribute policy (spec §2.6–§2.10).
 *
 * Where Intel's Quote Verification Library and dcap-qvl differ, this module follows Intel
 * (project decision 2). The divergences from dcap-qvl, each shown by a test in
 * `test/attestation/tcb.test.ts`:
 *
 * 1. **TDX component skip** (`matchPlatformLevel`): when `tee_tcb_svn[1] > 0` (a TDX module major
 *    version is reported) components 0 and 1 of `tdxtcbcomponents` are not compared — they are graded by
 *    the TDX module identity instead (Intel `isTdxTcbHigherOrEqual`). dcap-qvl compares all 16.
 * 2. **Status convergence** (`convergeStatus`): Intel does not take the "more severe" status. A
 *    module or QE status `OutOfDate` turns a platform `UpToDate`/`SWHardeningNeeded` into `OutOfDate`
 *    and a platform `ConfigurationNeeded`/`ConfigurationAndSWHardeningNeeded` into
 *    `OutOfDateConfigurationNeeded` (dcap-qvl: `OutOfDate`); `Revoked` wins. For other non-`UpToDate`
 *    module/QE statuses, which Intel's schemas do not produce, the more severe of the two is kept
 *    (never better than dcap-qvl).
 * 3. **TD attributes** (`tdAttributesProblem`, decision 1): PERFMON (bit 63) is allowed and bit 39 is
 *    a reserved bit (dcap-qvl Rust masks the wrong bytes and does the opposite).
 */
import { hexToBytes } from "../core/bytes.js";
import { VerificationError } from "../core/errors.js";
import { findDuplicateKey } from "./strict-json.js";
import { TCB_STATUSES, type TcbStatus } from "./types.js";

export interface StatusWithAdvisories {
  status: TcbStatus;
  advisoryIds: string[];
}

export interface TcbLevel {
  sgx: number[];
  tdx: number[];
  pceSvn: number;
  tcbDate: string;
  status: TcbStatus;
  advisoryIds: string[];
}

export interface ModuleIdentity {
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  tcbLevels: { isvSvn: number; tcbDate: string; status: TcbStatus; advisoryIds: string[] }[];
}

/** Fields the two Intel-signed collateral documents (TCB Info, QE Identity) share. */
export interface CollateralDocument {
  id: string;
  version: number;
  /** unix seconds */
  issueDate: number;
  nextUpdate: number;
  issueDateText: string;
  nextUpdateText: string;
  tcbEvaluationDataNumber: number;
}

export interface TcbInfo extends CollateralDocument {
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tdxModule?: { mrSigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array };
  tdxModuleIdentities: ModuleIdentity[];
  /** sorted canonically, highest first (§2.8.1) */
  tcbLevels: TcbLevel[];
}

export interface QeIdentity extends CollateralDocument {
  miscselect: number;
  miscselectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: { isvSvn: number; tcbDate: string; status: TcbStatus; advisoryIds: string[] }[];
}

// ---------------------------------------------------------------------------------------------
// strict JSON field readers
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

class Doc {
  constructor(
    readonly code: string,
    readonly name: string,
  ) {}
  fail(path: string, msg: string): never {
    throw new VerificationError(this.code, `${this.name}: ${path} ${msg}`, { details: { field: path } });
  }
  obj(v: unknown, path: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "must be an object");
    return v as Obj;
  }
  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "must be an array");
    return v;
  }
  str(o: Obj, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== "string") this.fail(`${path}${k}`, v === undefined ? "is missing" : "must be a string");
    return v;
  }
  int(o: Obj, k: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      this.fail(`${path}${k}`, v === undefined ? "is missing" : `must be an integer 0…${max}`);
    }
    return v;
  }
  hex(o: Obj, k: string, path: string, len: number): Uint8Array {
    const s = this.str(o, k, path);
    if (s.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(s)) this.fail(`${path}${k}`, `must be ${len} bytes of hex, got ${JSON.stringify(s.slice(0, 40))}`);
    return hexToBytes(s, `${this.name}: ${path}${k}`);
  }
  date(o: Obj, k: string, path: string): number {
    const s = this.str(o, k, path);
    const t = parseRfc3339(s);
    if (t === undefined) this.fail(`${path}${k}`, `is not an RFC 3339 date with a zone: ${JSON.stringify(s)}`);
    return t;
  }
  status(o: Obj, k: string, path: string): TcbStatus {
    const s = this.str(o, k, path);
    if (!(TCB_STATUSES as readonly string[]).includes(s)) this.fail(`${path}${k}`, `is not a known TCB status: ${JSON.stringify(s)}`);
    return s as TcbStatus;
  }
  advisories(o: Obj, path: string): string[] {
    const v = o.advisoryIDs;
    if (v === undefined) return [];
    const a = this.arr(v, `${path}advisoryIDs`);
    return a.map((x, i) => (typeof x === "string" ? x : this.fail(`${path}advisoryIDs[${i}]`, "must be a string")));
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 date-time with an explicit zone → unix seconds (fractions floored); undefined if invalid. */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, Math.min(se, 59));
  if (new Date(ms).getUTCDate() !== d) return undefined;
  let off = 0;
  const z = m[8]!;
  if (z !== "Z" && z !== "z") {
    const oh = Number(z.slice(1, 3));
    const om = Number(z.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    off = (z[0] === "+" ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return Math.floor(ms / 1000) - off;
}

/**
 * Parse a signed document's text. A duplicate key at any depth is rejected: `JSON.parse` would keep
 * the last value, rapidjson in Intel's QVL the first, and the two must never read different documents.
 */
function parseJsonText(text: string, doc: Doc): Obj {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    doc.fail("document", `is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const dup = findDuplicateKey(text);
  if (dup !== undefined) doc.fail(dup, "appears more than once (duplicate JSON key; JSON parsers disagree on which value counts)");
  return doc.obj(v, "document");
}

function components(doc: Doc, v: unknown, path: string): number[] {
  if (v === undefined) return [];
  return doc.arr(v, path).map((c, i) => doc.int(doc.obj(c, `${path}[${i}]`), "svn", `${path}[${i}].`, 255));
}

function lexCompare(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * `tcbType` must be 0, the only type Intel defines (the TCB level's SGX components compared one by one
 * with the PCK's CPUSVN). Any other value would change how levels are compared, so it is refused.
 */
function tcbType(d: Doc, o: Obj): number {
  const t = d.int(o, "tcbType", "");
  if (t !== 0) {
    throw new VerificationError("TCB_INFO_TCB_TYPE_UNSUPPORTED", `tcb_info: tcbType ${t} is not supported (only 0)`, { details: { field: "tcbType", found: t } });
  }
  return t;
}

/**
 * Parse the `tcb_info` text (the `tcbInfo` object). Throws `VerificationError` `TCB_INFO_INVALID`
 * (malformed, or a duplicate key at any depth) or `TCB_INFO_TCB_TYPE_UNSUPPORTED` (`tcbType` ≠ 0).
 */
export function parseTcbInfo(text: string): TcbInfo {
  const d = new Doc("TCB_INFO_INVALID", "tcb_info");
  const o = parseJsonText(text, d);
  const id = d.str(o, "id", "");
  const version = d.int(o, "version", "", 255);
  const levels = d.arr(o.tcbLevels, "tcbLevels").map((lv, i): TcbLevel => {
    const p = `tcbLevels[${i}].`;
    const l = d.obj(lv, `tcbLevels[${i}]`);
    const tcb = d.obj(l.tcb, `${p}tcb`);
    return {
      sgx: components(d, tcb.sgxtcbcomponents ?? d.fail(`${p}tcb.sgxtcbcomponents`, "is missing"), `${p}tcb.sgxtcbcomponents`),
      tdx: components(d, tcb.tdxtcbcomponents, `${p}tcb.tdxtcbcomponents`),
      pceSvn: d.int(tcb, "pcesvn", `${p}tcb.`, 0xffff),
      tcbDate: d.str(l, "tcbDate", p),
      status: d.status(l, "tcbStatus", p),
      advisoryIds: d.advisories(l, p),
    };
  });
  const isTdx = id === "TDX" && version >= 3;
  // stable sort, descending (§2.8.1)
  const sorted = levels
    .map((l, i) => ({ l, i }))
    .sort((a, b) => {
      let c = lexCompare(b.l.sgx, a.l.sgx);
      if (c === 0) c = b.l.pceSvn - a.l.pceSvn;
      if (c === 0 && isTdx) c = lexCompare(b.l.tdx, a.l.tdx);
      return c === 0 ? a.i - b.i : c;
    })
    .map((x) => x.l);
  const info: TcbInfo = {
    id,
    version,
    issueDate: d.date(o, "issueDate", ""),
    nextUpdate: d.date(o, "nextUpdate", ""),
    issueDateText: o.issueDate as string,
    nextUpdateText: o.nextUpdate as string,
    fmspc: d.hex(o, "fmspc", "", 6),
    pceId: d.hex(o, "pceId", "", 2),
    tcbType: tcbType(d, o),
    tcbEvaluationDataNumber: d.int(o, "tcbEvaluationDataNumber", ""),
    tdxModuleIdentities: [],
    tcbLevels: sorted,
  };
  if (o.tdxModule !== undefined) {
    const m = d.obj(o.tdxModule, "tdxModule");
    info.tdxModule = {
      mrSigner: d.hex(m, "mrsigner", "tdxModule.", 48),
      attributes: d.hex(m, "attributes", "tdxModule.", 8),
      attributesMask: d.hex(m, "attributesMask", "tdxModule.", 8),
    };
  }
  if (o.tdxModuleIdentities !== undefined) {
    info.tdxModuleIdentities = d.arr(o.tdxModuleIdentities, "tdxModuleIdentities").map((mv, i) => {
      const p = `tdxModuleIdentities[${i}].`;
      const m = d.obj(mv, `tdxModuleIdentities[${i}]`);
      return {
        id: d.str(m, "id", p),
        mrSigner: d.hex(m, "mrsigner", p, 48),
        attributes: d.hex(m, "attributes", p, 8),
        attributesMask: d.hex(m, "attributesMask", p, 8),
        tcbLevels: d.arr(m.tcbLevels, `${p}tcbLevels`).map((lv, j) => enclaveLevel(d, lv, `${p}tcbLevels[${j}]`)),
      };
    });
  }
  return info;
}

function enclaveLevel(d: Doc, lv: unknown, path: string): { isvSvn: number; tcbDate: string; status: TcbStatus; advisoryIds: string[] } {
  const l = d.obj(lv, path);
  return {
    isvSvn: d.int(d.obj(l.tcb, `${path}.tcb`), "isvsvn", `${path}.tcb.`, 0xffff),
    tcbDate: d.str(l, "tcbDate", `${path}.`),
    status: d.status(l, "tcbStatus", `${path}.`),
    advisoryIds: d.advisories(l, `${path}.`),
  };
}

/** Parse the `qe_identity` text (the `enclaveIdentity` object). Throws `VerificationError` `QE_IDENTITY_INVALID` (malformed, or a duplicate key at any depth). */
export function parseQeIdentity(text: string): QeIdentity {
  const d = new Doc("QE_IDENTITY_INVALID", "qe_identity");
  const o = parseJsonText(text, d);
  const le32 = (b: Uint8Array) => (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
  return {
    id: d.str(o, "id", ""),
    version: d.int(o, "version", "", 255),
    issueDate: d.date(o, "issueDate", ""),
    nextUpdate: d.date(o, "nextUpdate", ""),
    issueDateText: o.issueDate as string,
    nextUpdateText: o.nextUpdate as string,
    tcbEvaluationDataNumber: d.int(o, "tcbEvaluationDataNumber", ""),
    miscselect: le32(d.hex(o, "miscselect", "", 4)),
    miscselectMask: le32(d.hex(o, "miscselectMask", "", 4)),
    attributes: d.hex(o, "attributes", "", 16),
    attributesMask: d.hex(o, "attributesMask", "", 16),
    mrSigner: d.hex(o, "mrsigner", "", 32),
    isvProdId: d.int(o, "isvprodid", "", 0xffff),
    tcbLevels: d.arr(o.tcbLevels, "tcbLevels").map((lv, i) => enclaveLevel(d, lv, `tcbLevels[${i}]`)),
  };
}

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

function fail(code: string, message: string): never {
  throw new VerificationError(code, message);
}

function hx(b: Uint8Array | number[]): string {
  return Buffer.from(b).toString("hex");
}

/**
 * The first (highest) TCB level the platform meets (§2.8.2, with Intel's TDX component skip).
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
 * TDX module identity (§2.8.3). Returns the module's status when the TCB info grades it
 * (module major version > 0 and `tdxModuleIdentities` listed), else undefined.
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

/**
 * QE identity policy (§2.7.2) on the QE report fields; returns the QE's TCB status.
 */
export function checkQeIdentity(
  qe: QeIdentity,
  report: { mrSigner: Uint8Array; attributes: Uint8Array; isvProdId: number; miscSelect: number; isvSvn: number },
): StatusWithAdvisories {
  if (hx(report.mrSigner) !== hx(qe.mrSigner)) fail("QE_MRSIGNER_MISMATCH", `QE report MRSIGNER ${hx(report.mrSigner)} differs from qe_identity's ${hx(qe.mrSigner)}`);
  if (report.attributes[0]! & 0x02) fail("QE_DEBUG", "the QE report has the DEBUG attribute set");
  if (report.isvProdId !== qe.isvProdId) fail("QE_ISVPRODID_MISMATCH", `QE report ISVPRODID ${report.isvProdId} differs from qe_identity's ${qe.isvProdId}`);
  if ((report.miscSelect & qe.miscselectMask) >>> 0 !== (qe.miscselect & qe.miscselectMask) >>> 0) {
    fail("QE_MISCSELECT_MISMATCH", `QE report MISCSELECT 0x${report.miscSelect.toString(16)} does not match qe_identity under its mask`);
  }
  for (let i = 0; i < 16; i++) {
    const m = qe.attributesMask[i]!;
    if ((report.attributes[i]! & m) !== (qe.attributes[i]! & m)) fail("QE_ATTRIBUTES_MISMATCH", `QE report ATTRIBUTES ${hx(report.attributes)} do not match qe_identity under its mask`);
  }
  if (qe.tcbLevels.length === 0) fail("QE_TCB_LEVEL_NOT_FOUND", "qe_identity lists no TCB levels");
  const lv = qe.tcbLevels.find((l) => report.isvSvn >= l.isvSvn);
  if (!lv) fail("QE_TCB_LEVEL_NOT_FOUND", `QE ISVSVN ${report.isvSvn} is below the minimum required by qe_identity (${Math.min(...qe.tcbLevels.map((l) => l.isvSvn))})`);
  return { status: lv.status, advisoryIds: lv.advisoryIds };
}

// ---------------------------------------------------------------------------------------------
// TD attributes (§1.10, decision 1)
// ---------------------------------------------------------------------------------------------

/** Bit masks per byte of the 8-byte little-endian TD attributes: reserved bits (1–27, 29, 32–62). */
const TD_RESERVED = [0xfe, 0xff, 0xff, 0x2f, 0xff, 0xff, 0xff, 0x7f];

/** One TD-attribute rule's outcome; `code` and the detail as message when it refuses the attributes. */
export interface TdAttributeRule {
  name: string;
  ok: boolean;
  detail: string;
  code?: string;
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
export function tdAttributesProblem(attrs: Uint8Array, opts: { allowDebug?: boolean; allowSeptVe?: boolean } = {}): { code: string; message: string } | undefined {
  const refused = tdAttributeRules(attrs, opts).find((r) => !r.ok);
  return refused ? { code: refused.code!, message: refused.detail } : undefined;
}
