/**
 * `verifyBootstrap` and `kms-registry verify` of KMSs on AWS Nitro Enclaves: bootstrap infos whose V1/V0
 * attestation carries an NSM document of a test Nitro world (user_data = report_data binding the KMS keys),
 * and the real dstack Nitro attestation (debug mode, report_data of zeros). No collateral is needed.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { afterAll, describe, expect, it } from "vitest";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { toPem } from "../../src/dcap/x509.js";
import { encodeDstackAttestationV1 } from "../../src/dstack/attestation.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { generateK256, generateP256 } from "../../src/testing/pki.js";
import { createNitroWorld, debugPcrs, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-nitro-verify-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const now = Math.floor(Date.UTC(2026, 8, 1) / 1000);
const world = createNitroWorld({ now });
const ca = await generateP256();
const k256 = secp256k1.getPublicKey(generateK256(), true);
const reportData = expectedKmsReportData(ca.spki, k256);
const osImageHash = createHash("sha256").update(Buffer.concat([Buffer.alloc(48, 0x11), Buffer.alloc(48, 0x22), Buffer.alloc(48, 0x33)])).digest("hex");

function bootstrap(o: { userData?: Uint8Array; stackReportData?: Uint8Array; pcrs?: Map<number, Uint8Array>; config?: string; platform?: string } = {}): Record<string, string> {
  const doc = makeNitroDocument(world, { timestamp: (now - 600) * 1000, userData: o.userData ?? reportData, ...(o.pcrs ? { pcrs: o.pcrs } : {}) });
  const att = encodeDstackAttestationV1({ platform: o.platform ?? "nitro-enclave", evidence: doc, stack: { reportData: o.stackReportData ?? reportData, runtimeEvents: [], config: o.config ?? JSON.stringify({ os_image_hash: osImageHash }) } });
  return { ca_pubkey: bytesToPlainHex(ca.spki), k256_pubkey: bytesToPlainHex(k256), attestation: bytesToPlainHex(att) };
}

describe("verifyBootstrap: a Nitro KMS", () => {
  it("a good V1 Nitro attestation under the world's root: VERIFIED, NOT GENUINE, every platform and binding check passes", async () => {
    const info = parseBootstrapInfo(bootstrap());
    expect(info.problems).toEqual([]);
    const r = await verifyBootstrap(info, { now, nitroRootDer: world.rootDer });
    expect(r.failed).toEqual([]);
    expect(r).toMatchObject({ ok: true, verdict: "VERIFIED", platform: "nitro-enclave", genuine: false, quote: null, binding: { ok: true } });
    expect(r.checks.map((c) => c.name)).toEqual([
      "platform.document.decode",
      "platform.cose.header",
      "platform.document.fields",
      "platform.chain.root",
      "platform.chain.path",
      "platform.chain.validity",
      "platform.document.timestamp",
      "platform.cose.signature",
      "platform.verified",
      "platform.enclave.debug",
      "binding.user-data",
      "attestation.os-image-hash",
      "binding.report-data",
    ]);
    expect(r.measurements).toMatchObject({ pcr0: `0x${"11".repeat(48)}`, osImageHash });
    expect(r.warnings.some((w) => w.startsWith("NOT GENUINE"))).toBe(true);
  });

  it("under AWS's pinned root the world's document fails platform.chain.root (NITRO_ROOT_NOT_PINNED)", async () => {
    const r = await verifyBootstrap(parseBootstrapInfo(bootstrap()), { now });
    expect(r.ok).toBe(false);
    expect(r.failed).toEqual(["platform.chain.root", "platform.verified"]);
    expect(r.checks.find((c) => c.name === "platform.verified")!.detail).toMatch(/^NITRO_ROOT_NOT_PINNED/);
  });

  it("keys the report_data does not bind, user_data ≠ report_data, a wrong os_image_hash, a debug enclave: each its named check", async () => {
    const other = expectedKmsReportData(ca.spki, secp256k1.getPublicKey(generateK256(), true));
    const cases: [Parameters<typeof bootstrap>[0], string[]][] = [
      [{ userData: other, stackReportData: other }, ["binding.report-data"]],
      [{ userData: other }, ["binding.user-data", "binding.report-data"]],
      [{ config: JSON.stringify({ os_image_hash: "ab".repeat(32) }) }, ["attestation.os-image-hash"]],
      [{ pcrs: debugPcrs() }, ["platform.enclave.debug", "attestation.os-image-hash"]],
    ];
    for (const [o, failed] of cases) {
      const r = await verifyBootstrap(parseBootstrapInfo(bootstrap(o)), { now, nitroRootDer: world.rootDer });
      expect(r.failed).toEqual(failed);
    }
    const debugOk = await verifyBootstrap(parseBootstrapInfo(bootstrap({ pcrs: debugPcrs(), config: JSON.stringify({ os_image_hash: createHash("sha256").update(Buffer.alloc(144)).digest("hex") }) })), { now, nitroRootDer: world.rootDer, allowDebug: true });
    expect(debugOk.ok).toBe(true);
  });

  it("--expect osImageHash is checked against SHA-256(PCR0 ‖ PCR1 ‖ PCR2) of the verified document", async () => {
    const ok = await verifyBootstrap(parseBootstrapInfo(bootstrap()), { now, nitroRootDer: world.rootDer, policy: { osImageHash: [`0x${osImageHash}`] } });
    expect(ok.checks.find((c) => c.name === "expect.osImageHash")).toMatchObject({ ok: true });
    const bad = await verifyBootstrap(parseBootstrapInfo(bootstrap()), { now, nitroRootDer: world.rootDer, policy: { osImageHash: [`0x${"cd".repeat(32)}`] } });
    expect(bad.failed).toEqual(["expect.osImageHash"]);
  });

  it("a document stamped after the verification time fails platform.verified", async () => {
    const r = await verifyBootstrap(parseBootstrapInfo(bootstrap()), { now: now - 3600, nitroRootDer: world.rootDer });
    expect(r.failed).toContain("platform.verified");
  });

  it("an AWS Nitro TPM attestation and an unknown platform: platform.supported fails with PLATFORM_NOT_SUPPORTED, no parse error", async () => {
    for (const platform of ["aws-nitro-tpm", "tdx-next"]) {
      const info = parseBootstrapInfo(bootstrap({ platform }));
      expect(info.problems).toEqual([]);
      const r = await verifyBootstrap(info, { now });
      expect(r).toMatchObject({ ok: false, platform });
      expect(r.failed).toEqual(["platform.supported"]);
      expect(r.checks[0]!.detail).toMatch(new RegExp(`^PLATFORM_NOT_SUPPORTED: the attestation is a ${platform} attestation`));
    }
  });
});

describe("kms-registry verify --file: Nitro KMSs", () => {
  it("the world's KMS with --root-ca: exit 0, no collateral needed; without it exit 1 at platform.chain.root", async () => {
    const file = join(tmp, "nitro-bootstrap.json");
    writeFileSync(file, JSON.stringify(bootstrap()));
    const root = join(tmp, "nitro-root.pem");
    writeFileSync(root, toPem(world.rootDer));
    const ok = await runCli(["verify", "--file", file, "--root-ca", root, "--at", String(now), "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, platform: "nitro-enclave", genuine: false });
    const human = await runCli(["verify", "--file", file, "--root-ca", root, "--at", String(now)]);
    expect(human.stdout).toMatch(/^platform\s+nitro-enclave$/m);
    const bad = await runCli(["verify", "--file", file, "--at", String(now), "--json"]);
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout) as { failed: string[] }).failed).toContain("platform.chain.root");
  });

  it("the real dstack Nitro attestation: AWS's chain verifies; debug mode and report_data of zeros are refused", async () => {
    const att = readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url));
    const file = join(tmp, "real-nitro.json");
    writeFileSync(file, JSON.stringify({ ca_pubkey: bytesToPlainHex(ca.spki), k256_pubkey: bytesToPlainHex(k256), attestation: att.toString("hex") }));
    const r = await runCli(["verify", "--file", file, "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { failed: string[]; genuine: boolean; checks: { name: string; ok: boolean }[]; warnings: string[] };
    expect(j.failed).toEqual(["platform.enclave.debug", "binding.report-data"]);
    expect(j.genuine).toBe(true);
    expect(j.checks.find((c) => c.name === "platform.cose.signature")?.ok).toBe(true);
    expect(j.warnings.some((w) => /the attestation document is \d+ h old/.test(w))).toBe(true);
  });
});
