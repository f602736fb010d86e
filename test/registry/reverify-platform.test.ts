/**
 * `reverifyRegistration`, the audit's re-verification of a non-TDX registration from chain data alone:
 * dstack's real Nitro document (AWS-signed, a debug-mode enclave) and documents of a test Nitro world; SNP
 * reports of a test SNP world with and without a published CRL, and with a CRL revoking the ASK. Also how the
 * audit's state rebuild reads a Nitro registration (platform, user_data binding) and a published CRL.
 */
import { readFileSync } from "node:fs";

import { keccak256 } from "viem";
import { describe, expect, it } from "vitest";

import { bytesToHex, type Hex } from "../../src/core/bytes.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { platformOfQuote, rebuildState, type AttestationPlatform, type SnpEvidence } from "../../src/registry/audit-state.js";
import type { AuditEvent } from "../../src/registry/events.js";
import { reverifyRegistration, type RegistrationVerdict } from "../../src/registry/reverify.js";
import { createNitroWorld, debugPcrs, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { createSnpWorld, issueVcek, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { bindingReportData, newKms } from "../contracts/helpers.js";

const NOW = Math.floor(Date.now() / 1000);
const ctx = (blockTimestamp: number, platform: AttestationPlatform, snpEvidence?: SnpEvidence) => ({ blockTimestamp, platform, ...(snpEvidence ? { snpEvidence } : {}) });
/** The re-verification of `quote` registered as `c` says, with the summary as `detail`. */
async function reverifyPlatformRegistration(platform: AttestationPlatform, quote: Uint8Array, c: ReturnType<typeof ctx>, opts: { testRootDer?: Uint8Array } = {}): Promise<RegistrationVerdict & { detail: string }> {
  const { platform: _p, ...evidence } = c;
  const v = await reverifyRegistration(platform, { quote, ...evidence }, { accept: ["UpToDate"], ...(opts.testRootDer ? { rootCaDer: opts.testRootDer } : {}) });
  return { ...v, detail: v.summary };
}

describe("reverifyRegistration: AWS Nitro Enclave", () => {
  const realDoc = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url)))).evidence;

  it("dstack's real document: chained to AWS's pinned root at its timestamp, but a debug-mode enclave, so refused", async () => {
    // registered a day after it was made: its per-document certificate (3 h) has long expired, the document's time is what counts
    const out = await reverifyPlatformRegistration("nitro-enclave", realDoc, ctx(Date.UTC(2025, 11, 26) / 1000, "nitro-enclave"))!;
    expect(out.ok).toBe(false);
    expect(out.detail).toMatch(/^AWS Nitro Enclave document of module i-0fd3fdaad4e904e69-enc019b54988b2d89ba stamped 2025-12-25T08:20:46\.577Z, ES384 signature verified, chained to AWS's pinned Nitro Enclaves Root-G1, but the policy is refused: enclave\.debug: /);
    // registered before it was stamped: refused
    const early = await reverifyPlatformRegistration("nitro-enclave", realDoc, ctx(Date.UTC(2025, 11, 24) / 1000, "nitro-enclave"))!;
    expect(early).toMatchObject({ ok: false, detail: expect.stringMatching(/^NITRO_TIMESTAMP_INVALID: the document is stamped 2025-12-25T08:20:46\.577Z, after the block that registered it/) });
  });

  it("a test world's document: verified under its root (NOT GENUINE), not under AWS's; a debug-mode one is refused; a tampered one fails", async () => {
    const world = createNitroWorld({ now: NOW });
    const k = newKms();
    const doc = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    const ok = await reverifyPlatformRegistration("nitro-enclave", doc, ctx(NOW + 60, "nitro-enclave"), { testRootDer: world.rootDer })!;
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/ES384 signature verified \(NOT GENUINE: a test root, not AWS's\); os_image_hash [0-9a-f]{64} /);
    expect(await reverifyPlatformRegistration("nitro-enclave", doc, ctx(NOW + 60, "nitro-enclave"))).toMatchObject({ ok: false, detail: expect.stringMatching(/^NITRO_ROOT_NOT_PINNED: /) });
    const debug = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), pcrs: debugPcrs() });
    expect(await reverifyPlatformRegistration("nitro-enclave", debug, ctx(NOW + 60, "nitro-enclave"), { testRootDer: world.rootDer })).toMatchObject({ ok: false, detail: expect.stringMatching(/the policy is refused: enclave\.debug/) });
    const tampered = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), tamperPayload: true });
    expect(await reverifyPlatformRegistration("nitro-enclave", tampered, ctx(NOW + 60, "nitro-enclave"), { testRootDer: world.rootDer })).toMatchObject({ ok: false, detail: expect.stringMatching(/^NITRO_SIGNATURE_INVALID: /) });
    expect(await reverifyPlatformRegistration("nitro-enclave", doc.subarray(0, 100), ctx(NOW, "nitro-enclave"))).toMatchObject({ ok: false, detail: expect.stringMatching(/^NITRO_DOCUMENT_MALFORMED: /) });
    // a TDX registration is verified with collateral, of which this one published none
    expect(await reverifyPlatformRegistration("tdx", doc, ctx(NOW, "tdx"))).toMatchObject({ ok: false, ran: false, detail: expect.stringMatching(/no collateral was published on chain/) });
  });
});

describe("reverifyRegistration: SEV-SNP revocation from the published CRL", () => {
  const world = createSnpWorld({ now: NOW });
  const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(9), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
  const report = makeSnpReport(world, vcek, { reportData: new Uint8Array(64) });
  const evidence = (crl?: Uint8Array): SnpEvidence => ({ vcek: bytesToHex(vcek.der), amdChain: bytesToHex(new TextEncoder().encode(world.certChainPem)), ...(crl ? { crl: bytesToHex(crl) } : {}) });
  const opts = { testRootDer: world.arkDer };

  it("with a CRL: re-checked at the block time; without one: the detail says revocation was not re-checked", async () => {
    const crl = makeArkCrl(world, { thisUpdate: NOW - 3600, nextUpdate: NOW + 86_400 });
    const withCrl = await reverifyPlatformRegistration("sev-snp", report, ctx(NOW, "sev-snp", evidence(crl)), opts)!;
    expect(withCrl.ok).toBe(true);
    expect(withCrl.detail).toMatch(/; AMD revocation re-checked with the CRL published on chain \(ARK-Milan, next update [^)]+\): not revoked/);
    const without = await reverifyPlatformRegistration("sev-snp", report, ctx(NOW, "sev-snp", evidence()), opts)!;
    expect(without.ok).toBe(true);
    expect(without.detail).toMatch(/AMD revocation NOT re-checked: no CRL was published on chain for this registration \(no KmsSnpCrlPublished\)/);
    expect(await reverifyPlatformRegistration("sev-snp", report, ctx(NOW, "sev-snp"), opts)).toMatchObject({ ok: false, detail: expect.stringMatching(/no KmsSnpEvidencePublished/) });
  });

  it("a published CRL that revokes the ASK, or one no longer current at the block time, fails the re-verification", async () => {
    const revoking = makeArkCrl(world, { thisUpdate: NOW - 3600, nextUpdate: NOW + 86_400, revokeAsk: true });
    expect(await reverifyPlatformRegistration("sev-snp", report, ctx(NOW, "sev-snp", evidence(revoking)), opts)).toMatchObject({ ok: false, detail: expect.stringMatching(/^SNP_CERT_REVOKED: .*with the CRL published on chain\)$/) });
    const stale = makeArkCrl(world, { thisUpdate: NOW - 7200, nextUpdate: NOW - 3600 });
    expect(await reverifyPlatformRegistration("sev-snp", report, ctx(NOW, "sev-snp", evidence(stale)), opts)).toMatchObject({ ok: false, detail: expect.stringMatching(/^SNP_CRL_EXPIRED: /) });
  });
});

describe("the audit's state rebuild of Nitro registrations and published CRLs", () => {
  const where = (logIndex: number) => ({ block: 5, tx: `0x${"ab".repeat(32)}` as Hex, logIndex });
  const registered = (caPubkey: Uint8Array, k256Pubkey: Uint8Array, quote: Uint8Array): AuditEvent => ({
    kind: "registered",
    kms: ethAddress(k256Pubkey) as Hex,
    quoteHash: keccak256(quote),
    registrar: "0x0000000000000000000000000000000000000002",
    caPubkey: bytesToHex(caPubkey),
    k256Pubkey: bytesToHex(k256Pubkey),
    quote: bytesToHex(quote),
    ...where(0),
  });

  it("a Nitro document is told by its shape; its user_data is checked against the keys", () => {
    const world = createNitroWorld({ now: NOW });
    const k = newKms();
    const doc = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    expect(platformOfQuote(doc)).toBe("nitro-enclave");
    expect(platformOfQuote(makeNitroDocument(world, { timestamp: NOW * 1000, tagged: true }))).toBe("nitro-enclave");
    const { kms, anomalies } = rebuildState([registered(k.caPubkey, k.k256Pubkey, doc)]);
    expect(anomalies).toEqual([]);
    expect(kms[0]).toMatchObject({ platform: "nitro-enclave", attestations: [{ platform: "nitro-enclave" }] });
    expect(kms[0]!.checks.find((c) => c.name === "binding")).toMatchObject({ ok: true });
    // a document binding other keys: a binding anomaly
    const other = newKms();
    const wrong = rebuildState([registered(other.caPubkey, other.k256Pubkey, doc)]);
    expect(wrong.anomalies.map((a) => a.kind)).toEqual(["binding-mismatch"]);
  });

  it("KmsSnpCrlPublished joins the SNP evidence of its registration; without KmsSnpEvidencePublished before it, an anomaly", () => {
    const world = createSnpWorld({ now: NOW });
    const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(4), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
    const k = newKms();
    const report = makeSnpReport(world, vcek, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    const reg = registered(k.caPubkey, k.k256Pubkey, report);
    const base = { kms: reg.kms, quoteHash: keccak256(report) };
    const ev: AuditEvent = { kind: "snp-evidence", ...base, vcek: bytesToHex(vcek.der), amdChain: "0x00", ...where(1) };
    const crl: AuditEvent = { kind: "snp-crl", ...base, crl: "0x3082", ...where(2) };
    const ok = rebuildState([reg, ev, crl]);
    expect(ok.anomalies).toEqual([]);
    expect(ok.kms[0]!.attestations[0]!.snpEvidence).toEqual({ vcek: bytesToHex(vcek.der), amdChain: "0x00", crl: "0x3082" });
    const orphan = rebuildState([reg, { ...crl, logIndex: 1 }]);
    expect(orphan.anomalies).toMatchObject([{ kind: "event-without-registration", detail: expect.stringMatching(/KmsSnpCrlPublished .* does not follow the KmsSnpEvidencePublished/) }]);
  });
});
