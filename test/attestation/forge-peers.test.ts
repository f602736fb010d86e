/**
 * "Correctness beyond the peers" (issue #3): cases where this verifier rejects with a precise reason
 * and a peer does not. The peer run here is @phala/dcap-qvl's pure-JS verifier (it accepts a custom
 * root, so it can be fed forged worlds). The WASM peer trusts only Intel's root, so forged worlds
 * cannot be shown to it; for its gaps (QE identity, issue dates) our own rejection is asserted.
 * The important assertion in every case is ours.
 */
import { createRequire } from "node:module";

import { describe, expect, it } from "vitest";

import { collateralToJson } from "../../src/attestation/collateral.js";
import { createForgeWorld, forgeQuote, type ForgeWorld, type ForgeWorldOptions } from "../../src/attestation/forge.js";
import type { Collateral } from "../../src/attestation/types.js";
import { checkQuote } from "../../src/attestation/verify.js";

interface PeerVerifier {
  verify(quote: Buffer, collateral: unknown, now: unknown): { status: string };
}
const peer = createRequire(import.meta.url)("@phala/dcap-qvl") as { QuoteVerifier: { newWithRootCa(der: Buffer): PeerVerifier } };

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
      expect(r.error.message).toMatch(/pck_crl: signature does not verify with the key of "Forged SGX PCK Platform CA"/);
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

describe("QE identity and issue dates are checked (the WASM peer checks neither)", () => {
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
