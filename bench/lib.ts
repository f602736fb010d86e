/** Shared benchmark helpers (not a benchmark itself: `bench/run.mjs` runs only `*.bench.*`). */
import { readFileSync } from "node:fs";

import { keccak256, type Hex } from "viem";

/** Where solady's `P256` looks for its Solidity P-256 verifier when a chain has no precompile. */
export const SOLADY_P256_VERIFIER = "0x000000000000D01eA45F9eFD5c54f037Fa57Ea1a";
const SOLADY_P256_VERIFIER_CODEHASH = "0x9933b3f70809361dcfebe1f731b129890454cc29af5b32840dcae92400a8826b";

/** Install solady's P-256 verifier contract (test/fixtures/solady-p256-verifier, checked against its code hash) at its canonical address. */
export async function installSoladyP256Verifier(test: { setCode: (a: { address: Hex; bytecode: Hex }) => Promise<unknown> }): Promise<void> {
  const code = `0x${readFileSync(new URL("../test/fixtures/solady-p256-verifier/runtime.hex", import.meta.url), "utf8").trim()}` as Hex;
  if (keccak256(code) !== SOLADY_P256_VERIFIER_CODEHASH) throw new Error("solady P-256 verifier bytecode does not match its code hash");
  await test.setCode({ address: SOLADY_P256_VERIFIER, bytecode: code });
}

/** Median wall time in ms (3 decimals) of `n` runs of `fn`, after `warmup` untimed runs. */
export async function timeMedian(n: number, fn: () => Promise<unknown> | unknown, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return Math.round(t[Math.floor(n / 2)]! * 1000) / 1000;
}
