import { spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { BIN, REPO_ROOT, runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-cli-"));
let kms: SimulatedKms;
beforeAll(async () => {
  kms = await startSimulatedKms({ certsDir: join(tmp, "certs"), port: 0, autoBootstrapDomain: "kms.cli.example", https: true });
});
afterAll(async () => {
  await kms.close();
  rmSync(tmp, { recursive: true, force: true });
});

function oneLineError(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("kms-registry pull / check-certs / verify (CLI)", () => {
  it("pull --kms over https writes one normalized document atomically; a failed pull keeps the old file", async () => {
    const out = join(tmp, "pulled.json");
    const r = await runCli(["pull", "--kms", kms.url, "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(doc.kind).toBe("dstack-kms-bootstrap-info");
    expect(doc.source).toMatchObject({ type: "kms", transport: "https", caPinned: "response" });
    expect(String(doc.caPubkey)).toMatch(/^0x3059/);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(doc);
    const before = readFileSync(out, "utf8");
    const bad = await runCli(["pull", "--kms", "http://127.0.0.1:1", "--retries", "0", "--out", out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/ECONNREFUSED/);
    expect(readFileSync(out, "utf8")).toBe(before);
  });

  it("pull from a certs dir and from a file; bad input is exit 2 with one line", async () => {
    const r = await runCli(["pull", "--certs-dir", kms.certsDir]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).source).toMatchObject({ type: "certs-dir" });
    const f = await runCli(["pull", "--file", join(kms.certsDir, "bootstrap-info.json"), "--json"]);
    expect(f.code).toBe(0);
    const broken = join(tmp, "broken.json");
    writeFileSync(broken, '{"ca_pubkey":"zz"');
    const b = await runCli(["pull", "--file", broken]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/not valid JSON/);
    oneLineError(b.stderr);
    const u = await runCli(["pull"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/exactly one of --kms, --certs-dir, --file/);
    const u2 = await runCli(["pull", "--kms", kms.url, "--certs-dir", kms.certsDir]);
    expect(u2.code).toBe(2);
  });

  it("check-certs: every check passes on the simulator's dir; a corrupted copy fails with names", async () => {
    const ok = await runCli(["check-certs", "--certs-dir", kms.certsDir, "--domain", "kms.cli.example", "--json"]);
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.stdout) as { ok: boolean; items: { name: string; ok: boolean }[] };
    expect(j.ok).toBe(true);
    expect(j.items.every((i) => i.ok)).toBe(true);
    const human = await runCli(["check-certs", "--certs-dir", kms.certsDir, "--domain", "wrong.example"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/✗\s+RPC certificate has your domain as CN/);
    expect(human.stderr).toMatch(/failed: rpc.subject, rpc.san/);
    // a copy with a world-readable key
    const copy = join(tmp, "copy");
    const { cpSync } = await import("node:fs");
    cpSync(kms.certsDir, copy, { recursive: true });
    chmodSync(join(copy, "root-k256.key"), 0o644);
    const bad = await runCli(["check-certs", "--certs-dir", copy, "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).failed).toEqual(["root-k256.key.mode"]);
  });

  it("verify --kms: passes with the simulated root (NOT GENUINE), fails against Intel's root, needs collateral", async () => {
    const sim = ["--collateral", kms.simCollateralPath];
    const r = await runCli(["verify", "--kms", kms.url, ...sim, "--root-ca", kms.simRootCaPath, "--json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(rep.verdict).toBe("VERIFIED");
    expect(rep.genuine).toBe(false);
    expect((rep.binding as { ok: boolean }).ok).toBe(true);
    expect((rep.eventlog as { rtmrsMatch: boolean }).rtmrsMatch).toBe(true);
    expect(String((rep.kms as { address: string }).address)).toMatch(/^0x[0-9a-f]{40}$/);
    expect(r.stderr).toMatch(/NOT GENUINE/);

    const intel = await runCli(["verify", "--kms", kms.url, ...sim]);
    expect(intel.code).toBe(1);
    expect(intel.stdout).toMatch(/^REJECTED/);
    expect(intel.stdout).toMatch(/quote\.verified .*root/i);
    expect(intel.stderr).toMatch(/REJECTED: failed .*quote\.verified/);

    const none = await runCli(["verify", "--kms", kms.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no collateral/);
  });

  it("verify --certs-dir folds in the checklist; verify --file reads a pulled document", async () => {
    const sim = ["--collateral", kms.simCollateralPath, "--root-ca", kms.simRootCaPath];
    const r = await runCli(["verify", "--certs-dir", kms.certsDir, "--domain", "kms.cli.example", ...sim, "--json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { checks: { name: string }[]; certs: { ok: boolean } };
    expect(rep.certs.ok).toBe(true);
    expect(rep.checks.map((c) => c.name)).toContain("certs.rpc.chain");
    const pulled = join(tmp, "doc.json");
    await runCli(["pull", "--kms", kms.url, "--out", pulled]);
    const f = await runCli(["verify", "--file", pulled, ...sim]);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/^VERIFIED \(NOT GENUINE/);
    expect(f.stdout).toMatch(/binding\.report-data/);
    expect(f.stdout).toMatch(/eventlog\.rtmr3/);
    expect(f.stdout).toMatch(/mrAggregated/);
  });

  it("a certs dir without bootstrap-info.json (auto-bootstrapped KMS, replica) + the saved Bootstrap answer (--file)", async () => {
    const sim = ["--collateral", kms.simCollateralPath, "--root-ca", kms.simRootCaPath];
    const dir = join(tmp, "replica");
    cpSync(kms.certsDir, dir, { recursive: true });
    rmSync(join(dir, "bootstrap-info.json"));
    const saved = join(kms.simDir, "bootstrap-response.json");
    // without the answer: exit 2, and the message says exactly what to add
    const no = await runCli(["verify", "--certs-dir", dir, ...sim]);
    expect(no.code).toBe(2);
    expect(no.stderr).toContain(`--certs-dir ${dir} --file`);
    oneLineError(no.stderr);
    // with it: the checklist runs against the answer's keys, and everything passes
    const r = await runCli(["verify", "--certs-dir", dir, "--file", saved, ...sim, "--json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[]; source: Record<string, unknown> };
    expect(rep.ok).toBe(true);
    expect(rep.source).toMatchObject({ type: "certs-dir", path: dir, file: saved });
    const byName = new Map(rep.checks.map((c) => [c.name, c]));
    expect(byName.get("certs.files")?.detail).toMatch(/missing bootstrap-info.json \(supplied as /);
    for (const n of ["certs-dir.root-ca.pubkey", "certs-dir.root-k256.pubkey", "certs.root-k256.pubkey", "certs.root-ca.key-pubkey", "certs.bootstrap-info.valid"]) expect(byName.get(n)?.ok).toBe(true);
    const cc = await runCli(["check-certs", "--certs-dir", dir, "--file", saved, "--json"]);
    expect(cc.code).toBe(0);
    // an answer from another KMS does not belong to this dir: pull refuses (exit 1), check-certs names the checks
    const other = join(tmp, "other-answer.json");
    const ans = JSON.parse(readFileSync(saved, "utf8")) as Record<string, string>;
    writeFileSync(other, JSON.stringify({ ...ans, k256_pubkey: "022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e" }));
    const p = await runCli(["pull", "--certs-dir", dir, "--file", other, "--json"]);
    expect(p.code).toBe(1);
    expect((JSON.parse(p.stdout) as { error: { code: string } }).error.code).toBe("CERTS_DIR_KEY_MISMATCH");
    expect(p.stderr).toMatch(/does not belong to .*root-k256\.pubkey/);
    const c2 = await runCli(["check-certs", "--certs-dir", dir, "--file", other, "--json"]);
    expect(c2.code).toBe(1);
    expect((JSON.parse(c2.stdout) as { failed: string[] }).failed).toEqual(["root-k256.pubkey"]);
    // a dir that has its own bootstrap-info.json must name the same keys as the answer
    const c3 = await runCli(["check-certs", "--certs-dir", kms.certsDir, "--file", other, "--json"]);
    expect(c3.code).toBe(1);
    expect((JSON.parse(c3.stdout) as { failed: string[] }).failed).toEqual(["bootstrap-info.matches-file"]);
  });
});

describe("explanations through the CLI", () => {
  it("a KMS still in onboard mode (HTML), and an auto-bootstrapped KMS (bootstrap_info null) rescued by --file", async () => {
    const onboard = await startSimulatedKms({ certsDir: join(tmp, "onboard"), port: 0 });
    const auto = await startSimulatedKms({ certsDir: join(tmp, "auto"), port: 0, autoBootstrapDomain: "kms.auto.example", omitBootstrapInfo: true });
    try {
      const h = await runCli(["pull", "--kms", onboard.url, "--json"]);
      expect(h.code).toBe(1);
      expect(JSON.parse(h.stdout)).toMatchObject({ ok: false, error: { code: "KMS_HTML_RESPONSE" } });
      expect(h.stderr).toMatch(/onboard mode/);
      oneLineError(h.stderr);
      const n = await runCli(["verify", "--kms", auto.url, "--collateral", auto.simCollateralPath]);
      expect(n.code).toBe(2);
      expect(n.stderr).toMatch(/bootstrap_info is null.*--file/);
      const f = await runCli(["verify", "--kms", auto.url, "--file", join(auto.simDir, "bootstrap-response.json"), "--collateral", auto.simCollateralPath, "--root-ca", auto.simRootCaPath, "--json"]);
      expect(f.code).toBe(0);
      expect(JSON.parse(f.stdout).source).toMatchObject({ type: "kms", bootstrapInfoFrom: "file" });
    } finally {
      await onboard.close();
      await auto.close();
    }
  });
});

describe("kms-registry simulate-kms (CLI)", () => {
  it("runs until SIGTERM, bootstraps at start, and `verify` passes against it", async () => {
    const dir = join(tmp, "cli-sim");
    const child = spawn(process.execPath, [BIN, "simulate-kms", "--port", "0", "--certs-dir", dir, "--auto-bootstrap", "kms.proc.example"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL in ${out}`)), 30_000);
      child.stdout.on("data", () => {
        const m = /listening on (http\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    try {
      expect(out).toMatch(/normal mode, bootstrapped/);
      expect(existsSync(join(`${dir}.sim`, "dcap-root-ca.pem"))).toBe(true);
      const r = await runCli(["verify", "--kms", url, "--collateral", join(`${dir}.sim`, "collateral.json"), "--root-ca", join(`${dir}.sim`, "dcap-root-ca.pem")]);
      expect(r.code).toBe(0);
    } finally {
      const exit = new Promise<number | null>((r) => child.on("close", r));
      child.kill("SIGTERM");
      expect(await exit).toBe(0);
    }
    const u = await runCli(["simulate-kms", "--certs-dir", dir]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--port is required/);
  });
});
