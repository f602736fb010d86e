/**
 * Publish a KMS identity from a Hardhat project — a thin shell over the library, like `kms-registry publish`:
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

import { DEFAULT_ACCEPTED_STATUSES, TCB_STATUSES, type TcbStatus } from "../src/dcap/types.js";
import { parseCollateralJson } from "../src/dcap/collateral.js";
import { certificateDerFromFile } from "../src/dcap/x509.js";
import { UsageError } from "../src/core/errors.js";
import { INPUT_KINDS, readInput } from "../src/core/files.js";
import { pullBootstrap, type PullSource } from "../src/kms/pull.js";
import { parseAddress } from "../src/registry/connect.js";
import { checkRegistryCode, deployRegistry, packageRoot, recordOf } from "../src/registry/deploy.js";
import { checkChainAgainstRecord, findDeploymentByAddress, readDeployment, writeDeployment } from "../src/registry/deployments.js";
import { defaultStateDir, publishKms } from "../src/registry/publish.js";
import { verifyForPublish } from "../src/workflows/publish-kms.js";

const env = process.env;
const say = (stage: string, detail: string) => process.stderr.write(`[publish] ${stage}: ${detail}\n`);

async function main(): Promise<void> {
  const conn = await network.connect();
  const publicClient = (await conn.viem.getPublicClient()) as unknown as PublicClient<Transport, Chain>;
  const [walletClient] = (await conn.viem.getWalletClients()) as unknown as WalletClient<Transport, Chain, Account>[];
  if (!walletClient) throw new UsageError(`network ${conn.networkName} has no account configured (set KMS_REGISTRY_PRIVATE_KEY in the environment or the Hardhat keystore)`);
  const chainId = await publicClient.getChainId();
  const deploymentsDir = env.KMS_REGISTRY_DEPLOYMENTS_DIR ? path.resolve(env.KMS_REGISTRY_DEPLOYMENTS_DIR) : path.join(packageRoot(), "deployments");

  let registry = env.KMS_REGISTRY_ADDRESS ? parseAddress(env.KMS_REGISTRY_ADDRESS, "KMS_REGISTRY_ADDRESS") : undefined;
  let record = registry ? await findDeploymentByAddress(deploymentsDir, registry) : await readDeployment(deploymentsDir, chainId);
  if (!registry && !record && env.KMS_REGISTRY_DEPLOY === "1") {
    const dep = await deployRegistry({ publicClient, walletClient, onProgress: say });
    record = recordOf(dep);
    if (chainId === 31337 && conn.networkConfig.type === "http") await writeDeployment(deploymentsDir, record);
  }
  registry ??= record?.address;
  if (!registry) throw new UsageError(`no registry: set KMS_REGISTRY_ADDRESS or deploy one first (no deployments record for chain ${chainId})`);
  checkChainAgainstRecord(record, chainId, registry);

  const sources = [env.KMS_URL && "KMS_URL", env.KMS_CERTS_DIR && "KMS_CERTS_DIR", env.KMS_BOOTSTRAP_FILE && !env.KMS_URL && "KMS_BOOTSTRAP_FILE"].filter(Boolean);
  if (sources.length !== 1) throw new UsageError("set exactly one of KMS_URL, KMS_CERTS_DIR, KMS_BOOTSTRAP_FILE");
  const source: PullSource = env.KMS_URL
    ? { kms: env.KMS_URL, ...(env.KMS_BOOTSTRAP_FILE ? { file: path.resolve(env.KMS_BOOTSTRAP_FILE) } : {}) }
    : env.KMS_CERTS_DIR
      ? { certsDir: path.resolve(env.KMS_CERTS_DIR) }
      : { file: path.resolve(env.KMS_BOOTSTRAP_FILE!) };
  const now = env.KMS_AT ? Number(env.KMS_AT) : Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 0) throw new UsageError("KMS_AT must be unix seconds");
  const accept = (env.KMS_ACCEPT ?? DEFAULT_ACCEPTED_STATUSES.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean) as TcbStatus[];
  const known = TCB_STATUSES.filter((s) => s !== "Revoked") as readonly string[];
  const unknown = accept.find((s) => !known.includes(s));
  if (unknown !== undefined || !accept.length) throw new UsageError(`KMS_ACCEPT: ${unknown !== undefined ? `unknown TCB status ${JSON.stringify(unknown)}` : "empty"} (one of ${known.join(", ")})`);

  say("pull", JSON.stringify(source));
  const pulled = await pullBootstrap(source, { now });
  const { info } = pulled;
  if (!info.quote) throw new UsageError("the bootstrap info carries no quote");

  say("verify", "quote, TCB policy, key binding, event log");
  let collateral;
  if (env.KMS_COLLATERAL) collateral = parseCollateralJson(new TextDecoder().decode(await readInput(path.resolve(env.KMS_COLLATERAL), INPUT_KINDS.collateral, { label: `KMS_COLLATERAL file ${JSON.stringify(env.KMS_COLLATERAL)}` })));
  else if (env.KMS_PCCS) {
    const { fetchCollateral, defaultCollateralCacheDir } = await import("../src/dcap/pccs.js");
    collateral = await fetchCollateral(info.quote, { pccsUrl: env.KMS_PCCS, cacheDir: defaultCollateralCacheDir(env), now });
  } else throw new UsageError("set KMS_COLLATERAL (file) or KMS_PCCS (URL)");
  const rootCaDer = env.KMS_ROOT_CA ? certificateDerFromFile(await readInput(path.resolve(env.KMS_ROOT_CA), INPUT_KINDS.certificate, { label: `KMS_ROOT_CA file ${JSON.stringify(env.KMS_ROOT_CA)}` }), "KMS_ROOT_CA") : undefined;
  const certs = "certsDir" in source ? await (await import("../src/kms/certs-dir.js")).checkCertsDir(source.certsDir, { now }) : null;
  const gate = await verifyForPublish(info, {
    collateral,
    now,
    accept,
    allowSimulatedRoot: env.KMS_ALLOW_SIMULATED_ROOT === "1",
    ...(rootCaDer ? { rootCaDer } : {}),
    certs,
    sourceChecks: pulled.checks,
    ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
  });
  if (!gate.ok) {
    process.stdout.write(JSON.stringify({ ok: false, stage: "verify", reason: gate.reason, checks: gate.checks }, null, 2) + "\n");
    process.stderr.write(`refusing to publish: ${gate.reason}\n`);
    process.exitCode = 1;
    return;
  }
  if (!gate.genuine) process.stderr.write("WARNING: NOT GENUINE — verified only under a simulated (non-Intel) root CA; development only.\n");

  await checkRegistryCode(publicClient, registry, record);
  const r = await publishKms({
    publicClient,
    walletClient,
    registry,
    identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote },
    fromBlock: BigInt(record?.block ?? 0),
    journalDir: defaultStateDir(env),
    dryRun: env.KMS_DRY_RUN === "1",
    onProgress: say,
  });
  process.stdout.write(JSON.stringify({ ok: true, network: conn.networkName, ...r, genuine: gate.genuine }, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
}

main().catch((e: unknown) => {
  const line = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  // Hardhat's HHE7 for an unset configVariable: say where the value can come from.
  const missing = /Configuration Variable "([A-Z0-9_]+)" not found/.exec(line);
  const hint = missing ? ` (set ${missing[1]} in the environment, or store it with \`npx hardhat keystore set ${missing[1]}\`)` : "";
  process.stderr.write(`publish: ${line}${hint}\n`);
  process.exitCode = e instanceof UsageError || missing ? 2 : 1;
});
