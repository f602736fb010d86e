/**
 * Auditing a registry from chain data alone: read every event in bounded block ranges (adapting to the
 * RPC's limits), rebuild each KMS's state (active / revoked, attestations, liveness proofs) and re-check
 * each registration from its event (`audit-state.ts`), optionally with the full quote verification
 * (`reverify`: with the collateral the registration published on chain, at the registration's own block
 * time, or with the caller's; a registration verified on chain must get the same status off chain under the
 * same root, and one verified under a root that is not Intel's is not genuine under Intel's), then compare with the registry's state: registrars that lost their role,
 * `isRegistered` against the rebuilt status, the on-chain path's record (`kmsInfo`: path, stale, status)
 * against the rebuilt one, a non-TDX KMS's `platformOf` (SEV-SNP, AWS Nitro Enclave) against its latest attestation's platform, and each KMS's liveness nonces, which must run without a gap up to `nonce(kms)`
 * at the last scanned block. Anything odd is an anomaly, also in the RPC's answers: logs of other addresses,
 * copies of a log and logs outside the requested blocks are dropped, counted and reported.
 */
import { getAddress, type Chain, type PublicClient, type Transport } from "viem";

import { bytesEqual, hexToBytes, type Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { pool } from "../core/pool.js";
import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import { DROPPED_LOG_KIND, rebuildState, type Anomaly, type AuditAttestation, type AuditKms } from "./audit-state.js";
import { platformName } from "./client.js";
import { decodeRegistryLog, tcbStatusName, type AuditEvent, type RegisteredEvent } from "./events.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import type { RegistrationVerdict } from "./reverify.js";
import { scanLogs, type DropReason, type DroppedCounts, type DroppedLog, type RawLog, type ScanProgress, type ScanResult } from "./logs.js";

/** What the RPC's `eth_getLogs` answers held: `received` = `used` + the dropped ones. */
export interface AuditLogCounts {
  received: number;
  used: number;
  dropped: DroppedCounts;
}

export interface AuditReport {
  registry: Hex;
  chainId: number;
  fromBlock: number;
  toBlock: number;
  logs: AuditLogCounts;
  kms: AuditKms[];
  anomalies: Anomaly[];
}

/** Result of a full re-verification of one quote (built by the caller from the `dcap` verifier). */
export interface ReverifyOutcome {
  ok: boolean;
  detail: string;
  /** The TCB status the verification found, when it got that far (compared with the on-chain verdict). */
  status?: string;
  /**
   * The root the verification trusted: Intel's SGX Root CA, or another one (`--root-ca`). Left out when no
   * verification was run (no collateral to run it with): the on-chain verdict is then not compared.
   */
  root?: "intel" | "other";
  /** The whole verdict, for a caller that shows more than the check's line (the dashboard, `watch`). */
  verdict?: RegistrationVerdict;
}

/** What the audit knows of the registration whose quote is re-verified. */
export interface ReverifyContext {
  kms: Hex;
  /** 1-based index of the attestation. */
  attestation: number;
  /** The registration's block and its timestamp (unix seconds): the time it was verified at on chain. */
  block: number;
  blockTimestamp: number;
  /** The registration as the events describe it: the collateral (TDX) or the VCEK and AMD chain (SEV-SNP) it published, and its platform (absent: tdx). */
  registration: Pick<AuditAttestation, "collateral"> & Partial<Pick<AuditAttestation, "platform" | "snpEvidence">>;
}
export type Reverify = (quote: Uint8Array, ctx: ReverifyContext) => Promise<ReverifyOutcome>;

/** The `root` of a re-verification that trusts `rootCaDer` (default Intel's). */
export function reverifyRoot(rootCaDer: Uint8Array | undefined): NonNullable<ReverifyOutcome["root"]> {
  return rootCaDer && !bytesEqual(rootCaDer, INTEL_SGX_ROOT_CA_DER) ? "other" : "intel";
}

export type AuditProgress = ScanProgress | { stage: "reverify" | "state"; done: number; total: number; note?: string };

export interface AuditOptions {
  publicClient: PublicClient<Transport, Chain>;
  registry: Hex;
  fromBlock: bigint;
  /** Default: the latest block. */
  toBlock?: bigint;
  /** Full quote verification per registration event (with the caller's collateral and root). */
  reverify?: Reverify;
  /** Compare the rebuilt status with `isRegistered` at `toBlock` for every KMS. Default true. */
  crossCheckState?: boolean;
  /** Parallel `eth_call`s for the role and state checks. Default 8. */
  concurrency?: number;
  initialRange?: bigint;
  maxRange?: bigint;
  onProgress?: (p: AuditProgress) => void;
}

export type AuditResult = AuditReport & { events: number; rpc: { requests: number; rangeErrors: number; finalRange: string } };

const cs = (a: string): Hex => getAddress(a) as Hex;

const nLogs = (n: number) => `${n} log${n === 1 ? "" : "s"}`;
const DROP_TEXT: Record<DropReason, (n: number) => string> = {
  foreign: (n) => `${nLogs(n)} of another address than the registry`,
  duplicate: (n) => `${n} extra cop${n === 1 ? "y" : "ies"} of logs in the same answer (same blockHash, transactionHash and logIndex)`,
  "out-of-range": (n) => `${nLogs(n)} outside the block range it was asked for`,
};
const EXAMPLES = 3;

/** Where a log the RPC returned says it is, with every field checked for shape (the RPC is not trusted). */
function describeLog(d: DroppedLog): string {
  const l = (typeof d.log === "object" && d.log !== null ? d.log : {}) as Partial<RawLog>;
  const tx = typeof l.transactionHash === "string" && /^0x[0-9a-fA-F]{64}$/.test(l.transactionHash) ? l.transactionHash : "(no valid tx hash)";
  const index = typeof l.logIndex === "string" && /^0x[0-9a-fA-F]{1,16}$/.test(l.logIndex) ? `#${BigInt(l.logIndex)}` : "";
  const block = typeof l.blockNumber === "string" && /^0x[0-9a-fA-F]{1,16}$/.test(l.blockNumber) ? `block ${BigInt(l.blockNumber)}` : "no valid block number";
  const address = typeof l.address === "string" && /^0x[0-9a-fA-F]{40}$/.test(l.address) ? cs(l.address) : "(no valid address)";
  const parts = [`tx ${tx}${index}`, block];
  if (d.reason === "foreign") parts.push(`address ${address}`);
  if (d.reason === "out-of-range") parts.push(`requested blocks ${d.fromBlock}…${d.toBlock}`);
  return parts.join(", ");
}

/** One anomaly per kind of dropped log, with its count and the first few examples. */
function droppedLogAnomalies(counts: DroppedCounts, examples: Map<DropReason, DroppedLog[]>): Anomaly[] {
  const out: Anomaly[] = [];
  for (const reason of ["foreign", "duplicate", "out-of-range"] as const) {
    const n = counts[reason === "out-of-range" ? "outOfRange" : reason];
    if (!n) continue;
    const ex = examples.get(reason) ?? [];
    const more = n > ex.length ? `; ${n - ex.length} more` : "";
    out.push({
      kms: null,
      kind: DROPPED_LOG_KIND[reason],
      detail: `the RPC returned ${DROP_TEXT[reason](n)}, dropped: ${ex.map(describeLog).join("; ")}${more}`,
    });
  }
  return out;
}

/** Scan, rebuild, check; see the module comment. */
export async function auditRegistry(opts: AuditOptions): Promise<AuditResult> {
  const { publicClient, registry } = opts;
  const latest = await publicClient.getBlockNumber({ cacheTime: 0 });
  // Never past the chain head (state reads at toBlock would fail, and logs there do not exist yet).
  const toBlock = opts.toBlock !== undefined && opts.toBlock < latest ? opts.toBlock : latest;
  const scanned = await scanRegistryEvents(opts, toBlock);
  const { kms, anomalies } = rebuildState(scanned.events);
  anomalies.unshift(...scanned.anomalies);
  const state = stateReader(opts, toBlock, latest);
  if (opts.reverify) anomalies.push(...(await reverifyRegistrations(opts, scanned.events, kms)));
  anomalies.push(...(await checkRegistrarRoles(opts, state, kms)));
  if (opts.crossCheckState ?? true) anomalies.push(...(await crossCheckState(opts, state, kms)));
  const { scan } = scanned;
  return {
    registry: cs(registry),
    chainId: publicClient.chain.id,
    fromBlock: Number(opts.fromBlock),
    toBlock: Number(toBlock),
    logs: { received: scan.received, used: scan.received - scan.dropped.foreign - scan.dropped.duplicate - scan.dropped.outOfRange, dropped: scan.dropped },
    kms,
    anomalies,
    events: scanned.events.length,
    rpc: { requests: scan.requests, rangeErrors: scan.rangeErrors, finalRange: scan.finalRange.toString() },
  };
}

/**
 * Every registry event of [fromBlock, toBlock] in chain order, with the anomalies of the RPC's answers (one
 * per kind of dropped log, then each log that has a registry event's topic but does not decode).
 */
async function scanRegistryEvents(opts: AuditOptions, toBlock: bigint): Promise<{ events: AuditEvent[]; anomalies: Anomaly[]; scan: ScanResult }> {
  const events: AuditEvent[] = [];
  const undecodable: Anomaly[] = [];
  const dropExamples = new Map<DropReason, DroppedLog[]>();
  const scan = await scanLogs({
    request: opts.publicClient.request as never,
    address: opts.registry,
    fromBlock: opts.fromBlock,
    toBlock,
    initialRange: opts.initialRange ?? 10_000n,
    maxRange: opts.maxRange ?? 100_000n,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    onDropped: (d) => {
      const list = dropExamples.get(d.reason) ?? [];
      if (list.length < EXAMPLES) dropExamples.set(d.reason, [...list, d]);
    },
    onLogs: (logs) => {
      for (const l of logs) {
        const ev = decodeRegistryLog(l);
        if (ev === "undecodable") undecodable.push({ kms: null, kind: "undecodable-event", detail: `log ${l.transactionHash}#${BigInt(l.logIndex)} has a registry event topic but does not decode` });
        else if (ev) events.push(ev);
      }
    },
  });
  events.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
  return { events, anomalies: [...droppedLogAnomalies(scan.dropped, dropExamples), ...undecodable], scan };
}

/** Registry reads at `toBlock`, or at the latest block once the RPC refuses historical state (said once in a progress note). */
interface StateReader {
  read<T>(read: (blockNumber: bigint | undefined) => Promise<T>): Promise<T>;
  /** Whether every read so far was at `toBlock` (it was, when `toBlock` is the latest block). */
  atToBlock(): boolean;
  toBlock: bigint;
}

function stateReader(opts: AuditOptions, toBlock: bigint, latest: bigint): StateReader {
  // A node without historical state (not an archive node) may refuse an old block, in which case the latest
  // state is used and a progress note says so.
  let stateBlock: bigint | undefined = toBlock;
  return {
    toBlock,
    atToBlock: () => stateBlock !== undefined || toBlock === latest,
    async read(read) {
      if (stateBlock === undefined) return read(undefined);
      try {
        return await read(stateBlock);
      } catch (e) {
        if (stateBlock === latest) throw e;
        stateBlock = undefined;
        opts.onProgress?.({ stage: "state", done: 0, total: 0, note: `the RPC has no state at block ${toBlock}; role and status checks use the latest block` });
        return read(undefined);
      }
    },
  };
}

/**
 * The caller's full verification of every registration's quote, in chain order (a `reverify` check each), told
 * the registration's block time and the collateral it published; for a registration verified on chain, the
 * status found must be the one the contract found (an `on-chain-verdict` check).
 */
async function reverifyRegistrations(opts: AuditOptions, events: AuditEvent[], kms: AuditKms[]): Promise<Anomaly[]> {
  const reverify = opts.reverify!;
  const anomalies: Anomaly[] = [];
  const regs = events.filter((e): e is RegisteredEvent => e.kind === "registered");
  const attestations = new Map<string, number>();
  const byAddr = new Map(kms.map((k) => [k.address.toLowerCase(), k]));
  const times = new Map<number, Promise<number>>();
  const timeOf = (block: number) => {
    let t = times.get(block);
    if (!t) times.set(block, (t = opts.publicClient.getBlock({ blockNumber: BigInt(block) }).then((b) => Number(b.timestamp))));
    return t;
  };
  let done = 0;
  for (const ev of regs) {
    const n = (attestations.get(ev.kms) ?? 0) + 1;
    attestations.set(ev.kms, n);
    const k = byAddr.get(ev.kms.toLowerCase())!;
    const registration = k.attestations[n - 1]!;
    let out: ReverifyOutcome;
    try {
      out = await reverify(hexToBytes(ev.quote, "quote"), { kms: ev.kms, attestation: n, block: ev.block, blockTimestamp: await timeOf(ev.block), registration });
    } catch (e) {
      out = { ok: false, detail: firstLine(errorMessage(e)) };
    }
    const at = `attestation #${n} (block ${ev.block})`;
    const verdict = registration.verified ? compareVerdicts(registration.verified, out) : undefined;
    if (verdict?.notGenuine) {
      // one fact, one anomaly: under Intel's root the quote of a registration verified under another root fails
      k.checks.push({ attestation: n, name: "reverify", ok: false, detail: verdict.detail });
      k.checks.push({ attestation: n, name: "on-chain-verdict", ok: false, detail: verdict.detail });
      anomalies.push({ kms: ev.kms, kind: "not-genuine", detail: `${at}: ${verdict.detail}` });
    } else {
      k.checks.push({ attestation: n, name: "reverify", ok: out.ok, detail: out.detail });
      if (!out.ok) anomalies.push({ kms: ev.kms, kind: "quote-not-verifiable", detail: `${at}: ${out.detail}` });
      if (verdict) k.checks.push({ attestation: n, name: "on-chain-verdict", ok: verdict.ok, detail: verdict.detail });
      if (verdict?.mismatch) anomalies.push({ kms: ev.kms, kind: "verdict-mismatch", detail: `${at}: ${verdict.detail}` });
    }
    opts.onProgress?.({ stage: "reverify", done: ++done, total: regs.length });
  }
  return anomalies;
}

/**
 * The on-chain verdict of a registration against the off-chain re-verification of its quote. The two are
 * compared only under the same root: Intel's on both sides, or another root on both sides when the off-chain
 * verification got as far as a status (it then chained the certificates the on-chain verifier accepted to the
 * `--root-ca` given, so that root is the verifier's). A registration verified under a root that is not Intel's,
 * re-verified under Intel's root, is not a disagreement of the verifiers but a registration that is not
 * genuine (`notGenuine`). `mismatch`: the verifiers disagree (a `verdict-mismatch` anomaly). Undefined when
 * no off-chain verification ran.
 */
function compareVerdicts(onChain: NonNullable<AuditAttestation["verified"]>, out: ReverifyOutcome): { ok: boolean; detail: string; mismatch?: true; notGenuine?: true } | undefined {
  if (out.root === undefined) return undefined;
  if (!onChain.intelRoot && out.root === "intel") {
    const offChain = out.status ? `verifies it as ${out.status} only with collateral from elsewhere` : `fails (${out.detail})`;
    return { ok: false, notGenuine: true, detail: `NOT GENUINE: verified on chain as ${onChain.tcbStatus} by a verifier whose root is not Intel's (intelRoot false); the off-chain re-verification under Intel's root ${offChain}; give the verifier's root with --root-ca to compare the verdicts` };
  }
  if (onChain.intelRoot && out.root === "other") {
    return { ok: false, detail: `not compared: verified on chain under Intel's root, re-verified off chain under another root (--root-ca)` };
  }
  if (!onChain.intelRoot && !out.status) {
    return { ok: false, detail: `not compared: the off-chain re-verification under --root-ca did not get a status, so whether --root-ca is the verifier's root is not known (${out.detail})` };
  }
  if (out.status === onChain.tcbStatus) return { ok: true, detail: `the off-chain verifier agrees with the on-chain one${onChain.intelRoot ? "" : " (both under the same root, not Intel's)"}: ${onChain.tcbStatus}` };
  return { ok: false, mismatch: true, detail: `verified on chain as ${onChain.tcbStatus}, but the off-chain verification under the same root ${out.status ? `found ${out.status}` : "did not complete"}` };
}

/**
 * Registrars that no longer hold the role (as of toBlock). Attestations verified on chain are left out: anyone
 * may make those, no role is involved.
 */
async function checkRegistrarRoles(opts: AuditOptions, state: StateReader, kms: AuditKms[]): Promise<Anomaly[]> {
  const { publicClient, registry } = opts;
  const registrars = [...new Set(kms.flatMap((k) => k.attestations.filter((a) => a.path === "registrar").map((a) => a.registrar)))];
  if (!registrars.length) return [];
  const role = (await state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "REGISTRAR_ROLE", blockNumber }))) as Hex;
  const lost = new Set<string>();
  await pool(registrars, opts.concurrency ?? 8, async (r) => {
    const has = await state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "hasRole", args: [role, r], blockNumber }));
    if (!has) lost.add(r.toLowerCase());
  });
  const anomalies: Anomaly[] = [];
  for (const k of kms) {
    for (const [i, a] of k.attestations.entries()) {
      if (a.path === "registrar" && lost.has(a.registrar.toLowerCase())) {
        anomalies.push({ kms: k.address, kind: "registrar-lost-role", detail: `attestation #${i + 1} was made by ${a.registrar}, which no longer holds REGISTRAR_ROLE (as of block ${state.toBlock})` });
      }
    }
  }
  return anomalies;
}

/**
 * `nonce(kms)` just before the scanned range, read only when the events cannot show it (a first proof with
 * nonce 0 shows it was 0). Every nonce was 0 while the registry had no code yet (a scan from its deployment
 * block). Without historical state the answer is `undefined` (the check is left out), with one note.
 */
function nonceBeforeRange(opts: AuditOptions): (kms: Hex) => Promise<bigint | undefined> {
  const { publicClient, registry } = opts;
  const before = opts.fromBlock - 1n;
  let noStateBefore = false;
  const unavailable = () => {
    if (!noStateBefore) {
      noStateBefore = true;
      opts.onProgress?.({ stage: "state", done: 0, total: 0, note: `the RPC has no state at block ${before}; the first liveness nonce in range is not compared with nonce() there` });
    }
    return undefined;
  };
  let deployedBefore: Promise<boolean | undefined> | undefined;
  return async (kms) => {
    if (opts.fromBlock === 0n) return 0n;
    deployedBefore ??= publicClient.getCode({ address: registry, blockNumber: before }).then(
      (code) => code !== undefined && code !== "0x",
      () => unavailable(),
    );
    const deployed = await deployedBefore;
    if (deployed === undefined || noStateBefore) return undefined;
    if (!deployed) return 0n;
    try {
      return await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "nonce", args: [kms], blockNumber: before });
    } catch {
      return unavailable();
    }
  };
}

/** Each KMS's rebuilt status against `isRegistered`, and its liveness nonces against `nonce()` at both ends of the range. */
async function crossCheckState(opts: AuditOptions, state: StateReader, kms: AuditKms[]): Promise<Anomaly[]> {
  const { publicClient, registry } = opts;
  const { toBlock } = state;
  const nonceBefore = nonceBeforeRange(opts);
  const anomalies: Anomaly[] = [];
  let done = 0;
  let notedLatest = false;
  await pool(kms, opts.concurrency ?? 8, async (k) => {
    const [on, nonceNow] = await Promise.all([
      state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [k.address], blockNumber })),
      state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "nonce", args: [k.address], blockNumber })),
    ]);
    if (on !== (k.status === "active")) {
      anomalies.push({ kms: k.address, kind: "state-mismatch", detail: `events say ${k.status}, but isRegistered() at block ${toBlock} returns ${on}` });
    }
    if (k.path === "on-chain" || k.rechecks.length || k.attestations.some((a) => a.path === "on-chain")) anomalies.push(...(await checkOnChainRecord(opts, state, k)));
    if (k.attestations.some((a) => a.platform !== "tdx")) anomalies.push(...(await checkPlatform(opts, state, k)));
    const atToBlock = state.atToBlock();
    if (!atToBlock && !notedLatest) {
      notedLatest = true;
      opts.onProgress?.({ stage: "state", done: 0, total: 0, note: `nonce() is only readable at the latest block, not at ${toBlock}; the last liveness nonce in range is not compared with it` });
    }
    await checkLivenessNonces(k, atToBlock ? nonceNow : undefined, toBlock, opts.fromBlock - 1n, nonceBefore, anomalies);
    if (++done % 500 === 0 || done === kms.length) opts.onProgress?.({ stage: "state", done, total: kms.length });
  });
  return anomalies;
}

/** The record's on-chain fields (`kmsInfo`: path, stale, status, expiry) against the ones the events rebuilt. */
async function checkOnChainRecord(opts: AuditOptions, state: StateReader, k: AuditKms): Promise<Anomaly[]> {
  const { publicClient, registry } = opts;
  let info;
  try {
    info = await state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "kmsInfo", args: [k.address], blockNumber }));
  } catch (e) {
    return [{ kms: k.address, kind: "state-mismatch", detail: `kmsInfo() at block ${state.toBlock} cannot be read: ${firstLine(errorMessage(e))}` }];
  }
  const chain = {
    path: info.path === 1 ? "on-chain" : "registrar",
    stale: info.stale,
    tcbStatus: info.path === 1 ? tcbStatusName(info.tcbStatus) : null,
    collateralExpiry: info.path === 1 ? Number(info.collateralExpiry) : null,
  };
  const events = { path: k.path, stale: k.stale, tcbStatus: k.tcbStatus, collateralExpiry: k.collateralExpiry };
  const diff = (Object.keys(chain) as (keyof typeof chain)[]).filter((f) => chain[f] !== events[f]);
  if (!diff.length) return [];
  const show = (o: Record<string, unknown>) => diff.map((f) => `${f} ${String(o[f])}`).join(", ");
  return [{ kms: k.address, kind: "state-mismatch", detail: `events say ${show(events)}, but kmsInfo() at block ${state.toBlock} says ${show(chain)}` }];
}

/**
 * `platformOf(kms)` against the platform of the latest attestation the events show (read only for a KMS with an
 * SEV-SNP or Nitro attestation, so a registry that predates `platformOf` is audited as before).
 */
async function checkPlatform(opts: AuditOptions, state: StateReader, k: AuditKms): Promise<Anomaly[]> {
  const { publicClient, registry } = opts;
  let n: number;
  try {
    n = await state.read((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "platformOf", args: [k.address], blockNumber }));
  } catch (e) {
    return [{ kms: k.address, kind: "state-mismatch", detail: `platformOf() at block ${state.toBlock} cannot be read: ${firstLine(errorMessage(e))}` }];
  }
  const chain = platformName(n);
  if (chain === k.platform) return [];
  return [{ kms: k.address, kind: "state-mismatch", detail: `events say the latest attestation is ${k.platform}, but platformOf() at block ${state.toBlock} says ${chain}` }];
}

/**
 * The liveness nonces of `k` in range against `nonce()` (a `liveness-nonce-gap` anomaly each): the last proof's nonce + 1 must be `nonceNow` (at
 * `toBlock`; `undefined` when it could only be read at the latest block), and the first proof's nonce (or, with
 * no proof, `nonceNow`) must be `nonce()` at the block `before` the range.
 */
async function checkLivenessNonces(
  k: AuditKms,
  nonceNow: bigint | undefined,
  toBlock: bigint,
  before: bigint,
  nonceBefore: (kms: Hex) => Promise<bigint | undefined>,
  anomalies: Anomaly[],
): Promise<void> {
  const first = k.livenessProofs[0];
  const last = k.livenessProofs.at(-1);
  if (nonceNow !== undefined && last && nonceNow !== BigInt(last.nonce) + 1n) {
    anomalies.push({
      kms: k.address,
      kind: "liveness-nonce-gap",
      detail: `the last KmsLivenessProven in range (block ${last.block}) has nonce ${last.nonce}, so nonce() should be ${BigInt(last.nonce) + 1n} at block ${toBlock}, but it is ${nonceNow}`,
    });
  }
  const startNonce = first ? BigInt(first.nonce) : (nonceNow ?? 0n);
  if (startNonce > 0n) {
    const start = await nonceBefore(k.address);
    if (start !== undefined && start !== startNonce) {
      anomalies.push({
        kms: k.address,
        kind: "liveness-nonce-gap",
        detail: first
          ? `the first KmsLivenessProven in range (block ${first.block}) has nonce ${first.nonce}, but nonce() at block ${before} (before the range) is ${start}`
          : `nonce() went from ${start} at block ${before} to ${nonceNow} at block ${toBlock}, but the range has no KmsLivenessProven event`,
      });
    }
  }
}

/** The `--json` document: `{ registry, chainId, fromBlock, toBlock, logs, kms, anomalies }`. */
export function auditJson(r: AuditReport): AuditReport {
  return { registry: r.registry, chainId: r.chainId, fromBlock: r.fromBlock, toBlock: r.toBlock, logs: r.logs, kms: r.kms, anomalies: r.anomalies };
}
