/**
 * Publishing a KMS, the one pipeline the CLI, the Hardhat script and the demo run: pull the bootstrap info →
 * its collateral → the certs-dir checklist (from a certs dir) → the verification gate → connect to the
 * registry (its chain and code checked against the deployment record) → the journalled, idempotent
 * `register` (`publishKms`).
 *
 * The gate is the whole `verify` of the KMS module (`verifyBootstrap`: certs-dir checklist when given, checks
 * made while pulling, the quote's DCAP chain and collateral, accepted TCB status, report_data binding of
 * (caPubkey, k256Pubkey), event-log replay, the RPC certificate's RA-TLS attestation when present), plus the
 * publishing policy: a quote that verifies only under a non-Intel (simulated) root passes only with the
 * explicit `allowSimulatedRoot` override, and is always reported as not genuine. With `onChain` the quote and its
 * collateral go to the permissionless `registerVerified`, which verifies them again on chain (no role needed).
 */
import { getAddress, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import type { Check, Collateral, TcbStatus } from "../dcap/types.js";
import { ethAddress } from "../dstack/signatures.js";
import type { BootstrapInfo } from "../kms/bootstrap.js";
import { checkCertsDir, type Checklist } from "../kms/certs-dir.js";
import type { KmsClientOptions } from "../kms/client.js";
import { pullBootstrap, type PullResult, type PullSource } from "../kms/pull.js";
import { verifyBootstrap, type BootstrapReport } from "../kms/verify.js";
import type { MeasurementPolicy } from "../dstack/policy.js";
import { checkRegistryCode } from "../registry/deploy.js";
import { checkChainAgainstRecord, type DeploymentRecord } from "../registry/deployments.js";
import { publishKms, type KmsIdentity, type PublishResult, type PublishStage } from "../registry/publish.js";
import { toOnChainCollateral } from "../registry/verifier.js";

export type GateInput = BootstrapInfo;

export interface GateOptions {
  collateral: Collateral;
  now: number;
  rootCaDer?: Uint8Array;
  accept: readonly TcbStatus[];
  /** Development only: publish a quote that verifies under a non-Intel (simulated) root. */
  allowSimulatedRoot?: boolean;
  /** The certs-dir checklist (when publishing from a certs dir). */
  certs?: Checklist | null;
  /** Checks made while pulling (TLS pin, GetMeta cross-checks). */
  sourceChecks?: Check[];
  /** The KMS's RPC certificate (DER), whose RA-TLS attestation is checked when present. */
  rpcCertDer?: Uint8Array;
  /** The measurement policy the KMS must satisfy (`--expect`). */
  policy?: MeasurementPolicy;
}

export interface GateResult {
  ok: boolean;
  /** true only when the quote chains to Intel's pinned root. */
  genuine: boolean;
  status: TcbStatus | null;
  kmsAddress: Hex;
  checks: Check[];
  /** First failure, one line. */
  reason?: string;
  report: BootstrapReport;
}

/** The verification gate: `verifyBootstrap`, then the genuine-root policy (`publish.genuine`). */
export async function verifyForPublish(id: GateInput, opts: GateOptions): Promise<GateResult> {
  const report = await verifyBootstrap(id, {
    collateral: opts.collateral,
    now: opts.now,
    ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}),
    acceptedStatuses: opts.accept,
    requireEventLog: true,
    ...(opts.certs ? { certs: opts.certs } : {}),
    ...(opts.sourceChecks ? { sourceChecks: opts.sourceChecks } : {}),
    ...(opts.rpcCertDer ? { rpcCertDer: opts.rpcCertDer } : {}),
    ...(opts.policy ? { policy: opts.policy } : {}),
  });
  const kmsAddress = getAddress(ethAddress(id.k256Pubkey)) as Hex;
  const status = (report.quote?.status ?? null) as TcbStatus | null;
  const checks = [...report.checks];
  const base = { genuine: report.genuine, status, kmsAddress, report };
  if (!report.ok) {
    const first = report.checks.find((c) => !c.ok);
    const reason = first ? `${first.name}: ${first.detail}` : `verification failed (${report.failed.join(", ") || "no detail"})`;
    return { ok: false, ...base, checks, reason };
  }
  const allowed = report.genuine || opts.allowSimulatedRoot === true;
  checks.push({
    name: "publish.genuine",
    ok: allowed,
    detail: report.genuine
      ? "the quote chains to Intel's SGX Root CA"
      : `NOT GENUINE: the quote chains to a non-Intel root${opts.allowSimulatedRoot ? " (allowed by --allow-simulated-root)" : ""}`,
  });
  if (!allowed) {
    return {
      ok: false,
      ...base,
      checks,
      reason: "the quote verifies only under a non-Intel root CA (NOT GENUINE); pass --allow-simulated-root to publish it anyway (development only)",
    };
  }
  return { ok: true, ...base, checks };
}

/** The registry to publish to, as the caller connected to it. */
export interface RegistryTarget {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  registry: Hex;
  /**
   * The registry's deployment record, when there is one: the RPC's chain and the code at `registry` must be the
   * recorded ones, and the search for earlier registrations starts at its block (else at block 0).
   */
  record?: DeploymentRecord | null;
}

/** The progress lines of a publish, in order: pull, verify, chain, then those of `publishKms` (state, estimate, send, wait; recover). */
export type PublishKmsStage = "pull" | "verify" | "chain" | PublishStage;

/** What verification looked at and concluded; given to `onVerified` and returned. */
export interface PublishVerification {
  pulled: PullResult;
  collateral: Collateral;
  gate: GateResult;
}

export interface PublishKmsParameters {
  /** Where the bootstrap info comes from: a live KMS, a certs dir, a saved file. */
  source: PullSource;
  /** How a live KMS is called (timeouts, retries). */
  kmsClient?: KmsClientOptions;
  /** Verification time, unix seconds (also the pull time). */
  now: number;
  /** The collateral for the pulled quote (read from a file, fetched from a PCCS, …). */
  loadCollateral: (quote: Uint8Array) => Promise<Collateral>;
  /** A non-Intel root CA (DER) the quote may verify under; publishing under it needs `allowSimulatedRoot`. */
  rootCaDer?: Uint8Array;
  accept: readonly TcbStatus[];
  /** Development only: publish a quote that verifies only under `rootCaDer`. */
  allowSimulatedRoot?: boolean;
  /** The measurement policy the KMS must satisfy before anything is published. */
  policy?: MeasurementPolicy;
  /** Connect to the registry; called only once verification passed. */
  connect: () => Promise<RegistryTarget>;
  confirmations?: number;
  /** Directory of the send journal (default `defaultStateDir()`). */
  journalDir?: string;
  /** Verify and estimate gas; send nothing. */
  dryRun?: boolean;
  /** Register through the permissionless `registerVerified` with the verification's collateral (verified again on chain). */
  onChain?: boolean;
  onProgress?: (stage: PublishKmsStage, detail: string) => void;
  /** Called once the bootstrap info is pulled, before verification starts. */
  onPulled?: (pulled: PullResult) => void | Promise<void>;
  /** Called once the gate passed, before the `verify` "ok" line and before connecting. */
  onVerified?: (verification: PublishVerification) => void | Promise<void>;
}

export type PublishKmsReturnType =
  /** The gate refused: nothing was connected to or sent. */
  | ({ ok: false; stage: "verify" } & PublishVerification)
  | ({ ok: true; identity: KmsIdentity; target: RegistryTarget; publish: PublishResult } & PublishVerification);

/** Pull, verify, connect, publish; see the module comment. A refusal of the gate is a result (`ok: false`), not an error. */
export async function publishKmsWorkflow(params: PublishKmsParameters): Promise<PublishKmsReturnType> {
  const progress = params.onProgress ?? (() => {});
  const pulled = await pull(params);
  await params.onPulled?.(pulled);
  const { verification, identity } = await verify(params, pulled);
  const { gate } = verification;
  if (!gate.ok) return { ok: false, stage: "verify", ...verification };
  await params.onVerified?.(verification);
  progress("verify", `ok: ${gate.status}${gate.genuine ? "" : " (NOT GENUINE)"}; KMS address ${gate.kmsAddress}`);
  const target = await connectToTarget(params);
  const publish = await publishKms({
    publicClient: target.publicClient,
    walletClient: target.walletClient,
    registry: target.registry,
    identity,
    fromBlock: BigInt(target.record?.block ?? 0),
    ...(params.confirmations !== undefined ? { confirmations: params.confirmations } : {}),
    ...(params.journalDir !== undefined ? { journalDir: params.journalDir } : {}),
    dryRun: params.dryRun === true,
    ...(params.onChain ? { onChain: { collateral: toOnChainCollateral(identity.quote, verification.collateral) } } : {}),
    onProgress: progress,
  });
  return { ok: true, ...verification, identity, target, publish };
}

/** Where a pull reads from, for the `pull` progress line. */
function sourceText(source: PullSource): string {
  return "kms" in source ? source.kms : "certsDir" in source ? `certs dir ${source.certsDir}` : `file ${source.file}`;
}

async function pull(params: PublishKmsParameters): Promise<PullResult> {
  const progress = params.onProgress ?? (() => {});
  progress("pull", `from ${sourceText(params.source)}`);
  const pulled = await pullBootstrap(params.source, { now: params.now, ...params.kmsClient });
  for (const w of pulled.warnings) progress("pull", `warning: ${w}`);
  return pulled;
}

/**
 * The collateral, the certs-dir checklist and the gate over the pulled bootstrap info, and the identity it
 * would publish (`NO_QUOTE` without a quote).
 */
async function verify(params: PublishKmsParameters, pulled: PullResult): Promise<{ verification: PublishVerification; identity: KmsIdentity }> {
  params.onProgress?.("verify", "quote chain and collateral, TCB policy, key binding, event log");
  const { info } = pulled;
  const other = info.decodedAttestation && !info.decodedAttestation.quote ? info.decodedAttestation.platform : null;
  if (!info.quote && other) {
    throw new InputError("PLATFORM_NOT_SUPPORTED", `the KMS's attestation is a ${other} attestation: publishing a ${other} KMS on chain is not supported yet (the registry records TDX quotes); \`kms-registry verify\` checks it off chain`, { details: { platform: other } });
  }
  if (!info.quote) throw new InputError("NO_QUOTE", "the bootstrap info carries no quote; nothing to verify or publish");
  const collateral = await params.loadCollateral(info.quote);
  const gate = await verifyForPublish(info, {
    collateral,
    now: params.now,
    accept: params.accept,
    allowSimulatedRoot: params.allowSimulatedRoot === true,
    ...(params.rootCaDer ? { rootCaDer: params.rootCaDer } : {}),
    certs: await certsChecklist(params.source, pulled, params.now),
    sourceChecks: pulled.checks,
    ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
    ...(params.policy ? { policy: params.policy } : {}),
  });
  return { verification: { pulled, collateral, gate }, identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote } };
}

/** A certs dir's checklist (the one the pull made when it tied a separate Bootstrap answer to the dir); `null` for other sources. */
async function certsChecklist(source: PullSource, pulled: PullResult, now: number): Promise<Checklist | null> {
  if (!("certsDir" in source)) return null;
  return pulled.certs ?? checkCertsDir(source.certsDir, { now, ...(source.file ? { bootstrap: { info: pulled.info, from: source.file } } : {}) });
}

/** Connect, and check the chain and the registry's code against the deployment record. */
async function connectToTarget(params: PublishKmsParameters): Promise<RegistryTarget> {
  const target = await params.connect();
  const { publicClient, registry } = target;
  const record = target.record ?? undefined;
  const chainId = publicClient.chain.id;
  checkChainAgainstRecord(record, chainId, registry);
  await checkRegistryCode(publicClient, registry, record);
  params.onProgress?.("chain", `chain ${chainId}${record ? `, deployment record block ${record.block}` : ", no deployment record for this registry (scanning from block 0)"}`);
  return target;
}
