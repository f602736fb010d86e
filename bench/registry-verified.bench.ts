/**
 * Gas of KmsRegistry's on-chain path (`registerVerified`, `recheck`) with the real DcapVerifier, on Hardhat's
 * in-process EDR network with hardfork osaka (EIP-7951 P-256 precompile, EIP-7623 calldata floor). Prints one
 * JSON object.
 *
 *   npx tsx bench/registry-verified.bench.ts      (or: npm run bench, which runs every bench file)
 *
 * Both on Osaka (the P-256 precompile) and, under `withoutPrecompile`, on Prague with solady's P-256 verifier
 * contract (the Solidity fallback solady's `P256` calls where a chain has no precompile).
 *
 * Method:
 * - The quote must bind freshly generated keys, so it is forged (`src/testing/forge`) under the forge's root,
 *   in a world padded to the sizes of the real 5,006-byte `tdx_quote` and its real collateral: the quote to
 *   5,006 bytes (QE authentication data), the TCB Info to at least the real one's length (TCB levels), the PCK
 *   CRL to at least the real one's (revoked serials). A second world has a 12-level TCB Info of the shape
 *   and size of Intel's production TDX documents (as in bench/dcap-verifier.bench.ts: components with
 *   Intel's category / type strings, growing advisory ID lists, the platform matching the first level;
 *   about 13 KB). The sizes used are in the output next to the real ones.
 * - `gasUsed` is the receipt's (total transaction gas: 21,000 + calldata + execution, or the EIP-7623 floor
 *   21,000 + 10 × (zero bytes + 4 × non-zero bytes) when that is higher); `calldataStandard` is 4 / 16 gas per
 *   zero / non-zero byte, `floor` the EIP-7623 floor, `execution` = gasUsed − 21,000 − calldataStandard.
 * - `verifierExecution`: the same quote and collateral sent to the verifier's `verify` in a transaction of its
 *   own, minus its intrinsic cost: what the verification alone costs inside `registerVerified`.
 * - `recheck`: an accepted recheck with newer collateral (record slots non-zero → non-zero) and one that makes
 *   the record stale (an OutOfDate TCB level).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { encodeFunctionData, type Hex } from "viem";

import { bytesToHex, hexToBytes } from "../src/core/bytes.js";
import { parseCollateralJson } from "../src/dcap/collateral.js";
import { toOnChainCollateral, verifierRootArgs, type OnChainCollateral } from "../src/registry/verifier.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW, type ForgeWorld, type ForgeWorldOptions } from "../src/testing/forge/index.js";
import { intelShapedTcbInfo, productionTcbLevels } from "../test/contracts/dcap-verifier-lib.js";
import { bindingReportData, newKms, REAL_QUOTE } from "../test/contracts/helpers.js";
import { installSoladyP256Verifier, SOLADY_P256_VERIFIER } from "./lib.js";

const TARGETS = { registerVerified: 1_500_000, registerVerifiedStretch: 1_000_000, recheck: 1_200_000 };
const N = FORGE_DEFAULT_NOW;
const SEED = "registry-verified-bench";

const realCollateral = toOnChainCollateral(REAL_QUOTE, parseCollateralJson(readFileSync(new URL("../test/fixtures/dcap/tdx_quote_collateral.json", import.meta.url), "utf8")));
const size = (h: Hex) => (h.length - 2) / 2;
const sizesOf = (quote: Uint8Array, c: OnChainCollateral) => ({
  quote: quote.length,
  ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, size(v as Hex)])),
  collateralTotal: Object.values(c).reduce((a, v) => a + size(v as Hex), 0),
});

function calldata(data: Hex): { bytes: number; standard: number; floor: number } {
  let zero = 0;
  let nonZero = 0;
  for (const b of hexToBytes(data)) {
    if (b === 0) zero++;
    else nonZero++;
  }
  return { bytes: zero + nonZero, standard: 4 * zero + 16 * nonZero, floor: 21_000 + 10 * (zero + 4 * nonZero) };
}

type Level = { tcb: { pcesvn: number }; tcbDate: string; tcbStatus: string };

/** TCB Info with `levels` levels: the forge's two, then copies of the lower one with ever lower PCESVNs. */
function tcbLevels(levels: number, n: number, first?: string): ForgeWorldOptions["tcbInfo"] {
  return {
    tcbEvaluationDataNumber: n,
    edit: (t: Record<string, unknown>) => {
      const ls = t.tcbLevels as Level[];
      if (first) ls[0]!.tcbStatus = first;
      const low = ls[ls.length - 1]!;
      while (ls.length < levels) {
        const copy = JSON.parse(JSON.stringify(low)) as Level;
        copy.tcb.pcesvn = Math.max(0, low.tcb.pcesvn - ls.length);
        ls.push(copy);
      }
    },
  };
}

/** `count` revoked serials for the PCK CRL. */
function crlSerials(count: number): ForgeWorldOptions["pckCrl"] {
  return { revokedSerials: Array.from({ length: count }, (_, i) => BigInt(`0x5a${(i + 1).toString(16).padStart(38, "0")}`)) };
}

/** The fewest revoked serials that bring the PCK CRL to at least the real one's length. */
async function serialsForRealSize(): Promise<number> {
  const len = async (n: number) => (await createForgeWorld({ seed: SEED, now: N, pckCrl: crlSerials(n) })).collateral.pckCrl.length;
  const base = await len(0);
  const per = ((await len(10)) - base) / 10;
  let n = Math.max(0, Math.floor((size(realCollateral.pckCrl) - base) / per));
  while ((await len(n)) < size(realCollateral.pckCrl)) n++;
  return n;
}
const SERIALS = await serialsForRealSize();

async function sizedWorld(levels: number, n = 17, first?: string): Promise<ForgeWorld> {
  return createForgeWorld({ seed: SEED, now: N, tcbInfo: tcbLevels(levels, n, first), pckCrl: crlSerials(SERIALS) });
}

/**
 * A world whose TCB Info has `levels` levels of Intel's production shape and size (`productionTcbLevels`,
 * `intelShapedTcbInfo`): the platform's own SVNs first (UpToDate, or `first`), then lower ones, OutOfDate,
 * with growing advisory ID lists.
 */
async function intelShapedWorld(levels: number, n = 17, first?: string): Promise<ForgeWorld> {
  const base = await createForgeWorld({ seed: SEED, now: N });
  const tcb = productionTcbLevels(levels, base.pck.cpuSvn, base.pck.pceSvn, base.teeTcbSvn);
  if (first) tcb[0]!.tcbStatus = first;
  return createForgeWorld({ seed: SEED, now: N, tcbInfo: { tcbEvaluationDataNumber: n, tcbLevels: tcb, edit: intelShapedTcbInfo }, pckCrl: crlSerials(SERIALS) });
}

/** The smallest level count whose TCB Info is at least as long as the real one. */
async function levelsForRealSize(): Promise<number> {
  for (let l = 2; l < 16; l++) {
    const w = await createForgeWorld({ seed: SEED, now: N, tcbInfo: tcbLevels(l, 17) });
    if (w.collateral.tcbInfo.length >= size(realCollateral.tcbInfoJson)) return l;
  }
  return 16;
}

/** A quote of `w` binding `k`'s keys, padded to 5,006 bytes with QE authentication data. */
async function sizedQuote(w: ForgeWorld, k: ReturnType<typeof newKms>): Promise<Uint8Array> {
  const reportData = bindingReportData(k.caPubkey, k.k256Pubkey);
  const base = await forgeQuote(w, { reportData });
  const extra = REAL_QUOTE.length - base.length;
  if (extra <= 0) return base;
  return forgeQuote(w, { reportData, qeAuthData: Uint8Array.from({ length: 32 + extra }, (_, i) => i & 0xff) });
}

type Hardfork = "osaka" | "prague";

/** A chain of `hardfork`; on Prague (no P-256 precompile) with solady's P-256 verifier contract at its canonical address. */
async function connect(hardfork: Hardfork) {
  const { viem } = await network.connect({ override: { hardfork, initialDate: new Date(N * 1000) } });
  if (hardfork === "prague") await installSoladyP256Verifier(await viem.getTestClient());
  const [wallet, anyone] = await viem.getWalletClients();
  return { viem, publicClient: await viem.getPublicClient(), wallet: wallet!, anyone: anyone! };
}
type Chain = Awaited<ReturnType<typeof connect>>;

async function send({ publicClient, anyone }: Chain, to: Hex, data: Hex) {
  const hash = await anyone.sendTransaction({ to, data, gas: 15_000_000n });
  const receipt = await publicClient.getTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`transaction to ${to} reverted`);
  const cd = calldata(data);
  const gasUsed = Number(receipt.gasUsed);
  return { gasUsed, calldataBytes: cd.bytes, calldataStandard: cd.standard, floor: cd.floor, floorApplies: gasUsed === cd.floor, execution: gasUsed - 21_000 - cd.standard };
}

async function measure(chain: Chain, levels: number, intelShaped = false) {
  const { viem, publicClient, wallet } = chain;
  const world = intelShaped ? intelShapedWorld : sizedWorld;
  const w = await world(levels);
  const verifier = await viem.deployContract("DcapVerifier", verifierRootArgs(w.rootCaDer));
  const registry = await viem.deployContract("KmsRegistry", [wallet.account.address, verifier.address]);
  const k = newKms();
  const quote = await sizedQuote(w, k);
  const c = toOnChainCollateral(quote, w.collateral);
  const now = BigInt((await publicClient.getBlock()).timestamp);
  const verify = await send(chain, verifier.address, encodeFunctionData({ abi: verifier.abi, functionName: "verify", args: [bytesToHex(quote), c, now + 1n] }));
  const register = await send(
    chain,
    registry.address,
    encodeFunctionData({ abi: registry.abi, functionName: "registerVerified", args: [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(quote), c] }),
  );
  const newer = toOnChainCollateral(quote, (await world(levels, 18)).collateral);
  const recheck = await send(chain, registry.address, encodeFunctionData({ abi: registry.abi, functionName: "recheck", args: [k.address, bytesToHex(quote), newer] }));
  const stale = toOnChainCollateral(quote, (await world(levels, 19, "OutOfDate")).collateral);
  const recheckStale = await send(chain, registry.address, encodeFunctionData({ abi: registry.abi, functionName: "recheck", args: [k.address, bytesToHex(quote), stale] }));
  if (!(await registry.read.kmsInfo([k.address])).stale) throw new Error("the OutOfDate recheck did not make the record stale");
  // the registrar path on the same registry, for comparison (no verification, the collateral published)
  const k2 = newKms();
  const quote2 = await sizedQuote(w, k2);
  const withCollateral = await (async () => {
    const data = encodeFunctionData({
      abi: registry.abi,
      functionName: "registerWithCollateral",
      args: [bytesToHex(k2.caPubkey), bytesToHex(k2.k256Pubkey), bytesToHex(quote2), toOnChainCollateral(quote2, w.collateral)],
    });
    const hash = await wallet.sendTransaction({ to: registry.address, data, gas: 15_000_000n });
    const r = await publicClient.getTransactionReceipt({ hash });
    return { gasUsed: Number(r.gasUsed), calldataBytes: calldata(data).bytes };
  })();
  const registryOverhead = register.execution - verify.execution;
  return {
    tcbLevels: levels,
    tcbInfoShape: intelShaped ? "Intel's production shape (category / type strings, advisory ID lists)" : "the forge's levels copied with lower PCESVNs",
    tcbInfoBytes: w.collateral.tcbInfo.length,
    sizes: sizesOf(quote, c),
    verifierExecution: verify.execution,
    registerVerified: { ...register, target: TARGETS.registerVerified, meetsTarget: register.gasUsed <= TARGETS.registerVerified, meetsStretch: register.gasUsed <= TARGETS.registerVerifiedStretch },
    registerVerifiedBreakdown: {
      intrinsic: 21_000,
      calldata: register.calldataStandard,
      verifier: verify.execution,
      registryOverhead,
      note: "registryOverhead = the registry's own execution: the verifier CALL with the collateral copied to memory and back, six cold storage slots, the KmsRegistered event with the quote and KmsCollateralPublished with the collateral (8 gas per logged byte)",
    },
    recheck: { ...recheck, target: TARGETS.recheck, meetsTarget: recheck.gasUsed <= TARGETS.recheck },
    recheckStale: { ...recheckStale, target: TARGETS.recheck, meetsTarget: recheckStale.gasUsed <= TARGETS.recheck },
    registerWithCollateral: withCollateral,
  };
}

const realLevels = await levelsForRealSize();
const osaka = await connect("osaka");
const realSize = await measure(osaka, realLevels);
const twelve = await measure(osaka, 12, true);
// without the precompile: the same worlds on Prague, P-256 through solady's Solidity verifier
const prague = await connect("prague");
const realSizePrague = await measure(prague, realLevels);
const twelvePrague = await measure(prague, 12, true);
process.stdout.write(
  JSON.stringify(
    {
      bench: "KmsRegistry on-chain path gas (osaka)",
      method: "receipt gasUsed (total, calldata and the EIP-7623 floor included); floor computed from the calldata; verifier execution from a verify() transaction minus its intrinsic cost",
      registerVerified: realSize.registerVerified.gasUsed,
      registerVerified12Levels: twelve.registerVerified.gasUsed,
      tcbInfoBytes12Levels: twelve.tcbInfoBytes,
      recheck: realSize.recheck.gasUsed,
      recheck12Levels: twelve.recheck.gasUsed,
      verifierExecution: realSize.verifierExecution,
      targets: TARGETS,
      meetsTargets: realSize.registerVerified.meetsTarget && twelve.registerVerified.meetsTarget && realSize.recheck.meetsTarget && twelve.recheck.meetsTarget,
      realSizes: sizesOf(REAL_QUOTE, realCollateral),
      detail: [realSize, twelve],
      withoutPrecompile: {
        hardfork: "prague",
        p256: `solady verifier contract at ${SOLADY_P256_VERIFIER} (Solidity)`,
        registerVerified: realSizePrague.registerVerified.gasUsed,
        registerVerified12Levels: twelvePrague.registerVerified.gasUsed,
        recheck: realSizePrague.recheck.gasUsed,
        recheck12Levels: twelvePrague.recheck.gasUsed,
        verifierExecution: realSizePrague.verifierExecution,
        verifierExecution12Levels: twelvePrague.verifierExecution,
        detail: [realSizePrague, twelvePrague],
      },
    },
    null,
    2,
  ) + "\n",
);
