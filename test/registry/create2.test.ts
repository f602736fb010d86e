import { getCreate2Address, keccak256, parseTransaction, recoverTransactionAddress, getContractAddress, type Hex } from "viem";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import {
  CREATE2_FACTORY,
  CREATE2_FACTORY_DEPLOY_TX,
  CREATE2_FACTORY_RUNTIME,
  CREATE2_FACTORY_SIGNER,
  DEFAULT_SALT,
  deployDeterministic,
  factoryInstalled,
  parseSalt,
  planDeterministic,
  planVerifierDeterministic,
} from "../../src/registry/create2.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { loadRegistryArtifact, loadVerifierArtifact, recordOf, runtimeMatches } from "../../src/registry/deploy.js";
import { readDeploymentFile, validateDeploymentRecord } from "../../src/registry/deployments.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli } from "../helpers/cli.js";

const ADMIN = "0x000000000000000000000000000000000000bEEF" as const;
const SALT = parseSalt("0x1234");

let nodes: DevNode[] = [];
let conns: Connection[] = [];
beforeAll(async () => {
  nodes = await Promise.all([startDevNode(), startDevNode()]);
  conns = await Promise.all(nodes.map((n) => connect(n.url)));
}, 60_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe("the CREATE2 factory constants", () => {
  it("the presigned transaction is signed by the one-time signer at nonce 0 and creates the factory's runtime code", async () => {
    const tx = parseTransaction(CREATE2_FACTORY_DEPLOY_TX);
    expect(tx.chainId).toBeUndefined();
    expect(tx.nonce ?? 0).toBe(0);
    const signer = await recoverTransactionAddress({ serializedTransaction: CREATE2_FACTORY_DEPLOY_TX as never });
    expect(signer).toBe(CREATE2_FACTORY_SIGNER);
    expect(getContractAddress({ from: signer, nonce: 0n })).toBe(CREATE2_FACTORY);
    // init code = 14-byte constructor prologue ‖ runtime code
    expect(`0x${tx.data!.slice(2 + 28)}`).toBe(CREATE2_FACTORY_RUNTIME);
  });

  it("parses salts and refuses bad ones", () => {
    expect(parseSalt("0x01")).toBe(`0x${"0".repeat(63)}1`);
    expect(parseSalt(DEFAULT_SALT)).toBe(DEFAULT_SALT);
    expect(() => parseSalt("0x" + "1".repeat(65))).toThrow(/at most 32 bytes/);
    expect(() => parseSalt("12")).toThrow(/--salt/);
  });
});

describe("deterministic deployment on two fresh chains", () => {
  it("installs the factory, deploys at the dry-run address on both, with identical code, and the records reproduce it", async () => {
    const artifact = loadRegistryArtifact();
    // the DcapVerifier (Intel's root) first, through the factory with the same salt; the registry is built with it
    const verifierPlan = planVerifierDeterministic({ rootDer: INTEL_SGX_ROOT_CA_DER, salt: SALT });
    const plan = planDeterministic({ admin: ADMIN, salt: SALT, artifact, verifier: verifierPlan.address });
    const account = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY });

    // a fresh chain has no factory: refused without installFactory, nothing created
    expect(await factoryInstalled(conns[0]!.publicClient)).toBe(false);
    await expect(
      deployDeterministic({ publicClient: conns[0]!.publicClient, walletClient: walletFor(conns[0]!, account), admin: ADMIN, salt: SALT, artifact }),
    ).rejects.toMatchObject({ code: "CREATE2_FACTORY_MISSING" });

    const results = await Promise.all(
      conns.map((c) =>
        deployDeterministic({ publicClient: c.publicClient, walletClient: walletFor(c, account), admin: ADMIN, salt: SALT, artifact, installFactory: true, toolVersion: "test" }),
      ),
    );
    const codes: Hex[] = [];
    for (const [i, r] of results.entries()) {
      expect(r.alreadyDeployed).toBe(false);
      expect(r.address).toBe(plan.address);
      expect(await factoryInstalled(conns[i]!.publicClient)).toBe(true);
      const code = await conns[i]!.publicClient.getCode({ address: r.address });
      // the artifact's runtime code, with the verifier's address in its immutable
      expect(runtimeMatches(code!, artifact)).toBe(true);
      expect(code).toContain(verifierPlan.address.slice(2).toLowerCase());
      codes.push(code!);
      // the record validates and its reproduction data recompute the address
      const rec = validateDeploymentRecord(JSON.parse(JSON.stringify(recordOf(r))));
      expect(rec.create2).toEqual({ factory: CREATE2_FACTORY, salt: SALT, initCodeHash: plan.initCodeHash, constructorArgs: { admin: ADMIN, verifier: verifierPlan.address } });
      // the verifier: at its own deterministic address on both chains, Intel's root, its code, its reproduction data
      expect(rec.verifier).toMatchObject({ contract: "DcapVerifier", address: verifierPlan.address, intelRoot: true, create2: { salt: SALT, initCodeHash: verifierPlan.initCodeHash } });
      const verifierCode = await conns[i]!.publicClient.getCode({ address: verifierPlan.address });
      expect(runtimeMatches(verifierCode!, loadVerifierArtifact())).toBe(true);
      expect(rec.verifier!.bytecodeHash).toBe(keccak256(verifierCode!));
      expect(rec.compiler.metadata).toEqual({ bytecodeHash: "none" });
      expect(getCreate2Address({ from: rec.create2!.factory, salt: rec.create2!.salt, bytecodeHash: rec.create2!.initCodeHash })).toBe(rec.address);
      expect(rec.bytecodeHash).toBe(keccak256(code!));
      expect(rec.admin).toBe(ADMIN);
    }
    expect(codes[0]).toBe(codes[1]);

    // another admin gives another address
    expect(planDeterministic({ admin: account.address as Hex, salt: SALT, artifact, verifier: verifierPlan.address }).address).not.toBe(plan.address);
    // and so does another verifier (none)
    expect(planDeterministic({ admin: ADMIN, salt: SALT, artifact }).address).not.toBe(plan.address);

    // deploying again finds the identical code and records it without sending
    const before = await conns[0]!.publicClient.getTransactionCount({ address: account.address });
    const again = await deployDeterministic({ publicClient: conns[0]!.publicClient, walletClient: walletFor(conns[0]!, account), admin: ADMIN, salt: SALT, artifact });
    expect(again.alreadyDeployed).toBe(true);
    expect(again.address).toBe(plan.address);
    expect(again.deployTx).toBe(results[0]!.deployTx);
    expect(await conns[0]!.publicClient.getTransactionCount({ address: account.address })).toBe(before);
  }, 30_000);

  it("CLI: --dry-run prints the address that deploy --deterministic then deploys at and records", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "create2-cli-"));
    const env = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY };
    const salt = "0xc11";
    const dry = await runCli(["deploy", "--deterministic", "--dry-run", "--salt", salt, "--rpc", nodes[1]!.url, "--json"], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as { address: string; dryRun: boolean; chain: { factoryInstalled: boolean; deployed: boolean } };
    expect(planned).toMatchObject({ dryRun: true, chain: { factoryInstalled: true, deployed: false } });
    const real = await runCli(["deploy", "--deterministic", "--salt", salt, "--rpc", nodes[1]!.url, "--deployments", tmp, "--json"], { env });
    expect(real.code, real.stderr).toBe(0);
    const doc = JSON.parse(real.stdout) as { address: string; alreadyDeployed: boolean; recordPath: string };
    expect(doc.address).toBe(planned.address);
    expect(doc.alreadyDeployed).toBe(false);
    expect(real.stderr).toContain(`deterministic address ${planned.address}`);
    const rec = await readDeploymentFile(doc.recordPath);
    expect(rec.create2?.salt).toBe(parseSalt(salt));
    expect(getCreate2Address({ from: rec.create2!.factory, salt: rec.create2!.salt, bytecodeHash: rec.create2!.initCodeHash })).toBe(planned.address);
    expect(real.stdout + real.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    const bad = await runCli(["deploy", "--salt", salt, "--rpc", nodes[1]!.url, "--deployments", tmp], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--salt needs --deterministic");
  }, 30_000);

  it("the validator refuses reproduction data that does not give the recorded address", () => {
    const plan = planDeterministic({ admin: ADMIN, salt: SALT });
    const base = {
      format: "dstack-kms-registry/deployment@1",
      chainId: 31337,
      network: "localhost",
      contract: "KmsRegistry",
      address: plan.address,
      deployTx: `0x${"11".repeat(32)}`,
      block: 3,
      blockHash: `0x${"22".repeat(32)}`,
      deployer: ADMIN,
      admin: ADMIN,
      compiler: { solc: "0.8.37", evmVersion: "cancun", optimizer: { enabled: true, runs: 10000 }, viaIR: false, metadata: { bytecodeHash: "none" } },
      bytecodeHash: `0x${"33".repeat(32)}`,
      deployedAt: "2026-01-01T00:00:00Z",
      tool: "test",
      create2: { factory: plan.factory, salt: plan.salt, initCodeHash: plan.initCodeHash, constructorArgs: { admin: ADMIN } },
    };
    expect(validateDeploymentRecord(base).create2?.salt).toBe(SALT);
    expect(() => validateDeploymentRecord({ ...base, create2: { ...base.create2, salt: DEFAULT_SALT } })).toThrow(/create2 data gives address/);
    expect(() => validateDeploymentRecord({ ...base, create2: { ...base.create2, constructorArgs: { admin: CREATE2_FACTORY } } })).toThrow(/differs from admin/);
    expect(() => validateDeploymentRecord({ ...base, create2: { ...base.create2, initCodeHash: "0x12" } })).toThrow(/initCodeHash/);
    expect(() => validateDeploymentRecord({ ...base, compiler: { ...base.compiler, metadata: {} } })).toThrow(/compiler.metadata/);
  });
});
