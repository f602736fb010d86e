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
import path from "node:path";

import { network } from "hardhat";
import type { Chain, PublicClient, Transport } from "viem";

import { packageVersion } from "../src/core/version.js";
import { UsageError } from "../src/core/errors.js";
import { parseAddress } from "../src/registry/connect.js";
import { packageRoot, recordExistingDeployment } from "../src/registry/deploy.js";
import { writeDeployment } from "../src/registry/deployments.js";
import KmsRegistryModule from "../ignition/modules/KmsRegistry.js";

async function main(): Promise<void> {
  const conn = await network.connect();
  const admin = process.env.KMS_REGISTRY_ADMIN ? parseAddress(process.env.KMS_REGISTRY_ADMIN, "KMS_REGISTRY_ADMIN") : undefined;
  const { registry } = await conn.ignition.deploy(KmsRegistryModule, admin ? { parameters: { KmsRegistryModule: { admin } } } : {});
  const publicClient = (await conn.viem.getPublicClient()) as unknown as PublicClient<Transport, Chain>;
  const rec = await recordExistingDeployment(publicClient, registry.address, { toolVersion: packageVersion() });
  const dir = process.env.KMS_REGISTRY_DEPLOYMENTS_DIR ? path.resolve(process.env.KMS_REGISTRY_DEPLOYMENTS_DIR) : path.join(packageRoot(), "deployments");
  const written = await writeDeployment(dir, rec, { force: process.env.KMS_REGISTRY_FORCE === "1" });
  process.stdout.write(JSON.stringify({ ok: true, ...rec, hardhatNetwork: conn.networkName, recordPath: written.path }, null, 2) + "\n");
}

main().catch((e: unknown) => {
  const line = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  // Hardhat's HHE7 for an unset configVariable: say where the value can come from.
  const missing = /Configuration Variable "([A-Z0-9_]+)" not found/.exec(line);
  const hint = missing ? ` (set ${missing[1]} in the environment, or store it with \`npx hardhat keystore set ${missing[1]}\`)` : "";
  process.stderr.write(`deploy: ${line}${hint}\n`);
  process.exitCode = e instanceof UsageError || missing ? 2 : 1;
});
