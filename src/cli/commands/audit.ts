/**
 * `kms-registry audit --registry ADDR --rpc URL [--from-block N] [--to-block M] [--reverify]
 *   [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...] [--json]`
 */
import { UsageError } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { createVerificationCache } from "../../dcap/cache.js";
import { auditJson, auditRegistry, type AuditProgress, type AuditResult, type Reverify, type ReverifyContext, type ReverifyOutcome } from "../../registry/audit.js";
import type { RegistryPlatform } from "../../registry/platforms.js";
import { reverifyRegistration, type CollateralSourceHook, type RegistrationEvidence, type RegistrationVerdict } from "../../registry/reverify.js";
import { EXIT_FAIL, EXIT_OK, optFlag, optInteger, type CommandSpec, type CommandContext } from "../framework.js";
import type { CliIO } from "../io.js";
import { REGISTRY_OPTIONS, connectToRegistry, registryOptions } from "../options/registry.js";
import {
  givenVerificationOptions,
  parseWithCollateral,
  readCollateralFile,
  readRootCaDer,
  verificationOptionSpecs,
  verificationOptionsWithoutCollateral,
} from "../options/verification.js";
import { printJson, table } from "../output.js";

/** For a caller that verifies at its own times (`now`, default the `--at` option). */
export interface ReverifyHooks {
  now?: () => number;
}

/** A registration's full re-verification with the command's options (`reverifyRegistration`). */
export type RegistrationVerifier = (platform: RegistryPlatform | undefined, reg: RegistrationEvidence) => Promise<RegistrationVerdict>;

/**
 * The re-verification of each registration (`reverifyRegistration`) with the command's verification options:
 * `--root-ca` (a TDX root CA or an SEV-SNP test ARK), `--accept`, and `--collateral FILE` (read and parsed once,
 * before the scan: a missing or malformed file is an input error, exit 2) or `--pccs URL` at `--at` (default
 * now) for a TDX registration that published no collateral.
 */
export async function buildRegistrationVerifier(ctx: CommandContext, hooks: ReverifyHooks = {}): Promise<RegistrationVerifier> {
  const opts = verificationOptionsWithoutCollateral(ctx);
  const rootCaDer = await readRootCaDer(ctx.io, opts.rootCaFile);
  const cache = createVerificationCache();
  const src = opts.collateral;
  const fileCollateral = src?.kind === "file" ? await readCollateralFile(ctx.io, src.path) : undefined;
  const collateral: CollateralSourceHook | undefined = src
    ? { option: src.kind === "file" ? "collateral" : "pccs", load: (quote, now) => parseWithCollateral(ctx.io, src, quote, now, fileCollateral) }
    : undefined;
  const now = hooks.now ?? (() => opts.now);
  return (platform, reg) => reverifyRegistration(platform, reg, { accept: opts.accept, cache, now, ...(rootCaDer ? { rootCaDer } : {}), ...(collateral ? { collateral } : {}) });
}

/** What a registration published for its re-verification, as the audit rebuilt it. */
export function evidenceOf(rc: ReverifyContext): Pick<RegistrationEvidence, "collateral" | "snpEvidence"> {
  const r = rc.registration;
  return { ...(r.collateral ? { collateral: r.collateral } : {}), ...(r.snpEvidence ? { snpEvidence: r.snpEvidence } : {}) };
}

/** The audit's outcome of a verdict: the TCB status (compared with an on-chain verdict) only when verified, the root only when a TDX verification ran. */
export function reverifyOutcome(v: RegistrationVerdict): ReverifyOutcome {
  return { ok: v.ok, detail: v.summary, ...(v.status ? { status: v.status } : {}), ...(v.root ? { root: v.root } : {}), verdict: v };
}

/**
 * The full re-verification of each registered quote (`--reverify`), as the audit reads it: a registration that
 * published its collateral (`KmsCollateralPublished`: every `registerVerified`, and `registerWithCollateral`) or,
 * on SEV-SNP, its VCEK and AMD chain (`KmsSnpEvidencePublished`) is verified with exactly that at its own block
 * time, with nothing else needed; otherwise with `--collateral` / `--pccs` when given (see
 * `buildRegistrationVerifier`).
 */
export async function buildReverify(ctx: CommandContext, hooks: ReverifyHooks = {}): Promise<Reverify> {
  const verify = await buildRegistrationVerifier(ctx, hooks);
  return async (quote, rc) => reverifyOutcome(await verify(rc.registration.platform, { quote, blockTimestamp: rc.blockTimestamp, ...evidenceOf(rc) }));
}

export const auditCommand: CommandSpec = {
  synopsis: "--registry ADDR --rpc URL [--from-block N] [--to-block M] [--reverify [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...]] [--json]",
  help: [
    "Reads every KmsRegistered / KmsRevoked / KmsLivenessProven event in bounded block ranges (halving the range",
    "when the RPC refuses a range or a result count, growing it again after successes), rebuilds each KMS's state",
    "and re-checks, for every registration, the quote hash, the KMS address and the report_data key binding.",
    "Logs of other addresses, duplicate logs and logs outside the requested blocks are dropped and reported, and",
    "each KMS's liveness nonces must follow one another up to nonce() at the last scanned block.",
    "Registrations verified on chain (registerVerified) are shown with their path, status, FMSPC, collateral expiry",
    "and rechecks (stale or not), and their record (kmsInfo) is compared with the events.",
    "--reverify also runs full DCAP verification of every quote: a registration that published its collateral on",
    "chain (KmsCollateralPublished) is verified with it at its own block time, nothing else needed; for one that",
    "did not, the report says so and --collateral FILE / --pccs URL (at --at) is used when given. A quote verified",
    "on chain must get the same TCB status off chain under the same root (else a verdict-mismatch anomaly); one",
    "verified by a registry whose verifier root is not Intel's is a not-genuine anomaly under Intel's root (give",
    "that root with --root-ca to compare the verdicts).",
    "An SEV-SNP registration (registerSnp; the platform column, platformOf on chain) is re-verified with the VCEK",
    "and AMD chain it published (KmsSnpEvidencePublished) at its block time, to AMD's pinned ARK (--root-ca: a",
    "test ARK, reported NOT GENUINE), and AMD's revocation is re-checked with the CRL it published",
    "(KmsSnpCrlPublished; the detail says when none was). An AWS Nitro Enclave registration (registerNitro) is",
    "re-verified from its document alone (its cabundle to AWS's pinned root at the document's timestamp, which",
    "must not be after the block; --root-ca: a test root, NOT GENUINE; a debug-mode enclave is refused).",
    "--from-block defaults to the deployment record's block (deployments/<chainId>.json), else 0.",
    "Exit 0 when there is no anomaly, 1 when there is at least one.",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    "from-block": { type: "string", valueName: "N", description: "first block to scan (default: the deployment block)" },
    "to-block": { type: "string", valueName: "M", description: "last block to scan (default: latest)" },
    range: { type: "string", valueName: "BLOCKS", description: "initial eth_getLogs range (default 10000)" },
    reverify: { type: "boolean", description: "fully verify every quote (DCAP chain, collateral, TCB status), with its published collateral when there is one" },
    ...verificationOptionSpecs(" for --reverify"),
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const target = registryOptions(ctx);
    const fromOpt = optInteger(ctx, "from-block", { min: 0 });
    const toOpt = optInteger(ctx, "to-block", { min: 0 });
    const range = optInteger(ctx, "range", { min: 1 });
    if (fromOpt !== undefined && toOpt !== undefined && toOpt < fromOpt) throw new UsageError(`--to-block ${toOpt} is before --from-block ${fromOpt}`);
    const stray = optFlag(ctx, "reverify") ? [] : givenVerificationOptions(ctx);
    if (stray.length) throw new UsageError(`${stray.map((o) => `--${o}`).join(", ")} only ${stray.length === 1 ? "applies" : "apply"} with --reverify`);
    const reverify = optFlag(ctx, "reverify") ? await buildReverify(ctx) : undefined;
    const { conn, record } = await connectToRegistry(target, "exists");
    const fromBlock = BigInt(fromOpt ?? record?.block ?? 0);
    const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
    if (fromBlock > head) throw new UsageError(`--from-block ${fromBlock} is past the chain head (block ${head})`);
    const started = Date.now();
    const report = await auditRegistry({
      publicClient: conn.publicClient,
      registry: target.registry,
      fromBlock,
      ...(toOpt !== undefined ? { toBlock: BigInt(toOpt) } : {}),
      ...(range !== undefined ? { initialRange: BigInt(range) } : {}),
      ...(reverify ? { reverify } : {}),
      onProgress: progressLines(io),
    });
    if (Date.now() - started > 1000) io.stderr(`[audit] done: ${report.events} events, ${report.kms.length} KMS, ${report.anomalies.length} anomalies in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (ctx.json) printJson(io, auditJson(report));
    else printReport(io, report);
    return report.anomalies.length ? EXIT_FAIL : EXIT_OK;
  },
};

/** The scan's progress on stderr: notes as they come, counts at most once a second. */
function progressLines(io: CliIO): (p: AuditProgress) => void {
  let lastPrint = 0;
  return (p) => {
    if ("note" in p && p.note) io.stderr(`[audit] note: ${oneLine(p.note)}\n`);
    const t = Date.now();
    if (t - lastPrint < 1000) return;
    lastPrint = t;
    if ("stage" in p) io.stderr(`[audit] ${p.stage}: ${p.done}/${p.total}\n`);
    else io.stderr(`[audit] scanned blocks ${p.fromBlock}…${p.scannedTo} of ${p.toBlock} (range ${p.range}, ${p.requests} requests, ${p.rangeErrors} refused)\n`);
  };
}

/** The human report: one row per KMS, the logs dropped, the anomalies. */
function printReport(io: CliIO, report: AuditResult): void {
  const rows = report.kms.map((k) => {
    const failed = k.checks.filter((c) => !c.ok).length;
    return [
      k.address,
      k.status,
      String(k.attestations.length),
      String(k.livenessProofs.length),
      String(k.registeredAt),
      k.revokedAt === null ? "-" : String(k.revokedAt),
      k.platform,
      k.path === "on-chain" ? `on-chain ${k.tcbStatus}${k.intelRoot ? "" : " NOT GENUINE"}${k.stale ? " STALE" : ""}` : "registrar",
      failed ? `${failed} FAILED of ${k.checks.length}` : `${k.checks.length} ok`,
    ];
  });
  io.stdout(`Registry ${report.registry} on chain ${report.chainId}, blocks ${report.fromBlock}…${report.toBlock}: ${report.kms.length} KMS, ${report.events} events\n\n`);
  if (rows.length) io.stdout(table(rows, ["kms", "status", "attestations", "liveness", "registered", "revoked", "platform", "path", "checks"]) + "\n");
  const { foreign, duplicate, outOfRange } = report.logs.dropped;
  if (foreign + duplicate + outOfRange) {
    io.stdout(`Dropped ${report.logs.received - report.logs.used} of ${report.logs.received} logs the RPC returned: ${foreign} of other addresses, ${duplicate} duplicates, ${outOfRange} outside the requested blocks\n\n`);
  }
  if (report.anomalies.length) {
    io.stdout(`${report.anomalies.length} anomal${report.anomalies.length === 1 ? "y" : "ies"}:\n`);
    io.stdout(table(report.anomalies.map((a) => [a.kind, a.kms ?? "-", a.detail]), ["kind", "kms", "detail"]));
  } else io.stdout("No anomalies.\n");
}
