/**
 * A small real HTTP JSON-RPC proxy in front of a node that refuses `eth_getLogs` the way hosted RPCs do:
 * - "alchemy": ranges wider than `maxRange` blocks → -32602 "Log response size exceeded … this block range
 *   should work: [0x…, 0x…]"
 * - "infura": more than `maxResults` logs → -32005 "query returned more than N results. Try with this block
 *   range [0x…, 0x…]."
 * - "generic": ranges wider than `maxRange` → -32000 "exceed maximum block range: N"
 * or that tampers with the answers:
 * - "duplicate": every log of an answer comes twice
 * - "ignore-address": the filter's address is left out, so the answer holds the logs of every contract
 * - "out-of-range": the answer also holds the first real log of the filter after the requested range
 * - "drop-txs": the logs of the transactions in `dropTxs` are left out
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxyStats {
  getLogs: number;
  refused: number;
  maxServedSpan: number;
  /** Logs added to or left out of the answers. */
  tampered: number;
}

interface Log {
  transactionHash: string;
}

export async function startLogLimitProxy(
  upstream: string,
  opts: {
    mode: "alchemy" | "infura" | "generic" | "duplicate" | "ignore-address" | "out-of-range" | "drop-txs";
    maxRange?: number;
    maxResults?: number;
    dropTxs?: string[];
  },
): Promise<{ url: string; stats: ProxyStats; close: () => Promise<void> }> {
  const stats: ProxyStats = { getLogs: 0, refused: 0, maxServedSpan: 0, tampered: 0 };
  const forward = async (body: unknown) => {
    const res = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return (await res.json()) as { result?: unknown; error?: unknown };
  };
  const handle = async (req: { id: unknown; method: string; params?: unknown[] }) => {
    if (req.method !== "eth_getLogs") return forward(req);
    stats.getLogs++;
    const f = (req.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string };
    const from = Number(BigInt(f.fromBlock ?? "0x0"));
    const to = Number(BigInt(f.toBlock ?? "0x0"));
    const span = to - from + 1;
    const maxRange = opts.maxRange ?? 2000;
    if ((opts.mode === "alchemy" || opts.mode === "generic") && span > maxRange) {
      stats.refused++;
      if (opts.mode === "generic") return { jsonrpc: "2.0", id: req.id, error: { code: -32000, message: `exceed maximum block range: ${maxRange}` } };
      return {
        jsonrpc: "2.0",
        id: req.id,
        error: {
          code: -32602,
          message: `Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x${from.toString(16)}, 0x${(from + maxRange - 1).toString(16)}]`,
        },
      };
    }
    if (opts.mode === "ignore-address") {
      const rest: Record<string, unknown> = { ...f };
      delete rest.address;
      return { ...(await forward({ ...req, params: [rest] })), jsonrpc: "2.0", id: req.id };
    }
    const ans = await forward(req);
    if (Array.isArray(ans.result)) {
      const logs = ans.result as Log[];
      if (opts.mode === "duplicate") {
        stats.tampered += logs.length;
        return { ...ans, jsonrpc: "2.0", id: req.id, result: logs.flatMap((l) => [l, { ...l }]) };
      }
      if (opts.mode === "drop-txs") {
        const drop = new Set((opts.dropTxs ?? []).map((h) => h.toLowerCase()));
        const kept = logs.filter((l) => !drop.has(l.transactionHash.toLowerCase()));
        stats.tampered += logs.length - kept.length;
        return { ...ans, jsonrpc: "2.0", id: req.id, result: kept };
      }
      if (opts.mode === "out-of-range") {
        const later = await forward({ ...req, params: [{ ...f, fromBlock: `0x${(to + 1).toString(16)}`, toBlock: "latest" }] });
        const extra = Array.isArray(later.result) ? (later.result as Log[]).slice(0, 1) : [];
        stats.tampered += extra.length;
        return { ...ans, jsonrpc: "2.0", id: req.id, result: [...logs, ...extra] };
      }
    }
    if (opts.mode === "infura" && Array.isArray(ans.result) && ans.result.length > (opts.maxResults ?? 10_000)) {
      stats.refused++;
      const mid = from + Math.floor(span / 4);
      return {
        jsonrpc: "2.0",
        id: req.id,
        error: { code: -32005, message: `query returned more than ${opts.maxResults} results. Try with this block range [0x${from.toString(16)}, 0x${mid.toString(16)}].` },
      };
    }
    if (!ans.error) stats.maxServedSpan = Math.max(stats.maxServedSpan, span);
    return { ...ans, jsonrpc: "2.0", id: req.id };
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      void (async () => {
        const parsed = JSON.parse(body) as unknown;
        const out = Array.isArray(parsed) ? await Promise.all(parsed.map((r) => handle(r as never))) : await handle(parsed as never);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(out));
      })().catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
