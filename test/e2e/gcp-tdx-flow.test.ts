/**
 * A GCP TDX KMS end to end over real processes: `simulate-kms --platform gcp-tdx` (the forged TDX quote and a TPM
 * quote stand-in of the simulator's making, in a V1 attestation) and a real `hardhat node` with a DcapVerifier
 * under the simulator's root and a KmsRegistry using it. `publish` registers the TDX quote through `register`
 * (and `--on-chain` through `registerVerified`), recorded as TDX, saying that the TPM quote is only reported;
 * `audit --reverify` re-verifies the TDX quote.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { readKms, readPlatform } from "../../src/registry/client.js";
import { connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { deployVerifier } from "../../src/registry/onchain-verify.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_DEBUG: "" };
/** Account #1 holds no role: `--on-chain` needs none. */
const NO_ROLE_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY, KMS_REGISTRY_DEBUG: "" };
let kms: SimKmsProcess;
let kms2: SimKmsProcess;
let node: DevNode;
let conn: Connection;
let registry: `0x${string}`;
let state: string;
const all: RunResult[] = [];
let registeredBlock = 0;
let onChainBlock = 0;

type AuditJson = { kms: { platform: string; path: string; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: unknown[] };

async function cli(args: string[], env: Record<string, string> = KEY_ENV): Promise<RunResult> {
  const r = await runCli(args, { env: { KMS_REGISTRY_STATE_DIR: state, ...env }, timeoutMs: 120_000 });
  all.push(r);
  return r;
}

beforeAll(async () => {
  [kms, kms2, node] = await Promise.all([
    startBootstrappedKms(["--platform", "gcp-tdx", "--format", "attestation-v1"]),
    startBootstrappedKms(["--platform", "gcp-tdx", "--format", "attestation"]),
    startDevNode(),
  ]);
  state = path.join(kms.dir, "state");
  conn = await connect(node.url, { pollingIntervalMs: 50 });
  const admin = walletFor(conn, privateKeyToAccount(HARDHAT_DEV_ACCOUNT_0_KEY));
  // each simulator forges under its own root: the on-chain verifier trusts the second one's
  const verifier = await deployVerifier(conn.publicClient, admin, certificateDerFromFile(readFileSync(kms2.rootCaFile), "sim root"));
  registry = (await deployRegistry({ publicClient: conn.publicClient, walletClient: admin, verifier: { address: verifier } })).address;
}, 180_000);

afterAll(async () => {
  await Promise.all([kms?.stop(), kms2?.stop(), node?.stop()]);
  for (const r of all) {
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_1_KEY.slice(2));
  }
});

const target = () => ["--registry", registry, "--rpc", node.url];
const sim = (k: SimKmsProcess) => ["--collateral", k.collateralFile, "--root-ca", k.rootCaFile, "--allow-simulated-root"];

describe("a GCP TDX KMS: simulate-kms --platform gcp-tdx → publish (register, --on-chain) → audit --reverify", () => {
  it("verify checks the TDX quote and reports the TPM quote as present but not verified", async () => {
    const r = await cli(["verify", "--kms", kms.url, "--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { platform: string; genuine: boolean; warnings: string[] };
    expect(j).toMatchObject({ platform: "gcp-tdx", genuine: false });
    expect(j.warnings.join("\n")).toMatch(/gcp-tdx: the attestation carries a TPM quote \(PCRs 0, 1, 2\); it was NOT verified/);
  }, 180_000);

  it("publish registers its TDX quote through register, recorded as TDX; the output says the TPM quote is only reported", async () => {
    const r = await cli(["publish", ...target(), "--kms", kms.url, ...sim(kms), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[publish\] estimate: register\(\) for 0x[0-9a-fA-F]{40} \(new registration\)/);
    const j = JSON.parse(r.stdout) as { status: string; kms: `0x${string}`; blockNumber: string; platform: string; onChainPlatform: string; tpmQuote: string };
    expect(j).toMatchObject({ status: "registered", platform: "gcp-tdx", onChainPlatform: "tdx", tpmQuote: "reported only: not verified and not published" });
    registeredBlock = Number(j.blockNumber);
    expect(await readPlatform(conn.publicClient, registry, j.kms)).toBe("tdx");
    expect(await readKms(conn.publicClient, registry, j.kms)).toMatchObject({ active: true, path: "registrar" });
    const human = await cli(["publish", ...target(), "--kms", kms.url, ...sim(kms)]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/platform: gcp-tdx, recorded as TDX \(its TDX quote is on chain; the TPM quote is only reported, not verified and not published\)/);
  }, 180_000);

  it("publish --on-chain registers a GCP TDX KMS's TDX quote through registerVerified (no role needed), recorded as TDX", async () => {
    const r = await cli(["publish", ...target(), "--kms", kms2.url, ...sim(kms2), "--on-chain", "--json"], NO_ROLE_ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/registerVerified\(\)/);
    const j = JSON.parse(r.stdout) as { status: string; kms: `0x${string}`; blockNumber: string; platform: string; onChainPlatform: string; onChain: { path: string } };
    expect(j).toMatchObject({ status: "registered", platform: "gcp-tdx", onChainPlatform: "tdx", onChain: { path: "on-chain" } });
    onChainBlock = Number(j.blockNumber);
    expect(await readPlatform(conn.publicClient, registry, j.kms)).toBe("tdx");
  }, 180_000);

  it("audit --reverify re-verifies the TDX quote of each (the registrar one with --collateral, the on-chain one with its published collateral)", async () => {
    const r1 = await cli(["audit", ...target(), "--to-block", String(registeredBlock), "--reverify", "--collateral", kms.collateralFile, "--root-ca", kms.rootCaFile, "--json"]);
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    const j1 = JSON.parse(r1.stdout) as AuditJson;
    expect(j1.anomalies).toEqual([]);
    expect(j1.kms.map((k) => [k.platform, k.path])).toEqual([["tdx", "registrar"]]);
    expect(j1.kms[0]!.checks.find((c) => c.name === "reverify")).toMatchObject({ ok: true });

    const r2 = await cli(["audit", ...target(), "--from-block", String(onChainBlock), "--reverify", "--root-ca", kms2.rootCaFile, "--json"]);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    const j2 = JSON.parse(r2.stdout) as AuditJson;
    expect(j2.anomalies).toEqual([]);
    expect(j2.kms.map((k) => [k.platform, k.path])).toEqual([["tdx", "on-chain"]]);
    const byName = Object.fromEntries(j2.kms[0]!.checks.map((c) => [c.name, c]));
    expect(byName.reverify).toMatchObject({ ok: true, detail: expect.stringMatching(/with the collateral published on chain/) });
    expect(byName["on-chain-verdict"]).toMatchObject({ ok: true });
  }, 180_000);
});
