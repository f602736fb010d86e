/**
 * `verify-quote` of real SEV-SNP evidence: a raw report and dstack attestations, verified offline with
 * --vcek / --amd-chain (or the attestation's cert_chain), no collateral; the failures exit 1 at the named step.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runCli } from "../helpers/cli.js";

const fx = (name: string) => new URL(`../fixtures/sev-snp/${name}`, import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "kms-snp-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** 2027-01-01, inside both VCEKs' validity. */
const AT = String(Date.UTC(2027, 0, 1) / 1000);

interface Out {
  ok: boolean;
  platform: string;
  error?: { code: string; message: string };
  checks: { name: string; ok: boolean }[];
  verification?: { ok: boolean; checks: unknown[] } | null;
  policy?: { ok: boolean; rules: { name: string; ok: boolean }[] } | null;
  report?: Record<string, unknown>;
}

describe("verify-quote: SEV-SNP", () => {
  it("the raw go-sev-guest report with --vcek and --amd-chain: verified, refused by the debug rule; --allow-debug → exit 0", async () => {
    const args = ["verify-quote", fx("go-sev-guest-report-v2-milan.bin"), "--vcek", fx("go-sev-guest-vcek-milan.der"), "--amd-chain", fx("amd-milan-ask-ark.pem"), "--at", AT, "--json"];
    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    const j = JSON.parse(refused.stdout) as Out;
    expect(j).toMatchObject({ ok: false, platform: "sev-snp", error: { code: "SNP_POLICY_REFUSED" }, verification: { ok: true }, policy: { ok: false } });
    expect(j.policy!.rules.find((r) => !r.ok)?.name).toBe("snp.policy.debug");
    const ok = await runCli([...args, "--allow-debug"]);
    expect(ok.code).toBe(0);
    const k = JSON.parse(ok.stdout) as Out;
    expect(k).toMatchObject({ ok: true, platform: "sev-snp", verification: { ok: true }, policy: { ok: true } });
    expect(k.report!.reportData).toBe(`0x0102030405${"00".repeat(59)}`);
    expect(k.checks.map((c) => c.name)).toContain("report.signature");
  });

  it("the dstack V0 attestation with --vcek and the dstack ASK → exit 0; human output says VALID", async () => {
    const r = await runCli(["verify-quote", fx("dstack-sev-snp-attestation-v0.bin"), "--vcek", fx("dstack-sev-snp-vcek.pem"), "--amd-chain", fx("dstack-sev-snp-ask-milan.pem"), "--at", AT, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Out & { attestation: Record<string, unknown> };
    expect(j).toMatchObject({ ok: true, platform: "sev-snp", attestation: { format: "v0-scale", platform: "sev-snp" } });
    expect(j.report).toMatchObject({ version: 3, vmpl: 0, policy: "0x0000000000030000", reportedTcb: "0xd517000000000004" });
    const human = await runCli(["verify-quote", fx("dstack-sev-snp-attestation-v0.bin"), "--vcek", fx("dstack-sev-snp-vcek.pem"), "--amd-chain", fx("amd-milan-ask-ark.pem"), "--at", AT]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toMatch(/^VALID: SEV-SNP report \(Milan\)/);
  });

  it("the dstack verifier's attestation verifies with the VCEK and ASK of its own cert_chain, no option needed but the time", async () => {
    const json = JSON.parse(readFileSync(fx("dstack-verifier-sev-snp-attestation.json"), "utf8")) as { attestation: string };
    const file = join(tmp, "verifier-attestation.hex");
    writeFileSync(file, json.attestation);
    const r = await runCli(["verify-quote", file, "--amd-chain", fx("amd-milan-ask-ark.pem"), "--at", AT, "--json"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Out).ok).toBe(true);
  });

  it("a Genoa chain for the Milan report → exit 1 at chain.ark; a time outside the VCEK → exit 1 at chain.validity", async () => {
    const genoa = await runCli(["verify-quote", fx("dstack-sev-snp-attestation-v0.bin"), "--vcek", fx("dstack-sev-snp-vcek.pem"), "--amd-chain", fx("amd-genoa-ask-ark.pem"), "--at", AT, "--json"]);
    expect(genoa.code).toBe(1);
    const g = JSON.parse(genoa.stdout) as Out;
    expect(g.error!.code).toBe("SNP_ARK_NOT_PINNED");
    expect(g.checks.at(-1)).toMatchObject({ name: "chain.ark", ok: false });
    const late = await runCli(["verify-quote", fx("dstack-sev-snp-attestation-v0.bin"), "--vcek", fx("dstack-sev-snp-vcek.pem"), "--amd-chain", fx("amd-milan-ask-ark.pem"), "--at", String(Date.UTC(2034, 0, 1) / 1000), "--json"]);
    expect(late.code).toBe(1);
    const l = JSON.parse(late.stdout) as Out;
    expect(l.error!.code).toBe("SNP_CERT_NOT_VALID_AT");
    expect(l.checks.at(-1)).toMatchObject({ name: "chain.validity", ok: false });
    expect(late.stderr).toMatch(/^kms-registry: verify-quote: SEV-SNP chain.validity: the VCEK is valid/);
  });

  it("a --vcek file over the VCEK cap (64 KiB) is refused by the bounded reader, exit 2", async () => {
    const big = join(tmp, "big-vcek.pem");
    writeFileSync(big, Buffer.alloc(65 * 1024, 0x41));
    const r = await runCli(["verify-quote", fx("go-sev-guest-report-v2-milan.bin"), "--vcek", big, "--json"]);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as Out).error!.code).toBe("FILE_TOO_LARGE");
  });

  it("another chip's VCEK → exit 1 at vcek.chip-id", async () => {
    const r = await runCli(["verify-quote", fx("go-sev-guest-report-v2-milan.bin"), "--vcek", fx("dstack-sev-snp-vcek.pem"), "--amd-chain", fx("amd-milan-ask-ark.pem"), "--at", AT, "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Out;
    expect(j.error!.code).toBe("SNP_CHIP_ID_MISMATCH");
    expect(j.checks.at(-1)).toMatchObject({ name: "vcek.chip-id", ok: false });
  });

  it("without --vcek a raw report is SNP_VCEK_REQUIRED (no collateral asked for: SEV-SNP needs none), also with --amd-chain only", async () => {
    const r = await runCli(["verify-quote", fx("go-sev-guest-report-v2-milan.bin")]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toMatch(/^NOT VERIFIED: SNP_VCEK_REQUIRED — .*needs --vcek FILE/);
    expect(r.stderr).not.toMatch(/collateral/);
    const withChain = await runCli(["verify-quote", fx("go-sev-guest-report-v2-milan.bin"), "--amd-chain", fx("amd-milan-ask-ark.pem")]);
    expect(withChain.code).toBe(1);
    expect(withChain.stdout.split("\n")[0]).toMatch(/^NOT VERIFIED: SNP_VCEK_REQUIRED — .*needs --vcek FILE/);
  });
});
