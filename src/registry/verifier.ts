/**
 * The on-chain DCAP verifier (`contracts/dcap/DcapVerifier.sol`) seen from TypeScript: its collateral
 * layout built from the TypeScript collateral, its constructor arguments for a trust root, its step
 * names, and its reverts and results read back in the TypeScript verifier's terms.
 */
import { decodeErrorResult, keccak256 } from "viem";

import { bytesToHex, hexToBytes, utf8, type Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { parseQuote, quotePckChain } from "../dcap/quote.js";
import { parseTcbInfo } from "../dcap/tcb-info.js";
import { TCB_STATUSES, type Collateral, type TcbStatus } from "../dcap/types.js";
import { parseCertificate, pemBlocks, toPem } from "../dcap/x509.js";
import { dcapVerifierAbi } from "./generated/dcap-verifier-abi.js";

/** The verifier's step names, in the order of the contract's `Step` enum (the TypeScript check names). */
export const VERIFIER_STEPS = [
  "quote.parse",
  "quote.header",
  "root-ca.crl",
  "tcb-info.validity",
  "tcb-info.chain",
  "tcb-info.signature",
  "qe-identity.validity",
  "qe-identity.chain",
  "qe-identity.signature",
  "qe-identity.id",
  "pck.chain",
  "pck.extension",
  "qe-report.signature",
  "qe-report.binding",
  "qe-identity.policy",
  "quote.signature",
  "tcb.fmspc",
  "tcb.level",
  "tcb.tdx-module",
  "tcb.status",
  "report.policy",
] as const;
export type VerifierStep = (typeof VERIFIER_STEPS)[number];

/** The contract's `Reason` enum, in order. */
export const VERIFIER_REASONS = [
  "HeaderInvalid",
  "IssuerMismatch",
  "SignatureInvalid",
  "NotYetValid",
  "Expired",
  "Revoked",
  "CertificateInvalid",
  "NotTcbSigning",
  "NotPckCa",
  "StatusRevoked",
  "ServiceTdNotZero",
  "ReservedAttributes",
  "DebugTd",
  "SeptVeDisableClear",
] as const;

/** The step in which a reading library's own custom error is raised (see the contract's notes). */
const LIBRARY_ERROR_STEP: [prefix: string, step: VerifierStep][] = [
  ["Quote", "quote.parse"],
  ["QeIdentityMismatch", "qe-identity.id"],
  ["Qe", "qe-identity.policy"],
  ["SgxExtensionMissing", "pck.extension"],
  ["SgxFieldInvalid", "pck.extension"],
  ["FmspcMismatch", "tcb.fmspc"],
  ["PceIdMismatch", "tcb.fmspc"],
  ["TcbInfoTeeMismatch", "tcb.fmspc"],
  ["TcbLevel", "tcb.level"],
  // TcbInfo's reading errors: raised while the TCB Info is read, in tcb-info.validity
  ["TcbTypeUnsupported", "tcb-info.validity"],
  ["TcbComponentCount", "tcb-info.validity"],
  ["TdxModule", "tcb.tdx-module"],
];

/** The contract's `Collateral` struct. */
export type OnChainCollateral = {
  tcbInfoJson: Hex;
  tcbInfoSignature: Hex;
  qeIdentityJson: Hex;
  qeIdentitySignature: Hex;
  tcbSigningCert: Hex;
  pckCaCert: Hex;
  pckLeafCert: Hex;
  pckCrl: Hex;
  rootCaCrl: Hex;
  qeIdentitySigningCert: Hex;
};

/**
 * The contract's `Collateral` from the TypeScript collateral: the documents' exact text and raw
 * signatures, the first certificate of each issuer chain (the QE Identity's only when it differs from
 * the TCB Info's), the PCK chain of the collateral or else the quote's own certification data, both CRLs.
 */
export function toOnChainCollateral(quote: Uint8Array, c: Collateral): OnChainCollateral {
  const pck = c.pckCertificateChain ? pemBlocks(c.pckCertificateChain).map((d) => parseCertificate(d)) : quotePckChain(parseQuote(quote));
  const tcbSigner = pemBlocks(c.tcbInfoIssuerChain)[0];
  const qeSigner = pemBlocks(c.qeIdentityIssuerChain)[0];
  if (!tcbSigner || !qeSigner || !pck[0] || !pck[1]) throw new Error("collateral lacks a signing certificate or the PCK chain");
  return {
    tcbInfoJson: bytesToHex(utf8(c.tcbInfo)),
    tcbInfoSignature: bytesToHex(c.tcbInfoSignature),
    qeIdentityJson: bytesToHex(utf8(c.qeIdentity)),
    qeIdentitySignature: bytesToHex(c.qeIdentitySignature),
    tcbSigningCert: bytesToHex(tcbSigner),
    pckCaCert: bytesToHex(pck[1].der),
    pckLeafCert: bytesToHex(pck[0].der),
    pckCrl: bytesToHex(c.pckCrl),
    rootCaCrl: bytesToHex(c.rootCaCrl),
    qeIdentitySigningCert: sameBytes(tcbSigner, qeSigner) ? "0x" : bytesToHex(qeSigner),
  };
}

/**
 * The TypeScript `Collateral` from the contract's (e.g. as published in `KmsCollateralPublished`): the documents'
 * text and signatures as they are, and PEM issuer chains made of the published certificates and the root the
 * auditor trusts (`rootDer`: Intel's pinned root, or `--root-ca`), which the chain does not carry. The published PCK
 * chain (leaf, CA) becomes `pckCertificateChain`, so the quote is verified against exactly the certificates the
 * registration was verified with. Throws `InputError` (`BAD_ONCHAIN_COLLATERAL`) for a document that is not UTF-8
 * text or a missing certificate.
 */
export function fromOnChainCollateral(c: OnChainCollateral, rootDer: Uint8Array): Collateral {
  const bytes = (h: Hex, field: string) => {
    const b = hexToBytes(h, field);
    if (!b.length && field !== "qeIdentitySigningCert") throw new InputError("BAD_ONCHAIN_COLLATERAL", `on-chain collateral: ${field} is empty`);
    return b;
  };
  const text = (h: Hex, field: string) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes(h, field));
    } catch {
      throw new InputError("BAD_ONCHAIN_COLLATERAL", `on-chain collateral: ${field} is not UTF-8 text`);
    }
  };
  const root = toPem(rootDer);
  const tcbSigner = bytes(c.tcbSigningCert, "tcbSigningCert");
  const qeSigner = bytes(c.qeIdentitySigningCert, "qeIdentitySigningCert");
  const pckCa = bytes(c.pckCaCert, "pckCaCert");
  return {
    pckCrlIssuerChain: toPem(pckCa) + root,
    rootCaCrl: bytes(c.rootCaCrl, "rootCaCrl"),
    pckCrl: bytes(c.pckCrl, "pckCrl"),
    tcbInfoIssuerChain: toPem(tcbSigner) + root,
    tcbInfo: text(c.tcbInfoJson, "tcbInfoJson"),
    tcbInfoSignature: bytes(c.tcbInfoSignature, "tcbInfoSignature"),
    qeIdentityIssuerChain: toPem(qeSigner.length ? qeSigner : tcbSigner) + root,
    qeIdentity: text(c.qeIdentityJson, "qeIdentityJson"),
    qeIdentitySignature: bytes(c.qeIdentitySignature, "qeIdentitySignature"),
    pckCertificateChain: toPem(bytes(c.pckLeafCert, "pckLeafCert")) + toPem(pckCa) + root,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The verifier's constructor arguments for the root certificate `der`: key x, y, keccak256(subject), serial. */
export function verifierRootArgs(der: Uint8Array): [Hex, Hex, Hex, bigint] {
  const root = parseCertificate(der);
  const key = root.spki.subarray(root.spki.length - 64);
  return [bytesToHex(key.subarray(0, 32)), bytesToHex(key.subarray(32)), keccak256(root.subject), BigInt(`0x${root.serial}`)];
}

/** A revert of the verifier, in the TypeScript verifier's terms. */
export type VerifierRevert = { step: VerifierStep | string; error: string; reason?: string };

/**
 * The step a verifier revert names: `VerificationFailed`'s step, or the step of a reading library's error.
 * An `IntelJson` reading error (`Json…`) does not say which document it read: the TCB Info is read in
 * tcb-info.validity, before the QE Identity in qe-identity.validity, so with `hint.tcbInfo` (the TCB Info
 * text sent) the step is tcb-info.validity when that text does not read as a TCB Info, else
 * qe-identity.validity; without the hint it is the error's name.
 */
export function decodeVerifierRevert(data: Hex, hint: { tcbInfo?: string } = {}): VerifierRevert {
  let e: { errorName: string; args?: readonly unknown[] };
  try {
    e = decodeErrorResult({ abi: dcapVerifierAbi, data }) as { errorName: string; args?: readonly unknown[] };
  } catch {
    return { step: "unknown", error: `undecodable revert ${data.slice(0, 10)}` };
  }
  if (e.errorName === "VerificationFailed") {
    const [step, reason] = (e.args ?? []) as readonly [number, number];
    return { step: VERIFIER_STEPS[Number(step)] ?? `step ${step}`, error: e.errorName, reason: VERIFIER_REASONS[Number(reason)] ?? `reason ${reason}` };
  }
  if (e.errorName.startsWith("Json") && hint.tcbInfo !== undefined) return { step: readsAsTcbInfo(hint.tcbInfo) ? "qe-identity.validity" : "tcb-info.validity", error: e.errorName };
  const hit = LIBRARY_ERROR_STEP.find(([prefix]) => e.errorName.startsWith(prefix));
  return { step: hit ? hit[1] : e.errorName, error: e.errorName };
}

function readsAsTcbInfo(text: string): boolean {
  try {
    parseTcbInfo(text);
    return true;
  } catch {
    return false;
  }
}

/** The contract's `Result`, read back. */
export type OnChainResult = {
  status: TcbStatus;
  advisoryIds: string[];
  fmspc: string;
  tcbDate: string;
  earliestNextUpdate: number;
  reportData: Hex;
  mrTd: Hex;
  rtMrs: Hex[];
  tdAttributes: Hex;
  isIntelRoot: boolean;
  tcbInfoIssueDate: number;
  tcbEvaluationDataNumber: number;
};

/** The verifier's `Result` as viem decodes it, in TypeScript terms (status by Intel's name, fmspc in lower-case hex). */
export function fromOnChainResult(r: {
  status: number;
  advisoryIds: readonly string[];
  fmspc: Hex;
  tcbDate: string;
  earliestNextUpdate: bigint;
  reportData: Hex;
  mrTd: Hex;
  rtMrs: readonly Hex[];
  tdAttributes: Hex;
  isIntelRoot: boolean;
  tcbInfoIssueDate: bigint;
  tcbEvaluationDataNumber: bigint;
}): OnChainResult {
  const status = TCB_STATUSES[Number(r.status)];
  if (!status) throw new Error(`verifier returned an unknown status ${r.status}`);
  return {
    status,
    advisoryIds: [...r.advisoryIds],
    fmspc: r.fmspc.slice(2).toLowerCase(),
    tcbDate: r.tcbDate,
    earliestNextUpdate: Number(r.earliestNextUpdate),
    reportData: r.reportData,
    mrTd: r.mrTd,
    rtMrs: [...r.rtMrs],
    tdAttributes: r.tdAttributes,
    isIntelRoot: r.isIntelRoot,
    tcbInfoIssueDate: Number(r.tcbInfoIssueDate),
    tcbEvaluationDataNumber: Number(r.tcbEvaluationDataNumber),
  };
}
