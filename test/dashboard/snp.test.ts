/**
 * The dashboard's view of SEV-SNP registrations. `snpReportDetails` over real AMD-signed data (go-sev-guest's v2
 * Milan report with its VCEK and AMD's Milan ASK/ARK: genuine, AMD's pinned ARK), over a test AMD world (NOT
 * GENUINE: the chain ends at a test ARK, under which it verifies), a VCEK of another chip (invalid) and no
 * published evidence (unknown). Then a real `hardhat node` with a real `registerSnp`: the snapshot (`loadSnapshot`,
 * built on the audit) and the rendered pages show the platform, the report's fields instead of MRTD/RTMR, the
 * binding, the test ARK, and no anomaly; with a verifier (`reverifyRegistration` under the test ARK) the full
 * re-verification passes.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { renderKms, renderOverview } from "../../src/dashboard/render.js";
import { platformReportDetails, snpReportDetails } from "../../src/dashboard/quote-details.js";
import { loadSnapshot, newSourceCache, reverifyResultOf } from "../../src/dashboard/source.js";
import type { QuoteVerifier } from "../../src/dashboard/model.js";
import { parseSnpReport } from "../../src/dstack/platforms/sev-snp.js";
import { reverifyRegistration } from "../../src/registry/reverify.js";
import { issueVcek, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { startChain, type TestChain } from "../registry/chain-helpers.js";
import { registerSnpKms, snpTestWorld, type SnpRegistration, type SnpTestWorld } from "../registry/snp-helpers.js";

const fx = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/sev-snp/${name}`, import.meta.url)));
const hexOf = (b: Uint8Array) => bytesToHex(b);
/** Inside the go-sev-guest VCEK's validity. */
const NOW = Date.UTC(2027, 0, 1) / 1000;

describe("snpReportDetails", () => {
  it("a real AMD-signed report with its VCEK and AMD's Milan chain: genuine (AMD's pinned ARK), its fields as parsed", async () => {
    const report = fx("go-sev-guest-report-v2-milan.bin");
    const d = await snpReportDetails({ quote: report, blockTimestamp: NOW, snpEvidence: { vcek: hexOf(fx("go-sev-guest-vcek-milan.der")), amdChain: hexOf(fx("amd-milan-ask-ark.pem")) } });
    const r = parseSnpReport(report);
    expect(d).toMatchObject({ platform: "sev-snp", root: "amd", measurements: null, fmspc: null, error: null });
    expect(d.rootDetail).toMatch(/chained to AMD's pinned ARK-Milan/);
    expect(d.snp).toMatchObject({ product: "Milan", version: 2, measurement: r.measurement, hostData: r.hostData, chipId: r.chipId, reportData: bytesToHex(r.reportData) });
    expect(d.snp!.reportedTcbLevels).not.toBeNull();
    expect(d.signatureChecks.find((c) => c.name === "report.signature")).toMatchObject({ ok: true });
  });

  it("the generic details of a platform without a layout of its own (what a next platform gets): the chain-data verdict's fields and root", async () => {
    const report = fx("go-sev-guest-report-v2-milan.bin");
    const d = await platformReportDetails("sev-snp", { quote: report, blockTimestamp: NOW, snpEvidence: { vcek: hexOf(fx("go-sev-guest-vcek-milan.der")), amdChain: hexOf(fx("amd-milan-ask-ark.pem")) } });
    expect(d).toMatchObject({ root: "vendor", snp: null, measurements: null });
    expect(d.fields!.measurement).toBe(parseSnpReport(report).measurement);
    expect(d.fields!.reportedTcbLevels).toMatch(/^\{"bootloader":\d+/);
    expect(d.signatureChecks.find((c) => c.name === "report.signature")).toMatchObject({ ok: true });
    const none = await platformReportDetails("sev-snp", { quote: report, blockTimestamp: NOW });
    expect(none.root).toBe("unknown");
  });

  it("a test AMD world: NOT GENUINE (other), verified under the ARK it published; another chip's VCEK: invalid; no evidence: unknown", async () => {
    const w = snpTestWorld(mkdtempSync(path.join(os.tmpdir(), "kms-dashboard-snp-")));
    const report = makeSnpReport(w.world, w.vcek, { reportData: new Uint8Array(64).fill(1) });
    const chain = hexOf(new TextEncoder().encode(w.world.certChainPem));
    const test = await snpReportDetails({ quote: report, blockTimestamp: w.world.notBefore + 100, snpEvidence: { vcek: hexOf(w.vcek.der), amdChain: chain } });
    expect(test.root).toBe("other");
    expect(test.rootDetail).toMatch(/^NOT GENUINE: the AMD chain it published ends at CN=ARK-Milan, not AMD's pinned ARK; under that ARK: verified: SEV-SNP report \(Milan\) signed by its VCEK \(NOT GENUINE: test ARK, not AMD's\)/);
    const other = issueVcek(w.world, { chipId: new Uint8Array(64).fill(0x77), tcb: w.vcek.tcb });
    const wrong = await snpReportDetails({ quote: report, blockTimestamp: w.world.notBefore + 100, snpEvidence: { vcek: hexOf(other.der), amdChain: chain } });
    expect(wrong.root).toBe("invalid");
    expect(wrong.rootDetail).toMatch(/SNP_CHIP_ID_MISMATCH/);
    const none = await snpReportDetails({ quote: report, blockTimestamp: 0 });
    expect(none).toMatchObject({ root: "unknown", rootDetail: expect.stringMatching(/no VCEK and AMD chain were published/) as unknown });
    expect(none.snp?.measurement).toBe(`0x${"4d".repeat(48)}`);
  });
});

describe("dashboard snapshot and pages of an SEV-SNP registration (real hardhat node, real registerSnp)", () => {
  let chain: TestChain;
  let w: SnpTestWorld;
  let reg: SnpRegistration;
  beforeAll(async () => {
    chain = await startChain();
    w = snpTestWorld(chain.tmp);
    reg = await registerSnpKms(chain, w, { hostData: new Uint8Array(32).fill(0xab), measurement: new Uint8Array(48).fill(0x61) });
  }, 60_000);
  afterAll(async () => {
    await chain?.node.stop();
  });

  it("platform sev-snp, the report's fields, the binding, NOT GENUINE (test ARK), no anomaly; rendered without MRTD/RTMR", async () => {
    const opts = { publicClient: chain.conn.publicClient as never, registry: chain.registry, fromBlock: BigInt(chain.record.block), deploymentSource: "--from-block" as const };
    const snap = await loadSnapshot(opts, newSourceCache());
    const k = snap.kms.find((x) => x.address === reg.kms)!;
    expect(k).toMatchObject({ platform: "sev-snp", state: "active", path: "registrar", root: "other", tcbStatus: null, fmspc: null });
    expect(k.binding.ok).toBe(true);
    expect(k.anomalies).toEqual([]);
    expect(snap.anomalyCount).toBe(0);
    const a = k.attestations[0]!;
    expect(a.platform).toBe("sev-snp");
    expect(a.quote!.snp).toMatchObject({ measurement: `0x${"61".repeat(48)}`, hostData: `0x${"ab".repeat(32)}`, chipId: `0x${"5c".repeat(64)}`, product: "Milan", reportedTcbLevels: { bootloader: 4, tee: 0, snp: 22, microcode: 213 } });
    expect(a.checks.map((c) => c.name)).toEqual(["quote-hash", "kms-address", "quote-parse", "binding"]);
    expect(a.reverify).toBeNull();

    const overview = renderOverview(snap);
    expect(overview).toMatch(new RegExp(`data-kms="${reg.kms}">[\\s\\S]*?data-platform="sev-snp">AMD SEV-SNP<[\\s\\S]*?NOT GENUINE \\(test ARK, not AMD&#39;s\\)[\\s\\S]*?reported TCB`));
    expect(overview).toContain("<th>Platform</th>");
    const page = renderKms(snap, k);
    expect(page).toContain(`<tr><th>HOST_DATA</th><td><code>0x${"ab".repeat(32)}</code></td></tr>`);
    expect(page).toContain(`<tr><th>MEASUREMENT</th><td><code>0x${"61".repeat(48)}</code></td></tr>`);
    expect(page).toContain("<dt>Chip id</dt>");
    expect(page).not.toContain("<th>MRTD</th>");
    expect(page).not.toContain("<th>RTMR0</th>");
    expect(page).toContain("Checks from the VCEK and AMD chain published on chain");
  });

  it("with a verifier under the test ARK (reverifyRegistration), the full re-verification passes; under AMD's pinned ARK it fails naming SNP_ARK_NOT_PINNED", async () => {
    const verifier =
      (rootCaDer?: Uint8Array): QuoteVerifier =>
      async (quote, rc) =>
        reverifyResultOf(await reverifyRegistration(rc.registration.platform, { quote, blockTimestamp: rc.blockTimestamp, ...(rc.registration.snpEvidence ? { snpEvidence: rc.registration.snpEvidence } : {}) }, { accept: ["UpToDate"], ...(rootCaDer ? { rootCaDer } : {}) }));
    const opts = { publicClient: chain.conn.publicClient as never, registry: chain.registry, fromBlock: BigInt(chain.record.block), deploymentSource: "--from-block" as const };
    const test = await loadSnapshot({ ...opts, verifyQuote: verifier(w.world.arkDer) }, newSourceCache());
    const k = test.kms.find((x) => x.address === reg.kms)!;
    expect(k.attestations[0]!.reverify).toMatchObject({ ok: true, platform: "sev-snp", genuine: false, status: null, collateralExpiry: null });
    expect(k.attestations[0]!.reverify!.detail).toMatch(/^verified: SEV-SNP report \(Milan\) signed by its VCEK \(NOT GENUINE: test ARK, not AMD's\)/);
    expect(k.anomalies).toEqual([]);
    const pinned = await loadSnapshot({ ...opts, verifyQuote: verifier() }, newSourceCache());
    const p = pinned.kms.find((x) => x.address === reg.kms)!;
    expect(p.attestations[0]!.reverify).toMatchObject({ ok: false, genuine: false });
    expect(p.anomalies.map((x) => x.kind)).toEqual(["quote-not-verifiable"]);
    expect(p.anomalies[0]!.detail).toMatch(/SNP_ARK_NOT_PINNED/);
    expect(renderKms(pinned, p)).toContain(`Full re-verification — <span class="badge bad">FAILS</span>`);
  });
});
