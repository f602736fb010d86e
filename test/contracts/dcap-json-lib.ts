/** Shared by the on-chain Intel JSON differential test and its gas bench: the harness, TS twins, forged documents. */
import { readdirSync, readFileSync } from "node:fs";

import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type Hex } from "viem";

import { bytesToHex, bytesToPlainHex, utf8 } from "../../src/core/bytes.js";
import { parseQeIdentity, type QeIdentity } from "../../src/dcap/qe-identity.js";
import { parseTcbInfo, type TcbInfo } from "../../src/dcap/tcb-info.js";
import { checkQeIdentity } from "../../src/dcap/qe-identity.js";
import { checkTdxModule, convergeStatus, matchPlatformLevel, type StatusWithAdvisories } from "../../src/dcap/tcb-policy.js";
import { TCB_STATUSES } from "../../src/dcap/types.js";
import { signedQeIdentity, signedTcbInfo, type ForgeIsvLevel, type ForgeTcbInfoOptions, type ForgeTcbLevel } from "../../src/testing/forge/collateral.js";
import { forgePlatform } from "../../src/testing/forge/platform.js";
import { keyFrom, type Secrets } from "../../src/testing/forge/secrets.js";
import type { WorldFrame } from "../../src/testing/forge/common.js";

/** The tcb_info / qe_identity texts of every real collateral file in the fixtures. */
export function realDocuments(): { name: string; tcbInfo: string; qeIdentity: string }[] {
  const files = [
    ...["sgx_quote_collateral.json", "tdx_quote_collateral.json"].map((f) => new URL(`../fixtures/dcap/${f}`, import.meta.url).pathname),
    ...readdirSync(new URL("../fixtures/dcap/real/", import.meta.url))
      .filter((f) => f.endsWith(".collateral.json"))
      .map((f) => new URL(`../fixtures/dcap/real/${f}`, import.meta.url).pathname),
  ];
  return files.map((f) => {
    const c = JSON.parse(readFileSync(f, "utf8")) as { tcb_info: string; qe_identity: string };
    return { name: f.split("/").pop()!, tcbInfo: c.tcb_info, qeIdentity: c.qe_identity };
  });
}

export const textHex = (s: string): Hex => bytesToHex(utf8(s));
const h = (b: Uint8Array): string => `0x${bytesToPlainHex(b)}`;

/** A parsed TCB Info as plain data, the same shape from the TS parser and from the contract. */
export function tsTcbInfoView(i: TcbInfo) {
  return {
    id: i.id,
    version: i.version,
    issueDate: i.issueDate,
    nextUpdate: i.nextUpdate,
    fmspc: h(i.fmspc),
    pceId: h(i.pceId),
    tcbEvaluationDataNumber: i.tcbEvaluationDataNumber,
    tdxModule: i.tdxModule ? { mrSigner: h(i.tdxModule.mrSigner), attributes: h(i.tdxModule.attributes), attributesMask: h(i.tdxModule.attributesMask) } : null,
    tdxModuleIdentities: i.tdxModuleIdentities.map((m) => ({
      id: m.id,
      mrSigner: h(m.mrSigner),
      attributes: h(m.attributes),
      attributesMask: h(m.attributesMask),
      tcbLevels: m.tcbLevels.map((l) => ({ isvSvn: l.isvSvn, tcbDate: l.tcbDate, status: l.status, advisoryIds: l.advisoryIds })),
    })),
    tcbLevels: i.tcbLevels.map((l) => ({ sgx: l.sgx, tdx: l.tdx, pceSvn: l.pceSvn, tcbDate: l.tcbDate, status: l.status, advisoryIds: l.advisoryIds })),
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- viem's decoded structs */
const st = (n: number) => TCB_STATUSES[n]!;
const enclaveLevels = (lv: any[]) => lv.map((l) => ({ isvSvn: l.isvSvn, tcbDate: l.tcbDate, status: st(l.status), advisoryIds: [...l.advisoryIds] }));

export function chainTcbInfoView(v: any) {
  return {
    id: v.id,
    version: v.version,
    issueDate: Number(v.issueDate),
    nextUpdate: Number(v.nextUpdate),
    fmspc: v.fmspc,
    pceId: v.pceId,
    tcbEvaluationDataNumber: Number(v.tcbEvaluationDataNumber),
    tdxModule: v.hasTdxModule ? { mrSigner: v.tdxModuleMrSigner, attributes: v.tdxModuleAttributes, attributesMask: v.tdxModuleAttributesMask } : null,
    tdxModuleIdentities: v.tdxModuleIdentities.map((m: any) => ({
      id: m.id,
      mrSigner: m.mrSigner,
      attributes: m.attributes,
      attributesMask: m.attributesMask,
      tcbLevels: enclaveLevels(m.tcbLevels),
    })),
    tcbLevels: v.tcbLevels.map((l: any) => ({ sgx: [...l.sgx], tdx: [...l.tdx], pceSvn: l.pceSvn, tcbDate: l.tcbDate, status: st(l.status), advisoryIds: [...l.advisoryIds] })),
  };
}

export function tsQeView(q: QeIdentity) {
  return {
    id: q.id,
    version: q.version,
    issueDate: q.issueDate,
    nextUpdate: q.nextUpdate,
    tcbEvaluationDataNumber: q.tcbEvaluationDataNumber,
    miscselect: q.miscselect,
    miscselectMask: q.miscselectMask,
    attributes: h(q.attributes),
    attributesMask: h(q.attributesMask),
    mrSigner: h(q.mrSigner),
    isvProdId: q.isvProdId,
    tcbLevels: q.tcbLevels.map((l) => ({ isvSvn: l.isvSvn, tcbDate: l.tcbDate, status: l.status, advisoryIds: l.advisoryIds })),
  };
}

export function chainQeView(v: any) {
  return {
    id: v.id,
    version: v.version,
    issueDate: Number(v.issueDate),
    nextUpdate: Number(v.nextUpdate),
    tcbEvaluationDataNumber: Number(v.tcbEvaluationDataNumber),
    miscselect: v.miscselect,
    miscselectMask: v.miscselectMask,
    attributes: v.attributes,
    attributesMask: v.attributesMask,
    mrSigner: v.mrSigner,
    isvProdId: v.isvProdId,
    tcbLevels: enclaveLevels(v.tcbLevels),
  };
}

/** The platform and QE inputs of one evaluation. */
export interface PlatformInput {
  tdx: boolean;
  cpuSvn: Uint8Array;
  pceSvn: number;
  teeTcbSvn: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  qeMrSigner: Uint8Array;
  qeAttributes: Uint8Array;
  qeIsvProdId: number;
  qeMiscSelect: number;
  qeIsvSvn: number;
}

export function platformArg(p: PlatformInput) {
  return {
    tdx: p.tdx,
    cpuSvn: h(p.cpuSvn) as Hex,
    pceSvn: p.pceSvn,
    teeTcbSvn: h(p.teeTcbSvn) as Hex,
    mrSignerSeam: h(p.mrSignerSeam) as Hex,
    seamAttributes: h(p.seamAttributes) as Hex,
    qeMrSigner: h(p.qeMrSigner) as Hex,
    qeAttributes: h(p.qeAttributes) as Hex,
    qeIsvProdId: p.qeIsvProdId,
    qeMiscSelect: p.qeMiscSelect,
    qeIsvSvn: p.qeIsvSvn,
  };
}

/** Outcome of one evaluation: the grades, or the error (TS code or the Solidity error's name, mapped to the TS code). */
export type Outcome =
  | { ok: true; levelIndex: number; moduleGraded: boolean; moduleStatus: string | null; platform: StatusWithAdvisories; qe: StatusWithAdvisories; final: StatusWithAdvisories }
  | { ok: false; code: string };

export function tsEvaluate(info: TcbInfo, qe: QeIdentity, p: PlatformInput): Outcome {
  try {
    const level = matchPlatformLevel(info, p.cpuSvn, p.pceSvn, p.tdx ? p.teeTcbSvn : undefined);
    let platform: StatusWithAdvisories = { status: level.status, advisoryIds: level.advisoryIds };
    let m: StatusWithAdvisories | undefined;
    if (p.tdx) {
      m = checkTdxModule(info, p.teeTcbSvn, p.mrSignerSeam, p.seamAttributes);
      if (m) platform = convergeStatus(platform, m);
    }
    const q = checkQeIdentity(qe, { mrSigner: p.qeMrSigner, attributes: p.qeAttributes, isvProdId: p.qeIsvProdId, miscSelect: p.qeMiscSelect, isvSvn: p.qeIsvSvn });
    return { ok: true, levelIndex: info.tcbLevels.indexOf(level), moduleGraded: m !== undefined, moduleStatus: m?.status ?? null, platform, qe: q, final: convergeStatus(platform, q) };
  } catch (e) {
    return { ok: false, code: (e as { code: string }).code };
  }
}

const SOLIDITY_TO_TS: Record<string, string> = {
  TcbLevelNotFound: "TCB_LEVEL_NOT_FOUND",
  TcbLevelInvalid: "TCB_LEVEL_INVALID",
  TdxModuleMissing: "TCB_INFO_INVALID",
  TdxModuleIdentityNotFound: "TDX_MODULE_IDENTITY_NOT_FOUND",
  TdxModuleMrSignerMismatch: "TDX_MODULE_MRSIGNER_MISMATCH",
  TdxModuleAttributesMismatch: "TDX_MODULE_ATTRIBUTES_MISMATCH",
  TdxModuleSvnTooLow: "TDX_MODULE_SVN_TOO_LOW",
  QeMrSignerMismatch: "QE_MRSIGNER_MISMATCH",
  QeDebug: "QE_DEBUG",
  QeIsvProdIdMismatch: "QE_ISVPRODID_MISMATCH",
  QeMiscselectMismatch: "QE_MISCSELECT_MISMATCH",
  QeAttributesMismatch: "QE_ATTRIBUTES_MISMATCH",
  QeTcbLevelNotFound: "QE_TCB_LEVEL_NOT_FOUND",
};

/** The custom error a contract call reverted with (its name), or "?" for anything else (a panic, no data). */
export function revertName(e: unknown): string {
  const r = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null;
  return (r as ContractFunctionRevertedError | null)?.data?.errorName ?? "?";
}

export function chainOutcome(v: any): Outcome {
  return {
    ok: true,
    levelIndex: Number(v.levelIndex),
    moduleGraded: v.moduleGraded,
    moduleStatus: v.moduleGraded ? st(v.moduleStatus) : null,
    platform: { status: st(v.platformStatus), advisoryIds: [...v.platformAdvisoryIds] },
    qe: { status: st(v.qeStatus), advisoryIds: [...v.qeAdvisoryIds] },
    final: { status: st(v.status), advisoryIds: [...v.advisoryIds] },
  };
}

export function chainError(e: unknown): Outcome {
  const name = revertName(e);
  return { ok: false, code: SOLIDITY_TO_TS[name] ?? name };
}

/** The name of the custom error whose revert data is `data` ("?" for a panic or unknown data). */
export function errorName(abi: Abi, data: Hex): string {
  try {
    const r = decodeErrorResult({ abi, data });
    return r.errorName === "Panic" || r.errorName === "Error" ? "?" : r.errorName;
  } catch {
    return "?";
  }
}

export function chainTryOutcome(abi: Abi, r: readonly [boolean, unknown, Hex]): Outcome {
  if (r[0]) return chainOutcome(r[1]);
  const name = errorName(abi, r[2]);
  return { ok: false, code: SOLIDITY_TO_TS[name] ?? name };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

// ---------------------------------------------------------------------------------------------
// forged documents and random platforms
// ---------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32). */
export function rng(seed: number): { int(n: number): number; pick<T>(a: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n) => Math.floor(next() * n), pick: (arr) => arr[Math.floor(next() * arr.length)]!, chance: (p) => next() < p };
}

type Rng = ReturnType<typeof rng>;
const ADVISORIES = ["INTEL-SA-00106", "INTEL-SA-00115", "INTEL-SA-00219", "INTEL-SA-00289", "INTEL-SA-00334", "INTEL-SA-00615", "INTEL-SA-00828", "INTEL-SA-00960"];

function advisories(r: Rng): string[] | undefined {
  if (r.chance(0.3)) return undefined;
  return Array.from({ length: r.int(4) }, () => r.pick(ADVISORIES));
}

const svns = (r: Rng, base: readonly number[]) => base.map((v) => Math.max(0, Math.min(255, v + r.int(5) - 2)));

/** A forged TDX or SGX TCB Info and QE Identity, the texts and the values they were made from. */
export function forgedCase(seed: number): { tcbInfo: string; qeIdentity: string; platform: PlatformInput } {
  const r = rng(seed);
  const tee = r.chance(0.75) ? "tdx" : "sgx";
  const frame: WorldFrame = { now: 1767225600, tee, ca: "platform", seed: utf8(`dcap-json-${seed}`) };
  const pl = forgePlatform(frame, {});
  const secrets = { tcbSigning: keyFrom(frame.seed, "tcb") } as unknown as Secrets;
  const baseSgx = [...pl.pck.cpuSvn];
  const baseTdx = [...pl.teeTcbSvn];
  const nLevels = 1 + r.int(14);
  const levels: ForgeTcbLevel[] = Array.from({ length: nLevels }, () => ({
    sgx: svns(r, baseSgx),
    pcesvn: Math.max(0, pl.pck.pceSvn + r.int(5) - 2),
    tdx: tee === "tdx" ? svns(r, baseTdx) : undefined,
    tcbDate: `20${10 + r.int(15)}-0${1 + r.int(9)}-1${r.int(10)}T00:00:00Z`,
    tcbStatus: r.pick(TCB_STATUSES),
    advisoryIDs: advisories(r),
  }));
  const isvLevels = (): ForgeIsvLevel[] =>
    Array.from({ length: 1 + r.int(4) }, () => ({ isvsvn: r.int(8), tcbStatus: r.pick(TCB_STATUSES), advisoryIDs: advisories(r) }));
  const seamSigner = r.chance(0.5) ? new Uint8Array(48) : new Uint8Array(48).fill(0x5a);
  const ti: ForgeTcbInfoOptions = { tcbLevels: levels, tcbEvaluationDataNumber: r.int(30) };
  if (tee === "tdx") {
    ti.tdxModule = { mrsigner: seamSigner, attributes: new Uint8Array(8), attributesMask: new Uint8Array(8).fill(0xff) };
    ti.tdxModuleIdentities = r.chance(0.15)
      ? []
      : ["TDX_01", "TDX_03", "tdx_02"].filter(() => r.chance(0.7)).map((id) => ({ id, mrsigner: seamSigner, tcbLevels: isvLevels() }));
  }
  const tcbInfo = signedTcbInfo(frame, ti, pl, secrets, "tcbSigning").text;
  const qeLevels = isvLevels();
  const qeIdentity = signedQeIdentity(frame, { tcbLevels: qeLevels, miscselectMask: r.chance(0.5) ? "FFFFFFFF" : "0000FFFF" }, pl, secrets, "tcbSigning").text;
  const levelPick = r.pick(levels);
  // at or just above the picked level, now and then one component below it
  const near = (v: readonly number[]) => {
    const out = v.map((x) => Math.min(255, x + (r.chance(0.8) ? 0 : 1)));
    if (r.chance(0.2)) out[r.int(16)] = Math.max(0, out[r.int(16)]! - 1);
    return out;
  };
  const cpu = near(levelPick.sgx);
  const tdxVec = near(levelPick.tdx ?? baseTdx);
  tdxVec[1] = r.pick([0, 1, 2, 3]);
  tdxVec[0] = r.int(9);
  const attrs = pl.qe.attributes.slice();
  if (r.chance(0.05)) attrs[0]! |= 0x02;
  if (r.chance(0.05)) attrs[1]! ^= 0x04;
  const platform: PlatformInput = {
    tdx: tee === "tdx",
    cpuSvn: new Uint8Array(cpu),
    pceSvn: Math.max(0, levelPick.pcesvn + (r.chance(0.85) ? r.int(2) : -1)),
    teeTcbSvn: new Uint8Array(tdxVec),
    mrSignerSeam: r.chance(0.95) ? seamSigner : new Uint8Array(48).fill(1),
    seamAttributes: r.chance(0.95) ? new Uint8Array(8) : new Uint8Array([0, 0, 0, 0, 0x10, 0, 0, 0]),
    qeMrSigner: r.chance(0.97) ? pl.qe.mrSigner : new Uint8Array(32).fill(7),
    qeAttributes: attrs,
    qeIsvProdId: r.chance(0.97) ? pl.qe.isvProdId : pl.qe.isvProdId + 1,
    qeMiscSelect: r.chance(0.9) ? 0 : 0x10000,
    qeIsvSvn: r.int(9),
  };
  return { tcbInfo, qeIdentity, platform };
}

export { parseQeIdentity, parseTcbInfo };
