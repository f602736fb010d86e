/**
 * `kms-registry deploy --rpc URL [--admin ADDR] [--deployments DIR] [--force] [--confirmations N] [--json]`,
 * `kms-registry deploy --deterministic [--salt HEX] [--install-factory] [--dry-run] …` through the CREATE2 factory,
 * or `kms-registry deploy --rpc URL --record ADDR [--deploy-tx HASH]` for a registry deployed some other way.
 */
import { dirname } from "node:path";

import type { Hex } from "../../core/bytes.js";
import { KmsRegistryError, UsageError, errorMessage, firstLine } from "../../core/errors.js";
import { packageVersion } from "../../core/version.js";
import { accountFromEnv, connect, parseAddress, walletFor } from "../../registry/connect.js";
import { CREATE2_FACTORY, DEFAULT_SALT, deployDeterministic, factoryInstalled, parseSalt, planDeterministic } from "../../registry/create2.js";
import { deployRegistry, loadRegistryArtifact, recordOf, type RegistryArtifact } from "../../registry/deploy.js";
import { deploymentPath, ensureWritableDir, readDeployment, writeDeployment } from "../../registry/deployments.js";
import { EXIT_OK, optFlag, optString, type CommandContext, type CommandSpec } from "../framework.js";
import { CONFIRMATIONS_OPTION, DEPLOYMENTS_OPTION, RPC_OPTION, confirmations, deploymentsDir, rpcUrl } from "../options/registry.js";
import { printJson, progressPrinter } from "../output.js";
import { recordDeployed } from "../../workflows/deploy-registry.js";

export const deployCommand: CommandSpec = {
  synopsis:
    "--rpc URL [--admin ADDR] [--deterministic [--salt HEX] [--install-factory] [--dry-run]] [--deployments DIR] [--force] [--confirmations N] [--json] | --rpc URL --record ADDR [--deploy-tx HASH]",
  help: [
    "Deploys the compiled KmsRegistry (artifacts/contracts/KmsRegistry.sol/KmsRegistry.json from this package) with",
    "the key in KMS_REGISTRY_PRIVATE_KEY (environment only; never on the command line). The admin (default: the",
    "sender) gets DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE. Writes deployments/<chainId>.json (local chains 31337:",
    "deployments/local/), refusing to replace an existing record unless --force (the old one is kept).",
    "--record ADDR writes the record of a registry deployed some other way (Hardhat Ignition: `npx hardhat ignition",
    "deploy ignition/modules/KmsRegistry.ts --network sepolia`, then `kms-registry deploy --rpc URL --record ADDR`).",
    `--deterministic deploys through the CREATE2 factory ${CREATE2_FACTORY}: the address depends only on the salt`,
    `(default ${DEFAULT_SALT}), the compiled bytecode and the admin, so it is the same on every chain for the same`,
    "admin. It is printed first; --dry-run only computes it (no --rpc needed; with --rpc it also says whether it is",
    "deployed). Code already there from the same build is recorded instead of deployed again. --install-factory",
    "installs the factory on a chain that lacks it (a fresh local chain) by funding its one-time signer.",
  ].join("\n"),
  options: {
    ...RPC_OPTION,
    admin: { type: "string", valueName: "ADDR", description: "admin and first registrar (default: the sending account)" },
    ...DEPLOYMENTS_OPTION,
    force: { type: "boolean", description: "replace an existing record for this chain (the old one is archived)" },
    ...CONFIRMATIONS_OPTION,
    record: { type: "string", valueName: "ADDR", description: "do not deploy: write the record of the registry already at ADDR (e.g. deployed by Ignition)" },
    "deploy-tx": { type: "string", valueName: "HASH", description: "with --record: the deployment transaction (else found from historical state)" },
    deterministic: { type: "boolean", description: "deploy through the CREATE2 factory: the same address on every chain" },
    salt: { type: "string", valueName: "HEX", description: `with --deterministic: the CREATE2 salt, up to 32 bytes (default ${DEFAULT_SALT})` },
    "install-factory": { type: "boolean", description: "with --deterministic: install the CREATE2 factory first if the chain lacks it" },
    "dry-run": { type: "boolean", description: "with --deterministic: print the address and reproduction data, send nothing" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const deterministic = optFlag(ctx, "deterministic");
    for (const o of ["salt", "install-factory", "dry-run"] as const) {
      if (!deterministic && (o === "salt" ? optString(ctx, o) !== undefined : optFlag(ctx, o))) throw new UsageError(`--${o} needs --deterministic`);
    }
    if (deterministic && optFlag(ctx, "dry-run")) return dryRun(ctx);
    const rpc = rpcUrl(ctx);
    const adminOpt = optString(ctx, "admin");
    const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : undefined;
    const conf = confirmations(ctx);
    const dir = deploymentsDir(ctx);
    const force = optFlag(ctx, "force");
    const recordOpt = optString(ctx, "record");
    if (recordOpt !== undefined) {
      if (deterministic) throw new UsageError("--record and --deterministic exclude each other");
      return recordExisting(ctx, rpc, parseAddress(recordOpt, "--record"), dir, force);
    }
    const account = accountFromEnv(io.env);
    const artifact = loadRegistryArtifact();
    const conn = await connect(rpc);
    const existing = await readDeployment(dir, conn.chainId);
    if (existing && !force) {
      throw new UsageError(`${deploymentPath(dir, conn.chainId)} already records a KmsRegistry at ${existing.address} on chain ${conn.chainId}; pass --force to deploy another (the old record is kept)`);
    }
    // The record must be writable before anything is spent on a deployment.
    await ensureWritableDir(dirname(deploymentPath(dir, conn.chainId)));
    const common = {
      publicClient: conn.publicClient,
      walletClient: walletFor(conn, account),
      ...(admin ? { admin } : {}),
      confirmations: conf,
      artifact,
      toolVersion: packageVersion(),
      onProgress: progressPrinter(io, "deploy"),
    };
    const saltOpt = optString(ctx, "salt");
    const result = deterministic
      ? await deployDeterministic({ ...common, ...(saltOpt !== undefined ? { salt: parseSalt(saltOpt) } : {}), installFactory: optFlag(ctx, "install-factory") })
      : { ...(await deployRegistry(common)), alreadyDeployed: false };
    let written: Awaited<ReturnType<typeof writeDeployment>>;
    try {
      written = await writeDeployment(dir, recordOf(result), { force });
    } catch (e) {
      const why = firstLine(errorMessage(e));
      throw new KmsRegistryError(
        "RECORD_NOT_WRITTEN",
        `KmsRegistry deployed at ${result.address} (tx ${result.deployTx}) but its record was not written: ${why}; write it with \`kms-registry deploy --rpc URL --record ${result.address} --deploy-tx ${result.deployTx}\``,
        { cause: e },
      );
    }
    if (ctx.json) {
      printJson(io, {
        ok: true,
        ...recordOf(result),
        gasUsed: result.gasUsed,
        ...(deterministic ? { alreadyDeployed: result.alreadyDeployed } : {}),
        recordPath: written.path,
        ...(written.archived ? { archived: written.archived } : {}),
      });
    } else {
      io.stdout(
        [
          `KmsRegistry ${result.alreadyDeployed ? "already deployed" : "deployed"} at ${result.address} on chain ${result.chainId} (${result.network})`,
          `  tx ${result.deployTx}, block ${result.block}${result.alreadyDeployed ? "" : `, gas used ${result.gasUsed}`}`,
          `  admin ${result.admin}`,
          ...(result.create2 ? [`  CREATE2 factory ${result.create2.factory}, salt ${result.create2.salt}, init code hash ${result.create2.initCodeHash}`] : []),
          `  record ${written.path}${written.archived ? ` (previous record kept as ${written.archived})` : ""}`,
          "",
        ].join("\n"),
      );
    }
    return EXIT_OK;
  },
};

/** `--record ADDR`: write the deployment record of a registry deployed some other way; nothing is sent. */
async function recordExisting(ctx: CommandContext, rpc: string, address: Hex, dir: string, force: boolean): Promise<number> {
  const txOpt = optString(ctx, "deploy-tx");
  if (txOpt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(txOpt)) throw new UsageError("--deploy-tx must be a 32-byte 0x transaction hash");
  const conn = await connect(rpc);
  const { record: rec, ...written } = await recordDeployed({ publicClient: conn.publicClient, address, deploymentsDir: dir, force, toolVersion: packageVersion(), ...(txOpt ? { deployTx: txOpt.toLowerCase() as Hex } : {}) });
  if (ctx.json) printJson(ctx.io, { ok: true, ...rec, recordPath: written.recordPath, ...(written.archived ? { archived: written.archived } : {}) });
  else ctx.io.stdout(`recorded KmsRegistry ${rec.address} on chain ${rec.chainId} (deployed in block ${rec.block}, tx ${rec.deployTx}, admin ${rec.admin}${rec.create2?.createx ? `; CreateX, ${rec.create2.createx.scope}` : ""}) in ${written.recordPath}\n`);
  return EXIT_OK;
}

/** `--deterministic --dry-run`: the address and reproduction data; with `--rpc`, whether the factory and the registry are there. */
async function dryRun(ctx: CommandContext): Promise<number> {
  const adminOpt = optString(ctx, "admin");
  const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : (accountFromEnv(ctx.io.env).address as Hex);
  const saltOpt = optString(ctx, "salt");
  const artifact: RegistryArtifact = loadRegistryArtifact();
  const plan = planDeterministic({ admin, artifact, ...(saltOpt !== undefined ? { salt: parseSalt(saltOpt) } : {}) });
  let chain: { chainId: number; factoryInstalled: boolean; deployed: boolean } | undefined;
  if (optString(ctx, "rpc") !== undefined) {
    const conn = await connect(rpcUrl(ctx));
    const code = await conn.publicClient.getCode({ address: plan.address });
    chain = { chainId: conn.chainId, factoryInstalled: await factoryInstalled(conn.publicClient), deployed: !!code && code !== "0x" };
  }
  const { initCode: _i, ...data } = plan;
  if (ctx.json) printJson(ctx.io, { ok: true, dryRun: true, ...data, compiler: artifact.compiler, ...(chain ? { chain } : {}) });
  else {
    ctx.io.stdout(
      [
        `KmsRegistry deterministic address ${plan.address} (nothing sent)`,
        `  factory ${plan.factory}, salt ${plan.salt}`,
        `  init code hash ${plan.initCodeHash} (admin ${plan.constructorArgs.admin}, solc ${artifact.compiler.solc}, ${artifact.compiler.evmVersion})`,
        ...(chain ? [`  chain ${chain.chainId}: factory ${chain.factoryInstalled ? "installed" : "missing"}, registry ${chain.deployed ? "deployed" : "not deployed"}`] : []),
        "",
      ].join("\n"),
    );
  }
  return EXIT_OK;
}
