/**
 * `publish` of an AMD SEV-SNP KMS whose attestation carries no VCEK (dstack's V0/V1 attestations may come with
 * an empty cert_chain): `--kds-url` fetches the VCEK of the report's chip at its reported TCB, the product's
 * ASK/ARK and AMD's CRL from a real local KDS server (a test AMD world in KDS's layout), cached on disk; the
 * gate verifies exactly the fetched certificates, `registerSnp` publishes them (a real `hardhat node`), and
 * `audit --reverify` re-verifies the registration from chain data alone. Without --kds it is refused
 * (SNP_VCEK_REQUIRED); with the KDS down afterwards the disk cache answers.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { toPem } from "../../src/dcap/x509.js";
import { decodeRegistryLogs } from "../../src/registry/client.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY } from "../../src/testing/devnode.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { makeSnpKdsWorld, startKds } from "./snp-kds-world.js";
import type { Pccs } from "../helpers/pccs-server.js";
import { startChain, type TestChain } from "../registry/chain-helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-snp-kds-publish-"));
const snp = makeSnpKdsWorld(tmp);
const { world, vcek, bootstrapFile, arkFile } = snp;
const env = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_STATE_DIR: join(tmp, "state"), XDG_CACHE_HOME: join(tmp, "cache"), KMS_REGISTRY_DEBUG: "" };
let chain: TestChain;
let kds: Pccs;
const all: RunResult[] = [];
const cli = async (args: string[]) => {
  const r = await runCli(args, { env, timeoutMs: 120_000 });
  all.push(r);
  return r;
};

beforeAll(async () => {
  [chain, kds] = await Promise.all([startChain(), startKds(snp)]);
}, 60_000);

afterAll(async () => {
  if (kds?.server.listening) await new Promise<void>((r) => kds.server.close(() => r()));
  await chain?.node.stop();
  for (const r of all) expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
});

const target = () => ["--registry", chain.registry, "--rpc", chain.node.url, "--deployments", chain.tmp];
const publishArgs = () => ["publish", ...target(), "--file", bootstrapFile, "--root-ca", arkFile, "--allow-simulated-root"];

describe("publish an SEV-SNP KMS whose attestation lacks its VCEK: --kds", () => {
  it("without --kds: refused, SNP_VCEK_REQUIRED naming --kds; nothing sent", async () => {
    const r = await cli([...publishArgs(), "--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to publish: platform\.vcek: SNP_VCEK_REQUIRED: .*--kds/);
    expect(kds.total()).toBe(0);
  }, 120_000);

  it("--kds-url: the VCEK, cert_chain and CRL fetched from the KDS, verified, published by registerSnp; audit --reverify re-verifies it from chain data", async () => {
    const r = await cli([...publishArgs(), "--kds-url", kds.url, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { status: string; kms: string; platform: string; verification: { checks: { name: string; ok: boolean; detail: string }[] } };
    expect(j).toMatchObject({ status: "registered", platform: "sev-snp" });
    const byName = Object.fromEntries(j.verification.checks.map((c) => [c.name, c]));
    expect(byName["platform.kds"]).toMatchObject({ ok: true, detail: `fetched VCEK, cert_chain, CRL of Milan from ${kds.url}` });
    expect(byName["platform.chain.crl"]).toMatchObject({ ok: true });
    expect(byName["platform.snp.host-data"]).toMatchObject({ ok: true });
    expect(byName["binding.report-data"]).toMatchObject({ ok: true });
    expect(j.verification.checks.every((c) => c.ok)).toBe(true);
    expect(kds.total()).toBe(3);
    // the event publishes the fetched VCEK and the KDS's ASK/ARK chain
    const logs = await chain.conn.publicClient.getLogs({ address: chain.registry, fromBlock: 0n });
    const ev = decodeRegistryLogs(logs as never).find((e) => e.eventName === "KmsSnpEvidencePublished") as { args: { vcek: string; amdChain: string } } | undefined;
    expect(ev!.args.vcek.toLowerCase()).toBe(`0x${bytesToPlainHex(vcek.der)}`);
    expect(Buffer.from(ev!.args.amdChain.slice(2), "hex").toString()).toBe(toPem(world.askDer) + toPem(world.arkDer));
    const audit = await cli(["audit", ...target(), "--from-block", "0", "--reverify", "--root-ca", arkFile, "--json"]);
    expect(audit.code, audit.stdout).toBe(0);
    const a = JSON.parse(audit.stdout) as { kms: { platform: string; checks: { name: string; ok: boolean; detail: string }[] }[] };
    expect(a.kms[0]!.platform).toBe("sev-snp");
    expect(a.kms[0]!.checks.find((c) => c.name === "reverify")).toMatchObject({ ok: true, detail: expect.stringMatching(/^verified: SEV-SNP report \(Milan\) signed by its VCEK \(NOT GENUINE/) as unknown });
  }, 120_000);

  it("the KDS down afterwards: the disk cache answers (nothing asked), the KMS is already registered", async () => {
    await new Promise<void>((r) => kds.server.close(() => r()));
    const r = await cli([...publishArgs(), "--kds-url", kds.url, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "already-registered" });
    expect(kds.total()).toBe(3);
  }, 120_000);
});
