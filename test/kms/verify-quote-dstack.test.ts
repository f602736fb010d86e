import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { runCli } from "../helpers/cli.js";

const FIX = fileURLToPath(new URL("../fixtures/dcap/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kms-vq-"));
let legacy: SimulatedKms;
let att: SimulatedKms;
beforeAll(async () => {
  [legacy, att] = await Promise.all([
    startSimulatedKms({ certsDir: join(tmp, "legacy"), port: 0, autoBootstrapDomain: "kms.vq.example" }),
    startSimulatedKms({ certsDir: join(tmp, "att"), port: 0, autoBootstrapDomain: "kms.vq.example", format: "attestation" }),
  ]);
});
afterAll(async () => {
  await legacy.close();
  await att.close();
  rmSync(tmp, { recursive: true, force: true });
});

function saved(k: SimulatedKms): Record<string, string> {
  return JSON.parse(readFileSync(join(k.simDir, "bootstrap-response.json"), "utf8")) as Record<string, string>;
}
const trust = (k: SimulatedKms) => ["--collateral", k.simCollateralPath, "--root-ca", k.simRootCaPath];

describe("verify-quote with dstack inputs", () => {
  it("--eventlog (hex of the JSON text, or the JSON text) replays RTMR0–3 against the quote", async () => {
    const resp = saved(legacy);
    const q = join(tmp, "quote.hex");
    writeFileSync(q, resp.quote!);
    const elHex = join(tmp, "eventlog.hex");
    writeFileSync(elHex, resp.eventlog!);
    const elJson = join(tmp, "eventlog.json");
    writeFileSync(elJson, Buffer.from(resp.eventlog!, "hex"));
    for (const el of [elHex, elJson]) {
      const r = await runCli(["verify-quote", q, ...trust(legacy), "--eventlog", el, "--json"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout) as { eventlog: { rtmrsMatch: boolean; events: { name: string }[]; runtime: { keyProvider: { name: string } } } };
      expect(j.eventlog.rtmrsMatch).toBe(true);
      expect(j.eventlog.events.map((e) => e.name)).toContain("key-provider");
      expect(j.eventlog.runtime.keyProvider.name).toBe("local-sgx");
    }
  });

  it("accepts a V0 attestation, binary or hex, in place of the quote, with its own event log", async () => {
    const hex = saved(att).attestation!;
    const bin = join(tmp, "att.bin");
    writeFileSync(bin, Buffer.from(hex, "hex"));
    const hx = join(tmp, "att.hex");
    writeFileSync(hx, `0x${hex}\n`);
    for (const f of [bin, hx]) {
      const r = await runCli(["verify-quote", f, ...trust(att), "--json"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout) as { attestation: { format: string }; eventlog: { rtmrsMatch: boolean; source: string } };
      expect(j.attestation.format).toBe("v0-scale");
      expect(j.eventlog).toMatchObject({ rtmrsMatch: true, source: "attestation" });
    }
  });

  it("real dstack fixtures: the event log is replayed and reported even when the quote itself cannot be verified", async () => {
    // no collateral exists for these real quotes (their PCK certificates postdate the committed collateral),
    // so the quote fails (exit 1) — but the user still learns that the event log belongs to it
    const lite = JSON.parse(readFileSync(join(FIX, "tdx-lite-getquote.json"), "utf8")) as { quote: string; event_log: string };
    const q = join(tmp, "lite.quote");
    writeFileSync(q, Buffer.from(lite.quote, "hex"));
    const col = ["--collateral", join(FIX, "tdx_quote_collateral.json"), "--at", "1752919234"];
    const r = await runCli(["verify-quote", q, ...col, "--eventlog", join(FIX, "tdx-lite-getquote.json"), "--json"]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split("\n").length).toBeGreaterThan(1);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string }; eventlog: { rtmrsMatch: boolean; source: string; registers: { match: boolean }[]; runtime: { appId: string; keyProvider: { name: string } } } };
    expect(j.ok).toBe(false);
    expect(j.error.code).toMatch(/PCK/);
    expect(j.eventlog).toMatchObject({ rtmrsMatch: true, source: "file" });
    expect(j.eventlog.registers.map((x) => x.match)).toEqual([true, true, true, true]);
    expect(j.eventlog.runtime.appId).toBe("0x86b0e55f2fa8e4fb69d890f14f54d5612707646e");
    expect(j.eventlog.runtime.keyProvider.name).toBe("kms");
    const human = await runCli(["verify-quote", q, ...col, "--eventlog", join(FIX, "tdx-lite-getquote.json")]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/RTMR0–3 match the \(unverified\) quote/);
    // the real V0 attestation: its own event log, reported the same way
    const a = await runCli(["verify-quote", join(FIX, "dstack-attestation-v0.bin"), ...col, "--json"]);
    expect(a.code).toBe(1);
    expect((JSON.parse(a.stdout) as { eventlog: { rtmrsMatch: boolean; source: string } }).eventlog).toMatchObject({ rtmrsMatch: true, source: "attestation" });
  });

  it("an event log that does not belong to the quote fails (exit 1) and says so", async () => {
    const r = await runCli(["verify-quote", join(FIX, "tdx_quote"), "--collateral", join(FIX, "tdx_quote_collateral.json"), "--at", "1752919234", "--eventlog", join(FIX, "tdx-lite-getquote.json"), "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { status: string; eventlog: { rtmrsMatch: boolean; registers: { match: boolean }[] } };
    expect(j.status).toBe("UpToDate");
    expect(j.eventlog.rtmrsMatch).toBe(false);
    expect(r.stderr).toMatch(/does not replay/);
    const bad = join(tmp, "bad-el.json");
    writeFileSync(bad, '[{"imr":7}]');
    const b = await runCli(["verify-quote", join(FIX, "tdx_quote"), "--collateral", join(FIX, "tdx_quote_collateral.json"), "--at", "1752919234", "--eventlog", bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/event log: event 0/);
  });
});
