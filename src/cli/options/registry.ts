/**
 * Option handling shared by the on-chain commands (deploy, publish, prove-liveness, check-signature,
 * audit): `--rpc`, `--registry`, `--deployments`, the signing key from the environment, progress lines.
 */
import { isAbsolute, resolve } from "node:path";

import type { Hex } from "../../core/bytes.js";
import { oneLine, optInteger, optString, requireString, type CliIO, type CommandContext, type OptionSpec } from "../framework.js";

export const RPC_OPTION: Record<string, OptionSpec> = {
  rpc: { type: "string", valueName: "URL", description: "JSON-RPC endpoint (http or https)" },
};
export const REGISTRY_OPTIONS: Record<string, OptionSpec> = {
  registry: { type: "string", valueName: "ADDR", description: "KmsRegistry contract address" },
  ...RPC_OPTION,
  deployments: { type: "string", valueName: "DIR", description: "deployment records directory (default ./deployments)" },
};

export function deploymentsDir(ctx: CommandContext): string {
  const d = optString(ctx, "deployments") ?? "deployments";
  return isAbsolute(d) ? d : resolve(ctx.io.cwd, d);
}

export async function registryArgs(ctx: CommandContext): Promise<{ rpc: string; registry: Hex }> {
  const { parseAddress, parseRpcUrl } = await import("../../registry/connect.js");
  const rpc = parseRpcUrl(requireString(ctx, "rpc"));
  const registry = parseAddress(requireString(ctx, "registry"), "--registry");
  return { rpc, registry };
}

export function confirmations(ctx: CommandContext): number {
  return optInteger(ctx, "confirmations", { min: 1, max: 1000 }) ?? 1;
}

/** A progress printer: `[cmd] stage: detail` on one line of stderr (never stdout, so `--json` stays clean). */
export function progressPrinter(io: CliIO, cmd: string): (stage: string, detail: string) => void {
  return (stage, detail) => io.stderr(`[${cmd}] ${stage}: ${oneLine(detail)}\n`);
}

/**
 * Connect to `rpc` and check it against the registry's deployment record (if `--deployments` has one): same
 * chain id, a contract at the address and — unless `codeCheck` is "exists" (the audit reads whatever is
 * there) — the recorded bytecode hash.
 */
export async function connectToRegistry(ctx: CommandContext, rpc: string, registry: Hex, codeCheck: "record" | "exists" = "record") {
  const { connect } = await import("../../registry/connect.js");
  const { findDeploymentByAddress, checkChainAgainstRecord } = await import("../../registry/deployments.js");
  const { checkRegistryCode } = await import("../../registry/deploy.js");
  const conn = await connect(rpc);
  const record = await findDeploymentByAddress(deploymentsDir(ctx), registry);
  checkChainAgainstRecord(record, conn.chainId, registry);
  await checkRegistryCode(conn.publicClient, registry, codeCheck === "record" ? (record ?? undefined) : undefined);
  return { conn, record };
}
