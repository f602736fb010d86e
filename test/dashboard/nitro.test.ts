/**
 * The dashboard's view of AWS Nitro Enclave registrations. `nitroDocumentDetails` over dstack's real NSM document
 * (signed under AWS's Nitro Enclaves Root-G1: genuine, a debug-mode enclave), over a test Nitro world (NOT
 * GENUINE: the cabundle starts at a test root, under which it verifies), a tampered payload (invalid) and bytes
 * that do not decode (unknown). Then a real `hardhat node` with a real `registerNitro`: the snapshot
 * (`loadSnapshot`, built on the audit) and the rendered pages show the platform, module_id, timestamp, PCR0–2,
 * os_image_hash (the record's image), the user_data binding, the test root and the check trail, and no
 * anomaly; with a verifier under the test root the full re-verification passes, under AWS's root it fails
 * naming NITRO_ROOT_NOT_PINNED.
 */
import { readFileSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import type { QuoteVerifier } from "../../src/dashboard/model.js";
import { nitroDocumentDetails } from "../../src/dashboard/quote-details.js";
import { renderKms, renderOverview } from "../../src/dashboard/render.js";
import { loadSnapshot, newSourceCache, reverifyResultOf } from "../../src/dashboard/source.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { nitroOsImageHash } from "../../src/dstack/platforms/nitro-verify.js";
import { decodeNitroDocument, nitroRegistryFields } from "../../src/dstack/platforms/nitro.js";
import { reverifyRegistration } from "../../src/registry/reverify.js";
import { createNitroWorld, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { startChain, type TestChain } from "../registry/chain-helpers.js";
import { nitroTestWorld, registerNitroKms, type NitroRegistration, type NitroTestWorld } from "../registry/nitro-helpers.js";

const realDoc = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url)))).evidence;

describe("nitroDocumentDetails", () => {
  it("dstack's real NSM document: genuine (AWS's pinned Nitro Enclaves Root-G1), its fields as decoded, a debug-mode enclave", async () => {
    const d = decodeNitroDocument(realDoc);
    const details = await nitroDocumentDetails({ quote: realDoc, blockTimestamp: Math.floor(d.timestamp / 1000) + 60 });
    expect(details).toMatchObject({ platform: "nitro-enclave", root: "vendor", measurements: null, snp: null, error: null });
    expect(details.rootDetail).toMatch(/chained to AWS's pinned Nitro Enclaves Root-G1, but the policy is refused: enclave\.debug/);
    expect(details.nitro).toMatchObject({ moduleId: d.moduleId, timestamp: d.timestamp, pcr0: d.pcrs["0"], pcr1: d.pcrs["1"], pcr2: d.pcrs["2"], osImageHash: `0x${nitroOsImageHash(d)}`, userData: bytesToHex(d.userData!), debug: true, cabundleLength: d.cabundle.length, rootName: "aws.nitro-enclaves" });
    // os_image_hash is what the registry records for this document
    expect(details.nitro!.osImageHash).toBe(nitroRegistryFields(realDoc).image);
    expect(details.signatureChecks.map((c) => c.name)).toEqual(expect.arrayContaining(["cose.signature", "chain.root", "chain.path", "enclave.debug"]));
  });

  it("a test Nitro world: NOT GENUINE (other), verified under its cabundle's root; a tampered payload: invalid; bytes that do not decode: unknown", async () => {
    const now = Math.floor(Date.now() / 1000);
    const world = createNitroWorld({ now });
    const doc = makeNitroDocument(world, { timestamp: now * 1000, userData: new Uint8Array(64).fill(1) });
    const test = await nitroDocumentDetails({ quote: doc, blockTimestamp: now + 10 });
    expect(test.root).toBe("other");
    expect(test.rootDetail).toMatch(/^NOT GENUINE: its cabundle starts at CN=test\.nitro-enclaves, not AWS's pinned Nitro Enclaves Root-G1; under that root: verified: AWS Nitro Enclave document of module i-0123456789abcdef0-enc0123456789abcdef stamped .*\(NOT GENUINE: a test root, not AWS's\)/);
    expect(test.nitro).toMatchObject({ pcr0: `0x${"11".repeat(48)}`, debug: false, userData: `0x${"01".repeat(64)}` });
    const tampered = await nitroDocumentDetails({ quote: makeNitroDocument(world, { timestamp: now * 1000, userData: new Uint8Array(64), tamperPayload: true }), blockTimestamp: now + 10 });
    expect(tampered.root).toBe("invalid");
    expect(tampered.rootDetail).toMatch(/NITRO_SIGNATURE_INVALID/);
    const junk = await nitroDocumentDetails({ quote: Uint8Array.of(0x84, 0x40, 0xa0), blockTimestamp: now });
    expect(junk).toMatchObject({ root: "unknown", nitro: null, rootDetail: "the Nitro attestation document does not decode" });
    expect(junk.error).toMatch(/CBOR/);
  });
});

describe("dashboard snapshot and pages of an AWS Nitro Enclave registration (real hardhat node, real registerNitro)", () => {
  let chain: TestChain;
  let w: NitroTestWorld;
  let reg: NitroRegistration;
  beforeAll(async () => {
    chain = await startChain();
    w = nitroTestWorld(chain.tmp);
    reg = await registerNitroKms(chain, w, { moduleId: "i-0abc1234def567890-enc0fedcba987654321", nonce: new Uint8Array(16).fill(0x4e) });
  }, 60_000);
  afterAll(async () => {
    await chain?.node.stop();
  });

  const opts = () => ({ publicClient: chain.conn.publicClient as never, registry: chain.registry, fromBlock: BigInt(chain.record.block), deploymentSource: "--from-block" as const });

  it("platform nitro-enclave, module_id, timestamp, PCR0–2, os_image_hash = the record's image, user_data binding, NOT GENUINE (test root), the check trail, no anomaly", async () => {
    const snap = await loadSnapshot(opts(), newSourceCache());
    const k = snap.kms.find((x) => x.address === reg.kms)!;
    expect(k).toMatchObject({ platform: "nitro-enclave", state: "active", path: "registrar", root: "other", tcbStatus: null, fmspc: null, collateralExpiry: null });
    expect(k.binding.ok).toBe(true);
    expect(k.anomalies).toEqual([]);
    expect(snap.anomalyCount).toBe(0);
    const a = k.attestations[0]!;
    const fields = nitroRegistryFields(reg.document);
    expect(a.platform).toBe("nitro-enclave");
    expect(a.quote!.nitro).toMatchObject({ moduleId: "i-0abc1234def567890-enc0fedcba987654321", pcr0: `0x${"11".repeat(48)}`, pcr1: `0x${"22".repeat(48)}`, pcr2: `0x${"33".repeat(48)}`, osImageHash: fields.image, nonce: `0x${"4e".repeat(16)}`, debug: false });
    expect(a.quote!.nitro!.timestamp).toBe(Number(fields.timestamp));
    expect(k.record!.imageMeasurement.toLowerCase()).toBe(fields.image);
    expect(a.checks.map((c) => c.name)).toEqual(["quote-hash", "kms-address", "quote-parse", "binding"]);
    expect(a.reverify).toBeNull();

    const overview = renderOverview(snap);
    expect(overview).toMatch(new RegExp(`data-kms="${reg.kms}">[\\s\\S]*?data-platform="nitro-enclave">AWS Nitro Enclave<[\\s\\S]*?NOT GENUINE \\(test root, not AWS&#39;s\\)[\\s\\S]*?no TCB status \\(AWS publishes none\\)`));
    const page = renderKms(snap, k);
    expect(page).toContain(`<dt>Module id</dt><dd><code class="wrap">i-0abc1234def567890-enc0fedcba987654321</code></dd>`);
    expect(page).toContain(`<tr><th>module_id</th><td><code>i-0abc1234def567890-enc0fedcba987654321</code></td></tr>`);
    expect(page).toContain(`<tr><th>PCR0</th><td><code>0x${"11".repeat(48)}</code></td></tr>`);
    expect(page).toContain(`<tr><th>PCR2</th><td><code>0x${"33".repeat(48)}</code></td></tr>`);
    expect(page).toContain(`<tr><th>os_image_hash</th><td><code>${fields.image}</code> <span class="badge ok">= the record&#39;s image measurement</span></td></tr>`);
    expect(page).toContain(`<tr><th>user_data</th><td><code>${fields.reportDataHigh}${fields.reportDataLow.slice(2)}</code></td></tr>`);
    expect(page).toContain(`<tr><th>timestamp</th><td><code>${new Date(Number(fields.timestamp)).toISOString()} (${fields.timestamp} ms)</code></td></tr>`);
    expect(page).toContain("user_data binds the keys");
    expect(page).toContain("NOT GENUINE (test root, not AWS&#39;s)");
    expect(page).toContain("Checks from the document registered on chain (its own certificate chain, at its timestamp)");
    for (const step of ["document.decode", "cose.header", "chain.root", "chain.path", "chain.validity", "cose.signature", "enclave.debug"]) expect(page).toContain(`<code>${step}</code>`);
    expect(page).not.toContain("<th>MRTD</th>");
    expect(page).not.toContain("<dt>FMSPC</dt>");
  });

  it("with a verifier under the test root, the full re-verification passes (NOT GENUINE); under AWS's pinned root it fails naming NITRO_ROOT_NOT_PINNED", async () => {
    const verifier =
      (rootCaDer?: Uint8Array): QuoteVerifier =>
      async (quote, rc) =>
        reverifyResultOf(await reverifyRegistration(rc.registration.platform, { quote, blockTimestamp: rc.blockTimestamp }, { accept: ["UpToDate"], ...(rootCaDer ? { rootCaDer } : {}) }));
    const test = await loadSnapshot({ ...opts(), verifyQuote: verifier(w.world.rootDer) }, newSourceCache());
    const k = test.kms.find((x) => x.address === reg.kms)!;
    expect(k.attestations[0]!.reverify).toMatchObject({ ok: true, platform: "nitro-enclave", genuine: false, status: null, collateralExpiry: null });
    expect(k.attestations[0]!.reverify!.detail).toMatch(/^verified: AWS Nitro Enclave document of module i-0abc1234def567890-enc0fedcba987654321 stamped .*\(NOT GENUINE: a test root, not AWS's\); os_image_hash [0-9a-f]{64}/);
    expect(k.anomalies).toEqual([]);
    const pinned = await loadSnapshot({ ...opts(), verifyQuote: verifier() }, newSourceCache());
    const p = pinned.kms.find((x) => x.address === reg.kms)!;
    expect(p.attestations[0]!.reverify).toMatchObject({ ok: false, genuine: false });
    expect(p.anomalies.map((x) => x.kind)).toEqual(["quote-not-verifiable"]);
    expect(p.anomalies[0]!.detail).toMatch(/NITRO_ROOT_NOT_PINNED/);
    expect(renderKms(pinned, p)).toContain(`Full re-verification — <span class="badge bad">FAILS</span>`);
  });
});
