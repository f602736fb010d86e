/**
 * Execution gas of the on-chain X.509 / CRL readers (contracts/dcap/{Der,X509,Crl}.sol) on the real
 * collateral of the TDX quote fixture, measured inside the call (gasleft before and after, so neither the
 * 21,000 base, calldata nor the ABI decoding of the harness is counted) on Hardhat's in-process network
 * with hardfork osaka (P-256 precompile at 0x100). Prints one JSON object.
 *
 *   npx tsx bench/dcap-x509-gas.bench.ts
 *
 * - pckLeaf: parse the PCK leaf, read its SGX extension, check its signature by the PCK CA key;
 * - pckCa, tcbSigning: parse, check the signature by the root key;
 * - rootCaCrl, pckCrl: parse, check the signature by the issuer key, look up one serial (the PCK CA's,
 *   resp. the PCK leaf's: not listed, so every entry is walked).
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";

import { bytesToHex, hexToBytes, type Hex } from "../src/core/bytes.js";
import { parseQuote, quotePckChain } from "../src/dcap/quote.js";
import { parseCertificate, pemBlocks, type Certificate } from "../src/dcap/x509.js";

const quote = new Uint8Array(readFileSync(new URL("../test/fixtures/dcap/tdx_quote", import.meta.url)));
const collateral = JSON.parse(readFileSync(new URL("../test/fixtures/dcap/tdx_quote_collateral.json", import.meta.url), "utf8")) as Record<string, string>;

const [leaf, pckCa, root] = quotePckChain(parseQuote(quote)) as [Certificate, Certificate, Certificate];
const tcbSigning = parseCertificate(pemBlocks(collateral.tcb_info_issuer_chain!, "tcb_info_issuer_chain")[0]!);
const rootCaCrl = hexToBytes(collateral.root_ca_crl!, "root_ca_crl");
const pckCrl = hexToBytes(collateral.pck_crl!, "pck_crl");

function key(c: Certificate): [Hex, Hex] {
  const p = c.spki.subarray(c.spki.length - 64);
  return [bytesToHex(p.subarray(0, 32)), bytesToHex(p.subarray(32))];
}

const { viem } = await network.connect({ override: { hardfork: "osaka" } });
const h = await viem.deployContract("X509Harness");

const [lOk, lGas] = await h.read.pckLeafGas([bytesToHex(leaf.der), ...key(pckCa)]);
const [cOk, cGas] = await h.read.certificateGas([bytesToHex(pckCa.der), ...key(root)]);
const [tOk, tGas] = await h.read.certificateGas([bytesToHex(tcbSigning.der), ...key(root)]);
const [rOk, rRevoked, rGas] = await h.read.crlGas([bytesToHex(rootCaCrl), ...key(root), BigInt(`0x${pckCa.serial}`)]);
const [pOk, pRevoked, pGas] = await h.read.crlGas([bytesToHex(pckCrl), ...key(pckCa), BigInt(`0x${leaf.serial}`)]);
if (!lOk || !cOk || !tOk || !rOk || !pOk || rRevoked || pRevoked) throw new Error("a real signature did not verify, or a real certificate reads as revoked");

const items = {
  pckLeaf: { bytes: leaf.der.length, gas: Number(lGas) },
  pckCa: { bytes: pckCa.der.length, gas: Number(cGas) },
  tcbSigning: { bytes: tcbSigning.der.length, gas: Number(tGas) },
  rootCaCrl: { bytes: rootCaCrl.length, gas: Number(rGas) },
  pckCrl: { bytes: pckCrl.length, gas: Number(pGas) },
};
const total = Object.values(items).reduce((s, x) => s + x.gas, 0);
process.stdout.write(`${JSON.stringify({ hardfork: "osaka", unit: "execution gas", ...items, total }, null, 2)}\n`);
