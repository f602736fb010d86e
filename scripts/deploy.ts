/**
 * Deploy the registry with Hardhat Ignition and write its deployment record — the Ignition module wrapper:
 *
 *   npx hardhat run scripts/deploy.ts --network sepolia            (admin: KMS_REGISTRY_ADMIN, default the deployer)
 *
 * Same as `npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network sepolia` followed by
 * `kms-registry deploy --rpc URL --record ADDR`. The record goes to deployments/<chainId>.json (local chains:
 * deployments/local/; `KMS_REGISTRY_DEPLOYMENTS_DIR` overrides the directory). An existing record for the chain
 * is replaced only with KMS_REGISTRY_FORCE=1 (the old one is kept).
 */
import { network } from "hardhat";
import type { Chain, PublicClient, Transport } from "viem";

import { packageVersion } from "../src/core/version.js";
import { parseAddress } from "../src/registry/connect.js";
import { recordExistingDeployment } from "../src/registry/deploy.js";
import { writeDeployment } from "../src/registry/deployments.js";
import KmsRegistryModule from "../ignition/modules/KmsRegistry.js";
import { deploymentsDirFromEnv, runScript } from "./hardhat-script.js";

async function main(): Promise<void> {
  const conn = await network.connect();
  const admin = process.env.KMS_REGISTRY_ADMIN ? parseAddress(process.env.KMS_REGISTRY_ADMIN, "KMS_REGISTRY_ADMIN") : undefined;
  const { registry } = await conn.ignition.deploy(KmsRegistryModule, admin ? { parameters: { KmsRegistryModule: { admin } } } : {});
  const publicClient = (await conn.viem.getPublicClient()) as unknown as PublicClient<Transport, Chain>;
  const rec = await recordExistingDeployment(publicClient, registry.address, { toolVersion: packageVersion() });
  const written = await writeDeployment(deploymentsDirFromEnv(), rec, { force: process.env.KMS_REGISTRY_FORCE === "1" });
  process.stdout.write(JSON.stringify({ ok: true, ...rec, hardhatNetwork: conn.networkName, recordPath: written.path }, null, 2) + "\n");
}

runScript("deploy", main);
