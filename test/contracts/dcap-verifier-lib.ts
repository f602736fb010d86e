/** Shared by the on-chain DCAP verifier's test and bench: collateral in the contract's layout, the trust root's constructor arguments, outcomes of both verifiers. */
import { readFileSync } from "node:fs";

import { decodeErrorResult, keccak256, type Abi } from "viem";

import { bytesToHex, utf8, type Hex } from "../../src/core/bytes.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { parseQuote, quotePckChain } from "../../src/dcap/quote.js";
import { TCB_STATUSES, type Collateral } from "../../src/dcap/types.js";
import { checkQuote } from "../../src/dcap/verify.js";
import { parseCertificate, pemBlocks } from "../../src/dcap/x509.js";

/** The verifier's step names, in the order of the contract's `Step` enum. */
export const STEPS = [
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

/** The contract's status enum is in the order of `TCB_STATUSES`, Intel's names. */
export const TCB_STATUS_NAMES = TCB_STATUSES;

/** The step in which a reading library's own error is raised (see the contract's notes). */
const LIBRARY_ERROR_STEP: [prefix: string, step: string][] = [
  ["Quote", "quote.parse"],
  ["QeIdentityMismatch", "qe-identity.id"],
  ["Qe", "qe-identity.policy"],
  ["SgxExtensionMissing", "pck.extension"],
  ["SgxFieldInvalid", "pck.extension"],
  ["FmspcMismatch", "tcb.fmspc"],
  ["PceIdMismatch", "tcb.fmspc"],
  ["TcbInfoTeeMismatch", "tcb.fmspc"],
  ["TcbLevel", "tcb.level"],
  ["TdxModule", "tcb.tdx-module"],
];

export type Outcome = { ok: true; status: string; advisoryIds: string[]; fmspc: string } | { ok: false; step: string };

/** The contract's `Collateral` built from the TS collateral and the quote's own PCK chain (leaf, CA). */
export function chainCollateral(quote: Uint8Array, c: Collateral) {
  const pck = c.pckCertificateChain ? pemBlocks(c.pckCertificateChain).map((d) => parseCertificate(d)) : quotePckChain(parseQuote(quote));
  return {
    tcbInfoJson: bytesToHex(utf8(c.tcbInfo)),
    tcbInfoSignature: bytesToHex(c.tcbInfoSignature),
    qeIdentityJson: bytesToHex(utf8(c.qeIdentity)),
    qeIdentitySignature: bytesToHex(c.qeIdentitySignature),
    tcbSigningCert: bytesToHex(pemBlocks(c.tcbInfoIssuerChain)[0]!),
    pckCaCert: bytesToHex(pck[1]!.der),
    pckLeafCert: bytesToHex(pck[0]!.der),
    pckCrl: bytesToHex(c.pckCrl),
    rootCaCrl: bytesToHex(c.rootCaCrl),
  };
}

/** The verifier's constructor arguments for the root certificate `der`: key x, y, keccak256(subject), serial. */
export function rootArgs(der: Uint8Array): [Hex, Hex, Hex, bigint] {
  const root = parseCertificate(der);
  const key = root.spki.subarray(root.spki.length - 64);
  return [bytesToHex(key.subarray(0, 32)), bytesToHex(key.subarray(32)), keccak256(root.subject), BigInt(`0x${root.serial}`)];
}

export function readCollateral(path: string | URL): Collateral {
  return parseCollateralJson(readFileSync(path, "utf8"));
}

/** The TypeScript verifier's outcome: the result or the failing step. */
export function tsOutcome(quote: Uint8Array, collateral: Collateral, now: number, rootCaDer?: Uint8Array): Outcome {
  const r = checkQuote(quote, { collateral, now, ...(rootCaDer ? { rootCaDer } : {}) });
  if (r.ok) return { ok: true, status: r.result.status, advisoryIds: r.result.advisoryIds, fmspc: r.result.pck.fmspc };
  return { ok: false, step: r.checks.at(-1)?.name ?? "?" };
}

/** The step a revert names: `VerificationFailed`'s step, or the step of a library error. */
export function revertStep(abi: Abi, data: Hex): string {
  const e = decodeErrorResult({ abi, data });
  if (e.errorName === "VerificationFailed") return STEPS[Number((e.args as readonly [number, number])[0])]!;
  const hit = LIBRARY_ERROR_STEP.find(([prefix]) => e.errorName.startsWith(prefix));
  return hit ? hit[1] : e.errorName;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Revert data of a failed `eth_call`, searched through viem's error causes. */
export function revertData(e: any): Hex | undefined {
  for (let x = e; x; x = x.cause) {
    if (typeof x.data === "string" && x.data.startsWith("0x")) return x.data as Hex;
    if (typeof x.raw === "string" && x.raw.startsWith("0x")) return x.raw as Hex;
    if (x.data && typeof x.data.data === "string") return x.data.data as Hex;
  }
  return undefined;
}

export function chainResultOutcome(r: any): Outcome {
  return { ok: true, status: TCB_STATUS_NAMES[Number(r.status)]!, advisoryIds: [...r.advisoryIds], fmspc: (r.fmspc as string).toLowerCase() };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
