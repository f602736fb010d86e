/**
 * Deterministic deployment of the KmsRegistry through the deterministic-deployment proxy at
 * 0x4e59b44847b379578588920cA78FbF26c0B4956C, a CREATE2 factory that exists at that address on Ethereum and the
 * major L2s. It was created by a presigned transaction without a chain id, so anyone can install it at the
 * same address on a chain that lacks it (fund its one-time signer, send the raw transaction).
 *
 * The factory's calldata is `salt (32 bytes) ‖ init code`; it creates the contract with CREATE2, so the
 * address is keccak256(0xff ‖ factory ‖ salt ‖ keccak256(init code))[12:]. The init code is the compiled
 * creation bytecode followed by the ABI-encoded constructor arguments (the admin and the verifier): the same
 * salt, the same compiler output and the same arguments give the same address on every chain. The DcapVerifier
 * is deployed through the factory first, with the same salt and its root as constructor arguments, so it too has
 * the same address everywhere, and with it the registry.
 */
import { concat, encodeAbiParameters, getAddress, getCreate2Address, keccak256, stringToHex, zeroAddress, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { NetworkError, UsageError } from "../core/errors.js";
import { shortMessage } from "./connect.js";
import {
  deploymentRecordOf,
  INTEL_VERIFIER,
  loadRegistryArtifact,
  loadVerifierArtifact,
  recordExistingDeployment,
  runtimeMatches,
  verifierRecordAt,
  type DeployOptions,
  type RegistryArtifact,
} from "./deploy.js";
import type { Create2Info, DeploymentRecord, VerifierRecord } from "./deployments.js";
import { verifierRootArgs } from "./verifier.js";

/** The deterministic-deployment proxy (CREATE2 factory). */
export const CREATE2_FACTORY: Hex = "0x4e59b44847b379578588920cA78FbF26c0B4956C";
/** The one-time signer of the factory's presigned deployment transaction (nonce 0; nobody holds its key). */
export const CREATE2_FACTORY_SIGNER: Hex = "0x3fAB184622Dc19b6109349B94811493BF2a45362";
/** The presigned deployment transaction of the factory: legacy, no chain id, gas price 100 gwei, gas limit 100000. */
export const CREATE2_FACTORY_DEPLOY_TX: Hex =
  "0xf8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba02222222222222222222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222";
/** What the signer must hold to pay for that transaction: 100000 gas × 100 gwei. */
export const CREATE2_FACTORY_FUNDING = 100_000n * 100_000_000_000n;
/** The factory's runtime code (69 bytes), as created by the transaction above. */
export const CREATE2_FACTORY_RUNTIME: Hex =
  "0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3";

/** The default salt: keccak256 of the UTF-8 text "dstack-kms-registry/KmsRegistry". */
export const DEFAULT_SALT: Hex = keccak256(stringToHex("dstack-kms-registry/KmsRegistry"));

/** `--salt HEX`: a 32-byte 0x value, or a shorter hex value left-padded with zeros to 32 bytes. */
export function parseSalt(value: string): Hex {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value)) throw new UsageError(`--salt must be 0x hex of at most 32 bytes, got ${JSON.stringify(value.slice(0, 80))}`);
  return `0x${value.slice(2).toLowerCase().padStart(64, "0")}`;
}

/** The registry's init code: creation bytecode ‖ abi.encode(admin, verifier). */
export function registryInitCode(artifact: RegistryArtifact, admin: Hex, verifier: Hex = zeroAddress): Hex {
  return concat([artifact.bytecode, encodeAbiParameters([{ type: "address" }, { type: "address" }], [admin, verifier])]);
}

export interface DeterministicPlan extends Create2Info {
  address: Hex;
  initCode: Hex;
}

/** The CREATE2 plan of a DcapVerifier under the root certificate `rootDer`. */
export interface VerifierPlan {
  address: Hex;
  initCode: Hex;
  factory: Hex;
  salt: Hex;
  initCodeHash: Hex;
  constructorArgs: { rootX: Hex; rootY: Hex; rootSubjectHash: Hex; rootSerial: string };
}

/** The verifier's address and reproduction data for `rootDer` and `salt` (default: the registry's default salt). */
export function planVerifierDeterministic(p: { rootDer: Uint8Array; salt?: Hex; artifact?: RegistryArtifact }): VerifierPlan {
  const artifact = p.artifact ?? loadVerifierArtifact();
  const salt = p.salt ?? DEFAULT_SALT;
  const [rootX, rootY, rootSubjectHash, rootSerial] = verifierRootArgs(p.rootDer);
  const initCode = concat([
    artifact.bytecode,
    encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }], [rootX, rootY, rootSubjectHash, rootSerial]),
  ]);
  const initCodeHash = keccak256(initCode);
  return {
    address: create2Address(CREATE2_FACTORY, salt, initCodeHash),
    initCode,
    factory: CREATE2_FACTORY,
    salt,
    initCodeHash,
    constructorArgs: { rootX, rootY, rootSubjectHash, rootSerial: rootSerial.toString() },
  };
}

/** The address and reproduction data of a deterministic deployment of the registry with `admin` and `salt`. */
export function planDeterministic(p: { admin: Hex; verifier?: Hex; salt?: Hex; artifact?: RegistryArtifact }): DeterministicPlan {
  const artifact = p.artifact ?? loadRegistryArtifact();
  const admin = getAddress(p.admin) as Hex;
  const verifier = getAddress(p.verifier ?? zeroAddress) as Hex;
  const salt = p.salt ?? DEFAULT_SALT;
  const initCode = registryInitCode(artifact, admin, verifier);
  const initCodeHash = keccak256(initCode);
  return {
    address: create2Address(CREATE2_FACTORY, salt, initCodeHash),
    initCode,
    factory: CREATE2_FACTORY,
    salt,
    initCodeHash,
    constructorArgs: { admin, verifier },
  };
}

/** keccak256(0xff ‖ factory ‖ salt ‖ initCodeHash)[12:], checksummed. */
export function create2Address(factory: Hex, salt: Hex, initCodeHash: Hex): Hex {
  return getAddress(getCreate2Address({ from: factory, salt, bytecodeHash: initCodeHash })) as Hex;
}

type Client = PublicClient<Transport, Chain>;

/** Whether the factory is installed on the chain; refuses other code at its address. */
export async function factoryInstalled(publicClient: Client): Promise<boolean> {
  const code = await publicClient.getCode({ address: CREATE2_FACTORY });
  if (!code || code === "0x") return false;
  if (code.toLowerCase() !== CREATE2_FACTORY_RUNTIME) {
    throw new NetworkError("CREATE2_FACTORY_MISSING", `the code at ${CREATE2_FACTORY} on chain ${publicClient.chain.id} is not the deterministic-deployment proxy`);
  }
  return true;
}

/**
 * Install the factory on a chain that lacks it: fund its one-time signer (from the wallet's account, only what
 * is missing) and send the presigned transaction with `eth_sendRawTransaction`. The node must accept
 * transactions without a chain id (Hardhat's node and most public RPCs do). Returns false when already installed.
 */
export async function installFactory(publicClient: Client, walletClient: WalletClient<Transport, Chain, Account>): Promise<boolean> {
  if (await factoryInstalled(publicClient)) return false;
  const nonce = await publicClient.getTransactionCount({ address: CREATE2_FACTORY_SIGNER });
  if (nonce !== 0) {
    throw new NetworkError("CREATE2_FACTORY_INSTALL_FAILED", `the factory's signer ${CREATE2_FACTORY_SIGNER} has already sent a transaction on chain ${publicClient.chain.id}; the factory cannot be installed there`);
  }
  try {
    const balance = await publicClient.getBalance({ address: CREATE2_FACTORY_SIGNER });
    if (balance < CREATE2_FACTORY_FUNDING) {
      const fund = await walletClient.sendTransaction({ to: CREATE2_FACTORY_SIGNER, value: CREATE2_FACTORY_FUNDING - balance });
      const r = await publicClient.waitForTransactionReceipt({ hash: fund });
      if (r.status !== "success") throw new Error(`funding transaction ${fund} reverted`);
    }
    const hash = await publicClient.sendRawTransaction({ serializedTransaction: CREATE2_FACTORY_DEPLOY_TX });
    const r = await publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`factory deployment transaction ${hash} reverted`);
  } catch (e) {
    throw new NetworkError("CREATE2_FACTORY_INSTALL_FAILED", `cannot install the CREATE2 factory on chain ${publicClient.chain.id}: ${shortMessage(e)}`, { cause: e });
  }
  if (!(await factoryInstalled(publicClient))) {
    throw new NetworkError("CREATE2_FACTORY_INSTALL_FAILED", `the factory's deployment transaction was mined but ${CREATE2_FACTORY} has no code`);
  }
  return true;
}

export interface DeterministicOptions extends DeployOptions {
  salt?: Hex;
  /** Install the factory first when the chain lacks it (else refuse). */
  installFactory?: boolean;
}

export type DeterministicResult = DeploymentRecord & { gasUsed: bigint; alreadyDeployed: boolean };

/** Send `salt ‖ initCode` to the factory; the receipt. */
async function sendToFactory(opts: DeterministicOptions, salt: Hex, initCode: Hex, what: string) {
  const { publicClient, walletClient } = opts;
  const account = walletClient.account;
  const chainId = publicClient.chain.id;
  let hash: Hex;
  try {
    hash = await walletClient.sendTransaction({ to: CREATE2_FACTORY, data: concat([salt, initCode]) });
  } catch (e) {
    const balance = await publicClient.getBalance({ address: account.address }).catch(() => undefined);
    const hint = balance === 0n ? ` (the sending account ${account.address} has no funds on chain ${chainId} to pay for gas)` : "";
    throw new NetworkError("DEPLOY_FAILED", `${what} deployment transaction was not accepted: ${shortMessage(e)}${hint}`, { cause: e });
  }
  opts.onProgress?.("send", `sent ${hash} (${what})`);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success") throw new NetworkError("DEPLOY_REVERTED", `${what} deployment transaction ${hash} reverted in block ${receipt.blockNumber}`);
  opts.onProgress?.("wait", `${what} mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  return receipt;
}

/** The verifier of a deterministic deployment: through the factory (or found there already), reused, or none. */
async function deterministicVerifier(opts: DeterministicOptions, salt: Hex): Promise<{ record?: VerifierRecord; gasUsed: bigint }> {
  const choice = opts.verifier ?? INTEL_VERIFIER;
  if (choice === "none") return { gasUsed: 0n };
  if ("address" in choice) return { record: await verifierRecordAt(opts.publicClient, choice.address), gasUsed: 0n };
  const art = opts.verifierArtifact ?? loadVerifierArtifact();
  const plan = planVerifierDeterministic({ rootDer: choice.rootDer, salt, artifact: art });
  const create2 = { factory: plan.factory, salt: plan.salt, initCodeHash: plan.initCodeHash, constructorArgs: plan.constructorArgs };
  const existing = await opts.publicClient.getCode({ address: plan.address });
  if (existing && existing !== "0x") {
    if (!runtimeMatches(existing, art)) {
      throw new UsageError(`${plan.address} on chain ${opts.publicClient.chain.id} holds code that is not this DcapVerifier build (keccak ${keccak256(existing)})`);
    }
    opts.onProgress?.("record", `DcapVerifier already deployed at ${plan.address} with identical code; reusing it`);
    return { record: { ...(await verifierRecordAt(opts.publicClient, plan.address)), create2 }, gasUsed: 0n };
  }
  const receipt = await sendToFactory(opts, plan.salt, plan.initCode, "DcapVerifier");
  const deployed = { deployTx: receipt.transactionHash, block: Number(receipt.blockNumber) };
  return { record: { ...(await verifierRecordAt(opts.publicClient, plan.address, deployed)), create2 }, gasUsed: receipt.gasUsed };
}

/**
 * Deploy the registry through the CREATE2 factory at its deterministic address. When that address already
 * holds the registry's runtime code (the same init code was deployed there before), nothing is sent and the
 * existing deployment is recorded instead; other code there is refused.
 */
export async function deployDeterministic(opts: DeterministicOptions): Promise<DeterministicResult> {
  const art = opts.artifact ?? loadRegistryArtifact();
  const { publicClient, walletClient } = opts;
  const account = walletClient.account;
  const admin = (opts.admin ?? account.address) as Hex;
  const salt = opts.salt ?? DEFAULT_SALT;
  const chainId = publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  await ensureFactory(opts);
  const v = await deterministicVerifier(opts, salt);
  const plan = planDeterministic({ admin, artifact: art, salt, ...(v.record ? { verifier: v.record.address } : {}) });
  const reproduction: Create2Info = { factory: plan.factory, salt: plan.salt, initCodeHash: plan.initCodeHash, constructorArgs: plan.constructorArgs };
  progress("estimate", `deterministic address ${plan.address} (factory ${plan.factory}, salt ${plan.salt}, admin ${admin}, verifier ${plan.constructorArgs.verifier}) on chain ${chainId}`);

  const existing = await publicClient.getCode({ address: plan.address });
  if (existing && existing !== "0x") {
    if (!runtimeMatches(existing, art)) {
      throw new UsageError(`${plan.address} on chain ${chainId} holds code that is not this KmsRegistry build (keccak ${keccak256(existing)})`);
    }
    progress("record", `already deployed at ${plan.address} with identical code; recording it`);
    const rec = await recordExistingDeployment(publicClient, plan.address, {
      artifact: art,
      ...(opts.toolVersion !== undefined ? { toolVersion: opts.toolVersion } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    return { ...rec, ...(v.record ? { verifier: v.record } : {}), create2: reproduction, gasUsed: v.gasUsed, alreadyDeployed: true };
  }

  const receipt = await sendToFactory(opts, plan.salt, plan.initCode, "KmsRegistry");
  const hash = receipt.transactionHash;
  const code = await publicClient.getCode({ address: plan.address });
  if (!code || code === "0x") throw new NetworkError("DEPLOY_NO_CODE", `no code at ${plan.address} after the factory call ${hash}`);
  const record = deploymentRecordOf({
    chainId,
    address: plan.address,
    receipt,
    deployer: getAddress(account.address) as Hex,
    admin: plan.constructorArgs.admin,
    compiler: art.compiler,
    code,
    ...(opts.toolVersion !== undefined ? { toolVersion: opts.toolVersion } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { ...record, ...(v.record ? { verifier: v.record } : {}), create2: reproduction, gasUsed: receipt.gasUsed + v.gasUsed, alreadyDeployed: false };
}

/** Refuse (or, with `installFactory`, install the factory) when the chain lacks the CREATE2 factory. */
async function ensureFactory(opts: DeterministicOptions): Promise<void> {
  const { publicClient, walletClient } = opts;
  if (await factoryInstalled(publicClient)) return;
  if (!opts.installFactory) {
    throw new NetworkError(
      "CREATE2_FACTORY_MISSING",
      `the CREATE2 factory ${CREATE2_FACTORY} is not deployed on chain ${publicClient.chain.id}; pass --install-factory to install it (funds its one-time signer ${CREATE2_FACTORY_SIGNER} with ${CREATE2_FACTORY_FUNDING} wei)`,
    );
  }
  opts.onProgress?.("send", `installing the CREATE2 factory at ${CREATE2_FACTORY}`);
  await installFactory(publicClient, walletClient);
}
