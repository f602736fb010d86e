/**
 * `npx hardhat kms-registry:recheck --network NAME --kms ADDR (--collateral FILE | --pccs URL) [--dry-run]`:
 * `recheckKms` — the registry's permissionless `recheck` of a registered KMS with Intel's current collateral.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { UsageError } from "../../core/errors.js";
import { parseAddress } from "../../registry/connect.js";
import { findDeploymentByAddress, readDeployment } from "../../registry/deployments.js";
import { recheckKms } from "../../registry/recheck.js";
import { collateralLoader, deploymentsDirOf, out, printJson, progress, runTask, taskNetwork, taskWallet } from "../network.js";

interface RecheckArgs {
  kms: string | undefined;
  registry: string | undefined;
  collateral: string | undefined;
  pccs: string | undefined;
  dryRun: boolean;
  confirmations: number;
  deployments: string | undefined;
  json: boolean;
}

const TASK = "kms-registry:recheck";

export default async function recheckAction(args: RecheckArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask(TASK, async () => {
    if (!args.kms) throw new UsageError("--kms ADDR (the registered KMS's address) is required");
    const kms = parseAddress(args.kms, "--kms");
    const registryOpt = args.registry ? parseAddress(args.registry, "--registry") : undefined;
    if (args.confirmations < 1 || args.confirmations > 1000) throw new UsageError("--confirmations must be 1…1000");
    const loadCollateral = collateralLoader(hre, args.collateral, args.pccs, Math.floor(Date.now() / 1000));
    const dir = deploymentsDirOf(hre, args.deployments);
    const net = await taskNetwork(hre);
    const record = registryOpt ? await findDeploymentByAddress(dir, registryOpt) : await readDeployment(dir, net.chainId);
    const registry = registryOpt ?? record?.address;
    if (!registry) throw new UsageError(`no registry: pass --registry ADDR (no deployment record for chain ${net.chainId} in ${dir})`);
    const r = await recheckKms({
      publicClient: net.publicClient,
      walletClient: await taskWallet(net),
      registry,
      kms,
      fromBlock: BigInt(record?.block ?? 0),
      loadCollateral,
      dryRun: args.dryRun,
      confirmations: args.confirmations,
      onProgress: progress("recheck"),
    });
    const now = r.after ?? r.before;
    const summary = { tcbStatus: now.tcbStatus, collateralExpiry: now.collateralExpiry, wasStale: r.before.stale, block: r.blockNumber };
    if (args.json) printJson({ ok: true, hardhatNetwork: net.name, ...r, ...summary });
    else {
      out(
        `${r.dryRun ? "dry run (nothing sent): the recheck would leave" : "rechecked:"} KMS ${r.kms} ${r.stale ? "STALE (Intel's current collateral no longer passes its quote)" : "not stale"}` +
          `${summary.tcbStatus ? `, TCB status ${summary.tcbStatus}` : ""}${summary.collateralExpiry ? `, collateral valid until ${new Date(summary.collateralExpiry * 1000).toISOString()}` : ""}` +
          `; about ${r.estimatedGas} gas\n` +
          (r.txHash ? `  tx ${r.txHash}, block ${r.blockNumber}, gas used ${r.gasUsed}\n` : ""),
      );
    }
  });
}
