/**
 * Deterministic deployment of the KmsRegistry through the deterministic-deployment proxy at
 * 0x4e59b44847b379578588920cA78FbF26c0B4956C, a CREATE2 factory that exists at that address on Ethereum and the
 * major L2s. It was created by a presigned transaction without a chain id, so anyone can install it at the
 * same address on a chain that lacks it (fund its one-time signer, send the raw transaction).
 *
 * The factory's calldata is `salt (32 bytes) ‖ init code`; it creates the contract with CREATE2, so the
 * address is keccak256(0xff ‖ factory ‖ salt ‖ keccak256(init code))[12:]. The init code is the compiled
 * creation bytecode followed by the ABI-encoded constructor argument (the admin): the same salt, the same
 * compiler output and the same admin give the same address on every chain.
 */
import { concat, encodeAbiParameters, getAddress, getCreate2Address, keccak256, stringToHex, zeroAddress, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { NetworkError, UsageError } from "../core/errors.js";
import { shortMessage } from "./connect.js";
import { deploymentRecordOf, loadRegistryArtifact, recordExistingDeployment, type DeployOptions, type RegistryArtifact } from "./deploy.js";
import type { Create2Info, DeploymentRecord } from "./deployments.js";

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
  const plan = planDeterministic({ admin, artifact: art, ...(opts.verifier ? { verifier: opts.verifier } : {}), ...(opts.salt ? { salt: opts.salt } : {}) });
  const chainId = publicClient.chain.id;
  const progress = opts.onProgress ?? (() => {});
  const reproduction: Create2Info = { factory: plan.factory, salt: plan.salt, initCodeHash: plan.initCodeHash, constructorArgs: plan.constructorArgs };
  progress("estimate", `deterministic address ${plan.address} (factory ${plan.factory}, salt ${plan.salt}, admin ${admin}) on chain ${chainId}`);

  const existing = await publicClient.getCode({ address: plan.address });
  if (existing && existing !== "0x") {
    if (existing.toLowerCase() !== art.deployedBytecode.toLowerCase()) {
      throw new UsageError(`${plan.address} on chain ${chainId} holds code that is not this KmsRegistry build (keccak ${keccak256(existing)})`);
    }
    progress("record", `already deployed at ${plan.address} with identical code; recording it`);
    const rec = await recordExistingDeployment(publicClient, plan.address, {
      artifact: art,
      ...(opts.toolVersion !== undefined ? { toolVersion: opts.toolVersion } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    return { ...rec, create2: reproduction, gasUsed: 0n, alreadyDeployed: true };
  }

  if (!(await factoryInstalled(publicClient))) {
    if (!opts.installFactory) {
      throw new NetworkError(
        "CREATE2_FACTORY_MISSING",
        `the CREATE2 factory ${CREATE2_FACTORY} is not deployed on chain ${chainId}; pass --install-factory to install it (funds its one-time signer ${CREATE2_FACTORY_SIGNER} with ${CREATE2_FACTORY_FUNDING} wei)`,
      );
    }
    progress("send", `installing the CREATE2 factory at ${CREATE2_FACTORY}`);
    await installFactory(publicClient, walletClient);
  }

  let hash: Hex;
  try {
    hash = await walletClient.sendTransaction({ to: CREATE2_FACTORY, data: concat([plan.salt, plan.initCode]) });
  } catch (e) {
    const balance = await publicClient.getBalance({ address: account.address }).catch(() => undefined);
    const hint = balance === 0n ? ` (the sending account ${account.address} has no funds on chain ${chainId} to pay for gas)` : "";
    throw new NetworkError("DEPLOY_FAILED", `deployment transaction was not accepted: ${shortMessage(e)}${hint}`, { cause: e });
  }
  progress("send", `sent ${hash}`);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success") throw new NetworkError("DEPLOY_REVERTED", `deployment transaction ${hash} reverted in block ${receipt.blockNumber}`);
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
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
  return { ...record, create2: reproduction, gasUsed: receipt.gasUsed, alreadyDeployed: false };
}
