/**
 * `--verify` of the deploy task: the project's hardhat-verify settings (`verify.etherscan.apiKey`, usually a
 * `configVariable("ETHERSCAN_API_KEY")`, `verify.blockscout`, `verify.sourcify`) and its `chainDescriptors`,
 * handed to `verifyOnExplorers` with the network's provider.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { contractsOfRecord, parseExplorers, verifyOnExplorers, type ContractToVerify, type ExplorerOutcome } from "../workflows/explorer-verify.js";
import type { DeploymentRecord } from "../registry/deployments.js";
import { err } from "./network.js";
import type { TaskNetwork } from "./network.js";

interface VerifyConfigShape {
  etherscan?: { apiKey?: { get(): Promise<string> }; enabled?: boolean };
  blockscout?: { apiKey?: { get(): Promise<string> }; enabled?: boolean };
  sourcify?: { apiUrl?: string; enabled?: boolean };
}

/** A configuration variable's value, or undefined when it is unset (a missing key means "skip", not "fail"). */
async function valueOf(v: { get(): Promise<string> } | undefined): Promise<string | undefined> {
  if (!v) return undefined;
  try {
    const s = await v.get();
    return s === "" ? undefined : s;
  } catch {
    return undefined;
  }
}

/** Hardhat's resolved chain descriptors (a Map by chain id) back in the user-config shape. */
function chainDescriptorsOf(hre: HardhatRuntimeEnvironment): Record<string, unknown> | undefined {
  const m = (hre.config as { chainDescriptors?: Map<bigint, { name: string; chainType?: string; blockExplorers?: unknown }> }).chainDescriptors;
  if (!(m instanceof Map)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [id, d] of m) out[id.toString()] = { name: d.name, ...(d.chainType ? { chainType: d.chainType } : {}), ...(d.blockExplorers ? { blockExplorers: d.blockExplorers } : {}) };
  return out;
}

export async function verifyDeployed(hre: HardhatRuntimeEnvironment, net: TaskNetwork, record: DeploymentRecord, explorersOpt: string, extra: ContractToVerify[] = []): Promise<ExplorerOutcome[]> {
  const explorers = parseExplorers(explorersOpt);
  const cfg = ((hre.config as { verify?: VerifyConfigShape }).verify ?? {}) as VerifyConfigShape;
  const etherscanApiKey = cfg.etherscan?.enabled === false ? undefined : await valueOf(cfg.etherscan?.apiKey);
  const blockscoutApiKey = await valueOf(cfg.blockscout?.apiKey);
  const contracts: ContractToVerify[] = [...contractsOfRecord(record), ...extra];
  const cfg0 = net.connection.networkConfig;
  if (cfg0.type !== "http") {
    const detail = `network ${net.name} is simulated in process; explorers do not serve it`;
    return contracts.flatMap((c) => parseExplorers(explorersOpt).map((explorer) => ({ explorer, contract: c.name, address: c.address, status: "skipped" as const, detail })));
  }
  const outcomes = await verifyOnExplorers({
    rpcUrl: await cfg0.url.get(),
    chainId: net.chainId,
    networkName: net.name,
    contracts,
    explorers,
    ...(etherscanApiKey ? { etherscanApiKey } : {}),
    ...(blockscoutApiKey ? { blockscoutApiKey } : {}),
    ...(cfg.sourcify?.apiUrl ? { sourcifyApiUrl: cfg.sourcify.apiUrl } : {}),
    ...(chainDescriptorsOf(hre) ? { chainDescriptors: chainDescriptorsOf(hre)! } : {}),
    etherscanKeyHint: 'set verify.etherscan.apiKey in hardhat.config.ts, e.g. configVariable("ETHERSCAN_API_KEY"), and its value with `npx hardhat keystore set ETHERSCAN_API_KEY` or in the environment',
  });
  for (const o of outcomes) err(`[deploy] verify ${o.contract} on ${o.explorer}: ${o.status}: ${o.detail}\n`);
  return outcomes;
}
