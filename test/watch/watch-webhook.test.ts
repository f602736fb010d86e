/**
 * `kms-registry watch --webhook` with a real HTTP receiver that goes down and comes back on the same port:
 * findings are queued while it is down and delivered, in order, once it is back; over the queue's bound the
 * oldest are dropped and a `webhook-dropped` finding says how many; the queue survives a restart (it is kept in
 * the state file, flushed on SIGINT); following the chain never waits for the receiver.
 */
import { readFileSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Finding } from "../../src/watch/finding.js";
import { parseWatchState } from "../../src/watch/state.js";
import { randomKms, startChain, type TestChain } from "../registry/chain-helpers.js";
import { duplicateIds, eventually, kmsAddr, publish, startReceiver, startWatch } from "./helpers.js";

let chain: TestChain;

beforeAll(async () => {
  chain = await startChain();
}, 60_000);

afterAll(async () => {
  await chain?.node.stop();
});

const args = (hook: string, extra: string[]) => ["--registry", chain.registry, "--rpc", chain.node.url, "--deployments", chain.tmp, "--interval", "0.2", "--max-backoff", "0.5", "--webhook", hook, ...extra];
const nextBlock = async () => String(Number(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 })) + 1);
const ids = (fs: { id: string }[]) => fs.map((f) => f.id);

describe("watch: a webhook receiver that is down", () => {
  it("queues findings while the receiver is down and delivers them in order when it is back; over the bound, a webhook-dropped finding counts the dropped", async () => {
    const receiver = await startReceiver();
    const w = startWatch(args(receiver.url, ["--from-block", await nextBlock(), "--webhook-queue", "3"]));
    try {
      const k0 = randomKms();
      await publish(chain, k0);
      await eventually(() => receiver.received.length === 1, "the first delivery");
      await receiver.stop();
      // down: two findings queued, the chain still followed
      const ks = [randomKms(), randomKms()];
      for (const k of ks) await publish(chain, k);
      await w.until((f) => f.length === 3, "two more findings on stdout while the receiver is down");
      await w.untilStderr(/webhook http:\/\/127\.0\.0\.1:\d+\/\*\*\* unavailable \(attempt 1\); \d findings? queued/);
      expect(receiver.received).toHaveLength(1);
      await receiver.start();
      await eventually(() => receiver.received.length === 3, "the queued findings after the receiver came back");
      expect(ids(receiver.received.map((r) => r.finding))).toEqual(ids(w.findings));
      await w.untilStderr(/webhook http:\/\/127\.0\.0\.1:\d+\/\*\*\* answers again after \d+ failed attempts?/);

      // down again, five findings for a queue of three: the two oldest are dropped
      await receiver.stop();
      const more = [randomKms(), randomKms(), randomKms(), randomKms(), randomKms()];
      for (const k of more) await publish(chain, k);
      await w.until((f) => f.length === 8, "five more findings on stdout");
      await w.untilStderr(/webhook queue full \(3 findings\): dropping the oldest/);
      await receiver.start();
      await eventually(() => receiver.received.length === 7, "the dropped notice and the three newest");
      const got = receiver.received.slice(3).map((r) => r.finding);
      expect(got[0]).toMatchObject({ kind: "webhook-dropped", severity: "warning", dropped: 2, kms: null });
      expect(got[0]!.message).toMatch(/^2 findings were dropped from the webhook queue \(bound 3\) while http:\/\/127\.0\.0\.1:\d+\/\*\*\* was unreachable, the first [0-9a-f]{32}; they were printed on stdout$/);
      expect(ids(got.slice(1))).toEqual(ids(w.findings.slice(5, 8)));
      expect(got.slice(1).map((f) => f.kms!.toLowerCase())).toEqual(more.slice(2).map(kmsAddr));
      // the notice is a finding on stdout too
      await w.until((f) => f.some((x) => x.kind === "webhook-dropped"), "the notice on stdout");
      expect(w.findings.filter((f) => f.kind === "webhook-dropped")).toEqual([got[0]]);
      expect(duplicateIds(receiver.received.map((r) => r.finding))).toEqual([]);
    } finally {
      await w.stop("SIGKILL");
      await receiver.stop().catch(() => undefined);
    }
  });

  it("the queue is kept in the state file: stopped with SIGINT while the receiver is down, the next run delivers it", async () => {
    const receiver = await startReceiver();
    await receiver.stop();
    const state = `${chain.tmp}/webhook.state.json`;
    const first = startWatch(args(receiver.url, ["--from-block", await nextBlock(), "--state", state]));
    const ks = [randomKms(), randomKms()];
    let queued: Finding[];
    try {
      for (const k of ks) await publish(chain, k);
      await first.until((f) => f.length === 2, "two findings while the receiver is down");
      expect(await first.stop("SIGINT")).toBe(0);
      queued = parseWatchState(readFileSync(state, "utf8"), state).webhook.queue;
      expect(ids(queued)).toEqual(ids(first.findings));
      expect(first.stderr()).toMatch(/stopped at block \d+; 2 findings queued for the webhook/);
    } finally {
      await first.stop("SIGKILL");
    }
    await receiver.start();
    const second = startWatch(args(receiver.url, ["--state", state]));
    try {
      await eventually(() => receiver.received.length === 2, "the saved queue delivered by the next run");
      expect(ids(receiver.received.map((r) => r.finding))).toEqual(ids(queued));
      await eventually(() => parseWatchState(readFileSync(state, "utf8"), state).webhook.queue.length === 0, "the emptied queue saved");
      expect(second.findings).toEqual([]);
    } finally {
      expect(await second.stop("SIGTERM")).toBe(0);
      await receiver.stop();
    }
  });
});
