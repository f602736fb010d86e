/**
 * The audit does not take the RPC's `eth_getLogs` answers on trust: behind a real JSON-RPC proxy in front of
 * a real hardhat node, answers with duplicate logs, logs of another contract (a second registry whose
 * KmsRegistered events look exactly like ours), a log from outside the requested blocks, or missing
 * KmsLivenessProven logs are reported as anomalies, and the dropped logs are counted.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256 } from "viem";

import { bytesToHex } from "../../src/core/bytes.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { auditRegistry } from "../../src/registry/audit.js";
import { rebuildState } from "../../src/registry/audit-state.js";
import type { AuditEvent } from "../../src/registry/events.js";
import { connect } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { proveLiveness } from "../../src/workflows/prove-liveness.js";
import { publishKms, type KmsIdentity } from "../../src/registry/publish.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { runCli } from "../helpers/cli.js";
import { randomKms, startChain, type TestChain } from "./chain-helpers.js";
import { startLogLimitProxy } from "./rpc-proxy.js";

let chain: TestChain;
let sim: SimulatedKms;
/** A second registry on the same chain: its events are "foreign" to an audit of `chain.registry`. */
let other: `0x${string}`;
let kA: KmsIdentity;
let live: KmsIdentity;
let liveAddr: `0x${string}`;
/** Transactions of the three liveness proofs of `live` (nonces 0, 1, 2), and their blocks. */
const proofs: { tx: `0x${string}`; block: bigint }[] = [];
let reattestBlock: bigint;

type Report = Awaited<ReturnType<typeof auditRegistry>>;
const kinds = (r: Report) => r.anomalies.map((a) => a.kind);
const kmsOf = (r: Report, addr: string) => r.kms.find((k) => k.address.toLowerCase() === addr.toLowerCase());

beforeAll(async () => {
  chain = await startChain();
  const pc = chain.conn.publicClient;
  const pub = (registry: `0x${string}`, identity: KmsIdentity) =>
    publishKms({ publicClient: pc, walletClient: chain.wallet, registry, identity, journalDir: `${chain.tmp}/state` });
  other = (await deployRegistry({ publicClient: pc, walletClient: chain.wallet, toolVersion: "test" })).address;
  kA = randomKms();
  await pub(chain.registry, kA);
  // the same KMS registered on the other registry: a foreign log that would read as a re-attestation of A
  await pub(other, kA);
  // a KMS that answers the liveness challenge over real HTTP (the simulator, with its own keys and quote)
  sim = await startSimulatedKms({ certsDir: path.join(chain.tmp, "sim-certs"), port: 0, autoBootstrapDomain: "kms.audit-anomalies.example" });
  const info = parseBootstrapInfo(JSON.parse(readFileSync(path.join(sim.certsDir, "bootstrap-info.json"), "utf8")));
  live = { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote! };
  liveAddr = ethAddress(live.k256Pubkey) as `0x${string}`;
  await pub(chain.registry, live);
  const prove = async () => {
    // a fresh client per proof: viem caches eth_blockNumber per client, and a block number from before the
    // previous proof would give the previous nonce's challenge
    const { publicClient } = await connect(chain.node.url);
    const r = await proveLiveness({ publicClient, walletClient: chain.wallet, registry: chain.registry, kms: liveAddr, kmsUrl: sim.url });
    proofs.push({ tx: r.txHash, block: r.blockNumber });
  };
  await prove();
  // a re-attestation (another quote for the same keys) between the first and the second proof
  const q2 = live.quote.slice();
  q2[200] = q2[200]! ^ 1;
  reattestBlock = (await pub(chain.registry, { ...live, quote: q2 })).blockNumber!;
  await prove();
  await prove();
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await chain?.node.stop();
});

/** What every audit of the whole history must rebuild, whatever the RPC added to or removed from its answers. */
function expectTrueHistory(r: Report, proofCount = 3) {
  expect(r.kms).toHaveLength(2);
  expect(kmsOf(r, ethAddress(kA.k256Pubkey))!.attestations).toHaveLength(1);
  expect(kmsOf(r, liveAddr)!.attestations).toHaveLength(2);
  expect(kmsOf(r, liveAddr)!.livenessProofs).toHaveLength(proofCount);
}

async function viaProxy(opts: Parameters<typeof startLogLimitProxy>[1], audit: Partial<Parameters<typeof auditRegistry>[0]> = {}) {
  const proxy = await startLogLimitProxy(chain.node.url, opts);
  try {
    const conn = await connect(proxy.url);
    const r = await auditRegistry({ publicClient: conn.publicClient, registry: chain.registry, fromBlock: BigInt(chain.record.block), ...audit });
    return { r, stats: { ...proxy.stats } };
  } finally {
    await proxy.close();
  }
}

describe("audit through an RPC that tampers with eth_getLogs answers", () => {
  it("an honest RPC: every log used, nonces 0, 1, 2 then nonce() = 3, no anomaly", async () => {
    const r = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: BigInt(chain.record.block) });
    expectTrueHistory(r);
    expect(kmsOf(r, liveAddr)!.livenessProofs.map((p) => p.nonce)).toEqual(["0", "1", "2"]);
    expect(r.anomalies).toEqual([]);
    expect(r.logs.dropped).toEqual({ foreign: 0, duplicate: 0, outOfRange: 0 });
    expect(r.logs.used).toBe(r.logs.received);
    expect(r.logs.received).toBeGreaterThanOrEqual(r.events);
  });

  it("drops and counts duplicate logs (duplicate-log) instead of counting a KMS's registration and proofs twice", async () => {
    const { r, stats } = await viaProxy({ mode: "duplicate" });
    expect(stats.tampered).toBeGreaterThan(0);
    expectTrueHistory(r);
    expect(r.logs.dropped).toEqual({ foreign: 0, duplicate: stats.tampered, outOfRange: 0 });
    expect(r.logs.received).toBe(2 * r.logs.used);
    expect(kinds(r)).toEqual(["duplicate-log"]);
    expect(r.anomalies[0]!.detail).toMatch(new RegExp(`returned ${stats.tampered} extra copies of logs`));
  });

  it("drops and counts logs of another contract (foreign-log), even a real KmsRegistered of the same KMS", async () => {
    const foreign = await chain.conn.publicClient.request({ method: "eth_getLogs", params: [{ address: other, fromBlock: "0x0", toBlock: "latest" }] });
    expect(foreign.length).toBeGreaterThan(0);
    const { r } = await viaProxy({ mode: "ignore-address" });
    expectTrueHistory(r);
    expect(r.logs.dropped).toEqual({ foreign: foreign.length, duplicate: 0, outOfRange: 0 });
    expect(kinds(r)).toEqual(["foreign-log"]);
    expect(r.anomalies[0]!.detail.toLowerCase()).toContain(`address ${other.toLowerCase()}`);
  });

  it("drops and flags a log from after the requested blocks (log-out-of-range): a later proof is not counted", async () => {
    // audit up to just before the second proof; the proxy adds the second proof's log to the answer
    const { r, stats } = await viaProxy({ mode: "out-of-range" }, { toBlock: proofs[1]!.block - 1n });
    expect(stats.tampered).toBe(1);
    expect(kmsOf(r, liveAddr)!.livenessProofs.map((p) => p.nonce)).toEqual(["0"]);
    expect(r.logs.dropped).toEqual({ foreign: 0, duplicate: 0, outOfRange: 1 });
    expect(kinds(r)).toEqual(["log-out-of-range"]);
    expect(r.anomalies[0]!.detail).toContain(`block ${proofs[1]!.block}, requested blocks ${chain.record.block}…${proofs[1]!.block - 1n}`);
  });

  it("a missing KmsLivenessProven log is a liveness-nonce-gap: in the middle, at the end, at the start, or all of them", async () => {
    const gap = async (drop: number[], audit: Partial<Parameters<typeof auditRegistry>[0]> = {}) => {
      const { r, stats } = await viaProxy({ mode: "drop-txs", dropTxs: drop.map((i) => proofs[i]!.tx) }, audit);
      expect(stats.tampered).toBe(drop.length);
      expectTrueHistory(r, 3 - drop.length);
      return r;
    };
    // the middle one: nonce 2 follows nonce 0
    const middle = await gap([1]);
    expect(kinds(middle)).toEqual(["liveness-nonce-gap"]);
    expect(middle.anomalies[0]!.kms!.toLowerCase()).toBe(liveAddr.toLowerCase());
    expect(middle.anomalies[0]!.detail).toMatch(/has nonce 2, but the previous one .* had nonce 0: expected 1/);
    // the last one: nonce() at the scanned head is 3, the last event seen has nonce 1
    const last = await gap([2]);
    expect(kinds(last)).toEqual(["liveness-nonce-gap"]);
    expect(last.anomalies[0]!.detail).toMatch(/has nonce 1, so nonce\(\) should be 2 at block \d+, but it is 3/);
    // the first one: nonce() before the scanned range was 0, the first event seen has nonce 1
    const first = await gap([0]);
    expect(kinds(first)).toEqual(["liveness-nonce-gap"]);
    expect(first.anomalies[0]!.detail).toMatch(new RegExp(`has nonce 1, but nonce\\(\\) at block ${chain.record.block - 1} \\(before the range\\) is 0`));
    // all of them: nonce() went from 0 to 3 without an event
    const all = await gap([0, 1, 2]);
    expect(kinds(all)).toEqual(["liveness-nonce-gap"]);
    expect(all.anomalies[0]!.detail).toMatch(/nonce\(\) went from 0 at block \d+ to 3 at block \d+, but the range has no KmsLivenessProven event/);
    // a scan that starts after the first proof: nonce 1 first is right (nonce() was 1 before the range)
    const late = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: reattestBlock });
    expect(kmsOf(late, liveAddr)!.livenessProofs.map((p) => p.nonce)).toEqual(["1", "2"]);
    expect(kinds(late)).toEqual([]);
  });

  it("CLI: --json reports the dropped-log counts and the new anomaly kinds; the human output names them", async () => {
    const proxy = await startLogLimitProxy(chain.node.url, { mode: "duplicate" });
    try {
      const base = ["audit", "--registry", chain.registry, "--rpc", proxy.url, "--deployments", chain.tmp];
      const res = await runCli([...base, "--json"]);
      expect(res.code, res.stderr).toBe(1);
      const j = JSON.parse(res.stdout) as { logs: { received: number; used: number; dropped: Record<string, number> }; anomalies: { kind: string }[] };
      expect(Object.keys(j)).toEqual(["registry", "chainId", "fromBlock", "toBlock", "logs", "kms", "anomalies"]);
      expect(j.logs.dropped).toEqual({ foreign: 0, duplicate: j.logs.used, outOfRange: 0 });
      expect(j.anomalies.map((a) => a.kind)).toEqual(["duplicate-log"]);
      const human = await runCli(base);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(new RegExp(`Dropped ${j.logs.used} of ${j.logs.received} logs the RPC returned: 0 of other addresses, ${j.logs.used} duplicates, 0 outside the requested blocks`));
      expect(human.stdout).toMatch(/duplicate-log/);
    } finally {
      await proxy.close();
    }
    const dropping = await startLogLimitProxy(chain.node.url, { mode: "drop-txs", dropTxs: [proofs[2]!.tx] });
    try {
      const human = await runCli(["audit", "--registry", chain.registry, "--rpc", dropping.url, "--deployments", chain.tmp]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/liveness-nonce-gap/);
      expect(human.stdout).not.toMatch(/Dropped/);
    } finally {
      await dropping.close();
    }
  });
});

describe("rebuildState: liveness nonces follow one another per KMS", () => {
  const k = randomKms();
  const kms = ethAddress(k.k256Pubkey);
  let block = 10;
  const reg: AuditEvent = {
    kind: "registered",
    kms,
    quoteHash: keccak256(k.quote),
    registrar: "0x00000000000000000000000000000000000000aa",
    caPubkey: bytesToHex(k.caPubkey),
    k256Pubkey: bytesToHex(k.k256Pubkey),
    quote: bytesToHex(k.quote),
    block,
    tx: `0x${"11".repeat(32)}`,
    logIndex: 0,
  };
  const proof = (nonce: number): AuditEvent => ({ kind: "liveness", kms, timestamp: 1, nonce: String(nonce), block: ++block, tx: `0x${"33".repeat(32)}`, logIndex: 0 });
  const gaps = (evs: AuditEvent[]) => rebuildState(evs).anomalies.filter((a) => a.kind === "liveness-nonce-gap").map((a) => a.detail);

  it("0, 1, 2 is fine; a skipped, repeated or lower nonce is a gap", () => {
    expect(gaps([reg, proof(0), proof(1), proof(2)])).toEqual([]);
    expect(gaps([reg, proof(0), proof(2)])).toEqual([expect.stringMatching(/has nonce 2, but the previous one .* had nonce 0: expected 1/)]);
    expect(gaps([reg, proof(0), proof(0)])).toEqual([expect.stringMatching(/has nonce 0, .* expected 1/)]);
    expect(gaps([reg, proof(3), proof(1)])).toEqual([expect.stringMatching(/has nonce 1, .* expected 4/)]);
  });
});
