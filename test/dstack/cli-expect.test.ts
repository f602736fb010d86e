import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex } from "../../src/core/bytes.js";
import { collateralToJson } from "../../src/dcap/collateral.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { RUNTIME_EVENT_TYPE, eventLogToJson, replayEventLog, type EventLogEntry } from "../../src/dstack/eventlog.js";
import { publicKeyFromPrivate } from "../../src/dstack/signatures.js";
import { createForgeWorld, forgeQuote } from "../../src/testing/forge/index.js";
import { generateK256, generateP256 } from "../../src/testing/pki.js";
import { SIMULATED_MR_TD, simulatedKmsEventLog } from "../../src/testing/simulator/index.js";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-expect-"));
const NOW = 1_767_225_600;
const full = simulatedKmsEventLog({ instanceId: new Uint8Array(20).fill(3) });
const lite = full.filter((e) => e.eventType === RUNTIME_EVENT_TYPE || (e.imr === 0 && e.eventType === 0x0a));
const rt = replayEventLog(full).rtmrs;
const p = (name: string) => join(tmp, name);
let common: string[];

beforeAll(async () => {
  const world = await createForgeWorld({ now: NOW, seed: "cli expect test" });
  const ca = (await generateP256()).spki;
  const k256 = publicKeyFromPrivate(generateK256());
  const quote = await forgeQuote(world, { reportData: expectedKmsReportData(ca, k256), mrTd: SIMULATED_MR_TD, rtMrs: [...rt] });
  const doc = (events: EventLogEntry[]) => JSON.stringify({ ca_pubkey: bytesToPlainHex(ca), k256_pubkey: bytesToPlainHex(k256), quote: bytesToPlainHex(quote), eventlog: JSON.stringify(eventLogToJson(events)) });
  writeFileSync(p("full.json"), doc(full));
  writeFileSync(p("lite.json"), doc(lite));
  writeFileSync(p("collateral.json"), collateralToJson(world.collateral));
  writeFileSync(p("root.der"), world.rootCaDer);
  writeFileSync(p("pins.json"), JSON.stringify({ mrTd: bytesToHex(SIMULATED_MR_TD), rtMr0: [bytesToHex(rt[0])], rtMr1: bytesToHex(rt[1]), rtMr2: bytesToHex(rt[2]) }));
  writeFileSync(p("unknown.json"), JSON.stringify({ mrTd: bytesToHex(SIMULATED_MR_TD), rtmr1: bytesToHex(rt[1]) }));
  writeFileSync(p("badhex.json"), JSON.stringify({ osImageHash: "0x12zz" }));
  common = ["--collateral", p("collateral.json"), "--root-ca", p("root.der"), "--at", String(NOW)];
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("kms-registry verify --expect FILE", () => {
  it("a lite log: rejected without a policy (RTMR0–2 not covered, RTMR3 replayed), verified with MRTD and RTMR0–2 pinned", async () => {
    const bare = await runCli(["verify", "--file", p("lite.json"), ...common]);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toMatch(/✗ +eventlog\.rtmr1 +not covered by this lite event log/);
    expect(bare.stdout).toMatch(/✓ +eventlog\.rtmr3 +replayed = quote/);
    expect(bare.stderr).toMatch(/failed eventlog\.rtmr0, eventlog\.rtmr1, eventlog\.rtmr2\n/);

    const pinned = await runCli(["verify", "--file", p("lite.json"), ...common, "--expect", p("pins.json"), "--json"]);
    expect(pinned.code).toBe(0);
    const rep = JSON.parse(pinned.stdout) as { verdict: string; checks: { name: string; ok: boolean }[]; eventlog: { lite: boolean; registers: { coverage: string }[] } };
    expect(rep.verdict).toBe("VERIFIED");
    expect(rep.eventlog.lite).toBe(true);
    expect(rep.eventlog.registers.map((r) => r.coverage)).toEqual(["not-covered", "not-covered", "not-covered", "replayed-matches"]);
    expect(rep.checks.filter((c) => c.name.startsWith("expect.")).map((c) => [c.name, c.ok])).toEqual([["expect.mrTd", true], ["expect.rtMr0", true], ["expect.rtMr1", true], ["expect.rtMr2", true]]);
  });

  it("a full log with the same policy: every register replayed, the rules are extra checks", async () => {
    const r = await runCli(["verify", "--file", p("full.json"), ...common, "--expect", p("pins.json")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ +expect\.rtMr2 +0x[0-9a-f]{96} \(the quote's RTMR2\) is allowed/);
    expect(r.stdout).toMatch(/✓ +eventlog\.rtmr1 +replayed = quote/);
  });

  it("a bad policy file exits 2 naming the field; a missing one names the file", async () => {
    const unknown = await runCli(["verify", "--file", p("full.json"), ...common, "--expect", p("unknown.json")]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown field "rtmr1"/);
    const bad = await runCli(["verify", "--file", p("full.json"), ...common, "--expect", p("badhex.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/osImageHash/);
    const missing = await runCli(["verify", "--file", p("full.json"), ...common, "--expect", p("nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/measurement policy file/);
  });

  it("publish --expect: a policy the KMS does not satisfy refuses before connecting", async () => {
    writeFileSync(p("wrong.json"), JSON.stringify({ mrTd: bytesToHex(new Uint8Array(48)) }));
    const r = await runCli(["publish", "--registry", "0x" + "11".repeat(20), "--rpc", "http://127.0.0.1:1", "--file", p("full.json"), ...common, "--allow-simulated-root", "--expect", p("wrong.json"), "--dry-run"], {
      env: { KMS_REGISTRY_PRIVATE_KEY: "0x" + "22".repeat(32) },
    });
    expect(r.stdout).toMatch(/NOT PUBLISHED: verification failed: expect\.mrTd/);
    expect(r.code).toBe(1);
  });
});
