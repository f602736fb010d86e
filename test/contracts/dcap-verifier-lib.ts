/** Shared by the on-chain DCAP verifier's test and bench: collateral in the contract's layout, the trust root's constructor arguments, outcomes of both verifiers. */
import { readFileSync } from "node:fs";

import { type Abi } from "viem";

import { type Hex } from "../../src/core/bytes.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { TCB_STATUSES, type Collateral } from "../../src/dcap/types.js";
import { checkQuote } from "../../src/dcap/verify.js";
import { decodeVerifierRevert, toOnChainCollateral, VERIFIER_STEPS, verifierRootArgs } from "../../src/registry/verifier.js";

export const STEPS = VERIFIER_STEPS;

/** The contract's status enum is in the order of `TCB_STATUSES`, Intel's names. */
export const TCB_STATUS_NAMES = TCB_STATUSES;

export type Outcome = { ok: true; status: string; advisoryIds: string[]; fmspc: string } | { ok: false; step: string };

/** The contract's `Collateral` built from the TS collateral and the quote's own PCK chain (leaf, CA). */
export const chainCollateral = toOnChainCollateral;

/** The verifier's constructor arguments for the root certificate `der`: key x, y, keccak256(subject), serial. */
export const rootArgs = verifierRootArgs;

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
export function revertStep(_abi: Abi, data: Hex): string {
  return decodeVerifierRevert(data).step;
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
