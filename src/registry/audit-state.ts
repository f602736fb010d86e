/**
 * Each KMS's state rebuilt from the registry's events in chain order (pure; no network): active or revoked,
 * its attestations (each with its platform — TDX or SEV-SNP —, its path — registrar or verified on chain —, the
 * on-chain verdict and the collateral or, for SEV-SNP, the VCEK and AMD chain published with it), its rechecks (status, collateral expiry, stale), its liveness proofs, and the
 * checks every registration event allows on its own — the quote hash against the indexed topic, the KMS
 * address against the k256 key, the quote's report_data (an SNP report's at 0x50) against the (caPubkey,
 * k256Pubkey) binding. What does
 * not fit is an anomaly.
 */
import { getAddress, keccak256 } from "viem";

import { hexToBytes, type Hex } from "../core/bytes.js";
import { errorMessage } from "../core/errors.js";
import { checkKmsBinding } from "../dstack/binding.js";
import { ethAddress } from "../dstack/signatures.js";
import type { TcbStatus } from "../dcap/types.js";
import type { AuditEvent, RegisteredEvent } from "./events.js";
import type { DropReason } from "./logs.js";
import { platformOfRegisteredQuote, REGISTRY_PLATFORMS, type RegistryPlatform } from "./platforms.js";
import type { OnChainCollateral } from "./verifier.js";

export interface AuditCheck {
  /** 1-based index of the attestation (registration event) the check is about. */
  attestation: number;
  name: "quote-hash" | "kms-address" | "binding" | "quote-parse" | "reverify" | "ca-key-unchanged" | "on-chain-verdict";
  ok: boolean;
  detail: string;
}

/** How an attestation was made: by a registrar (`register`, `registerWithCollateral`) or verified on chain (`registerVerified`). */
export type AttestationPath = "registrar" | "on-chain";

/** The platform of an attestation: a TDX quote (`register`, `registerWithCollateral`, `registerVerified`; also a GCP TDX KMS's), an AMD SEV-SNP report (`registerSnp`) or an AWS Nitro Enclave attestation document (`registerNitro`). */
export type AttestationPlatform = RegistryPlatform;

/** The AMD evidence an SEV-SNP registration published (`KmsSnpEvidencePublished`): the VCEK (DER) and the ASK/ARK chain (PEM). */
export interface SnpEvidence {
  vcek: Hex;
  amdChain: Hex;
  /** The AMD CRL (DER) published with it (`KmsSnpCrlPublished`), when one was. */
  crl?: Hex;
}

/**
 * The platform of a registered quote, told by its shape: the registry's `register` paths accept only TDX
 * quotes (v4/v5, whose first u32 is never 2–5), `registerSnp` only 1184-byte SNP reports of version 2–5,
 * `registerNitro` only COSE_Sign1 documents (a CBOR array of 4, first byte 0x84, or tag 18 0xd2: never a TDX
 * quote's version byte).
 */
export function platformOfQuote(quote: Uint8Array): AttestationPlatform {
  return platformOfRegisteredQuote(quote);
}

/** What the on-chain verifier said (`KmsVerifiedOnChain`), or what a recheck left in the record (`KmsRechecked`). */
export interface OnChainVerdict {
  tcbStatus: TcbStatus | string;
  collateralExpiry: number;
}

export interface AuditAttestation {
  block: number;
  tx: Hex;
  quoteHash: Hex;
  registrar: Hex;
  path: AttestationPath;
  /** The attested platform (an SEV-SNP report's `KmsRegistered.quote` is the raw report). */
  platform: AttestationPlatform;
  /** SEV-SNP: the VCEK and AMD chain published with it. */
  snpEvidence?: SnpEvidence;
  /** On the on-chain path: the verifier's verdict, FMSPC and root. */
  verified?: OnChainVerdict & { fmspc: string; intelRoot: boolean };
  /** The collateral published with it (`KmsCollateralPublished`; both paths may publish it). */
  collateral?: OnChainCollateral;
}

export interface AuditRecheck {
  block: number;
  tx: Hex;
  by: Hex;
  tcbStatus: TcbStatus | string;
  collateralExpiry: number;
  stale: boolean;
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
  /** The latest attestation's platform (`platformOf` on chain). */
  platform: AttestationPlatform;
  /** The latest attestation's path. The fields below describe the record as the events leave it (on chain: as `kmsInfo` says). */
  path: AttestationPath;
  /** The verifier's root is Intel's (on-chain path only). */
  intelRoot: boolean;
  /** A recheck found that Intel's collateral no longer passes the quote (a later accepted recheck or a new registration clears it). */
  stale: boolean;
  /** The latest on-chain status (null on the registrar path). */
  tcbStatus: TcbStatus | string | null;
  fmspc: string | null;
  /** Unix seconds; null on the registrar path. */
  collateralExpiry: number | null;
  rechecks: AuditRecheck[];
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
  | "liveness-nonce-gap"
  | "event-without-registration"
  | "verdict-mismatch"
  | "not-genuine";

/** The anomaly kind of each reason a log the RPC returned is dropped (`scanLogs`'s screening). */
export const DROPPED_LOG_KIND: Readonly<Record<DropReason, AnomalyKind>> = { foreign: "foreign-log", duplicate: "duplicate-log", "out-of-range": "log-out-of-range" };

export interface Anomaly {
  kms: Hex | null;
  kind: AnomalyKind;
  detail: string;
}

const cs = (a: string): Hex => getAddress(a) as Hex;

/** Checks of one registration event that need nothing but the event (hash, address, binding). */
export function checkRegistration(ev: RegisteredEvent, attestation: number): AuditCheck[] {
  const quote = hexToBytes(ev.quote, "quote");
  const ca = hexToBytes(ev.caPubkey, "caPubkey");
  const k256 = hexToBytes(ev.k256Pubkey, "k256Pubkey");
  const check = (name: AuditCheck["name"], ok: boolean, detail: string): AuditCheck => ({ attestation, name, ok, detail });
  const qh = keccak256(quote);
  const hashOk = qh === ev.quoteHash;
  const checks = [check("quote-hash", hashOk, hashOk ? "keccak256(quote) equals the indexed quoteHash" : `keccak256(quote) = ${qh}, event says ${ev.quoteHash}`)];
  const addr = addressOfKey(k256);
  const addrOk = addr !== undefined && addr.toLowerCase() === ev.kms.toLowerCase();
  checks.push(
    check("kms-address", addrOk, addrOk ? "the KMS address is the k256 key's Ethereum address" : `k256Pubkey's address is ${addr ? cs(addr) : "(not a secp256k1 key)"}, event says ${ev.kms}`),
  );
  let reportData: Uint8Array | undefined;
  const platform = REGISTRY_PLATFORMS[platformOfQuote(quote)];
  try {
    reportData = platform.reportData(quote);
    checks.push(check("quote-parse", true, platform.parsed(quote)));
  } catch (e) {
    checks.push(check("quote-parse", false, `quote does not parse: ${errorMessage(e)}`));
  }
  if (!reportData) checks.push(check("binding", false, "no report_data (the quote does not parse)"));
  else {
    try {
      const b = checkKmsBinding(reportData, ca, k256);
      checks.push(check("binding", b.ok, b.detail));
    } catch (e) {
      checks.push(check("binding", false, `keys have the wrong shape: ${errorMessage(e)}`));
    }
  }
  return checks;
}

function addressOfKey(k256: Uint8Array): string | undefined {
  try {
    return ethAddress(k256);
  } catch {
    return undefined;
  }
}

const ANOMALY_OF: Partial<Record<AuditCheck["name"], AnomalyKind>> = {
  "quote-hash": "quote-hash-mismatch",
  "kms-address": "kms-address-mismatch",
  binding: "binding-mismatch",
  "quote-parse": "quote-unparseable",
  reverify: "quote-not-verifiable",
  "ca-key-unchanged": "ca-key-changed",
  "on-chain-verdict": "verdict-mismatch",
};

/**
 * Rebuild per-KMS state from events in chain order (pure; no network). Binding, hash and address
 * checks run for every registration event.
 */
export function rebuildState(events: AuditEvent[]): { kms: AuditKms[]; anomalies: Anomaly[] } {
  const byAddr = new Map<string, AuditKms>();
  const anomalies: Anomaly[] = [];
  for (const ev of events) applyEvent(byAddr, ev, anomalies);
  return { kms: [...byAddr.values()], anomalies };
}

/**
 * One step of `rebuildState`: apply `ev` (the next event in chain order) to `byAddr` (each KMS's state, keyed
 * by its lower-case address), appending the anomalies it shows to `anomalies`. For a follower that applies
 * events as blocks arrive.
 */
export function applyEvent(byAddr: Map<string, AuditKms>, ev: AuditEvent, anomalies: Anomaly[]): void {
  const key = ev.kms.toLowerCase();
  const cur = byAddr.get(key);
  if (ev.kind === "registered") {
    if (cur) applyReattestation(cur, ev, anomalies);
    else byAddr.set(key, firstRegistration(ev, anomalies));
  } else if (ev.kind === "verified" || ev.kind === "collateral" || ev.kind === "snp-evidence" || ev.kind === "snp-crl") {
    applyToAttestation(cur, ev, anomalies);
  } else if (!cur) {
    anomalies.push(unknownKmsAnomaly(ev));
  } else if (ev.kind === "rechecked") {
    applyRecheck(cur, ev, anomalies);
  } else if (ev.kind === "revoked") {
    cur.status = "revoked";
    cur.revokedAt = ev.block;
    cur.revocation = { by: ev.by, reason: ev.reason, tx: ev.tx };
  } else {
    applyLivenessProof(cur, ev, anomalies);
  }
}

/** A revocation, recheck or liveness proof of a KMS that the scanned range never registered. */
function unknownKmsAnomaly(ev: Extract<AuditEvent, { kind: "revoked" | "liveness" | "rechecked" }>): Anomaly {
  const [kind, event] =
    ev.kind === "revoked"
      ? (["revoked-unknown-kms", "KmsRevoked"] as const)
      : ev.kind === "rechecked"
        ? (["event-without-registration", "KmsRechecked"] as const)
        : (["liveness-unknown-kms", "KmsLivenessProven"] as const);
  return { kms: ev.kms, kind, detail: `${event} in block ${ev.block} for a KMS with no earlier registration in the scanned range` };
}

/**
 * `KmsVerifiedOnChain` / `KmsCollateralPublished`: part of the registration emitted just before them in the same
 * transaction with the same quote hash (the contract emits them together); anything else is an anomaly.
 */
function applyToAttestation(cur: AuditKms | undefined, ev: Extract<AuditEvent, { kind: "verified" | "collateral" | "snp-evidence" | "snp-crl" }>, anomalies: Anomaly[]): void {
  const att = cur?.attestations.at(-1);
  const event = { verified: "KmsVerifiedOnChain", collateral: "KmsCollateralPublished", "snp-evidence": "KmsSnpEvidencePublished", "snp-crl": "KmsSnpCrlPublished" }[ev.kind];
  if (!cur || !att || att.tx !== ev.tx || att.quoteHash !== ev.quoteHash) {
    anomalies.push({ kms: ev.kms, kind: "event-without-registration", detail: `${event} in block ${ev.block} (tx ${ev.tx}) is not part of a registration of this KMS with quote hash ${ev.quoteHash} in that transaction` });
    return;
  }
  if (ev.kind === "snp-evidence") {
    if (att.platform !== "sev-snp") {
      anomalies.push({ kms: ev.kms, kind: "event-without-registration", detail: `${event} in block ${ev.block} (tx ${ev.tx}) belongs to a registration whose quote is not an SEV-SNP report` });
      return;
    }
    att.snpEvidence = { vcek: ev.vcek, amdChain: ev.amdChain };
    return;
  }
  if (ev.kind === "snp-crl") {
    if (!att.snpEvidence) {
      anomalies.push({ kms: ev.kms, kind: "event-without-registration", detail: `${event} in block ${ev.block} (tx ${ev.tx}) does not follow the KmsSnpEvidencePublished of an SEV-SNP registration` });
      return;
    }
    att.snpEvidence.crl = ev.crl;
    return;
  }
  if (ev.kind === "collateral") {
    att.collateral = ev.collateral;
    return;
  }
  att.path = "on-chain";
  att.verified = { tcbStatus: ev.tcbStatus, collateralExpiry: ev.collateralExpiry, fmspc: ev.fmspc, intelRoot: ev.intelRoot };
  Object.assign(cur, { path: "on-chain", intelRoot: ev.intelRoot, stale: false, tcbStatus: ev.tcbStatus, fmspc: ev.fmspc, collateralExpiry: ev.collateralExpiry });
}

/** `KmsRechecked`: the record's status, expiry and stale flag now (only an on-chain record can be rechecked). */
function applyRecheck(cur: AuditKms, ev: Extract<AuditEvent, { kind: "rechecked" }>, anomalies: Anomaly[]): void {
  if (cur.path !== "on-chain") {
    anomalies.push({ kms: ev.kms, kind: "event-without-registration", detail: `KmsRechecked in block ${ev.block} (tx ${ev.tx}) for a KMS whose latest attestation was not verified on chain` });
  }
  cur.rechecks.push({ block: ev.block, tx: ev.tx, by: ev.by, tcbStatus: ev.tcbStatus, collateralExpiry: ev.collateralExpiry, stale: ev.stale });
  Object.assign(cur, { stale: ev.stale, tcbStatus: ev.tcbStatus, collateralExpiry: ev.collateralExpiry });
}

function firstRegistration(ev: RegisteredEvent, anomalies: Anomaly[]): AuditKms {
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
    platform: "tdx",
    ...REGISTRAR_PATH,
    rechecks: [],
  };
  addAttestation(k, ev, anomalies);
  return k;
}

/** A record on the registrar path: the on-chain fields cleared (as `register` leaves them). */
const REGISTRAR_PATH = { path: "registrar", intelRoot: false, stale: false, tcbStatus: null, fmspc: null, collateralExpiry: null } as const;

function applyReattestation(cur: AuditKms, ev: RegisteredEvent, anomalies: Anomaly[]): void {
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
  // a registration starts on the registrar path; a KmsVerifiedOnChain in the same transaction moves it on chain
  Object.assign(cur, REGISTRAR_PATH);
  addAttestation(cur, ev, anomalies);
}

function applyLivenessProof(cur: AuditKms, ev: Extract<AuditEvent, { kind: "liveness" }>, anomalies: Anomaly[]): void {
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

function addAttestation(k: AuditKms, ev: RegisteredEvent, anomalies: Anomaly[]): void {
  const n = k.attestations.length + 1;
  const platform = platformOfQuote(hexToBytes(ev.quote, "quote"));
  k.attestations.push({ block: ev.block, tx: ev.tx, quoteHash: ev.quoteHash, registrar: ev.registrar, path: "registrar", platform });
  k.platform = platform;
  for (const c of checkRegistration(ev, n)) {
    k.checks.push(c);
    const kind = ANOMALY_OF[c.name];
    if (!c.ok && kind) anomalies.push({ kms: k.address, kind, detail: `attestation #${n} (block ${ev.block}, tx ${ev.tx}): ${c.detail}` });
  }
}
