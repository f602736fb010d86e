/**
 * `verify-quote` separates Intel's verdict (`verification`) from this tool's policy (`policy`),
 * `--allow-sept-ve` relaxes the SEPT_VE_DISABLE rule for verify-quote only, and a failed verification
 * still prints what was attested. The SEPT_VE_DISABLE-clear TD is forged (no real Intel-signed quote
 * with that attribute clear is available); the other cases use the real fixtures at their times.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { collateralToJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";
import { fixturePath, SGX_NOW, TDX_NOW, TDX_WINDOW } from "./real-fixtures.js";

const TDX = fixturePath("tdx_quote");
const TDX_COLL = fixturePath("tdx_quote_collateral.json");
const EXISTING_KEYS = ["ok", "platform", "accepted", "status", "advisoryIds", "genuine", "warnings", "checks", "report", "pck", "collateral"];

const dir = mkdtempSync(join(tmpdir(), "kmsreg-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string, content: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const lines = (s: string) => s.trimEnd().split("\n");

interface Rule {
  name: string;
  ok: boolean;
  detail: string;
}
interface Doc {
  ok: boolean;
  accepted?: boolean;
  error?: { code: string; message: string };
  checks: Rule[];
  report?: Record<string, unknown>;
  pck?: Record<string, unknown>;
  verification?: { ok: boolean; status: string | null; advisoryIds: string[]; genuine: boolean; checks: Rule[] };
  policy?: { ok: boolean; rules: Rule[] } | null;
  warnings?: string[];
}

let world: ForgeWorld;
let forged: string[]; // quote file, --collateral, --root-ca, --at
beforeAll(async () => {
  world = await createForgeWorld({ seed: "cli-policy" });
  const quote = tmp("sept-ve-clear.bin", await forgeQuote(world, { tdAttributes: "0000000000000000" }));
  forged = [quote, "--collateral", tmp("forged.json", collateralToJson(world.collateral)), "--root-ca", tmp("forged-root.der", world.rootCaDer), "--at", String(world.now)];
});

describe("verify-quote: a TD with SEPT_VE_DISABLE clear", () => {
  it("--json: ok:false with Intel's verdict passed and the policy's failing rule, plus report and pck", async () => {
    const r = await runCli(["verify-quote", ...forged, "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(Object.keys(j)).toEqual(["ok", "platform", "error", "checks", "report", "pck", "verification", "policy"]);
    expect(j.ok).toBe(false);
    expect(j.error).toEqual({ code: "TD_SEPT_VE_DISABLE_CLEAR", message: "report.policy: SEPT_VE_DISABLE (TD attributes bit 28) is not set" });
    expect(j.verification).toMatchObject({ ok: true, status: "UpToDate", advisoryIds: [], genuine: false });
    expect(j.verification!.checks.map((c) => c.name)).toEqual(j.checks.slice(0, -1).map((c) => c.name));
    expect(j.policy!.ok).toBe(false);
    expect(j.policy!.rules.map((x) => [x.name, x.ok])).toEqual([
      ["tcb.status", true],
      ["td.attributes.reserved", true],
      ["td.debug", true],
      ["td.sept-ve-disable", false],
    ]);
    expect(j.report).toMatchObject({ type: "td10", tdAttributes: "0x0000000000000000" });
    expect(j.pck).toMatchObject({ fmspc: "0xb0c06f000000", ca: "platform" });
    expect(lines(r.stderr)).toEqual(["kms-registry: verify-quote: report.policy: SEPT_VE_DISABLE (TD attributes bit 28) is not set"]);
  });

  it("human output says Intel's verification passed and only the policy refused, and how to relax it", async () => {
    const r = await runCli(["verify-quote", ...forged]);
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out[0]).toBe(
      "REJECTED BY POLICY: TD_SEPT_VE_DISABLE_CLEAR — Intel's verification passed (UpToDate; NOT GENUINE: non-Intel root CA), but td.sept-ve-disable: SEPT_VE_DISABLE (TD attributes bit 28) is not set (--allow-sept-ve accepts it for a TD that is not a dstack KMS)",
    );
    expect(r.stdout).toMatch(/^tcb\.status\s+ok\s+UpToDate \(platform UpToDate, QE UpToDate\)$/m);
    expect(r.stdout).toMatch(/^report\.policy\s+FAIL\s+SEPT_VE_DISABLE/m);
    expect(r.stdout).toMatch(/^policy rule\s+ok\s+detail$/m);
    expect(r.stdout).toMatch(/^td\.sept-ve-disable\s+FAIL\s+SEPT_VE_DISABLE \(TD attributes bit 28\) is not set$/m);
  });

  it("--allow-sept-ve: exit 0, accepted, every existing key first and the split after", async () => {
    const r = await runCli(["verify-quote", ...forged, "--allow-sept-ve", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Doc;
    expect(Object.keys(j)).toEqual([...EXISTING_KEYS, "verification", "policy"]);
    expect(j).toMatchObject({ ok: true, accepted: true, status: "UpToDate", genuine: false });
    expect(j.verification).toMatchObject({ ok: true, status: "UpToDate" });
    expect(j.policy!.ok).toBe(true);
    expect(j.policy!.rules.find((x) => x.name === "td.sept-ve-disable")).toEqual({ name: "td.sept-ve-disable", ok: true, detail: "SEPT_VE_DISABLE (TD attributes bit 28) is not set (allowed by option)" });
    expect(j.warnings).toContain("the TD's SEPT_VE_DISABLE attribute is clear (accepted by allowSeptVe): the TD may take #VE on EPT violations, not acceptable for a dstack KMS");
    const h = await runCli(["verify-quote", ...forged, "--allow-sept-ve"]);
    expect(h.code).toBe(0);
    expect(lines(h.stdout)[0]).toBe("VALID (NOT GENUINE: non-Intel root CA): UpToDate — accepted (td10 quote, FMSPC B0C06F000000)");
    expect(h.stdout).toMatch(/^report\.policy\s+ok\s+TD attributes 0000000000000000 acceptable \(allowed by option: td\.sept-ve-disable\)$/m);
  });

  it("verify and publish keep the strict default: --allow-sept-ve is an unknown option (exit 2)", async () => {
    for (const args of [
      ["verify", "--file", forged[0]!, "--allow-sept-ve"],
      ["publish", "--registry", "0x" + "11".repeat(20), "--rpc", "http://127.0.0.1:9", "--file", forged[0]!, "--allow-sept-ve"],
    ]) {
      const r = await runCli(args);
      expect(r.code, args[0]).toBe(2);
      expect(r.stdout, args[0]).toBe("");
      expect(lines(r.stderr), args[0]).toEqual([`kms-registry: ${args[0]}: Unknown option '--allow-sept-ve'`]);
    }
  });
});

describe("verify-quote on the real fixtures", () => {
  it("the real tdx_quote: the existing keys unchanged, then verification and policy", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Doc;
    expect(Object.keys(j)).toEqual([...EXISTING_KEYS, "verification", "policy"]);
    expect(j).toMatchObject({ ok: true, accepted: true, status: "UpToDate", advisoryIds: [], genuine: true });
    expect(j.checks).toHaveLength(21);
    expect(j.verification).toEqual({ ok: true, status: "UpToDate", advisoryIds: [], genuine: true, checks: j.checks.slice(0, 20) });
    expect(j.policy).toMatchObject({ ok: true });
    expect(j.policy!.rules.every((x) => x.ok)).toBe(true);
  });

  it("the real sgx_quote outside --accept: ok stays true, accepted false, the tcb.status rule fails", async () => {
    const r = await runCli(["verify-quote", fixturePath("sgx_quote"), "--collateral", fixturePath("sgx_quote_collateral.json"), "--at", String(SGX_NOW), "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j).toMatchObject({ ok: true, accepted: false, status: "ConfigurationAndSWHardeningNeeded" });
    expect(j.verification).toMatchObject({ ok: true, status: "ConfigurationAndSWHardeningNeeded" });
    expect(j.policy).toEqual({
      ok: false,
      rules: [
        { name: "tcb.status", ok: false, detail: "ConfigurationAndSWHardeningNeeded is not one of the accepted statuses (UpToDate, SWHardeningNeeded)" },
        { name: "enclave.debug", ok: true, detail: "not DEBUG" },
      ],
    });
    const w = await runCli(["verify-quote", fixturePath("sgx_quote"), "--collateral", fixturePath("sgx_quote_collateral.json"), "--at", String(SGX_NOW), "--accept", "ConfigurationAndSWHardeningNeeded", "--json"]);
    expect(w.code).toBe(0);
    expect((JSON.parse(w.stdout) as Doc).policy!.ok).toBe(true);
  });

  it("a failed verification after the quote parsed still prints the report and the PCK (FMSPC …)", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_WINDOW.to + 1), "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(Object.keys(j)).toEqual(["ok", "platform", "error", "checks", "report", "pck", "verification", "policy"]);
    expect(j.error!.code).toBe("PCK_CRL_EXPIRED");
    expect(j.report).toMatchObject({ type: "td10", tdAttributes: "0x0000001000000000" });
    expect(String(j.report!.mrTd)).toMatch(/^0x91eb2b44d141d4ec/);
    expect(j.pck).toMatchObject({ fmspc: "0xb0c06f000000", pceId: "0x0000", ca: "platform", pceSvn: 11 });
    expect(j.verification).toMatchObject({ ok: false, status: null, genuine: true });
    expect(j.policy).toBeNull();
  });
});
