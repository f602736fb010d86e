/**
 * dstack's SEV-SNP MrConfig binding: HOST_DATA = SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ mr_config), checked on
 * the real dstack SNP attestation (its report's HOST_DATA is that hash of its own mr_config document), refused for
 * a changed document, an empty one or one that is not MrConfig V3. Then a simulated SNP KMS end to end over HTTP:
 * the named check `platform.snp.host-data` passes, dstack's SNP mr_aggregated = SHA-256(MEASUREMENT ‖ HOST_DATA)
 * equals the simulator's GetAttestationInfo, `--expect mrAggregated`/`composeHash` pass, and an attestation whose
 * mr_config was swapped fails the check.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex } from "../../src/core/bytes.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { decodeDstackAttestation, encodeDstackAttestationV1 } from "../../src/dstack/attestation.js";
import { checkSnpHostData, parseMrConfigV3, snpHostDataOf, snpMrAggregated, snpMrSystem } from "../../src/dstack/platforms/mr-config.js";
import { amdCrlsFromFile } from "../../src/dstack/platforms/sev-snp-verify.js";
import { parseSnpReport } from "../../src/dstack/platforms/sev-snp.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";

const real = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../fixtures/sev-snp/dstack-sev-snp-attestation-v0.bin", import.meta.url))));
const realReport = parseSnpReport(real.evidence);

describe("HOST_DATA binds the MrConfig V3 document (dstack's SNP derivation)", () => {
  it("the real dstack SNP attestation: its HOST_DATA is SHA-256(\"dstack-mr-config-v3:\" ‖ 0x00 ‖ mr_config); the document's fields", () => {
    const doc = real.snp!.mrConfig;
    const independent = createHash("sha256").update("dstack-mr-config-v3:").update(Buffer.from([0])).update(doc, "utf8").digest("hex");
    expect(realReport.hostData).toBe(`0x${independent}`);
    expect(bytesToHex(snpHostDataOf(doc))).toBe(realReport.hostData);
    const c = checkSnpHostData(doc, realReport.hostData);
    expect(c.ok).toBe(true);
    expect(c.detail).toMatch(/^HOST_DATA = SHA-256\("dstack-mr-config-v3:" ‖ 0x00 ‖ mr_config\) binds the MrConfig V3 document \(compose_hash 0x[0-9a-f]{64}, app_id 0x86e59625be93207bc2351c4d1bba20037cec8e16\)$/);
    expect(c.mrConfig).toMatchObject({ version: 3, appId: "0x86e59625be93207bc2351c4d1bba20037cec8e16", keyProvider: "kms" });
    // dstack's SNP measurements
    expect(snpMrSystem(realReport.measurement)).toBe(`0x${createHash("sha256").update(Buffer.from(realReport.measurement.slice(2), "hex")).digest("hex")}`);
    expect(snpMrAggregated(realReport.measurement, realReport.hostData)).toBe(`0x${createHash("sha256").update(Buffer.from(realReport.measurement.slice(2) + realReport.hostData.slice(2), "hex")).digest("hex")}`);
  });

  it("refused: one byte of the document changed (the same JSON pretty-printed too), an empty document, a document that is not MrConfig V3", () => {
    const doc = real.snp!.mrConfig;
    const flipped = checkSnpHostData(doc.replace('"kms"', '"tpm"'), realReport.hostData);
    expect(flipped).toMatchObject({ ok: false, detail: expect.stringMatching(/^HOST_DATA 0x[0-9a-f]{64} is not SHA-256\(.*\) = 0x[0-9a-f]{64}: the report does not bind this mr_config document$/) as unknown });
    expect(checkSnpHostData(JSON.stringify(JSON.parse(doc), null, 2), realReport.hostData).ok).toBe(false);
    expect(checkSnpHostData("", realReport.hostData).detail).toMatch(/carries no mr_config document/);
    expect(checkSnpHostData('{"version":3,"compose_hash":"00","key_provider":"kms","os_image_hash":"ab"}', realReport.hostData).detail).toMatch(/not an MrConfig V3 document: unknown field "os_image_hash"/);
    expect(() => parseMrConfigV3('{"version":3,"key_provider":"kms"}')).toThrow(/compose_hash is missing/);
    expect(() => parseMrConfigV3("[1]")).toThrow(/not a JSON object/);
  });
});

describe("a simulated SEV-SNP KMS: the host_data check, mr_aggregated as dstack computes it", () => {
  const tmp = mkdtempSync(join(tmpdir(), "kms-snp-mrconfig-"));
  let kms: SimulatedKms | undefined;
  afterAll(async () => {
    await kms?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("platform.snp.host-data passes; mr_aggregated equals GetAttestationInfo's; --expect mrAggregated and composeHash pass; a swapped mr_config fails", async () => {
    kms = await startSimulatedKms({ certsDir: join(tmp, "c"), port: 0, autoBootstrapDomain: "kms.mrconfig.example", platform: "sev-snp", format: "attestation-v1" });
    const now = Math.floor(Date.now() / 1000);
    const trust = {
      snpTestArkDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simArkPath)), "test ARK"),
      amdCrlDers: amdCrlsFromFile(new Uint8Array(readFileSync(kms.simAmdCrlPath)), "test CRL"),
    };
    const info = (await (await fetch(`${kms.url}/prpc/Onboard.GetAttestationInfo?json`, { method: "POST", body: "{}" })).json()) as Record<string, string>;
    const pulled = await pullBootstrap({ kms: kms.url }, { now });
    const a = pulled.info.decodedAttestation!;
    const doc = JSON.parse(a.snp!.mrConfig) as Record<string, string>;
    expect(Object.keys(doc)).toEqual(["app_id", "compose_hash", "instance_id", "key_provider", "key_provider_id", "version"]);
    const r = await verifyBootstrap(pulled.info, { now, ...trust, policy: { mrAggregated: [`0x${info.mr_aggregated}`], composeHash: [`0x${doc.compose_hash}`] } });
    expect(r.failed).toEqual([]);
    expect(r.checks.find((c) => c.name === "platform.snp.host-data")).toMatchObject({ ok: true });
    expect(r.measurements!.mrAggregated).toBe(`0x${info.mr_aggregated}`);
    expect(r.checks.find((c) => c.name === "expect.mrAggregated")).toMatchObject({ ok: true });
    expect(r.checks.find((c) => c.name === "expect.composeHash")).toMatchObject({ ok: true });

    const swapped = encodeDstackAttestationV1({ ...a, stack: a.stack!, snp: { ...a.snp!, mrConfig: JSON.stringify({ ...doc, compose_hash: "00".repeat(32) }) } });
    const bad = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(pulled.info.caPubkey), k256_pubkey: bytesToPlainHex(pulled.info.k256Pubkey), attestation: bytesToPlainHex(swapped) });
    const v = await verifyBootstrap(bad, { now, ...trust });
    expect(v.ok).toBe(false);
    expect(v.failed).toEqual(["platform.snp.host-data"]);
  });
});
