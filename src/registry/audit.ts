/**
 * Auditing a registry from chain data alone: read every event in bounded block ranges (adapting to the
 * RPC's limits), rebuild each KMS's state (active / revoked, attestations, liveness proofs), and re-check
 * each registration from its event: the quote hash against the indexed topic, the KMS address against
 * the k256 key, the quote's report_data against the (caPubkey, k256Pubkey) binding, and optionally the
 * full quote verification (`reverify`). Anything odd is an anomaly, also in the RPC's answers: logs of other
 * addresses, copies of a log and logs outside the requested blocks are dropped, counted and reported, and each
 * KMS's liveness nonces must run without a gap up to `nonce(kms)` at the last scanned block.
 */
import { decodeEventLog, getAddress, keccak256, type Chain, type PublicClient, type Transport } from "viem";

import { checkKmsBinding } from "../dstack/binding.js";
import { parseQuote } from "../dcap/quote.js";
import { hexToBytes, type Hex } from "../core/bytes.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { scanLogs, type DropReason, type DroppedCounts, type DroppedLog, type RawLog, type ScanProgress } from "./logs.js";
import { ethAddress } from "../dstack/signatures.js";

export type AuditEvent =
  | {
      kind: "registered";
      kms: Hex;
      quoteHash: Hex;
      registrar: Hex;
      caPubkey: Hex;
      k256Pubkey: Hex;
      quote: Hex;
      block: number;
      tx: Hex;
      logIndex: number;
    }
  | { kind: "revoked"; kms: Hex; by: Hex; reason: string; block: number; tx: Hex; logIndex: number }
  | { kind: "liveness"; kms: Hex; timestamp: number; nonce: string; block: number; tx: Hex; logIndex: number };

export interface AuditCheck {
  /** 1-based index of the attestation (registration event) the check is about. */
  attestation: number;
  name: "quote-hash" | "kms-address" | "binding" | "quote-parse" | "reverify" | "ca-key-unchanged";
  ok: boolean;
  detail: string;
}

export interface AuditAttestation {
  block: number;
  tx: Hex;
  quoteHash: Hex;
  registrar: Hex;
}

export interface AuditKms {
  address: Hex;
  status: "active" | "revoked";
  attestations: AuditAttestation[];
  /** Latest attestation's quote hash. */
  quoteHash: Hex;
  caPubkey: Hex;
  k256Pubkey: Hex;
  /** Registrar of the first registration. */
  registrar: Hex;
  /** Block of the first registration. */
  registeredAt: number;
  revokedAt: number | null;
  revocation?: { by: Hex; reason: string; tx: Hex };
  livenessProofs: { block: number; tx: Hex; timestamp: number; nonce: string }[];
  checks: AuditCheck[];
}

export type AnomalyKind =
  | "quote-hash-mismatch"
  | "kms-address-mismatch"
  | "binding-mismatch"
  | "quote-unparseable"
  | "quote-not-verifiable"
  | "ca-key-changed"
  | "registered-after-revocation"
  | "registrar-lost-role"
  | "revoked-unknown-kms"
  | "liveness-unknown-kms"
  | "liveness-after-revocation"
  | "state-mismatch"
  | "undecodable-event"
  | "foreign-log"
  | "duplicate-log"
  | "log-out-of-range"
  | "liveness-nonce-gap";

export interface Anomaly {
  kms: Hex | null;
  kind: AnomalyKind;
  detail: string;
}

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

/** Result of a full re-verification of one quote (built by the caller from `src/attestation`). */
export interface ReverifyOutcome {
  ok: boolean;
  detail: string;
}
export type Reverify = (quote: Uint8Array, ctx: { kms: Hex; attestation: number }) => Promise<ReverifyOutcome>;

const cs = (a: string): Hex => getAddress(a) as Hex;

/** Decode one raw registry log; `undefined` for events the audit does not replay (roles, allowlist). */
export function decodeRegistryLog(log: RawLog): AuditEvent | undefined | "undecodable" {
  let d;
  try {
    d = decodeEventLog({ abi: kmsRegistryAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
  } catch {
    return KNOWN_TOPICS.has(log.topics[0]?.toLowerCase() ?? "") ? "undecodable" : undefined;
  }
  const where = { block: Number(BigInt(log.blockNumber)), tx: log.transactionHash, logIndex: Number(BigInt(log.logIndex)) };
  switch (d.eventName) {
    case "KmsRegistered":
      return {
        kind: "registered",
        kms: cs(d.args.kms),
        quoteHash: d.args.quoteHash.toLowerCase() as Hex,
        registrar: cs(d.args.registrar),
        caPubkey: d.args.caPubkey.toLowerCase() as Hex,
        k256Pubkey: d.args.k256Pubkey.toLowerCase() as Hex,
        quote: d.args.quote.toLowerCase() as Hex,
        ...where,
      };
    case "KmsRevoked":
      return { kind: "revoked", kms: cs(d.args.kms), by: cs(d.args.by), reason: d.args.reason, ...where };
    case "KmsLivenessProven":
      return { kind: "liveness", kms: cs(d.args.kms), timestamp: Number(d.args.timestamp), nonce: d.args.nonce.toString(), ...where };
  }
}

const KNOWN_TOPICS = new Set(
  kmsRegistryAbi
    .filter((x) => x.type === "event")
    .map((e) => keccak256(new TextEncoder().encode(`${e.name}(${e.inputs.map((i) => i.type).join(",")})`)).toLowerCase()),
);

/** Checks of one registration event that need nothing but the event (hash, address, binding). */
export function checkRegistration(ev: Extract<AuditEvent, { kind: "registered" }>, attestation: number): AuditCheck[] {
  const checks: AuditCheck[] = [];
  const quote = hexToBytes(ev.quote, "quote");
  const ca = hexToBytes(ev.caPubkey, "caPubkey");
  const k256 = hexToBytes(ev.k256Pubkey, "k256Pubkey");
  const qh = keccak256(quote);
  checks.push({
    attestation,
    name: "quote-hash",
    ok: qh === ev.quoteHash,
    detail: qh === ev.quoteHash ? "keccak256(quote) equals the indexed quoteHash" : `keccak256(quote) = ${qh}, event says ${ev.quoteHash}`,
  });
  let addr: string | undefined;
  try {
    addr = ethAddress(k256);
  } catch {
    addr = undefined;
  }
  const addrOk = addr !== undefined && addr.toLowerCase() === ev.kms.toLowerCase();
  checks.push({
    attestation,
    name: "kms-address",
    ok: addrOk,
    detail: addrOk ? "the KMS address is the k256 key's Ethereum address" : `k256Pubkey's address is ${addr ? cs(addr) : "(not a secp256k1 key)"}, event says ${ev.kms}`,
  });
  let reportData: Uint8Array | undefined;
  try {
    reportData = parseQuote(quote).body.reportData;
    checks.push({ attestation, name: "quote-parse", ok: true, detail: `quote parses (${quote.length} bytes)` });
  } catch (e) {
    checks.push({ attestation, name: "quote-parse", ok: false, detail: `quote does not parse: ${e instanceof Error ? e.message : String(e)}` });
  }
  if (reportData) {
    try {
      const b = checkKmsBinding(reportData, ca, k256);
      checks.push({ attestation, name: "binding", ok: b.ok, detail: b.detail });
    } catch (e) {
      checks.push({ attestation, name: "binding", ok: false, detail: `keys have the wrong shape: ${e instanceof Error ? e.message : String(e)}` });
    }
  } else {
    checks.push({ attestation, name: "binding", ok: false, detail: "no report_data (the quote does not parse)" });
  }
  return checks;
}

const ANOMALY_OF: Partial<Record<AuditCheck["name"], AnomalyKind>> = {
  "quote-hash": "quote-hash-mismatch",
  "kms-address": "kms-address-mismatch",
  binding: "binding-mismatch",
  "quote-parse": "quote-unparseable",
  reverify: "quote-not-verifiable",
  "ca-key-unchanged": "ca-key-changed",
};

/**
 * Rebuild per-KMS state from events in chain order (pure; no network). Binding, hash and address
 * checks run for every registration event.
 */
export function rebuildState(events: AuditEvent[]): { kms: AuditKms[]; anomalies: Anomaly[] } {
  const byAddr = new Map<string, AuditKms>();
  const anomalies: Anomaly[] = [];
  for (const ev of events) {
    const key = ev.kms.toLowerCase();
    const cur = byAddr.get(key);
    if (ev.kind === "registered") {
      if (!cur) {
        const k: AuditKms = {
          address: ev.kms,
          status: "active",
          attestations: [],
          quoteHash: ev.quoteHash,
          caPubkey: ev.caPubkey,
          k256Pubkey: ev.k256Pubkey,
          registrar: ev.registrar,
          registeredAt: ev.block,
          revokedAt: null,
          livenessProofs: [],
          checks: [],
        };
        byAddr.set(key, k);
        addAttestation(k, ev, anomalies);
      } else {
        if (cur.status === "revoked") {
          anomalies.push({ kms: ev.kms, kind: "registered-after-revocation", detail: `registered again in block ${ev.block} (tx ${ev.tx}) after its revocation in block ${cur.revokedAt}` });
        }
        const n = cur.attestations.length + 1;
        const same = cur.caPubkey === ev.caPubkey;
        cur.checks.push({
          attestation: n,
          name: "ca-key-unchanged",
          ok: same,
          detail: same ? "re-attestation with the registered CA key" : `re-attestation changed the CA key (was ${cur.caPubkey.slice(0, 20)}…, now ${ev.caPubkey.slice(0, 20)}…)`,
        });
        if (!same) anomalies.push({ kms: ev.kms, kind: "ca-key-changed", detail: `attestation #${n} (block ${ev.block}) carries a different CA key` });
        cur.quoteHash = ev.quoteHash;
        cur.caPubkey = ev.caPubkey;
        addAttestation(cur, ev, anomalies);
      }
    } else if (ev.kind === "revoked") {
      if (!cur) {
        anomalies.push({ kms: ev.kms, kind: "revoked-unknown-kms", detail: `KmsRevoked in block ${ev.block} for a KMS with no earlier registration in the scanned range` });
        continue;
      }
      cur.status = "revoked";
      cur.revokedAt = ev.block;
      cur.revocation = { by: ev.by, reason: ev.reason, tx: ev.tx };
    } else {
      if (!cur) {
        anomalies.push({ kms: ev.kms, kind: "liveness-unknown-kms", detail: `KmsLivenessProven in block ${ev.block} for a KMS with no earlier registration in the scanned range` });
        continue;
      }
      if (cur.status === "revoked") anomalies.push({ kms: ev.kms, kind: "liveness-after-revocation", detail: `liveness proven in block ${ev.block} after revocation in block ${cur.revokedAt}` });
      const prev = cur.livenessProofs.at(-1);
      if (prev && BigInt(ev.nonce) !== BigInt(prev.nonce) + 1n) {
        anomalies.push({
          kms: ev.kms,
          kind: "liveness-nonce-gap",
          detail: `KmsLivenessProven in block ${ev.block} (tx ${ev.tx}) has nonce ${ev.nonce}, but the previous one (block ${prev.block}) had nonce ${prev.nonce}: expected ${BigInt(prev.nonce) + 1n}`,
        });
      }
      cur.livenessProofs.push({ block: ev.block, tx: ev.tx, timestamp: ev.timestamp, nonce: ev.nonce });
    }
  }
  return { kms: [...byAddr.values()], anomalies };
}

function addAttestation(k: AuditKms, ev: Extract<AuditEvent, { kind: "registered" }>, anomalies: Anomaly[]): void {
  const n = k.attestations.length + 1;
  k.attestations.push({ block: ev.block, tx: ev.tx, quoteHash: ev.quoteHash, registrar: ev.registrar });
  for (const c of checkRegistration(ev, n)) {
    k.checks.push(c);
    const kind = ANOMALY_OF[c.name];
    if (!c.ok && kind) anomalies.push({ kms: k.address, kind, detail: `attestation #${n} (block ${ev.block}, tx ${ev.tx}): ${c.detail}` });
  }
}

const DROP_KIND: Record<DropReason, AnomalyKind> = { foreign: "foreign-log", duplicate: "duplicate-log", "out-of-range": "log-out-of-range" };
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
      kind: DROP_KIND[reason],
      detail: `the RPC returned ${DROP_TEXT[reason](n)}, dropped: ${ex.map(describeLog).join("; ")}${more}`,
    });
  }
  return out;
}

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
  onProgress?: (p: ScanProgress | { stage: "reverify" | "state"; done: number; total: number; note?: string }) => void;
}

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

/** Scan, rebuild, check; see the module comment. */
export async function auditRegistry(opts: AuditOptions): Promise<AuditReport & { events: number; rpc: { requests: number; rangeErrors: number; finalRange: string } }> {
  const { publicClient, registry } = opts;
  const chainId = publicClient.chain.id;
  const latest = await publicClient.getBlockNumber({ cacheTime: 0 });
  // Never past the chain head (state reads at toBlock would fail, and logs there do not exist yet).
  const toBlock = opts.toBlock !== undefined && opts.toBlock < latest ? opts.toBlock : latest;
  const events: AuditEvent[] = [];
  const anomaliesPre: Anomaly[] = [];
  const dropExamples = new Map<DropReason, DroppedLog[]>();
  const scan = await scanLogs({
    request: publicClient.request as never,
    address: registry,
    fromBlock: opts.fromBlock,
    toBlock,
    initialRange: opts.initialRange ?? 10_000n,
    maxRange: opts.maxRange ?? 100_000n,
    onProgress: opts.onProgress,
    onDropped: (d) => {
      const list = dropExamples.get(d.reason) ?? [];
      if (list.length < EXAMPLES) dropExamples.set(d.reason, [...list, d]);
    },
    onLogs: (logs) => {
      for (const l of logs) {
        const ev = decodeRegistryLog(l);
        if (ev === "undecodable") anomaliesPre.push({ kms: null, kind: "undecodable-event", detail: `log ${l.transactionHash}#${BigInt(l.logIndex)} has a registry event topic but does not decode` });
        else if (ev) events.push(ev);
      }
    },
  });
  events.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
  const { kms, anomalies } = rebuildState(events);
  anomalies.unshift(...droppedLogAnomalies(scan.dropped, dropExamples), ...anomaliesPre);
  const concurrency = opts.concurrency ?? 8;
  // State reads happen at toBlock; a node without historical state (not an archive node) may refuse an old
  // block, in which case the latest state is used and a progress note says so.
  let stateBlock: bigint | undefined = toBlock;
  const readAt = async <T>(read: (blockNumber: bigint | undefined) => Promise<T>): Promise<T> => {
    if (stateBlock === undefined) return read(undefined);
    try {
      return await read(stateBlock);
    } catch (e) {
      if (stateBlock === latest) throw e;
      stateBlock = undefined;
      opts.onProgress?.({ stage: "state", done: 0, total: 0, note: `the RPC has no state at block ${toBlock}; role and status checks use the latest block` });
      return read(undefined);
    }
  };

  if (opts.reverify) {
    const regs = events.filter((e): e is Extract<AuditEvent, { kind: "registered" }> => e.kind === "registered");
    const idx = new Map<string, number>();
    const byAddr = new Map(kms.map((k) => [k.address.toLowerCase(), k]));
    let done = 0;
    const jobs = regs.map((ev) => {
      const n = (idx.get(ev.kms) ?? 0) + 1;
      idx.set(ev.kms, n);
      return { ev, n };
    });
    for (const { ev, n } of jobs) {
      let out: ReverifyOutcome;
      try {
        out = await opts.reverify(hexToBytes(ev.quote, "quote"), { kms: ev.kms, attestation: n });
      } catch (e) {
        out = { ok: false, detail: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
      }
      byAddr.get(ev.kms.toLowerCase())!.checks.push({ attestation: n, name: "reverify", ok: out.ok, detail: out.detail });
      if (!out.ok) anomalies.push({ kms: ev.kms, kind: "quote-not-verifiable", detail: `attestation #${n} (block ${ev.block}): ${out.detail}` });
      opts.onProgress?.({ stage: "reverify", done: ++done, total: jobs.length });
    }
  }

  // Registrars that no longer hold the role (as of toBlock).
  const registrars = [...new Set(kms.flatMap((k) => k.attestations.map((a) => a.registrar)))];
  if (registrars.length) {
    const role = (await readAt((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "REGISTRAR_ROLE", blockNumber }))) as Hex;
    const lost = new Set<string>();
    await pool(registrars, concurrency, async (r) => {
      const has = await readAt((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "hasRole", args: [role, r], blockNumber }));
      if (!has) lost.add(r.toLowerCase());
    });
    for (const k of kms) {
      for (const [i, a] of k.attestations.entries()) {
        if (lost.has(a.registrar.toLowerCase())) {
          anomalies.push({ kms: k.address, kind: "registrar-lost-role", detail: `attestation #${i + 1} was made by ${a.registrar}, which no longer holds REGISTRAR_ROLE (as of block ${toBlock})` });
        }
      }
    }
  }

  if (opts.crossCheckState ?? true) {
    let done = 0;
    // nonce(kms) just before the scanned range: read only when the events cannot show it (a first proof with
    // nonce 0 shows it was 0). Every nonce was 0 while the registry had no code yet (a scan from its
    // deployment block). Without historical state the check is left out, with a note.
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
    const nonceBefore = async (kmsAddr: Hex): Promise<bigint | undefined> => {
      if (opts.fromBlock === 0n) return 0n;
      deployedBefore ??= publicClient.getCode({ address: registry, blockNumber: before }).then(
        (code) => code !== undefined && code !== "0x",
        () => unavailable(),
      );
      const deployed = await deployedBefore;
      if (deployed === undefined || noStateBefore) return undefined;
      if (!deployed) return 0n;
      try {
        return await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "nonce", args: [kmsAddr], blockNumber: before });
      } catch {
        return unavailable();
      }
    };
    let notedLatest = false;
    await pool(kms, concurrency, async (k) => {
      const [on, nonceNow] = await Promise.all([
        readAt((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [k.address], blockNumber })),
        readAt((blockNumber) => publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "nonce", args: [k.address], blockNumber })),
      ]);
      if (on !== (k.status === "active")) {
        anomalies.push({ kms: k.address, kind: "state-mismatch", detail: `events say ${k.status}, but isRegistered() at block ${toBlock} returns ${on}` });
      }
      // Both reads were at toBlock unless a read there failed (stateBlock only ever becomes undefined).
      const atToBlock = stateBlock !== undefined || toBlock === latest;
      if (!atToBlock && !notedLatest) {
        notedLatest = true;
        opts.onProgress?.({ stage: "state", done: 0, total: 0, note: `nonce() is only readable at the latest block, not at ${toBlock}; the last liveness nonce in range is not compared with it` });
      }
      const proofs = k.livenessProofs;
      const first = proofs[0];
      const last = proofs.at(-1);
      if (atToBlock && last && nonceNow !== BigInt(last.nonce) + 1n) {
        anomalies.push({
          kms: k.address,
          kind: "liveness-nonce-gap",
          detail: `the last KmsLivenessProven in range (block ${last.block}) has nonce ${last.nonce}, so nonce() should be ${BigInt(last.nonce) + 1n} at block ${toBlock}, but it is ${nonceNow}`,
        });
      }
      const startNonce = first ? BigInt(first.nonce) : atToBlock ? nonceNow : 0n;
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
      if (++done % 500 === 0 || done === kms.length) opts.onProgress?.({ stage: "state", done, total: kms.length });
    });
  }

  return {
    registry: cs(registry),
    chainId,
    fromBlock: Number(opts.fromBlock),
    toBlock: Number(toBlock),
    logs: { received: scan.received, used: scan.received - scan.dropped.foreign - scan.dropped.duplicate - scan.dropped.outOfRange, dropped: scan.dropped },
    kms,
    anomalies,
    events: events.length,
    rpc: { requests: scan.requests, rangeErrors: scan.rangeErrors, finalRange: scan.finalRange.toString() },
  };
}

/** The `--json` document: `{ registry, chainId, fromBlock, toBlock, logs, kms, anomalies }`. */
export function auditJson(r: AuditReport): AuditReport {
  return { registry: r.registry, chainId: r.chainId, fromBlock: r.fromBlock, toBlock: r.toBlock, logs: r.logs, kms: r.kms, anomalies: r.anomalies };
}

