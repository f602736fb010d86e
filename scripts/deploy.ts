/**
 * Deploy the registry with Hardhat Ignition and write its deployment record — the Ignition module wrapper:
 *
 *   npx hardhat run scripts/deploy.ts --network sepolia            (admin: KMS_REGISTRY_ADMIN, default the deployer)
 *   KMS_REGISTRY_STRATEGY=create2 npx hardhat run scripts/deploy.ts --network sepolia   (CreateX: one address on every chain)
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
import { recordDeployed } from "../src/workflows/deploy-registry.js";
import KmsRegistryModule from "../ignition/modules/KmsRegistry.js";
import { deploymentsDirFromEnv, runScript } from "./hardhat-script.js";

async function main(): Promise<void> {
  // In process, the DcapVerifier needs the P-256 precompile (osaka).
  const probe = await network.create();
  const conn = probe.networkConfig.type === "edr-simulated" ? await network.create({ override: { hardfork: "osaka" } }) : probe;
  const strategy = process.env.KMS_REGISTRY_STRATEGY === "create2" ? { strategy: "create2" as const } : {};
  const admin = process.env.KMS_REGISTRY_ADMIN ? parseAddress(process.env.KMS_REGISTRY_ADMIN, "KMS_REGISTRY_ADMIN") : undefined;
  const { registry } = await conn.ignition.deploy(KmsRegistryModule, { ...strategy, ...(admin ? { parameters: { KmsRegistryModule: { admin } } } : {}) });
  const publicClient = (await conn.viem.getPublicClient()) as unknown as PublicClient<Transport, Chain>;
  const { record: rec, recordPath } = await recordDeployed({
    publicClient,
    address: registry.address,
    deploymentsDir: deploymentsDirFromEnv(),
    force: process.env.KMS_REGISTRY_FORCE === "1",
    toolVersion: packageVersion(),
  });
  process.stdout.write(JSON.stringify({ ok: true, ...rec, hardhatNetwork: conn.networkName, recordPath }, null, 2) + "\n");
}

runScript("deploy", main);
