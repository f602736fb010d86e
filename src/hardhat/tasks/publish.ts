/**
 * `npx hardhat kms-registry:publish --network NAME (--kms URL | --certs-dir DIR | --file FILE) (--collateral FILE |
 * --pccs URL) …`: `publishKmsWorkflow` — pull, verify (refused on failure), then the journalled, idempotent
 * `register` — signed by the network's configured account.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import type { Hex } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { INPUT_KINDS, readInput } from "../../core/files.js";
import { packageVersion } from "../../core/version.js";
import { parseAcceptedStatuses } from "../../dcap/tcb-policy.js";
import { certificateDerFromFile } from "../../dcap/x509.js";
import { AMD_KDS_URL, defaultKdsCacheDir, normalizeKdsBase } from "../../dstack/platforms/amd-kds.js";
import { amdCrlsFromFile } from "../../dstack/platforms/sev-snp-verify.js";
import type { PullSource } from "../../kms/pull.js";
import { parseAddress } from "../../registry/connect.js";
import { deployRegistry, recordOf } from "../../registry/deploy.js";
import { findDeploymentByAddress, readDeployment, type DeploymentRecord } from "../../registry/deployments.js";
import { defaultStateDir } from "../../registry/publish.js";
import { deployAndRecord } from "../../workflows/deploy-registry.js";
import { notGenuineWarning, publishedPlatformJson, publishedPlatformLines, publishKmsWorkflow, type RegistryTarget } from "../../workflows/publish-kms.js";
import { collateralLoader, deploymentsDirOf, err, given, out, printJson, progress, projectPath, runTask, taskNetwork, taskWallet, type TaskNetwork } from "../network.js";

interface PublishArgs {
  registry: string | undefined;
  kms: string | undefined;
  certsDir: string | undefined;
  file: string | undefined;
  collateral: string | undefined;
  pccs: string | undefined;
  at: string | undefined;
  rootCa: string | undefined;
  accept: string | undefined;
  allowSimulatedRoot: boolean;
  allowDebug: boolean;
  amdCrl: string | undefined;
  kds: boolean;
  kdsUrl: string | undefined;
  dryRun: boolean;
  deployRegistry: boolean;
  confirmations: number;
  deployments: string | undefined;
  journalDir: string | undefined;
  json: boolean;
}

const TASK = "kms-registry:publish";

export default async function publishAction(args: PublishArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask(TASK, async () => {
    // Usage errors first, before any network or file access.
    const source = sourceOf(hre, args);
    const now = nowOf(args.at);
    const accept = parseAcceptedStatuses(given(args.accept), "--accept");
    const loadCollateral = collateralLoader(hre, args.collateral, args.pccs, now, "when-needed");
    if (args.allowSimulatedRoot && given(args.rootCa) === undefined) throw new UsageError("--allow-simulated-root needs --root-ca FILE (the simulated root the quote must still verify under)");
    if (args.confirmations < 1 || args.confirmations > 1000) throw new UsageError("--confirmations must be 1…1000");
    const registryOpt = args.registry !== undefined && args.registry !== "" ? parseAddress(args.registry, "--registry") : undefined;
    const rootCaFile = given(args.rootCa);
    const rootCaDer = rootCaFile
      ? certificateDerFromFile(await readInput(projectPath(hre, rootCaFile), INPUT_KINDS.certificate, { label: `root CA file ${JSON.stringify(rootCaFile)}` }), `root CA file ${JSON.stringify(rootCaFile)}`)
      : undefined;
    const crlFile = given(args.amdCrl);
    const amdCrlDers = crlFile ? amdCrlsFromFile(await readInput(projectPath(hre, crlFile), INPUT_KINDS.certificate, { label: `AMD CRL file ${JSON.stringify(crlFile)}` }), `AMD CRL file ${JSON.stringify(crlFile)}`) : undefined;
    const kdsUrl = given(args.kdsUrl);
    const kds = args.kds || kdsUrl !== undefined ? { url: normalizeKdsBase(kdsUrl ?? AMD_KDS_URL), cacheDir: defaultKdsCacheDir(process.env) } : undefined;
    const dir = deploymentsDirOf(hre, args.deployments);
    const r = await publishKmsWorkflow({
      source,
      now,
      loadCollateral,
      ...(rootCaDer ? { rootCaDer } : {}),
      accept,
      allowSimulatedRoot: args.allowSimulatedRoot,
      ...(args.allowDebug ? { allowDebug: true } : {}),
      ...(amdCrlDers ? { amdCrlDers } : {}),
      ...(kds ? { kds } : {}),
      connect: () => registryTarget(hre, registryOpt, dir, args.deployRegistry),
      confirmations: args.confirmations,
      journalDir: args.journalDir ? projectPath(hre, args.journalDir) : defaultStateDir(process.env),
      dryRun: args.dryRun,
      onProgress: progress("publish"),
      onVerified: ({ gate }) => {
        if (!gate.genuine) err(`${notGenuineWarning(gate.report.platform)}\n`);
      },
    });
    if (!r.ok) {
      if (args.json) printJson({ ok: false, stage: r.stage, error: { code: "VERIFICATION_FAILED", message: r.gate.reason }, kms: r.gate.kmsAddress, checks: r.gate.checks });
      else out(`NOT PUBLISHED: verification failed: ${r.gate.reason}\n`);
      err(`${TASK}: refusing to publish: ${r.gate.reason}\n`);
      process.exitCode = 1;
      return;
    }
    const p = r.publish;
    if (args.json) {
      printJson({ ok: true, hardhatNetwork: hre.globalOptions.network ?? "default", ...p, genuine: r.gate.genuine, ...publishedPlatformJson(r.gate.report.platform) });
      return;
    }
    out(
      [
        p.message,
        ...(p.txHash ? [`  tx hash:  ${p.txHash}`] : []),
        ...(p.gasUsed !== undefined ? [`  gas used: ${p.gasUsed}`] : []),
        ...(p.estimatedGas !== undefined ? [`  estimated gas: ${p.estimatedGas}`] : []),
        ...publishedPlatformLines(r.gate.report.platform, p.kms, p.quoteHash, r.gate.genuine),
        `  registry ${r.target.registry}`,
        "",
      ].join("\n"),
    );
  });
}

function sourceOf(hre: HardhatRuntimeEnvironment, a: PublishArgs): PullSource {
  const kms = given(a.kms);
  const certsDir = given(a.certsDir);
  const file = given(a.file);
  const n = [kms, certsDir, file && !kms ? file : undefined].filter((x) => x !== undefined).length;
  if (n !== 1 || (certsDir && kms)) throw new UsageError("give exactly one of --kms URL, --certs-dir DIR, --file FILE (--kms with --file: the saved bootstrap info of an auto-bootstrapped KMS)");
  if (kms) return { kms, ...(file ? { file: projectPath(hre, file) } : {}) };
  if (certsDir) return { certsDir: projectPath(hre, certsDir) };
  return { file: projectPath(hre, file!) };
}

function nowOf(at: string | undefined): number {
  if (at === undefined || at === "") return Math.floor(Date.now() / 1000);
  if (!/^\d{1,12}$/.test(at)) throw new UsageError(`--at must be unix seconds, got ${JSON.stringify(at.slice(0, 40))}`);
  return Number(at);
}

/** The registry: --registry, the chain's deployment record, or (--deploy-registry, local chains) a new one. */
async function registryTarget(hre: HardhatRuntimeEnvironment, registryOpt: Hex | undefined, dir: string, deploy: boolean): Promise<RegistryTarget> {
  const net: TaskNetwork = await taskNetwork(hre);
  const walletClient = await taskWallet(net);
  let record: DeploymentRecord | undefined = registryOpt ? await findDeploymentByAddress(dir, registryOpt) : await readDeployment(dir, net.chainId);
  if (!registryOpt && !record && deploy) {
    if (!net.local) throw new UsageError(`--deploy-registry is for local development chains; on ${net.name} (chain ${net.chainId}) deploy with \`npx hardhat kms-registry:deploy --network ${net.name}\` first`);
    // The registrar path publishes here: a registrar-only registry. An in-process chain ends with the task: its
    // registry gets no record that would outlive it.
    record =
      net.connection.networkConfig.type === "edr-simulated"
        ? recordOf(await deployRegistry({ publicClient: net.publicClient, walletClient, verifier: "none", toolVersion: packageVersion(), onProgress: progress("deploy") }))
        : (await deployAndRecord({ publicClient: net.publicClient, walletClient, verifier: "none", deploymentsDir: dir, toolVersion: packageVersion(), onProgress: progress("deploy") })).record;
  }
  const registry = registryOpt ?? record?.address;
  if (!registry) throw new UsageError(`no registry: pass --registry ADDR, or deploy one first (\`npx hardhat kms-registry:deploy --network ${net.name}\`; no record for chain ${net.chainId} in ${dir})`);
  return { publicClient: net.publicClient, walletClient, registry, record: record ?? null };
}
