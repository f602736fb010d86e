import { describe, expect, it } from "vitest";

import { collateralToJson, parseCollateralJson } from "../../src/dcap/collateral.js";
import { verifyQuote } from "../../src/dcap/verify.js";
import { InputError } from "../../src/core/errors.js";
import { fixtureText, TDX_NOW, tdxQuote } from "./real-fixtures.js";

const KEYS = [
  "pck_crl_issuer_chain",
  "root_ca_crl",
  "pck_crl",
  "tcb_info_issuer_chain",
  "tcb_info",
  "tcb_info_signature",
  "qe_identity_issuer_chain",
  "qe_identity",
  "qe_identity_signature",
];

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error("expected an InputError");
}

describe("collateral JSON (dcap-qvl QuoteCollateralV3)", () => {
  const text = fixtureText("tdx_quote_collateral.json");

  it("round-trips the real file byte field for byte field, in dcap-qvl's key order and lower-case hex", () => {
    const c = parseCollateralJson(text);
    const again = parseCollateralJson(collateralToJson(c));
    expect(again).toEqual(c);
    const orig = JSON.parse(text) as Record<string, string>;
    const out = JSON.parse(collateralToJson(c)) as Record<string, string>;
    expect(Object.keys(out)).toEqual(KEYS);
    for (const k of KEYS) expect(out[k], k).toBe(orig[k]);
    expect(c.rootCaCrl[0]).toBe(0x30);
    expect(c.tcbInfoSignature.length).toBe(64);
  });

  it("accepts byte fields as arrays of numbers (dcap-qvl JS) and hex with 0x / upper case", () => {
    const o = JSON.parse(text) as Record<string, unknown>;
    o.root_ca_crl = Array.from(Buffer.from(o.root_ca_crl as string, "hex"));
    o.pck_crl = `0x${(o.pck_crl as string).toUpperCase()}`;
    const c = parseCollateralJson(JSON.stringify(o));
    expect(verifyQuote(tdxQuote(), { collateral: c, now: TDX_NOW }).status).toBe("UpToDate");
  });

  it("keeps the optional pck_certificate_chain", () => {
    const o = JSON.parse(text) as Record<string, unknown>;
    o.pck_certificate_chain = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    const c = parseCollateralJson(JSON.stringify(o));
    expect(c.pckCertificateChain).toContain("BEGIN CERTIFICATE");
    expect(JSON.parse(collateralToJson(c))).toHaveProperty("pck_certificate_chain");
  });

  it("names each missing key", () => {
    for (const k of KEYS) {
      const o = JSON.parse(text) as Record<string, unknown>;
      delete o[k];
      const e = inputError(() => parseCollateralJson(JSON.stringify(o)));
      expect(e.code).toBe("COLLATERAL_INVALID");
      expect(e.message).toBe(`collateral: ${k} is missing`);
    }
  });

  it("names a bad byte field and rejects malformed JSON / wrong shapes", () => {
    const o = JSON.parse(text) as Record<string, unknown>;
    o.tcb_info_signature = "zz";
    expect(inputError(() => parseCollateralJson(JSON.stringify(o))).message).toMatch(/^collateral: tcb_info_signature is not hex/);
    o.tcb_info_signature = [1, 2, 300];
    expect(inputError(() => parseCollateralJson(JSON.stringify(o))).message).toBe("collateral: tcb_info_signature [2] is not a byte (0…255)");
    o.tcb_info_signature = 5;
    expect(inputError(() => parseCollateralJson(JSON.stringify(o))).message).toMatch(/tcb_info_signature must be a hex string or an array/);
    const o2 = JSON.parse(text) as Record<string, unknown>;
    o2.tcb_info = { id: "TDX" };
    expect(inputError(() => parseCollateralJson(JSON.stringify(o2))).message).toBe("collateral: tcb_info must be a string");
    expect(inputError(() => parseCollateralJson("{")).message).toMatch(/^collateral: not valid JSON/);
    expect(inputError(() => parseCollateralJson("[]")).message).toMatch(/expected a JSON object/);
  });
});
