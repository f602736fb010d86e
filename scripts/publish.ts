/**
 * A thin wrapper over the plugin's task action for `hardhat run`, which takes no arguments: the environment's
 * inputs become the options of `kms-registry:publish` (in a project with the plugin, prefer the task itself:
 * `npx hardhat kms-registry:publish --network sepolia --kms https://kms.example.com:9201 --pccs https://api.trustedservices.intel.com`).
 *
 *   KMS_URL=https://kms.example.com:9201 KMS_PCCS=https://api.trustedservices.intel.com \
 *     npx hardhat run scripts/publish.ts --network sepolia
 *
 *   KMS_REGISTRY_ADDRESS → --registry        KMS_URL → --kms          KMS_CERTS_DIR → --certs-dir
 *   KMS_BOOTSTRAP_FILE → --file              KMS_COLLATERAL → --collateral    KMS_PCCS → --pccs
 *   KMS_AT → --at     KMS_ACCEPT → --accept  KMS_ROOT_CA → --root-ca  KMS_ALLOW_SIMULATED_ROOT=1 → --allow-simulated-root
 *   KMS_DRY_RUN=1 → --dry-run    KMS_REGISTRY_DEPLOY=1 → --deploy-registry    KMS_REGISTRY_DEPLOYMENTS_DIR → --deployments
 *   KMS_ALLOW_DEBUG=1 → --allow-debug    KMS_AMD_CRL → --amd-crl    KMS_KDS=1 → --kds    KMS_KDS_URL → --kds-url
 *
 * The signing account is the network's first configured account (`KMS_REGISTRY_PRIVATE_KEY` from the
 * environment or Hardhat's keystore). Prints the task's JSON document on stdout; exit code 1 on a refusal.
 */
import hre from "hardhat";

import publishAction from "../src/hardhat/tasks/publish.js";
import { runScript } from "./hardhat-script.js";

const env = process.env;
const flag = (v: string | undefined) => v === "1";

runScript("publish", async () => {
  await publishAction(
    {
    registry: env.KMS_REGISTRY_ADDRESS,
    kms: env.KMS_URL,
    certsDir: env.KMS_CERTS_DIR,
    file: env.KMS_BOOTSTRAP_FILE,
    collateral: env.KMS_COLLATERAL,
    pccs: env.KMS_PCCS,
    at: env.KMS_AT,
    accept: env.KMS_ACCEPT,
    rootCa: env.KMS_ROOT_CA,
    allowSimulatedRoot: flag(env.KMS_ALLOW_SIMULATED_ROOT),
    allowDebug: flag(env.KMS_ALLOW_DEBUG),
    amdCrl: env.KMS_AMD_CRL,
    kds: flag(env.KMS_KDS),
    kdsUrl: env.KMS_KDS_URL,
    dryRun: flag(env.KMS_DRY_RUN),
    deployRegistry: flag(env.KMS_REGISTRY_DEPLOY),
    deployments: env.KMS_REGISTRY_DEPLOYMENTS_DIR,
      confirmations: 1,
      journalDir: undefined,
      json: true,
    },
    hre,
  );
});
