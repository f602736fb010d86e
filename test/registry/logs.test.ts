import { describe, expect, it } from "vitest";

import { NetworkError } from "../../src/core/errors.js";
import { isRangeLimitError, scanLogs, statedMaxRange, suggestedRange, type RawLog } from "../../src/registry/logs.js";

const ALCHEMY =
  "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x10, 0x80f]";
const INFURA = "query returned more than 10000 results. Try with this block range [0x30D40, 0x30E1A].";

describe("eth_getLogs limit errors", () => {
  it("recognises hosted-RPC range/result limits and not other failures", () => {
    for (const m of [ALCHEMY, INFURA, "HTTP response body exceeded the size limit.", "exceed maximum block range: 5000", "block range is too wide", "eth_getLogs is limited to a 10,000 range", "ranges over 10000 blocks are not supported"]) {
      expect(isRangeLimitError(new Error(m)), m).toBe(true);
    }
    for (const m of ["execution reverted", "429 Too Many Requests", "rate limit exceeded", "invalid params: address"]) {
      expect(isRangeLimitError(new Error(m)), m).toBe(false);
    }
    // viem nests the RPC's message in `details` / `cause`
    const nested = Object.assign(new Error("RPC Request failed."), { details: INFURA });
    expect(isRangeLimitError(new Error("wrapper", { cause: nested }))).toBe(true);
  });

  it("reads the RPC's suggested range and stated maximum", () => {
    expect(suggestedRange(new Error(ALCHEMY))).toEqual({ from: 0x10n, to: 0x80fn });
    expect(suggestedRange(new Error(INFURA))).toEqual({ from: 0x30d40n, to: 0x30e1an });
    expect(statedMaxRange(new Error("exceed maximum block range: 5000"))).toBe(5000n);
    expect(statedMaxRange(new Error(ALCHEMY))).toBe(2000n);
    expect(statedMaxRange(new Error("eth_getLogs is limited to a 10,000 range"))).toBe(10000n);
    expect(suggestedRange(new Error("no hint here"))).toBeUndefined();
  });
});

/** A fake request function standing in for a JSON-RPC endpoint (logs at every 7th block). */
function fakeRpc(limit: (from: number, to: number) => string | null) {
  const calls: [number, number][] = [];
  const request = async ({ params }: { method: string; params?: unknown }) => {
    const p = (params as { fromBlock: string; toBlock: string }[])[0]!;
    const from = Number(BigInt(p.fromBlock));
    const to = Number(BigInt(p.toBlock));
    calls.push([from, to]);
    const err = limit(from, to);
    if (err) throw new Error(err);
    const logs: RawLog[] = [];
    for (let b = from; b <= to; b++) {
      if (b % 7 === 0) logs.push({ address: "0x01", topics: [], data: "0x", blockNumber: `0x${b.toString(16)}`, blockHash: `0x${b.toString(16)}`, transactionHash: "0x", transactionIndex: "0x0", logIndex: "0x0" } as unknown as RawLog);
    }
    return logs;
  };
  return { request, calls };
}

describe("scanLogs", () => {
  it("covers every block exactly once while halving on refusals and growing after successes", async () => {
    const rpc = fakeRpc((f, t) => (t - f + 1 > 1000 ? "exceed maximum block range: 1000" : null));
    const r = await scanLogs({ request: rpc.request, address: "0x01", fromBlock: 0n, toBlock: 20_000n, initialRange: 8000n, growAfter: 2 });
    expect(r.logs.length).toBe(Math.floor(20_000 / 7) + 1);
    const served = rpc.calls.filter(([f, t]) => t - f + 1 <= 1000);
    let next = 0;
    for (const [f, t] of served) {
      expect(f).toBe(next);
      next = t + 1;
    }
    expect(next).toBe(20_001);
    expect(r.rangeErrors).toBeGreaterThan(0);
  });

  it("jumps straight to the RPC's suggested range", async () => {
    const rpc = fakeRpc((f, t) => (t - f + 1 > 500 ? `this block range should work: [0x${f.toString(16)}, 0x${(f + 499).toString(16)}]` : null));
    const r = await scanLogs({ request: rpc.request, address: "0x01", fromBlock: 0n, toBlock: 999n, initialRange: 100_000n, growAfter: 100 });
    expect(rpc.calls[1]).toEqual([0, 499]);
    expect(r.rangeErrors).toBe(1);
  });

  it("gives up with a typed error when even one block is refused, and retries transient failures", async () => {
    const never = fakeRpc(() => "block range is too wide");
    await expect(scanLogs({ request: never.request, address: "0x01", fromBlock: 5n, toBlock: 9n })).rejects.toThrow(NetworkError);
    let n = 0;
    const flaky = fakeRpc(() => (n++ < 2 ? "upstream connect error" : null));
    const r = await scanLogs({ request: flaky.request, address: "0x01", fromBlock: 0n, toBlock: 13n, retryDelayMs: 1 });
    expect(r.logs).toHaveLength(2);
    const down = fakeRpc(() => "upstream connect error");
    await expect(scanLogs({ request: down.request, address: "0x01", fromBlock: 0n, toBlock: 13n, retryDelayMs: 1 })).rejects.toThrow(/eth_getLogs \[0, 13\] failed/);
  });

  it("drops and counts logs of other addresses, copies of a log and logs outside the requested blocks", async () => {
    const registry = "0x00000000000000000000000000000000000000Ab";
    const log = (block: number, index: number, address = registry.toLowerCase()) =>
      ({ address, topics: [], data: "0x", blockNumber: `0x${block.toString(16)}`, blockHash: `0x${"0".repeat(63)}${block % 10}`, transactionHash: `0x${"1".repeat(64)}`, transactionIndex: "0x0", logIndex: `0x${index.toString(16)}` }) as RawLog;
    const answers: Record<string, RawLog[]> = {
      // a log of another contract, the same log twice, a log of a block after the requested ones
      "0-9": [log(3, 0), log(3, 1, "0x00000000000000000000000000000000000000cd"), log(5, 2), log(5, 2), log(12, 0)],
      // the later block's log again, now in its own range; a junk entry and a log without a block number
      "10-19": [log(12, 0), null as unknown as RawLog, { ...log(15, 1), blockNumber: "pending" } as unknown as RawLog],
    };
    const dropped: string[] = [];
    const r = await scanLogs({
      request: async ({ params }) => {
        const p = (params as { fromBlock: string; toBlock: string }[])[0]!;
        return answers[`${BigInt(p.fromBlock)}-${BigInt(p.toBlock)}`];
      },
      address: registry,
      fromBlock: 0n,
      toBlock: 19n,
      initialRange: 10n,
      growAfter: 100,
      onDropped: (d) => dropped.push(`${d.reason}@${d.fromBlock}-${d.toBlock}`),
    });
    expect(r.logs.map((l) => [Number(BigInt(l.blockNumber)), Number(BigInt(l.logIndex))])).toEqual([[3, 0], [5, 2], [12, 0]]);
    expect(r.received).toBe(8);
    expect(r.dropped).toEqual({ foreign: 2, duplicate: 1, outOfRange: 2 });
    expect(dropped).toEqual(["foreign@0-9", "duplicate@0-9", "out-of-range@0-9", "foreign@10-19", "out-of-range@10-19"]);
  });
});
