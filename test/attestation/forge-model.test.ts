/**
 * A seeded random walk over TCB Info / QE Identity contents: each case is a freshly signed forged
 * world with random platform levels (order, SVNs, PCESVN, statuses, advisories), random TDX module
 * levels and random QE levels. The verifier's status and advisory IDs (or its error) must equal an
 * independent model of the spec written here: canonical level sort, first match with
 * Intel's component skip for tee_tcb_svn[1] > 0, module and QE levels in JSON order, Intel's
 * convergence and the advisory merge order.
 */
import { describe, expect, it } from "vitest";

import { createForgeWorld, forgeQuote, type ForgeIsvLevel, type ForgeTcbLevel } from "../../src/testing/forge/index.js";
import { checkQuote } from "../../src/dcap/verify.js";
import { rng } from "../helpers/rng.js";

const CPU = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const PCESVN = 11;
const TEE = [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const MODULE_SVN = 6;
const QE_SVN = 6;
const STATUSES = ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"];
const CASES = 150;


interface Status {
  status: string;
  advisoryIds: string[];
}

function severity(s: string): number {
  return STATUSES.indexOf(s);
}

function merge(a: Status, b: Status): Status {
  const advisoryIds = [...a.advisoryIds];
  for (const x of b.advisoryIds) if (!advisoryIds.includes(x)) advisoryIds.push(x);
  let status: string;
  if (a.status === "Revoked" || b.status === "Revoked") status = "Revoked";
  else if (b.status === "OutOfDate" && (a.status === "UpToDate" || a.status === "SWHardeningNeeded")) status = "OutOfDate";
  else if (b.status === "OutOfDate" && (a.status === "ConfigurationNeeded" || a.status === "ConfigurationAndSWHardeningNeeded")) status = "OutOfDateConfigurationNeeded";
  else status = severity(b.status) > severity(a.status) ? b.status : a.status;
  return { status, advisoryIds };
}

function cmpList(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

type Expected = { ok: true; status: string; advisoryIds: string[] } | { ok: false; code: string };

function model(levels: ForgeTcbLevel[], moduleLevels: ForgeIsvLevel[], qeLevels: ForgeIsvLevel[]): Expected {
  const qe = qeLevels.find((l) => QE_SVN >= l.isvsvn);
  if (!qe) return { ok: false, code: "QE_TCB_LEVEL_NOT_FOUND" };
  const sorted = levels
    .map((l, i) => ({ l, i }))
    .sort((x, y) => cmpList(y.l.sgx, x.l.sgx) || y.l.pcesvn - x.l.pcesvn || cmpList(y.l.tdx!, x.l.tdx!) || x.i - y.i)
    .map((x) => x.l);
  const skip = TEE[1]! > 0 ? 2 : 0;
  const lvl = sorted.find((l) => PCESVN >= l.pcesvn && l.sgx.every((v, i) => CPU[i]! >= v) && l.tdx!.every((v, i) => i < skip || TEE[i]! >= v));
  if (!lvl) return { ok: false, code: "TCB_LEVEL_NOT_FOUND" };
  const mod = moduleLevels.find((l) => MODULE_SVN >= l.isvsvn);
  if (!mod) return { ok: false, code: "TDX_MODULE_SVN_TOO_LOW" };
  const platform = merge({ status: String(lvl.tcbStatus), advisoryIds: lvl.advisoryIDs ?? [] }, { status: String(mod.tcbStatus), advisoryIds: mod.advisoryIDs ?? [] });
  const final = merge(platform, { status: String(qe.tcbStatus), advisoryIds: qe.advisoryIDs ?? [] });
  if (final.status === "Revoked") return { ok: false, code: "TCB_REVOKED" };
  return { ok: true, ...final };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function advisories(r: () => number): string[] | undefined {
  if (r() < 0.3) return undefined;
  const n = Math.floor(r() * 3);
  return Array.from({ length: n }, () => `INTEL-SA-${String(Math.floor(r() * 6)).padStart(5, "0")}`).filter((v, i, a) => a.indexOf(v) === i);
}

/** `base` with a few components nudged by -1, 0 or +1 (bias towards matching). */
function nudge(r: () => number, base: number[], skipFirstTwo = false): number[] {
  const out = [...base];
  const n = Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    const i = skipFirstTwo && r() < 0.5 ? Math.floor(r() * 2) : Math.floor(r() * 8);
    out[i] = Math.max(0, out[i]! + pick(r, [-1, -1, 0, 1]));
  }
  return out;
}

function isvLevels(r: () => number, own: number): ForgeIsvLevel[] {
  const n = 1 + Math.floor(r() * 3);
  const out: ForgeIsvLevel[] = [];
  for (let k = 0; k < n; k++) {
    const adv = advisories(r);
    out.push({ isvsvn: Math.max(0, own + pick(r, [-3, -2, -1, 0, 0, 1, 2])), tcbStatus: pick(r, STATUSES.slice(0, r() < 0.9 ? 6 : 7)), ...(adv ? { advisoryIDs: adv } : {}) });
  }
  return out;
}

describe("verifier status = model of the spec, over random re-signed worlds", () => {
  it(`${CASES} seeded cases`, async () => {
    const r = rng(0x5eed);
    const seen = new Map<string, number>();
    for (let c = 0; c < CASES; c++) {
      const levels: ForgeTcbLevel[] = [];
      const nLevels = 1 + Math.floor(r() * 4);
      for (let k = 0; k < nLevels; k++) {
        const adv = advisories(r);
        levels.push({
          sgx: nudge(r, CPU),
          pcesvn: PCESVN + pick(r, [-1, 0, 0, 1]),
          tdx: nudge(r, TEE, true),
          tcbStatus: pick(r, STATUSES.slice(0, r() < 0.9 ? 6 : 7)),
          ...(adv ? { advisoryIDs: adv } : {}),
        });
      }
      const moduleLevels = isvLevels(r, MODULE_SVN);
      const qeLevels = isvLevels(r, QE_SVN);
      const w = await createForgeWorld({
        seed: "forge-model",
        tcbInfo: { tcbLevels: levels, tdxModuleIdentities: [{ id: "TDX_01", tcbLevels: moduleLevels }] },
        qeIdentity: { tcbLevels: qeLevels },
      });
      const quote = await forgeQuote(w);
      const got = checkQuote(quote, { collateral: w.collateral, now: w.now, rootCaDer: w.rootCaDer });
      const want = model(levels, moduleLevels, qeLevels);
      const label = `case ${c}: ${JSON.stringify({ levels, moduleLevels, qeLevels })}`;
      if (want.ok) {
        expect(got.ok, label).toBe(true);
        if (got.ok) {
          expect(got.result.status, label).toBe(want.status);
          expect(got.result.advisoryIds, label).toEqual(want.advisoryIds);
        }
        seen.set(want.status, (seen.get(want.status) ?? 0) + 1);
      } else {
        expect(got.ok, label).toBe(false);
        if (!got.ok) expect(got.error.code, label).toBe(want.code);
        seen.set(want.code, (seen.get(want.code) ?? 0) + 1);
      }
    }
    // the walk reaches every status and every error it can produce
    for (const k of [...STATUSES.slice(0, 6), "TCB_LEVEL_NOT_FOUND", "TDX_MODULE_SVN_TOO_LOW", "QE_TCB_LEVEL_NOT_FOUND", "TCB_REVOKED"]) {
      expect(seen.get(k) ?? 0, `outcome ${k} never reached: ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
    }
  });
});
