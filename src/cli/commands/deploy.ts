/**
 * `kms-registry deploy --rpc URL [--admin ADDR] [--verifier ADDR | --verifier-root FILE | --no-verifier] [--deployments DIR] [--force] [--confirmations N] [--json]`,
 * `kms-registry deploy --deterministic [--salt HEX] [--install-factory] [--dry-run] …` through the CREATE2 factory,
 * or `kms-registry deploy --rpc URL --record ADDR [--deploy-tx HASH]` for a registry deployed some other way.
 */
import type { Hex } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { packageVersion } from "../../core/version.js";
import { accountFromEnv, connect, parseAddress, walletFor } from "../../registry/connect.js";
import { CREATE2_FACTORY, DEFAULT_SALT, factoryInstalled, parseSalt, planDeterministic, planVerifierDeterministic } from "../../registry/create2.js";
import { INTEL_VERIFIER, loadRegistryArtifact, recordOf, type RegistryArtifact, type VerifierChoice } from "../../registry/deploy.js";
import type { DeploymentRecord, VerifierRecord } from "../../registry/deployments.js";
import { deployAndRecord, recordDeployed } from "../../workflows/deploy-registry.js";
import { contractsOfRecord, parseExplorers, verifyOnExplorers, type ExplorerOutcome } from "../../workflows/explorer-verify.js";
import { EXIT_OK, optFlag, optString, type CommandContext, type CommandSpec } from "../framework.js";
import { CONFIRMATIONS_OPTION, DEPLOYMENTS_OPTION, RPC_OPTION, confirmations, deploymentsDir, rpcUrl } from "../options/registry.js";
import { readRootCaDer } from "../options/verification.js";
import { printJson, progressPrinter } from "../output.js";

export const deployCommand: CommandSpec = {
  synopsis:
    "--rpc URL [--admin ADDR] [--verifier ADDR | --verifier-root FILE | --no-verifier] [--deterministic [--salt HEX] [--install-factory] [--dry-run]] [--verify [--explorers LIST]] [--deployments DIR] [--force] [--confirmations N] [--json] | --rpc URL --record ADDR [--deploy-tx HASH]",
  help: [
    "Deploys the compiled KmsRegistry (artifacts/contracts/KmsRegistry.sol/KmsRegistry.json from this package) with",
    "the key in KMS_REGISTRY_PRIVATE_KEY (environment only; never on the command line). The admin (default: the",
    "sender) gets DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE. Writes deployments/<chainId>.json (local chains 31337:",
    "deployments/local/), refusing to replace an existing record unless --force (the old one is kept).",
    "--record ADDR writes the record of a registry deployed some other way (Hardhat Ignition: `npx hardhat ignition",
    "deploy ignition/modules/KmsRegistry.ts --network sepolia`, then `kms-registry deploy --rpc URL --record ADDR`).",
    "The on-chain DCAP verifier (DcapVerifier, under Intel's SGX Root CA) is deployed first and the registry is built",
    "with it, so anyone can register through registerVerified; --verifier ADDR reuses a deployed one, --verifier-root",
    "FILE deploys one under another root (a simulated or test world: NOT GENUINE, never isVerifiedOnChain), and",
    "--no-verifier deploys a registrar-only registry. The record lists both contracts.",
    `--deterministic deploys through the CREATE2 factory ${CREATE2_FACTORY}: the address depends only on the salt`,
    `(default ${DEFAULT_SALT}), the compiled bytecode, the admin and the verifier (itself deployed through the factory`,
    "with the same salt), so both are at the same addresses on every chain for the same admin and root. They are printed first; --dry-run only computes it (no --rpc needed; with --rpc it also says whether it is",
    "deployed). Code already there from the same build is recorded instead of deployed again. --install-factory",
    "installs the factory on a chain that lacks it (a fresh local chain) by funding its one-time signer.",
    "--verify verifies the source on block explorers with @nomicfoundation/hardhat-verify (a development dependency):",
    "Etherscan with ETHERSCAN_API_KEY from the environment (without it: skipped, and said so), Blockscout",
    "(BLOCKSCOUT_API_KEY optional) and Sourcify with --explorers.",
  ].join("\n"),
  options: {
    ...RPC_OPTION,
    admin: { type: "string", valueName: "ADDR", description: "admin and first registrar (default: the sending account)" },
    verifier: { type: "string", valueName: "ADDR", description: "build the registry with the DcapVerifier already at ADDR (default: deploy one under Intel's root)" },
    "verifier-root": { type: "string", valueName: "FILE", description: "deploy the DcapVerifier under this root CA (PEM or DER) instead of Intel's: NOT GENUINE" },
    "no-verifier": { type: "boolean", description: "no on-chain verifier: a registrar-only registry (registerVerified and recheck revert NoVerifier)" },
    ...DEPLOYMENTS_OPTION,
    force: { type: "boolean", description: "replace an existing record for this chain (the old one is archived)" },
    ...CONFIRMATIONS_OPTION,
    record: { type: "string", valueName: "ADDR", description: "do not deploy: write the record of the registry already at ADDR (e.g. deployed by Ignition)" },
    "deploy-tx": { type: "string", valueName: "HASH", description: "with --record: the deployment transaction (else found from historical state)" },
    deterministic: { type: "boolean", description: "deploy through the CREATE2 factory: the same address on every chain" },
    salt: { type: "string", valueName: "HEX", description: `with --deterministic: the CREATE2 salt, up to 32 bytes (default ${DEFAULT_SALT})` },
    "install-factory": { type: "boolean", description: "with --deterministic: install the CREATE2 factory first if the chain lacks it" },
    "dry-run": { type: "boolean", description: "with --deterministic: print the address and reproduction data, send nothing" },
    verify: { type: "boolean", description: "verify the source on explorers (hardhat-verify; Etherscan needs ETHERSCAN_API_KEY, else skipped)" },
    explorers: { type: "string", valueName: "LIST", description: "with --verify: comma-separated etherscan, blockscout, sourcify (default etherscan)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const deterministic = optFlag(ctx, "deterministic");
    for (const o of ["salt", "install-factory", "dry-run"] as const) {
      if (!deterministic && (o === "salt" ? optString(ctx, o) !== undefined : optFlag(ctx, o))) throw new UsageError(`--${o} needs --deterministic`);
    }
    const verifier = await verifierChoice(ctx);
    if (deterministic && optFlag(ctx, "dry-run")) return dryRun(ctx, verifier);
    const rpc = rpcUrl(ctx);
    const adminOpt = optString(ctx, "admin");
    const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : undefined;
    const conf = confirmations(ctx);
    const dir = deploymentsDir(ctx);
    const force = optFlag(ctx, "force");
    const recordOpt = optString(ctx, "record");
    if (recordOpt !== undefined) {
      if (deterministic) throw new UsageError("--record and --deterministic exclude each other");
      if (verifier !== INTEL_VERIFIER) throw new UsageError("--record reads the registry's verifier from the chain; --verifier, --verifier-root and --no-verifier do not apply");
      return recordExisting(ctx, rpc, parseAddress(recordOpt, "--record"), dir, force);
    }
    const account = accountFromEnv(io.env);
    const artifact = loadRegistryArtifact();
    const conn = await connect(rpc);
    const saltOpt = optString(ctx, "salt");
    const r = await deployAndRecord({
      publicClient: conn.publicClient,
      walletClient: walletFor(conn, account),
      ...(admin ? { admin } : {}),
      verifier,
      ...(deterministic ? { deterministic: { ...(saltOpt !== undefined ? { salt: parseSalt(saltOpt) } : {}), installFactory: optFlag(ctx, "install-factory") } } : {}),
      deploymentsDir: dir,
      force,
      confirmations: conf,
      artifact,
      toolVersion: packageVersion(),
      onProgress: progressPrinter(io, "deploy"),
    });
    const result = { ...r.record, gasUsed: r.gasUsed, alreadyDeployed: r.alreadyDeployed };
    const written = { path: r.recordPath, archived: r.archived };
    const verification = optFlag(ctx, "verify") ? await verifyRecord(ctx, rpc, r.record) : undefined;
    if (ctx.json) {
      printJson(io, {
        ok: true,
        ...recordOf(result),
        gasUsed: result.gasUsed,
        ...(deterministic ? { alreadyDeployed: result.alreadyDeployed } : {}),
        recordPath: written.path,
        ...(written.archived ? { archived: written.archived } : {}),
        ...(verification ? { verification } : {}),
      });
    } else {
      io.stdout(
        [
          `KmsRegistry ${result.alreadyDeployed ? "already deployed" : "deployed"} at ${result.address} on chain ${result.chainId} (${result.network})`,
          `  tx ${result.deployTx}, block ${result.block}${result.alreadyDeployed ? "" : `, gas used ${result.gasUsed}`}`,
          `  admin ${result.admin}`,
          `  ${verifierLine(result.verifier)}`,
          ...(result.create2 ? [`  CREATE2 factory ${result.create2.factory}, salt ${result.create2.salt}, init code hash ${result.create2.initCodeHash}`] : []),
          `  record ${written.path}${written.archived ? ` (previous record kept as ${written.archived})` : ""}`,
          ...(verification ?? []).map((v) => `  verify ${v.contract} on ${v.explorer}: ${v.status}: ${v.detail}`),
          "",
        ].join("\n"),
      );
    }
    return EXIT_OK;
  },
};

/** `--verifier ADDR` / `--verifier-root FILE` / `--no-verifier` (at most one); default: a new verifier under Intel's root. */
async function verifierChoice(ctx: CommandContext): Promise<VerifierChoice> {
  const address = optString(ctx, "verifier");
  const rootFile = optString(ctx, "verifier-root");
  const none = optFlag(ctx, "no-verifier");
  if ([address !== undefined, rootFile !== undefined, none].filter(Boolean).length > 1) {
    throw new UsageError("--verifier, --verifier-root and --no-verifier exclude each other");
  }
  if (none) return "none";
  if (address !== undefined) return { address: parseAddress(address, "--verifier") };
  const rootDer = await readRootCaDer(ctx.io, rootFile);
  return rootDer ? { rootDer } : INTEL_VERIFIER;
}

function verifierLine(v: VerifierRecord | undefined): string {
  if (!v) return "verifier none (registrar path only: registerVerified and recheck revert NoVerifier)";
  const root = v.intelRoot ? "Intel's SGX Root CA" : "NOT Intel's root (simulated/test: NOT GENUINE)";
  return `verifier DcapVerifier ${v.address} (${root}${v.deployTx ? `, tx ${v.deployTx}` : ", reused"})`;
}

/** `--record ADDR`: write the deployment record of a registry deployed some other way; nothing is sent. */
async function recordExisting(ctx: CommandContext, rpc: string, address: Hex, dir: string, force: boolean): Promise<number> {
  const txOpt = optString(ctx, "deploy-tx");
  if (txOpt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(txOpt)) throw new UsageError("--deploy-tx must be a 32-byte 0x transaction hash");
  const conn = await connect(rpc);
  const { record: rec, ...written } = await recordDeployed({ publicClient: conn.publicClient, address, deploymentsDir: dir, force, toolVersion: packageVersion(), ...(txOpt ? { deployTx: txOpt.toLowerCase() as Hex } : {}) });
  if (ctx.json) printJson(ctx.io, { ok: true, ...rec, recordPath: written.recordPath, ...(written.archived ? { archived: written.archived } : {}) });
  else ctx.io.stdout(`recorded KmsRegistry ${rec.address} on chain ${rec.chainId} (deployed in block ${rec.block}, tx ${rec.deployTx}, admin ${rec.admin}; ${verifierLine(rec.verifier)}${rec.create2?.createx ? `; CreateX, ${rec.create2.createx.scope}` : ""}) in ${written.recordPath}\n`);
  return EXIT_OK;
}

/** `--deterministic --dry-run`: the address and reproduction data; with `--rpc`, whether the factory and the registry are there. */
async function dryRun(ctx: CommandContext, verifier: VerifierChoice): Promise<number> {
  const adminOpt = optString(ctx, "admin");
  const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : (accountFromEnv(ctx.io.env).address as Hex);
  const saltOpt = optString(ctx, "salt");
  const salt = saltOpt !== undefined ? parseSalt(saltOpt) : DEFAULT_SALT;
  const artifact: RegistryArtifact = loadRegistryArtifact();
  const verifierPlan = verifier !== "none" && "rootDer" in verifier ? planVerifierDeterministic({ rootDer: verifier.rootDer, salt }) : undefined;
  const verifierAddress = verifierPlan?.address ?? (verifier !== "none" && "address" in verifier ? verifier.address : undefined);
  const plan = planDeterministic({ admin, artifact, salt, ...(verifierAddress ? { verifier: verifierAddress } : {}) });
  let chain: { chainId: number; factoryInstalled: boolean; deployed: boolean } | undefined;
  if (optString(ctx, "rpc") !== undefined) {
    const conn = await connect(rpcUrl(ctx));
    const code = await conn.publicClient.getCode({ address: plan.address });
    chain = { chainId: conn.chainId, factoryInstalled: await factoryInstalled(conn.publicClient), deployed: !!code && code !== "0x" };
  }
  const { initCode: _i, ...data } = plan;
  const verifierData = verifierPlan ? (({ initCode: _v, ...rest }) => rest)(verifierPlan) : undefined;
  if (ctx.json) printJson(ctx.io, { ok: true, dryRun: true, ...data, ...(verifierData ? { verifier: verifierData } : {}), compiler: artifact.compiler, ...(chain ? { chain } : {}) });
  else {
    ctx.io.stdout(
      [
        `KmsRegistry deterministic address ${plan.address} (nothing sent)`,
        `  factory ${plan.factory}, salt ${plan.salt}`,
        `  init code hash ${plan.initCodeHash} (admin ${plan.constructorArgs.admin}, verifier ${plan.constructorArgs.verifier}, solc ${artifact.compiler.solc}, ${artifact.compiler.evmVersion})`,
        ...(verifierPlan ? [`  DcapVerifier deterministic address ${verifierPlan.address}, init code hash ${verifierPlan.initCodeHash}`] : []),
        ...(chain ? [`  chain ${chain.chainId}: factory ${chain.factoryInstalled ? "installed" : "missing"}, registry ${chain.deployed ? "deployed" : "not deployed"}`] : []),
        "",
      ].join("\n"),
    );
  }
  return EXIT_OK;
}

/** `--verify`: the deployed contracts on the explorers of `--explorers`, with the keys from the environment. */
async function verifyRecord(ctx: CommandContext, rpc: string, record: DeploymentRecord): Promise<ExplorerOutcome[]> {
  const explorers = parseExplorers(optString(ctx, "explorers") ?? "etherscan");
  const env = ctx.io.env;
  const outcomes = await verifyOnExplorers({
    rpcUrl: rpc,
    chainId: record.chainId,
    networkName: record.network,
    contracts: contractsOfRecord(record),
    explorers,
    ...(env.ETHERSCAN_API_KEY ? { etherscanApiKey: env.ETHERSCAN_API_KEY } : {}),
    ...(env.BLOCKSCOUT_API_KEY ? { blockscoutApiKey: env.BLOCKSCOUT_API_KEY } : {}),
    etherscanKeyHint: "set ETHERSCAN_API_KEY in the environment",
  });
  for (const o of outcomes) ctx.io.stderr(`[deploy] verify ${o.contract} on ${o.explorer}: ${o.status}: ${o.detail}\n`);
  return outcomes;
}
