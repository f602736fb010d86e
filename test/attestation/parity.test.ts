/**
 * Cross-check against the peer implementations (dev dependencies) on the real Intel fixtures: same
 * parsed fields as `@phala/dcap-qvl` (pure JS) and the same status and advisory IDs as both
 * `@phala/dcap-qvl` and `@phala/dcap-qvl-web` (the Rust reference compiled to WASM).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { parseQuote } from "../../src/dcap/quote.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { verifyQuote } from "../../src/dcap/verify.js";
import { fixtureText, hex, SGX_NOW, sgxCollateral, sgxQuote, TDX_NOW, tdxCollateral, tdxQuote } from "./real-fixtures.js";

const require = createRequire(import.meta.url);
interface PeerReport {
  status: string;
  advisory_ids?: string[];
  advisoryIds?: string[];
}
const js = require("@phala/dcap-qvl") as {
  verify: (q: Uint8Array, c: unknown, now: number) => PeerReport;
  Quote: { parse: (q: Uint8Array) => { report: { type: string; data: Record<string, unknown> } } };
};
const webDir = fileURLToPath(new URL("../../node_modules/@phala/dcap-qvl-web/", import.meta.url));
const web = (await import(`${webDir}dcap-qvl-web.js`)) as {
  initSync: (o: { module: Uint8Array }) => void;
  js_verify: (q: Uint8Array, c: unknown, now: bigint) => PeerReport;
};
web.initSync({ module: readFileSync(`${webDir}dcap-qvl-web_bg.wasm`) });

const advisories = (r: PeerReport) => r.advisory_ids ?? r.advisoryIds ?? [];

describe("parity with the peers on the real fixtures", () => {
  const cases = [
    ["tdx_quote", tdxQuote, tdxCollateral, "tdx_quote_collateral.json", TDX_NOW],
    ["sgx_quote", sgxQuote, sgxCollateral, "sgx_quote_collateral.json", SGX_NOW],
  ] as const;
  for (const [name, quote, collateral, collFile, now] of cases) {
    it(`${name}: same status and advisory IDs as @phala/dcap-qvl and @phala/dcap-qvl-web`, () => {
      const ours = verifyQuote(quote(), { collateral: collateral(), now });
      const collObj = JSON.parse(fixtureText(collFile)) as unknown;
      const a = js.verify(Buffer.from(quote()), collObj, now);
      const b = web.js_verify(quote(), collObj, BigInt(now));
      expect(a.status).toBe(ours.status);
      expect(b.status).toBe(ours.status);
      expect(ours.advisoryIds).toEqual(advisories(a));
      expect(ours.advisoryIds).toEqual(advisories(b));
    });
  }

  it("tdx_quote: every TD report field equals @phala/dcap-qvl's parse", () => {
    const ours = parseQuote(tdxQuote()).body as unknown as Record<string, unknown>;
    const theirs = js.Quote.parse(Buffer.from(tdxQuote())).report;
    expect(theirs.type).toBe("td10");
    const fields = ["teeTcbSvn", "mrSeam", "mrSignerSeam", "seamAttributes", "tdAttributes", "xfam", "mrTd", "mrConfigId", "mrOwner", "mrOwnerConfig", "rtMr0", "rtMr1", "rtMr2", "rtMr3", "reportData"];
    for (const f of fields) expect(hex(ours[f] as Uint8Array), f).toBe(hex(theirs.data[f] as Uint8Array));
  });

  it("sgx_quote: the enclave report fields equal @phala/dcap-qvl's parse", () => {
    const ours = parseQuote(sgxQuote()).body as unknown as Record<string, unknown>;
    const theirs = js.Quote.parse(Buffer.from(sgxQuote())).report;
    expect(theirs.type).toBe("sgx");
    for (const f of ["cpuSvn", "attributes", "mrEnclave", "mrSigner", "reportData"]) expect(hex(ours[f] as Uint8Array), f).toBe(hex(theirs.data[f] as Uint8Array));
    for (const f of ["miscSelect", "isvProdId", "isvSvn"]) expect(ours[f], f).toBe(theirs.data[f]);
  });
});

describe("where the peers are lax, this verifier rejects with a precise reason (real fixtures, pinned peer versions)", () => {
  const base = () => JSON.parse(fixtureText("tdx_quote_collateral.json")) as Record<string, string>;
  const flipHex = (h: string, pos: number) => h.slice(0, pos) + (h[pos] === "0" ? "1" : "0") + h.slice(pos + 1);
  const ours = (c: Record<string, string>, now: number) => {
    try {
      return verifyQuote(tdxQuote(), { collateral: parseCollateralJson(JSON.stringify(c)), now }).status;
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  const jsStatus = (c: unknown, now: unknown) => {
    try {
      return js.verify(Buffer.from(tdxQuote()), c, now as number).status;
    } catch {
      return "error";
    }
  };
  const webStatus = (c: unknown, now: number) => {
    try {
      return web.js_verify(tdxQuote(), c, BigInt(now)).status;
    } catch {
      return "error";
    }
  };

  it("a CRL whose signature does not verify: @phala/dcap-qvl accepts it", () => {
    const c = base();
    c.root_ca_crl = flipHex(c.root_ca_crl!, c.root_ca_crl!.length - 10);
    expect(jsStatus(c, TDX_NOW)).toBe("UpToDate");
    expect(ours(c, TDX_NOW)).toBe("ROOT_CA_CRL_SIGNATURE_INVALID");
    const d = base();
    d.pck_crl = flipHex(d.pck_crl!, d.pck_crl!.length - 10);
    expect(jsStatus(d, TDX_NOW)).toBe("UpToDate");
    expect(ours(d, TDX_NOW)).toBe("PCK_CRL_SIGNATURE_INVALID");
  });

  it("a PCK CRL past its nextUpdate: @phala/dcap-qvl accepts it", () => {
    expect(jsStatus(base(), TDX_NOW + 2)).toBe("UpToDate");
    expect(ours(base(), TDX_NOW + 2)).toBe("PCK_CRL_EXPIRED");
  });

  it("a missing or NaN time: @phala/dcap-qvl skips the time checks; here it is a usage error", () => {
    expect(jsStatus(base(), Number.NaN)).toBe("UpToDate");
    expect(jsStatus(base(), undefined)).toBe("UpToDate");
    expect(ours(base(), Number.NaN)).toBe("USAGE");
    expect(ours(base(), undefined as unknown as number)).toBe("USAGE");
  });

  it("a time before the TCB info / QE identity issue dates: @phala/dcap-qvl-web accepts it", () => {
    const before = 1750328162; // TCB info issued 2025-06-19T10:16:03Z, QE identity 10:32:27Z
    expect(webStatus(base(), before)).toBe("UpToDate");
    expect(ours(base(), before)).toBe("TCB_INFO_NOT_YET_VALID");
  });
});
