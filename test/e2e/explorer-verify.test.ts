/**
 * `kms-registry:deploy --verify` through @nomicfoundation/hardhat-verify, offline: a `hardhat node` with chain id
 * 8453 and, as its explorer (the project's chainDescriptors), an HTTP server speaking Etherscan's verification
 * API. What hardhat-verify submits is checked against the chain: the standard JSON input recompiled with solc
 * gives the creation code of the deployment transaction (with the submitted constructor arguments appended) and
 * the runtime code at the address; the contract name and compiler version are the build's. Without an API key
 * the verification is skipped, and said so.
 */
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createPublicClient, encodeAbiParameters, http, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { verifierRootArgs } from "../../src/registry/verifier.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli } from "../helpers/cli.js";
import { hardhatIn, jsonOut, makePluginProject } from "../helpers/hardhat-project.js";

const require = createRequire(import.meta.url);
const admin = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY).address;

interface Submission {
  query: URLSearchParams;
  form: URLSearchParams;
}
let server: Server;
let explorerUrl: string;
const submissions: Submission[] = [];
let node: DevNode;
let project: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const action = url.searchParams.get("action");
      const reply = (result: unknown) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "1", message: "OK", result }));
      };
      if (action === "getsourcecode") return reply([{ SourceCode: "" }]);
      if (action === "verifysourcecode" && req.method === "POST") {
        submissions.push({ query: url.searchParams, form: new URLSearchParams(body) });
        return reply(`guid-${submissions.length}`);
      }
      if (action === "checkverifystatus") return reply("Pass - Verified");
      res.statusCode = 404;
      res.end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  explorerUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  project = makePluginProject();
  node = await startDevNode({ cwd: project, args: ["--chain-id", "8453"] });
}, 120_000);
afterAll(async () => {
  await node?.stop();
  await new Promise((r) => server?.close(r));
});

describe("kms-registry:deploy --verify (hardhat-verify, Etherscan API)", () => {
  it("the CLI's deploy --verify without ETHERSCAN_API_KEY deploys and says the verification was skipped", async () => {
    const r = await runCli(["deploy", "--rpc", node.url, "--verify", "--deployments", path.join(project, "cli-deployments"), "--json"], {
      env: { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY, ETHERSCAN_API_KEY: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { chainId: number; verifier: { address: string; intelRoot: boolean }; verification: { contract: string; status: string; detail: string }[] };
    expect(j.chainId).toBe(8453);
    expect(j.verifier.intelRoot).toBe(true); // deploy's default: a DcapVerifier under Intel's root
    expect(j.verification.map((v) => [v.contract, v.status])).toEqual([["KmsRegistry", "skipped"], ["DcapVerifier", "skipped"]]);
    expect(j.verification[0]!.detail).toMatch(/no Etherscan API key configured \(set ETHERSCAN_API_KEY in the environment\)/);
    expect(r.stderr).toMatch(/verify KmsRegistry on etherscan: skipped/);
  }, 60_000);

  it("submits a standard JSON input that recompiles to the deployed code, with the deployed constructor arguments; no key: skipped", async () => {
    const env = { KMS_TEST_RPC_URL: node.url, KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY, KMS_TEST_EXPLORER_URL: explorerUrl };
    const noKey = await hardhatIn(project, ["--network", "local", "kms-registry:deploy", "--verify", "--deployments", "deployments-nokey", "--json"], env);
    expect(noKey.code, noKey.stderr).toBe(0);
    const skipped = jsonOut<{ verification: { explorer: string; status: string; detail: string }[] }>(noKey.stdout).verification;
    const skip = expect.objectContaining({ explorer: "etherscan", status: "skipped", detail: expect.stringMatching(/no Etherscan API key configured.*ETHERSCAN_API_KEY/) });
    expect(skipped).toEqual([skip, skip]); // the registry and its DcapVerifier
    expect(submissions).toHaveLength(0);

    const r = await hardhatIn(project, ["--network", "local", "kms-registry:deploy", "--verify", "--json"], { ...env, ETHERSCAN_API_KEY: "test-key-1234" }, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOut<{ address: Hex; deployTx: Hex; chainId: number; verifier: { address: Hex }; verification: { status: string; contract: string }[] }>(r.stdout);
    expect(out.chainId).toBe(8453);
    expect(out.verification, JSON.stringify(out.verification)).toEqual([
      expect.objectContaining({ contract: "KmsRegistry", status: "verified" }),
      expect.objectContaining({ contract: "DcapVerifier", status: "verified" }),
    ]);
    expect(r.stdout + r.stderr).not.toContain("test-key-1234");
    expect(submissions).toHaveLength(2);
    const verifierForm = submissions[1]!.form;
    expect(verifierForm.get("contractaddress")?.toLowerCase()).toBe(out.verifier.address.toLowerCase());
    expect(verifierForm.get("contractname")).toBe("project/contracts/dcap/DcapVerifier.sol:DcapVerifier");
    expect(verifierForm.get("constructorArguments")).toBe(
      encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }], verifierRootArgs(INTEL_SGX_ROOT_CA_DER)).slice(2),
    );
    const { query, form } = submissions[0]!;
    expect(query.get("chainid")).toBe("8453");
    expect(query.get("apikey")).toBe("test-key-1234");
    expect(form.get("contractaddress")?.toLowerCase()).toBe(out.address.toLowerCase());
    expect(form.get("codeformat")).toBe("solidity-standard-json-input");
    expect(form.get("contractname")).toBe("project/contracts/KmsRegistry.sol:KmsRegistry");
    const solc = require("solc") as { compile: (input: string) => string; version: () => string };
    expect(form.get("compilerversion")).toBe(`v${solc.version().replace(/\.Emscripten\.clang$/, "")}`);
    const args = encodeAbiParameters([{ type: "address" }, { type: "address" }], [admin, out.verifier.address]).slice(2);
    expect(form.get("constructorArguments")).toBe(args);

    // Recompile what was submitted.
    const input = JSON.parse(form.get("sourceCode")!) as { sources: Record<string, unknown>; settings: Record<string, unknown> };
    // the build's settings, not Hardhat's derived "production" ones
    expect(input.settings).toMatchObject({ evmVersion: "cancun", optimizer: { enabled: true, runs: 10_000 }, metadata: { bytecodeHash: "none" } });
    expect(Object.keys(input.sources)).toContain("project/contracts/KmsRegistry.sol");
    expect(Object.keys(input.sources).some((s) => s.includes("/test/"))).toBe(false); // the minimal input: the contract's own sources
    input.settings.outputSelection = { "project/contracts/KmsRegistry.sol": { KmsRegistry: ["evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"] } };
    const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
      errors?: { severity: string; message: string }[];
      contracts: Record<string, Record<string, { evm: { bytecode: { object: string }; deployedBytecode: { object: string; immutableReferences: Record<string, { start: number; length: number }[]> } } }>>;
    };
    expect((output.errors ?? []).filter((e) => e.severity === "error")).toEqual([]);
    const compiled = output.contracts["project/contracts/KmsRegistry.sol"]!.KmsRegistry!.evm;
    const client = createPublicClient({ transport: http(node.url) });
    const tx = await client.getTransaction({ hash: out.deployTx });
    expect(tx.input.toLowerCase()).toBe(`0x${compiled.bytecode.object}${args}`.toLowerCase());
    // the runtime code, with its immutables (the verifier address) filled in as on chain
    const onChain = (await client.getCode({ address: out.address }))!.slice(2);
    let runtime = compiled.deployedBytecode.object;
    for (const refs of Object.values(compiled.deployedBytecode.immutableReferences)) {
      for (const { start, length } of refs) runtime = runtime.slice(0, start * 2) + onChain.slice(start * 2, (start + length) * 2) + runtime.slice((start + length) * 2);
    }
    expect(runtime.toLowerCase()).toBe(onChain.toLowerCase());
    expect(Object.keys(compiled.deployedBytecode.immutableReferences).length).toBeGreaterThan(0);
  }, 180_000);
});

