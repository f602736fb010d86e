/**
 * The simulated KMS on every format and platform it can emit, pulled and verified end to end over real HTTP:
 * V1 msgpack attestations, event-log v2 runtime events, SEV-SNP (a test SNP world binding the keys like TDX),
 * dstack's device_id in GetAttestationInfo, and the os-image-hash event vs vm_config discrepancy finding.
 * Also the real dstack SEV-SNP attestation (VCEK and ASK in its cert_chain) through `verifyBootstrap`.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";
import { afterAll, describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex, hexToBytes } from "../../src/core/bytes.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { decodeDstackAttestation, encodeDstackAttestationV1, encodeVersionedAttestationV0 } from "../../src/dstack/attestation.js";
import { amdCrlsFromFile } from "../../src/dstack/platforms/sev-snp-verify.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { generateK256, generateP256 } from "../../src/testing/pki.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { publicKeyFromPrivate } from "../../src/dstack/signatures.js";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-sim-platforms-"));
const running: SimulatedKms[] = [];
afterAll(async () => {
  for (const k of running) await k.close();
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
async function start(opts: Partial<Parameters<typeof startSimulatedKms>[0]> = {}): Promise<SimulatedKms> {
  const kms = await startSimulatedKms({ certsDir: join(tmp, `c${n++}`), port: 0, autoBootstrapDomain: "kms.platforms.example", ...opts });
  running.push(kms);
  return kms;
}
const NOW = () => Math.floor(Date.now() / 1000);
const tdxTrust = (kms: SimulatedKms) => ({
  collateral: parseCollateralJson(readFileSync(kms.simCollateralPath, "utf8")),
  rootCaDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simRootCaPath)), "sim root"),
});
const snpTrust = (kms: SimulatedKms) => ({
  snpTestArkDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simArkPath)), "test ARK"),
  amdCrlDers: amdCrlsFromFile(new Uint8Array(readFileSync(kms.simAmdCrlPath)), "test CRL"),
});

describe("simulated TDX KMS: V1 attestations and event-log v2", () => {
  for (const [format, eventLogVersion] of [["attestation-v1", 1], ["attestation-v1", 2], ["attestation", 1], ["legacy", 2]] as const) {
    it(`--format ${format} --event-log v${eventLogVersion}: pulled over HTTP and VERIFIED (NOT GENUINE), RTMR3 replays, the vm_config's os image is the measured one`, async () => {
      const kms = await start({ format, eventLogVersion });
      const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
      const att = pulled.info.decodedAttestation;
      if (format === "legacy") expect(att).toBeNull();
      else expect(att).toMatchObject({ format: format === "attestation-v1" ? "v1-msgpack" : "v0-scale", platform: "tdx" });
      expect(pulled.info.eventLog!.filter((e) => e.imr === 3).every((e) => e.version === eventLogVersion)).toBe(true);
      const r = await verifyBootstrap(pulled.info, { ...tdxTrust(kms), now: NOW() });
      expect(r.failed).toEqual([]);
      expect(r).toMatchObject({ ok: true, genuine: false, platform: "tdx" });
      if (format !== "legacy") expect(r.checks.find((c) => c.name === "attestation.os-image-hash")).toMatchObject({ ok: true });
      expect(r.checks.find((c) => c.name === "eventlog.rtmr3")).toMatchObject({ ok: true });
    });
  }

  it("event-log v2 in a V0 attestation is refused (dstack emits V1 then)", async () => {
    await expect(start({ format: "attestation", eventLogVersion: 2 })).rejects.toThrow(/event-log v2 is carried by V1 attestations/);
  });

  it("GetAttestationInfo: device_id = SHA-256(PPID of the bootstrap quote's PCK certificate), as dstack computes it; --expect deviceId passes", async () => {
    const kms = await start({ format: "attestation-v1" });
    const info = (await (await fetch(`${kms.url}/prpc/KMS.GetAttestationInfo?json`, { method: "POST", body: "{}" })).json()) as Record<string, string>;
    expect(info.tee_variant).toBe("dstack-tdx");
    expect(info.device_id).toBe(bytesToPlainHex(sha256(hexToBytes(info.ppid!))));
    const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
    const r = await verifyBootstrap(pulled.info, { ...tdxTrust(kms), now: NOW(), policy: { deviceId: [`0x${info.device_id}`], mrAggregated: [`0x${info.mr_aggregated}`], osImageHash: [`0x${info.os_image_hash}`] } });
    expect(r.quote!.pck!.ppid).toBe(`0x${info.ppid}`);
    expect(r.failed).toEqual([]);
    expect(r.checks.filter((c) => c.name.startsWith("expect.")).map((c) => [c.name, c.ok])).toEqual(expect.arrayContaining([["expect.osImageHash", true], ["expect.mrAggregated", true], ["expect.deviceId", true]]));
  });

  it("an attestation whose vm_config names another OS image than the os-image-hash event: the finding attestation.os-image-hash", async () => {
    const kms = await start({ format: "attestation-v1" });
    const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
    const a = pulled.info.decodedAttestation!;
    const other = encodeDstackAttestationV1({ ...a, stack: { ...a.stack!, config: JSON.stringify({ os_image_hash: "ab".repeat(32) }) } });
    const info = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(pulled.info.caPubkey), k256_pubkey: bytesToPlainHex(pulled.info.k256Pubkey), attestation: bytesToPlainHex(other) });
    const r = await verifyBootstrap(info, { ...tdxTrust(kms), now: NOW() });
    expect(r.failed).toEqual(["attestation.os-image-hash"]);
    expect(r.checks.find((c) => c.name === "attestation.os-image-hash")!.detail).toMatch(/^OS image discrepancy: the os-image-hash runtime event \(RTMR3\) 0x[0-9a-f]{64} is not the vm_config's os_image_hash 0x(ab){32}/);
  });
});

describe("simulated SEV-SNP KMS", () => {
  for (const format of ["attestation", "attestation-v1"] as const) {
    it(`--platform sev-snp --format ${format}: pulled and VERIFIED under the test ARK with its CRL; report_data binds the keys`, async () => {
      const kms = await start({ platform: "sev-snp", format });
      const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
      expect(pulled.info.problems).toEqual([]);
      expect(pulled.info.decodedAttestation).toMatchObject({ platform: "sev-snp", format: format === "attestation" ? "v0-scale" : "v1-msgpack" });
      const r = await verifyBootstrap(pulled.info, { now: NOW(), ...snpTrust(kms) });
      expect(r.failed).toEqual([]);
      expect(r).toMatchObject({ ok: true, platform: "sev-snp", genuine: false, binding: { ok: true } });
      expect(r.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["platform.report.signature", "platform.chain.crl", "platform.snp.policy.debug", "attestation.report-data", "binding.report-data"]));
      // under AMD's pinned ARK the carried test ARK is refused
      const pinned = await verifyBootstrap(pulled.info, { now: NOW() });
      expect(pinned.failed).toContain("platform.chain.ark");
    });
  }

  it("GetAttestationInfo of an SNP KMS: device_id = SHA-256(chip_id), the verified report's chip; --expect deviceId passes", async () => {
    const kms = await start({ platform: "sev-snp", format: "attestation-v1" });
    const info = (await (await fetch(`${kms.url}/prpc/Onboard.GetAttestationInfo?json`, { method: "POST", body: "{}" })).json()) as Record<string, string>;
    expect(info.tee_variant).toBe("dstack-amd-sev-snp");
    const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
    const r = await verifyBootstrap(pulled.info, { now: NOW(), ...snpTrust(kms), policy: { deviceId: [`0x${info.device_id}`] } });
    expect(r.measurements!.chipId).toBe(`0x${info.ppid}`);
    expect(r.failed).toEqual([]);
    expect(r.checks.find((c) => c.name === "expect.deviceId")).toMatchObject({ ok: true });
  });

  it("kms-registry simulate-kms --platform sev-snp + pull + verify through the CLI: exit 0 with --root-ca/--amd-crl, exit 1 without", async () => {
    const kms = await start({ platform: "sev-snp", format: "attestation-v1" });
    const out = join(tmp, "pulled-snp.json");
    const pull = await runCli(["pull", "--kms", kms.url, "--out", out, "--json"]);
    expect(pull.code).toBe(0);
    const ok = await runCli(["verify", "--file", out, "--root-ca", kms.simArkPath, "--amd-crl", kms.simAmdCrlPath, "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, platform: "sev-snp", genuine: false });
    const bad = await runCli(["verify", "--file", out, "--json"]);
    expect(bad.code).toBe(1);
    const human = await runCli(["simulate-kms", "--port", "0", "--certs-dir", join(tmp, "cli-legacy-snp"), "--platform", "sev-snp"]);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/an SEV-SNP KMS publishes an attestation: use --format attestation or attestation-v1/);
  });
});

describe("simulated AWS Nitro Enclave and GCP TDX KMSs", () => {
  for (const format of ["attestation", "attestation-v1"] as const) {
    it(`--platform nitro-enclave --format ${format}: an NSM document binding the keys, VERIFIED under the test root (NOT GENUINE), refused under AWS's root`, async () => {
      const kms = await start({ platform: "nitro-enclave", format });
      expect(kms.platform).toBe("nitro-enclave");
      const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
      expect(pulled.info.decodedAttestation).toMatchObject({ platform: "nitro-enclave", format: format === "attestation" ? "v0-scale" : "v1-msgpack" });
      const nitroRootDer = certificateDerFromFile(new Uint8Array(readFileSync(kms.simNitroRootPath)), "test Nitro root");
      const r = await verifyBootstrap(pulled.info, { now: NOW(), nitroRootDer });
      expect(r.failed).toEqual([]);
      expect(r).toMatchObject({ ok: true, platform: "nitro-enclave", genuine: false, binding: { ok: true } });
      expect(r.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["platform.cose.signature", "platform.chain.path", "platform.enclave.debug", "attestation.os-image-hash", "binding.report-data"]));
      const pinned = await verifyBootstrap(pulled.info, { now: NOW() });
      expect(pinned.failed).toContain("platform.chain.root");
    });

    it(`--platform gcp-tdx --format ${format}: the forged TDX quote VERIFIED (NOT GENUINE), the simulator's TPM quote stand-in reported, not verified`, async () => {
      const kms = await start({ platform: "gcp-tdx", format });
      const pulled = await pullBootstrap({ kms: kms.url }, { now: NOW() });
      const att = pulled.info.decodedAttestation!;
      expect(att).toMatchObject({ platform: "gcp-tdx" });
      expect(new TextDecoder().decode(att.tpmQuote!.message)).toMatch(/NOT a TPM quote/);
      const r = await verifyBootstrap(pulled.info, { ...tdxTrust(kms), now: NOW() });
      expect(r.failed).toEqual([]);
      expect(r).toMatchObject({ ok: true, genuine: false, platform: "gcp-tdx", platformReport: { tpmQuote: { present: true, verified: false, pcrs: [0, 1, 2] } } });
      expect(r.warnings.join("\n")).toMatch(/it was NOT verified \(only the TDX quote is\)/);
    });
  }

  it("simulate-kms --platform nitro-enclave or gcp-tdx needs an attestation format; an unknown platform is a usage error", async () => {
    for (const [platform, name] of [["nitro-enclave", "an AWS Nitro Enclave"], ["gcp-tdx", "a GCP TDX"]] as const) {
      const r = await runCli(["simulate-kms", "--port", "0", "--certs-dir", join(tmp, `cli-legacy-${platform}`), "--platform", platform]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${name} KMS publishes an attestation: use --format attestation or attestation-v1`);
    }
    const bad = await runCli(["simulate-kms", "--port", "0", "--certs-dir", join(tmp, "cli-bad-platform"), "--platform", "aws-nitro-tpm", "--format", "attestation"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--platform must be tdx, sev-snp, nitro-enclave, gcp-tdx/);
  });
});

describe("the real dstack SEV-SNP attestation in a bootstrap info", () => {
  it("its VCEK and ASK in the cert_chain verify the report (AMD's pinned ARK, genuine); its report_data binds no KMS keys", async () => {
    const j = JSON.parse(readFileSync(new URL("../fixtures/sev-snp/dstack-verifier-sev-snp-attestation.json", import.meta.url), "utf8")) as { attestation: string };
    const k256 = publicKeyFromPrivate(generateK256());
    const info = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex((await generateP256()).spki), k256_pubkey: bytesToPlainHex(k256), attestation: j.attestation.replace(/^0x/, "") });
    expect(info.problems).toEqual([]);
    const at = Math.floor(Date.UTC(2027, 0, 1) / 1000);
    const r = await verifyBootstrap(info, { now: at });
    expect(r.genuine).toBe(true);
    expect(r.checks.find((c) => c.name === "platform.verified")).toMatchObject({ ok: true });
    expect(r.failed).toEqual(["binding.report-data"]);
    expect(r.warnings).toContain("sev-snp: revocation was not checked (no CRL: --amd-crl FILE or --kds)");
    // its V0 SCALE re-encodes byte for byte
    const a = decodeDstackAttestation(hexToBytes(j.attestation));
    expect(bytesToHex(encodeVersionedAttestationV0({ ...a, stack: a.stack! }))).toBe(bytesToHex(hexToBytes(j.attestation)));
  });

  it("the real V0 SEV-SNP attestation without a cert_chain: platform.vcek names SNP_VCEK_REQUIRED (and --kds), no parse error", async () => {
    const att = readFileSync(new URL("../fixtures/sev-snp/dstack-sev-snp-attestation-v0.bin", import.meta.url));
    const info = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex((await generateP256()).spki), k256_pubkey: bytesToPlainHex(publicKeyFromPrivate(generateK256())), attestation: att.toString("hex") });
    const r = await verifyBootstrap(info, { now: Math.floor(Date.UTC(2027, 0, 1) / 1000) });
    expect(r.platform).toBe("sev-snp");
    expect(r.failed).toEqual(["platform.vcek"]);
    expect(r.checks[0]!.detail).toMatch(/^SNP_VCEK_REQUIRED: .*--kds/);
  });
});
