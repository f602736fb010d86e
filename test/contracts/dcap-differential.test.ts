/**
 * The on-chain DCAP verifier and the TypeScript one agree — accept/reject, TCB status, advisory IDs, FMSPC and
 * the failing step — on every TDX path of the TypeScript verifier's forge tests (rebuilt with the forge and
 * signed correctly) and on seeded random forged worlds. The longer run (≥ 1,000 worlds) is
 * bench/dcap-differential.bench.ts. A case listed in PENDING_SOLIDITY is a known disagreement whose fix
 * belongs to the contract: it must still disagree exactly as recorded (so the list is kept honest).
 */
import { network } from "hardhat";
import { describe, expect, it } from "vitest";

import { FORGE_CASES, randomCase, runCase, type DiffResult, type VerifierFor, type VerifyRead } from "./dcap-differential-lib.js";
import { PENDING_SOLIDITY } from "./dcap-differential-pending.js";

const { viem } = await network.connect({ override: { hardfork: "osaka", allowUnlimitedContractSize: true } });
const verifiers = new Map<string, Promise<VerifyRead>>();
const verifierFor: VerifierFor = (_root, args) => {
  const key = args.join(":");
  let v = verifiers.get(key);
  if (!v) {
    v = viem.deployContract("DcapVerifier", args).then((c) => (a) => c.read.verify(a));
    verifiers.set(key, v);
  }
  return v;
};

/** How many seeded random worlds run here (the bench runs ≥ 1,000). */
const RANDOM_WORLDS = 16;
const RANDOM_SEED = 0x5eed;

function expectAgreement(r: DiffResult): void {
  const pending = PENDING_SOLIDITY[r.name];
  if (pending) {
    expect(r.differences, `${r.name} is listed as a pending contract disagreement`).toEqual(pending);
    return;
  }
  expect(r.differences, `${r.name}: TypeScript ${JSON.stringify(r.ts)}, on chain ${JSON.stringify(r.chain)}`).toEqual([]);
}

// the cases run side by side (the TypeScript work of one overlaps the chain calls of another)
describe.concurrent("differential: the TypeScript verifier's TDX rejection paths, forged and signed correctly", () => {
  it.each(FORGE_CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    expectAgreement(await runCase(c, verifierFor));
  });

});

describe(`differential: ${RANDOM_WORLDS} seeded random forged worlds`, () => {
  it("agree on every world", async () => {
    const outcomes = new Map<string, number>();
    const results = await Promise.all(Array.from({ length: RANDOM_WORLDS }, (_, i) => runCase(randomCase(RANDOM_SEED + i), verifierFor)));
    for (const r of results) {
      expectAgreement(r);
      const k = r.ts.ok ? `ok:${r.ts.status}` : `reject:${r.ts.step}`;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    }
    // the generator reaches both verdicts and several steps even in a short run
    expect([...outcomes.keys()].some((k) => k.startsWith("ok:"))).toBe(true);
    expect([...outcomes.keys()].filter((k) => k.startsWith("reject:")).length).toBeGreaterThan(2);
  });
});
