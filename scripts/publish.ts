/**
 * Publish a KMS identity from a Hardhat project — the environment's inputs to `publishKmsWorkflow`, like
 * `kms-registry publish`:
 *
 *   KMS_URL=https://kms.example.com:9201 KMS_PCCS=https://api.trustedservices.intel.com \
 *     npx hardhat run scripts/publish.ts --network sepolia
 *
 * The signing account is the network's first configured account (in this project's hardhat.config.ts:
 * `KMS_REGISTRY_PRIVATE_KEY`, from the environment or Hardhat's keystore —
 * `npx hardhat keystore set KMS_REGISTRY_PRIVATE_KEY`). `hardhat run` takes no script arguments, so the
 * inputs are environment variables:
 *
 *   KMS_REGISTRY_ADDRESS   registry address (default: deployments/<chainId>.json)
 *   KMS_URL | KMS_CERTS_DIR | KMS_BOOTSTRAP_FILE   where to pull the bootstrap info from (exactly one;
 *                          KMS_URL + KMS_BOOTSTRAP_FILE: use the saved file for an auto-bootstrapped KMS)
 *   KMS_COLLATERAL | KMS_PCCS   collateral JSON file, or a PCCS / Intel PCS base URL
 *   KMS_AT                 verification time, unix seconds (default: now)
 *   KMS_ACCEPT             accepted TCB statuses, comma-separated (default UpToDate,SWHardeningNeeded)
 *   KMS_ROOT_CA + KMS_ALLOW_SIMULATED_ROOT=1   development only: publish a quote verified under another root
 *   KMS_DRY_RUN=1          verify and estimate only
 *   KMS_REGISTRY_DEPLOY=1  (local networks) deploy a registry first when none is recorded
 *   KMS_REGISTRY_DEPLOYMENTS_DIR   deployment records directory (default: this package's deployments/)
 *
 * Prints one JSON document on stdout; progress on stderr. Exit code 1 on any refusal.
 */
import path from "node:path";

import { network } from "hardhat";
import type { Account, Chain, PublicClient, Transport, WalletClient } from "viem";

import { UsageError } from "../src/core/errors.js";
import { INPUT_KINDS, readInput } from "../src/core/files.js";
import { certificateDerFromFile, defaultCollateralCacheDir, fetchCollateral, parseCollateralJson } from "../src/dcap/index.js";
import type { Collateral } from "../src/dcap/types.js";
import type { PullSource } from "../src/kms/pull.js";
import { parseAddress } from "../src/registry/connect.js";
import { deployRegistry, recordOf } from "../src/registry/deploy.js";
import { findDeploymentByAddress, readDeployment, writeDeployment } from "../src/registry/deployments.js";
import { defaultStateDir } from "../src/registry/publish.js";
import { parseAcceptedStatuses } from "../src/dcap/tcb-policy.js";
import { publishKmsWorkflow, type RegistryTarget } from "../src/workflows/publish-kms.js";
import { deploymentsDirFromEnv, runScript } from "./hardhat-script.js";

const env = process.env;
const say = (stage: string, detail: string) => process.stderr.write(`[publish] ${stage}: ${detail}\n`);
const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x), 2) + "\n";

async function main(): Promise<void> {
  const conn = await network.connect();
  const target = await registryTarget(conn);
  const now = env.KMS_AT ? Number(env.KMS_AT) : Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 0) throw new UsageError("KMS_AT must be unix seconds");
  const source = sourceFromEnv();
  const accept = parseAcceptedStatuses(env.KMS_ACCEPT, "KMS_ACCEPT");
  const loadCollateral = collateralLoaderFromEnv(now);
  const rootCaDer = env.KMS_ROOT_CA ? await readRootCa(env.KMS_ROOT_CA) : undefined;
  const r = await publishKmsWorkflow({
    source,
    now,
    loadCollateral,
    ...(rootCaDer ? { rootCaDer } : {}),
    accept,
    allowSimulatedRoot: env.KMS_ALLOW_SIMULATED_ROOT === "1",
    connect: () => Promise.resolve(target),
    journalDir: defaultStateDir(env),
    dryRun: env.KMS_DRY_RUN === "1",
    onProgress: say,
    onVerified: ({ gate }) => {
      if (!gate.genuine) process.stderr.write("WARNING: NOT GENUINE — verified only under a simulated (non-Intel) root CA; development only.\n");
    },
  });
  if (!r.ok) {
    process.stdout.write(json({ ok: false, stage: r.stage, reason: r.gate.reason, checks: r.gate.checks }));
    process.stderr.write(`refusing to publish: ${r.gate.reason}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(json({ ok: true, network: conn.networkName, ...r.publish, genuine: r.gate.genuine }));
}

type HardhatConnection = Awaited<ReturnType<typeof network.connect>>;

/** The network's clients and the registry: KMS_REGISTRY_ADDRESS, the chain's deployment record, or (KMS_REGISTRY_DEPLOY=1) a new one. */
async function registryTarget(conn: HardhatConnection): Promise<RegistryTarget> {
  const publicClient = (await conn.viem.getPublicClient()) as unknown as PublicClient<Transport, Chain>;
  const [walletClient] = (await conn.viem.getWalletClients()) as unknown as WalletClient<Transport, Chain, Account>[];
  if (!walletClient) throw new UsageError(`network ${conn.networkName} has no account configured (set KMS_REGISTRY_PRIVATE_KEY in the environment or the Hardhat keystore)`);
  const chainId = await publicClient.getChainId();
  const deploymentsDir = deploymentsDirFromEnv(env);
  let registry = env.KMS_REGISTRY_ADDRESS ? parseAddress(env.KMS_REGISTRY_ADDRESS, "KMS_REGISTRY_ADDRESS") : undefined;
  let record = registry ? await findDeploymentByAddress(deploymentsDir, registry) : await readDeployment(deploymentsDir, chainId);
  if (!registry && !record && env.KMS_REGISTRY_DEPLOY === "1") {
    // the registrar path publishes here: a registrar-only registry (no on-chain verifier)
    record = recordOf(await deployRegistry({ publicClient, walletClient, verifier: "none", onProgress: say }));
    if (chainId === 31337 && conn.networkConfig.type === "http") await writeDeployment(deploymentsDir, record);
  }
  registry ??= record?.address;
  if (!registry) throw new UsageError(`no registry: set KMS_REGISTRY_ADDRESS or deploy one first (no deployments record for chain ${chainId})`);
  return { publicClient, walletClient, registry, record };
}

function sourceFromEnv(): PullSource {
  const sources = [env.KMS_URL && "KMS_URL", env.KMS_CERTS_DIR && "KMS_CERTS_DIR", env.KMS_BOOTSTRAP_FILE && !env.KMS_URL && "KMS_BOOTSTRAP_FILE"].filter(Boolean);
  if (sources.length !== 1) throw new UsageError("set exactly one of KMS_URL, KMS_CERTS_DIR, KMS_BOOTSTRAP_FILE");
  if (env.KMS_URL) return { kms: env.KMS_URL, ...(env.KMS_BOOTSTRAP_FILE ? { file: path.resolve(env.KMS_BOOTSTRAP_FILE) } : {}) };
  if (env.KMS_CERTS_DIR) return { certsDir: path.resolve(env.KMS_CERTS_DIR) };
  return { file: path.resolve(env.KMS_BOOTSTRAP_FILE!) };
}

/** KMS_COLLATERAL (a file) or KMS_PCCS (a PCCS / Intel PCS base URL, with the collateral cache). */
function collateralLoaderFromEnv(now: number): (quote: Uint8Array) => Promise<Collateral> {
  const file = env.KMS_COLLATERAL;
  const pccsUrl = env.KMS_PCCS;
  if (file) {
    return async () =>
      parseCollateralJson(new TextDecoder().decode(await readInput(path.resolve(file), INPUT_KINDS.collateral, { label: `KMS_COLLATERAL file ${JSON.stringify(file)}` })));
  }
  if (pccsUrl) return (quote) => fetchCollateral(quote, { pccsUrl, cacheDir: defaultCollateralCacheDir(env), now });
  throw new UsageError("set KMS_COLLATERAL (file) or KMS_PCCS (URL)");
}

async function readRootCa(file: string): Promise<Uint8Array> {
  return certificateDerFromFile(await readInput(path.resolve(file), INPUT_KINDS.certificate, { label: `KMS_ROOT_CA file ${JSON.stringify(file)}` }), "KMS_ROOT_CA");
}

runScript("publish", main);
