/**
 * `kms-registry recheck --registry ADDR --kms ADDR --rpc URL (--collateral FILE | --pccs URL) [--at T] [--dry-run]
 *   [--confirmations N] [--json]`
 *
 * Re-verifies a registered KMS's quote on chain with newer Intel collateral (`recheckKms`): the quote read
 * back from its registration event, the collateral from a file or a PCCS, the registry's permissionless
 * `recheck` simulated and its gas shown first, then sent (unless --dry-run). The record's status and
 * collateral expiry are updated; a KMS whose quote Intel's fresh collateral no longer passes is marked stale.
 */
import { UsageError } from "../../core/errors.js";
import { sanitizeForTerminal } from "../../core/sanitize.js";
import { accountFromEnv, parseAddress, walletFor } from "../../registry/connect.js";
import { recheckKms, type RecheckRecord, type RecheckResult } from "../../registry/recheck.js";
import { EXIT_OK, optFlag, requireString, type CommandContext, type CommandSpec } from "../framework.js";
import { CONFIRMATIONS_OPTION, REGISTRY_OPTIONS, confirmations, connectWithRecord, registryOptions } from "../options/registry.js";
import { loadCollateral, verificationOptionSpecs, verificationOptions } from "../options/verification.js";
import { printJson, progressPrinter } from "../output.js";

const VERIFICATION = verificationOptionSpecs();

export const recheckCommand: CommandSpec = {
  synopsis: "--registry ADDR --kms ADDR --rpc URL (--collateral FILE | --pccs URL) [--at UNIX_SECONDS] [--dry-run] [--confirmations N] [--json]",
  help: [
    "Re-verifies a KMS's registered quote on chain with newer Intel collateral through the registry's",
    "permissionless recheck(kms, quote, collateral): the quote is read from its KmsRegistered event, the",
    "collateral from --collateral FILE or --pccs URL (--at: the time for the PCCS cache, default now). The call is",
    "simulated and its gas shown first; --dry-run sends nothing. The record's TCB status and collateral expiry",
    "are updated; Intel's fresh collateral saying the quote no longer passes marks the KMS stale (not revoked); a",
    "later passing recheck clears it. Bad or older collateral is refused by the chain and changes nothing.",
    "The sending key comes from KMS_REGISTRY_PRIVATE_KEY (environment only; not needed with --dry-run).",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    kms: { type: "string", valueName: "ADDR", description: "the registered KMS's address" },
    collateral: VERIFICATION.collateral!,
    pccs: VERIFICATION.pccs!,
    at: VERIFICATION.at!,
    "dry-run": { type: "boolean", description: "simulate and estimate gas; send nothing" },
    ...CONFIRMATIONS_OPTION,
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const target = registryOptions(ctx);
    const kms = parseAddress(requireString(ctx, "kms"), "--kms");
    const opts = verificationOptions(ctx);
    const conf = confirmations(ctx);
    const dryRun = optFlag(ctx, "dry-run");
    const account = dryRun && !io.env.KMS_REGISTRY_PRIVATE_KEY ? undefined : accountFromEnv(io.env);
    if (!dryRun && !account) throw new UsageError("recheck sends a transaction: set KMS_REGISTRY_PRIVATE_KEY (or pass --dry-run)");
    const { conn, record } = await connectWithRecord(target);
    const r = await recheckKms({
      publicClient: conn.publicClient,
      ...(account ? { walletClient: walletFor(conn, account) } : {}),
      registry: target.registry,
      kms,
      loadCollateral: (quote) => loadCollateral(io, opts.collateral, quote, opts.now),
      fromBlock: BigInt(record?.block ?? 0),
      confirmations: conf,
      dryRun,
      onProgress: progressPrinter(io, "recheck"),
    });
    printResult(ctx, r);
    return EXIT_OK;
  },
};

function recordLine(r: RecheckRecord): string {
  const expiry = r.collateralExpiry ? new Date(r.collateralExpiry * 1000).toISOString() : "-";
  return `path ${r.path}, TCB status ${r.tcbStatus ?? "-"}, ${r.stale ? "STALE" : "not stale"}, collateral until ${expiry}, tcbEvaluationDataNumber ${r.tcbEvaluationDataNumber}, isVerifiedOnChain ${r.isVerifiedOnChain}`;
}

function printResult(ctx: CommandContext, r: RecheckResult): void {
  if (ctx.json) {
    printJson(ctx.io, { ok: true, ...r });
    return;
  }
  const lines = [
    r.dryRun
      ? `dry run: recheck() of KMS ${r.kms} would ${r.stale ? "mark it STALE" : "pass (not stale)"} (about ${r.estimatedGas} gas); nothing sent`
      : `rechecked KMS ${r.kms}: ${r.stale ? "STALE" : "not stale"}; tx ${r.txHash} in block ${r.blockNumber}, gas used ${r.gasUsed}`,
    `  estimated gas: ${r.estimatedGas}`,
    `  quote ${r.quoteHash} (registered in ${r.registeredIn})`,
    `  before: ${recordLine(r.before)}`,
    ...(r.after ? [`  after:  ${recordLine(r.after)}`] : []),
  ];
  ctx.io.stdout(sanitizeForTerminal(lines.join("\n")) + "\n");
}
