/** Shared by the on-chain DCAP verifier's test and bench: collateral in the contract's layout, the trust root's constructor arguments, outcomes of both verifiers. */
import { readFileSync } from "node:fs";

import { type Abi } from "viem";

import { type Hex } from "../../src/core/bytes.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { TCB_STATUSES, type Collateral } from "../../src/dcap/types.js";
import type { ForgeTcbLevel } from "../../src/testing/forge/index.js";
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

/** The component shapes of Intel's production TDX TCB Info (category / type per index, as Intel publishes them). */
const SGX_COMPONENT_NAMES: ([string, string] | [string] | [])[] = [
  ["BIOS", "Early Microcode Update"],
  ["OS/VMM", "SGX Late Microcode Update"],
  ["OS/VMM", "TXT SINIT"],
  ["BIOS"],
  ["BIOS"],
  ["BIOS"],
  [],
  ["OS/VMM", "SEAMLDR ACM"],
];
const TDX_COMPONENT_NAMES: ([string, string] | [])[] = [
  ["OS/VMM", "TDX Module"],
  ["OS/VMM", "TDX Module"],
  ["OS/VMM", "TDX Late Microcode Update"],
];

/** `{svn}` components given Intel's `category` / `type` strings where Intel's documents have them. */
function intelComponents(list: { svn: number }[], names: ([string, string] | [string] | [])[]): Record<string, unknown>[] {
  return list.map((c, i) => {
    const [category, type] = names[i] ?? [];
    return { svn: c.svn, ...(category ? { category } : {}), ...(type ? { type } : {}) };
  });
}

/**
 * `n` TDX TCB levels the size of Intel's production ones: the platform's own SVNs UpToDate first, then
 * levels with lower PCESVN / SVNs, OutOfDate, with growing advisory ID lists (as in Intel's documents).
 */
export function productionTcbLevels(n: number, cpuSvn: Uint8Array, pceSvn: number, teeTcbSvn: Uint8Array): ForgeTcbLevel[] {
  const levels: ForgeTcbLevel[] = [];
  for (let i = 0; i < n; i++) {
    const lower = (v: number): number => Math.max(0, v - Math.ceil(i / 2));
    levels.push({
      sgx: [...cpuSvn].map(lower),
      pcesvn: Math.max(0, pceSvn - Math.floor(i / 2)),
      tdx: [...teeTcbSvn].map((v, j) => (j < 2 ? v : lower(v))),
      tcbDate: `20${(24 - i).toString().padStart(2, "0")}-03-13T00:00:00Z`,
      tcbStatus: i === 0 ? "UpToDate" : "OutOfDate",
      ...(i === 0 ? {} : { advisoryIDs: Array.from({ length: Math.min(20, 2 + 2 * i) }, (_, k) => `INTEL-SA-${(960 + k).toString().padStart(5, "0")}`) }),
    });
  }
  return levels;
}

/** A forge `tcbInfo.edit` that gives every level's components Intel's `category` / `type` strings. */
export function intelShapedTcbInfo(o: Record<string, unknown>): Record<string, unknown> {
  type Lv = { tcb: { sgxtcbcomponents: { svn: number }[]; tdxtcbcomponents?: { svn: number }[] } };
  for (const lv of o.tcbLevels as Lv[]) {
    lv.tcb.sgxtcbcomponents = intelComponents(lv.tcb.sgxtcbcomponents, SGX_COMPONENT_NAMES) as { svn: number }[];
    if (lv.tcb.tdxtcbcomponents) lv.tcb.tdxtcbcomponents = intelComponents(lv.tcb.tdxtcbcomponents, TDX_COMPONENT_NAMES) as { svn: number }[];
  }
  return o;
}
