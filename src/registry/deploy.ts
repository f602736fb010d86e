/**
 * Deploying the KmsRegistry from its compiled Hardhat artifact and writing the deployment record.
 * Works from a source checkout and when this package is installed as a dependency: the artifact is
 * resolved relative to the package root, not the working directory.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { getAddress, keccak256, type Abi, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, NetworkError, UsageError } from "../core/errors.js";
import { networkName, shortMessage } from "./connect.js";
import { DEPLOYMENT_FORMAT, type DeploymentRecord } from "./deployments.js";

const PACKAGE_NAME = "dstack-kms-registry";

/** Directory holding this package's package.json (works from `src/` and from `dist/src/`). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, "package.json");
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, "utf8")) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // keep walking
      }
    }
    dir = path.dirname(dir);
  }
  throw new UsageError(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(import.meta.url)}`);
}

export interface RegistryArtifact {
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  compiler: DeploymentRecord["compiler"];
}

/** Fallback when the build-info file is not shipped (an installed package): the project's settings. */
const DEFAULT_COMPILER: DeploymentRecord["compiler"] = {
  solc: "0.8.37",
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10_000 },
  viaIR: false,
};

export function artifactPath(root = packageRoot()): string {
  return path.join(root, "artifacts", "contracts", "KmsRegistry.sol", "KmsRegistry.json");
}

/** Load `artifacts/contracts/KmsRegistry.sol/KmsRegistry.json` (and, when present, its build info). */
export function loadRegistryArtifact(root = packageRoot()): RegistryArtifact {
  const file = artifactPath(root);
  let art: { abi?: Abi; bytecode?: string; deployedBytecode?: string; buildInfoId?: string; linkReferences?: Record<string, unknown> };
  try {
    art = JSON.parse(readFileSync(file, "utf8")) as typeof art;
  } catch (e) {
    throw new InputError(
      "ARTIFACT_MISSING",
      `cannot read the KmsRegistry artifact ${file} (${(e as NodeJS.ErrnoException).code ?? "bad JSON"}); run \`npx hardhat compile\` in a source checkout`,
    );
  }
  if (!Array.isArray(art.abi) || typeof art.bytecode !== "string" || !/^0x[0-9a-fA-F]+$/.test(art.bytecode)) {
    throw new InputError("ARTIFACT_INVALID", `${file}: missing abi or bytecode`);
  }
  if (art.linkReferences && Object.keys(art.linkReferences).length) {
    throw new InputError("ARTIFACT_INVALID", `${file}: the contract needs library linking, which deploy does not support`);
  }
  let compiler = DEFAULT_COMPILER;
  if (art.buildInfoId) {
    const bi = path.join(root, "artifacts", "build-info", `${art.buildInfoId}.json`);
    if (existsSync(bi)) {
      try {
        const b = JSON.parse(readFileSync(bi, "utf8")) as {
          solcVersion?: string;
          input?: { settings?: { evmVersion?: string; optimizer?: { enabled?: boolean; runs?: number }; viaIR?: boolean } };
        };
        const s = b.input?.settings;
        compiler = {
          solc: b.solcVersion ?? DEFAULT_COMPILER.solc,
          evmVersion: s?.evmVersion ?? DEFAULT_COMPILER.evmVersion,
          optimizer: { enabled: s?.optimizer?.enabled ?? false, runs: s?.optimizer?.runs ?? 200 },
          viaIR: s?.viaIR ?? false,
        };
      } catch {
        // keep the defaults
      }
    }
  }
  return { abi: art.abi, bytecode: art.bytecode as Hex, deployedBytecode: (art.deployedBytecode ?? "0x") as Hex, compiler };
}

export type DeployStage = "estimate" | "send" | "wait" | "record";

export interface DeployOptions {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  /** Constructor argument; defaults to the sending account. */
  admin?: Hex;
  confirmations?: number;
  artifact?: RegistryArtifact;
  toolVersion?: string;
  now?: () => Date;
  onProgress?: (stage: DeployStage, detail: string) => void;
}

/** Deploy the registry and return its deployment record (not yet written; see `writeDeployment`). */
export async function deployRegistry(opts: DeployOptions): Promise<DeploymentRecord & { gasUsed: bigint }> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const account = opts.walletClient.account;
  const admin = opts.admin ?? (account.address as Hex);
  const chainId = opts.publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  progress("estimate", `deploying KmsRegistry(admin ${admin}) from ${account.address} on chain ${chainId}`);
  let hash: Hex;
  try {
    hash = await opts.walletClient.deployContract({ abi: art.abi, bytecode: art.bytecode, args: [admin] });
  } catch (e) {
    // Nodes word "no funds" in many ways (some just say "Missing or invalid parameters"): check the balance.
    const balance = await opts.publicClient.getBalance({ address: account.address }).catch(() => undefined);
    const hint = balance === 0n ? ` (the sending account ${account.address} has no funds on chain ${chainId} to pay for gas)` : "";
    throw new NetworkError("DEPLOY_FAILED", `deployment transaction was not accepted: ${shortMessage(e)}${hint}`, { cause: e });
  }
  progress("send", `sent ${hash}`);
  const receipt = await opts.publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new NetworkError("DEPLOY_REVERTED", `deployment transaction ${hash} reverted in block ${receipt.blockNumber}`);
  }
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  const code = await opts.publicClient.getCode({ address: receipt.contractAddress });
  if (!code || code === "0x") throw new NetworkError("DEPLOY_NO_CODE", `no code at ${receipt.contractAddress} after deployment`);
  const record: DeploymentRecord & { gasUsed: bigint } = {
    format: DEPLOYMENT_FORMAT,
    chainId,
    network: networkName(chainId),
    contract: "KmsRegistry",
    address: getAddress(receipt.contractAddress) as Hex,
    deployTx: hash,
    block: Number(receipt.blockNumber),
    blockHash: receipt.blockHash,
    deployer: account.address as Hex,
    admin,
    compiler: art.compiler,
    bytecodeHash: keccak256(code),
    deployedAt: (opts.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    tool: `kms-registry ${opts.toolVersion ?? "0.0.0"}`,
    gasUsed: receipt.gasUsed,
  };
  return record;
}

/** The record part of a deploy result (without `gasUsed`), for writing. */
export function recordOf(r: DeploymentRecord & { gasUsed?: bigint }): DeploymentRecord {
  const { gasUsed: _g, ...rest } = r;
  return rest;
}

/**
 * Check that `address` holds a contract and, when a record is given, that its runtime code hash is the
 * recorded one. Returns the code hash.
 */
export async function checkRegistryCode(publicClient: PublicClient, address: Hex, record?: DeploymentRecord): Promise<Hex> {
  const code = await publicClient.getCode({ address });
  if (!code || code === "0x") throw new UsageError(`no contract at ${address} on this chain (wrong --registry or --rpc?)`);
  const h = keccak256(code);
  if (record && record.bytecodeHash.toLowerCase() !== h) {
    throw new UsageError(`the code at ${address} (keccak ${h}) differs from the deployment record's bytecodeHash ${record.bytecodeHash}`);
  }
  return h;
}

/**
 * Build the deployment record of a registry that is already deployed (by Hardhat Ignition, another tool, or a
 * run of `deploy` whose record was lost). With `deployTx` the receipt says everything; without it the
 * creation block is found by bisecting `eth_getCode` over history (needs an RPC that serves historical
 * state), and the creating transaction in that block by its receipt. The admin is the account of the
 * constructor's `RoleGranted(DEFAULT_ADMIN_ROLE, …)` event.
 */
export async function recordExistingDeployment(
  publicClient: PublicClient<Transport, Chain>,
  address: Hex,
  opts: { deployTx?: Hex; artifact?: RegistryArtifact; toolVersion?: string; now?: () => Date } = {},
): Promise<DeploymentRecord> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const code = await publicClient.getCode({ address });
  if (!code || code === "0x") throw new UsageError(`no contract at ${address} on chain ${publicClient.chain.id}`);
  let receipt: Awaited<ReturnType<typeof publicClient.getTransactionReceipt>> | undefined;
  if (opts.deployTx) {
    receipt = await publicClient.getTransactionReceipt({ hash: opts.deployTx }).catch(() => undefined);
    if (!receipt) throw new UsageError(`transaction ${opts.deployTx} is not mined on chain ${publicClient.chain.id}`);
  } else {
    let lo = 0n;
    let hi = await publicClient.getBlockNumber({ cacheTime: 0 });
    try {
      while (lo < hi) {
        const mid = (lo + hi) / 2n;
        const c = await publicClient.getCode({ address, blockNumber: mid });
        if (c && c !== "0x") hi = mid;
        else lo = mid + 1n;
      }
    } catch (e) {
      throw new UsageError(`cannot find the deployment block of ${address}: the RPC does not serve historical state (${shortMessage(e)}); pass --deploy-tx HASH`);
    }
    const block = await publicClient.getBlock({ blockNumber: lo, includeTransactions: true });
    for (const tx of block.transactions) {
      const r = await publicClient.getTransactionReceipt({ hash: tx.hash });
      if (r.contractAddress?.toLowerCase() === address.toLowerCase() || r.logs.some((l) => l.address.toLowerCase() === address.toLowerCase())) {
        receipt = r;
        break;
      }
    }
    if (!receipt) {
      // Some nodes answer eth_getCode imprecisely for old blocks: fall back to the constructor's first event.
      const { scanLogs } = await import("./logs.js");
      const first: { tx?: Hex } = {};
      await scanLogs({
        request: publicClient.request as never,
        address,
        fromBlock: 0n,
        toBlock: lo,
        initialRange: 100_000n,
        maxRange: 1_000_000n,
        onLogs: (logs) => {
          if (!first.tx && logs[0]) first.tx = logs[0].transactionHash;
        },
      });
      if (first.tx) receipt = await publicClient.getTransactionReceipt({ hash: first.tx });
    }
    if (!receipt) throw new UsageError(`found the creation block ${lo} of ${address} but not its transaction; pass --deploy-tx HASH`);
  }
  const roleGranted = keccak256(new TextEncoder().encode("RoleGranted(bytes32,address,address)"));
  const grant = receipt.logs.find(
    (l) => l.address.toLowerCase() === address.toLowerCase() && l.topics[0] === roleGranted && BigInt(l.topics[1] ?? "0x1") === 0n,
  );
  // Created by this transaction: a plain deployment names the contract; a factory (CREATE2) deployment shows the
  // constructor's RoleGranted(DEFAULT_ADMIN_ROLE) and no code before that block. Any other transaction that
  // merely emitted an event of the registry (a register(), a grantRole()) is not its deployment.
  let created = receipt.contractAddress?.toLowerCase() === address.toLowerCase();
  if (!created && grant && receipt.blockNumber > 0n) {
    const before = await publicClient.getCode({ address, blockNumber: receipt.blockNumber - 1n }).catch(() => undefined);
    created = before === undefined || before === "0x";
  }
  if (receipt.status !== "success" || !created) throw new UsageError(`transaction ${receipt.transactionHash} did not deploy ${address}`);
  const admin = grant?.topics[2] ? (getAddress(`0x${grant.topics[2].slice(26)}`) as Hex) : (getAddress(receipt.from) as Hex);
  const chainId = publicClient.chain.id;
  return {
    format: DEPLOYMENT_FORMAT,
    chainId,
    network: networkName(chainId),
    contract: "KmsRegistry",
    address: getAddress(address) as Hex,
    deployTx: receipt.transactionHash,
    block: Number(receipt.blockNumber),
    blockHash: receipt.blockHash,
    deployer: getAddress(receipt.from) as Hex,
    admin,
    compiler: art.compiler,
    bytecodeHash: keccak256(code),
    deployedAt: (opts.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    tool: `kms-registry ${opts.toolVersion ?? "0.0.0"}`,
  };
}
