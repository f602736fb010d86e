import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { main } from "../src/cli/main.js";
import type { CliIO } from "../src/cli/io.js";
import { runCli, REPO_ROOT } from "./helpers/cli.js";

const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, "utf8")) as { version: string; bin: Record<string, string> };

function memoryIO(): CliIO & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: {},
    cwd: REPO_ROOT,
    readStdin: async () => new Uint8Array(),
  };
  return io;
}

describe("kms-registry executable", () => {
  it("--version prints the package version and exits 0", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe("");
  });

  it("--help lists every command and the exit-code convention", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["verify-quote", "pull", "check-certs", "verify", "simulate-kms", "deploy", "publish", "audit", "demo"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    }
    expect(r.stdout).toContain("Exit codes: 0 success, 1 verification failed or rejected, 2 usage or input error.");
  });

  it("an unknown command exits 2 with exactly one line on stderr and nothing on stdout", async () => {
    const r = await runCli(["no-such-command"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toEqual(['kms-registry: unknown command "no-such-command" (see kms-registry --help)']);
  });

  it("an unknown option of a command is a usage error (exit 2), without a stack trace", async () => {
    const r = await runCli(["pull", "--bogus"]);
    // pull may be a placeholder or real; either way --bogus must not be accepted silently
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("package.json names the bin kms-registry and exports the library at the root", () => {
    expect(pkg.bin["kms-registry"]).toBe("./bin/kms-registry.js");
  });
});

describe("CLI main()", () => {
  it("no arguments prints help and exits 2 (usage)", async () => {
    const io = memoryIO();
    expect(await main([], io)).toBe(2);
    expect(io.out).toContain("Usage: kms-registry <command>");
  });

  it("help <command> prints that command's usage", async () => {
    const io = memoryIO();
    expect(await main(["help", "verify-quote"], io)).toBe(0);
    expect(io.out).toMatch(/^Usage: kms-registry verify-quote /);
  });

  it("an unknown global option exits 2", async () => {
    const io = memoryIO();
    expect(await main(["--frobnicate"], io)).toBe(2);
    expect(io.err).toBe('kms-registry: unknown option "--frobnicate" (see kms-registry --help)\n');
  });
});

describe("CLI --json on a usage error", () => {
  it("prints exactly one JSON document {ok:false, error, checks:[]} and exits 2", async () => {
    const r = await runCli(["verify-quote", "--json", "--bogus", "x.bin"]);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string }; checks: unknown[] };
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe("USAGE");
    expect(doc.error.message).toContain("--bogus");
    expect(doc.checks).toEqual([]);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
