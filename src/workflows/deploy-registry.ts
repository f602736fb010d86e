/**
 * Deploying the registry and writing its deployment record, as the CLI's `deploy` and the Hardhat task
 * `kms-registry:deploy` do it: refuse to replace a chain's record unless forced, make sure the record can be
 * written before anything is spent, deploy (plainly, or through the CREATE2 factory at the address that is
 * the same on every chain), then write the record — a failure to write it names the command that writes it
 * later.
 */
import { readFileSync } from "node:fs";
import path, { dirname } from "node:path";

import { concat, encodeDeployData, getAddress, keccak256, stringToHex, zeroAddress, type Abi, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, KmsRegistryError, NetworkError, UsageError, errorMessage, firstLine } from "../core/errors.js";
import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import { shortMessage } from "../registry/connect.js";
import { CREATE2_FACTORY, create2Address, deployDeterministic, installFactory as installCreate2Factory, factoryInstalled } from "../registry/create2.js";
import { createXReproduction } from "../registry/createx.js";
import { deployRegistry, loadRegistryArtifact, packageRoot, recordExistingDeployment, recordOf, type DeployStage, type RegistryArtifact } from "../registry/deploy.js";
import { deploymentPath, ensureWritableDir, readDeployment, writeDeployment, type DeploymentRecord, type VerifierRecord } from "../registry/deployments.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import { verifierRootArgs } from "../registry/verifier.js";

export interface DeployAndRecordParameters {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  admin?: Hex;
  /**
   * The registry's DcapVerifier: an existing one's address, or `{ deploy: true }` to deploy one first (pinned to
   * Intel's root, or `rootCaDer`; deterministically too when the registry is). Absent: none (registrar path only).
   */
  verifier?: Hex | { deploy: true; rootCaDer?: Uint8Array };
  /** Deploy through the CREATE2 factory (with this salt, or the default). */
  deterministic?: { salt?: Hex; installFactory?: boolean };
  deploymentsDir: string;
  force?: boolean;
  confirmations?: number;
  artifact?: RegistryArtifact;
  toolVersion?: string;
  onProgress?: (stage: DeployStage, detail: string) => void;
}

export interface DeployAndRecordResult {
  record: DeploymentRecord;
  gasUsed: bigint;
  /** Deterministic only: the address already held this build, nothing was sent. */
  alreadyDeployed: boolean;
  recordPath: string;
  archived?: string;
}

export async function deployAndRecord(p: DeployAndRecordParameters): Promise<DeployAndRecordResult> {
  const chainId = p.publicClient.chain.id;
  const existing = await readDeployment(p.deploymentsDir, chainId);
  if (existing && !p.force) {
    throw new UsageError(
      `${deploymentPath(p.deploymentsDir, chainId)} already records a KmsRegistry at ${existing.address} on chain ${chainId}; pass --force to deploy another (the old record is kept)`,
    );
  }
  // The record must be writable before anything is spent on a deployment.
  await ensureWritableDir(dirname(deploymentPath(p.deploymentsDir, chainId)));
  let verifier: VerifierRecord | undefined;
  if (typeof p.verifier === "object") {
    if (p.deterministic?.installFactory && !(await factoryInstalled(p.publicClient))) await installCreate2Factory(p.publicClient, p.walletClient);
    verifier = await deployVerifier({
      publicClient: p.publicClient,
      walletClient: p.walletClient,
      ...(p.verifier.rootCaDer ? { rootCaDer: p.verifier.rootCaDer } : {}),
      ...(p.deterministic ? { deterministic: {} } : {}),
      ...(p.confirmations ? { confirmations: p.confirmations } : {}),
      ...(p.onProgress ? { onProgress: p.onProgress } : {}),
    });
  } else if (p.verifier && p.verifier !== zeroAddress) {
    const code = await p.publicClient.getCode({ address: p.verifier });
    if (!code || code === "0x") throw new UsageError(`--verifier ${p.verifier}: no contract there on chain ${chainId}`);
    verifier = { address: getAddress(p.verifier) as Hex };
  }
  const common = {
    publicClient: p.publicClient,
    walletClient: p.walletClient,
    ...(p.admin ? { admin: p.admin } : {}),
    ...(verifier ? { verifier: verifier.address } : {}),
    confirmations: p.confirmations ?? 1,
    artifact: p.artifact ?? loadRegistryArtifact(),
    ...(p.toolVersion !== undefined ? { toolVersion: p.toolVersion } : {}),
    ...(p.onProgress ? { onProgress: p.onProgress } : {}),
  };
  const result = p.deterministic
    ? await deployDeterministic({ ...common, ...(p.deterministic.salt ? { salt: p.deterministic.salt } : {}), installFactory: p.deterministic.installFactory === true })
    : { ...(await deployRegistry(common)), alreadyDeployed: false };
  const record: DeploymentRecord = { ...recordOf(result), ...(verifier ? { verifier } : {}) };
  try {
    const written = await writeDeployment(p.deploymentsDir, record, { force: p.force === true });
    return { record, gasUsed: result.gasUsed, alreadyDeployed: result.alreadyDeployed, recordPath: written.path, ...(written.archived ? { archived: written.archived } : {}) };
  } catch (e) {
    throw new KmsRegistryError(
      "RECORD_NOT_WRITTEN",
      `KmsRegistry deployed at ${result.address} (tx ${result.deployTx}) but its record was not written: ${firstLine(errorMessage(e))}; write it with \`kms-registry deploy --rpc URL --record ${result.address} --deploy-tx ${result.deployTx}\``,
      { cause: e },
    );
  }
}

export interface RecordDeployedParameters {
  publicClient: PublicClient<Transport, Chain>;
  address: Hex;
  deployTx?: Hex;
  deploymentsDir: string;
  force?: boolean;
  toolVersion?: string;
}

/**
 * Write the record of a registry deployed some other way (Hardhat Ignition, another tool): what the chain says
 * about its deployment and, when it was created through CreateX (Ignition's `create2` strategy), the data that
 * reproduce its address on another chain.
 */
export async function recordDeployed(p: RecordDeployedParameters): Promise<{ record: DeploymentRecord; recordPath: string; archived?: string }> {
  const rec = await recordExistingDeployment(p.publicClient, p.address, {
    ...(p.deployTx ? { deployTx: p.deployTx } : {}),
    ...(p.toolVersion !== undefined ? { toolVersion: p.toolVersion } : {}),
  });
  const createx = await createXReproduction(p.publicClient, rec);
  const onChainVerifier = (await p.publicClient.readContract({ address: p.address, abi: kmsRegistryAbi, functionName: "verifier" }).catch(() => zeroAddress)) as Hex;
  const record: DeploymentRecord = {
    ...rec,
    ...(createx ? { create2: { ...createx, constructorArgs: { ...createx.constructorArgs, verifier: getAddress(onChainVerifier) as Hex } } } : {}),
    ...(onChainVerifier !== zeroAddress ? { verifier: { address: getAddress(onChainVerifier) as Hex } } : {}),
  };
  const written = await writeDeployment(p.deploymentsDir, record, { force: p.force === true });
  return { record, recordPath: written.path, ...(written.archived ? { archived: written.archived } : {}) };
}

/** The on-chain DCAP verifier's artifact (`artifacts/contracts/dcap/DcapVerifier.sol/DcapVerifier.json`). */
export function loadVerifierArtifact(root = packageRoot()): { abi: Abi; bytecode: Hex; deployedBytecode: Hex } {
  const file = path.join(root, "artifacts", "contracts", "dcap", "DcapVerifier.sol", "DcapVerifier.json");
  let art: { abi?: Abi; bytecode?: string; deployedBytecode?: string; linkReferences?: Record<string, unknown> };
  try {
    art = JSON.parse(readFileSync(file, "utf8")) as typeof art;
  } catch (e) {
    throw new InputError("ARTIFACT_MISSING", `cannot read the DcapVerifier artifact ${file} (${(e as NodeJS.ErrnoException).code ?? "bad JSON"}); run \`npx hardhat compile\` in a source checkout`);
  }
  if (!Array.isArray(art.abi) || typeof art.bytecode !== "string" || !/^0x[0-9a-fA-F]+$/.test(art.bytecode)) throw new InputError("ARTIFACT_INVALID", `${file}: missing abi or bytecode`);
  if (art.linkReferences && Object.keys(art.linkReferences).length) throw new InputError("ARTIFACT_INVALID", `${file}: the contract needs library linking, which deploy does not support`);
  return { abi: art.abi, bytecode: art.bytecode as Hex, deployedBytecode: (art.deployedBytecode ?? "0x") as Hex };
}

/** The default CREATE2 salt of the verifier: keccak256("dstack-kms-registry/DcapVerifier"). */
export const VERIFIER_SALT: Hex = keccak256(stringToHex("dstack-kms-registry/DcapVerifier"));

export interface DeployVerifierParameters {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  /** The root CA the verifier pins (DER); default Intel's SGX Root CA. */
  rootCaDer?: Uint8Array;
  /** Through the CREATE2 factory (the factory must be installed; `deployAndRecord` installs it when asked). */
  deterministic?: { salt?: Hex };
  confirmations?: number;
  onProgress?: (stage: DeployStage, detail: string) => void;
}

/**
 * Deploy the DcapVerifier pinned to a root CA (Intel's by default): plainly, or at its deterministic address
 * through the CREATE2 factory (code already there from the same build and root is reused).
 */
export async function deployVerifier(p: DeployVerifierParameters): Promise<VerifierRecord> {
  const art = loadVerifierArtifact();
  const rootDer = p.rootCaDer ?? INTEL_SGX_ROOT_CA_DER;
  const [rootX, rootY, rootSubjectHash, rootSerial] = verifierRootArgs(rootDer);
  const args = [rootX, rootY, rootSubjectHash, rootSerial] as const;
  const progress = p.onProgress ?? (() => {});
  const intelRoot = rootDer.length === INTEL_SGX_ROOT_CA_DER.length && rootDer.every((b, i) => b === INTEL_SGX_ROOT_CA_DER[i]);
  const base = { rootSubjectHash, rootSerial: rootSerial.toString(), intelRoot };
  const initCode = encodeDeployData({ abi: art.abi, bytecode: art.bytecode, args });
  let hash: Hex;
  let create2: VerifierRecord["create2"];
  if (p.deterministic) {
    const salt = p.deterministic.salt ?? VERIFIER_SALT;
    const initCodeHash = keccak256(initCode);
    const address = create2Address(CREATE2_FACTORY, salt, initCodeHash);
    create2 = { factory: CREATE2_FACTORY, salt, initCodeHash };
    const code = await p.publicClient.getCode({ address });
    if (code && code !== "0x") {
      progress("record", `DcapVerifier already deployed at ${address} (same build and root); reusing it`);
      return { address, ...base, create2 };
    }
    progress("estimate", `DcapVerifier deterministic address ${address} (factory ${CREATE2_FACTORY}, salt ${salt})`);
    hash = await send(p, () => p.walletClient.sendTransaction({ to: CREATE2_FACTORY, data: concat([salt, initCode]) }));
  } else {
    progress("estimate", `deploying DcapVerifier (root ${intelRoot ? "Intel SGX Root CA" : `NOT Intel's: subject hash ${rootSubjectHash}`})`);
    hash = await send(p, () => p.walletClient.deployContract({ abi: art.abi, bytecode: art.bytecode, args }));
  }
  progress("send", `sent ${hash}`);
  const receipt = await p.publicClient.waitForTransactionReceipt({ hash, confirmations: p.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success") throw new NetworkError("DEPLOY_REVERTED", `DcapVerifier deployment transaction ${hash} reverted in block ${receipt.blockNumber}`);
  const address = create2 ? create2Address(create2.factory, create2.salt, create2.initCodeHash) : receipt.contractAddress;
  const code = address ? await p.publicClient.getCode({ address }) : undefined;
  if (!address || !code || code === "0x") throw new NetworkError("DEPLOY_NO_CODE", `no DcapVerifier code after ${hash} (its runtime exceeds 24 KB until it is split: the chain must allow unlimited contract size)`);
  progress("wait", `DcapVerifier at ${address}, block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  return { address: getAddress(address) as Hex, deployTx: hash, block: Number(receipt.blockNumber), ...base, ...(create2 ? { create2 } : {}) };
}

async function send(p: DeployVerifierParameters, f: () => Promise<Hex>): Promise<Hex> {
  try {
    return await f();
  } catch (e) {
    throw new NetworkError("DEPLOY_FAILED", `DcapVerifier deployment transaction was not accepted: ${shortMessage(e)}`, { cause: e });
  }
}
