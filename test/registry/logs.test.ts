import { describe, expect, it } from "vitest";

import { NetworkError } from "../../src/errors.js";
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
      if (b % 7 === 0) logs.push({ address: "0x01", topics: [], data: "0x", blockNumber: `0x${b.toString(16)}`, blockHash: "0x", transactionHash: "0x", transactionIndex: "0x0", logIndex: "0x0" } as unknown as RawLog);
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
});
