/**
 * "Correctness beyond the peers" (issue #3): cases where this verifier rejects with a precise reason
 * and a peer does not. @phala/dcap-qvl's pure-JS verifier accepts a custom root, so it is fed forged
 * worlds. The WASM peer (@phala/dcap-qvl-web) trusts only Intel's root, so its gaps (QE identity,
 * issue dates) are shown with REAL Intel-signed data: the real TDX quote at a time before its TCB
 * Info / QE Identity were issued, and with the (Intel-signed) SGX QE identity in place of the TD QE's.
 * The important assertion in every case is ours.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

import { describe, expect, it } from "vitest";

import { collateralToJson, parseCollateralJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import type { Collateral } from "../../src/dcap/types.js";
import { checkQuote } from "../../src/dcap/verify.js";

interface PeerVerifier {
  verify(quote: Buffer, collateral: unknown, now: unknown): { status: string };
}
const require = createRequire(import.meta.url);
const peer = require("@phala/dcap-qvl") as { QuoteVerifier: { newWithRootCa(der: Buffer): PeerVerifier } };

interface WasmPeer {
  initSync(m: { module: Uint8Array }): unknown;
  js_verify(quote: Uint8Array, collateral: unknown, now: bigint): { status: string };
}
async function wasmPeer(): Promise<WasmPeer> {
  const mod = (await import("@phala/dcap-qvl-web")) as unknown as WasmPeer;
  mod.initSync({ module: new Uint8Array(await readFile(require.resolve("@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm"))) });
  return mod;
}
function wasmVerify(w: WasmPeer, quote: Uint8Array, collateralJson: unknown, now: number): { ok: true; status: string } | { ok: false; message: string } {
  try {
    return { ok: true, status: w.js_verify(quote, collateralJson, BigInt(now)).status };
  } catch (e) {
    return { ok: false, message: String(e) };
  }
}
const FIX = new URL("../fixtures/dcap/", import.meta.url);

function peerVerify(w: ForgeWorld, quote: Uint8Array, collateral: Collateral, now: unknown): { ok: true; status: string } | { ok: false; message: string } {
  try {
    const r = peer.QuoteVerifier.newWithRootCa(Buffer.from(w.rootCaDer)).verify(Buffer.from(quote), JSON.parse(collateralToJson(collateral)), now);
    return { ok: true, status: r.status };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

async function world(opts: ForgeWorldOptions = {}): Promise<{ w: ForgeWorld; quote: Uint8Array }> {
  const w = await createForgeWorld({ seed: "peers", ...opts });
  return { w, quote: await forgeQuote(w, { reportData: "0x5eed" }) };
}

function oursAt(w: ForgeWorld, quote: Uint8Array, collateral: Collateral, now: unknown) {
  return checkQuote(quote, { collateral, now: now as number, rootCaDer: w.rootCaDer });
}

function ours(w: ForgeWorld, quote: Uint8Array, collateral: Collateral = w.collateral) {
  return oursAt(w, quote, collateral, w.now);
}

describe("CRL signatures are checked (the JS peer never checks them)", () => {
  it("PCK CRL signed by an unrelated key", async () => {
    const { w, quote } = await world({ pckCrl: { signWithWrongKey: true } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("PCK_CRL_SIGNATURE_INVALID");
      expect(r.error.message).toMatch(/pck_crl: signature does not verify with the key of "Intel SGX PCK Platform CA"/);
    }
    expect(peerVerify(w, quote, w.collateral, w.now)).toEqual({ ok: true, status: "UpToDate" });
  });

  it("root CA CRL signed by an unrelated key", async () => {
    const { w, quote } = await world({ rootCrl: { signWithWrongKey: true } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("ROOT_CA_CRL_SIGNATURE_INVALID");
    expect(peerVerify(w, quote, w.collateral, w.now).ok).toBe(true);
  });

  it("the root's CRL supplied in place of the PCK CA's CRL (so the PCK leaf is never revocation-checked)", async () => {
    const { w, quote } = await world({ revoke: { pckLeaf: true } });
    const swapped = { ...w.collateral, pckCrl: w.collateral.rootCaCrl };
    const r = ours(w, quote, swapped);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("PCK_CRL_ISSUER_MISMATCH");
      expect(r.error.message).toMatch(/pck_crl/);
    }
    // the peer accepts a revoked PCK leaf when the CRL that lists it is replaced
    expect(peerVerify(w, quote, swapped, w.now).ok).toBe(true);
    // …and, with the right CRL, both reject the revoked leaf
    const right = ours(w, quote);
    expect(right.ok).toBe(false);
    if (!right.ok) expect(right.error.code).toBe("PCK_REVOKED");
  });
});

describe("CRL nextUpdate is checked (the JS peer ignores it)", () => {
  it("PCK CRL past nextUpdate", async () => {
    const { w, quote } = await world({ pckCrl: { nextUpdate: 1767225599 } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("PCK_CRL_EXPIRED");
      expect(r.error.message).toMatch(/pck_crl: expired at nextUpdate 2025-12-31T23:59:59Z \(verification time 2026-01-01T00:00:00Z\)/);
    }
    expect(peerVerify(w, quote, w.collateral, w.now).ok).toBe(true);
  });

  it("root CA CRL past nextUpdate", async () => {
    const { w, quote } = await world({ rootCrl: { nextUpdate: 1767225599 } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("ROOT_CA_CRL_EXPIRED");
    expect(peerVerify(w, quote, w.collateral, w.now).ok).toBe(true);
  });
});

describe("a missing or NaN time is rejected (the JS peer treats it as 'skip time checks')", () => {
  it("collateral that expired years ago: the peer accepts it without a time, we refuse to run without one", async () => {
    // a world made for 2020-09-13; everything in it expired in 2020
    const { w, quote } = await world({ now: 1_600_000_000 });
    for (const now of [undefined, Number.NaN]) {
      const r = oursAt(w, quote, w.collateral, now);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe("USAGE");
        expect(r.error.message).toMatch(/now must be a whole, non-negative number of unix seconds/);
      }
      expect(peerVerify(w, quote, w.collateral, now)).toEqual({ ok: true, status: "UpToDate" });
    }
    // at an actual time (the forge's default, 2026-01-01) we say precisely what expired first
    const late = oursAt(w, quote, w.collateral, 1_767_225_600);
    expect(late.ok).toBe(false);
    if (!late.ok) expect(late.error.message).toMatch(/expired at nextUpdate 2020-10-1\dT/);
  });
});

describe("real Intel data: QE identity and issue dates are checked (the WASM peer checks neither)", () => {
  it("the real TDX quote before its TCB Info / QE Identity were issued", async () => {
    const quote = new Uint8Array(await readFile(new URL("tdx_quote", FIX)));
    const text = await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8");
    const collateral = parseCollateralJson(text);
    const wasm = await wasmPeer();
    // sanity: both agree at the documented time
    expect(wasmVerify(wasm, quote, JSON.parse(text), 1752919234)).toEqual({ ok: true, status: "UpToDate" });
    expect(checkQuote(quote, { collateral, now: 1752919234 }).ok).toBe(true);
    // 2025-06-19T10:13:20Z: the TCB Info is issued at 10:16:03Z
    const a = checkQuote(quote, { collateral, now: 1750328000 });
    expect(a.ok).toBe(false);
    if (!a.ok) {
      expect(a.error.code).toBe("TCB_INFO_NOT_YET_VALID");
      expect(a.error.message).toMatch(/tcb_info issueDate 2025-06-19T10:16:03Z is after the verification time 2025-06-19T10:13:20Z/);
    }
    expect(wasmVerify(wasm, quote, JSON.parse(text), 1750328000)).toEqual({ ok: true, status: "UpToDate" });
    // 2025-06-19T10:30:00Z: the QE Identity is issued at 10:32:27Z
    const b = checkQuote(quote, { collateral, now: 1750329000 });
    expect(b.ok).toBe(false);
    if (!b.ok) {
      expect(b.error.code).toBe("QE_IDENTITY_NOT_YET_VALID");
      expect(b.error.message).toMatch(/qe_identity issueDate 2025-06-19T10:32:27Z is after the verification time 2025-06-19T10:30:00Z/);
    }
    expect(wasmVerify(wasm, quote, JSON.parse(text), 1750329000).ok).toBe(true);
  });

  it("the real TDX quote with Intel's SGX QE identity (validly signed) in place of the TD QE's", async () => {
    const quote = new Uint8Array(await readFile(new URL("tdx_quote", FIX)));
    const tdx = JSON.parse(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
    const sgx = JSON.parse(await readFile(new URL("sgx_quote_collateral.json", FIX), "utf8"));
    const swapped = { ...tdx, qe_identity: sgx.qe_identity, qe_identity_signature: sgx.qe_identity_signature, qe_identity_issuer_chain: sgx.qe_identity_issuer_chain };
    const r = checkQuote(quote, { collateral: parseCollateralJson(JSON.stringify(swapped)), now: 1752919234 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("QE_IDENTITY_MISMATCH");
      expect(r.error.message).toMatch(/qe_identity is QE v2, a TDX quote needs TD_QE v2\/v3/);
      // the signature over the swapped identity is Intel's and was accepted before the mismatch
      expect(r.checks.find((c) => c.name === "qe-identity.signature")?.ok).toBe(true);
    }
    expect(wasmVerify(await wasmPeer(), quote, swapped, 1752919234)).toEqual({ ok: true, status: "UpToDate" });
  });
});

describe("forged data: QE identity and issue dates are checked", () => {
  it("QE identity: a QE whose MRSIGNER is not the identity's", async () => {
    const { w, quote } = await world({ qeIdentity: { mrsigner: "ab".repeat(32) } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("QE_MRSIGNER_MISMATCH");
      expect(r.error.message).toMatch(/QE report MRSIGNER dc9e2a7c\w+ differs from qe_identity's (ab){32}/);
    }
  });

  it("QE identity: a QE below every QE TCB level", async () => {
    const { w, quote } = await world({ qeIdentity: { tcbLevels: [{ isvsvn: 9, tcbStatus: "UpToDate" }] } });
    const r = ours(w, quote);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/QE ISVSVN 6 is below the minimum required by qe_identity \(9\)/);
  });

  it("issue dates: TCB Info and QE Identity issued after the verification time", async () => {
    const a = await world({ tcbInfo: { issueDate: 1767225601 } });
    const ra = ours(a.w, a.quote);
    expect(ra.ok).toBe(false);
    if (!ra.ok) expect(ra.error.message).toMatch(/tcb_info issueDate 2026-01-01T00:00:01Z is after the verification time 2026-01-01T00:00:00Z/);
    const b = await world({ qeIdentity: { issueDate: 1767225601 } });
    const rb = ours(b.w, b.quote);
    expect(rb.ok).toBe(false);
    if (!rb.ok) expect(rb.error.message).toMatch(/qe_identity issueDate 2026-01-01T00:00:01Z is after the verification time/);
  });
});
