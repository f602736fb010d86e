/**
 * `kms-registry watch` through real faults, each against real processes: the RPC going away behind a real TCP
 * proxy (cut, then restored on the same port), the watch process killed with SIGKILL and restarted on the same
 * state file, and a reorg on `hardhat node` (`evm_snapshot` / `evm_revert`, then a different fork mined).
 */
import { readFileSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Finding } from "../../src/watch/finding.js";
import { parseWatchState } from "../../src/watch/state.js";
import { randomKms, startChain, type TestChain, type TestKms } from "../registry/chain-helpers.js";
import { duplicateIds, eventually, kmsAddr, mine, proveLive, publish, rpc, startTcpProxy, startWatch } from "./helpers.js";

let chain: TestChain;

beforeAll(async () => {
  chain = await startChain();
}, 60_000);

afterAll(async () => {
  await chain?.node.stop();
});

const regsOf = (fs: Finding[], k: TestKms) => fs.filter((f) => (f.kind === "registered" || f.kind === "reattested") && f.kms?.toLowerCase() === kmsAddr(k));
const watchArgs = (rpcUrl: string, extra: string[] = []) => ["--registry", chain.registry, "--rpc", rpcUrl, "--deployments", chain.tmp, "--interval", "0.2", "--max-backoff", "1", ...extra];

describe("watch: faults", () => {
  it("(1) the RPC goes away and comes back: backoff, it keeps going, no duplicate and no missed finding", async () => {
    const url = new URL(chain.node.url);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    const from = String(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 }));
    // an RPC URL with an API key in its path, as hosted RPCs have: never printed, also not in the error lines
    const w = startWatch(watchArgs(`${proxy.url}/v2/key-Abc123Secret`, ["--from-block", from]));
    try {
      const k1 = randomKms();
      await publish(chain, k1);
      await w.until((f) => regsOf(f, k1).length === 1, "k1 registered");
      await proxy.cut();
      const k2 = randomKms();
      const k3 = randomKms();
      await publish(chain, k2);
      await proveLive(chain, k1);
      await publish(chain, k3);
      await w.untilStderr(/RPC error \(attempt 3\)/);
      expect(regsOf(w.findings, k2)).toEqual([]);
      await proxy.restore();
      await w.until((f) => regsOf(f, k3).length === 1, "k3 registered after the RPC came back");
      await w.untilStderr(/RPC answers again after \d+ failed attempts?/);
      // the backoff doubles from the interval up to --max-backoff
      const waits = [...w.stderr().matchAll(/RPC error \(attempt (\d+)\).*retrying in ([\d.]+) s/g)].map((m) => Number(m[2]));
      expect(waits.slice(0, 3)).toEqual([0.4, 0.8, 1]);
      expect(Math.max(...waits)).toBe(1);
      expect(duplicateIds(w.findings)).toEqual([]);
      expect(w.findings.map((f) => f.kind)).toEqual(["registered", "registered", "liveness", "registered"]);
      expect([k1, k2, k3].map((k) => regsOf(w.findings, k).length)).toEqual([1, 1, 1]);
      expect(await w.stop("SIGINT")).toBe(0);
      expect(w.stderr() + JSON.stringify(w.findings)).not.toContain("Abc123Secret");
      expect(w.stderr()).toMatch(/RPC error \(attempt 1\): /);
    } finally {
      await w.stop("SIGKILL");
      await proxy.close();
    }
  });

  it("(1b) an RPC unreachable at start-up is retried with backoff, and SIGTERM during the outage still exits 0 at once", async () => {
    const url = new URL(chain.node.url);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    await proxy.cut();
    const w = startWatch(watchArgs(proxy.url));
    try {
      await w.untilStderr(/did not answer eth_chainId: .*; retrying in 1\.0 s/);
      const t = Date.now();
      expect(await w.stop("SIGTERM")).toBe(0);
      expect(Date.now() - t).toBeLessThan(3000);
      expect(w.findings).toEqual([]);
    } finally {
      await w.stop("SIGKILL");
      await proxy.close();
    }
  });

  it("(2) killed with SIGKILL and restarted on the same --state: resumes from the last processed block, nothing twice, nothing missed", async () => {
    const state = `${chain.tmp}/restart.state.json`;
    const from = String(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 }));
    const k4 = randomKms();
    const first = startWatch(watchArgs(chain.node.url, ["--from-block", from, "--state", state]));
    let regBlock = 0;
    try {
      regBlock = Number(await publish(chain, k4));
      await first.until((f) => regsOf(f, k4).length === 1, "k4 registered");
      await eventually(() => parseWatchState(readFileSync(state, "utf8"), state).nextBlock > regBlock, "the state past k4's block");
      expect(await first.stop("SIGKILL")).toBeNull();
    } finally {
      await first.stop("SIGKILL");
    }
    const stoppedAt = parseWatchState(readFileSync(state, "utf8"), state).nextBlock;
    // while it is down: another registration and a liveness proof
    const k5 = randomKms();
    await publish(chain, k5);
    await proveLive(chain, k4);
    const second = startWatch(watchArgs(chain.node.url, ["--state", state]));
    try {
      await second.until((f) => regsOf(f, k5).length === 1 && f.some((x) => x.kind === "liveness"), "k5 and k4's liveness after the restart");
      expect(second.stderr()).toMatch(new RegExp(`from block ${stoppedAt} .*\\(resumed\\)`));
      expect(regsOf(second.findings, k4)).toEqual([]);
      const both = [...first.findings, ...second.findings];
      expect(duplicateIds(both)).toEqual([]);
      // nothing missed: one run over the same blocks without any fault finds exactly the same
      const head = Number(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 }));
      const clean = startWatch(watchArgs(chain.node.url, ["--from-block", from]));
      try {
        await clean.untilStderr(new RegExp(`processed blocks ${from}…${head} `));
        // stdout and stderr are separate pipes: the findings printed before that line may still be on their way
        await clean.until((f) => f.length >= both.length, "the clean run's findings");
        expect(clean.findings.map((f) => f.id).sort()).toEqual(both.map((f) => f.id).sort());
      } finally {
        await clean.stop("SIGKILL");
      }
      expect(await second.stop("SIGTERM")).toBe(0);
    } finally {
      await second.stop("SIGKILL");
    }
  });

  it("(3) a reorg: findings of dropped blocks are retracted at 1 confirmation; with 8 confirmations nothing is retracted", async () => {
    const from = String(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 }));
    const shallow = startWatch(watchArgs(chain.node.url, ["--from-block", from]));
    const deepState = `${chain.tmp}/deep.state.json`;
    const deep = startWatch(watchArgs(chain.node.url, ["--from-block", from, "--confirmations", "8", "--state", deepState]));
    try {
      await mine(chain, 10);
      const snapshot = (await rpc(chain, "evm_snapshot")) as string;
      const dropped = randomKms();
      const droppedBlock = Number(await publish(chain, dropped));
      await mine(chain, 2);
      const [reg] = regsOf(await shallow.until((f) => regsOf(f, dropped).length === 1, "the soon-dropped registration"), dropped);
      expect(reg!.block).toBe(droppedBlock);
      // the deep watch follows too, 8 confirmations behind the head: up to the block 7 below it, not further
      const headNow = droppedBlock + 2;
      await eventually(() => {
        try {
          return parseWatchState(readFileSync(deepState, "utf8"), deepState).nextBlock === headNow - 7 + 1;
        } catch {
          return false;
        }
      }, "the deep watch at head - 7");
      await new Promise((r) => setTimeout(r, 500));
      expect(parseWatchState(readFileSync(deepState, "utf8"), deepState).nextBlock).toBe(headNow - 7 + 1);
      expect(await rpc(chain, "evm_revert", [snapshot])).toBe(true);
      // a different fork: another KMS registered, more blocks than were dropped
      const kept = randomKms();
      const keptBlock = Number(await publish(chain, kept));
      await mine(chain, 10);
      const fs = await shallow.until((f) => regsOf(f, kept).length === 1, "the new fork's registration");
      const retracted = fs.filter((f) => f.kind === "retracted");
      expect(retracted).toEqual([expect.objectContaining({ retracts: reg!.id, kms: reg!.kms, block: droppedBlock, blockHash: reg!.blockHash, severity: "warning" })]);
      expect(fs.indexOf(retracted[0]!)).toBeLessThan(fs.indexOf(regsOf(fs, kept)[0]!));
      expect(shallow.stderr()).toMatch(/\[watch\] reorg: blocks after \d+ were replaced; 1 finding retracted/);
      const d = await deep.until((f) => regsOf(f, kept).length === 1, "the deep watch's registration", 20_000);
      expect(regsOf(d, kept)[0]!.block).toBe(keptBlock);
      expect(d.filter((f) => f.kind === "retracted")).toEqual([]);
      expect(regsOf(d, dropped)).toEqual([]);
      expect(deep.stderr()).not.toMatch(/reorg/);
      expect(duplicateIds(fs)).toEqual([]);
      expect(duplicateIds(d)).toEqual([]);
      // the same finding has the same id, whoever raises it
      expect(regsOf(d, kept)[0]!.id).toBe(regsOf(fs, kept)[0]!.id);
    } finally {
      await shallow.stop("SIGKILL");
      await deep.stop("SIGKILL");
    }
  });
});
