/**
 * `reverifyRegistration`, the one re-verification of a registration per platform (used by `audit --reverify`,
 * the dashboard and `watch`), over real samples: Intel's real `tdx_quote` with its real collateral, as published
 * on chain (at the registration's block time) and as the caller's collateral (at the caller's time); go-sev-guest's
 * real AMD-signed Milan report with its VCEK and AMD's Milan chain, as published on chain (genuine: AMD's pinned
 * ARK). The verdict has one shape for both. Also the platform table: ids, names, and how a registered quote's
 * platform is told.
 */
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { parseQuote } from "../../src/dcap/quote.js";
import { platformName, platformOfRegisteredQuote, REGISTRY_PLATFORMS } from "../../src/registry/platforms.js";
import { NO_PUBLISHED_COLLATERAL, NO_PUBLISHED_SNP_EVIDENCE, reverifyRegistration, type RegistrationVerdict } from "../../src/registry/reverify.js";
import { toOnChainCollateral } from "../../src/registry/verifier.js";
import { TDX_NOW, tdxCollateral, tdxQuote } from "../attestation/real-fixtures.js";

const snp = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/sev-snp/${name}`, import.meta.url)));
const SNP_NOW = Date.UTC(2027, 0, 1) / 1000;
const SHAPE: (keyof RegistrationVerdict)[] = ["platform", "ok", "summary", "ran", "genuine", "status", "steps", "report", "validUntil"];

describe("the platform table", () => {
  it("one entry per platform: unique platformOf numbers, names both ways; a registered quote's platform by its layout", () => {
    const ids = Object.values(REGISTRY_PLATFORMS).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([platformName(0), platformName(1), platformName(9)]).toEqual(["tdx", "sev-snp", "platform 9"]);
    expect(platformOfRegisteredQuote(tdxQuote())).toBe("tdx");
    expect(platformOfRegisteredQuote(snp("go-sev-guest-report-v2-milan.bin"))).toBe("sev-snp");
  });
});

describe("reverifyRegistration", () => {
  it("TDX, the real quote with its collateral published on chain: verified at the registration's block time, under Intel's root", async () => {
    const v = await reverifyRegistration(undefined, { quote: tdxQuote(), blockTimestamp: TDX_NOW, collateral: toOnChainCollateral(tdxQuote(), tdxCollateral()) }, { accept: ["UpToDate"] });
    for (const k of SHAPE) expect(v).toHaveProperty(k);
    expect(v).toMatchObject({ platform: "tdx", ok: true, ran: true, root: "intel", genuine: true, status: "UpToDate" });
    expect(v.summary).toBe(`verified: UpToDate (with the collateral published on chain, at the registration's block time ${TDX_NOW})`);
    expect(v.steps.find((c) => c.name === "tcb.status")).toMatchObject({ ok: true });
    expect(v.validUntil).toBeGreaterThan(TDX_NOW);
  });

  it("TDX without published collateral: the caller's collateral at the caller's time (said so); none given: not verified", async () => {
    const collateral = { option: "collateral" as const, load: (q: Uint8Array) => Promise.resolve({ quote: parseQuote(q), collateral: tdxCollateral() }) };
    const v = await reverifyRegistration("tdx", { quote: tdxQuote(), blockTimestamp: 1 }, { accept: ["UpToDate"], collateral, now: () => TDX_NOW });
    expect(v).toMatchObject({ ok: true, status: "UpToDate" });
    expect(v.summary).toBe(`verified: UpToDate (${NO_PUBLISHED_COLLATERAL}; with --collateral, at ${TDX_NOW})`);
    const refused = await reverifyRegistration("tdx", { quote: tdxQuote(), blockTimestamp: 1 }, { accept: ["SWHardeningNeeded"], collateral, now: () => TDX_NOW });
    expect(refused).toMatchObject({ ok: false, status: "UpToDate", summary: expect.stringMatching(/^verified but TCB status UpToDate is not accepted \(SWHardeningNeeded\)/) as unknown });
    const none = await reverifyRegistration("tdx", { quote: tdxQuote(), blockTimestamp: 1 }, { accept: ["UpToDate"] });
    expect(none).toMatchObject({ ok: false, ran: false, steps: [] });
    expect(none.root).toBeUndefined();
  });

  it("SEV-SNP, a real AMD-signed report with the VCEK and AMD chain published on chain: genuine (AMD's pinned ARK-Milan), the report's fields", async () => {
    const report = snp("go-sev-guest-report-v2-milan.bin");
    const v = await reverifyRegistration(undefined, { quote: report, blockTimestamp: SNP_NOW, snpEvidence: { vcek: bytesToHex(snp("go-sev-guest-vcek-milan.der")), amdChain: bytesToHex(snp("amd-milan-ask-ark.pem")) } }, { accept: [] });
    for (const k of SHAPE) expect(v).toHaveProperty(k);
    expect(v).toMatchObject({ platform: "sev-snp", ran: true, genuine: true, status: null });
    expect(v.summary).toMatch(/SEV-SNP report \(Milan\).*chained to AMD's pinned ARK-Milan.*at the registration's block time 1798761600\)$/);
    expect(v.steps.map((c) => c.name)).toEqual(expect.arrayContaining(["chain.ark", "chain.vcek", "vcek.chip-id", "vcek.tcb", "report.signature", "snp.policy.debug"]));
    expect(v.report).toMatchObject({ product: "Milan", measurement: expect.stringMatching(/^0x[0-9a-f]{96}$/) as unknown });
    expect(v.validUntil).toBeGreaterThan(SNP_NOW);
    // the same report with the VCEK's own chain missing: not verified from chain data (nothing published)
    const none = await reverifyRegistration("sev-snp", { quote: report, blockTimestamp: SNP_NOW }, { accept: [] });
    expect(none).toMatchObject({ ok: false, ran: false, summary: NO_PUBLISHED_SNP_EVIDENCE });
    // a different time than the VCEK's validity: the named step fails, genuineness not established
    const late = await reverifyRegistration("sev-snp", { quote: report, blockTimestamp: Date.UTC(2040, 0, 1) / 1000, snpEvidence: { vcek: bytesToHex(snp("go-sev-guest-vcek-milan.der")), amdChain: bytesToHex(snp("amd-milan-ask-ark.pem")) } }, { accept: [] });
    expect(late).toMatchObject({ ok: false, genuine: null, summary: expect.stringMatching(/^SNP_CERT_NOT_VALID_AT: /) as unknown });
    expect(late.steps.at(-1)).toMatchObject({ name: "chain.validity", ok: false });
  });
});
