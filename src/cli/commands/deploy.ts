/** `kms-registry deploy --rpc URL [--admin ADDR] [--deployments DIR] [--force] [--confirmations N] [--json]` */
import { EXIT_OK, optString, printJson, requireString, type Command } from "../framework.js";
import { RPC_OPTION, confirmations, deploymentsDir, progressPrinter } from "../options/registry.js";

export const deployCommand: Command = {
  name: "deploy",
  summary: "deploy the KmsRegistry contract and write deployments/<chainId>.json",
  synopsis: "--rpc URL [--admin ADDR] [--deployments DIR] [--force] [--confirmations N] [--json] | --rpc URL --record ADDR [--deploy-tx HASH]",
  help: [
    "Deploys the compiled KmsRegistry (artifacts/contracts/KmsRegistry.sol/KmsRegistry.json from this package) with",
    "the key in KMS_REGISTRY_PRIVATE_KEY (environment only; never on the command line). The admin (default: the",
    "sender) gets DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE. Writes deployments/<chainId>.json (local chains 31337:",
    "deployments/local/), refusing to replace an existing record unless --force (the old one is kept).",
    "--record ADDR writes the record of a registry deployed some other way (Hardhat Ignition: `npx hardhat ignition",
    "deploy ignition/modules/KmsRegistry.ts --network sepolia`, then `kms-registry deploy --rpc URL --record ADDR`).",
  ].join("\n"),
  options: {
    ...RPC_OPTION,
    admin: { type: "string", valueName: "ADDR", description: "admin and first registrar (default: the sending account)" },
    deployments: { type: "string", valueName: "DIR", description: "deployment records directory (default ./deployments)" },
    force: { type: "boolean", description: "replace an existing record for this chain (the old one is archived)" },
    confirmations: { type: "string", valueName: "N", description: "confirmations to wait for (default 1)" },
    record: { type: "string", valueName: "ADDR", description: "do not deploy: write the record of the registry already at ADDR (e.g. deployed by Ignition)" },
    "deploy-tx": { type: "string", valueName: "HASH", description: "with --record: the deployment transaction (else found from historical state)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const { accountFromEnv, connect, parseAddress, parseRpcUrl, walletFor } = await import("../../registry/connect.js");
    const rpc = parseRpcUrl(requireString(ctx, "rpc"));
    const adminOpt = optString(ctx, "admin");
    const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : undefined;
    const conf = confirmations(ctx);
    const dir = deploymentsDir(ctx);
    const recordOpt = optString(ctx, "record");
    if (recordOpt !== undefined) {
      const address = parseAddress(recordOpt, "--record");
      const txOpt = optString(ctx, "deploy-tx");
      const { UsageError } = await import("../../core/errors.js");
      if (txOpt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(txOpt)) throw new UsageError("--deploy-tx must be a 32-byte 0x transaction hash");
      const { recordExistingDeployment } = await import("../../registry/deploy.js");
      const { writeDeployment } = await import("../../registry/deployments.js");
      const { packageVersion } = await import("../../core/version.js");
      const conn = await connect(rpc);
      const rec = await recordExistingDeployment(conn.publicClient, address, { toolVersion: packageVersion(), ...(txOpt ? { deployTx: txOpt.toLowerCase() as `0x${string}` } : {}) });
      const written = await writeDeployment(dir, rec, { force: ctx.values.force === true });
      if (ctx.json) printJson(io, { ok: true, ...rec, recordPath: written.path, ...(written.archived ? { archived: written.archived } : {}) });
      else io.stdout(`recorded KmsRegistry ${rec.address} on chain ${rec.chainId} (deployed in block ${rec.block}, tx ${rec.deployTx}, admin ${rec.admin}) in ${written.path}\n`);
      return EXIT_OK;
    }
    const account = accountFromEnv(io.env);
    const { deployRegistry, loadRegistryArtifact, recordOf } = await import("../../registry/deploy.js");
    const { deploymentPath, ensureWritableDir, readDeployment, writeDeployment } = await import("../../registry/deployments.js");
    const { packageVersion } = await import("../../core/version.js");
    const artifact = loadRegistryArtifact();
    const conn = await connect(rpc);
    const existing = await readDeployment(dir, conn.chainId);
    if (existing && !ctx.values.force) {
      const { UsageError } = await import("../../core/errors.js");
      throw new UsageError(`${deploymentPath(dir, conn.chainId)} already records a KmsRegistry at ${existing.address} on chain ${conn.chainId}; pass --force to deploy another (the old record is kept)`);
    }
    // The record must be writable before anything is spent on a deployment.
    const { dirname } = await import("node:path");
    await ensureWritableDir(dirname(deploymentPath(dir, conn.chainId)));
    const result = await deployRegistry({
      publicClient: conn.publicClient,
      walletClient: walletFor(conn, account),
      ...(admin ? { admin } : {}),
      confirmations: conf,
      artifact,
      toolVersion: packageVersion(),
      onProgress: progressPrinter(io, "deploy"),
    });
    let written: Awaited<ReturnType<typeof writeDeployment>>;
    try {
      written = await writeDeployment(dir, recordOf(result), { force: ctx.values.force === true });
    } catch (e) {
      const { KmsRegistryError } = await import("../../core/errors.js");
      const why = e instanceof Error ? e.message.split("\n")[0]! : String(e);
      throw new KmsRegistryError(
        "RECORD_NOT_WRITTEN",
        `KmsRegistry deployed at ${result.address} (tx ${result.deployTx}) but its record was not written: ${why}; write it with \`kms-registry deploy --rpc URL --record ${result.address} --deploy-tx ${result.deployTx}\``,
        { cause: e },
      );
    }
    if (ctx.json) printJson(io, { ok: true, ...recordOf(result), gasUsed: result.gasUsed, recordPath: written.path, ...(written.archived ? { archived: written.archived } : {}) });
    else {
      io.stdout(
        [
          `KmsRegistry deployed at ${result.address} on chain ${result.chainId} (${result.network})`,
          `  tx ${result.deployTx}, block ${result.block}, gas used ${result.gasUsed}`,
          `  admin ${result.admin}`,
          `  record ${written.path}${written.archived ? ` (previous record kept as ${written.archived})` : ""}`,
          "",
        ].join("\n"),
      );
    }
    return EXIT_OK;
  },
};
