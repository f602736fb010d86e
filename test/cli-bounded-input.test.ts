/**
 * Every file input of the CLI is read through the bounded reader: a FIFO nobody writes to, /dev/zero,
 * a directory, an oversized file or oversized standard input are exit 2 at once, with one error line
 * naming the input, its kind and the size cap — never a hang or gigabytes read.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HARDHAT_DEV_ACCOUNT_0_KEY } from "../src/testing/devnode.js";
import { startSimulatedKms } from "../src/testing/simulator/index.js";
import { fixturePath, TDX_NOW, tdxQuote } from "./attestation/real-fixtures.js";
import { BIN, REPO_ROOT, runCli, type RunResult } from "./helpers/cli.js";

const TDX = fixturePath("tdx_quote");
const TDX_COLL = fixturePath("tdx_quote_collateral.json");
const AT = ["--at", String(TDX_NOW)];
const SNP_REPORT = new URL("./fixtures/sev-snp/go-sev-guest-report-v2-milan.bin", import.meta.url).pathname;
const SNP_VCEK = new URL("./fixtures/sev-snp/go-sev-guest-vcek-milan.der", import.meta.url).pathname;
const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY };
// publish and audit fail on their input before any RPC request: nothing listens on port 9
const REG = ["--registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "--rpc", "http://127.0.0.1:9"];
const MiB = 1024 * 1024;
/** A hung process is killed after this; the assertions want far less. */
const KILL_AFTER_MS = 20_000;
const QUICK_MS = 5_000;

const tmp = mkdtempSync(join(tmpdir(), "kms-bounded-"));
const FIFO = join(tmp, "fifo");
const DIR = join(tmp, "a-dir");
let bootstrapFile: string;

beforeAll(async () => {
  execFileSync("mkfifo", [FIFO]);
  mkdirSync(DIR);
  // a real (simulated) KMS's bootstrap-info.json: the bootstrap input before the collateral is read
  const kms = await startSimulatedKms({ certsDir: join(tmp, "certs"), port: 0, autoBootstrapDomain: "kms.bounded.example" });
  bootstrapFile = join(kms.certsDir, "bootstrap-info.json");
  await kms.close();
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The error lines (progress lines of publish are `[publish] …`). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("kms-registry: "));

async function timed(args: string[], opts: Parameters<typeof runCli>[1] = {}): Promise<RunResult & { ms: number }> {
  const t = Date.now();
  const r = await runCli(args, { timeoutMs: KILL_AFTER_MS, ...opts });
  return { ...r, ms: Date.now() - t };
}

function expectInputError(r: RunResult & { ms: number }, what: string, re: RegExp): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(2);
  expect(r.ms, what).toBeLessThan(QUICK_MS);
  const errs = errorLines(r.stderr);
  expect(errs, what).toHaveLength(1);
  expect(errs[0], what).toMatch(re);
  expect(r.stderr, what).not.toMatch(/\n\s+at /);
}

interface Input {
  /** The command line with `p` as the input under test. */
  args: (p: string) => string[];
  label: string;
  kind: string;
  cap: string;
  env?: Record<string, string>;
}

const INPUTS: Record<string, Input> = {
  "verify-quote <quote>": { args: (p) => ["verify-quote", p, "--collateral", TDX_COLL, ...AT], label: "quote file", kind: "quote", cap: "1 MiB" },
  "verify-quote --collateral": { args: (p) => ["verify-quote", TDX, "--collateral", p, ...AT], label: "collateral file", kind: "collateral", cap: "4 MiB" },
  "verify-quote --root-ca": { args: (p) => ["verify-quote", TDX, "--collateral", TDX_COLL, ...AT, "--root-ca", p], label: "root CA file", kind: "certificate", cap: "256 KiB" },
  "verify-quote --eventlog": { args: (p) => ["verify-quote", TDX, "--collateral", TDX_COLL, ...AT, "--eventlog", p], label: "event log file", kind: "event log", cap: "8 MiB" },
  "verify-quote --amd-crl": { args: (p) => ["verify-quote", SNP_REPORT, "--vcek", SNP_VCEK, "--amd-crl", p, "--at", "1800000000"], label: "AMD CRL file", kind: "AMD CRL", cap: "256 KiB" },
  "verify --file": { args: (p) => ["verify", "--file", p, "--collateral", TDX_COLL, ...AT], label: "bootstrap JSON file", kind: "bootstrap JSON", cap: "16 MiB" },
  "verify --collateral": { args: (p) => ["verify", "--file", bootstrapFile, "--collateral", p, ...AT], label: "collateral file", kind: "collateral", cap: "4 MiB" },
  "publish --file": { args: (p) => ["publish", ...REG, "--file", p, "--collateral", TDX_COLL], label: "bootstrap JSON file", kind: "bootstrap JSON", cap: "16 MiB", env: KEY_ENV },
  "publish --collateral": { args: (p) => ["publish", ...REG, "--file", bootstrapFile, "--collateral", p], label: "collateral file", kind: "collateral", cap: "4 MiB", env: KEY_ENV },
  "audit --reverify --collateral": { args: (p) => ["audit", ...REG, "--reverify", "--collateral", p], label: "collateral file", kind: "collateral", cap: "4 MiB" },
};

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("file inputs that are not regular files: exit 2 at once, one line naming the kind and the cap", () => {
  for (const [name, input] of Object.entries(INPUTS)) {
    it(name, async () => {
      const opts = input.env ? { env: input.env } : {};
      const rule = `the ${esc(input.kind)} must be a regular file of at most ${esc(input.cap)}`;
      const fifo = await timed(input.args(FIFO), opts);
      expectInputError(fifo, `${name} FIFO`, new RegExp(`cannot read ${esc(input.label)} .*fifo.*: not a regular file \\(a FIFO\\); ${rule}`));
      const zero = await timed(input.args("/dev/zero"), opts);
      expectInputError(zero, `${name} /dev/zero`, new RegExp(`cannot read ${esc(input.label)} "/dev/zero": not a regular file \\(a character device\\); ${rule}`));
      const dir = await timed(input.args(DIR), opts);
      // a directory given as --file is most likely a certs dir: that hint replaces the generic one
      expectInputError(dir, `${name} directory`, input.kind === "bootstrap JSON" ? /a-dir is a directory, not a JSON file: for a KMS certs dir use --certs-dir/ : new RegExp(`not a regular file \\(a directory\\); ${rule}`));
    }, 120_000);
  }

  it("an oversized regular file is refused from its size (a sparse 2 GiB quote file is not read)", async () => {
    const big = join(tmp, "big-quote.bin");
    writeFileSync(big, "");
    truncateSync(big, 2 * 1024 * MiB);
    const r = await timed(INPUTS["verify-quote <quote>"]!.args(big));
    expectInputError(r, "big quote", /cannot read quote file ".*big-quote\.bin": 2147483648 bytes exceed the quote limit of 1 MiB$/);
    const coll = join(tmp, "big-collateral.json");
    writeFileSync(coll, "");
    truncateSync(coll, 4 * MiB + 1);
    const c = await timed(INPUTS["audit --reverify --collateral"]!.args(coll));
    expectInputError(c, "big collateral", /cannot read collateral file ".*big-collateral\.json": 4194305 bytes exceed the collateral limit of 4 MiB$/);
  }, 60_000);
});

describe("standard input (-) is capped too", () => {
  const STDIN_CASES: [string, string, number][] = [
    ["verify-quote <quote>", "quote", 1 * MiB],
    ["verify-quote --collateral", "collateral", 4 * MiB],
    ["verify-quote --root-ca", "certificate", 256 * 1024],
    ["verify-quote --eventlog", "event log", 8 * MiB],
    ["verify --collateral", "collateral", 4 * MiB],
    ["publish --collateral", "collateral", 4 * MiB],
    ["audit --reverify --collateral", "collateral", 4 * MiB],
  ];
  for (const [name, kind, cap] of STDIN_CASES) {
    it(`${name} -: one byte over the cap is exit 2 naming the cap`, async () => {
      const input = INPUTS[name]!;
      const r = await timed(input.args("-"), { input: Buffer.alloc(cap + 1, 0x20), ...(input.env ? { env: input.env } : {}) });
      expectInputError(r, name, new RegExp(`cannot read ${esc(kind)} on standard input: more than the ${esc(kind)} limit of ${esc(input.cap)}$`));
    }, 60_000);
  }

  it("a quote of exactly the cap on standard input is read (hex text padded with spaces verifies)", async () => {
    const quoteHex = Buffer.from(tdxQuote()).toString("hex");
    const padded = quoteHex + " ".repeat(MiB - quoteHex.length);
    expect(padded.length).toBe(MiB);
    const ok = await timed(INPUTS["verify-quote <quote>"]!.args("-"), { input: padded });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^VALID: UpToDate/);
    const over = await timed(INPUTS["verify-quote <quote>"]!.args("-"), { input: padded + " " });
    expectInputError(over, "1 MiB + 1", /more than the quote limit of 1 MiB$/);
  }, 60_000);

  it("an endless standard input (/dev/zero) stops at the cap: exit 2 at once", async () => {
    const fd = openSync("/dev/zero", "r");
    try {
      const t = Date.now();
      const r = await new Promise<RunResult>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...INPUTS["verify-quote <quote>"]!.args("-")], { cwd: REPO_ROOT, stdio: [fd, "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
        child.on("error", reject);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      expectInputError({ ...r, ms: Date.now() - t }, "/dev/zero on stdin", /cannot read quote on standard input: more than the quote limit of 1 MiB$/);
    } finally {
      closeSync(fd);
    }
  }, 60_000);
});
