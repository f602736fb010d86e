/**
 * The matrix, GCP TDX and the platforms whose verification is not supported: a simulated GCP TDX KMS (V0, V1)
 * through pull → verify → publish (recorded as TDX) → audit --reverify → check-dstack-kms (dstack derives a GCP
 * KMS's mr_aggregated from its TPM quote, which is only reported: a failed check that says so); then an AWS Nitro
 * TPM attestation and a V1 attestation of an unknown platform kind (V0 and V1 where the format has them) through
 * pull, verify, publish and check-dstack-kms: decoded and named, exit 1 with PLATFORM_NOT_SUPPORTED, never a
 * parse error. All through the `kms-registry` executable.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { encodeDstackAttestationV1, encodeVersionedAttestationV0 } from "../../src/dstack/attestation.js";
import { createNitroWorld, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import type { SimKmsProcess } from "./helpers.js";
import { checkRecord, hx, measuredOf, runCell, simRecord, useMatrix, NEAR_CA, NEAR_K256, type Matrix } from "./matrix-helpers.js";

let m: Matrix;
let dir: string;
const started: SimKmsProcess[] = [];
useMatrix("kms-matrix-gcp-", started, (mm, d) => {
  m = mm;
  dir = d;
});

const tdxTrust = (k: SimKmsProcess) => ["--collateral", k.collateralFile, "--root-ca", k.rootCaFile];

describe("the GCP TDX cells: simulate-kms --platform gcp-tdx → pull → verify → publish (as TDX) → audit --reverify → check-dstack-kms", () => {
  for (const [name, format, shape] of [
    ["gcp-tdx V0", "attestation", /attestation {2}v0-scale.*platform gcp-tdx/],
    ["gcp-tdx V1", "attestation-v1", /attestation {2}v1-msgpack \(version 1\), platform gcp-tdx/],
  ] as const) {
    it(name, async () => {
      const cell = await runCell(m, ["--platform", "gcp-tdx", "--format", format], { platform: "gcp-tdx", onChainPlatform: "tdx", format: shape, trust: tdxTrust, pinned: (k) => ["--collateral", k.collateralFile], pinnedFails: /quote\.verified/ });
      started.push(cell.kms);
      const rec = simRecord(cell.kms);
      const want = measuredOf(rec);
      const { r, j } = await checkRecord(m, rec, { mr: want.mr, os: want.os, device: want.device }, tdxTrust(cell.kms));
      expect(j).toMatchObject({ platform: "gcp-tdx", genuine: false, verdict: "FAIL" });
      expect(r.code, r.stdout).toBe(1);
      // the evidence verified; only the contract's mr_aggregated cannot be evaluated (and so isKmsAllowed is not asked)
      expect(j.failed).toEqual(["onchain.kmsAllowedAggregatedMrs", "onchain.isKmsAllowed"]);
      expect(j.checks.find((x) => x.name === "onchain.kmsAllowedAggregatedMrs")!.detail).toMatch(/^not measured: gcp-tdx mr_aggregated: dstack derives it from the TPM quote \(sha256\(PCR0 ‖ PCR2 ‖ the runtime PCR\)\), which is only reported here, not verified/);
      expect(j.isKmsAllowed).toBeNull();
      expect(j.checks.find((x) => x.name === "onchain.isKmsAllowed")!.detail).toMatch(/^not asked: this KMS's boot info is incomplete \(kmsAllowedAggregatedMrs: gcp-tdx mr_aggregated/);
      expect(j.allowLists.slice(1).map((a) => [a.list, a.value, a.allowed])).toEqual([
        ["allowedOsImages", want.os, true],
        ["kmsAllowedDeviceIds", want.device, true],
      ]);
    }, 60_000);
  }
});

describe("AWS Nitro TPM and an unknown platform kind: decoded, named, exit 1 PLATFORM_NOT_SUPPORTED", () => {
  const now = Math.floor(Date.now() / 1000);
  const tpmDoc = makeNitroDocument(createNitroWorld({ now }), { timestamp: now * 1000, tpm: true, userData: new Uint8Array(64) });
  const stack = { reportData: new Uint8Array(64).fill(9), runtimeEvents: [], config: "{}" };
  const cases: [string, string, Uint8Array][] = [
    ["aws-nitro-tpm V0", "aws-nitro-tpm", encodeVersionedAttestationV0({ platform: "aws-nitro-tpm", evidence: tpmDoc, stack })],
    ["aws-nitro-tpm V1", "aws-nitro-tpm", encodeDstackAttestationV1({ platform: "aws-nitro-tpm", evidence: tpmDoc, stack })],
    ["an unknown V1 kind", "tdx-next", encodeDstackAttestationV1({ platform: "tdx-next", evidence: tpmDoc, stack })],
  ];
  for (const [name, platform, att] of cases) {
    it(`${name}: pull names it, verify / publish exit 1 PLATFORM_NOT_SUPPORTED, check-dstack-kms fails platform.supported naming it`, async () => {
      const f = path.join(dir, `${name.replace(/\W+/g, "-")}.json`);
      writeFileSync(f, JSON.stringify({ k256_pubkey: NEAR_K256.slice(2), ca_pubkey: NEAR_CA.slice(2), attestation: Buffer.from(att).toString("hex") }));
      const [pull, verify, publish] = await Promise.all([
        m.cli(["pull", "--file", f, "--out", `${f}.pulled`]),
        m.cli(["verify", "--file", f, "--json"]),
        m.cli(["publish", "--registry", m.registry, "--rpc", m.node.url, "--file", f, "--json"]),
      ]);
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout).toMatch(new RegExp(`platform ${platform}`));
      expect(pull.stdout).toMatch(new RegExp(`quote {8}none \\(${platform} evidence: \\d+ bytes\\)`));

      expect(verify.code).toBe(1);
      const vj = JSON.parse(verify.stdout) as { platform: string; failed: string[]; checks: { name: string; detail: string }[] };
      expect(vj.platform).toBe(platform);
      expect(vj.failed).toEqual(["platform.supported"]);
      expect(vj.checks.find((c) => c.name === "platform.supported")!.detail).toBe(`PLATFORM_NOT_SUPPORTED: the attestation is a ${platform} attestation; verifying ${platform} is not supported yet`);

      expect(publish.code).toBe(1);
      expect(JSON.parse(publish.stdout)).toMatchObject({ error: { code: "PLATFORM_NOT_SUPPORTED", message: expect.stringContaining(`is a ${platform} attestation: publishing a ${platform} KMS on chain is not supported yet`) } });

      const { r, j } = await checkRecord(m, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(att), eventlog: "0x" }, {}, []);
      expect(r.code).toBe(1);
      expect(j).toMatchObject({ platform, verdict: "FAIL", record: { quoteKind: "dstack-attestation" } });
      expect(j.failed).toEqual(["platform.supported", "onchain.kmsAllowedAggregatedMrs", "onchain.allowedOsImages", "onchain.kmsAllowedDeviceIds", "onchain.isKmsAllowed"]);
      expect(j.isKmsAllowed).toBeNull();
      expect(j.checks.find((c) => c.name === "onchain.kmsAllowedAggregatedMrs")!.detail).toBe(`not measured: mr_aggregated of a ${platform} KMS: PLATFORM_NOT_SUPPORTED (its evidence is not verified)`);
      expect(r.stdout + r.stderr).not.toMatch(/ATTESTATION_MALFORMED|QUOTE_|parse error/i);
    }, 60_000);
  }
});
