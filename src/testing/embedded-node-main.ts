/**
 * The process behind `startEmbeddedNode`: one Hardhat EDR chain (hardfork osaka, so the P-256 precompile
 * at 0x100) configured inline,
 * with no Hardhat config file, served as JSON-RPC over HTTP on a loopback port. Prints one JSON line
 * `{ "url": … }` on stdout once it listens, and exits when its standard input closes (its parent died or
 * stopped it) or on SIGTERM.
 *
 * Run as a program only (never imported): `node embedded-node-main.js [host]`.
 */
import http from "node:http";

import { createHardhatRuntimeEnvironment } from "hardhat/hre";

import { packageRoot } from "../registry/deploy.js";

/** A request body this large is refused (the DCAP verifier's calls are ~20 KB). */
const MAX_BODY = 8 * 1024 * 1024;

type RpcRequest = { id?: unknown; method?: unknown; params?: unknown };
type Provider = { request: (a: { method: string; params?: unknown[] }) => Promise<unknown> };

const host = process.argv[2] ?? "127.0.0.1";
const hre = await createHardhatRuntimeEnvironment(
  { networks: { default: { type: "edr-simulated", chainType: "l1", hardfork: "osaka" } } },
  {},
  packageRoot(),
);
const { provider } = (await hre.network.connect()) as unknown as { provider: Provider };

/** A JSON-RPC error in the geth convention viem decodes: reverts (code 3) carry their raw data. */
function rpcError(id: unknown, e: unknown): Record<string, unknown> {
  const err = (e ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  const code = typeof err.code === "number" ? err.code : -32603;
  const inner = err.data as { data?: unknown } | string | undefined;
  const data = typeof inner === "string" ? inner : typeof inner?.data === "string" ? inner.data : undefined;
  return { jsonrpc: "2.0", id: id ?? null, error: { code, message: typeof err.message === "string" ? err.message : "internal error", ...(data !== undefined ? { data } : {}) } };
}

async function handleOne(r: RpcRequest): Promise<Record<string, unknown>> {
  if (typeof r !== "object" || r === null || typeof r.method !== "string") return { jsonrpc: "2.0", id: null, error: { code: -32600, message: "invalid request" } };
  try {
    const result = await provider.request({ method: r.method, params: Array.isArray(r.params) ? r.params : [] });
    return { jsonrpc: "2.0", id: r.id ?? null, result: result ?? null };
  } catch (e) {
    return rpcError(r.id, e);
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on("end", () => {
    void (async () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }));
        return;
      }
      const out = Array.isArray(body) ? await Promise.all(body.map((b) => handleOne(b as RpcRequest))) : await handleOne(body as RpcRequest);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
    })();
  });
});

server.listen(0, host, () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(JSON.stringify({ url: `http://${host}:${port}` }) + "\n");
});

const shutdown = (): void => {
  server.close();
  process.exit(0);
};
process.stdin.on("end", shutdown).on("close", shutdown).resume();
process.on("SIGTERM", shutdown);
