import { readFileSync } from "node:fs";

import { beforeAll, describe, expect, it } from "vitest";

import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { encodeDstackAttestationV0 } from "../../src/dstack/attestation.js";
import { eventLogToJson, replayEventLog, type EventLogEntry } from "../../src/dstack/eventlog.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { bytesToPlainHex, hexToBytes } from "../../src/core/bytes.js";
import { UsageError } from "../../src/core/errors.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { generateP256 } from "../../src/testing/pki.js";
import { SIMULATED_MR_TD, simulatedKmsEventLog } from "../../src/testing/simulator/index.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { generateK256 } from "../../src/testing/pki.js";
import { publicKeyFromPrivate } from "../../src/dstack/signatures.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const getQuote = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { quote: string; event_log: string };
const tdxQuote = readFileSync(new URL("tdx_quote", FIX));
const tdxCollateral = parseCollateralJson(readFileSync(new URL("tdx_quote_collateral.json", FIX), "utf8"));
const NEAR_CA = "3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
const NEAR_K256 = "022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";

let world: ForgeWorld;
let ca: Uint8Array;
let k256: Uint8Array;
let events: EventLogEntry[];
const NOW = 1_767_225_600;
beforeAll(async () => {
  world = await createForgeWorld({ now: NOW, seed: "kms verify test" });
  ca = (await generateP256()).spki;
  k256 = publicKeyFromPrivate(generateK256());
  events = simulatedKmsEventLog({ instanceId: new Uint8Array(20).fill(9) });
});

async function legacyInfo(opts: { reportData?: Uint8Array; events?: EventLogEntry[]; quoteEvents?: EventLogEntry[] } = {}) {
  const evs = opts.events ?? events;
  const rt = replayEventLog(opts.quoteEvents ?? evs).rtmrs;
  const quote = await forgeQuote(world, { reportData: opts.reportData ?? expectedKmsReportData(ca, k256), mrTd: SIMULATED_MR_TD, rtMrs: [...rt] });
  return parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(ca), k256_pubkey: bytesToPlainHex(k256), quote: bytesToPlainHex(quote), eventlog: Buffer.from(JSON.stringify(eventLogToJson(evs))).toString("hex") });
}

describe("verifyBootstrap", () => {
  it("passes a correctly bound, correctly logged quote under its (simulated) root, not genuine", async () => {
    const r = await verifyBootstrap(await legacyInfo(), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
    expect(r.failed).toEqual([]);
    expect(r).toMatchObject({ ok: true, verdict: "VERIFIED", genuine: false });
    expect(r.quote).toMatchObject({ verified: true, status: "UpToDate", accepted: true });
    expect(r.measurements!.mrTd).toBe(`0x${Buffer.from(SIMULATED_MR_TD).toString("hex")}`);
    expect(r.measurements!.bootTimeRtmr3).toMatch(/^0x[0-9a-f]{96}$/);
    expect(r.measurements!.mrAggregated).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it("names each failure: binding, RTMR replay, TCB policy, collateral, trust anchor, time", async () => {
    const swapped = await legacyInfo({ reportData: expectedKmsReportData(ca, publicKeyFromPrivate(generateK256())) });
    const b = await verifyBootstrap(swapped, { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
    expect(b.failed).toEqual(["binding.report-data"]);
    expect(b.binding!.detail).toMatch(/does not bind/);

    const tampered = events.map((e) => (e.event === "compose-hash" ? { ...e, payload: new Uint8Array(32) } : e));
    const t = await verifyBootstrap(await legacyInfo({ events: tampered, quoteEvents: events }), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
    expect(t.failed).toEqual(["eventlog.rtmr3"]);

    const p = await verifyBootstrap(await legacyInfo(), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW, acceptedStatuses: ["SWHardeningNeeded"] });
    expect(p.failed).toEqual(["quote.tcb-status"]);

    const nc = await verifyBootstrap(await legacyInfo(), { now: NOW });
    expect(nc.failed).toEqual(["quote.verified"]);
    expect(nc.quote!.error!.code).toBe("NO_COLLATERAL");

    const intel = await verifyBootstrap(await legacyInfo(), { collateral: world.collateral, now: NOW });
    expect(intel.failed).toContain("quote.verified");
    expect(intel.genuine).toBe(false);

    const late = await verifyBootstrap(await legacyInfo(), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW + 400 * 86400 });
    expect(late.ok).toBe(false);

    await expect(verifyBootstrap(await legacyInfo(), { now: Number.NaN })).rejects.toBeInstanceOf(UsageError);
  });

  it("attestation format: the attestation's report_data must equal the quote's", async () => {
    const rt = replayEventLog(events).rtmrs;
    const rd = expectedKmsReportData(ca, k256);
    const quote = await forgeQuote(world, { reportData: rd, mrTd: SIMULATED_MR_TD, rtMrs: [...rt] });
    const mk = (reportData: Uint8Array) =>
      parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(ca), k256_pubkey: bytesToPlainHex(k256), attestation: bytesToPlainHex(encodeDstackAttestationV0({ quote, eventLog: events, reportData })) });
    expect((await verifyBootstrap(mk(rd), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW })).ok).toBe(true);
    const r = await verifyBootstrap(mk(new Uint8Array(64)), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
    expect(r.failed).toEqual(["attestation.report-data"]);
  });

  it("real fixtures: the genuine Intel tdx_quote verifies but binds no KMS keys and has no event log", async () => {
    const info = parseBootstrapInfo({ ca_pubkey: NEAR_CA, k256_pubkey: NEAR_K256, quote: tdxQuote.toString("hex"), eventlog: "" });
    const r = await verifyBootstrap(info, { collateral: tdxCollateral, now: 1752919234 });
    expect(r.genuine).toBe(true);
    expect(r.quote).toMatchObject({ verified: true, status: "UpToDate" });
    expect(r.failed.sort()).toEqual(["binding.report-data", "bootstrap.eventlog", "eventlog.present"]);
    expect(r.kms.address).toBe("0x796bcb22109675531a48ee05026c3302442b54d9");
  });

  it("real fixtures: tdx-lite's event log replays to its quote (RTMR0–3) with NEAR keys reported unbound", async () => {
    const info = parseBootstrapInfo({ ca_pubkey: NEAR_CA, k256_pubkey: NEAR_K256, quote: getQuote.quote, eventlog: Buffer.from(getQuote.event_log).toString("hex") });
    const r = await verifyBootstrap(info, { now: 1_780_000_000 });
    expect(r.checks.filter((c) => c.name.startsWith("eventlog.rtmr")).every((c) => c.ok)).toBe(true);
    expect(r.failed.sort()).toEqual(["binding.report-data", "quote.verified"]); // no offline collateral for this quote
    expect(r.measurements!.mrAggregated).toBe("0xc758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee");
    expect(r.eventlog!.runtime.appId).toBe("0x86b0e55f2fa8e4fb69d890f14f54d5612707646e");
    expect(hexToBytes(r.binding!.found).length).toBe(64);
  });
});
