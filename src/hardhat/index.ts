/**
 * The Hardhat 3 plugin of dstack-kms-registry:
 *
 *   import kmsRegistry from "dstack-kms-registry/hardhat";
 *   export default defineConfig({ plugins: [kmsRegistry], networks: { sepolia: { type: "http", url: …,
 *     accounts: [configVariable("KMS_REGISTRY_PRIVATE_KEY")] } } });
 *
 * Tasks `kms-registry:deploy`, `kms-registry:publish`, `kms-registry:recheck` and `kms-registry:audit` run
 * the same workflows as the `kms-registry` command line on the network chosen with `--network`, signing with
 * that network's configured account (keystore or environment through `configVariable`). Actions load lazily.
 */
import { task } from "hardhat/config";
import { definePlugin } from "hardhat/plugins";
import { ArgumentType } from "hardhat/types/arguments";

import { DEFAULT_ACCEPTED_STATUSES } from "../dcap/types.js";
import { PLUGIN_ID } from "./network.js";

const S = ArgumentType.STRING;
const SW = ArgumentType.STRING_WITHOUT_DEFAULT;

const deployTask = task("kms-registry:deploy", "Deploy the KmsRegistry on --network and write its deployment record")
  .addOption({ name: "admin", type: SW, defaultValue: undefined, description: "admin and first registrar (default: the network's first account)" })
  .addOption({ name: "verifier", type: SW, defaultValue: undefined, description: "build the registry with the DcapVerifier already at ADDR (default: deploy one under Intel's root)" })
  .addOption({ name: "verifierRoot", type: SW, defaultValue: undefined, description: "DEVELOPMENT: deploy the DcapVerifier under this root CA (PEM or DER) instead of Intel's: NOT GENUINE" })
  .addFlag({ name: "noVerifier", description: "no on-chain verifier: a registrar-only registry" })
  .addFlag({ name: "deterministic", description: "deploy through the CREATE2 factory 0x4e59…956C: the same address on every chain" })
  .addOption({ name: "salt", type: SW, defaultValue: undefined, description: "with --deterministic: the CREATE2 salt, up to 32 bytes of 0x hex" })
  .addFlag({ name: "installFactory", description: "with --deterministic: install the CREATE2 factory on a chain that lacks it" })
  .addFlag({ name: "dryRun", description: "with --deterministic: print the address and reproduction data, send nothing" })
  .addFlag({ name: "force", description: "replace an existing record for this chain (the old one is archived)" })
  .addOption({ name: "confirmations", type: ArgumentType.INT, defaultValue: 1, description: "blocks to wait for" })
  .addOption({ name: "deployments", type: SW, defaultValue: undefined, description: "deployment records directory (default <project>/deployments)" })
  .addOption({ name: "record", type: SW, defaultValue: undefined, description: "do not deploy: write the record of the registry at ADDR (e.g. deployed by Ignition)" })
  .addOption({ name: "deployTx", type: SW, defaultValue: undefined, description: "with --record: the deployment transaction (else found from historical state)" })
  .addFlag({ name: "verify", description: "verify the deployed contract on the configured explorers (hardhat-verify)" })
  .addOption({ name: "explorers", type: S, defaultValue: "etherscan", description: "with --verify: comma-separated etherscan, blockscout, sourcify" })
  .addFlag({ name: "json", description: "print one JSON document" })
  .setAction(() => import("./tasks/deploy.js"))
  .build();

const publishTask = task("kms-registry:publish", "Verify a KMS's attestation and publish its identity to the registry")
  .addOption({ name: "registry", type: SW, defaultValue: undefined, description: "registry address (default: the network's deployment record)" })
  .addOption({ name: "kms", type: SW, defaultValue: undefined, description: "KMS RPC URL to pull the bootstrap info from" })
  .addOption({ name: "certsDir", type: SW, defaultValue: undefined, description: "a KMS certs directory to read instead" })
  .addOption({ name: "file", type: SW, defaultValue: undefined, description: "a saved bootstrap-info JSON (with --kms: for an auto-bootstrapped KMS)" })
  .addOption({ name: "collateral", type: SW, defaultValue: undefined, description: "collateral JSON file (dcap-qvl QuoteCollateralV3 layout)" })
  .addOption({ name: "pccs", type: SW, defaultValue: undefined, description: "fetch collateral from a PCCS / Intel PCS base URL" })
  .addOption({ name: "at", type: SW, defaultValue: undefined, description: "verification time, unix seconds (default: now)" })
  .addOption({ name: "rootCa", type: SW, defaultValue: undefined, description: "DEVELOPMENT: trust this root CA (PEM or DER) instead of Intel's" })
  .addOption({ name: "accept", type: SW, defaultValue: undefined, description: `accepted TCB statuses (default ${DEFAULT_ACCEPTED_STATUSES.join(",")})` })
  .addFlag({ name: "allowSimulatedRoot", description: "DEVELOPMENT ONLY: publish a quote verified under --root-ca (NOT GENUINE)" })
  .addFlag({ name: "allowDebug", description: "publish a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production)" })
  .addOption({ name: "amdCrl", type: SW, defaultValue: undefined, description: "SEV-SNP: AMD's CRL of the ARK (DER or PEM), checked and published with the report" })
  .addFlag({ name: "kds", description: "SEV-SNP: fetch the VCEK, AMD's chain and CRL the attestation does not carry from AMD's KDS, cached on disk" })
  .addOption({ name: "kdsUrl", type: SW, defaultValue: undefined, description: "SEV-SNP: another KDS base URL (implies --kds)" })
  .addFlag({ name: "dryRun", description: "verify and estimate gas; send nothing" })
  .addFlag({ name: "deployRegistry", description: "local chains only: deploy a registry first when none is recorded" })
  .addOption({ name: "confirmations", type: ArgumentType.INT, defaultValue: 1, description: "blocks to wait for" })
  .addOption({ name: "deployments", type: SW, defaultValue: undefined, description: "deployment records directory (default <project>/deployments)" })
  .addOption({ name: "journalDir", type: SW, defaultValue: undefined, description: "send journal directory (default $KMS_REGISTRY_STATE_DIR or ~/.local/state/kms-registry)" })
  .addFlag({ name: "json", description: "print one JSON document" })
  .setAction(() => import("./tasks/publish.js"))
  .build();

const auditTask = task("kms-registry:audit", "Rebuild the registry's state from its events and report anomalies")
  .addOption({ name: "registry", type: SW, defaultValue: undefined, description: "registry address (default: the network's deployment record)" })
  .addOption({ name: "fromBlock", type: SW, defaultValue: undefined, description: "first block to scan (default: the deployment block)" })
  .addOption({ name: "toBlock", type: SW, defaultValue: undefined, description: "last block to scan (default: latest)" })
  .addOption({ name: "deployments", type: SW, defaultValue: undefined, description: "deployment records directory (default <project>/deployments)" })
  .addFlag({ name: "json", description: "print one JSON document" })
  .setAction(() => import("./tasks/audit.js"))
  .build();

const recheckTask = task("kms-registry:recheck", "Recheck a registered KMS on chain with Intel's current collateral (permissionless)")
  .addOption({ name: "kms", type: SW, defaultValue: undefined, description: "the registered KMS's address" })
  .addOption({ name: "registry", type: SW, defaultValue: undefined, description: "registry address (default: the network's deployment record)" })
  .addOption({ name: "collateral", type: SW, defaultValue: undefined, description: "collateral JSON file (dcap-qvl QuoteCollateralV3 layout)" })
  .addOption({ name: "pccs", type: SW, defaultValue: undefined, description: "fetch collateral from a PCCS / Intel PCS base URL" })
  .addFlag({ name: "dryRun", description: "simulate the recheck and print its outcome; send nothing" })
  .addOption({ name: "confirmations", type: ArgumentType.INT, defaultValue: 1, description: "blocks to wait for" })
  .addOption({ name: "deployments", type: SW, defaultValue: undefined, description: "deployment records directory (default <project>/deployments)" })
  .addFlag({ name: "json", description: "print one JSON document" })
  .setAction(() => import("./tasks/recheck.js"))
  .build();

export const kmsRegistryPlugin = definePlugin({
  id: PLUGIN_ID,
  npmPackage: "dstack-kms-registry",
  tasks: [deployTask, publishTask, recheckTask, auditTask],
});

export default kmsRegistryPlugin;
