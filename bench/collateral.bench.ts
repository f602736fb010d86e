/**
 * Forge and online-collateral timings (median ms), printed as one JSON object:
 *   forgeWorld      createForgeWorld (10 P-256 signatures, DER writing)
 *   forgeQuote      forgeQuote (2 signatures)
 *   pccsCold        fetchCollateral of the real tdx_quote from a local PCCS (4 HTTP requests, no cache)
 *   pccsDiskCache   the same served from the on-disk cache (0 requests)
 * Run: `node --import tsx bench/collateral.bench.ts` (or `npm run bench`).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parseCollateralJson } from "../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote } from "../src/testing/forge/index.js";
import { fetchCollateral } from "../src/dcap/pccs/fetch-collateral.js";
import { bytesToPlainHex } from "../src/core/bytes.js";
import { timeMedian } from "./lib.js";


const FIX = new URL("../test/fixtures/dcap/", import.meta.url);
const quote = new Uint8Array(await readFile(new URL("tdx_quote", FIX)));
const c = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
const bodies: Record<string, { headers: Record<string, string>; body: Buffer | string }> = {
  "/sgx/certification/v4/pckcrl?ca=platform&encoding=der": { headers: { "SGX-PCK-CRL-Issuer-Chain": encodeURIComponent(c.pckCrlIssuerChain) }, body: Buffer.from(c.pckCrl) },
  "/tdx/certification/v4/tcb?fmspc=B0C06F000000": {
    headers: { "TCB-Info-Issuer-Chain": encodeURIComponent(c.tcbInfoIssuerChain), "Content-Type": "application/json" },
    body: `{"tcbInfo":${c.tcbInfo},"signature":"${bytesToPlainHex(c.tcbInfoSignature)}"}`,
  },
  "/tdx/certification/v4/qe/identity?update=standard": {
    headers: { "SGX-Enclave-Identity-Issuer-Chain": encodeURIComponent(c.qeIdentityIssuerChain), "Content-Type": "application/json" },
    body: `{"enclaveIdentity":${c.qeIdentity},"signature":"${bytesToPlainHex(c.qeIdentitySignature)}"}`,
  },
  "/sgx/certification/v4/rootcacrl": { headers: {}, body: bytesToPlainHex(c.rootCaCrl) },
};
const server = createServer((req, res) => {
  const r = bodies[req.url ?? ""];
  if (!r) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, r.headers);
  res.end(r.body);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const cacheDir = await mkdtemp(join(tmpdir(), "bench-collateral-"));

const world = await createForgeWorld({ seed: "bench" });
const result = {
  node: process.version,
  forgeWorldMs: await timeMedian(30, () => createForgeWorld({ seed: "bench" }), 3),
  forgeQuoteMs: await timeMedian(100, () => forgeQuote(world, { reportData: "01" }), 3),
  pccsColdMs: await timeMedian(30, () => fetchCollateral(quote, { pccsUrl: url, now: 1752919234 }), 3),
  pccsDiskCacheMs: await timeMedian(30, () => fetchCollateral(quote, { pccsUrl: url, now: 1752919234, cacheDir }), 3),
};
server.closeAllConnections();
server.close();
await rm(cacheDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(result) + "\n");
