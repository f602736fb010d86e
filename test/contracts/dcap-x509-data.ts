/** The real X.509 material of the DCAP fixtures: every PCK chain certificate, TCB Signing chain and CRL. */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { bytesToHex, hexToBytes, type Hex } from "../../src/core/bytes.js";
import { parseQuote, quotePckChain } from "../../src/dcap/quote.js";
import { pemBlocks } from "../../src/dcap/x509.js";

const LOCAL = new URL("../fixtures/dcap/", import.meta.url);
const REAL = fileURLToPath(new URL("../fixtures/dcap/real/", import.meta.url));

export interface RealX509 {
  /** every distinct certificate (PCK leaves, PCK CAs, TCB Signing certificates, roots), DER */
  certs: Map<Hex, { der: Uint8Array; from: string }>;
  /** every distinct CRL, DER */
  crls: Map<Hex, { der: Uint8Array; from: string }>;
  /** the PCK leaves (DER), one per quote */
  pckLeaves: Uint8Array[];
  quoteCount: number;
}

function quoteFiles(): string[] {
  const files = [new URL("tdx_quote", LOCAL).pathname, new URL("sgx_quote", LOCAL).pathname];
  for (const f of readdirSync(REAL).sort()) if (f.endsWith(".quote")) files.push(REAL + f);
  return files;
}

function collateralFiles(): string[] {
  const files = [new URL("tdx_quote_collateral.json", LOCAL).pathname, new URL("sgx_quote_collateral.json", LOCAL).pathname];
  for (const f of readdirSync(REAL).sort()) if (f.endsWith(".collateral.json")) files.push(REAL + f);
  return files;
}

export function realX509(): RealX509 {
  const certs = new Map<Hex, { der: Uint8Array; from: string }>();
  const crls = new Map<Hex, { der: Uint8Array; from: string }>();
  const pckLeaves: Uint8Array[] = [];
  const add = (m: typeof certs, der: Uint8Array, from: string): void => {
    const k = bytesToHex(der);
    if (!m.has(k)) m.set(k, { der, from });
  };
  const quotes = quoteFiles();
  for (const f of quotes) {
    const chain = quotePckChain(parseQuote(new Uint8Array(readFileSync(f))));
    pckLeaves.push(chain[0]!.der);
    chain.forEach((c, i) => add(certs, c.der, `${f} PCK chain ${i + 1}`));
  }
  for (const f of collateralFiles()) {
    const j = JSON.parse(readFileSync(f, "utf8")) as Record<string, string>;
    for (const field of ["tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain"]) {
      if (j[field]) pemBlocks(j[field], field).forEach((der, i) => add(certs, der, `${f} ${field} ${i + 1}`));
    }
    for (const field of ["root_ca_crl", "pck_crl"]) add(crls, hexToBytes(j[field]!, field), `${f} ${field}`);
  }
  return { certs, crls, pckLeaves, quoteCount: quotes.length };
}
