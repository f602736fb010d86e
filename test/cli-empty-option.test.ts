/** An empty value of a value-taking option (`--domain ''`, `--domain=`) is a usage error, never "not given". */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startSimulatedKms } from "../src/testing/simulator/index.js";
import { fixturePath } from "./attestation/real-fixtures.js";
import { runCli } from "./helpers/cli.js";

const TDX = fixturePath("tdx_quote");
const TDX_COLL = fixturePath("tdx_quote_collateral.json");
const tmp = mkdtempSync(join(tmpdir(), "kms-empty-opt-"));
let certsDir: string;

beforeAll(async () => {
  const kms = await startSimulatedKms({ certsDir: join(tmp, "certs"), port: 0, autoBootstrapDomain: "kms.bounded.example" });
  certsDir = kms.certsDir;
  await kms.close();
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("an empty option value is a usage error", () => {
  it("check-certs --domain '' (and --domain=) is exit 2, not a skipped domain check", async () => {
    for (const args of [["--domain", ""], ["--domain="]]) {
      const r = await runCli(["check-certs", "--certs-dir", certsDir, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("kms-registry: check-certs: --domain needs a non-empty value\n");
    }
    // the same dir with its real domain passes; with another domain it fails the check (exit 1)
    expect((await runCli(["check-certs", "--certs-dir", certsDir, "--domain", "kms.bounded.example"])).code).toBe(0);
    expect((await runCli(["check-certs", "--certs-dir", certsDir, "--domain", "other.example"])).code).toBe(1);
  }, 60_000);

  it("for every command and value-taking option, e.g. verify --domain '', verify-quote --collateral '', publish --rpc ''", async () => {
    const cases: [string[], string][] = [
      [["verify", "--certs-dir", "x", "--domain", "", "--collateral", TDX_COLL], "--domain"],
      [["verify-quote", TDX, "--collateral", ""], "--collateral"],
      [["publish", "--rpc", "", "--registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "--file", "x", "--collateral", "y"], "--rpc"],
    ];
    for (const [args, opt] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^kms-registry: ${args[0]}: ${opt} needs a non-empty value\\n$`));
    }
  }, 60_000);
});
