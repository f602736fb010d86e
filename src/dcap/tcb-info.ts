/**
 * Intel's TCB Info document (`tcb_info`, the `tcbInfo` object): for one FMSPC and PCE-ID, the TCB levels
 * a platform can be at (SGX components, PCESVN and, for TDX, TDX components) with the status of each,
 * and for TDX the identity of the TDX module. Parsed strictly (see `intel-document.ts`); the levels are
 * sorted highest first, the order in which a platform is matched against them (`tcb-policy.ts`).
 */
import { bytesEqual, bytesToPlainHex } from "../core/bytes.js";
import { VerificationError, type ErrorCode } from "../core/errors.js";
import { DocumentReader, parseDocumentText, type CollateralDocument, type EnclaveTcbLevel, type JsonObject } from "./intel-document.js";
import type { SgxExtension } from "./sgx-extension.js";
import type { TcbStatus } from "./types.js";

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
  tcbLevels: EnclaveTcbLevel[];
}

export interface TcbInfo extends CollateralDocument {
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tdxModule?: { mrSigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array };
  tdxModuleIdentities: ModuleIdentity[];
  /** sorted highest first: by SGX components, then PCESVN, then (TDX) TDX components, lexicographically */
  tcbLevels: TcbLevel[];
}

/** A level's SGX or TDX components: absent (TDX in an SGX document), or exactly Intel's 16, each an `svn` byte. */
function components(doc: DocumentReader, v: unknown, path: string): number[] {
  if (v === undefined) return [];
  const list = doc.arr(v, path);
  if (list.length !== 16) doc.fail(path, `has ${list.length} components, expected 16`);
  return list.map((c, i) => doc.int(doc.obj(c, `${path}[${i}]`), "svn", `${path}[${i}].`, 255));
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
function tcbType(d: DocumentReader, o: JsonObject): number {
  const t = d.int(o, "tcbType", "");
  if (t !== 0) {
    throw new VerificationError("TCB_INFO_TCB_TYPE_UNSUPPORTED", `tcb_info: tcbType ${t} is not supported (only 0)`, { details: { field: "tcbType", found: t } });
  }
  return t;
}

function tcbLevel(d: DocumentReader, lv: unknown, i: number): TcbLevel {
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
}

/** Highest first (stable): SGX components, then PCESVN, then, for TDX TCB Info, the TDX components. */
function sortLevels(levels: TcbLevel[], isTdx: boolean): TcbLevel[] {
  return levels
    .map((l, i) => ({ l, i }))
    .sort((a, b) => {
      let c = lexCompare(b.l.sgx, a.l.sgx);
      if (c === 0) c = b.l.pceSvn - a.l.pceSvn;
      if (c === 0 && isTdx) c = lexCompare(b.l.tdx, a.l.tdx);
      return c === 0 ? a.i - b.i : c;
    })
    .map((x) => x.l);
}

function moduleIdentity(d: DocumentReader, mv: unknown, i: number): ModuleIdentity {
  const p = `tdxModuleIdentities[${i}].`;
  const m = d.obj(mv, `tdxModuleIdentities[${i}]`);
  return {
    id: d.str(m, "id", p),
    mrSigner: d.hex(m, "mrsigner", p, 48),
    attributes: d.hex(m, "attributes", p, 8),
    attributesMask: d.hex(m, "attributesMask", p, 8),
    tcbLevels: d.arr(m.tcbLevels, `${p}tcbLevels`).map((lv, j) => d.enclaveLevel(lv, `${p}tcbLevels[${j}]`)),
  };
}

/**
 * Parse the `tcb_info` text (the `tcbInfo` object). Throws `VerificationError` `TCB_INFO_INVALID`
 * (malformed, or a duplicate key at any depth) or `TCB_INFO_TCB_TYPE_UNSUPPORTED` (`tcbType` ≠ 0).
 */
export function parseTcbInfo(text: string): TcbInfo {
  const d = new DocumentReader("TCB_INFO_INVALID", "tcb_info");
  const o = parseDocumentText(text, d);
  const id = d.str(o, "id", "");
  const version = d.int(o, "version", "", 255);
  const levels = d.arr(o.tcbLevels, "tcbLevels").map((lv, i) => tcbLevel(d, lv, i));
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
    tcbLevels: sortLevels(levels, id === "TDX" && version >= 3),
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
    info.tdxModuleIdentities = d.arr(o.tdxModuleIdentities, "tdxModuleIdentities").map((mv, i) => moduleIdentity(d, mv, i));
  }
  return info;
}

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

const HEX = (b: Uint8Array): string => bytesToPlainHex(b).toUpperCase();

/**
 * The TCB Info is the one for this platform and this kind of quote: the PCK's FMSPC and PCE-ID are the
 * TCB Info's, and a TDX quote has TDX TCB Info (v3 or later), an SGX quote SGX TCB Info (v2 or later).
 * Throws `VerificationError` `FMSPC_MISMATCH`, `PCEID_MISMATCH` or `TCB_INFO_TEE_MISMATCH`.
 */
export function checkTcbInfoForPlatform(info: TcbInfo, pck: SgxExtension, tdx: boolean): void {
  if (!bytesEqual(pck.fmspc, info.fmspc)) fail("FMSPC_MISMATCH", `PCK FMSPC ${HEX(pck.fmspc)} differs from tcb_info's ${HEX(info.fmspc)}`);
  // dcap-qvl compares only the FMSPC; Intel's verifier also requires the PCE-ID to match
  if (!bytesEqual(pck.pceId, info.pceId)) fail("PCEID_MISMATCH", `PCK PCE-ID ${HEX(pck.pceId)} differs from tcb_info's ${HEX(info.pceId)}`);
  if (tdx && !(info.id === "TDX" && info.version >= 3)) fail("TCB_INFO_TEE_MISMATCH", `TDX quote with non-TDX TCB info (${info.id} v${info.version})`);
  if (!tdx && !(info.id === "SGX" && info.version >= 2)) fail("TCB_INFO_TEE_MISMATCH", `SGX quote with non-SGX TCB info (${info.id} v${info.version})`);
}
