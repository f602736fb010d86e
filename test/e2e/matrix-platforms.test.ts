/**
 * The matrix, AMD SEV-SNP and AWS Nitro Enclave side: a simulated KMS of each (V0 SCALE and V1 msgpack
 * attestations) through pull → verify → publish (registerSnp / registerNitro) → audit --reverify →
 * check-dstack-kms with the record in a DstackKms, all through the `kms-registry` executable; dstack's
 * measurements of each computed here from the evidence bytes; then dstack's real SEV-SNP attestation (AMD's
 * pinned ARK) and real debug-mode Nitro attestation (AWS's pinned root) through verify and check-dstack-kms.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";
import type { Hex } from "viem";
import { describe, expect, it } from "vitest";

import { toPem } from "../../src/dcap/x509.js";
import { decodeDstackAttestation, encodeDstackAttestationV1 } from "../../src/dstack/attestation.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { snpHostDataOf } from "../../src/dstack/platforms/mr-config.js";
import { createSnpWorld, issueVcek, kdsAnswers, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { startPccs, type Handler } from "../helpers/pccs-server.js";
import { randomKms } from "../registry/chain-helpers.js";
import type { SimKmsProcess } from "./helpers.js";
import { checkRecord, hx, runCell, simRecord, useMatrix, NEAR_CA, NEAR_K256, type Matrix } from "./matrix-helpers.js";

let m: Matrix;
let dir: string;
const started: SimKmsProcess[] = [];
useMatrix("kms-matrix-platforms-", started, (mm, d) => {
  m = mm;
  dir = d;
});

const sim = (k: SimKmsProcess, f: string) => path.join(k.dir, "certs.sim", f);
const attestationInfo = async (k: SimKmsProcess) => (await (await fetch(`${k.url}/prpc/KMS.GetAttestationInfo?json`, { method: "POST", body: "{}" })).json()) as Record<string, string>;

/** dstack's SEV-SNP measurements from the raw report: MEASUREMENT at 0x90, HOST_DATA at 0xC0, CHIP_ID at 0x1A0. */
function snpMeasured(report: Uint8Array): { mr: Hex; device: Hex } {
  const b = Buffer.from(report);
  return { mr: hx(sha256(Buffer.concat([b.subarray(0x90, 0xc0), b.subarray(0xc0, 0xe0)]))), device: hx(sha256(b.subarray(0x1a0, 0x1e0))) };
}

/** dstack's image hash of a Nitro enclave: SHA-256(PCR0 ‖ PCR1 ‖ PCR2); the simulator's PCRs are 0x11…, 0x22…, 0x33…. */
const SIM_NITRO_IMAGE = hx(sha256(Buffer.concat([0x11, 0x22, 0x33].map((x) => Buffer.alloc(48, x)))));

describe("the SEV-SNP cells: simulate-kms --platform sev-snp → pull → verify → publish (registerSnp) → audit --reverify → check-dstack-kms", () => {
  for (const [name, format, shape] of [
    ["sev-snp V0", "attestation", /attestation {2}v0-scale.*platform sev-snp/],
    ["sev-snp V1", "attestation-v1", /attestation {2}v1-msgpack \(version 1\), platform sev-snp/],
  ] as const) {
    it(name, async () => {
      const trust = (k: SimKmsProcess) => ["--root-ca", sim(k, "amd-ark.pem"), "--amd-crl", sim(k, "amd-crl.der")];
      const cell = await runCell(m, ["--platform", "sev-snp", "--format", format], {
        platform: "sev-snp",
        onChainPlatform: "sev-snp",
        format: shape,
        trust,
        auditTrust: (k) => ["--root-ca", sim(k, "amd-ark.pem")],
        pinned: () => [],
        pinnedFails: /platform\.verified/,
      });
      started.push(cell.kms);
      const rec = simRecord(cell.kms);
      const att = decodeDstackAttestation(Buffer.from(rec.quote.slice(2), "hex"));
      const want = snpMeasured(att.evidence);
      const os = `0x${(JSON.parse(att.config!) as { os_image_hash: string }).os_image_hash}` as Hex;
      // what the KMS's GetAttestationInfo tells an operator to allow-list is what dstack computes from the evidence
      expect(await attestationInfo(cell.kms)).toMatchObject({ mr_aggregated: want.mr.slice(2), os_image_hash: os.slice(2), device_id: want.device.slice(2), tee_variant: "dstack-amd-sev-snp" });
      const { r, j } = await checkRecord(m, rec, { mr: want.mr, os, device: want.device }, trust(cell.kms));
      expect(r.code, r.stdout).toBe(0);
      expect(j).toMatchObject({ ok: true, verdict: "PASS", genuine: false, platform: "sev-snp", record: { quoteKind: "dstack-attestation" }, isKmsAllowed: { allowed: true } });
      expect(j.allowLists.map((a) => [a.list, a.value, a.allowed])).toEqual([
        ["kmsAllowedAggregatedMrs", want.mr, true],
        ["allowedOsImages", os, true],
        ["kmsAllowedDeviceIds", want.device, true],
      ]);
      expect(j.allowLists[0]!.source).toMatch(/sha256\(MEASUREMENT ‖ HOST_DATA\)/);
      expect(j.allowLists[1]!.source).toMatch(/the SNP report does not sign it/);
      expect(j.findings.map((f) => f.code)).toContain("TCB_STATUS_NOT_APPLICABLE");
      expect(j.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["platform.verified", "platform.snp.host-data", "binding.report-data", "onchain.isKmsAllowed"]));
      expect(r.stderr).toMatch(/NOT GENUINE: the sev-snp evidence was verified against a test root/);
    }, 60_000);
  }
});

describe("the AWS Nitro Enclave cells: simulate-kms --platform nitro-enclave → pull → verify → publish (registerNitro) → audit --reverify → check-dstack-kms", () => {
  for (const [name, format, shape] of [
    ["nitro-enclave V0", "attestation", /attestation {2}v0-scale.*platform nitro-enclave/],
    ["nitro-enclave V1", "attestation-v1", /attestation {2}v1-msgpack \(version 1\), platform nitro-enclave/],
  ] as const) {
    it(name, async () => {
      const trust = (k: SimKmsProcess) => ["--root-ca", sim(k, "nitro-root.pem")];
      const cell = await runCell(m, ["--platform", "nitro-enclave", "--format", format], { platform: "nitro-enclave", onChainPlatform: "nitro-enclave", format: shape, trust, pinned: () => [], pinnedFails: /NITRO_ROOT_NOT_PINNED/ });
      started.push(cell.kms);
      expect(await attestationInfo(cell.kms)).toMatchObject({ mr_aggregated: SIM_NITRO_IMAGE.slice(2), os_image_hash: SIM_NITRO_IMAGE.slice(2), ppid: "", tee_variant: "dstack-nitro-enclave" });
      const { r, j } = await checkRecord(m, simRecord(cell.kms), { mr: SIM_NITRO_IMAGE, os: SIM_NITRO_IMAGE }, trust(cell.kms));
      expect(r.code, r.stdout).toBe(0);
      expect(j).toMatchObject({ ok: true, verdict: "PASS", genuine: false, platform: "nitro-enclave", isKmsAllowed: null });
      expect(j.allowLists.map((a) => [a.list, a.value, a.allowed, a.applicable])).toEqual([
        ["kmsAllowedAggregatedMrs", SIM_NITRO_IMAGE, true, true],
        ["allowedOsImages", SIM_NITRO_IMAGE, true, true],
        ["kmsAllowedDeviceIds", null, null, false],
      ]);
      // dstack has no stable device id for an enclave: named findings, not a failure
      const codes = j.findings.map((f) => f.code);
      expect(codes).toEqual(expect.arrayContaining(["ALLOWLIST_NOT_APPLICABLE", "IS_KMS_ALLOWED_NOT_APPLICABLE"]));
      expect(j.findings.find((f) => f.code === "ALLOWLIST_NOT_APPLICABLE")!.detail).toMatch(/^kmsAllowedDeviceIds was not consulted: nitro-enclave: dstack has no stable device id/);
      expect(j.checks.map((c) => c.name)).not.toContain("onchain.kmsAllowedDeviceIds");
      if (format === "attestation-v1") {
        const human = await m.cli(["check-dstack-kms", "--contract", m.dstackKms, "--rpc", m.node.url, ...trust(cell.kms)]);
        expect(human.code, human.stdout).toBe(0);
        expect(human.stdout).toMatch(/^PASS \(NOT GENUINE: nitro-enclave evidence under a test root\)/);
        expect(human.stdout).toMatch(/platform +nitro-enclave/);
        expect(human.stdout).toMatch(/kmsAllowedDeviceIds +not applicable +-/);
        expect(human.stdout).toMatch(/info +ALLOWLIST_NOT_APPLICABLE +- +kmsAllowedDeviceIds was not consulted/);
      }
    }, 60_000);
  }
});

describe("real SEV-SNP and Nitro evidence through verify and check-dstack-kms", () => {
  it("dstack's real SEV-SNP attestation with its VCEK and ASK: verified to AMD's pinned ARK (genuine); its report_data binds keys we do not have", async () => {
    const fx = JSON.parse(readFileSync(new URL("../fixtures/sev-snp/dstack-verifier-sev-snp-attestation.json", import.meta.url), "utf8")) as { attestation: string };
    const f = path.join(dir, "snp-real.json");
    writeFileSync(f, JSON.stringify({ k256_pubkey: NEAR_K256.slice(2), ca_pubkey: NEAR_CA.slice(2), attestation: fx.attestation }));
    const v = await m.cli(["verify", "--file", f, "--json"]);
    expect(v.code).toBe(1);
    const vj = JSON.parse(v.stdout) as { platform: string; genuine: boolean; failed: string[]; checks: { name: string; ok: boolean }[] };
    expect(vj).toMatchObject({ platform: "sev-snp", genuine: true });
    expect(vj.checks.find((c) => c.name === "platform.verified")).toMatchObject({ ok: true });
    expect(vj.checks.find((c) => c.name === "platform.snp.host-data")).toMatchObject({ ok: true });
    expect(vj.failed).toEqual(["binding.report-data"]);

    const att = decodeDstackAttestation(Buffer.from(fx.attestation, "hex"));
    const want = snpMeasured(att.evidence);
    const os = `0x${(JSON.parse(att.config!) as { os_image_hash: string }).os_image_hash}` as Hex;
    const { r, j } = await checkRecord(m, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: `0x${fx.attestation}`, eventlog: "0x" }, { mr: want.mr, os, device: want.device }, []);
    expect(r.code).toBe(1);
    expect(j).toMatchObject({ platform: "sev-snp", genuine: true, verdict: "FAIL", isKmsAllowed: { allowed: true } });
    expect(j.allowLists.map((a) => [a.list, a.value, a.allowed])).toEqual([
      ["kmsAllowedAggregatedMrs", want.mr, true],
      ["allowedOsImages", os, true],
      ["kmsAllowedDeviceIds", want.device, true],
    ]);
    // the only failure: the report binds dstack's test payload, not this record's keys
    expect(j.failed).toEqual(["binding.report-data"]);
  }, 60_000);

  it("dstack's real debug-mode Nitro attestation: verified to AWS's pinned root (genuine), refused as debug; its user_data binds no keys", async () => {
    const doc = readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url));
    const f = path.join(dir, "nitro-real.json");
    writeFileSync(f, JSON.stringify({ k256_pubkey: NEAR_K256.slice(2), ca_pubkey: NEAR_CA.slice(2), attestation: doc.toString("hex") }));
    const [v, dbg] = await Promise.all([m.cli(["verify", "--file", f, "--json"]), m.cli(["verify", "--file", f, "--allow-debug", "--json"])]);
    for (const x of [v, dbg]) {
      expect(x.code).toBe(1);
      const xj = JSON.parse(x.stdout) as { platform: string; genuine: boolean; failed: string[]; checks: { name: string; ok: boolean }[] };
      expect(xj).toMatchObject({ platform: "nitro-enclave", genuine: true });
      expect(xj.checks.find((c) => c.name === "platform.verified")).toMatchObject({ ok: true });
      expect(xj.failed).toEqual(x === v ? ["platform.enclave.debug", "binding.report-data"] : ["binding.report-data"]);
    }
    const zeroImage = hx(sha256(Buffer.alloc(144)));
    const { j } = await checkRecord(m, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(doc), eventlog: "0x" }, { mr: zeroImage }, []);
    expect(j).toMatchObject({ platform: "nitro-enclave", genuine: true, verdict: "FAIL" });
    expect(j.failed).toEqual(expect.arrayContaining(["platform.enclave.debug", "binding.report-data"]));
    expect(j.allowLists[0]).toMatchObject({ value: zeroImage, allowed: true });
    expect(j.findings.map((f) => f.code)).toContain("ALLOWLIST_NOT_APPLICABLE");
  }, 60_000);
});

describe("an SEV-SNP record whose attestation carries no VCEK (dstack's cert_chain may be empty): check-dstack-kms --kds-url", () => {
  it("without --kds: platform.vcek fails naming --kds; with a local KDS: the VCEK, chain and CRL fetched, PASS under the test ARK", async () => {
    const now = Math.floor(Date.now() / 1000);
    const world = createSnpWorld({ now });
    const vcek = issueVcek(world, { chipId: new Uint8Array(64).map((_, i) => (i * 7 + 3) & 0xff), tcb: { bootloader: 4, tee: 0, snp: 22, microcode: 213 } });
    const crl = makeArkCrl(world, { thisUpdate: now - 3600, nextUpdate: now + 7 * 86_400 });
    const keys = randomKms();
    const mrConfig = JSON.stringify({ app_id: "11".repeat(20), compose_hash: "22".repeat(32), instance_id: "44".repeat(20), key_provider: "kms", key_provider_id: "33".repeat(32), version: 3 });
    const reportData = expectedKmsReportData(keys.caPubkey, keys.k256Pubkey);
    const report = makeSnpReport(world, vcek, { reportData, hostData: snpHostDataOf(mrConfig) });
    const att = encodeDstackAttestationV1({ platform: "sev-snp", evidence: report, snp: { certChain: [], mrConfig }, stack: { reportData, runtimeEvents: [], config: JSON.stringify({ os_image_hash: "55".repeat(32) }) } });
    const arkFile = path.join(dir, "kds-ark.pem");
    writeFileSync(arkFile, toPem(world.arkDer));
    const routes = new Map<string, Handler>();
    for (const [p, a] of kdsAnswers(world, [vcek], crl)) {
      routes.set(p, (_req, res: ServerResponse) => {
        res.writeHead(200, { "Content-Type": a.contentType });
        res.end(typeof a.body === "string" ? a.body : Buffer.from(a.body));
      });
    }
    const kds = await startPccs(routes);
    try {
      const want = snpMeasured(report);
      const rec = { k256Pubkey: hx(keys.k256Pubkey), caPubkey: hx(keys.caPubkey), quote: hx(att), eventlog: "0x" as Hex };
      const without = await checkRecord(m, rec, { mr: want.mr, os: `0x${"55".repeat(32)}`, device: want.device }, ["--root-ca", arkFile]);
      expect(without.r.code).toBe(1);
      expect(without.j.checks.find((c) => c.name === "platform.vcek")!.detail).toMatch(/^SNP_VCEK_REQUIRED: .*--kds/);
      const r = await m.cli(["check-dstack-kms", "--contract", m.dstackKms, "--rpc", m.node.url, "--root-ca", arkFile, "--kds-url", kds.url, "--json"]);
      expect(r.code, r.stdout).toBe(0);
      const j = JSON.parse(r.stdout) as { verdict: string; genuine: boolean; platform: string; checks: { name: string; ok: boolean; detail: string }[] };
      expect(j).toMatchObject({ verdict: "PASS", genuine: false, platform: "sev-snp" });
      expect(j.checks.find((c) => c.name === "platform.kds")!.detail).toMatch(/^fetched VCEK, cert_chain, CRL of Milan from http:\/\/127\.0\.0\.1:\d+/);
      expect(kds.total()).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((res) => kds.server.close(() => res()));
    }
  }, 60_000);
});

