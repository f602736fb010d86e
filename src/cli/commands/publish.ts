/**
 * `kms-registry publish --registry ADDR --rpc URL (--kms URL | --certs-dir DIR | --file FILE)
 *   [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...] [--allow-simulated-root]
 *   [--amd-crl FILE] [--allow-debug] [--on-chain] [--dry-run] [--confirmations N] [--json]`
 *
 * The options of the command line given to the one publish pipeline (`publishKmsWorkflow`: pull → full
 * verification, refused on failure → chain and code checked against the deployment record → idempotent,
 * journalled `register`), its progress lines on stderr and its result printed.
 */
import type { Client } from "viem";

import type { Hex } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { readKms, readVerifiedOnChain } from "../../registry/client.js";
import { accountFromEnv, walletFor } from "../../registry/connect.js";
import { defaultStateDir, type PublishResult } from "../../registry/publish.js";
import { notGenuineWarning, publishedPlatformJson, publishedPlatformLines, publishKmsWorkflow, type GateResult } from "../../workflows/publish-kms.js";
import { EXIT_FAIL, EXIT_OK, optFlag, optString, type CommandContext, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { EXPECT_OPTION, readExpectPolicy } from "../options/expect.js";
import { KMS_SOURCE_OPTIONS, kmsSourceOptions } from "../options/kms-source.js";
import { CONFIRMATIONS_OPTION, REGISTRY_OPTIONS, confirmations, connectWithRecord, registryOptions } from "../options/registry.js";
import { AMD_KDS_URL, defaultKdsCacheDir, normalizeKdsBase } from "../../dstack/platforms/amd-kds.js";
import { amdCrlsFromFile } from "../../dstack/platforms/sev-snp-verify.js";
import { readInputFile } from "../io.js";
import { loadCollateral, NO_COLLATERAL_MESSAGE, readRootCaDer, verificationOptionSpecs, verificationOptionsWithoutCollateral } from "../options/verification.js";
import { checksTable, printJson, progressPrinter } from "../output.js";

export const publishCommand: CommandSpec = {
  synopsis:
    "--registry ADDR --rpc URL (--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...] [--allow-simulated-root] [--expect FILE] [--amd-crl FILE] [--kds | --kds-url URL] [--on-chain] [--dry-run] [--json]",
  help: [
    "Pulls the KMS's bootstrap info, runs the full verification (quote chain to Intel's root with the given",
    "collateral, accepted TCB status, report_data key binding, event-log replay) and refuses to publish when any",
    "step fails. A quote that verifies only under --root-ca (e.g. the simulator's) is refused unless",
    "--allow-simulated-root is given, and is then loudly labelled NOT GENUINE.",
    "The chain id served by --rpc must match the deployment record (deployments/<chainId>.json) when one names",
    "this registry. Publishing is idempotent (the same quote already registered: no transaction) and journalled:",
    "re-running after an interruption finds the sent transaction instead of sending another.",
    "--on-chain registers through registerVerified: the registry's DcapVerifier verifies the quote and its",
    "collateral again on chain at the block's time (no REGISTRAR_ROLE needed; the status must be one the registry",
    "accepts); the record says it was verified on chain. The gas is shown before sending; --dry-run sends nothing.",
    "An AMD SEV-SNP KMS is verified as `verify` does (the report's VCEK signature, VCEK ← ASK ← ARK to AMD's pinned",
    "ARK, --root-ca: a test ARK, NOT GENUINE; TCB, chip id, guest policy, key binding; --amd-crl checks revocation)",
    "and published through registerSnp with its report, VCEK, AMD chain and CRL (no collateral needed; not --on-chain).",
    "A VCEK, ASK/ARK or CRL the attestation does not carry is fetched from AMD's KDS with --kds (or --kds-url URL),",
    "cached on disk while valid; the fetched certificates and CRL are the ones verified and published.",
    "An AWS Nitro Enclave KMS is verified as `verify` does (the NSM document's ES384 signature, its cabundle to AWS's",
    "pinned Nitro Enclaves Root-G1 at the document's timestamp, --root-ca: a test root, NOT GENUINE; a debug-mode",
    "enclave refused unless --allow-debug; user_data binding the keys) and published through registerNitro with the",
    "document (not --on-chain). A GCP TDX KMS is published as a TDX KMS (its TDX quote, recorded as TDX; --on-chain",
    "works): the TPM quote beside it is only reported, not verified and not published.",
    "The signing key comes from KMS_REGISTRY_PRIVATE_KEY (environment only).",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    ...KMS_SOURCE_OPTIONS,
    ...verificationOptionSpecs(),
    "allow-simulated-root": { type: "boolean", description: "DEVELOPMENT ONLY: publish a quote verified under --root-ca" },
    "dry-run": { type: "boolean", description: "verify and estimate gas; send nothing" },
    "on-chain": { type: "boolean", description: "register through the permissionless registerVerified (verified again on chain)" },
    ...CONFIRMATIONS_OPTION,
    ...EXPECT_OPTION,
    "amd-crl": { type: "string", valueName: "FILE", description: "SEV-SNP: AMD's CRL of the ARK (DER or PEM), checked offline and published with the report" },
    "allow-debug": { type: "boolean", description: "publish a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production)" },
    kds: { type: "boolean", description: "SEV-SNP: fetch the VCEK, AMD's chain and CRL the attestation does not carry from AMD's KDS (https://kdsintf.amd.com), cached on disk" },
    "kds-url": { type: "string", valueName: "URL", description: "SEV-SNP: another KDS base URL (implies --kds)" },
    "journal-dir": { type: "string", valueName: "DIR", description: "where unconfirmed sends are journalled (default $KMS_REGISTRY_STATE_DIR or ~/.local/state/kms-registry)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    // Usage errors first, before any network or file access.
    const target = registryOptions(ctx);
    const { source, client } = kmsSourceOptions(ctx);
    // collateral is needed only for a TDX quote (known once pulled); an SEV-SNP report needs none
    const opts = verificationOptionsWithoutCollateral(ctx);
    const conf = confirmations(ctx);
    const allowSim = optFlag(ctx, "allow-simulated-root");
    if (allowSim && opts.rootCaFile === undefined) throw new UsageError("--allow-simulated-root needs --root-ca FILE (the simulated root the quote must still verify under)");
    const account = accountFromEnv(io.env);
    const journalOpt = optString(ctx, "journal-dir");
    const rootCaDer = await readRootCaDer(io, opts.rootCaFile);
    const policy = await readExpectPolicy(ctx);
    const crlPath = optString(ctx, "amd-crl");
    const amdCrlDers = crlPath !== undefined ? amdCrlsFromFile(await readInputFile(io, crlPath, "AMD CRL file", "amdCrl"), `AMD CRL file ${JSON.stringify(crlPath)}`) : undefined;
    const collateralSource = opts.collateral;
    const kdsUrl = optString(ctx, "kds-url");
    const kds = optFlag(ctx, "kds") || kdsUrl !== undefined ? { url: normalizeKdsBase(kdsUrl ?? AMD_KDS_URL), cacheDir: defaultKdsCacheDir(io.env) } : undefined;

    const result = await publishKmsWorkflow({
      source,
      kmsClient: client,
      now: opts.now,
      loadCollateral: (quote) => {
        if (!collateralSource) throw new UsageError(`${NO_COLLATERAL_MESSAGE} (the KMS's attestation is a TDX quote)`);
        return loadCollateral(io, collateralSource, quote, opts.now);
      },
      ...(amdCrlDers ? { amdCrlDers } : {}),
      ...(optFlag(ctx, "allow-debug") ? { allowDebug: true } : {}),
      ...(kds ? { kds } : {}),
      ...(rootCaDer ? { rootCaDer } : {}),
      accept: opts.accept,
      allowSimulatedRoot: allowSim,
      ...(policy ? { policy } : {}),
      connect: async () => {
        const { conn, record } = await connectWithRecord(target);
        return { publicClient: conn.publicClient, walletClient: walletFor(conn, account), registry: target.registry, record };
      },
      confirmations: conf,
      journalDir: journalOpt !== undefined ? resolvePath(io, journalOpt) : defaultStateDir(io.env),
      dryRun: optFlag(ctx, "dry-run"),
      onChain: optFlag(ctx, "on-chain"),
      onProgress: progressPrinter(io, "publish"),
      onVerified: ({ gate }) => {
        if (!gate.genuine) io.stderr(`${notGenuineWarning(gate.report.platform)}\n`);
      },
    });
    if (!result.ok) return printRefusal(ctx, result.gate);
    const onChain = optFlag(ctx, "on-chain") && result.publish.status !== "dry-run" ? await onChainRecord(result.target.publicClient, target.registry, result.publish.kms) : undefined;
    printPublished(ctx, result.publish, result.gate, onChain);
    return EXIT_OK;
  },
};

/** The gate refused: what failed, on stdout (the checks) and stderr; exit 1. */
function printRefusal(ctx: CommandContext, gate: GateResult): number {
  const { io } = ctx;
  if (ctx.json) printJson(io, { ok: false, stage: "verify", error: { code: "VERIFICATION_FAILED", message: gate.reason }, kms: gate.kmsAddress, checks: gate.checks });
  else io.stdout(`NOT PUBLISHED: verification failed: ${gate.reason}\n\n${checksTable(gate.checks)}`);
  io.stderr(`kms-registry: publish: refusing to publish: ${gate.reason}\n`);
  return EXIT_FAIL;
}

/** What the registry recorded of an on-chain-verified registration. */
interface OnChainRecord {
  path: string;
  tcbStatus: string | null;
  fmspc: string;
  intelRoot: boolean;
  stale: boolean;
  collateralExpiry: number;
  isVerifiedOnChain: boolean;
}

async function onChainRecord(publicClient: Client, registry: Hex, kms: Hex): Promise<OnChainRecord> {
  const k = await readKms(publicClient, registry, kms);
  return { path: k.path, tcbStatus: k.tcbStatus, fmspc: k.fmspc, intelRoot: k.intelRoot, stale: k.stale, collateralExpiry: k.collateralExpiry, isVerifiedOnChain: await readVerifiedOnChain(publicClient, registry, kms) };
}

function printPublished(ctx: CommandContext, r: PublishResult, gate: GateResult, onChain?: OnChainRecord): void {
  if (ctx.json) {
    printJson(ctx.io, {
      ok: true,
      ...r,
      genuine: gate.genuine,
      ...publishedPlatformJson(gate.report.platform),
      verification: { verdict: gate.report.verdict, status: gate.status, genuine: gate.genuine, checks: gate.checks },
      ...(onChain ? { onChain } : {}),
    });
    return;
  }
  const lines = [r.message];
  if (r.txHash) lines.push(`  tx hash:  ${r.txHash}`);
  if (r.gasUsed !== undefined) lines.push(`  gas used: ${r.gasUsed}`);
  if (r.estimatedGas !== undefined) lines.push(`  estimated gas: ${r.estimatedGas}`);
  const p = gate.report.platform;
  lines.push(...publishedPlatformLines(p, r.kms, r.quoteHash, gate.genuine));
  if (onChain) {
    lines.push(
      `  on chain: path ${onChain.path}, TCB status ${onChain.tcbStatus ?? "-"}, FMSPC ${onChain.fmspc.toUpperCase() || "-"}, collateral until ${onChain.collateralExpiry ? new Date(onChain.collateralExpiry * 1000).toISOString() : "-"}`,
      `  isVerifiedOnChain: ${onChain.isVerifiedOnChain}${onChain.intelRoot ? "" : " (the registry's verifier root is not Intel's: never reported as verified)"}${onChain.stale ? " (stale)" : ""}`,
    );
  }
  ctx.io.stdout(lines.join("\n") + "\n");
}
