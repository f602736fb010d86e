/**
 * Deploying the registry and writing its deployment record, as the CLI's `deploy` and the Hardhat task
 * `kms-registry:deploy` do it: refuse to replace a chain's record unless forced, make sure the record can be
 * written before anything is spent, deploy (plainly, or through the CREATE2 factory at the address that is
 * the same on every chain), then write the record — a failure to write it names the command that writes it
 * later.
 */
import { dirname } from "node:path";

import { zeroAddress, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { KmsRegistryError, UsageError, errorMessage, firstLine } from "../core/errors.js";
import { deployDeterministic } from "../registry/create2.js";
import { createXReproduction } from "../registry/createx.js";
import { deployRegistry, loadRegistryArtifact, recordExistingDeployment, recordOf, type DeployStage, type RegistryArtifact, type VerifierChoice } from "../registry/deploy.js";
import { deploymentPath, ensureWritableDir, readDeployment, writeDeployment, type DeploymentRecord } from "../registry/deployments.js";

export interface DeployAndRecordParameters {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  admin?: Hex;
  /** The registry's DcapVerifier (default: a new one under Intel's root; deterministically too when the registry is). */
  verifier?: VerifierChoice;
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
  const common = {
    publicClient: p.publicClient,
    walletClient: p.walletClient,
    ...(p.admin ? { admin: p.admin } : {}),
    ...(p.verifier ? { verifier: p.verifier } : {}),
    confirmations: p.confirmations ?? 1,
    artifact: p.artifact ?? loadRegistryArtifact(),
    ...(p.toolVersion !== undefined ? { toolVersion: p.toolVersion } : {}),
    ...(p.onProgress ? { onProgress: p.onProgress } : {}),
  };
  const result = p.deterministic
    ? await deployDeterministic({ ...common, ...(p.deterministic.salt ? { salt: p.deterministic.salt } : {}), installFactory: p.deterministic.installFactory === true })
    : { ...(await deployRegistry(common)), alreadyDeployed: false };
  const record = recordOf(result);
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
  const record: DeploymentRecord = createx ? { ...rec, create2: { ...createx, constructorArgs: { admin: rec.admin, verifier: rec.verifier?.address ?? zeroAddress } } } : rec;
  const written = await writeDeployment(p.deploymentsDir, record, { force: p.force === true });
  return { record, recordPath: written.path, ...(written.archived ? { archived: written.archived } : {}) };
}
