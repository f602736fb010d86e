/**
 * Verifying the deployed contracts' source on block explorers (Etherscan, Blockscout, Sourcify) with
 * `@nomicfoundation/hardhat-verify`, for the CLI's `deploy --verify` and the Hardhat task's `--verify`.
 *
 * The contracts are this package's own build: the verification runs in a Hardhat runtime rooted at the
 * package (its `contracts/` and `artifacts/`, the compiler settings of the artifact's build info), so it works
 * the same from any Hardhat project or from the command line; the chain is read (code, chain id) through the
 * caller's RPC URL. Etherscan needs an API key: without one it is skipped, and said so. Hardhat and hardhat-verify
 * are development dependencies of this package, loaded only when a verification runs.
 */
import { createRequire } from "node:module";
import path from "node:path";

import type { Hex } from "../core/bytes.js";
import { UsageError, errorMessage, firstLine } from "../core/errors.js";
import { oneLine } from "../core/sanitize.js";
import { zeroAddress } from "viem";

import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import { LOCAL_CHAIN_IDS, type DeploymentRecord } from "../registry/deployments.js";
import { verifierRootArgs } from "../registry/verifier.js";
import { loadRegistryArtifact, packageRoot } from "../registry/deploy.js";

export const EXPLORERS = ["etherscan", "blockscout", "sourcify"] as const;
export type Explorer = (typeof EXPLORERS)[number];

/** Where each contract of the package is compiled from (its fully qualified name in the build). */
export const CONTRACT_FQNS = {
  KmsRegistry: "contracts/KmsRegistry.sol:KmsRegistry",
  DcapVerifier: "contracts/dcap/DcapVerifier.sol:DcapVerifier",
} as const;
export type VerifiableContract = keyof typeof CONTRACT_FQNS;

export interface ContractToVerify {
  name: VerifiableContract;
  address: Hex;
  /** The constructor's arguments (hardhat-verify ABI-encodes them against the artifact's ABI). */
  constructorArgs: unknown[];
  /** The creating transaction (Sourcify uses it). */
  creationTxHash?: Hex;
}

export interface ExplorerVerifyParameters {
  /** A JSON-RPC URL of the chain the contracts are on (read only: eth_chainId, eth_getCode). */
  rpcUrl: string;
  chainId: number;
  networkName: string;
  contracts: ContractToVerify[];
  explorers: readonly Explorer[];
  etherscanApiKey?: string;
  blockscoutApiKey?: string;
  sourcifyApiUrl?: string;
  /** Hardhat's `chainDescriptors` user config (explorer URLs of chains Hardhat does not know). */
  chainDescriptors?: Record<string, unknown>;
  /** How to set the Etherscan key, for the "skipped" message. */
  etherscanKeyHint?: string;
}

export interface ExplorerOutcome {
  explorer: Explorer;
  contract: VerifiableContract;
  address: Hex;
  status: "verified" | "skipped" | "failed";
  detail: string;
}

/**
 * What a deployment record says can be verified: the registry (constructor `admin, verifier`) and its
 * DcapVerifier when the record knows it pins Intel's root (its constructor arguments come from that root).
 */
export function contractsOfRecord(record: DeploymentRecord): ContractToVerify[] {
  const out: ContractToVerify[] = [{ name: "KmsRegistry", address: record.address, constructorArgs: [record.admin, record.verifier?.address ?? zeroAddress], creationTxHash: record.deployTx }];
  const v = record.verifier;
  if (v?.intelRoot) out.push({ name: "DcapVerifier", address: v.address, constructorArgs: verifierRootArgs(INTEL_SGX_ROOT_CA_DER), ...(v.deployTx ? { creationTxHash: v.deployTx } : {}) });
  return out;
}

/** `--explorers LIST`: a comma-separated subset of etherscan, blockscout, sourcify. */
export function parseExplorers(value: string, what = "--explorers"): Explorer[] {
  const names = value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!names.length) throw new UsageError(`${what} is empty (expected some of ${EXPLORERS.join(", ")})`);
  const out: Explorer[] = [];
  for (const n of names) {
    if (!(EXPLORERS as readonly string[]).includes(n)) throw new UsageError(`${what}: unknown explorer ${JSON.stringify(n.slice(0, 40))} (expected ${EXPLORERS.join(", ")})`);
    if (!out.includes(n as Explorer)) out.push(n as Explorer);
  }
  return out;
}

/** The solc settings the package's contracts were built with (from the artifact's build info). */
function solidityConfig(): Record<string, unknown> {
  const c = loadRegistryArtifact().compiler;
  let soljson: string | undefined;
  try {
    const require = createRequire(path.join(packageRoot(), "package.json"));
    const pkg = require.resolve("solc/package.json");
    if ((require(pkg) as { version: string }).version === c.solc) soljson = path.join(path.dirname(pkg), "soljson.js");
  } catch {
    // no local solc: Hardhat resolves the compiler itself
  }
  return {
    version: c.solc,
    ...(soljson ? { path: soljson } : {}),
    settings: { evmVersion: c.evmVersion, optimizer: c.optimizer, ...(c.viaIR ? { viaIR: true } : {}), ...(c.metadata ? { metadata: c.metadata } : {}) },
  };
}

/** Verify every contract on every explorer asked for; each outcome is reported, none throws. */
export async function verifyOnExplorers(p: ExplorerVerifyParameters): Promise<ExplorerOutcome[]> {
  const outcomes: ExplorerOutcome[] = [];
  const each = (explorer: Explorer, status: ExplorerOutcome["status"], detail: string) => {
    for (const c of p.contracts) outcomes.push({ explorer, contract: c.name, address: c.address, status, detail });
  };
  if (LOCAL_CHAIN_IDS.includes(p.chainId)) {
    for (const e of p.explorers) each(e, "skipped", `chain ${p.chainId} is a local development chain; explorers do not serve it`);
    return outcomes;
  }
  const runnable = p.explorers.filter((e) => {
    if (e === "etherscan" && !p.etherscanApiKey) {
      each(e, "skipped", `no Etherscan API key configured (${p.etherscanKeyHint ?? "set ETHERSCAN_API_KEY"})`);
      return false;
    }
    return true;
  });
  if (!runnable.length) return outcomes;

  let hre: unknown;
  let verifyContract: (args: Record<string, unknown>, hre: never) => Promise<boolean>;
  try {
    const [{ createHardhatRuntimeEnvironment }, verifyPlugin, verifyModule] = await Promise.all([
      import("hardhat/hre"),
      import("@nomicfoundation/hardhat-verify"),
      import("@nomicfoundation/hardhat-verify/verify"),
    ]);
    verifyContract = verifyModule.verifyContract as unknown as typeof verifyContract;
    hre = await createHardhatRuntimeEnvironment(
      {
        plugins: [verifyPlugin.default],
        // hardhat-verify builds its input with the "production" profile, which Hardhat otherwise derives with
        // its own optimizer settings: both profiles are the build's.
        solidity: { profiles: { default: solidityConfig(), production: solidityConfig() } } as never,
        verify: {
          etherscan: p.etherscanApiKey ? { apiKey: p.etherscanApiKey } : { enabled: false },
          blockscout: p.blockscoutApiKey ? { apiKey: p.blockscoutApiKey } : {},
          sourcify: p.sourcifyApiUrl ? { apiUrl: p.sourcifyApiUrl } : {},
        },
        ...(p.chainDescriptors ? { chainDescriptors: p.chainDescriptors as never } : {}),
        networks: { explorerTarget: { type: "http", url: p.rpcUrl } },
      },
      { network: "explorerTarget" },
      packageRoot(),
    );
  } catch (e) {
    for (const x of runnable) each(x, "failed", `cannot load Hardhat and @nomicfoundation/hardhat-verify: ${oneLine(firstLine(errorMessage(e)))}`);
    return outcomes;
  }
  for (const explorer of runnable) {
    for (const c of p.contracts) {
      try {
        await verifyContract(
          { address: c.address, constructorArgs: c.constructorArgs, contract: CONTRACT_FQNS[c.name], provider: explorer, ...(c.creationTxHash ? { creationTxHash: c.creationTxHash } : {}) },
          hre as never,
        );
        outcomes.push({ explorer, contract: c.name, address: c.address, status: "verified", detail: "source verified (or already verified)" });
      } catch (e) {
        outcomes.push({ explorer, contract: c.name, address: c.address, status: "failed", detail: oneLine(firstLine(errorMessage(e))) });
      }
    }
  }
  return outcomes;
}
