/** `npx hardhat kms-registry:deploy --network NAME [--deterministic …] [--verify]`: `deployAndRecord` on the network. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import type { Hex } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { packageVersion } from "../../core/version.js";
import { parseAddress } from "../../registry/connect.js";
import { parseSalt, planDeterministic, planVerifierDeterministic } from "../../registry/create2.js";
import { INTEL_VERIFIER, loadRegistryArtifact, type VerifierChoice } from "../../registry/deploy.js";
import { deployAndRecord, recordDeployed } from "../../workflows/deploy-registry.js";
import { INPUT_KINDS, readInput } from "../../core/files.js";
import { certificateDerFromFile } from "../../dcap/x509.js";
import { deploymentsDirOf, err, given, out, projectPath, printJson, progress, runTask, taskNetwork, taskWallet } from "../network.js";
import { verifyDeployed } from "../verify.js";

interface DeployArgs {
  admin: string | undefined;
  verifier: string | undefined;
  verifierRoot: string | undefined;
  noVerifier: boolean;
  deterministic: boolean;
  salt: string | undefined;
  installFactory: boolean;
  dryRun: boolean;
  force: boolean;
  confirmations: number;
  deployments: string | undefined;
  record: string | undefined;
  deployTx: string | undefined;
  verify: boolean;
  explorers: string;
  json: boolean;
}

const TASK = "kms-registry:deploy";

export default async function deployAction(args: DeployArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask(TASK, async () => {
    for (const o of ["salt", "installFactory", "dryRun"] as const) {
      const set = o === "salt" ? given(args.salt) !== undefined : args[o];
      if (set && !args.deterministic) throw new UsageError(`--${o === "salt" ? "salt" : o === "dryRun" ? "dry-run" : "install-factory"} needs --deterministic`);
    }
    if (args.confirmations < 1 || args.confirmations > 1000) throw new UsageError("--confirmations must be 1…1000");
    const adminOpt = given(args.admin);
    const admin = adminOpt !== undefined ? parseAddress(adminOpt, "--admin") : undefined;
    const salt = args.salt !== undefined && args.salt !== "" ? parseSalt(args.salt) : undefined;
    if ([args.verifier !== undefined, args.verifierRoot !== undefined, args.noVerifier].filter(Boolean).length > 1) {
      throw new UsageError("--verifier, --verifier-root and --no-verifier exclude each other");
    }
    const verifierOpt = args.verifier ? parseAddress(args.verifier, "--verifier") : undefined;
    const verifierRootDer = args.verifierRoot
      ? certificateDerFromFile(await readInput(projectPath(hre, args.verifierRoot), INPUT_KINDS.certificate, { label: `--verifier-root ${JSON.stringify(args.verifierRoot)}` }), "--verifier-root")
      : undefined;
    const verifier: VerifierChoice = args.noVerifier ? "none" : verifierOpt ? { address: verifierOpt } : verifierRootDer ? { rootDer: verifierRootDer } : INTEL_VERIFIER;
    const net = await taskNetwork(hre);
    if (args.record) {
      if (args.deterministic) throw new UsageError("--record and --deterministic exclude each other");
      if (args.deployTx !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(args.deployTx)) throw new UsageError("--deploy-tx must be a 32-byte 0x transaction hash");
      const r = await recordDeployed({
        publicClient: net.publicClient,
        address: parseAddress(args.record, "--record"),
        ...(args.deployTx ? { deployTx: args.deployTx.toLowerCase() as Hex } : {}),
        deploymentsDir: deploymentsDirOf(hre, args.deployments),
        force: args.force,
        toolVersion: packageVersion(),
      });
      const verification = args.verify ? await verifyDeployed(hre, net, r.record, args.explorers) : undefined;
      if (args.json) printJson({ ok: true, hardhatNetwork: net.name, ...r.record, recordPath: r.recordPath, ...(r.archived ? { archived: r.archived } : {}), ...(verification ? { verification } : {}) });
      else out(`recorded KmsRegistry ${r.record.address} on chain ${r.record.chainId} (block ${r.record.block}, tx ${r.record.deployTx}, admin ${r.record.admin}${r.record.create2?.createx ? `; CreateX, ${r.record.create2.createx.scope}` : ""}) in ${r.recordPath}\n`);
      return;
    }
    if (args.deployTx !== undefined) throw new UsageError("--deploy-tx needs --record");
    const wallet = await taskWallet(net);
    const artifact = loadRegistryArtifact();

    if (args.dryRun) {
      const verifierPlan = verifier !== "none" && "rootDer" in verifier ? planVerifierDeterministic({ rootDer: verifier.rootDer, ...(salt ? { salt } : {}) }) : undefined;
      const verifierAddress = verifierPlan?.address ?? verifierOpt;
      const plan = planDeterministic({ admin: admin ?? (wallet.account.address as Hex), artifact, ...(verifierAddress ? { verifier: verifierAddress } : {}), ...(salt ? { salt } : {}) });
      const code = await net.publicClient.getCode({ address: plan.address });
      const { initCode: _i, ...data } = plan;
      const deployed = !!code && code !== "0x";
      const verifierData = verifierPlan ? { address: verifierPlan.address, initCodeHash: verifierPlan.initCodeHash } : undefined;
      if (args.json) printJson({ ok: true, dryRun: true, network: net.name, chainId: net.chainId, ...data, ...(verifierData ? { verifier: verifierData } : {}), compiler: artifact.compiler, deployed });
      else out(`KmsRegistry deterministic address ${plan.address} (nothing sent; ${deployed ? "already deployed" : "not deployed"} on ${net.name})\n  factory ${plan.factory}, salt ${plan.salt}\n  init code hash ${plan.initCodeHash} (admin ${plan.constructorArgs.admin})\n`);
      return;
    }

    const r = await deployAndRecord({
      publicClient: net.publicClient,
      walletClient: wallet,
      ...(admin ? { admin } : {}),
      verifier,
      ...(args.deterministic ? { deterministic: { ...(salt ? { salt } : {}), installFactory: args.installFactory } } : {}),
      deploymentsDir: deploymentsDirOf(hre, args.deployments),
      force: args.force,
      confirmations: args.confirmations,
      artifact,
      toolVersion: packageVersion(),
      onProgress: progress("deploy"),
    });
    const verification = args.verify ? await verifyDeployed(hre, net, r.record, args.explorers) : undefined;
    if (r.record.verifier?.intelRoot === false) err("WARNING: the DcapVerifier pins a root CA that is NOT Intel's: its on-chain verdicts prove nothing about real TDX hardware (development only).\n");
    if (args.json) {
      printJson({ ok: true, hardhatNetwork: net.name, ...r.record, gasUsed: r.gasUsed, alreadyDeployed: r.alreadyDeployed, recordPath: r.recordPath, ...(r.archived ? { archived: r.archived } : {}), ...(verification ? { verification } : {}) });
      return;
    }
    const rec = r.record;
    out(
      [
        `KmsRegistry ${r.alreadyDeployed ? "already deployed" : "deployed"} at ${rec.address} on chain ${rec.chainId} (hardhat network ${net.name})`,
        `  tx ${rec.deployTx}, block ${rec.block}${r.alreadyDeployed ? "" : `, gas used ${r.gasUsed}`}`,
        `  admin ${rec.admin}`,
        ...(rec.verifier ? [`  DcapVerifier ${rec.verifier.address}${rec.verifier.deployTx ? ` (deployed in tx ${rec.verifier.deployTx})` : ""}${rec.verifier.create2 ? `, CREATE2 salt ${rec.verifier.create2.salt}` : ""}`] : []),
        ...(rec.create2 ? [`  CREATE2 factory ${rec.create2.factory}, salt ${rec.create2.salt}, init code hash ${rec.create2.initCodeHash}`] : []),
        `  record ${r.recordPath}${r.archived ? ` (previous record kept as ${r.archived})` : ""}`,
        ...(verification ?? []).map((v) => `  ${v.explorer}: ${v.status}${v.detail ? ` — ${v.detail}` : ""}`),
        "",
      ].join("\n"),
    );
  });
}
