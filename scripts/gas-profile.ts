/**
 * Where the gas of `registerVerified` (or `recheck`) goes: the transaction's struct-log trace
 * (`debug_traceTransaction` on Hardhat's in-process EDR network, hardfork osaka) with each step mapped to the
 * source function (or, with LINES=1, the source line) it belongs to through the compiler's source maps, per
 * contract, and each call to the verifier's helpers with the gas its callee used. Prints one JSON object.
 *
 *   npx tsx scripts/gas-profile.ts                       # registerVerified, 12-level Intel-shaped TCB Info
 *   MODE=recheck LEVELS=4 TOP=60 LINES=1 npx tsx scripts/gas-profile.ts
 *
 * The world is bench/registry-verified.bench.ts's Intel-shaped one (forged, the forge's root), with the
 * forge's default PCK CRL (the bench pads it to the real one's size, so its totals are a little higher).
 * Attribution is that of the source maps: code the optimizer shares between functions is counted under one
 * of them, and "<generated>" is the compiler's own helpers (ABI coding, checked arithmetic, copies). Run
 * `npx hardhat compile` first: the newest build info holding each contract is used.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

import { network } from "hardhat";
import { encodeFunctionData, getContractAddress, type Hex } from "viem";

import { bytesToHex } from "../src/core/bytes.js";
import { toOnChainCollateral, verifierRootArgs } from "../src/registry/verifier.js";
import { createForgeWorld, forgeQuote, FORGE_DEFAULT_NOW } from "../src/testing/forge/index.js";
import { intelShapedTcbInfo, productionTcbLevels } from "../test/contracts/dcap-verifier-lib.js";
import { bindingReportData, newKms, REAL_QUOTE } from "../test/contracts/helpers.js";

const LEVELS = Number(process.env.LEVELS ?? 12);
const MODE = process.env.MODE === "recheck" ? "recheck" : "registerVerified";
const TOP = Number(process.env.TOP ?? 40);
const SEED = "registry-verified-bench";
const N = FORGE_DEFAULT_NOW;

// ---------------------------------------------------------------------------------------------
// the transaction
// ---------------------------------------------------------------------------------------------

const base = await createForgeWorld({ seed: SEED, now: N });
const world = (evaluation: number) =>
  createForgeWorld({
    seed: SEED,
    now: N,
    tcbInfo: { tcbEvaluationDataNumber: evaluation, tcbLevels: productionTcbLevels(LEVELS, base.pck.cpuSvn, base.pck.pceSvn, base.teeTcbSvn), edit: intelShapedTcbInfo },
  });
const w = await world(17);
const { viem, provider } = await network.connect({ override: { hardfork: "osaka", initialDate: new Date(N * 1000) } });
const publicClient = await viem.getPublicClient();
const [admin, anyone] = await viem.getWalletClients();
const verifier = await viem.deployContract("DcapVerifier", verifierRootArgs(w.rootCaDer));
const registry = await viem.deployContract("KmsRegistry", [admin!.account.address, verifier.address]);
const k = newKms();
const reportData = bindingReportData(k.caPubkey, k.k256Pubkey);
let quote = await forgeQuote(w, { reportData });
const extra = REAL_QUOTE.length - quote.length;
if (extra > 0) quote = await forgeQuote(w, { reportData, qeAuthData: Uint8Array.from({ length: 32 + extra }, (_, i) => i & 0xff) });

async function send(data: Hex): Promise<Hex> {
  const hash = await anyone!.sendTransaction({ to: registry.address, data, gas: 15_000_000n });
  const receipt = await publicClient.getTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${MODE} reverted`);
  return hash;
}
let hash = await send(
  encodeFunctionData({
    abi: registry.abi,
    functionName: "registerVerified",
    args: [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(quote), toOnChainCollateral(quote, w.collateral)],
  }),
);
if (MODE === "recheck") {
  const newer = toOnChainCollateral(quote, (await world(18)).collateral);
  hash = await send(encodeFunctionData({ abi: registry.abi, functionName: "recheck", args: [k.address, bytesToHex(quote), newer] }));
}
const gasUsed = Number((await publicClient.getTransactionReceipt({ hash })).gasUsed);

// ---------------------------------------------------------------------------------------------
// source maps: program counter → function (or line), per contract, from the newest build info holding it
// ---------------------------------------------------------------------------------------------

type Ast = { nodeType: string; name?: string; kind?: string; src: string; nodes?: Ast[] };
type BuildOutput = {
  output: {
    contracts: Record<string, Record<string, { evm: { deployedBytecode: { object: string; sourceMap: string } } }>>;
    sources: Record<string, { id: number; ast: Ast }>;
  };
};
const buildDir = new URL("../artifacts/build-info/", import.meta.url);
const builds = readdirSync(buildDir)
  .filter((f) => f.endsWith(".output.json"))
  .map((f) => new URL(f, buildDir))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
const loaded = new Map<string, BuildOutput>();
function build(u: URL): BuildOutput {
  if (!loaded.has(u.href)) loaded.set(u.href, JSON.parse(readFileSync(u, "utf8")) as BuildOutput);
  return loaded.get(u.href)!;
}

function pcMap(source: string, name: string): Map<number, string> {
  const u = builds.find((b) => build(b).output.contracts[source]?.[name]);
  if (!u) throw new Error(`${source}:${name} is in no build info: run npx hardhat compile`);
  const out = build(u).output;
  const files = new Map<number, string>();
  const fns: { file: number; start: number; end: number; name: string }[] = [];
  for (const [file, s] of Object.entries(out.sources)) {
    files.set(s.id, file);
    const walk = (n: Ast, scope: string): void => {
      const inner = n.nodeType === "ContractDefinition" ? (n.name ?? scope) : scope;
      if (n.nodeType === "FunctionDefinition" || n.nodeType === "ModifierDefinition") {
        const [start, length, fileId] = n.src.split(":").map(Number) as [number, number, number];
        fns.push({ file: fileId, start, end: start + length, name: `${inner}.${n.name || n.kind}` });
      }
      for (const c of n.nodes ?? []) walk(c, inner);
    };
    walk(s.ast, file);
  }
  const texts = new Map<string, Buffer>();
  const label = (file: number, start: number): string => {
    let best: (typeof fns)[number] | undefined;
    for (const f of fns) if (f.file === file && f.start <= start && start < f.end && (!best || f.end - f.start < best.end - best.start)) best = f;
    const path = files.get(file);
    if (!path) return "<generated>";
    const fn = best?.name ?? `${path.split("/").pop()}:?`;
    if (!process.env.LINES || !path.startsWith("project/")) return fn;
    if (!texts.has(path)) texts.set(path, readFileSync(new URL(`../${path.slice("project/".length)}`, import.meta.url)));
    return `${fn} ${path.split("/").pop()}:${texts.get(path)!.subarray(0, start).toString().split("\n").length}`;
  };
  const e = out.contracts[source]![name]!.evm.deployedBytecode;
  const code = Buffer.from(e.object, "hex");
  const m = new Map<number, string>();
  let start = 0;
  let file = 0;
  let pc = 0;
  for (const entry of e.sourceMap.split(";")) {
    if (pc >= code.length) break;
    const [s, , f] = entry.split(":");
    if (s) start = Number(s);
    if (f) file = Number(f);
    m.set(pc, label(file, start));
    const op = code[pc]!;
    pc += op >= 0x60 && op <= 0x7f ? op - 0x5e : 1;
  }
  return m;
}

const contracts = new Map<string, { name: string; pcs: Map<number, string> }>();
const add = (address: Hex, source: string, name: string) => contracts.set(address.toLowerCase(), { name, pcs: pcMap(source, name) });
add(registry.address, "project/contracts/KmsRegistry.sol", "KmsRegistry");
add(verifier.address, "project/contracts/dcap/DcapVerifier.sol", "DcapVerifier");
add(getContractAddress({ from: verifier.address, nonce: 1n }), "project/contracts/dcap/DcapPki.sol", "DcapPki");
add(getContractAddress({ from: verifier.address, nonce: 2n }), "project/contracts/dcap/DcapCollateral.sol", "DcapCollateral");

// ---------------------------------------------------------------------------------------------
// the trace
// ---------------------------------------------------------------------------------------------

type Step = { pc: number; op: string; gas: number; gasCost: number; depth: number; stack?: string[] };
const trace = (await provider.request({ method: "debug_traceTransaction", params: [hash, { disableMemory: true, disableStorage: true }] })) as { structLogs: Step[] };
const steps = trace.structLogs;
const frames: string[] = [registry.address.toLowerCase()];
const byFunction = new Map<string, number>();
const byContract = new Map<string, number>();
const calls: { from: string; to: string; calleeGas: number }[] = [];
const bump = (m: Map<string, number>, key: string, g: number) => m.set(key, (m.get(key) ?? 0) + g);
for (let i = 0; i < steps.length; i++) {
  const s = steps[i]!;
  frames.length = s.depth;
  const at = frames[s.depth - 1] ?? "?";
  const c = contracts.get(at);
  let cost = s.gasCost;
  if (s.op === "CALL" || s.op === "STATICCALL" || s.op === "DELEGATECALL") {
    // a call's gasCost includes the gas it forwards: keep only what the caller paid
    const to = `0x${BigInt(s.stack![s.stack!.length - 2]!).toString(16).padStart(40, "0")}`;
    let j = i + 1;
    while (j < steps.length && steps[j]!.depth > s.depth) j++;
    const after = steps[j];
    if (j > i + 1) {
      const first = steps[i + 1]!;
      const last = steps[j - 1]!;
      const calleeGas = first.gas - last.gas + last.gasCost;
      frames[s.depth] = to;
      calls.push({ from: c?.name ?? at, to: contracts.get(to)?.name ?? to, calleeGas });
      cost = after ? s.gas - after.gas - calleeGas : s.gasCost;
    } else if (after) {
      cost = s.gas - after.gas; // a precompile: all of it here
    }
  }
  bump(byContract, c?.name ?? at, cost);
  bump(byFunction, `${c?.name ?? at} ${c?.pcs.get(s.pc) ?? "?"}`, cost);
}
const top = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, g]) => ({ [k]: g }));
process.stdout.write(
  `${JSON.stringify(
    {
      profile: `${MODE}, ${LEVELS}-level TCB Info of Intel's shape (${w.collateral.tcbInfo.length} bytes), osaka`,
      gasUsed,
      executionSteps: steps.length,
      executionGas: [...byContract.values()].reduce((a, b) => a + b, 0),
      byContract: top(byContract, 10),
      calls,
      [process.env.LINES ? "byLine" : "byFunction"]: top(byFunction, TOP),
    },
    null,
    2,
  )}\n`,
);
