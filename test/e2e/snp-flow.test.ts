/**
 * An AMD SEV-SNP KMS end to end over real processes: `simulate-kms --platform sev-snp` and `hardhat node` as
 * child processes, every step through the `kms-registry` executable: deploy, publish (the report verified off
 * chain under the simulator's test ARK, then `registerSnp`), and `audit --reverify`, which re-verifies the
 * registration from chain data alone (the report of `KmsRegistered`, the VCEK and AMD chain of
 * `KmsSnpEvidencePublished`, AMD's revocation with the CRL of `KmsSnpCrlPublished`) and reports it NOT GENUINE
 * (a test ARK) with its platform.
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
let ark: string;
let crl: string;
const { cli, target } = usePlatformFlow(["--platform", "sev-snp", "--format", "attestation-v1"], (f) => {
  ({ kms, node, registry } = f);
  ark = path.join(kms.dir, "certs.sim", "amd-ark.pem");
  crl = path.join(kms.dir, "certs.sim", "amd-crl.der");
});

describe("an SEV-SNP KMS: simulate-kms --platform sev-snp → publish → audit --reverify", () => {
  it("publish refuses the simulated report under AMD's pinned ARK, and under the test ARK without --allow-simulated-root; --on-chain is a usage error", async () => {
    const pinned = await cli(["publish", ...target(), "--kms", kms.url]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/refusing to publish: platform\.chain\.ark: .*not the pinned ARK-Milan/);
    const noFlag = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", ark]);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toMatch(/SEV-SNP report verifies only under a test ARK \(NOT GENUINE\); pass --allow-simulated-root/);
    const onChain = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", ark, "--allow-simulated-root", "--on-chain"]);
    expect(onChain.code).toBe(2);
    expect(onChain.stderr).toMatch(/registerVerified, which verifies TDX quotes only/);
  }, 180_000);

  it("publish --root-ca <test ARK> --amd-crl --allow-simulated-root registers it through registerSnp: NOT GENUINE, platformOf = sev-snp; a re-run sends nothing", async () => {
    const r = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", ark, "--amd-crl", crl, "--allow-simulated-root", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: NOT GENUINE — this SEV-SNP report verifies only under a test ARK/);
    expect(r.stderr).toMatch(/\[publish\] estimate: registerSnp\(\) for 0x[0-9a-fA-F]{40} \(new registration\)/);
    const j = JSON.parse(r.stdout) as { status: string; kms: `0x${string}`; quoteHash: string; genuine: boolean; platform: string; verification: { checks: { name: string; ok: boolean; detail: string }[] } };
    expect(j).toMatchObject({ status: "registered", genuine: false, platform: "sev-snp" });
    const names = j.verification.checks.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["platform.report.signature", "platform.chain.crl", "binding.report-data", "publish.genuine"]));
    expect(j.verification.checks.every((c) => c.ok)).toBe(true);

    const client = createPublicClient({ chain: { ...hardhat, id: 31337 }, transport: http(node.url) });
    expect(await readPlatform(client, registry, j.kms)).toBe("sev-snp");
    const info = await readKms(client, registry, j.kms);
    expect(info).toMatchObject({ active: true, path: "registrar", quoteHash: j.quoteHash });

    const again = await cli(["publish", ...target(), "--kms", kms.url, "--root-ca", ark, "--allow-simulated-root", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: "already-registered", kms: j.kms });
  }, 180_000);

  it("audit --reverify --root-ca <test ARK> re-verifies the registration from chain data alone: sev-snp, NOT GENUINE, no anomaly", async () => {
    const r = await cli(["audit", ...target(), "--reverify", "--root-ca", ark, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { kms: { platform: string; attestations: { platform: string; snpEvidence?: { vcek: string; amdChain: string; crl?: string } }[]; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: unknown[] };
    expect(j.anomalies).toEqual([]);
    expect(j.kms).toHaveLength(1);
    const k = j.kms[0]!;
    expect(k.platform).toBe("sev-snp");
    expect(k.attestations[0]!.platform).toBe("sev-snp");
    expect(k.attestations[0]!.snpEvidence!.vcek).toMatch(/^0x30/);
    expect(Buffer.from(k.attestations[0]!.snpEvidence!.amdChain.slice(2), "hex").toString()).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN CERTIFICATE-----/);
    const byName = Object.fromEntries(k.checks.map((c) => [c.name, c]));
    expect(byName["quote-parse"]).toMatchObject({ ok: true, detail: expect.stringMatching(/^SEV-SNP report parses \(1184 bytes/) });
    expect(byName.binding).toMatchObject({ ok: true });
    expect(byName.reverify).toMatchObject({ ok: true });
    expect(byName.reverify!.detail).toMatch(/^verified: SEV-SNP report \(Milan\) signed by its VCEK \(NOT GENUINE: test ARK, not AMD's\); AMD revocation re-checked with the CRL published on chain \(ARK-Milan, next update [^)]+\): not revoked \(with the VCEK and AMD chain published on chain, at the registration's block time \d+\)$/);
    expect(k.attestations[0]!.snpEvidence!.crl).toMatch(/^0x30/);

    const human = await cli(["audit", ...target(), "--reverify", "--root-ca", ark]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/platform/);
    expect(human.stdout).toMatch(/sev-snp/);
  }, 180_000);

  it("audit --reverify under AMD's pinned ARK: the published chain ends at the test ARK, so the registration is not verifiable (exit 1)", async () => {
    const r = await cli(["audit", ...target(), "--reverify", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { anomalies: { kind: string; detail: string }[] };
    expect(j.anomalies).toHaveLength(1);
    expect(j.anomalies[0]!.kind).toBe("quote-not-verifiable");
    expect(j.anomalies[0]!.detail).toMatch(/SNP_ARK_NOT_PINNED: .*not the pinned ARK-Milan/);
    // without --reverify the event-only checks pass
    const plain = await cli(["audit", ...target(), "--json"]);
    expect(plain.code, plain.stdout).toBe(0);
  }, 180_000);
});
