/**
 * An AWS Nitro Enclave KMS end to end over real processes: `simulate-kms --platform nitro-enclave` and
 * `hardhat node` as child processes, every step through the `kms-registry` executable: verify and pull say NOT
 * GENUINE under the simulator's test root and refuse it under AWS's pinned root, deploy, publish (the NSM
 * document verified off chain, then `registerNitro`), and `audit --reverify`, which re-verifies the
 * registration from the document its `KmsRegistered` carries and reports it NOT GENUINE with its platform.
 */
import path from "node:path";

import { createPublicClient, http } from "viem";
import { hardhat } from "viem/chains";
import { describe, expect, it } from "vitest";

import { readKms, readPlatform } from "../../src/registry/client.js";
import type { DevNode } from "../../src/testing/devnode.js";
import type { SimKmsProcess } from "./helpers.js";
import { usePlatformFlow } from "./platform-flow.js";

let kms: SimKmsProcess;
let node: DevNode;
let registry: `0x${string}`;
let root: string;
const { cli, target } = usePlatformFlow(["--platform", "nitro-enclave", "--format", "attestation-v1"], (f) => {
  ({ kms, node, registry } = f);
  root = path.join(kms.dir, "certs.sim", "nitro-root.pem");
});

describe("an AWS Nitro Enclave KMS: simulate-kms --platform nitro-enclave → verify / pull → publish → audit --reverify", () => {
  it("verify says NOT GENUINE under the test root and fails under AWS's pinned root; pull saves the attestation, which verifies the same", async () => {
    const v = await cli(["verify", "--kms", kms.url, "--root-ca", root, "--json"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const j = JSON.parse(v.stdout) as { genuine: boolean; platform: string; checks: { name: string; ok: boolean }[] };
    expect(j).toMatchObject({ genuine: false, platform: "nitro-enclave" });
    expect(j.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["platform.cose.signature", "platform.chain.root", "binding.report-data"]));
    const pinned = await cli(["verify", "--kms", kms.url, "--json"]);
    expect(pinned.code).toBe(1);
    expect(pinned.stdout).toMatch(/NITRO_ROOT_NOT_PINNED|not AWS's Nitro Enclaves Root-G1/);
    const saved = path.join(kms.dir, "pulled.json");
    const p = await cli(["pull", "--kms", kms.url, "--out", saved]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/attestation {2}v1-msgpack \(version 1\), platform nitro-enclave/);
    expect(p.stdout).toMatch(/quote {8}none \(nitro-enclave evidence: \d+ bytes\)/);
    // the pulled document verifies as the live KMS did: NOT GENUINE under the test root
    const vf = await cli(["verify", "--file", saved, "--root-ca", root, "--json"]);
    expect(vf.code, vf.stdout + vf.stderr).toBe(0);
    expect(JSON.parse(vf.stdout)).toMatchObject({ genuine: false, platform: "nitro-enclave" });
  }, 180_000);

  it("publish refuses the document under AWS's pinned root, and under the test root without --allow-simulated-root; --on-chain is a usage error", async () => {
    const pinned = await cli(["publish", ...target(), "--kms", kms.url]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/refusing to publish: platform\.chain\.root: .*not AWS's Nitro Enclaves Root-G1/);
    const noFlag = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", root]);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toMatch(/Nitro document verifies only under a test root \(NOT GENUINE\); pass --allow-simulated-root/);
    const onChain = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", root, "--allow-simulated-root", "--on-chain"]);
    expect(onChain.code).toBe(2);
    expect(onChain.stderr).toMatch(/registerVerified, which verifies TDX quotes only; an AWS Nitro Enclave KMS is published through registerNitro/);
  }, 180_000);

  it("publish --root-ca <test root> --allow-simulated-root registers it through registerNitro: NOT GENUINE, platformOf = nitro-enclave, the image is os_image_hash; a re-run sends nothing", async () => {
    const r = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", root, "--allow-simulated-root", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE — this Nitro attestation document verifies only under a test root/);
    expect(r.stderr).toMatch(/\[publish\] estimate: registerNitro\(\) for 0x[0-9a-fA-F]{40} \(new registration\)/);
    const j = JSON.parse(r.stdout) as { status: string; kms: `0x${string}`; quoteHash: string; genuine: boolean; platform: string; onChainPlatform: string; verification: { checks: { name: string; ok: boolean }[] } };
    expect(j).toMatchObject({ status: "registered", genuine: false, platform: "nitro-enclave", onChainPlatform: "nitro-enclave" });
    expect(j.verification.checks.every((c) => c.ok)).toBe(true);
    expect(j.verification.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["platform.enclave.debug", "attestation.os-image-hash", "binding.report-data", "publish.genuine"]));

    const client = createPublicClient({ chain: { ...hardhat, id: 31337 }, transport: http(node.url) });
    expect(await readPlatform(client, registry, j.kms)).toBe("nitro-enclave");
    const info = await readKms(client, registry, j.kms);
    expect(info).toMatchObject({ active: true, path: "registrar", quoteHash: j.quoteHash });
    // the record's image is dstack's os_image_hash: SHA-256(PCR0 ‖ PCR1 ‖ PCR2) of the simulator's enclave
    const { createHash } = await import("node:crypto");
    const pcrs = Buffer.concat([0x11, 0x22, 0x33].map((b) => Buffer.alloc(48, b)));
    expect(info.imageMeasurement).toBe(`0x${createHash("sha256").update(pcrs).digest("hex")}`);

    const again = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", root, "--allow-simulated-root", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: "already-registered", kms: j.kms });
  }, 180_000);

  it("audit --reverify --root-ca <test root> re-verifies the registration from its document alone: nitro-enclave, NOT GENUINE, no anomaly", async () => {
    const r = await cli(["audit", ...target(), "--reverify", "--root-ca", root, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { kms: { platform: string; attestations: { platform: string }[]; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: unknown[] };
    expect(j.anomalies).toEqual([]);
    expect(j.kms).toHaveLength(1);
    const k = j.kms[0]!;
    expect(k.platform).toBe("nitro-enclave");
    expect(k.attestations[0]!.platform).toBe("nitro-enclave");
    const byName = Object.fromEntries(k.checks.map((c) => [c.name, c]));
    expect(byName["quote-parse"]).toMatchObject({ ok: true, detail: expect.stringMatching(/^Nitro attestation document decodes \(\d+ bytes; report_data is its user_data\)$/) });
    expect(byName.binding).toMatchObject({ ok: true });
    expect(byName.reverify).toMatchObject({ ok: true });
    expect(byName.reverify!.detail).toMatch(/^verified: AWS Nitro Enclave document of module i-[0-9a-f]+-enc[0-9a-f]+ stamped \S+, ES384 signature verified \(NOT GENUINE: a test root, not AWS's\); os_image_hash [0-9a-f]{64} \(from the document registered on chain/);
  }, 180_000);

  it("audit --reverify under AWS's pinned root: the document chains to the test root, so it is not verifiable (exit 1)", async () => {
    const r = await cli(["audit", ...target(), "--reverify", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { anomalies: { kind: string; detail: string }[] };
    expect(j.anomalies).toHaveLength(1);
    expect(j.anomalies[0]!.kind).toBe("quote-not-verifiable");
    expect(j.anomalies[0]!.detail).toMatch(/NITRO_ROOT_NOT_PINNED: /);
    const plain = await cli(["audit", ...target(), "--json"]);
    expect(plain.code, plain.stdout).toBe(0);
  }, 180_000);
});
