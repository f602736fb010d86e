/**
 * A real PCCS look-alike for tests: node:http on 127.0.0.1 (ephemeral port) serving a collateral
 * split back into PCCS responses (DER CRL bodies, `{"tcbInfo":…,"signature":…}` bodies from the
 * exact stored text, URL-encoded issuer-chain headers, a hex `rootcacrl` body), counting requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Collateral } from "../../src/dcap/types.js";
import { bytesToPlainHex } from "../../src/core/bytes.js";

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Pccs {
  url: string;
  /** requests per path+query */
  hits: Map<string, number>;
  routes: Map<string, Handler>;
  server: Server;
  total(): number;
}

export function pccsRoutes(c: Collateral, tee: "tdx" | "sgx", fmspc: string, ca: string): Map<string, Handler> {
  const routes = new Map<string, Handler>();
  routes.set(`/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/pkix-crl", "SGX-PCK-CRL-Issuer-Chain": encodeURIComponent(c.pckCrlIssuerChain) });
    res.end(Buffer.from(c.pckCrl));
  });
  routes.set(`/${tee}/certification/v4/tcb?fmspc=${fmspc}`, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "TCB-Info-Issuer-Chain": encodeURIComponent(c.tcbInfoIssuerChain) });
    res.end(`{"tcbInfo":${c.tcbInfo},"signature":"${bytesToPlainHex(c.tcbInfoSignature)}"}`);
  });
  routes.set(`/${tee}/certification/v4/qe/identity?update=standard`, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "SGX-Enclave-Identity-Issuer-Chain": encodeURIComponent(c.qeIdentityIssuerChain) });
    res.end(`{"enclaveIdentity":${c.qeIdentity},"signature":"${bytesToPlainHex(c.qeIdentitySignature)}"}`);
  });
  routes.set(`/sgx/certification/v4/rootcacrl`, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/x-pem-file" });
    res.end(bytesToPlainHex(c.rootCaCrl));
  });
  return routes;
}

export async function startPccs(routes: Map<string, Handler>): Promise<Pccs> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const key = req.url ?? "";
    hits.set(key, (hits.get(key) ?? 0) + 1);
    const h = routes.get(key);
    if (h) h(req, res);
    else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("no such resource");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    routes,
    server,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
  };
}

export function stopPccs(p: Pccs): Promise<void> {
  p.server.closeAllConnections();
  return new Promise((resolve) => p.server.close(() => resolve()));
}

