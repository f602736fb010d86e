import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { collateralToJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";
import { fixturePath, fixtureText, sgxQuote, TDX_NOW, TDX_WINDOW, tdxQuote } from "./real-fixtures.js";

const TDX = fixturePath("tdx_quote");
const TDX_COLL = fixturePath("tdx_quote_collateral.json");
const SGX = fixturePath("sgx_quote");
const SGX_COLL = fixturePath("sgx_quote_collateral.json");
const AT = ["--at", String(TDX_NOW)];

const dir = mkdtempSync(join(tmpdir(), "kmsreg-vq-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string, content: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const lines = (s: string) => s.trimEnd().split("\n");

describe("kms-registry verify-quote", () => {
  it("binary quote + collateral file → exit 0, verdict line then the checks table", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, ...AT]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = lines(r.stdout);
    expect(out[0]).toBe("VALID: UpToDate — accepted (td10 quote, FMSPC B0C06F000000)");
    expect(out[1]).toBe("warning: 70 bytes after the signature data were ignored");
    expect(out[3]).toMatch(/^check\s+ok\s+detail$/);
    expect(r.stdout).toMatch(/^quote\.signature\s+ok\s+bytes \[0, 632\) signed by the attestation key$/m);
    expect(r.stdout).toMatch(/^tcb\.status\s+ok\s+UpToDate \(platform UpToDate, QE UpToDate\)$/m);
  });

  it("--json prints exactly the documented object", async () => {
    const hexFile = tmp("quote.hex", `0x${Buffer.from(tdxQuote()).toString("hex").replace(/(.{64})/g, "$1\n")}`);
    const r = await runCli(["verify-quote", hexFile, "--collateral", TDX_COLL, ...AT, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(["ok", "platform", "accepted", "status", "advisoryIds", "genuine", "warnings", "checks", "report", "pck", "collateral", "verification", "policy"]);
    expect(j).toMatchObject({ ok: true, accepted: true, status: "UpToDate", advisoryIds: [], genuine: true });
    const report = j.report as Record<string, unknown>;
    expect(report.type).toBe("td10");
    for (const k of ["mrTd", "rtMr0", "rtMr1", "rtMr2", "rtMr3", "reportData", "mrSeam", "mrSignerSeam", "seamAttributes", "tdAttributes", "xfam", "mrConfigId", "mrOwner", "mrOwnerConfig", "teeTcbSvn"]) {
      expect(report[k], k).toMatch(/^0x[0-9a-f]+$/);
    }
    expect(j.pck).toMatchObject({ fmspc: "0xb0c06f000000", pceId: "0x0000", ca: "platform" });
    expect(j.collateral).toMatchObject({ tcbInfoNextUpdate: "2025-07-19T10:16:03Z", pckCrlNextUpdate: "2025-07-19T10:00:35Z" });
    const checks = j.checks as { name: string; ok: boolean; detail: string }[];
    expect(checks).toHaveLength(21);
    for (const c of checks) expect(Object.keys(c)).toEqual(["name", "ok", "detail"]);
  });

  it("reads the quote from stdin with `-`, binary or hex without 0x and with spaces", async () => {
    let r = await runCli(["verify-quote", "-", "--collateral", TDX_COLL, ...AT], { input: tdxQuote() });
    expect(r.code).toBe(0);
    const spaced = Buffer.from(tdxQuote()).toString("hex").replace(/(.{8})/g, "$1 ");
    r = await runCli(["verify-quote", "-", "--collateral", TDX_COLL, ...AT, "--json"], { input: spaced });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { status: string }).status).toBe("UpToDate");
    // a hex file saved with a UTF-8 BOM and CRLF line ends, upper case with 0X
    const bom = tmp("bom.hex", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`0X${Buffer.from(tdxQuote()).toString("hex").toUpperCase().replace(/(.{80})/g, "$1\r\n")}\r\n`)]));
    r = await runCli(["verify-quote", bom, "--collateral", TDX_COLL, ...AT]);
    expect(r.code).toBe(0);
    // an empty input is an input error
    r = await runCli(["verify-quote", "-", "--collateral", TDX_COLL, ...AT], { input: "" });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(["kms-registry: verify-quote: the quote input is empty"]);
  });

  it("a status outside --accept → exit 1 (valid but not accepted); --accept widens it", async () => {
    const at = ["--at", "1752919277"];
    let r = await runCli(["verify-quote", SGX, "--collateral", SGX_COLL, ...at, "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, accepted: false, status: "ConfigurationAndSWHardeningNeeded", advisoryIds: ["INTEL-SA-00289", "INTEL-SA-00615"] });
    expect(lines(r.stderr)).toEqual(["kms-registry: verify-quote: TCB status ConfigurationAndSWHardeningNeeded is not accepted (accepted: UpToDate, SWHardeningNeeded)"]);
    r = await runCli(["verify-quote", SGX, "--collateral", SGX_COLL, ...at, "--accept", "UpToDate,ConfigurationAndSWHardeningNeeded"]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)[0]).toBe("VALID: ConfigurationAndSWHardeningNeeded [INTEL-SA-00289, INTEL-SA-00615] — accepted (sgx quote, FMSPC 00A067110000)");
  });

  it("an invalid quote → exit 1 with {ok:false, error, checks} listing what passed before the failure", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_WINDOW.to + 1), "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string }; checks: { name: string; ok: boolean }[] };
    expect(Object.keys(j)).toEqual(["ok", "platform", "error", "checks", "report", "pck", "verification", "policy"]);
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe("PCK_CRL_EXPIRED");
    expect(j.checks.at(-1)).toMatchObject({ name: "pck.chain", ok: false });
    expect(j.checks.slice(0, -1).every((c) => c.ok)).toBe(true);
    expect(lines(r.stderr)).toHaveLength(1);

    const flipped = tdxQuote();
    flipped[100]! ^= 1;
    const h = await runCli(["verify-quote", tmp("flipped.bin", flipped), "--collateral", TDX_COLL, ...AT]);
    expect(h.code).toBe(1);
    expect(lines(h.stdout)[0]).toBe("INVALID: QUOTE_SIGNATURE_INVALID");
    expect(h.stdout).toMatch(/^quote\.signature\s+FAIL\s+/m);
  });

  it("no collateral → exit 2 and a message saying exactly that and how to supply it", async () => {
    const r = await runCli(["verify-quote", TDX, ...AT]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual([
      "kms-registry: verify-quote: no collateral was supplied: pass --collateral FILE (a JSON file in dcap-qvl's QuoteCollateralV3 layout) or --pccs URL (a PCCS or Intel PCS base URL, e.g. https://api.trustedservices.intel.com)",
    ]);
  });

  it("malformed or incomplete collateral JSON → exit 2 with one line naming the problem", async () => {
    let r = await runCli(["verify-quote", TDX, "--collateral", tmp("bad.json", "{ nope"), ...AT]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^kms-registry: verify-quote: collateral: not valid JSON/);
    const o = JSON.parse(fixtureText("tdx_quote_collateral.json")) as Record<string, unknown>;
    delete o.qe_identity;
    r = await runCli(["verify-quote", TDX, "--collateral", tmp("missing.json", JSON.stringify(o)), ...AT, "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, error: { code: "COLLATERAL_INVALID", message: "collateral: qe_identity is missing" }, checks: [] });
    expect(lines(r.stderr)).toEqual(["kms-registry: verify-quote: collateral: qe_identity is missing"]);
  });

  it("usage and input errors exit 2 with one line and no stack trace", async () => {
    const cases: [string[], RegExp][] = [
      [[TDX, "--collateral", TDX_COLL, "--at", "soon"], /--at must be a whole number/],
      [[TDX, "--collateral", TDX_COLL, "--at", "1.5"], /--at must be a whole number/],
      [[TDX, "--collateral", TDX_COLL, "--pccs", "http://127.0.0.1:9"], /either --collateral FILE or --pccs URL, not both/],
      [[TDX, "--collateral", TDX_COLL, ...AT, "--accept", "Fine"], /--accept: unknown TCB status "Fine"/],
      [[join(dir, "nope.bin"), "--collateral", TDX_COLL, ...AT], /cannot read quote file .*nope\.bin.* \(ENOENT\)/],
      [[TDX, "--collateral", join(dir, "nope.json"), ...AT], /cannot read collateral file/],
      [[tmp("text.txt", "hello, not a quote"), "--collateral", TDX_COLL, ...AT], /quote \(hex text\): not hex/],
      [[fixturePath("tdx-lite-getquote.json"), "--collateral", TDX_COLL, ...AT], /the quote input is JSON, not a quote: pass the quote itself, binary or hex \(e\.g\. .*jq -r \.quote FILE/],
      [[tmp("trunc.bin", tdxQuote().subarray(0, 700)), "--collateral", TDX_COLL, ...AT], /quote: signature_data at offset 636/],
      [[TDX, "--collateral", TDX_COLL, ...AT, "--root-ca", tmp("root.txt", "not a cert")], /root CA file .*neither DER nor a PEM certificate/],
      [[], /missing argument/],
      [["-", "--collateral", "-", ...AT], /only one input can be read from standard input \(-\), got quote and --collateral/],
      [[dir, "--collateral", TDX_COLL, ...AT], /cannot read quote file .*: not a regular file \(a directory\); the quote must be a regular file of at most 1 MiB/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(["verify-quote", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(lines(r.stderr), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("with --json every failure is one document {ok:false, error:{code,message}, checks} and one stderr line", async () => {
    const cases: [string[], number, string, string | Uint8Array | undefined][] = [
      [[TDX, "--at", "soon"], 2, "USAGE", undefined],
      [[TDX, ...AT], 2, "USAGE", undefined], // no collateral
      [[join(dir, "nope.bin"), "--collateral", TDX_COLL, ...AT], 2, "FILE_NOT_FOUND", undefined],
      [["-", "--collateral", TDX_COLL, ...AT], 2, "BAD_HEX", "0xabc"],
      [["-", "--collateral", TDX_COLL, ...AT], 2, "QUOTE_EMPTY", "0x \n"],
      [[TDX, "--collateral", tmp("array.json", "[1, 2]"), ...AT], 2, "COLLATERAL_INVALID", undefined],
      [[TDX, "--collateral", TDX_COLL, ...AT, "--root-ca", tmp("root2.txt", "not a cert")], 2, "BAD_PEM", undefined],
      [[TDX, "--collateral", TDX_COLL, ...AT, "--root-ca", tmp("root3.der", Uint8Array.of(0x30, 0x03, 1))], 2, "BAD_DER", undefined],
      [[TDX, "--pccs", "http://127.0.0.1:9", ...AT], 1, "PCCS_UNREACHABLE", undefined],
    ];
    for (const [args, code, errorCode, input] of cases) {
      const r = await runCli(["verify-quote", ...args, "--json"], input === undefined ? {} : { input });
      const what = `${args.join(" ")} → ${errorCode}`;
      expect(r.code, what).toBe(code);
      const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string }; checks: unknown[] };
      expect(Object.keys(j), what).toEqual(["ok", "error", "checks"]);
      expect(j.ok).toBe(false);
      expect(j.error.code, what).toBe(errorCode);
      expect(j.checks, what).toEqual([]);
      expect(lines(r.stderr), what).toEqual([`kms-registry: verify-quote: ${j.error.message}`]);
    }
  });

  it("a truncated quote with --pccs (read before any request) → exit 2 and the failed quote.parse check", async () => {
    const r = await runCli(["verify-quote", "-", "--pccs", "http://127.0.0.1:9", ...AT, "--json"], { input: tdxQuote().subarray(0, 700) });
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string }; checks: { name: string; ok: boolean }[] };
    expect(j).toMatchObject({ ok: false, error: { code: "QUOTE_LENGTH_PAST_END" } });
    expect(j.checks).toEqual([expect.objectContaining({ name: "quote.parse", ok: false })]);
  });

  it("a truncated quote with --json → exit 2 and {ok:false, error, checks:[quote.parse]}", async () => {
    const r = await runCli(["verify-quote", "-", "--collateral", TDX_COLL, ...AT, "--json"], { input: sgxQuote().subarray(0, 40) });
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string }; checks: { name: string; ok: boolean }[] };
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe("QUOTE_TRUNCATED");
    expect(j.checks).toEqual([expect.objectContaining({ name: "quote.parse", ok: false })]);
  });

  it("--root-ca with the real Intel root (PEM) is still genuine", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, ...AT, "--root-ca", fixturePath("intel_sgx_root_ca.pem"), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ genuine: true });
    expect(r.stderr).toBe("");
  });

  it("a non-Intel root → genuine: false and a loud NOT GENUINE line on stderr", async () => {
    const world = await createForgeWorld({ seed: "cli-verify-quote" });
    const quote = await forgeQuote(world);
    const q = tmp("forged.bin", quote);
    const c = tmp("forged-collateral.json", collateralToJson(world.collateral));
    const root = tmp("forged-root.der", world.rootCaDer);
    const r = await runCli(["verify-quote", q, "--collateral", c, "--at", String(world.now), "--root-ca", root, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { genuine: boolean; warnings: string[] };
    expect(j.genuine).toBe(false);
    expect(j.warnings[0]).toMatch(/^NOT GENUINE: verified against a non-Intel root/);
    expect(r.stderr).toMatch(/^NOT GENUINE: verified against a non-Intel root CA/);
    // human output: the verdict line itself says NOT GENUINE, then the warning, and stderr again
    const h = await runCli(["verify-quote", q, "--collateral", c, "--at", String(world.now), "--root-ca", root]);
    expect(h.code).toBe(0);
    expect(lines(h.stdout)[0]).toMatch(/^VALID \(NOT GENUINE: non-Intel root CA\): UpToDate — accepted \(td10 quote, FMSPC /);
    expect(lines(h.stdout)[1]).toMatch(/^warning: NOT GENUINE: verified against a non-Intel root/);
    expect(lines(h.stderr)).toEqual([expect.stringMatching(/^NOT GENUINE: verified against a non-Intel root CA \(--root-ca .*forged-root\.der\); this result says nothing about real Intel hardware$/)]);
    // without --root-ca the forged quote is rejected against the pinned Intel root
    const pinned = await runCli(["verify-quote", q, "--collateral", c, "--at", String(world.now), "--json"]);
    expect(pinned.code).toBe(1);
    expect((JSON.parse(pinned.stdout) as { ok: boolean }).ok).toBe(false);
  });
});
