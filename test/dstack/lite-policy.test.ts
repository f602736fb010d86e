import { readFileSync } from "node:fs";

import { sha256 } from "@noble/hashes/sha2.js";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex, hexToBytes, utf8 } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { RUNTIME_EVENT_TYPE, checkEventLog, eventLogToJson, isLiteEventLog, parseEventLog, replayEventLog, type EventLogEntry } from "../../src/dstack/eventlog.js";
import { dstackDeviceId, dstackMrAggregated, measuredValues, osImageHashFromChecksumFile } from "../../src/dstack/measurement.js";
import { checkMeasurementPolicy, parseMeasurementPolicy, type MeasurementPolicy } from "../../src/dstack/policy.js";
import { publicKeyFromPrivate } from "../../src/dstack/signatures.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { generateK256, generateP256 } from "../../src/testing/pki.js";
import { SIMULATED_MR_TD, simulatedKmsEventLog } from "../../src/testing/simulator/index.js";
import { attestationInfo, bootSimulatedCvm } from "../../src/testing/simulator/cvm.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const getQuote = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { quote: string; event_log: string; vm_config: string };
const td = parseQuote(hexToBytes(getQuote.quote)).body as TdReport10;
const quoteRtmrs = [td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3];
const realEvents = parseEventLog(getQuote.event_log);

/** The lite form of a log: only RTMR0's ACPI events (EV_PLATFORM_CONFIG_FLAGS, type 0xa) and the runtime events. */
function liteOf(events: EventLogEntry[]): EventLogEntry[] {
  return events.filter((e) => e.eventType === RUNTIME_EVENT_TYPE || (e.imr === 0 && e.eventType === 0x0a));
}

describe("lite event logs: per-register coverage", () => {
  it("the real tdx-lite fixture carries the full boot log: RTMR0–3 all replay to the quote", () => {
    const c = checkEventLog(realEvents, quoteRtmrs);
    expect(c.lite).toBe(false);
    expect(c.registers.map((r) => r.coverage)).toEqual(["replayed-matches", "replayed-matches", "replayed-matches", "replayed-matches"]);
    expect(c.rtmrsMatch).toBe(true);
  });

  it("without its RTMR1/2 boot events: RTMR3 replays and matches, RTMR0–2 are not covered (not 'differs')", () => {
    const lite = liteOf(realEvents);
    expect(lite.filter((e) => e.eventType !== RUNTIME_EVENT_TYPE).map((e) => e.event)).toEqual(["acpi-loader", "acpi-rsdp", "acpi-tables"]);
    expect(isLiteEventLog(lite)).toBe(true);
    const c = checkEventLog(parseEventLog(JSON.stringify(eventLogToJson(lite))), quoteRtmrs);
    expect(c.lite).toBe(true);
    expect(c.registers.map((r) => r.coverage)).toEqual(["not-covered", "not-covered", "not-covered", "replayed-matches"]);
    expect(c.rtmr3Match).toBe(true);
    expect(c.rtmrsMatch).toBe(false);
    expect(c.runtime.composeHash).toBe(checkEventLog(realEvents, quoteRtmrs).runtime.composeHash);
  });

  it("a full log whose RTMR1 differs is 'replayed-differs', never 'not-covered'", () => {
    const tampered = realEvents.map((e, i) => (i === realEvents.findIndex((x) => x.imr === 1) ? { ...e, digest: new Uint8Array(48).fill(1) } : e));
    expect(checkEventLog(tampered, quoteRtmrs).registers.map((r) => r.coverage)).toEqual(["replayed-matches", "replayed-differs", "replayed-matches", "replayed-matches"]);
  });

  it("a lite log whose RTMR3 differs is 'replayed-differs' for RTMR3", () => {
    const c = checkEventLog(liteOf(realEvents).slice(0, -1), quoteRtmrs);
    expect(c.registers[3]!.coverage).toBe("replayed-differs");
  });
});

describe("dstack's measurement identities", () => {
  it("os_image_hash = sha256(checksum file): the real tdx-lite vm_config's value", () => {
    const vm = JSON.parse(getQuote.vm_config) as { os_image_hash: string; tdx_measurement: { measurement: string; checksum_file: string } };
    const checksumFile = Buffer.from(vm.tdx_measurement.checksum_file, "base64");
    expect(osImageHashFromChecksumFile(checksumFile)).toBe(`0x${vm.os_image_hash}`);
    // the checksum file names the sha256 of the measurement document it commits to
    expect(new TextDecoder().decode(checksumFile)).toBe(`${bytesToPlainHex(sha256(Buffer.from(vm.tdx_measurement.measurement, "base64")))}  measurement.tdx.cbor\n`);
  });

  it("mr_aggregated of the real tdx-lite quote and log", () => {
    expect(dstackMrAggregated(td, realEvents)).toBe("0xc758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee");
  });

  it("the simulator's GetAttestationInfo mr_aggregated and os_image_hash equal ours", () => {
    const cvm = bootSimulatedCvm();
    const info = attestationInfo(cvm);
    const m = measuredValues({ mrTd: SIMULATED_MR_TD, rtMr0: cvm.rtmrs[0]!, rtMr1: cvm.rtmrs[1]!, rtMr2: cvm.rtmrs[2]!, rtMr3: cvm.rtmrs[3]!, mrConfigId: new Uint8Array(48), mrOwner: new Uint8Array(48), mrOwnerConfig: new Uint8Array(48) }, cvm.eventLog);
    expect(m.mrAggregated).toBe(`0x${info.mr_aggregated as string}`);
    expect(m.osImageHash).toBe(`0x${info.os_image_hash as string}`);
  });

  it("device_id = sha256(PPID) of the genuine tdx_quote's PCK certificate", async () => {
    const info = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex((await generateP256()).spki), k256_pubkey: bytesToPlainHex(publicKeyFromPrivate(generateK256())), quote: readFileSync(new URL("tdx_quote", FIX)).toString("hex"), eventlog: "" });
    const collateral = parseCollateralJson(readFileSync(new URL("tdx_quote_collateral.json", FIX), "utf8"));
    const ppid = (await verifyBootstrap(info, { collateral, now: 1752919234 })).quote!.pck!.ppid!;
    expect(hexToBytes(ppid).length).toBe(16);
    const r = await verifyBootstrap(info, { collateral, now: 1752919234, policy: { deviceId: [bytesToHex(sha256(hexToBytes(ppid)))] } });
    expect(r.checks.find((c) => c.name === "expect.deviceId")).toMatchObject({ ok: true });
    expect(r.expect!.measured.deviceId).toBe(dstackDeviceId(hexToBytes(ppid)));
  });
});

describe("measurement policy files", () => {
  const h = (n: number, b = 0xab) => bytesToPlainHex(new Uint8Array(n).fill(b));
  it("accepts one value or a list, with or without 0x, normalised to lowercase 0x hex", () => {
    const p = parseMeasurementPolicy(JSON.stringify({ mrTd: h(48).toUpperCase(), rtMr0: [`0x${h(48)}`, h(48, 1)], appId: h(20), deviceId: [h(32)] }));
    expect(p).toEqual({ mrTd: [`0x${h(48)}`], rtMr0: [`0x${h(48)}`, `0x${h(48, 1)}`], appId: [`0x${h(20)}`], deviceId: [`0x${h(32)}`] });
  });

  it.each([
    [{ mrtd: h(48) }, "EXPECT_UNKNOWN_FIELD", /unknown field "mrtd"/],
    [{ mrTd: "zz" }, "EXPECT_BAD_FIELD", /mrTd/],
    [{ rtMr1: [h(48), h(47)] }, "EXPECT_BAD_FIELD", /rtMr1\[1\]: expected 48 bytes, got 47/],
    [{ composeHash: [] }, "EXPECT_BAD_FIELD", /composeHash: an empty list/],
    [{ osImageHash: 5 }, "EXPECT_BAD_FIELD", /osImageHash: expected a hex string/],
    [[h(48)], "EXPECT_BAD_FORMAT", /expected a JSON object/],
  ])("rejects %j with %s", (doc, code, msg) => {
    expect(() => parseMeasurementPolicy(JSON.stringify(doc))).toThrow(expect.objectContaining({ code, message: expect.stringMatching(msg) }));
    expect(() => parseMeasurementPolicy(JSON.stringify(doc))).toThrow(InputError);
  });

  it("names each rule as a check: allowed, not allowed, not measured", () => {
    const checks = checkMeasurementPolicy({ mrTd: [`0x${h(48)}`], appId: [`0x${h(20)}`], deviceId: [`0x${h(32)}`] }, { mrTd: `0x${h(48)}`, appId: `0x${h(20, 2)}` });
    expect(checks.map((c) => [c.name, c.ok])).toEqual([["expect.mrTd", true], ["expect.appId", false], ["expect.deviceId", false]]);
    expect(checks[2]!.detail).toMatch(/not measured: sha256\(PPID/);
  });
});

describe("verifyBootstrap with a lite log and a measurement policy", () => {
  let world: ForgeWorld;
  let ca: Uint8Array;
  let k256: Uint8Array;
  const NOW = 1_767_225_600;
  const full = simulatedKmsEventLog({ instanceId: new Uint8Array(20).fill(7) });
  const rt = replayEventLog(full).rtmrs;
  beforeAll(async () => {
    world = await createForgeWorld({ now: NOW, seed: "lite policy test" });
    ca = (await generateP256()).spki;
    k256 = publicKeyFromPrivate(generateK256());
  });
  async function info(events: EventLogEntry[]) {
    const quote = await forgeQuote(world, { reportData: expectedKmsReportData(ca, k256), mrTd: SIMULATED_MR_TD, rtMrs: [...rt] });
    return parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(ca), k256_pubkey: bytesToPlainHex(k256), quote: bytesToPlainHex(quote), eventlog: Buffer.from(JSON.stringify(eventLogToJson(events))).toString("hex") });
  }
  const opts = () => ({ collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
  const pins = (): MeasurementPolicy => ({ mrTd: [bytesToHex(SIMULATED_MR_TD)], rtMr0: [bytesToHex(rt[0])], rtMr1: [bytesToHex(rt[1])], rtMr2: [bytesToHex(rt[2])] });

  it("a lite log without a policy fails on RTMR0–2, saying what would cover them; RTMR3 passes", async () => {
    const r = await verifyBootstrap(await info(liteOf(full)), opts());
    expect(r.failed).toEqual(["eventlog.rtmr0", "eventlog.rtmr1", "eventlog.rtmr2"]);
    expect(r.checks.find((c) => c.name === "eventlog.rtmr1")!.detail).toMatch(/not covered by this lite event log.*OS image measurement.*pin it with --expect \(rtMr1 or mrAggregated\)/);
    expect(r.checks.find((c) => c.name === "eventlog.rtmr3")).toMatchObject({ ok: true });
    expect(r.expect).toBeUndefined();
  });

  it("a lite log passes when RTMR3 replays and the policy accepts MRTD and RTMR0–2", async () => {
    const r = await verifyBootstrap(await info(liteOf(full)), { ...opts(), policy: pins() });
    expect(r.failed).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === "eventlog.rtmr2")!.detail).toMatch(/accepted by --expect rtMr2/);
    expect(r.checks.filter((c) => c.name.startsWith("expect.")).map((c) => c.name)).toEqual(["expect.mrTd", "expect.rtMr0", "expect.rtMr1", "expect.rtMr2"]);
  });

  it("an mrAggregated pin covers a lite log's RTMR0–2 too; a wrong pin fails by name", async () => {
    const good = await verifyBootstrap(await info(liteOf(full)), { ...opts(), policy: { mrAggregated: [dstackMrAggregated({ mrTd: SIMULATED_MR_TD, rtMr0: rt[0], rtMr1: rt[1], rtMr2: rt[2], mrConfigId: new Uint8Array(48), mrOwner: new Uint8Array(48), mrOwnerConfig: new Uint8Array(48) }, full)] } });
    expect(good.failed).toEqual([]);
    const bad = await verifyBootstrap(await info(liteOf(full)), { ...opts(), policy: { ...pins(), rtMr1: [bytesToHex(new Uint8Array(48))] } });
    expect(bad.failed).toEqual(["expect.rtMr1"]);
  });

  it("a full log: the policy's rules are extra checks (compose hash, app id, os image)", async () => {
    const m = measuredValues({ mrTd: SIMULATED_MR_TD, rtMr0: rt[0], rtMr1: rt[1], rtMr2: rt[2], rtMr3: rt[3], mrConfigId: new Uint8Array(48), mrOwner: new Uint8Array(48), mrOwnerConfig: new Uint8Array(48) }, full);
    const r = await verifyBootstrap(await info(full), { ...opts(), policy: { composeHash: [m.composeHash!], appId: [m.appId!], osImageHash: [bytesToHex(sha256(utf8("another image")))] } });
    expect(r.failed).toEqual(["expect.osImageHash"]);
    expect(r.checks.filter((c) => c.name.startsWith("eventlog.rtmr")).every((c) => c.ok)).toBe(true);
  });
});
