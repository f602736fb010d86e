/**
 * Gas of the on-chain TDX quote verifier (contracts/dcap/DcapVerifier.sol and the two helpers its
 * constructor deploys), deployed within EIP-170 (no unlimited code size). Prints one JSON object.
 *
 *   npx tsx bench/dcap-verifier.bench.ts
 *
 * Cases: every real TDX quote of test/fixtures/dcap (tdx_quote and the TDX ones of real/, each at the
 * verification time of the fixtures' READMEs, under Intel's root), and forged worlds (the forge's root)
 * whose TCB Info has 4, 12 and 16 TDX levels in the shape and size of Intel's production documents
 * (components with Intel's category / type strings, growing advisory ID lists; Intel's TDX documents
 * list 12+ levels), the platform matching the first level.
 *
 * Two chains: hardfork osaka, with the P-256 precompile at 0x100 (EIP-7951), and hardfork prague, which
 * has none, with solady's P-256 verifier contract installed at its canonical address by `hardhat_setCode`
 * (test/fixtures/solady-p256-verifier, checked against its code hash): the Solidity fallback that solady's
 * P256 calls where a chain has no precompile.
 *
 * Method: DcapVerifierHarness.measure returns the `gasleft()` difference around the external `verify`
 * call (the call, the verifier's ABI decoding, its calls to its helpers and every step), without the
 * transaction's intrinsic and calldata cost. The verifier's targets: ≤ 1,200,000 for every real TDX
 * quote on osaka; ≤ ~900,000 for the 12-level forged world (so that a whole registerVerified
 * transaction stays ≤ 1,500,000).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { getContractAddress } from "viem";

import { bytesToHex } from "../src/core/bytes.js";
import type { Collateral } from "../src/dcap/types.js";
import { INTEL_SGX_ROOT_CA_DER } from "../src/dcap/intel-root.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW } from "../src/testing/forge/index.js";
import {
  chainCollateral,
  intelShapedTcbInfo,
  productionTcbLevels,
  readCollateral,
  rootArgs,
  TCB_STATUS_NAMES,
} from "../test/contracts/dcap-verifier-lib.js";
import { installSoladyP256Verifier, SOLADY_P256_VERIFIER } from "./lib.js";

const TARGET_REAL = 1_200_000;
const TARGET_FORGED_12 = 900_000;

type Case = { name: string; quote: Uint8Array; collateral: Collateral; now: number; root: Uint8Array; tcbLevels?: number };

const DCAP = new URL("../test/fixtures/dcap/", import.meta.url);
const real: Case[] = [
  ["tdx_quote", new URL("tdx_quote", DCAP), new URL("tdx_quote_collateral.json", DCAP), 1752919234],
  ...(
    [
      ["qvl_near_v4", 1757462400],
      ["auto_forge_v4_0625", 1749095100],
      ["gtg_v5_td15_2602", 1771980350],
    ] as const
  ).map(([n, t]) => [n, new URL(`real/${n}.quote`, DCAP), new URL(`real/${n}.collateral.json`, DCAP), t] as const),
].map(([name, q, c, now]) => ({
  name: name as string,
  quote: new Uint8Array(readFileSync(q as URL)),
  collateral: readCollateral(c as URL),
  now: now as number,
  root: INTEL_SGX_ROOT_CA_DER,
}));

async function forged(levels: number): Promise<Case> {
  const base = await createForgeWorld({ seed: "dcap-verifier-bench" });
  const world = await createForgeWorld({
    seed: "dcap-verifier-bench",
    tcbInfo: { tcbLevels: productionTcbLevels(levels, base.pck.cpuSvn, base.pck.pceSvn, base.teeTcbSvn), edit: intelShapedTcbInfo },
  });
  return { name: `forged, ${levels} TCB levels`, quote: await forgeQuote(world, {}), collateral: world.collateral, now: FORGE_DEFAULT_NOW, root: world.rootCaDer, tcbLevels: levels };
}

const cases = [...real, await forged(4), await forged(12), await forged(16)];

async function measure(hardfork: "osaka" | "prague"): Promise<Record<string, unknown>[]> {
  const { viem } = await network.connect({ override: { hardfork } });
  const publicClient = await viem.getPublicClient();
  if (hardfork === "prague") await installSoladyP256Verifier(await viem.getTestClient());
  const harness = await viem.deployContract("DcapVerifierHarness");
  const verifiers = new Map<string, Awaited<ReturnType<typeof viem.deployContract<"DcapVerifier">>>>();
  const out: Record<string, unknown>[] = [];
  for (const c of cases) {
    const key = bytesToHex(c.root);
    let v = verifiers.get(key);
    if (!v) {
      v = await viem.deployContract("DcapVerifier", rootArgs(c.root));
      verifiers.set(key, v);
    }
    const oc = chainCollateral(c.quote, c.collateral);
    const [gasUsed, status] = await harness.read.measure([v.address, bytesToHex(c.quote), oc, BigInt(c.now)]);
    out.push({
      case: c.name,
      quoteBytes: c.quote.length,
      tcbInfoBytes: (oc.tcbInfoJson.length - 2) / 2,
      ...(c.tcbLevels ? { tcbLevels: c.tcbLevels } : { tcbLevels: (JSON.parse(c.collateral.tcbInfo) as { tcbLevels: unknown[] }).tcbLevels.length }),
      status: TCB_STATUS_NAMES[Number(status)],
      verifyGas: Number(gasUsed),
    });
  }
  // sizes of what one deployment put on chain (the verifier, then the helpers at CREATE nonces 1 and 2)
  const [first] = verifiers.values();
  if (first && hardfork === "osaka") {
    const names = ["DcapVerifier", "DcapPki", "DcapCollateral"];
    const addresses = [first.address, getContractAddress({ from: first.address, nonce: 1n }), getContractAddress({ from: first.address, nonce: 2n })];
    for (let i = 0; i < 3; i++) {
      const code = await publicClient.getCode({ address: addresses[i]! });
      const artifact = JSON.parse(readFileSync(new URL(`../artifacts/contracts/dcap/${names[i]}.sol/${names[i]}.json`, import.meta.url), "utf8")) as { bytecode: string };
      sizes.push({ contract: names[i]!, runtimeBytes: code ? (code.length - 2) / 2 : 0, initcodeBytes: (artifact.bytecode.length - 2) / 2 });
    }
  }
  return out;
}

const sizes: { contract: string; runtimeBytes: number; initcodeBytes: number }[] = [];
const osaka = await measure("osaka");
const prague = await measure("prague");
const realOsaka = osaka.slice(0, real.length).map((r) => r.verifyGas as number);
const forged12 = osaka.find((r) => r.tcbLevels === 12 && String(r.case).startsWith("forged"))?.verifyGas as number;

process.stdout.write(
  JSON.stringify(
    {
      bench: "DcapVerifier.verify gas",
      method: "gasleft() difference around the external verify call (call + ABI decoding + helper calls + all steps)",
      limits: { runtimeBytes: 24_576, initcodeBytes: 49_152 },
      sizes,
      withPrecompile: { hardfork: "osaka", p256: "precompile 0x100 (EIP-7951)", results: osaka },
      withoutPrecompile: { hardfork: "prague", p256: `solady verifier contract at ${SOLADY_P256_VERIFIER} (Solidity)`, results: prague },
      targets: {
        realTdxQuotesOsaka: { target: TARGET_REAL, max: Math.max(...realOsaka), met: Math.max(...realOsaka) <= TARGET_REAL },
        forged12LevelsOsaka: { target: TARGET_FORGED_12, gas: forged12, met: forged12 <= TARGET_FORGED_12 },
      },
    },
    null,
    2,
  ) + "\n",
);
