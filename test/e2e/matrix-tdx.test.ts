/**
 * The matrix, Intel TDX side: a simulated KMS of each TDX format (legacy quote + event log, V0 attestation, V1
 * attestation, V1 with event-log v2) through pull → verify → publish → audit --reverify →
 * check-dstack-kms, all through the `kms-registry` executable; then dstack's real lite log and V0 attestation and
 * Intel's real quote through verify and check-dstack-kms.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import { RUNTIME_EVENT_TYPE } from "../../src/dstack/eventlog.js";
import type { SimKmsProcess } from "./helpers.js";
import { checkRecord, hx, measuredOf, runCell, simRecord, useMatrix, NEAR_CA, NEAR_K256, type Matrix } from "./matrix-helpers.js";

const DCAP = new URL("../fixtures/dcap/", import.meta.url);
let m: Matrix;
let dir: string;
const started: SimKmsProcess[] = [];
useMatrix("kms-matrix-tdx-", started, (mm, d) => {
  m = mm;
  dir = d;
});

const tdxTrust = (k: SimKmsProcess) => ["--collateral", k.collateralFile, "--root-ca", k.rootCaFile];
const tdxPinned = (k: SimKmsProcess) => ["--collateral", k.collateralFile];

const TDX_CELLS: { name: string; args: string[]; platform: string; format: RegExp }[] = [
  { name: "tdx V0 legacy (quote + event log)", args: [], platform: "tdx", format: /format {7}legacy\n[\s\S]*quote {8}\d+ bytes/ },
  { name: "tdx attestation (V0 SCALE container)", args: ["--format", "attestation"], platform: "tdx", format: /attestation {2}v0-scale/ },
  { name: "tdx attestation-v1 (msgpack)", args: ["--format", "attestation-v1"], platform: "tdx", format: /attestation {2}v1-msgpack \(version 1\), platform tdx/ },
  { name: "tdx attestation-v1 with event-log v2", args: ["--format", "attestation-v1", "--event-log", "v2"], platform: "tdx", format: /attestation {2}v1-msgpack \(version 1\), platform tdx/ },
];

describe("the TDX cells: simulate-kms → pull (URL, certs dir, file) → verify → publish → audit --reverify → check-dstack-kms", () => {
  for (const c of TDX_CELLS) {
    it(c.name, async () => {
      const cell = await runCell(m, c.args, { platform: c.platform, onChainPlatform: "tdx", format: c.format, trust: tdxTrust, pinned: tdxPinned, pinnedFails: /quote\.verified/ });
      started.push(cell.kms);
      const rec = simRecord(cell.kms);
      const want = measuredOf(rec);
      const { r, j } = await checkRecord(m, rec, { mr: want.mr, os: want.os, device: want.device }, tdxTrust(cell.kms));
      expect(j.platform).toBe(c.platform);
      expect(j.genuine).toBe(false);
      expect(r.code, r.stdout).toBe(0);
      expect(j).toMatchObject({ ok: true, verdict: "PASS", isKmsAllowed: { allowed: true } });
      expect(j.allowLists.map((a) => [a.list, a.value, a.allowed])).toEqual([
        ["kmsAllowedAggregatedMrs", want.mr, true],
        ["allowedOsImages", want.os, true],
        ["kmsAllowedDeviceIds", want.device, true],
      ]);
      expect(r.stderr).toMatch(/NOT GENUINE: the tdx evidence was verified against a test root/);
    }, 60_000);
  }
});

describe("real TDX evidence through verify and check-dstack-kms", () => {
  it("dstack's tdx-lite quote with the lite form of its log: RTMR3 replays, RTMR0–2 are not covered unless --expect pins them; its report_data binds keys we do not have", async () => {
    const lite = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", DCAP), "utf8")) as { quote: string; event_log: string };
    // the lite form dstack emits: only RTMR0's ACPI events (EV_PLATFORM_CONFIG_FLAGS) and the runtime events
    const liteLog = JSON.stringify((JSON.parse(lite.event_log) as { imr: number; event_type: number }[]).filter((e) => e.event_type === RUNTIME_EVENT_TYPE || (e.imr === 0 && e.event_type === 0x0a)));
    const td = parseQuote(Buffer.from(lite.quote, "hex")).body as TdReport10;
    const expectFile = path.join(dir, "lite-expect.json");
    writeFileSync(expectFile, JSON.stringify({ mrTd: [hx(td.mrTd)], rtMr0: [hx(td.rtMr0)], rtMr1: [hx(td.rtMr1)], rtMr2: [hx(td.rtMr2)] }));
    const f = path.join(dir, "lite.json");
    writeFileSync(f, JSON.stringify({ k256_pubkey: NEAR_K256.slice(2), ca_pubkey: NEAR_CA.slice(2), quote: lite.quote, eventlog: Buffer.from(liteLog).toString("hex") }));
    const col = ["--collateral", new URL("tdx_quote_collateral.json", DCAP).pathname];
    const [bare, pinned] = await Promise.all([m.cli(["verify", "--file", f, ...col, "--json"]), m.cli(["verify", "--file", f, ...col, "--expect", expectFile, "--json"])]);
    for (const v of [bare, pinned]) {
      expect(v.code).toBe(1);
      const vj = JSON.parse(v.stdout) as { platform: string; checks: { name: string; ok: boolean; detail: string }[] };
      expect(vj.platform).toBe("tdx");
      const byName = Object.fromEntries(vj.checks.map((c) => [c.name, c]));
      expect(byName["eventlog.rtmr3"]).toMatchObject({ ok: true });
      expect(byName["binding.report-data"]).toMatchObject({ ok: false });
      expect(byName["eventlog.rtmr1"]!.detail).toMatch(/not covered by this lite event log/);
      expect(byName["eventlog.rtmr1"]!.ok).toBe(v === pinned);
    }
    const { j } = await checkRecord(m, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: `0x${lite.quote}`, eventlog: hx(Buffer.from(liteLog)) }, {}, [...col, "--expect", expectFile]);
    expect(j).toMatchObject({ platform: "tdx", verdict: "FAIL" });
    expect(j.failed).toContain("binding.report-data");
    expect(j.failed).not.toContain("eventlog.rtmr1");
    expect(j.checks.find((c) => c.name === "eventlog.rtmr3")).toMatchObject({ ok: true });
    expect(j.allowLists[0]!.value).toMatch(/^0x[0-9a-f]{64}$/); // mr_aggregated from the quote's registers and the replayed RTMR3
  }, 60_000);

  it("dstack's real V0 attestation: verify and check-dstack-kms decode it as tdx and replay its own event log; its keys are not in it", async () => {
    const att = readFileSync(new URL("dstack-attestation-v0.bin", DCAP));
    const f = path.join(dir, "v0.json");
    writeFileSync(f, JSON.stringify({ k256_pubkey: NEAR_K256.slice(2), ca_pubkey: NEAR_CA.slice(2), attestation: att.toString("hex") }));
    const v = await m.cli(["verify", "--file", f, "--collateral", new URL("tdx_quote_collateral.json", DCAP).pathname, "--json"]);
    expect(v.code).toBe(1);
    const vj = JSON.parse(v.stdout) as { platform: string; checks: { name: string; ok: boolean }[] };
    expect(vj.platform).toBe("tdx");
    expect(vj.checks.filter((c) => c.name.startsWith("eventlog.rtmr")).every((c) => c.ok)).toBe(true);
    const { j } = await checkRecord(m, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(att), eventlog: "0x" }, {}, ["--collateral", new URL("tdx_quote_collateral.json", DCAP).pathname]);
    expect(j).toMatchObject({ platform: "tdx", verdict: "FAIL", record: { quoteKind: "dstack-attestation" } });
    expect(j.failed).toContain("binding.report-data");
    expect(j.allowLists[0]!.value).toMatch(/^0x[0-9a-f]{64}$/);
  }, 60_000);
});
