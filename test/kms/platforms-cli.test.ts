/**
 * The platforms besides TDX, SEV-SNP and Nitro Enclave through `verify-quote`, `verify` and `pull`: GCP TDX
 * (its TDX quote verified like any TDX quote, its TPM quote reported as present and not verified), AWS Nitro
 * TPM and unknown kinds (decoded, named, exit 1 with PLATFORM_NOT_SUPPORTED, never a parse error).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToPlainHex, hexToBytes } from "../../src/core/bytes.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { decodeDstackAttestation, encodeDstackAttestationV1, type DstackAttestation, type TpmQuote } from "../../src/dstack/attestation.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { createNitroWorld, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-platforms-cli-"));
let kms: SimulatedKms;
let resp: { ca_pubkey: string; k256_pubkey: string; attestation: string };
let tdx: DstackAttestation;
const write = (name: string, data: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
};
const tpmQuote: TpmQuote = { message: new Uint8Array(64).fill(1), signature: new Uint8Array(70).fill(2), pcrValues: [{ index: 14, value: new Uint8Array(32).fill(3) }], qualifyingData: new Uint8Array(32).fill(4), akCert: new Uint8Array(300).fill(5) };

beforeAll(async () => {
  kms = await startSimulatedKms({ certsDir: join(tmp, "certs"), port: 0, autoBootstrapDomain: "kms.gcp.example", format: "attestation-v1" });
  resp = JSON.parse(readFileSync(join(kms.simDir, "bootstrap-response.json"), "utf8")) as typeof resp;
  tdx = decodeDstackAttestation(hexToBytes(resp.attestation));
});
afterAll(async () => {
  await kms.close();
  rmSync(tmp, { recursive: true, force: true });
});

const gcp = () => encodeDstackAttestationV1({ ...tdx, platform: "gcp-tdx", tpmQuote, stack: tdx.stack! });

describe("GCP TDX", () => {
  it("verify: the TDX quote inside verifies like any TDX quote; the TPM quote is reported present, not verified", async () => {
    const info = parseBootstrapInfo({ ...resp, attestation: bytesToPlainHex(gcp()) });
    const r = await verifyBootstrap(info, {
      collateral: parseCollateralJson(readFileSync(kms.simCollateralPath, "utf8")),
      rootCaDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simRootCaPath)), "sim root"),
      now: Math.floor(Date.now() / 1000),
    });
    expect(r.failed).toEqual([]);
    expect(r).toMatchObject({ ok: true, platform: "gcp-tdx", platformReport: { tpmQuote: { present: true, verified: false, pcrs: [14] } } });
    expect(r.warnings).toContain("gcp-tdx: the attestation carries a TPM quote (PCRs 14); it was NOT verified (only the TDX quote is)");
  });

  it("verify-quote: exit 0 on the TDX quote, platform gcp-tdx, the TPM quote's presence in the output", async () => {
    const f = write("gcp.bin", gcp());
    const r = await runCli(["verify-quote", f, "--collateral", kms.simCollateralPath, "--root-ca", kms.simRootCaPath, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, platform: "gcp-tdx", attestation: { platform: "gcp-tdx", tpmQuote: { present: true, verified: false, pcrs: [14] } } });
    const human = await runCli(["verify-quote", f, "--collateral", kms.simCollateralPath, "--root-ca", kms.simRootCaPath]);
    expect(human.stdout).toMatch(/gcp-tdx: the attestation carries a TPM quote; it was not verified \(only the TDX quote is\)/);
  });
});

describe("AWS Nitro TPM and unknown platforms", () => {
  const now = Math.floor(Date.now() / 1000);
  const world = createNitroWorld({ now });
  const tpmDoc = makeNitroDocument(world, { timestamp: now * 1000, tpm: true, userData: tdx?.reportData ?? new Uint8Array(64) });
  const v1 = (platform: string, evidence: Uint8Array) => encodeDstackAttestationV1({ platform, evidence, stack: tdx.stack! });

  for (const [what, file] of [
    ["a raw AWS Nitro TPM document", () => write("tpm.cose", tpmDoc)],
    ["a V1 aws-nitro-tpm attestation", () => write("tpm-v1.bin", v1("aws-nitro-tpm", tpmDoc))],
  ] as const) {
    it(`verify-quote of ${what}: decoded, named aws-nitro-tpm, exit 1 PLATFORM_NOT_SUPPORTED`, async () => {
      const r = await runCli(["verify-quote", file(), "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout) as { platform: string; error: { code: string; message: string }; report: Record<string, unknown> };
      expect(j).toMatchObject({ platform: "aws-nitro-tpm", error: { code: "PLATFORM_NOT_SUPPORTED" }, report: { kind: "aws-nitro-tpm", moduleId: "i-0123456789abcdef0-enc0123456789abcdef" } });
      expect(j.error.message).toMatch(/is a aws-nitro-tpm attestation; verifying aws-nitro-tpm is not supported yet/);
    });
  }

  it("verify --file of an aws-nitro-tpm and an unknown-platform KMS: exit 1, platform.supported names the platform", async () => {
    for (const platform of ["aws-nitro-tpm", "tdx-next"]) {
      const f = write(`${platform}.json`, JSON.stringify({ ...resp, attestation: bytesToPlainHex(v1(platform, tpmDoc)) }));
      const r = await runCli(["verify", "--file", f, "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout) as { platform: string; failed: string[]; checks: { name: string; detail: string }[] };
      expect(j.platform).toBe(platform);
      expect(j.failed).toEqual(["platform.supported"]);
      expect(j.checks[0]!.detail).toMatch(new RegExp(`^PLATFORM_NOT_SUPPORTED: the attestation is a ${platform} attestation`));
      const pull = await runCli(["pull", "--file", f, "--out", join(tmp, `${platform}-pulled.json`)]);
      expect(pull.code).toBe(0);
      expect(pull.stdout).toMatch(new RegExp(`attestation  v1-msgpack \\(version 1\\), platform ${platform}`));
      expect(pull.stdout).toMatch(new RegExp(`quote        none \\(${platform} evidence: \\d+ bytes\\)`));
    }
  });

  it("publish of an aws-nitro-tpm KMS: exit 1, PLATFORM_NOT_SUPPORTED naming the platform, before any chain access", async () => {
    const f = write("nitro-tpm-publish.json", JSON.stringify({ ...resp, attestation: bytesToPlainHex(v1("aws-nitro-tpm", tpmDoc)) }));
    const coll = new URL("../fixtures/dcap/tdx_quote_collateral.json", import.meta.url).pathname;
    const r = await runCli(["publish", "--registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "--rpc", "http://127.0.0.1:1", "--file", f, "--collateral", coll], { env: { KMS_REGISTRY_PRIVATE_KEY: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kms-registry: publish: the KMS's attestation is a aws-nitro-tpm attestation: publishing a aws-nitro-tpm KMS on chain is not supported yet/);
  });
});
