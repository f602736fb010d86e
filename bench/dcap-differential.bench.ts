/**
 * The long differential run of the on-chain DCAP verifier (contracts/dcap/DcapVerifier.sol) against the
 * TypeScript one (src/dcap/verify.ts): ≥ 1,000 seeded random forged worlds (random TCB levels, statuses,
 * module identities, QE identities, dates, revocations, TD attributes, corruptions) and every TDX path of
 * the forge tests, each verified by both, compared on accept/reject, status, advisory IDs, FMSPC and the
 * failing step. Prints one JSON object: counts by outcome and step, and every disagreement with its seed
 * and both verdicts.
 *
 *   npx tsx bench/dcap-differential.bench.ts            # 1,000 worlds from seed 1
 *   DIFF_WORLDS=5000 DIFF_SEED=7 npx tsx bench/dcap-differential.bench.ts
 *
 * The verifier's runtime code is larger than the 24 KiB deployment limit, so the simulated network allows
 * unlimited code size (hardfork osaka, for the P-256 precompile).
 */
import { network } from "hardhat";

import { FORGE_CASES, randomCase, runCase, type DiffCase, type DiffResult, type VerifierFor, type VerifyRead } from "../test/contracts/dcap-differential-lib.js";
import { PENDING_SOLIDITY } from "../test/contracts/dcap-differential-pending.js";

const WORLDS = Number(process.env.DIFF_WORLDS ?? 1000);
const SEED = Number(process.env.DIFF_SEED ?? 1);
const CONCURRENCY = 4;

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

async function runAll(cases: DiffCase[]): Promise<DiffResult[]> {
  const out: DiffResult[] = new Array<DiffResult>(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < cases.length; i = next++) out[i] = await runCase(cases[i]!, verifierFor);
    }),
  );
  return out;
}

function summary(results: DiffResult[], seedOf: (i: number) => number | string) {
  const byOutcome: Record<string, number> = {};
  const byStep: Record<string, number> = {};
  const disagreements: unknown[] = [];
  let agreed = 0;
  let pending = 0;
  results.forEach((r, i) => {
    const k = r.ts.ok ? `accepted:${r.ts.status}` : "rejected";
    byOutcome[k] = (byOutcome[k] ?? 0) + 1;
    if (!r.ts.ok) byStep[r.ts.step] = (byStep[r.ts.step] ?? 0) + 1;
    if (r.agree) agreed++;
    else {
      const known = PENDING_SOLIDITY[r.name] !== undefined || r.differences.every((d) => Object.values(PENDING_SOLIDITY).some((p) => p.includes(d)));
      if (known) pending++;
      disagreements.push({ seed: seedOf(i), case: r.name, typescript: r.ts, onChain: r.chain, differences: r.differences, knownPending: known });
    }
  });
  return { cases: results.length, agreed, disagreed: results.length - agreed, disagreedKnownPending: pending, byOutcome, byStep, disagreements };
}

const t0 = performance.now();
const forge = await runAll(FORGE_CASES);
const random = await runAll(Array.from({ length: WORLDS }, (_, i) => randomCase(SEED + i)));
const r = summary(random, (i) => SEED + i);
process.stdout.write(
  JSON.stringify(
    {
      bench: "DcapVerifier vs verifyQuote differential",
      hardfork: "osaka",
      seed: SEED,
      worlds: WORLDS,
      agreed: r.agreed,
      disagreed: r.disagreed,
      disagreedKnownPending: r.disagreedKnownPending,
      byOutcome: r.byOutcome,
      byStep: r.byStep,
      disagreements: r.disagreements,
      forgeCases: summary(forge, (i) => FORGE_CASES[i]!.name),
      verifiersDeployed: verifiers.size,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    },
    null,
    2,
  ) + "\n",
);
