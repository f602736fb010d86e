/**
 * The signed collateral JSON of a forged world: TCB Info v3 and QE Identity v2, serialised compactly and
 * signed (raw `r‖s` over the UTF-8 text) by the TCB Signing key — or, to test the verifier's chain step,
 * by another of the world's keys, whose certificate chain then becomes the document's issuer chain.
 */
import { hexToBytes, utf8 } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { isoSeconds } from "../../core/time.js";
import type { TcbStatus } from "../../dcap/types.js";
import { DAY, optionBytes, upperHex, type BytesLike, type ForgeTee, type WorldFrame } from "./common.js";
import type { ForgeCerts } from "./certs.js";
import type { ForgePlatform } from "./platform.js";
import { signRaw, type Secrets } from "./secrets.js";

export interface ForgeTcbLevel {
  /** 16 SGX component SVNs (compared with the PCK CPUSVN). */
  sgx: number[];
  pcesvn: number;
  /** 16 TDX component SVNs (compared with `tee_tcb_svn`); TDX worlds only. */
  tdx?: number[];
  tcbDate?: string;
  tcbStatus: TcbStatus | string;
  advisoryIDs?: string[];
}

export interface ForgeIsvLevel {
  isvsvn: number;
  tcbDate?: string;
  tcbStatus: TcbStatus | string;
  advisoryIDs?: string[];
}

export interface ForgeModuleIdentity {
  /** e.g. `TDX_01` */
  id: string;
  mrsigner?: BytesLike;
  attributes?: BytesLike;
  attributesMask?: BytesLike;
  tcbLevels: ForgeIsvLevel[];
}

/**
 * Which key signs `tcb_info` / `qe_identity`; the issuer chain in the collateral is that key's
 * certificate and its chain to the root. `"tcbSigning"` (default) is right; every other choice is a
 * wrong signer the verifier must refuse at the chain step: the PCK leaf (a PCK key extracted from
 * one platform signing its own TCB Info), the PCK CA, the root itself, or `"other"`, the world's
 * extra certificate (`otherSigner`; by default a root-issued end entity not named TCB Signing).
 */
export type ForgeCollateralSigner = "tcbSigning" | "pckLeaf" | "pckCa" | "root" | "other";

export interface ForgeTcbInfoOptions {
  issueDate?: number;
  nextUpdate?: number;
  /** Default 3. */
  version?: number;
  /** Default: the PCK FMSPC. */
  fmspc?: BytesLike;
  tcbEvaluationDataNumber?: number;
  /** Default: one `UpToDate` level equal to the default CPUSVN / PCESVN / TEE TCB SVN, then an `OutOfDate` one. */
  tcbLevels?: ForgeTcbLevel[];
  /** `tdxModule` (TDX). `null` leaves the field out. */
  tdxModule?: { mrsigner?: BytesLike; attributes?: BytesLike; attributesMask?: BytesLike } | null;
  /** Default: `TDX_01` with levels isvsvn 4 UpToDate, 2 OutOfDate, like Intel's. `[]` or `null` leaves it empty / out. */
  tdxModuleIdentities?: ForgeModuleIdentity[] | null;
  /** Last word on the JSON object before it is serialised and signed. */
  edit?: (tcbInfo: Record<string, unknown>) => Record<string, unknown> | void;
  /** Sign exactly this text instead of the generated JSON. */
  text?: string;
  /** Sign with an unrelated key (bad signature, good chain). */
  signWithWrongKey?: boolean;
  /** Sign with this certificate's key and make its chain `tcb_info_issuer_chain` (default `collateralSigner`). */
  signer?: ForgeCollateralSigner;
}

export interface ForgeQeIdentityOptions {
  issueDate?: number;
  nextUpdate?: number;
  /** Default `TD_QE` (TDX) / `QE` (SGX). */
  id?: string;
  version?: number;
  /** Defaults: the forge's QE (Intel's values: mrsigner DC9E2A7C…, isvprodid 2 (TDX) / 1 (SGX)). */
  mrsigner?: BytesLike;
  isvprodid?: number;
  miscselect?: BytesLike;
  miscselectMask?: BytesLike;
  attributes?: BytesLike;
  attributesMask?: BytesLike;
  /** Default: isvsvn 4 → UpToDate. */
  tcbLevels?: ForgeIsvLevel[];
  edit?: (qeIdentity: Record<string, unknown>) => Record<string, unknown> | void;
  text?: string;
  signWithWrongKey?: boolean;
  /** Sign with this certificate's key and make its chain `qe_identity_issuer_chain` (default `collateralSigner`). */
  signer?: ForgeCollateralSigner;
}

/** Options of the world's signed collateral JSON. */
export interface ForgeCollateralOptions {
  /** Who signs both `tcb_info` and `qe_identity` (default `"tcbSigning"`); `tcbInfo.signer` / `qeIdentity.signer` override it per document. */
  collateralSigner?: ForgeCollateralSigner;
  tcbInfo?: ForgeTcbInfoOptions;
  qeIdentity?: ForgeQeIdentityOptions;
}

const SIGNER_CHOICES: readonly ForgeCollateralSigner[] = ["tcbSigning", "pckLeaf", "pckCa", "root", "other"];

/** The signers of TCB Info and QE Identity, checked against the known choices. */
export function collateralSigners(opts: ForgeCollateralOptions): { tcbInfo: ForgeCollateralSigner; qeIdentity: ForgeCollateralSigner } {
  const tcbInfo = opts.tcbInfo?.signer ?? opts.collateralSigner ?? "tcbSigning";
  const qeIdentity = opts.qeIdentity?.signer ?? opts.collateralSigner ?? "tcbSigning";
  for (const choice of [tcbInfo, qeIdentity]) {
    if (!SIGNER_CHOICES.includes(choice)) throw new UsageError(`forge: unknown collateral signer ${JSON.stringify(choice)} (one of ${SIGNER_CHOICES.join(", ")})`);
  }
  return { tcbInfo, qeIdentity };
}

export function signerKey(s: Secrets, choice: ForgeCollateralSigner): Uint8Array {
  switch (choice) {
    case "tcbSigning":
      return s.tcbSigning.sk;
    case "pckLeaf":
      return s.pckLeaf.sk;
    case "pckCa":
      return s.pckCa.sk;
    case "root":
      return s.root.sk;
    case "other":
      if (!s.other) throw new UsageError('forge: this world has no "other" signer (make it with collateralSigner, tcbInfo.signer or qeIdentity.signer "other")');
      return s.other.sk;
    default:
      throw new UsageError(`forge: unknown collateral signer ${JSON.stringify(choice)}`);
  }
}

/** PEM issuer chain of a collateral signer: its certificate, the PCK CA when it issued it, the root. */
export function signerChainPem(certs: ForgeCerts, choice: ForgeCollateralSigner, otherIssuedByPckCa: boolean): string {
  const { root, pckCa, pckLeaf, tcbSigning, other } = certs;
  switch (choice) {
    case "pckLeaf":
      return pckLeaf.pem + pckCa.pem + root.pem;
    case "pckCa":
      return pckCa.pem + root.pem;
    case "root":
      return root.pem;
    case "other":
      return other!.pem + (otherIssuedByPckCa ? pckCa.pem : "") + root.pem;
    default:
      return tcbSigning.pem + root.pem;
  }
}

/** A signed collateral document: its text and the raw signature over it. */
export interface SignedJson {
  text: string;
  signature: Uint8Array;
}

/** Serialise `obj` (after the caller's `edit`), or take the caller's `text`, and sign it with the chosen key. */
function signJson(
  obj: Record<string, unknown>,
  o: { edit?: (obj: Record<string, unknown>) => Record<string, unknown> | void; text?: string; signWithWrongKey?: boolean },
  secrets: Secrets,
  signer: ForgeCollateralSigner,
): SignedJson {
  const edited = o.edit?.(obj) ?? obj;
  const text = o.text ?? JSON.stringify(edited);
  return { text, signature: signRaw(o.signWithWrongKey ? secrets.unrelated.sk : signerKey(secrets, signer), utf8(text)) };
}

/** Two levels: `UpToDate` at the platform's own SVNs, then `OutOfDate` one below with two advisories. */
function defaultTcbLevels(tee: ForgeTee, cpuSvn: Uint8Array, pceSvn: number, teeTcbSvn: Uint8Array): ForgeTcbLevel[] {
  const sgx = [...cpuSvn];
  const tdx = [...teeTcbSvn];
  const lower = (a: number[]): number[] => a.map((v) => (v > 0 ? v - 1 : 0));
  const base: ForgeTcbLevel = { sgx, pcesvn: pceSvn, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "UpToDate" };
  const old: ForgeTcbLevel = {
    sgx: lower(sgx),
    pcesvn: Math.max(0, pceSvn - 1),
    tcbDate: "2018-01-04T00:00:00Z",
    tcbStatus: "OutOfDate",
    advisoryIDs: ["INTEL-SA-00106", "INTEL-SA-00115"],
  };
  if (tee === "tdx") {
    base.tdx = tdx;
    old.tdx = lower(tdx);
  }
  return [base, old];
}

function levelJson(l: ForgeTcbLevel, tee: ForgeTee): Record<string, unknown> {
  const tcb: Record<string, unknown> = { sgxtcbcomponents: l.sgx.map((svn) => ({ svn })), pcesvn: l.pcesvn };
  if (tee === "tdx" || l.tdx !== undefined) tcb.tdxtcbcomponents = (l.tdx ?? []).map((svn) => ({ svn }));
  const out: Record<string, unknown> = { tcb, tcbDate: l.tcbDate ?? "2024-03-13T00:00:00Z", tcbStatus: l.tcbStatus };
  if (l.advisoryIDs !== undefined) out.advisoryIDs = l.advisoryIDs;
  return out;
}

function isvLevelJson(l: ForgeIsvLevel): Record<string, unknown> {
  const out: Record<string, unknown> = { tcb: { isvsvn: l.isvsvn }, tcbDate: l.tcbDate ?? "2024-03-13T00:00:00Z", tcbStatus: l.tcbStatus };
  if (l.advisoryIDs !== undefined) out.advisoryIDs = l.advisoryIDs;
  return out;
}

/** The TDX module fields of TCB Info: `tdxModule` and `tdxModuleIdentities` (default `TDX_01`, isvsvn 4 UpToDate, 2 OutOfDate). */
function tdxModuleJson(ti: ForgeTcbInfoOptions, into: Record<string, unknown>): void {
  const zero48 = new Uint8Array(48);
  const attr0 = new Uint8Array(8);
  const maskFF = new Uint8Array(8).fill(0xff);
  const identity = (m: { mrsigner?: BytesLike; attributes?: BytesLike; attributesMask?: BytesLike }, field: string) => ({
    mrsigner: upperHex(optionBytes(m.mrsigner, `${field}.mrsigner`, undefined, zero48)),
    attributes: upperHex(optionBytes(m.attributes, `${field}.attributes`, undefined, attr0)),
    attributesMask: upperHex(optionBytes(m.attributesMask, `${field}.attributesMask`, undefined, maskFF)),
  });
  if (ti.tdxModule !== null) into.tdxModule = identity(ti.tdxModule ?? {}, "tdxModule");
  if (ti.tdxModuleIdentities !== null) {
    const ids: ForgeModuleIdentity[] = ti.tdxModuleIdentities ?? [
      {
        id: "TDX_01",
        tcbLevels: [
          { isvsvn: 4, tcbStatus: "UpToDate" },
          { isvsvn: 2, tcbDate: "2023-08-09T00:00:00Z", tcbStatus: "OutOfDate" },
        ],
      },
    ];
    into.tdxModuleIdentities = ids.map((m) => ({ id: m.id, ...identity(m, "tdxModuleIdentities"), tcbLevels: m.tcbLevels.map(isvLevelJson) }));
  }
}

export function signedTcbInfo(frame: WorldFrame, ti: ForgeTcbInfoOptions, platform: ForgePlatform, secrets: Secrets, signer: ForgeCollateralSigner): SignedJson {
  const { now, tee } = frame;
  const { pck } = platform;
  const obj: Record<string, unknown> = {
    id: tee === "tdx" ? "TDX" : "SGX",
    version: ti.version ?? 3,
    issueDate: isoSeconds(ti.issueDate ?? now - DAY),
    nextUpdate: isoSeconds(ti.nextUpdate ?? now + 30 * DAY),
    fmspc: upperHex(optionBytes(ti.fmspc, "tcbInfo.fmspc", 6, pck.fmspc)),
    pceId: upperHex(pck.pceId),
    tcbType: 0,
    tcbEvaluationDataNumber: ti.tcbEvaluationDataNumber ?? 17,
  };
  if (tee === "tdx") tdxModuleJson(ti, obj);
  obj.tcbLevels = (ti.tcbLevels ?? defaultTcbLevels(tee, pck.cpuSvn, pck.pceSvn, platform.teeTcbSvn)).map((l) => levelJson(l, tee));
  return signJson(obj, ti, secrets, signer);
}

export function signedQeIdentity(frame: WorldFrame, qi: ForgeQeIdentityOptions, platform: ForgePlatform, secrets: Secrets, signer: ForgeCollateralSigner): SignedJson {
  const { now, tee } = frame;
  const { qe } = platform;
  const obj: Record<string, unknown> = {
    id: qi.id ?? (tee === "tdx" ? "TD_QE" : "QE"),
    version: qi.version ?? 2,
    issueDate: isoSeconds(qi.issueDate ?? now - DAY),
    nextUpdate: isoSeconds(qi.nextUpdate ?? now + 30 * DAY),
    tcbEvaluationDataNumber: 17,
    miscselect: upperHex(optionBytes(qi.miscselect, "qeIdentity.miscselect", undefined, new Uint8Array(4))),
    miscselectMask: upperHex(optionBytes(qi.miscselectMask, "qeIdentity.miscselectMask", undefined, new Uint8Array(4).fill(0xff))),
    attributes: upperHex(optionBytes(qi.attributes, "qeIdentity.attributes", undefined, hexToBytes("11000000000000000000000000000000"))),
    attributesMask: upperHex(optionBytes(qi.attributesMask, "qeIdentity.attributesMask", undefined, hexToBytes("FBFFFFFFFFFFFFFF0000000000000000"))),
    mrsigner: upperHex(optionBytes(qi.mrsigner, "qeIdentity.mrsigner", undefined, qe.mrSigner)),
    isvprodid: qi.isvprodid ?? qe.isvProdId,
    tcbLevels: (qi.tcbLevels ?? [{ isvsvn: tee === "tdx" ? 4 : 8, tcbStatus: "UpToDate" }]).map(isvLevelJson),
  };
  return signJson(obj, qi, secrets, signer);
}
