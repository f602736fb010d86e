/**
 * Publishing a KMS, the one pipeline the CLI, the Hardhat script and the demo run: pull the bootstrap info →
 * its collateral → the certs-dir checklist (from a certs dir) → the verification gate → connect to the
 * registry (its chain and code checked against the deployment record) → the journalled, idempotent
 * `register` (`publishKms`). An AMD SEV-SNP KMS takes the same road: its report verified as `verify` does (VCEK,
 * AMD chain, TCB, guest policy, key binding), then `registerSnp` with the report, the VCEK, the AMD chain and the
 * AMD CRL it was checked against (when one was given). An AWS Nitro Enclave KMS too: its NSM document verified as
 * `verify` does (COSE ES384, cabundle chain to AWS's pinned root at the document's timestamp, the debug-mode rule,
 * user_data binding the keys), then `registerNitro` with the document. A GCP TDX KMS is a TDX KMS: its TDX quote
 * goes through `register` / `registerVerified`; the TPM quote beside it is only reported.
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
import { InputError, UsageError, VerificationError } from "../core/errors.js";
import type { Check, Collateral, TcbStatus } from "../dcap/types.js";
import { toPem } from "../dcap/x509.js";
import type { DstackAttestation } from "../dstack/attestation.js";
import { AMD_ARKS, type AmdProduct } from "../dstack/platforms/amd-roots.js";
import { nitroRegistryFields } from "../dstack/platforms/nitro.js";
import { parseSnpReport } from "../dstack/platforms/sev-snp.js";
import { ethAddress } from "../dstack/signatures.js";
import type { BootstrapInfo } from "../kms/bootstrap.js";
import { checkCertsDir, type Checklist } from "../kms/certs-dir.js";
import type { KmsClientOptions } from "../kms/client.js";
import { carriedAmdCertificates, fetchSnpFromKds } from "../kms/platforms.js";
import { pullBootstrap, type PullResult, type PullSource } from "../kms/pull.js";
import { verifyBootstrap, type BootstrapReport } from "../kms/verify.js";
import type { MeasurementPolicy } from "../dstack/policy.js";
import { checkRegistryCode } from "../registry/deploy.js";
import { checkChainAgainstRecord, type DeploymentRecord } from "../registry/deployments.js";
import { publishKms, type KmsIdentity, type PublishResult, type PublishStage } from "../registry/publish.js";
import { toOnChainCollateral } from "../registry/verifier.js";

export type GateInput = BootstrapInfo;

export interface GateOptions {
  /** The TDX quote's collateral (unused for an SEV-SNP KMS, whose evidence is its report and AMD's certificates). */
  collateral: Collateral | null;
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
  /** SEV-SNP: AMD CRLs (DER) to check the chain against. */
  amdCrlDers?: Uint8Array[];
  /** Accept a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production). */
  allowDebug?: boolean;
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

/** How `publish.genuine` names each platform's root. */
const GENUINE_WORDS = {
  tdx: { genuine: "the quote chains to Intel's SGX Root CA", notGenuine: "quote chains to a non-Intel root", refused: "quote verifies only under a non-Intel root CA" },
  "sev-snp": { genuine: "the SEV-SNP report chains to AMD's pinned ARK", notGenuine: "SEV-SNP report chains to a test ARK, not AMD's", refused: "SEV-SNP report verifies only under a test ARK" },
  "nitro-enclave": { genuine: "the Nitro document chains to AWS's pinned Nitro Enclaves Root-G1", notGenuine: "Nitro document chains to a test root, not AWS's", refused: "Nitro document verifies only under a test root" },
} as const;

/** The verification gate: `verifyBootstrap`, then the genuine-root policy (`publish.genuine`). */
export async function verifyForPublish(id: GateInput, opts: GateOptions): Promise<GateResult> {
  const report = await verifyBootstrap(id, {
    collateral: opts.collateral,
    now: opts.now,
    // --root-ca is the test root of whichever platform the KMS runs on (a TDX root CA, or an SEV-SNP test ARK)
    ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer, snpTestArkDer: opts.rootCaDer, nitroRootDer: opts.rootCaDer } : {}),
    ...(opts.allowDebug ? { allowDebug: true } : {}),
    ...(opts.amdCrlDers ? { amdCrlDers: opts.amdCrlDers } : {}),
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
  const words = GENUINE_WORDS[report.platform === "sev-snp" || report.platform === "nitro-enclave" ? report.platform : "tdx"];
  checks.push({
    name: "publish.genuine",
    ok: allowed,
    detail: report.genuine ? words.genuine : `NOT GENUINE: the ${words.notGenuine}${opts.allowSimulatedRoot ? " (allowed by --allow-simulated-root)" : ""}`,
  });
  if (!allowed) {
    return {
      ok: false,
      ...base,
      checks,
      reason: `the ${words.refused} (NOT GENUINE); pass --allow-simulated-root to publish it anyway (development only)`,
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
  /** The TDX quote's collateral; null for an SEV-SNP KMS. */
  collateral: Collateral | null;
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
  /** SEV-SNP: AMD CRLs (DER) the chain is checked against (and published with the report). */
  amdCrlDers?: Uint8Array[];
  /** Accept a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production). */
  allowDebug?: boolean;
  /** SEV-SNP: fetch what the attestation does not carry (VCEK, ASK/ARK) and, without `amdCrlDers`, the CRL from this KDS. */
  kds?: { url: string; cacheDir?: string };
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
  progress("verify", `ok: ${gate.status ?? `${gate.report.platform} evidence verified`}${gate.genuine ? "" : " (NOT GENUINE)"}; KMS address ${gate.kmsAddress}`);
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
    ...(params.onChain && verification.collateral ? { onChain: { collateral: toOnChainCollateral(identity.quote, verification.collateral) } } : {}),
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
  const att = info.decodedAttestation && !info.decodedAttestation.quote ? info.decodedAttestation : null;
  if (!info.quote && att?.platform === "sev-snp") return verifySnp(params, pulled, att);
  if (!info.quote && att?.platform === "nitro-enclave") return verifyNitro(params, pulled, att);
  if (!info.quote && att) {
    // a KMS that cannot be verified (exit 1), not a bad input: the attestation decoded and names its platform
    throw new VerificationError("PLATFORM_NOT_SUPPORTED", `the KMS's attestation is a ${att.platform} attestation: publishing a ${att.platform} KMS on chain is not supported yet (the registry records TDX quotes, SEV-SNP reports and AWS Nitro Enclave documents); \`kms-registry verify\` reports it off chain`, { details: { platform: att.platform } });
  }
  if (!info.quote) throw new InputError("NO_QUOTE", "the bootstrap info carries no quote; nothing to verify or publish");
  const collateral = await params.loadCollateral(info.quote);
  const gate = await verifyForPublish(info, await gateOptions(params, pulled, collateral));
  return { verification: { pulled, collateral, gate }, identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote } };
}

/** The gate's options both platforms share: the policy, the trust root, the certs checklist and the pulled source's checks. */
async function gateOptions(params: PublishKmsParameters, pulled: PullResult, collateral: Collateral | null) {
  return {
    collateral,
    now: params.now,
    accept: params.accept,
    allowSimulatedRoot: params.allowSimulatedRoot === true,
    ...(params.rootCaDer ? { rootCaDer: params.rootCaDer } : {}),
    certs: await certsChecklist(params.source, pulled, params.now),
    sourceChecks: pulled.checks,
    ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
    ...(params.policy ? { policy: params.policy } : {}),
    ...(params.allowDebug ? { allowDebug: true } : {}),
  };
}

/**
 * An SEV-SNP KMS: the gate (the report's VCEK signature, VCEK ← ASK ← ARK to AMD's pinned ARK or the `rootCaDer`
 * test ARK, TCB, chip id, guest policy, report_data binding, as `verify` runs them), and the identity `registerSnp`
 * publishes: the raw report, the VCEK (DER) and the ASK and ARK (PEM) it was verified with. The VCEK and the ASK
 * come from the attestation's cert_chain (`SNP_VCEK_REQUIRED` without them); the ARK from it too, else the one
 * verified against.
 */
async function verifySnp(params: PublishKmsParameters, pulled: PullResult, pulledAtt: DstackAttestation): Promise<{ verification: PublishVerification; identity: KmsIdentity }> {
  if (params.onChain) throw new UsageError("--on-chain registers through registerVerified, which verifies TDX quotes only; an SEV-SNP KMS is published through registerSnp (omit --on-chain)");
  const { att, info, crls, kdsCheck } = await withKdsEvidence(params, pulled, pulledAtt);
  const gate = await verifyForPublish(info, {
    ...(await gateOptions(params, pulled, null)),
    ...(crls ? { amdCrlDers: crls } : {}),
  });
  if (kdsCheck) gate.checks.unshift(kdsCheck);
  const verification = { pulled, collateral: null, gate };
  const base = { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: att.evidence };
  if (!gate.ok) return { verification, identity: base };
  const carried = carriedAmdCertificates(att);
  if (!carried.vcek || !carried.ask) {
    throw new InputError("SNP_VCEK_REQUIRED", "the SEV-SNP attestation's cert_chain does not carry its VCEK and ASK: publishing needs them, so that anyone can re-verify the registration from chain data alone (--kds fetches them from AMD's KDS)", { details: { platform: "sev-snp" } });
  }
  const product = gate.report.platformReport?.product as AmdProduct | undefined;
  const ark = carried.ark ?? params.rootCaDer ?? (product ? AMD_ARKS[product].der : undefined);
  if (!ark) throw new InputError("SNP_VCEK_REQUIRED", "the SEV-SNP report's product is unknown, so its ARK is not known either");
  const amdChain = new TextEncoder().encode(toPem(carried.ask) + toPem(ark));
  const crl = publishedCrl(crls);
  return { verification, identity: { ...base, snp: { vcek: carried.vcek, amdChain, ...(crl ? { crl } : {}) } } };
}

/** The CRL argument of `registerSnp`: the one CRL (DER) the chain was checked against, several as PEM blocks, none: undefined. */
function publishedCrl(crls: Uint8Array[] | undefined): Uint8Array | undefined {
  if (!crls?.length) return undefined;
  if (crls.length === 1) return crls[0];
  const pem = crls.map((d) => `-----BEGIN X509 CRL-----\n${Buffer.from(d).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END X509 CRL-----\n`).join("");
  return new TextEncoder().encode(pem.replace(/\n\n/g, "\n"));
}

/**
 * An AWS Nitro Enclave KMS: the gate (the NSM document's COSE ES384 signature, its cabundle chain to AWS's pinned
 * Nitro Enclaves Root-G1 or the `rootCaDer` test root at the document's timestamp, the debug-mode rule, the
 * config's os_image_hash, user_data binding the keys, as `verify` runs them) and the identity `registerNitro`
 * publishes: the document itself, which carries its certificate chain.
 */
async function verifyNitro(params: PublishKmsParameters, pulled: PullResult, att: DstackAttestation): Promise<{ verification: PublishVerification; identity: KmsIdentity }> {
  if (params.onChain) throw new UsageError("--on-chain registers through registerVerified, which verifies TDX quotes only; an AWS Nitro Enclave KMS is published through registerNitro (omit --on-chain)");
  const { info } = pulled;
  const gate = await verifyForPublish(info, await gateOptions(params, pulled, null));
  // the registry's reading (the one registerNitro does on chain), before any transaction
  nitroRegistryFields(att.evidence);
  return { verification: { pulled, collateral: null, gate }, identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: att.evidence, nitro: true } };
}

/**
 * With `kds`: what the attestation's cert_chain lacks (the VCEK of its chip at the reported TCB, the product's
 * ASK and ARK) and, without `amdCrlDers`, AMD's CRL, fetched from the KDS (cached on disk while valid). The
 * fetched certificates join the attestation's cert_chain, so the gate verifies exactly the ones `registerSnp`
 * then publishes. Without `kds`: the attestation as pulled.
 */
async function withKdsEvidence(params: PublishKmsParameters, pulled: PullResult, att: DstackAttestation): Promise<{ att: DstackAttestation; info: PullResult["info"]; crls: Uint8Array[] | undefined; kdsCheck?: Check }> {
  const { info } = pulled;
  if (!params.kds) return { att, info, crls: params.amdCrlDers };
  let report;
  try {
    report = parseSnpReport(att.evidence);
  } catch {
    return { att, info, crls: params.amdCrlDers }; // the gate names why the report does not parse
  }
  const blobs = att.snp?.certChain ?? [];
  const carried = carriedAmdCertificates(att);
  params.onProgress?.("verify", `SEV-SNP evidence from AMD's KDS ${params.kds.url}`);
  const f = await fetchSnpFromKds(report, { vcek: !!carried.vcek, ask: !!carried.ask, crl: !!params.amdCrlDers }, params.kds, params.now);
  const added = [...(f.vcek ? [f.vcek] : []), ...(f.ask ? [f.ask] : []), ...(f.ark && !carried.ark ? [f.ark] : [])];
  const filled: DstackAttestation = { ...att, snp: { certChain: [...blobs, ...added], mrConfig: att.snp?.mrConfig ?? "" } };
  const crls = params.amdCrlDers ?? (f.crl ? [f.crl] : undefined);
  const kdsCheck: Check | undefined = f.fetched.length ? { name: "platform.kds", ok: true, detail: `fetched ${f.fetched.join(", ")} of ${f.product} from ${params.kds.url}` } : undefined;
  return { att: filled, info: { ...info, decodedAttestation: filled }, crls, ...(kdsCheck ? { kdsCheck } : {}) };
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

// ───────────────────────────── what a publish says, per platform ─────────────────────────────

/** The loud warning for a KMS verified only under a test root (`--root-ca`, `--allow-simulated-root`). */
export function notGenuineWarning(platform: string): string {
  if (platform === "sev-snp") {
    return "WARNING: NOT GENUINE — this SEV-SNP report verifies only under a test ARK (--root-ca), not AMD's pinned one. It proves nothing about real AMD hardware. Publishing it is for development only (--allow-simulated-root).";
  }
  if (platform === "nitro-enclave") {
    return "WARNING: NOT GENUINE — this Nitro attestation document verifies only under a test root (--root-ca), not AWS's pinned Nitro Enclaves Root-G1. It proves nothing about a real Nitro Enclave. Publishing it is for development only (--allow-simulated-root).";
  }
  return "WARNING: NOT GENUINE — this quote verifies only under a simulated (non-Intel) root CA. It proves nothing about real TDX hardware. Publishing it is for development only (--allow-simulated-root).";
}

/** The platform the registry records for a KMS of `platform` (a GCP TDX KMS is recorded as TDX). */
export function onChainPlatformOf(platform: string): "tdx" | "sev-snp" | "nitro-enclave" {
  return platform === "sev-snp" || platform === "nitro-enclave" ? platform : "tdx";
}

/** The platform fields of a publish's JSON: the KMS's platform, what the registry records, what stays off chain. */
export function publishedPlatformJson(platform: string): { platform: string; onChainPlatform: string; tpmQuote?: string } {
  return { platform, onChainPlatform: onChainPlatformOf(platform), ...(platform === "gcp-tdx" ? { tpmQuote: "reported only: not verified and not published" } : {}) };
}

/** What each platform's publish puts on chain (the human output's platform line). */
const PUBLISHED_LINE: Record<string, string> = {
  "sev-snp": "  platform: sev-snp (registerSnp: the report, its VCEK and the AMD chain are on chain)",
  "nitro-enclave": "  platform: nitro-enclave (registerNitro: the NSM attestation document, with its certificate chain, is on chain)",
  "gcp-tdx": "  platform: gcp-tdx, recorded as TDX (its TDX quote is on chain; the TPM quote is only reported, not verified and not published)",
};

/** The human output's lines naming the published KMS, its evidence hash, NOT GENUINE when so, and its platform. */
export function publishedPlatformLines(platform: string, kms: string, quoteHash: string, genuine: boolean): string[] {
  const what = platform === "sev-snp" ? "SEV-SNP report" : platform === "nitro-enclave" ? "Nitro document" : "quote";
  const notGenuine = platform === "sev-snp" ? "test ARK" : platform === "nitro-enclave" ? "test root, not AWS's" : "simulated root";
  const line = PUBLISHED_LINE[platform];
  return [`  KMS ${kms}, ${what} hash ${quoteHash}${genuine ? "" : `  [NOT GENUINE: ${notGenuine}]`}`, ...(line ? [line] : [])];
}
