/**
 * Seeded mutation fuzzing of the parser and the verifier over the real quotes and collateral:
 * whatever the bytes, `parseQuote` returns or throws a `QuoteParseError`, and `verifyQuote` returns or
 * throws a `KmsRegistryError` subclass (never an internal error, never a hang). Deterministic seeds,
 * so a failure is reproducible; thousands of cases in a few seconds.
 */
import { describe, expect, it } from "vitest";

import { KmsRegistryError } from "../../src/core/errors.js";
import { parseQuote, QuoteParseError } from "../../src/dcap/quote.js";
import { parseCertificate, parseCrl } from "../../src/dcap/x509.js";
import { createVerificationCache } from "../../src/dcap/cache.js";
import { verifyQuote } from "../../src/dcap/verify.js";
import type { Collateral } from "../../src/dcap/types.js";
import { SGX_NOW, sgxCollateral, sgxQuote, TDX_NOW, tdxCollateral, tdxQuote } from "./real-fixtures.js";
import { rng } from "../helpers/rng.js";


/** Length fields and other interesting offsets of the v4 TDX / v3 SGX quotes. */
const HOT = { tdx: [0, 2, 4, 48, 632, 633, 634, 635, 764, 766, 769, 1218, 1219, 1252, 1254, 1257], sgx: [0, 2, 4, 432, 434, 435, 1012, 1013, 1046, 1048, 1051] };

function mutate(src: Uint8Array, r: () => number, hot: number[]): Uint8Array {
  let b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(r() * 8);
    const pos = r() < 0.4 ? hot[Math.floor(r() * hot.length)]! : Math.floor(r() * b.length);
    switch (kind) {
      case 0: // bit flip
        if (b.length) b[pos % b.length]! ^= 1 << Math.floor(r() * 8);
        break;
      case 1: // random byte
        if (b.length) b[pos % b.length] = Math.floor(r() * 256);
        break;
      case 2: // 0xff run (absurd lengths)
        for (let k = 0; k < 4 && pos + k < b.length; k++) b[pos + k] = 0xff;
        break;
      case 3: // truncate
        b = b.slice(0, Math.floor(r() * b.length));
        break;
      case 4: {
        // delete a range
        const len = Math.floor(r() * 64);
        b = Uint8Array.from([...b.subarray(0, pos), ...b.subarray(pos + len)]);
        break;
      }
      case 5: {
        // insert random bytes
        const ins = Uint8Array.from({ length: Math.floor(r() * 16) }, () => Math.floor(r() * 256));
        b = Uint8Array.from([...b.subarray(0, pos), ...ins, ...b.subarray(pos)]);
        break;
      }
      case 6: // small little-endian integer
        if (pos + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(pos, Math.floor(r() * 6000), true);
        break;
      default: // zero a range
        b.fill(0, pos, pos + Math.floor(r() * 32));
    }
  }
  return b;
}

function expectOnlyTypedErrors(fn: () => unknown, what: string): "ok" | string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (!(e instanceof KmsRegistryError) || e.code === "INTERNAL") {
      throw new Error(`${what}: unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    }
    return e.code;
  }
}

describe("parser fuzzing", () => {
  for (const [name, quote, hot] of [
    ["tdx_quote", tdxQuote(), HOT.tdx],
    ["sgx_quote", sgxQuote(), HOT.sgx],
  ] as const) {
    it(`${name}: 6000 mutated quotes parse or throw QuoteParseError`, () => {
      const r = rng(0x5eed + quote.length);
      const codes = new Map<string, number>();
      for (let i = 0; i < 6000; i++) {
        const m = mutate(quote, r, hot);
        try {
          parseQuote(m);
          codes.set("ok", (codes.get("ok") ?? 0) + 1);
        } catch (e) {
          if (!(e instanceof QuoteParseError)) throw new Error(`case ${i}: ${String(e)}`, { cause: e });
          expect(e.offset).toBeGreaterThanOrEqual(0);
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
      }
      // the loop reached both outcomes and several distinct error kinds
      expect(codes.get("ok")).toBeGreaterThan(100);
      expect(codes.size).toBeGreaterThanOrEqual(4);
    });
  }
});

describe("verifier fuzzing", () => {
  const cases: [string, Uint8Array, () => Collateral, number, number[]][] = [
    ["tdx_quote", tdxQuote(), tdxCollateral, TDX_NOW, HOT.tdx],
    ["sgx_quote", sgxQuote(), sgxCollateral, SGX_NOW, HOT.sgx],
  ];
  for (const [name, quote, coll, now, hot] of cases) {
    it(`${name}: 2500 mutated quotes verify or fail with a typed error`, () => {
      const r = rng(0xfa11 + quote.length);
      const cache = createVerificationCache();
      const collateral = coll();
      const codes = new Set<string>();
      for (let i = 0; i < 2500; i++) {
        const m = mutate(quote, r, hot);
        codes.add(expectOnlyTypedErrors(() => verifyQuote(m, { collateral, now, cache }), `${name} case ${i}`));
      }
      expect(codes.size).toBeGreaterThanOrEqual(5);
      expect(codes.has("QUOTE_SIGNATURE_INVALID")).toBe(true);
    });
  }

  it("1500 mutated collaterals (CRL bytes, signatures, JSON and PEM text) fail with typed errors", () => {
    const r = rng(0xc011);
    const base = tdxCollateral();
    const cache = createVerificationCache();
    const q = tdxQuote();
    const codes = new Set<string>();
    const textMut = (s: string) => new TextDecoder().decode(mutate(new TextEncoder().encode(s), r, [0, 1, 2]));
    for (let i = 0; i < 1500; i++) {
      const c: Collateral = { ...base };
      switch (i % 7) {
        case 0:
          c.rootCaCrl = mutate(base.rootCaCrl, r, [0, 1, 2, 3]);
          break;
        case 1:
          c.pckCrl = mutate(base.pckCrl, r, [0, 1, 2, 3, 4]);
          break;
        case 2:
          c.tcbInfo = textMut(base.tcbInfo);
          break;
        case 3:
          c.qeIdentity = textMut(base.qeIdentity);
          break;
        case 4:
          c.tcbInfoIssuerChain = textMut(base.tcbInfoIssuerChain);
          break;
        case 5:
          c.qeIdentitySignature = mutate(base.qeIdentitySignature, r, [0, 63]);
          break;
        default:
          c.pckCertificateChain = textMut(Buffer.from(q.subarray(1258, 1258 + 3678)).toString("latin1"));
      }
      codes.add(expectOnlyTypedErrors(() => verifyQuote(q, { collateral: c, now: TDX_NOW, cache }), `collateral case ${i}`));
    }
    expect(codes.size).toBeGreaterThanOrEqual(8);
  });

  it("the DER reader survives 4000 mutated certificates and CRLs", () => {
    const r = rng(0xde5);
    const c = tdxCollateral();
    const pem = Buffer.from(tdxQuote().subarray(1258, 1258 + 3678)).toString("latin1");
    const certDer = new Uint8Array(Buffer.from(pem.split("-----")[2]!.replace(/\s+/g, ""), "base64"));
    expect(parseCertificate(certDer).serial.length).toBeGreaterThan(0);
    for (let i = 0; i < 2000; i++) {
      expectOnlyTypedErrors(() => parseCertificate(mutate(certDer, r, [0, 1, 2, 3, 4, 5])), `cert case ${i}`);
      expectOnlyTypedErrors(() => parseCrl(mutate(c.pckCrl, r, [0, 1, 2, 3, 4, 5])), `crl case ${i}`);
    }
  });
});
