/** The real Intel-signed fixtures in `test/fixtures/dcap` (copied from the shared fixtures, see its README) and their pinned verification times. */
import { readFileSync } from "node:fs";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import type { Collateral } from "../../src/dcap/types.js";

export const FIXTURES = new URL("../fixtures/dcap/", import.meta.url);
export const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;
export const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)));
export const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), "utf8");

export const TDX_NOW = 1752919234;
export const TDX_WINDOW = { from: 1750329147, to: 1752919235 };
export const SGX_NOW = 1752919277;
export const SGX_WINDOW = { from: 1750330571, to: 1752919278 };

export const tdxQuote = (): Uint8Array => fixtureBytes("tdx_quote");
export const sgxQuote = (): Uint8Array => fixtureBytes("sgx_quote");
export const tdxCollateral = (): Collateral => parseCollateralJson(fixtureText("tdx_quote_collateral.json"));
export const sgxCollateral = (): Collateral => parseCollateralJson(fixtureText("sgx_quote_collateral.json"));
export const liteQuote = (): Uint8Array =>
  new Uint8Array(Buffer.from((JSON.parse(fixtureText("tdx-lite-getquote.json")) as { quote: string }).quote, "hex"));

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Re-assemble the v4 TD10 `tdx_quote` as a v5 TD15 quote (signatures no longer hold). */
export function tdxAsV5Td15(extra: { teeTcbSvn2?: Uint8Array; mrServiceTd?: Uint8Array } = {}): Uint8Array {
  const q = tdxQuote();
  const out = new Uint8Array(q.length + 6 + 64);
  out.set(q.subarray(0, 48), 0);
  out[0] = 5;
  out[48] = 3; // body type TD15
  new DataView(out.buffer).setUint32(50, 648, true);
  out.set(q.subarray(48, 632), 54);
  out.set(extra.teeTcbSvn2 ?? new Uint8Array(16).fill(0x22), 54 + 584);
  out.set(extra.mrServiceTd ?? new Uint8Array(48), 54 + 600);
  out.set(q.subarray(632), 702);
  return out;
}
