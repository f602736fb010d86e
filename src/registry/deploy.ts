/**
 * Deploying the KmsRegistry from its compiled Hardhat artifact and writing the deployment record.
 * Works from a source checkout and when this package is installed as a dependency: the artifact is
 * resolved relative to the package root, not the working directory.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { getAddress, keccak256, zeroAddress, type Abi, type Account, type Chain, type PublicClient, type TransactionReceipt, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, NetworkError, UsageError } from "../core/errors.js";
import { networkName, shortMessage } from "./connect.js";
import { DEPLOYMENT_FORMAT, type DeploymentRecord } from "./deployments.js";
import { scanLogs } from "./logs.js";

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
  metadata: { bytecodeHash: "none" },
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
          input?: { settings?: { evmVersion?: string; optimizer?: { enabled?: boolean; runs?: number }; viaIR?: boolean; metadata?: { bytecodeHash?: string } } };
        };
        const s = b.input?.settings;
        compiler = {
          solc: b.solcVersion ?? DEFAULT_COMPILER.solc,
          evmVersion: s?.evmVersion ?? DEFAULT_COMPILER.evmVersion,
          optimizer: { enabled: s?.optimizer?.enabled ?? false, runs: s?.optimizer?.runs ?? 200 },
          viaIR: s?.viaIR ?? false,
          // solc's default when the settings do not name one
          metadata: { bytecodeHash: s?.metadata?.bytecodeHash ?? "ipfs" },
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
  /** Constructor argument: the DcapVerifier; defaults to none (address(0): registrar path only). */
  verifier?: Hex;
  confirmations?: number;
  artifact?: RegistryArtifact;
  toolVersion?: string;
  now?: () => Date;
  onProgress?: (stage: DeployStage, detail: string) => void;
}

/** The deployment record of the registry at `address`, created by the transaction of `receipt`. */
export function deploymentRecordOf(p: {
  chainId: number;
  address: Hex;
  receipt: Pick<TransactionReceipt, "transactionHash" | "blockNumber" | "blockHash">;
  deployer: Hex;
  admin: Hex;
  compiler: DeploymentRecord["compiler"];
  code: Hex;
  toolVersion?: string;
  now?: () => Date;
}): DeploymentRecord {
  return {
    format: DEPLOYMENT_FORMAT,
    chainId: p.chainId,
    network: networkName(p.chainId),
    contract: "KmsRegistry",
    address: getAddress(p.address) as Hex,
    deployTx: p.receipt.transactionHash,
    block: Number(p.receipt.blockNumber),
    blockHash: p.receipt.blockHash,
    deployer: p.deployer,
    admin: p.admin,
    compiler: p.compiler,
    bytecodeHash: keccak256(p.code),
    deployedAt: (p.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    tool: `kms-registry ${p.toolVersion ?? "0.0.0"}`,
  };
}

/** Deploy the registry and return its deployment record (not yet written; see `writeDeployment`). */
export async function deployRegistry(opts: DeployOptions): Promise<DeploymentRecord & { gasUsed: bigint }> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const account = opts.walletClient.account;
  const admin = opts.admin ?? (account.address as Hex);
  const verifier = opts.verifier ?? zeroAddress;
  const chainId = opts.publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  progress("estimate", `deploying KmsRegistry(admin ${admin}, verifier ${verifier}) from ${account.address} on chain ${chainId}`);
  let hash: Hex;
  try {
    hash = await opts.walletClient.deployContract({ abi: art.abi, bytecode: art.bytecode, args: [admin, verifier] });
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
  const record = deploymentRecordOf({
    chainId,
    address: receipt.contractAddress,
    receipt,
    deployer: account.address as Hex,
    admin,
    compiler: art.compiler,
    code,
    ...(opts.toolVersion !== undefined ? { toolVersion: opts.toolVersion } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { ...record, gasUsed: receipt.gasUsed };
}

/** The record part of a deploy result (without `gasUsed`), for writing. */
export function recordOf(r: DeploymentRecord & { gasUsed?: bigint; alreadyDeployed?: boolean }): DeploymentRecord {
  const { gasUsed: _g, alreadyDeployed: _a, ...rest } = r;
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

type Client = PublicClient<Transport, Chain>;

/**
 * Build the deployment record of a registry that is already deployed (by Hardhat Ignition, another tool, or a
 * run of `deploy` whose record was lost). With `deployTx` the receipt says everything; without it the
 * creation block is found by bisecting `eth_getCode` over history (needs an RPC that serves historical
 * state), and the creating transaction in that block by its receipt. The admin is the account of the
 * constructor's `RoleGranted(DEFAULT_ADMIN_ROLE, …)` event.
 */
export async function recordExistingDeployment(
  publicClient: Client,
  address: Hex,
  opts: { deployTx?: Hex; artifact?: RegistryArtifact; toolVersion?: string; now?: () => Date } = {},
): Promise<DeploymentRecord> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const code = await publicClient.getCode({ address });
  if (!code || code === "0x") throw new UsageError(`no contract at ${address} on chain ${publicClient.chain.id}`);
  const receipt = opts.deployTx ? await receiptOfDeployTx(publicClient, opts.deployTx) : await findCreationReceipt(publicClient, address);
  const grant = adminGrantLog(receipt, address);
  if (receipt.status !== "success" || !(await createdBy(publicClient, receipt, address, grant !== undefined))) {
    throw new UsageError(`transaction ${receipt.transactionHash} did not deploy ${address}`);
  }
  const admin = grant?.topics[2] ? (getAddress(`0x${grant.topics[2].slice(26)}`) as Hex) : (getAddress(receipt.from) as Hex);
  return deploymentRecordOf({
    chainId: publicClient.chain.id,
    address,
    receipt,
    deployer: getAddress(receipt.from) as Hex,
    admin,
    compiler: art.compiler,
    code,
    ...(opts.toolVersion !== undefined ? { toolVersion: opts.toolVersion } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

async function receiptOfDeployTx(publicClient: Client, deployTx: Hex): Promise<TransactionReceipt> {
  const receipt = await publicClient.getTransactionReceipt({ hash: deployTx }).catch(() => undefined);
  if (!receipt) throw new UsageError(`transaction ${deployTx} is not mined on chain ${publicClient.chain.id}`);
  return receipt;
}

/** The receipt of the transaction that created `address`: in its creation block, or of the registry's first event. */
async function findCreationReceipt(publicClient: Client, address: Hex): Promise<TransactionReceipt> {
  const block = await creationBlock(publicClient, address);
  const receipt = (await receiptTouchingIn(publicClient, block, address)) ?? (await firstEventReceipt(publicClient, address, block));
  if (!receipt) throw new UsageError(`found the creation block ${block} of ${address} but not its transaction; pass --deploy-tx HASH`);
  return receipt;
}

/** The first block with code at `address`, by bisecting `eth_getCode` over history. */
async function creationBlock(publicClient: Client, address: Hex): Promise<bigint> {
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
  return lo;
}

/** The receipt in `blockNumber` that created `address` or emitted one of its events. */
async function receiptTouchingIn(publicClient: Client, blockNumber: bigint, address: Hex): Promise<TransactionReceipt | undefined> {
  const block = await publicClient.getBlock({ blockNumber, includeTransactions: true });
  for (const tx of block.transactions) {
    const r = await publicClient.getTransactionReceipt({ hash: tx.hash });
    if (r.contractAddress?.toLowerCase() === address.toLowerCase() || r.logs.some((l) => l.address.toLowerCase() === address.toLowerCase())) return r;
  }
  return undefined;
}

/** Some nodes answer eth_getCode imprecisely for old blocks: the receipt of the registry's first event up to `toBlock`. */
async function firstEventReceipt(publicClient: Client, address: Hex, toBlock: bigint): Promise<TransactionReceipt | undefined> {
  let first: Hex | undefined;
  await scanLogs({
    request: publicClient.request as never,
    address,
    fromBlock: 0n,
    toBlock,
    initialRange: 100_000n,
    maxRange: 1_000_000n,
    onLogs: (logs) => {
      if (!first && logs[0]) first = logs[0].transactionHash;
    },
  });
  return first ? publicClient.getTransactionReceipt({ hash: first }) : undefined;
}

/** The constructor's `RoleGranted(DEFAULT_ADMIN_ROLE, admin, sender)` of `address` in `receipt`. */
function adminGrantLog(receipt: TransactionReceipt, address: Hex): TransactionReceipt["logs"][number] | undefined {
  const roleGranted = keccak256(new TextEncoder().encode("RoleGranted(bytes32,address,address)"));
  return receipt.logs.find((l) => l.address.toLowerCase() === address.toLowerCase() && l.topics[0] === roleGranted && BigInt(l.topics[1] ?? "0x1") === 0n);
}

/**
 * Whether `receipt`'s transaction created `address`: a plain deployment names the contract; a factory (CREATE2)
 * deployment shows the constructor's RoleGranted(DEFAULT_ADMIN_ROLE) and no code before that block. Any other
 * transaction that merely emitted an event of the registry (a register(), a grantRole()) is not its deployment.
 */
async function createdBy(publicClient: Client, receipt: TransactionReceipt, address: Hex, grantsAdmin: boolean): Promise<boolean> {
  if (receipt.contractAddress?.toLowerCase() === address.toLowerCase()) return true;
  if (!grantsAdmin || receipt.blockNumber === 0n) return false;
  const before = await publicClient.getCode({ address, blockNumber: receipt.blockNumber - 1n }).catch(() => undefined);
  return before === undefined || before === "0x";
}
