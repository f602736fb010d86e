/**
 * `verify-quote` of AWS Nitro Enclave evidence: the real dstack V0 Nitro attestation and its raw COSE_Sign1
 * document (debug mode: verified, then refused by the policy as NITRO_DEBUG_ENCLAVE), --allow-debug, --at,
 * and documents of a test Nitro world under --root-ca (NOT GENUINE).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { toPem } from "../../src/dcap/x509.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { createNitroWorld, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { runCli } from "../helpers/cli.js";

const fixture = new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "kms-nitro-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, data: Uint8Array | string) => {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
};
const raw = write("nitro.cose", decodeDstackAttestation(readFileSync(fixture)).evidence);

interface Out {
  ok: boolean;
  platform: string;
  error?: { code: string; message: string };
  checks: { name: string; ok: boolean }[];
  verification?: { ok: boolean } | null;
  policy?: { ok: boolean; rules: { name: string; ok: boolean }[] } | null;
  report?: Record<string, unknown>;
  attestation?: Record<string, unknown>;
  at?: number;
  atSource?: string;
  genuine?: boolean;
}

describe("verify-quote: AWS Nitro Enclave", () => {
  for (const [what, file, hasAttestation] of [["the V0 attestation", fixture, true], ["the raw COSE_Sign1 document", raw, false]] as const) {
    it(`${what}: verified by AWS's chain and signature, refused as debug (NITRO_DEBUG_ENCLAVE), exit 1; --allow-debug → exit 0`, async () => {
      const r = await runCli(["verify-quote", file, "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout) as Out;
      expect(j).toMatchObject({ ok: false, platform: "nitro-enclave", error: { code: "NITRO_DEBUG_ENCLAVE" }, verification: { ok: true }, policy: { ok: false } });
      expect(j.policy!.rules.map((x) => x.name)).toEqual(hasAttestation ? ["enclave.debug", "binding.user-data", "config.os-image-hash"] : ["enclave.debug"]);
      expect(j.report).toMatchObject({ moduleId: "i-0fd3fdaad4e904e69-enc019b54988b2d89ba", reportData: `0x${"00".repeat(64)}`, debug: true });
      if (hasAttestation) expect(j.attestation).toMatchObject({ format: "v0-scale", platform: "nitro-enclave" });
      expect(r.stderr).toMatch(/^kms-registry: verify-quote: Nitro enclave\.debug: PCR0, PCR1 and PCR2 are all zero/);
      const ok = await runCli(["verify-quote", file, "--allow-debug", "--json"]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, platform: "nitro-enclave", genuine: true, at: 1766650846, atSource: "document", policy: { ok: true } });
    });
  }

  it("human output: REJECTED BY POLICY with the checks and the rules; VALID with --allow-debug names the root and the time", async () => {
    const r = await runCli(["verify-quote", fixture]);
    expect(r.stdout.split("\n")[0]).toBe("REJECTED BY POLICY: NITRO_DEBUG_ENCLAVE");
    expect(r.stdout).toMatch(/cose\.signature/);
    const ok = await runCli(["verify-quote", fixture, "--allow-debug"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.split("\n")[0]).toMatch(/^VALID: AWS Nitro Enclave attestation document .* AWS's pinned Nitro Enclaves Root-G1, verified at 2025-12-25T08:20:46.000Z \(the document's timestamp\)/);
    expect(ok.stdout).toMatch(/^osImageHash\s+81c611f35bff79491538b2f7cf201c7597a661a5c549633541c62bdc8af1613f$/m);
  });

  it("--at after the signing certificate expired: NITRO_CERT_NOT_VALID_AT at chain.validity, exit 1", async () => {
    const r = await runCli(["verify-quote", fixture, "--allow-debug", "--at", String(1766650846 + 4 * 3600), "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Out;
    expect(j).toMatchObject({ ok: false, error: { code: "NITRO_CERT_NOT_VALID_AT" }, verification: null });
    expect(j.checks.at(-1)).toMatchObject({ name: "chain.validity", ok: false });
  });

  it("a test world's document: refused under AWS's root (NITRO_ROOT_NOT_PINNED); under --root-ca verified and NOT GENUINE", async () => {
    const now = Math.floor(Date.now() / 1000);
    const w = createNitroWorld({ now });
    const doc = write("world.cose", makeNitroDocument(w, { timestamp: now * 1000 }));
    const r = await runCli(["verify-quote", doc, "--json"]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as Out).error!.code).toBe("NITRO_ROOT_NOT_PINNED");
    const root = write("world-root.pem", toPem(w.rootDer));
    const ok = await runCli(["verify-quote", doc, "--root-ca", root, "--at", String(now), "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, genuine: false, atSource: "now", report: { debug: false } });
    expect(ok.stderr).toMatch(/^NOT GENUINE: verified against a root other than AWS's Nitro Enclaves Root-G1/);
  });

  it("a document's text fields reach the terminal sanitized (no control characters from a module_id)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const w = createNitroWorld({ now });
    const doc = write("evil.cose", makeNitroDocument(w, { timestamp: now * 1000, moduleId: "i-evil\u001b[2J\u001b]0;owned\u0007-enc0" }));
    const root = write("evil-root.pem", toPem(w.rootDer));
    for (const args of [["verify-quote", doc, "--root-ca", root, "--at", String(now)], ["verify-quote", doc]]) {
      const r = await runCli(args);
      if (args.length > 2) expect(r.stdout).toMatch(/^moduleId\s+i-evil.*-enc0$/m);
      const controls = [...(r.stdout + r.stderr)].filter((ch) => ch !== "\n" && ch !== "\t" && (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f));
      expect(controls).toEqual([]);
    }
  });
});
