/**
 * The registry options of the on-chain commands (deploy, publish, prove-liveness, check-signature, audit):
 * `--rpc`, `--registry`, `--deployments` and, for the commands that send transactions, `--confirmations`.
 * `registryOptions` parses them once; `connectToRegistry` connects and checks the chain against the
 * registry's deployment record.
 */
import type { Hex } from "../../core/bytes.js";
import { connect, parseAddress, parseRpcUrl, type Connection } from "../../registry/connect.js";
import { checkRegistryCode } from "../../registry/deploy.js";
import { checkChainAgainstRecord, findDeploymentByAddress, type DeploymentRecord } from "../../registry/deployments.js";
import { optInteger, optString, requireString, type CommandContext, type OptionSpec } from "../framework.js";
import { resolvePath } from "../io.js";

export const RPC_OPTION: Record<string, OptionSpec> = {
  rpc: { type: "string", valueName: "URL", description: "JSON-RPC endpoint (http or https)" },
};
export const DEPLOYMENTS_OPTION: Record<string, OptionSpec> = {
  deployments: { type: "string", valueName: "DIR", description: "deployment records directory (default ./deployments)" },
};
export const REGISTRY_OPTIONS: Record<string, OptionSpec> = {
  registry: { type: "string", valueName: "ADDR", description: "KmsRegistry contract address" },
  ...RPC_OPTION,
  ...DEPLOYMENTS_OPTION,
};
export const CONFIRMATIONS_OPTION: Record<string, OptionSpec> = {
  confirmations: { type: "string", valueName: "N", description: "confirmations to wait for (default 1)" },
};

/** `--rpc URL`, required. */
export function rpcUrl(ctx: CommandContext): string {
  return parseRpcUrl(requireString(ctx, "rpc"));
}

/** `--deployments DIR`, default ./deployments. */
export function deploymentsDir(ctx: CommandContext): string {
  return resolvePath(ctx.io, optString(ctx, "deployments") ?? "deployments");
}

export interface RegistryTarget {
  rpc: string;
  registry: Hex;
  deploymentsDir: string;
}

export function registryOptions(ctx: CommandContext): RegistryTarget {
  const rpc = rpcUrl(ctx);
  const registry = parseAddress(requireString(ctx, "registry"), "--registry");
  return { rpc, registry, deploymentsDir: deploymentsDir(ctx) };
}

/** `--confirmations N`, default 1. */
export function confirmations(ctx: CommandContext): number {
  return optInteger(ctx, "confirmations", { min: 1, max: 1000 }) ?? 1;
}

/** Connect to the target's RPC and find the registry's deployment record in the deployments dir, if it has one. */
export async function connectWithRecord(target: RegistryTarget): Promise<{ conn: Connection; record: DeploymentRecord | undefined }> {
  const conn = await connect(target.rpc);
  return { conn, record: await findDeploymentByAddress(target.deploymentsDir, target.registry) };
}

/**
 * Connect to the target's RPC and check it against the registry's deployment record (if the deployments dir
 * has one): same chain id, a contract at the address and — unless `codeCheck` is "exists" (the audit reads
 * whatever is there) — the recorded bytecode hash.
 */
export async function connectToRegistry(
  target: RegistryTarget,
  codeCheck: "record" | "exists" = "record",
): Promise<{ conn: Connection; record: DeploymentRecord | undefined }> {
  const { conn, record } = await connectWithRecord(target);
  checkChainAgainstRecord(record, conn.chainId, target.registry);
  await checkRegistryCode(conn.publicClient, target.registry, codeCheck === "record" ? (record ?? undefined) : undefined);
  return { conn, record };
}
