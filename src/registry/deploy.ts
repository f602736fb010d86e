/**
 * Deploying the KmsRegistry (and, first, the on-chain DcapVerifier it is built with) from their compiled
 * Hardhat artifacts, and writing the deployment record.
 * Works from a source checkout and when this package is installed as a dependency: the artifact is
 * resolved relative to the package root, not the working directory.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { getAddress, getContract, keccak256, zeroAddress, type Abi, type Account, type Chain, type PublicClient, type TransactionReceipt, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, NetworkError, UsageError } from "../core/errors.js";
import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import { networkName, shortMessage } from "./connect.js";
import { DEPLOYMENT_FORMAT, type DeploymentRecord, type VerifierRecord } from "./deployments.js";
import { dcapVerifierAbi } from "./generated/dcap-verifier-abi.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { verifierRootArgs } from "./verifier.js";
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
  /** Byte ranges of the runtime code that the constructor fills in (immutables): they differ per deployment. */
  immutableRanges?: { start: number; length: number }[];
}

/** Whether deployed `code` is `art`'s runtime code, the immutables (set by the constructor) aside. */
export function runtimeMatches(code: Hex, art: RegistryArtifact): boolean {
  const a = code.toLowerCase();
  const b = art.deployedBytecode.toLowerCase();
  if (a.length !== b.length) return false;
  const mask = (h: string) => {
    let out = h;
    for (const r of art.immutableRanges ?? []) {
      const from = 2 + 2 * r.start;
      out = out.slice(0, from) + "0".repeat(2 * r.length) + out.slice(from + 2 * r.length);
    }
    return out;
  };
  return mask(a) === mask(b);
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

export function verifierArtifactPath(root = packageRoot()): string {
  return path.join(root, "artifacts", "contracts", "dcap", "DcapVerifier.sol", "DcapVerifier.json");
}

/** Load `artifacts/contracts/KmsRegistry.sol/KmsRegistry.json` (and, when present, its build info). */
export function loadRegistryArtifact(root = packageRoot()): RegistryArtifact {
  return loadArtifact(artifactPath(root), root, "KmsRegistry");
}

/** Load the DcapVerifier's artifact (the on-chain TDX quote verifier), as `loadRegistryArtifact` does the registry's. */
export function loadVerifierArtifact(root = packageRoot()): RegistryArtifact {
  return loadArtifact(verifierArtifactPath(root), root, "DcapVerifier");
}

function loadArtifact(file: string, root: string, name: string): RegistryArtifact {
  let art: {
    abi?: Abi;
    bytecode?: string;
    deployedBytecode?: string;
    buildInfoId?: string;
    linkReferences?: Record<string, unknown>;
    immutableReferences?: Record<string, { start: number; length: number }[]>;
  };
  try {
    art = JSON.parse(readFileSync(file, "utf8")) as typeof art;
  } catch (e) {
    throw new InputError(
      "ARTIFACT_MISSING",
      `cannot read the ${name} artifact ${file} (${(e as NodeJS.ErrnoException).code ?? "bad JSON"}); run \`npx hardhat compile\` in a source checkout`,
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
  const immutableRanges = Object.values(art.immutableReferences ?? {}).flat();
  return { abi: art.abi, bytecode: art.bytecode as Hex, deployedBytecode: (art.deployedBytecode ?? "0x") as Hex, compiler, ...(immutableRanges.length ? { immutableRanges } : {}) };
}

export type DeployStage = "estimate" | "send" | "wait" | "record";

/** Which DcapVerifier a registry is deployed with. */
export type VerifierChoice = { rootDer: Uint8Array } | { address: Hex } | "none";

/** The default: a new DcapVerifier under Intel's SGX Root CA. */
export const INTEL_VERIFIER: VerifierChoice = { rootDer: INTEL_SGX_ROOT_CA_DER };

/** The verifier section of a deployment record, read from the chain (`isIntelRoot()`, code hash). */
export async function verifierRecordAt(publicClient: PublicClient, address: Hex, deployed?: { deployTx: Hex; block: number }): Promise<VerifierRecord> {
  const code = await publicClient.getCode({ address });
  if (!code || code === "0x") throw new UsageError(`no contract at verifier address ${address} on this chain`);
  let intelRoot: boolean;
  try {
    intelRoot = await getContract({ address, abi: dcapVerifierAbi, client: publicClient }).read.isIntelRoot();
  } catch (e) {
    throw new UsageError(`the contract at ${address} is not a DcapVerifier (isIntelRoot() failed: ${shortMessage(e)})`);
  }
  return { contract: "DcapVerifier", address: getAddress(address) as Hex, intelRoot, bytecodeHash: keccak256(code), ...(deployed ?? {}) };
}

export interface DeployOptions {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  /** Constructor argument; defaults to the sending account. */
  admin?: Hex;
  /**
   * The registry's DcapVerifier: deploy one first under `rootDer` (default: Intel's SGX Root CA; a simulated or
   * test world passes its own root), reuse the one at `address`, or `"none"` (address(0): the registrar path only).
   */
  verifier?: VerifierChoice;
  verifierArtifact?: RegistryArtifact;
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

/** Deploy one contract from `art` with `args`; the receipt and the runtime code. */
async function deployOne(opts: DeployOptions, art: RegistryArtifact, args: readonly unknown[], what: string) {
  const account = opts.walletClient.account;
  const chainId = opts.publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  let hash: Hex;
  try {
    hash = await opts.walletClient.deployContract({ abi: art.abi, bytecode: art.bytecode, args: args as never });
  } catch (e) {
    // Nodes word "no funds" in many ways (some just say "Missing or invalid parameters"): check the balance.
    const balance = await opts.publicClient.getBalance({ address: account.address }).catch(() => undefined);
    const hint = balance === 0n ? ` (the sending account ${account.address} has no funds on chain ${chainId} to pay for gas)` : "";
    throw new NetworkError("DEPLOY_FAILED", `${what} deployment transaction was not accepted: ${shortMessage(e)}${hint}`, { cause: e });
  }
  progress("send", `sent ${hash} (${what})`);
  const receipt = await opts.publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new NetworkError("DEPLOY_REVERTED", `${what} deployment transaction ${hash} reverted in block ${receipt.blockNumber}`);
  }
  progress("wait", `${what} mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  const code = await opts.publicClient.getCode({ address: receipt.contractAddress });
  if (!code || code === "0x") throw new NetworkError("DEPLOY_NO_CODE", `no code at ${receipt.contractAddress} after the ${what} deployment`);
  return { receipt: receipt as TransactionReceipt & { contractAddress: Hex }, code };
}

/** The verifier a deployment uses: deployed now (with its gas), reused, or none. */
export async function resolveVerifier(opts: DeployOptions): Promise<{ record?: VerifierRecord; gasUsed: bigint }> {
  const choice = opts.verifier ?? INTEL_VERIFIER;
  if (choice === "none") return { gasUsed: 0n };
  if ("address" in choice) return { record: await verifierRecordAt(opts.publicClient, choice.address), gasUsed: 0n };
  const progress = opts.onProgress ?? (() => {});
  progress("estimate", `deploying DcapVerifier (root ${keccak256(choice.rootDer).slice(0, 18)}…) on chain ${opts.publicClient.chain.id}`);
  const art = opts.verifierArtifact ?? loadVerifierArtifact();
  const { receipt } = await deployOne(opts, art, verifierRootArgs(choice.rootDer), "DcapVerifier");
  const record = await verifierRecordAt(opts.publicClient, receipt.contractAddress, { deployTx: receipt.transactionHash, block: Number(receipt.blockNumber) });
  return { record, gasUsed: receipt.gasUsed };
}

/**
 * Deploy the registry — first its DcapVerifier unless `verifier` says otherwise — and return its deployment
 * record (not yet written; see `writeDeployment`). `gasUsed` covers both deployments.
 */
export async function deployRegistry(opts: DeployOptions): Promise<DeploymentRecord & { gasUsed: bigint }> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const account = opts.walletClient.account;
  const admin = opts.admin ?? (account.address as Hex);
  const chainId = opts.publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  const v = await resolveVerifier(opts);
  const verifier = v.record?.address ?? zeroAddress;
  progress("estimate", `deploying KmsRegistry(admin ${admin}, verifier ${verifier}) from ${account.address} on chain ${chainId}`);
  const { receipt, code } = await deployOne(opts, art, [admin, verifier], "KmsRegistry");
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
  return { ...record, ...(v.record ? { verifier: v.record } : {}), gasUsed: receipt.gasUsed + v.gasUsed };
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
  const verifier = await registryVerifier(publicClient, address, receipt.blockNumber);
  const rec = deploymentRecordOf({
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
  return verifier ? { ...rec, verifier } : rec;
}

/** The verifier section for the registry at `address`: its `verifier()` (none for a registrar-only or older registry). */
export async function registryVerifier(publicClient: PublicClient, address: Hex, registryBlock?: bigint): Promise<VerifierRecord | undefined> {
  let v: Hex;
  try {
    v = (await getContract({ address, abi: kmsRegistryAbi, client: publicClient }).read.verifier()) as Hex;
  } catch {
    return undefined; // a registry built before the on-chain path has no verifier()
  }
  if (v === zeroAddress) return undefined;
  return verifierRecordAt(publicClient, v, await findVerifierCreation(publicClient as Client, v, registryBlock));
}

/**
 * The transaction that created the verifier at `address`, when history tells (best effort: undefined otherwise):
 * looked for in the registry's creation block and the blocks just before it (deployments send the verifier
 * first), then by bisecting history.
 */
async function findVerifierCreation(publicClient: Client, address: Hex, registryBlock?: bigint): Promise<{ deployTx: Hex; block: number } | undefined> {
  const found = (r: TransactionReceipt | undefined) => (r ? { deployTx: r.transactionHash, block: Number(r.blockNumber) } : undefined);
  try {
    if (registryBlock !== undefined) {
      for (let b = registryBlock; b >= 0n && b + VERIFIER_SEARCH_BLOCKS > registryBlock; b--) {
        const r = await receiptTouchingIn(publicClient, b, address);
        if (r) return found(r);
      }
    }
    return found(await receiptTouchingIn(publicClient, await creationBlock(publicClient, address), address));
  } catch {
    return undefined;
  }
}

/** How many blocks before the registry's `recordExistingDeployment` looks for its verifier's creation. */
const VERIFIER_SEARCH_BLOCKS = 16n;

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
