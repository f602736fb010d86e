/** `npx hardhat kms-registry:audit --network NAME [--registry ADDR] [--from-block N] [--to-block M] [--json]`: `auditRegistry`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { UsageError } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { auditJson, auditRegistry } from "../../registry/audit.js";
import { parseAddress } from "../../registry/connect.js";
import { checkChainAgainstRecord, findDeploymentByAddress, readDeployment } from "../../registry/deployments.js";
import { checkRegistryCode } from "../../registry/deploy.js";
import { deploymentsDirOf, err, out, printJson, runTask, taskNetwork } from "../network.js";

interface AuditArgs {
  registry: string | undefined;
  fromBlock: string | undefined;
  toBlock: string | undefined;
  deployments: string | undefined;
  json: boolean;
}

const TASK = "kms-registry:audit";

function block(v: string | undefined, what: string): bigint | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new UsageError(`${what} must be a block number, got ${JSON.stringify(v.slice(0, 40))}`);
  return BigInt(v);
}

export default async function auditAction(args: AuditArgs, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask(TASK, async () => {
    const fromOpt = block(args.fromBlock, "--from-block");
    const toOpt = block(args.toBlock, "--to-block");
    if (fromOpt !== undefined && toOpt !== undefined && toOpt < fromOpt) throw new UsageError(`--to-block ${toOpt} is before --from-block ${fromOpt}`);
    const registryOpt = args.registry !== undefined && args.registry !== "" ? parseAddress(args.registry, "--registry") : undefined;
    const dir = deploymentsDirOf(hre, args.deployments);
    const net = await taskNetwork(hre);
    const record = registryOpt ? await findDeploymentByAddress(dir, registryOpt) : await readDeployment(dir, net.chainId);
    const registry = registryOpt ?? record?.address;
    if (!registry) throw new UsageError(`no registry: pass --registry ADDR (no deployment record for chain ${net.chainId} in ${dir})`);
    checkChainAgainstRecord(record ?? undefined, net.chainId, registry);
    await checkRegistryCode(net.publicClient, registry);
    const fromBlock = fromOpt ?? BigInt(record?.block ?? 0);
    const report = await auditRegistry({
      publicClient: net.publicClient,
      registry,
      fromBlock,
      ...(toOpt !== undefined ? { toBlock: toOpt } : {}),
      onProgress: (p) => {
        if ("note" in p && p.note) err(`[audit] note: ${oneLine(p.note)}\n`);
      },
    });
    if (args.json) printJson({ hardhatNetwork: net.name, ...auditJson(report) });
    else {
      out(`Registry ${report.registry} on chain ${report.chainId} (hardhat network ${net.name}), blocks ${report.fromBlock}…${report.toBlock}: ${report.kms.length} KMS, ${report.events} events\n`);
      for (const k of report.kms) {
        const failed = k.checks.filter((c) => !c.ok).length;
        out(`  ${k.address}  ${k.status}  attestations ${k.attestations.length}  liveness ${k.livenessProofs.length}  checks ${failed ? `${failed} FAILED of ${k.checks.length}` : `${k.checks.length} ok`}\n`);
      }
      if (report.anomalies.length) for (const a of report.anomalies) out(`  ANOMALY ${a.kind} ${a.kms ?? "-"}: ${oneLine(a.detail)}\n`);
      else out("No anomalies.\n");
    }
    if (report.anomalies.length) process.exitCode = 1;
  });
}
