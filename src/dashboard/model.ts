/**
 * The dashboard's data: one snapshot of the registry, built from the audit's rebuilt state (`auditRegistry`:
 * the same events, checks and anomalies as `kms-registry audit`), the registry's own record of each KMS
 * (`kmsInfo`), the details of every registered quote and, when collateral was given, the full
 * re-verification of each quote. The JSON API serves these types as they are; the pages render them.
 */
import type { Hex } from "../core/bytes.js";
import type { Check, TcbStatus } from "../dcap/types.js";
import type { ReverifyContext } from "../registry/audit.js";
import type { Anomaly, AuditCheck } from "../registry/audit-state.js";
import type { RegistryPlatform } from "../registry/platforms.js";
import type { QuoteDetails } from "./quote-details.js";

/**
 * The full re-verification of one registration (`reverifyRegistration`): a TDX quote with the collateral it
 * published at its block time, else the dashboard's (`--pccs` / `--collateral`); an SEV-SNP report with the VCEK
 * and AMD chain it published, at its block time.
 */
export interface ReverifyResult {
  ok: boolean;
  /** One line: the verdict, or the failing step and why. */
  detail: string;
  status: TcbStatus | null;
  genuine: boolean;
  /** Unix seconds: the collateral's earliest nextUpdate (when it was established). */
  collateralExpiry: number | null;
  checks: Check[];
  /** The platform verified (absent: tdx). */
  platform?: RegistryPlatform;
  /** The platform's report fields the verification read (SEV-SNP), when it parsed. */
  report?: Record<string, unknown> | null;
}

/**
 * Full verification of a registration, provided by the caller (built from the CLI's verification options), told
 * what the audit knows of it (block time, published collateral or SEV-SNP evidence); null: not verified.
 */
export type QuoteVerifier = (quote: Uint8Array, ctx: ReverifyContext) => Promise<ReverifyResult | null>;

export type TimelineKind = "registered" | "re-attested" | "rechecked" | "liveness" | "revoked";

export interface TimelineEntry {
  /** Stable across snapshots: transaction, kind and position. */
  id: string;
  kind: TimelineKind;
  kms: Hex;
  block: number;
  tx: Hex;
  /** Unix seconds of the block (null when the RPC did not give it). */
  time: number | null;
  /** One line from the program (no chain text). */
  summary: string;
  /** Chain-controlled text (a revoke reason), shown escaped. */
  text?: string;
  attestation?: number;
  by?: Hex;
  /** A recheck's verdict: the KMS is now stale. */
  stale?: boolean;
}

/** How the latest attestation got on chain. */
export type RegistrationPath = "registrar" | "on-chain";

/** The registry's stored record of a KMS (`kmsInfo`), with the on-chain verifier's fields when the contract has them. */
export interface OnChainRecord {
  quoteHash: Hex;
  imageMeasurement: Hex;
  registrar: Hex;
  attestedAt: number;
  revoked: boolean;
  livenessNonce: number;
  imageAllowed: boolean | null;
  path: RegistrationPath | null;
  intelRoot: boolean | null;
  stale: boolean | null;
  tcbStatus: TcbStatus | null;
  fmspc: Hex | null;
  collateralExpiry: number | null;
  tcbEvaluationDataNumber: number | null;
  verifiedOnChain: boolean | null;
}

export interface AttestationView {
  n: number;
  block: number;
  tx: Hex;
  time: number | null;
  quoteHash: Hex;
  registrar: Hex;
  path: RegistrationPath;
  platform: RegistryPlatform;
  /** What the on-chain verifier established at registration (`KmsVerifiedOnChain`); null on the registrar path. */
  onChain: { tcbStatus: TcbStatus | null; fmspc: Hex; collateralExpiry: number; intelRoot: boolean } | null;
  quote: QuoteDetails | null;
  /** The audit's checks of this attestation (quote hash, KMS address, quote parse, key binding, CA key). */
  checks: AuditCheck[];
  reverify: ReverifyResult | null;
}

export type KmsState = "active" | "stale" | "revoked";

export interface KmsView {
  address: Hex;
  state: KmsState;
  path: RegistrationPath;
  /** The latest attestation's platform (`platformOf`). */
  platform: RegistryPlatform;
  root: QuoteDetails["root"];
  tcbStatus: TcbStatus | null;
  /** Where `tcbStatus` and `collateralExpiry` come from. */
  tcbSource: "on-chain" | "re-verification" | null;
  collateralExpiry: number | null;
  fmspc: Hex | null;
  lastLiveness: { block: number; tx: Hex; timestamp: number; nonce: string } | null;
  livenessProofs: number;
  attestationCount: number;
  registeredAt: number;
  revocation: { block: number; by: Hex; reason: string; tx: Hex } | null;
  /** Binding of the latest attestation: ok when its quote's report_data binds the registered keys. */
  binding: { ok: boolean; detail: string };
  caPubkey: Hex;
  k256Pubkey: Hex;
  record: OnChainRecord | null;
  attestations: AttestationView[];
  timeline: TimelineEntry[];
  anomalies: Anomaly[];
}

export interface RegistryHeader {
  chainId: number;
  chainName: string;
  address: Hex;
  deploymentBlock: number;
  /** Where `deploymentBlock` came from. */
  deploymentSource: "deployment record" | "--from-block" | "not known (scanning from block 0)";
  head: number;
  /** Unix seconds of the head block. */
  headTime: number | null;
  /** The statuses `registerVerified` accepts, when the contract has the on-chain path. */
  acceptedStatuses: TcbStatus[] | null;
  verifier: Hex | null;
  allowlistEnabled: boolean | null;
  /** Whether quotes are fully re-verified (collateral given), and how. */
  reverify: string | null;
}

export interface DashboardSnapshot {
  registry: RegistryHeader;
  kms: KmsView[];
  /** Anomalies not about one KMS (the RPC's answers, undecodable events). */
  registryAnomalies: Anomaly[];
  anomalyCount: number;
  events: number;
  /** Every timeline entry of every KMS, newest first. */
  recent: TimelineEntry[];
  /** Unix seconds when this snapshot was built. */
  builtAt: number;
  /** Set while the last refresh failed (the data is then the last good snapshot's). */
  error: string | null;
}
