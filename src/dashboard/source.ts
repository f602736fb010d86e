/**
 * One dashboard snapshot from the chain: the audit of the registry from its deployment block to the head
 * (`auditRegistry`, as `kms-registry audit` runs it), with its re-verification hook used to see every
 * registered quote; then the registry's record of each KMS, its header views (allowlist, accepted statuses,
 * verifier), block times, and the details and full re-verification of each quote (memoised by quote hash:
 * a quote is looked at once per dashboard run).
 */
import { keccak256, type Chain, type PublicClient, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { pool } from "../core/pool.js";
import { TCB_STATUSES, type TcbStatus } from "../dcap/types.js";
import { auditRegistry, reverifyRoot, type AuditProgress, type AuditResult, type Reverify } from "../registry/audit.js";
import { platformOfQuote, type AuditKms } from "../registry/audit-state.js";
import { readAcceptedStatuses, readKms, readVerifiedOnChain, type KmsInfo } from "../registry/client.js";
import { networkName } from "../registry/connect.js";
import type { RegistrationVerdict } from "../registry/reverify.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import type { AttestationView, DashboardSnapshot, KmsView, OnChainRecord, QuoteVerifier, RegistryHeader, ReverifyResult, TimelineEntry } from "./model.js";
import { nitroDocumentDetails, platformReportDetails, quoteDetails, snpReportDetails, type QuoteDetails } from "./quote-details.js";

export interface SourceOptions {
  publicClient: PublicClient<Transport, Chain>;
  registry: Hex;
  fromBlock: bigint;
  deploymentSource: RegistryHeader["deploymentSource"];
  /** Full re-verification of each quote (with the caller's collateral); none: only the collateral-free checks. */
  verifyQuote?: QuoteVerifier;
  /** One line describing `verifyQuote` (e.g. "collateral from https://pccs…"), shown in the header. */
  reverifyLabel?: string;
  /** Trust root for the collateral-free checks (default Intel's). */
  rootCaDer?: Uint8Array;
  /** Clock, unix seconds. */
  now?: () => number;
  /** Parallel reads. Default 16. */
  concurrency?: number;
  /** The audit's progress (scan, re-verification, state reads). */
  onProgress?: (p: AuditProgress) => void;
}

/** What is kept between snapshots: quote results by hash, block times, the log scan's last range. */
type QuoteEntries = Map<string, { details: QuoteDetails; reverify: ReverifyResult | null; /** a verification ran (the collateral source answered) */ ran: boolean }>;

export interface SourceCache {
  quotes: QuoteEntries;
  blockTimes: Map<number, number>;
  range?: bigint;
  lastHead?: number;
}

export function newSourceCache(): SourceCache {
  return { quotes: new Map(), blockTimes: new Map() };
}

/** Build one snapshot at the current head. Throws on RPC failures (the caller keeps the last good one). */
export async function loadSnapshot(opts: SourceOptions, cache: SourceCache): Promise<DashboardSnapshot> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const pc = opts.publicClient;
  const head = await pc.getBlockNumber({ cacheTime: 0 });
  if (cache.lastHead !== undefined && Number(head) < cache.lastHead) cache.blockTimes.clear(); // the chain went back: times may differ
  cache.lastHead = Number(head);
  // the audit hands every registered quote to `reverify`, in chain order: keep them, and look at each once (a
  // quote's verdict depends on its registration's block time and published evidence: keyed by hash and block)
  const quotes = new Map<string, Map<number, string>>();
  const seen: QuoteEntries = new Map();
  const reverify: Reverify = async (quote, ctx) => {
    const key = `${keccak256(quote)}@${ctx.block}`;
    const byN = quotes.get(ctx.kms.toLowerCase()) ?? new Map<number, string>();
    byN.set(ctx.attestation, key);
    quotes.set(ctx.kms.toLowerCase(), byN);
    let entry = cache.quotes.get(key);
    if (!entry) {
      const platform = ctx.registration.platform ?? platformOfQuote(quote);
      const reg = { quote, blockTimestamp: ctx.blockTimestamp, ...(ctx.registration.snpEvidence ? { snpEvidence: ctx.registration.snpEvidence } : {}) };
      // TDX: the collateral-free checks; SEV-SNP and AWS Nitro Enclave: their pages' fields; another platform: the fields its chain data gives
      const details =
        platform === "tdx" ? quoteDetails(quote, now(), opts.rootCaDer) : platform === "sev-snp" ? await snpReportDetails(reg) : platform === "nitro-enclave" ? await nitroDocumentDetails(reg) : await platformReportDetails(platform, reg);
      let rv: ReverifyResult | null = null;
      let keep = true;
      if (opts.verifyQuote) {
        try {
          rv = await opts.verifyQuote(quote, ctx);
        } catch (e) {
          // (a collateral source that failed is asked again at the next refresh)
          keep = false;
          rv = { ok: false, detail: firstLine(errorMessage(e)), status: null, genuine: false, collateralExpiry: null, checks: [], platform };
        }
      }
      entry = { details, reverify: rv, ran: rv !== null && keep };
      if (keep) cache.quotes.set(key, entry);
    }
    seen.set(key, entry);
    const rv = entry.reverify;
    if (!rv) return { ok: true, detail: NOT_REVERIFIED };
    // the audit compares an on-chain verdict with this one only when both trusted the same root; a collateral
    // source that failed ran no verification (no root)
    return { ok: rv.ok, detail: rv.detail, ...(rv.status ? { status: rv.status } : {}), ...(entry.ran ? { root } : {}) };
  };
  const root = reverifyRoot(opts.rootCaDer);
  const concurrency = opts.concurrency ?? 16;
  const audit = await auditRegistry({
    publicClient: pc,
    registry: opts.registry,
    fromBlock: opts.fromBlock,
    toBlock: head,
    reverify,
    concurrency,
    ...(cache.range ? { initialRange: cache.range } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  cache.range = BigInt(audit.rpc.finalRange);
  const toBlock = BigInt(audit.toBlock);
  const header = await readHeader(opts, audit, toBlock);
  const records = await readRecords(opts, audit.kms, toBlock, concurrency, header.allowlistEnabled !== false);
  await readBlockTimes(pc, cache, blocksOf(audit.kms, audit.toBlock), concurrency);
  header.headTime = cache.blockTimes.get(audit.toBlock) ?? null;
  const kms = audit.kms.map((k) => kmsView(k, records.get(k.address.toLowerCase()) ?? null, quotes.get(k.address.toLowerCase()), audit, cache, seen, !!opts.verifyQuote));
  const recent = kms.flatMap((k) => k.timeline).sort((a, b) => b.block - a.block || b.id.localeCompare(a.id));
  return {
    registry: header,
    kms,
    registryAnomalies: audit.anomalies.filter((a) => a.kms === null || !kms.some((k) => k.address.toLowerCase() === a.kms!.toLowerCase())),
    anomalyCount: audit.anomalies.length,
    events: audit.events,
    recent,
    builtAt: now(),
    error: null,
  };
}

/** A registration's verdict (`reverifyRegistration`) as the dashboard shows it. */
export function reverifyResultOf(v: RegistrationVerdict): ReverifyResult {
  return {
    ok: v.ok,
    detail: v.summary,
    status: v.status,
    genuine: v.genuine === true,
    // a VCEK's notAfter is no collateral expiry (AMD publishes no TCB status that goes stale)
    collateralExpiry: v.platform === "tdx" ? v.validUntil : null,
    checks: v.steps,
    platform: v.platform,
    report: v.report,
  };
}

/** The `reverify` detail when no collateral was given; such checks are left out of the views. */
const NOT_REVERIFIED = "not re-verified (no collateral given)";

async function readHeader(opts: SourceOptions, audit: AuditResult, toBlock: bigint): Promise<RegistryHeader> {
  const pc = opts.publicClient;
  const address = opts.registry;
  const at = { blockNumber: toBlock };
  // a read that fails leaves its field unknown (null) rather than the page empty
  const [allowlist, verifier, accepted] = await Promise.all([
    pc.readContract({ address, abi: kmsRegistryAbi, functionName: "imageAllowlistEnabled", ...at }).catch(() => null),
    pc.readContract({ address, abi: kmsRegistryAbi, functionName: "verifier", ...at }).catch(() => null),
    readAcceptedStatuses(pc, address, at).catch(() => null),
  ]);
  return {
    chainId: audit.chainId,
    chainName: networkName(audit.chainId),
    address: audit.registry,
    deploymentBlock: audit.fromBlock,
    deploymentSource: opts.deploymentSource,
    head: audit.toBlock,
    headTime: null,
    acceptedStatuses: accepted,
    verifier: verifier && !/^0x0{40}$/i.test(verifier) ? (verifier as Hex) : null,
    allowlistEnabled: allowlist,
    reverify: opts.verifyQuote ? (opts.reverifyLabel ?? "full DCAP verification") : null,
  };
}

/** `kmsInfo` of every KMS at `toBlock` (the registry client's `readKms`), and whether its image is on the allowlist (read only while the allowlist is on). */
async function readRecords(opts: SourceOptions, kms: AuditKms[], toBlock: bigint, concurrency: number, allowlist: boolean): Promise<Map<string, OnChainRecord>> {
  const pc = opts.publicClient;
  const at = { blockNumber: toBlock };
  const out = new Map<string, OnChainRecord>();
  await pool(kms, concurrency, async (k) => {
    let r: KmsInfo;
    try {
      r = await readKms(pc, opts.registry, k.address, at);
    } catch {
      return;
    }
    const [allowed, verified] = await Promise.all([
      allowlist ? pc.readContract({ address: opts.registry, abi: kmsRegistryAbi, functionName: "isImageAllowed", args: [r.imageMeasurement], ...at }).catch(() => null) : Promise.resolve(null),
      readVerifiedOnChain(pc, opts.registry, k.address, at).catch(() => null),
    ]);
    const onChain = r.path === "on-chain";
    out.set(k.address.toLowerCase(), {
      quoteHash: r.quoteHash.toLowerCase() as Hex,
      imageMeasurement: r.imageMeasurement,
      registrar: r.registrar,
      attestedAt: r.attestedAt,
      revoked: r.revoked,
      livenessNonce: Number(r.livenessNonce),
      imageAllowed: allowed,
      path: r.path,
      intelRoot: r.intelRoot,
      stale: r.stale,
      tcbStatus: r.tcbStatus,
      fmspc: onChain ? (`0x${r.fmspc}` as Hex) : null,
      collateralExpiry: r.collateralExpiry > 0 ? r.collateralExpiry : null,
      tcbEvaluationDataNumber: r.tcbEvaluationDataNumber,
      verifiedOnChain: verified,
    });
  });
  return out;
}

function blocksOf(kms: AuditKms[], head: number): number[] {
  const s = new Set<number>([head]);
  for (const k of kms) {
    for (const a of k.attestations) s.add(a.block);
    for (const p of k.livenessProofs) s.add(p.block);
    for (const r of k.rechecks) s.add(r.block);
    if (k.revokedAt !== null) s.add(k.revokedAt);
  }
  return [...s];
}

async function readBlockTimes(pc: PublicClient<Transport, Chain>, cache: SourceCache, blocks: number[], concurrency: number): Promise<void> {
  const missing = blocks.filter((b) => !cache.blockTimes.has(b));
  await pool(missing, concurrency, async (b) => {
    try {
      const blk = await pc.getBlock({ blockNumber: BigInt(b) });
      cache.blockTimes.set(b, Number(blk.timestamp));
    } catch {
      // the time stays unknown; the page shows the block number alone
    }
  });
}

function kmsView(
  k: AuditKms,
  record: OnChainRecord | null,
  quoteKeys: Map<number, string> | undefined,
  audit: AuditResult,
  cache: SourceCache,
  seen: QuoteEntries,
  reverified: boolean,
): KmsView {
  const time = (b: number) => cache.blockTimes.get(b) ?? null;
  const checks = reverified ? k.checks : k.checks.filter((c) => !(c.name === "reverify" && c.detail === NOT_REVERIFIED));
  const attestations: AttestationView[] = k.attestations.map((a, i) => {
    const n = i + 1;
    const key = quoteKeys?.get(n);
    const q = key ? seen.get(key) : undefined;
    const v = a.verified;
    return {
      n,
      block: a.block,
      tx: a.tx,
      time: time(a.block),
      quoteHash: a.quoteHash,
      registrar: a.registrar,
      path: a.path,
      platform: a.platform,
      onChain: v ? { tcbStatus: statusOrNull(v.tcbStatus), fmspc: `0x${v.fmspc}` as Hex, collateralExpiry: v.collateralExpiry, intelRoot: v.intelRoot } : null,
      quote: q?.details ?? null,
      checks: checks.filter((c) => c.attestation === n),
      reverify: q?.reverify ?? null,
    };
  });
  const latest = attestations.at(-1);
  const timeline: TimelineEntry[] = [];
  for (const a of attestations) {
    timeline.push({
      id: `${a.tx}:att:${a.n}`,
      kind: a.n === 1 ? "registered" : "re-attested",
      kms: k.address,
      block: a.block,
      tx: a.tx,
      time: a.time,
      summary: `${a.n === 1 ? "registered" : `re-attested (attestation #${a.n})`} by ${a.registrar}${a.onChain ? `, verified on chain: ${a.onChain.tcbStatus ?? "unknown status"}${a.onChain.intelRoot ? "" : " (NOT Intel's root)"}` : ""}`,
      attestation: a.n,
      by: a.registrar,
    });
  }
  k.livenessProofs.forEach((p) => {
    timeline.push({ id: `${p.tx}:live:${p.nonce}`, kind: "liveness", kms: k.address, block: p.block, tx: p.tx, time: time(p.block), summary: `liveness proven (nonce ${p.nonce})` });
  });
  k.rechecks.forEach((e, i) => {
    timeline.push({
      id: `${e.tx}:recheck:${i}`,
      kind: "rechecked",
      kms: k.address,
      block: e.block,
      tx: e.tx,
      time: time(e.block),
      summary: `rechecked by ${e.by}: ${e.tcbStatus}, collateral valid until ${new Date(e.collateralExpiry * 1000).toISOString().slice(0, 10)}${e.stale ? " — now STALE" : ", not stale"}`,
      by: e.by,
      stale: e.stale,
    });
  });
  if (k.revocation && k.revokedAt !== null) {
    timeline.push({ id: `${k.revocation.tx}:revoked`, kind: "revoked", kms: k.address, block: k.revokedAt, tx: k.revocation.tx, time: time(k.revokedAt), summary: `revoked by ${k.revocation.by}`, text: k.revocation.reason, by: k.revocation.by });
  }
  timeline.sort((a, b) => a.block - b.block || order(a.kind) - order(b.kind));
  const lastProof = k.livenessProofs.at(-1);
  const binding = latest?.checks.find((c) => c.name === "binding");
  const rv = latest?.reverify ?? null;
  const onChainTcb = record?.path === "on-chain" && record.tcbStatus !== null;
  const stale = record?.stale === true;
  return {
    address: k.address,
    state: k.status === "revoked" ? "revoked" : stale ? "stale" : "active",
    path: latest?.path ?? "registrar",
    platform: k.platform,
    root: record?.path === "on-chain" && record.intelRoot !== null ? (record.intelRoot ? "intel" : "other") : (latest?.quote?.root ?? "unknown"),
    tcbStatus: onChainTcb ? record.tcbStatus : (rv?.status ?? null),
    tcbSource: onChainTcb ? "on-chain" : rv?.status ? "re-verification" : null,
    collateralExpiry: onChainTcb ? record.collateralExpiry : (rv?.collateralExpiry ?? null),
    fmspc: record?.fmspc ?? latest?.quote?.fmspc ?? null,
    lastLiveness: lastProof ? { ...lastProof } : null,
    livenessProofs: k.livenessProofs.length,
    attestationCount: k.attestations.length,
    registeredAt: k.registeredAt,
    revocation: k.revocation && k.revokedAt !== null ? { block: k.revokedAt, ...k.revocation } : null,
    binding: binding ? { ok: binding.ok, detail: binding.detail } : { ok: false, detail: "no binding check (no attestation)" },
    caPubkey: k.caPubkey,
    k256Pubkey: k.k256Pubkey,
    record,
    attestations,
    timeline,
    anomalies: audit.anomalies.filter((a) => a.kms !== null && a.kms.toLowerCase() === k.address.toLowerCase()),
  };
}

/** A status name the verifier returned, or null for a number outside Intel's list (shown as unknown). */
const statusOrNull = (s: string): TcbStatus | null => ((TCB_STATUSES as readonly string[]).includes(s) ? (s as TcbStatus) : null);

const ORDER: Record<TimelineEntry["kind"], number> = { registered: 0, "re-attested": 1, rechecked: 2, liveness: 3, revoked: 4 };
const order = (k: TimelineEntry["kind"]) => ORDER[k];
