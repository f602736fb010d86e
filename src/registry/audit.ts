/**
 * Auditing a registry from chain data alone: read every event in bounded block ranges (adapting to the
 * RPC's limits), rebuild each KMS's state (active / revoked, attestations, liveness proofs), and re-check
 * each registration from its event: the quote hash against the indexed topic, the KMS address against
 * the k256 key, the quote's report_data against the (caPubkey, k256Pubkey) binding, and optionally the
 * full quote verification (`reverify`). Anything odd is an anomaly.
 */
import { decodeEventLog, getAddress, keccak256, type Chain, type PublicClient, type Transport } from "viem";

import { checkKmsBinding } from "../attestation/binding.js";
import { parseQuote } from "../attestation/quote.js";
import { hexToBytes, type Hex } from "../encoding/index.js";
import { registryInterfaceAbi } from "./interface.js";
import { scanLogs, type RawLog, type ScanProgress } from "./logs.js";
import { ethAddress } from "./signatures.js";

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
  | "undecodable-event";

export interface Anomaly {
  kms: Hex | null;
  kind: AnomalyKind;
  detail: string;
}

export interface AuditReport {
  registry: Hex;
  chainId: number;
  fromBlock: number;
  toBlock: number;
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
    d = decodeEventLog({ abi: registryInterfaceAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
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
  registryInterfaceAbi
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
  const scan = await scanLogs({
    request: publicClient.request as never,
    address: registry,
    fromBlock: opts.fromBlock,
    toBlock,
    initialRange: opts.initialRange ?? 10_000n,
    maxRange: opts.maxRange ?? 100_000n,
    onProgress: opts.onProgress,
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
  anomalies.unshift(...anomaliesPre);
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
    const role = (await readAt((blockNumber) => publicClient.readContract({ address: registry, abi: registryInterfaceAbi, functionName: "REGISTRAR_ROLE", blockNumber }))) as Hex;
    const lost = new Set<string>();
    await pool(registrars, concurrency, async (r) => {
      const has = await readAt((blockNumber) => publicClient.readContract({ address: registry, abi: registryInterfaceAbi, functionName: "hasRole", args: [role, r], blockNumber }));
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
    await pool(kms, concurrency, async (k) => {
      const on = (await readAt((blockNumber) => publicClient.readContract({ address: registry, abi: registryInterfaceAbi, functionName: "isRegistered", args: [k.address], blockNumber }))) as boolean;
      if (on !== (k.status === "active")) {
        anomalies.push({ kms: k.address, kind: "state-mismatch", detail: `events say ${k.status}, but isRegistered() at block ${toBlock} returns ${on}` });
      }
      if (++done % 500 === 0 || done === kms.length) opts.onProgress?.({ stage: "state", done, total: kms.length });
    });
  }

  return {
    registry: cs(registry),
    chainId,
    fromBlock: Number(opts.fromBlock),
    toBlock: Number(toBlock),
    kms,
    anomalies,
    events: events.length,
    rpc: { requests: scan.requests, rangeErrors: scan.rangeErrors, finalRange: scan.finalRange.toString() },
  };
}

/** JSON document of the shape (`{ registry, chainId, fromBlock, toBlock, kms, anomalies }`). */
export function auditJson(r: AuditReport): AuditReport {
  return { registry: r.registry, chainId: r.chainId, fromBlock: r.fromBlock, toBlock: r.toBlock, kms: r.kms, anomalies: r.anomalies };
}

