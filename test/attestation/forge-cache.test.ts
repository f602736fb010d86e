/**
 * The verification cache must never change a result. Worlds made from the same seed share keys and
 * certificates but differ in one signed detail (a CRL, a signature, a status, a date); verifying them
 * interleaved through ONE shared cache must give exactly what a fresh, cache-less verification gives.
 */
import { describe, expect, it } from "vitest";

import { createForgeWorld, forgeQuote, type ForgeQuoteOptions, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { createVerificationCache } from "../../src/dcap/cache.js";
import { checkQuote } from "../../src/dcap/verify.js";

const CPU = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const TEE = [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

const VARIANTS: [string, ForgeWorldOptions, ForgeQuoteOptions?, number?][] = [
  ["good", {}],
  ["pck CRL wrong key", { pckCrl: { signWithWrongKey: true } }],
  ["root CRL wrong key", { rootCrl: { signWithWrongKey: true } }],
  ["leaf revoked", { revoke: { pckLeaf: true } }],
  ["TCB info wrong key", { tcbInfo: { signWithWrongKey: true } }],
  ["QE identity wrong key", { qeIdentity: { signWithWrongKey: true } }],
  ["OutOfDate level", { tcbInfo: { tcbLevels: [{ sgx: CPU, pcesvn: 11, tdx: TEE, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-1"] }] } }],
  ["QE mrsigner", { qeIdentity: { mrsigner: "00".repeat(32) } }],
  ["quote signed by another key", {}, { signQuoteWithWrongKey: true }],
  ["QE report signed by another key", {}, { signQeReportWithWrongKey: true }],
  ["debug TD", {}, { tdAttributes: "0100001000000000" }],
  ["expired CRL (time only)", {}, {}, 1767225600 + 31 * 86400],
  ["good again", {}],
];

describe("results are identical with and without a shared verification cache", () => {
  it("over interleaved variants of one seeded world, three rounds", async () => {
    const prepared = [];
    for (const [name, wo, qo, at] of VARIANTS) {
      const w = await createForgeWorld({ seed: "forge-cache", ...wo });
      prepared.push({ name, w, quote: await forgeQuote(w, { reportData: "0x77", ...qo }), now: at ?? w.now });
    }
    const summary = (r: ReturnType<typeof checkQuote>) =>
      r.ok ? ({ ok: true, status: r.result.status, advisoryIds: r.result.advisoryIds, checks: r.result.checks } as const) : ({ ok: false, error: r.error, checks: r.checks } as const);
    const fresh = prepared.map((p) => summary(checkQuote(p.quote, { collateral: p.w.collateral, now: p.now, rootCaDer: p.w.rootCaDer })));
    // the variants really differ
    expect(fresh.filter((f) => f.ok)).toHaveLength(3);
    expect(new Set(fresh.map((f) => (f.ok ? f.status : f.error.code))).size).toBeGreaterThanOrEqual(10);

    const cache = createVerificationCache();
    for (let round = 0; round < 3; round++) {
      const order = round === 1 ? [...prepared.keys()].reverse() : [...prepared.keys()];
      for (const i of order) {
        const p = prepared[i]!;
        const cached = summary(checkQuote(p.quote, { collateral: p.w.collateral, now: p.now, rootCaDer: p.w.rootCaDer, cache }));
        expect(cached, `${p.name}, round ${round}`).toEqual(fresh[i]);
      }
    }
    expect(cache.size).toBeGreaterThan(0);
  });

  it("a tiny cache that keeps evicting gives the same results", async () => {
    const cache = createVerificationCache({ maxEntries: 2 });
    for (const [name, wo, qo] of VARIANTS.slice(0, 6)) {
      const w = await createForgeWorld({ seed: "forge-cache", ...wo });
      const q = await forgeQuote(w, qo);
      const a = checkQuote(q, { collateral: w.collateral, now: w.now, rootCaDer: w.rootCaDer });
      const b = checkQuote(q, { collateral: w.collateral, now: w.now, rootCaDer: w.rootCaDer, cache });
      expect(b.ok, name).toBe(a.ok);
      if (!a.ok && !b.ok) expect(b.error, name).toEqual(a.error);
    }
  });
});
