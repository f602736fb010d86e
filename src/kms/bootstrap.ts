/**
 * The bootstrap-info model: what a dstack KMS publishes about its keys when it bootstraps — its P-256 root
 * CA key, its secp256k1 root key, and a TDX quote binding both (with the event log that explains the quote).
 *
 * Two wire shapes: legacy `{ca_pubkey, k256_pubkey, quote, eventlog}` (≤ v0.5.5) and new
 * `{ca_pubkey, k256_pubkey, attestation}` (≥ v0.5.6). Byte fields may be hex (with or without `0x`)
 * or base64 (both occur in the wild). Also accepted: a saved `KMS.GetMeta` answer (its
 * `bootstrap_info`), the onboard page's camelCase `{caPubkey, k256Pubkey, quote, eventlog}`, and
 * this tool's own normalized document (`kind: "dstack-kms-bootstrap-info"`).
 */
import { bytesToHex, decodeBytesField, type Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { isPlainObject } from "../core/json.js";
import { decodeDstackAttestation, type DstackAttestation } from "../dstack/attestation.js";
import { assertKmsPubkeyShapes, CA_PUBKEY_LENGTH, K256_PUBKEY_LENGTH } from "../dstack/binding.js";
import { eventLogToJson, parseEventLog, type EventLogEntry } from "../dstack/eventlog.js";
import { ethAddress } from "../dstack/signatures.js";

export const NORMALIZED_KIND = "dstack-kms-bootstrap-info";

export type BootstrapFormat = "legacy" | "attestation";

export interface BootstrapInfo {
  format: BootstrapFormat;
  /** 91-byte DER SubjectPublicKeyInfo of the P-256 root CA key. */
  caPubkey: Uint8Array;
  /** 33-byte compressed secp256k1 root key. */
  k256Pubkey: Uint8Array;
  /** The raw TDX quote (legacy `quote`, or extracted from `attestation`); null when the KMS made none or its platform is not TDX (its evidence is in `decodedAttestation`). */
  quote: Uint8Array | null;
  /** The parsed event log; null when absent. */
  eventLog: EventLogEntry[] | null;
  /** Legacy: the `eventlog` bytes as sent (UTF-8 JSON text). */
  eventlogRaw: Uint8Array | null;
  /** New format: the raw versioned attestation. */
  attestation: Uint8Array | null;
  /** New format: the decoded attestation. */
  decodedAttestation: DstackAttestation | null;
  /** Problems found while decoding optional parts (quote/event log), kept to report, not thrown. */
  problems: { field: string; code: string; message: string }[];
}

export type BootstrapSource =
  | { type: "kms"; url: string; transport: "http" | "https"; caPinned: "argument" | "response" | "none"; bootstrapInfoFrom: "get-meta" | "file"; file?: string }
  | { type: "certs-dir"; path: string; file?: string }
  | { type: "file"; path: string };

/** Extra data from `KMS.GetMeta`, kept as received (never secret). */
export interface KmsMetaSummary {
  k256Pubkey: Hex;
  caCertPem: string | null;
  isDev: boolean | null;
  allowAnyUpgrade: boolean | null;
  chainId: number | null;
  kmsContractAddress: string | null;
  gatewayAppId: string | null;
  appAuthImplementation: string | null;
  bootstrapInfoPresent: boolean;
}

/** The normalized document `pull` writes (all bytes `0x` lower-case hex). */
export interface NormalizedBootstrap {
  kind: typeof NORMALIZED_KIND;
  version: 1;
  source: BootstrapSource;
  pulledAt: string;
  pulledAtUnix: number;
  format: BootstrapFormat;
  caPubkey: Hex;
  k256Pubkey: Hex;
  kmsAddress: Hex;
  quote: Hex | null;
  eventlog: Hex | null;
  attestation: Hex | null;
  /** The same data in dstack's own shape (plain hex), ready to feed to a contract or another tool. */
  bootstrapInfo: Record<string, string>;
  meta?: KmsMetaSummary;
  problems: { field: string; code: string; message: string }[];
}

function pick(o: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined) return o[n];
  return undefined;
}

function requiredBytes(o: Record<string, unknown>, field: string, names: string[], expectedLength?: number): Uint8Array {
  const v = pick(o, ...names);
  if (v === undefined || v === null) {
    throw new InputError("BOOTSTRAP_FIELD_MISSING", `bootstrap info: ${field} is missing`, { details: { field } });
  }
  if (typeof v !== "string") throw new InputError("BAD_ENCODING", `bootstrap info: ${field} must be a hex or base64 string, got ${typeof v}`, { details: { field } });
  return decodeBytesField(v, `bootstrap info: ${field}`, expectedLength);
}

/**
 * Unwrap the accepted containers to the bootstrap object: a GetMeta answer (`bootstrap_info`), a
 * normalized document (`bootstrapInfo`), or the object itself.
 */
export function unwrapBootstrapObject(value: unknown): { info: Record<string, unknown>; meta?: Record<string, unknown>; normalized?: Record<string, unknown> } {
  if (!isPlainObject(value)) {
    throw new InputError("BOOTSTRAP_NOT_OBJECT", `bootstrap info: expected a JSON object, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  }
  if (value.kind === NORMALIZED_KIND) {
    const bi = value.bootstrapInfo;
    if (!isPlainObject(bi)) throw new InputError("BOOTSTRAP_NOT_OBJECT", "normalized document without a bootstrapInfo object");
    return { info: bi, normalized: value };
  }
  if ("bootstrap_info" in value || ("ca_cert" in value && !("ca_pubkey" in value))) {
    const bi = value.bootstrap_info;
    if (bi === null || bi === undefined) {
      throw new InputError(
        "BOOTSTRAP_INFO_NULL",
        "bootstrap info: this is a GetMeta answer whose bootstrap_info is null — the KMS was auto-bootstrapped or is a replica, so it has no bootstrap-info.json; supply the saved Onboard.Bootstrap response with --file instead",
      );
    }
    if (!isPlainObject(bi)) throw new InputError("BOOTSTRAP_NOT_OBJECT", "GetMeta bootstrap_info is not an object");
    return { info: bi, meta: value };
  }
  return { info: value };
}

/** Parse one bootstrap object (either shape, in any accepted container). Key fields are strict; quote/event-log problems are recorded. */
export function parseBootstrapInfo(value: unknown): BootstrapInfo {
  return parseBootstrapFields(unwrapBootstrapObject(value).info);
}

type Problems = BootstrapInfo["problems"];

/** Parse the bootstrap object itself (`unwrapBootstrapObject(…).info`). */
export function parseBootstrapFields(info: Record<string, unknown>): BootstrapInfo {
  const caPubkey = requiredBytes(info, "ca_pubkey", ["ca_pubkey", "caPubkey"], CA_PUBKEY_LENGTH);
  const k256Pubkey = requiredBytes(info, "k256_pubkey", ["k256_pubkey", "k256Pubkey"], K256_PUBKEY_LENGTH);
  assertKmsPubkeyShapes(caPubkey, k256Pubkey);
  const hasAttestation = pick(info, "attestation") !== undefined;
  const hasLegacy = pick(info, "quote", "eventlog", "event_log", "eventLog") !== undefined;
  if (hasAttestation && hasLegacy) {
    throw new InputError("BOOTSTRAP_AMBIGUOUS", "bootstrap info: has both `attestation` and `quote`/`eventlog`; expected one shape");
  }
  if (!hasAttestation && !hasLegacy) {
    throw new InputError("BOOTSTRAP_FIELD_MISSING", "bootstrap info: neither `quote`/`eventlog` (legacy) nor `attestation` (v0.5.6+) is present");
  }
  const result: BootstrapInfo = {
    format: hasAttestation ? "attestation" : "legacy",
    caPubkey,
    k256Pubkey,
    quote: null,
    eventLog: null,
    eventlogRaw: null,
    attestation: null,
    decodedAttestation: null,
    problems: [],
  };
  if (hasAttestation) readAttestation(info, result);
  else {
    readLegacyQuote(info, result);
    readLegacyEventLog(info, result);
  }
  return result;
}

/** Keep an `InputError` of an optional part as a problem of that field; anything else is a bug and is thrown. */
function note(problems: Problems, field: string, e: unknown): void {
  if (e instanceof InputError) problems.push({ field, code: e.code, message: e.message });
  else throw e;
}

/** New shape: the versioned attestation, holding the quote and the event log. */
function readAttestation(info: Record<string, unknown>, result: BootstrapInfo): void {
  const raw = pick(info, "attestation");
  if (raw === null || raw === "") {
    result.problems.push({ field: "attestation", code: "ATTESTATION_EMPTY", message: "attestation is empty (the KMS produced no attestation)" });
    return;
  }
  try {
    const bytes = requiredBytes(info, "attestation", ["attestation"]);
    result.attestation = bytes;
    const att = decodeDstackAttestation(bytes);
    result.decodedAttestation = att;
    result.eventLog = att.eventLog;
    // tdx / gcp-tdx carry a TDX quote; another platform's evidence stays in decodedAttestation (verify reads it)
    result.quote = att.quote;
  } catch (e) {
    note(result.problems, "attestation", e);
  }
}

/** Legacy shape: the raw quote. */
function readLegacyQuote(info: Record<string, unknown>, result: BootstrapInfo): void {
  const q = pick(info, "quote");
  if (q === undefined || q === null || q === "") {
    result.problems.push({ field: "quote", code: "QUOTE_EMPTY", message: "quote is empty (quote_enabled = false, or TDX attestation failed)" });
    return;
  }
  try {
    result.quote = requiredBytes(info, "quote", ["quote"]);
  } catch (e) {
    note(result.problems, "quote", e);
  }
}

/** Legacy shape: the event log — hex of its JSON text (dstack), or from hand-made files the JSON text itself, base64 of it, or the array. */
function readLegacyEventLog(info: Record<string, unknown>, result: BootstrapInfo): void {
  const el = pick(info, "eventlog", "event_log", "eventLog");
  if (el === undefined || el === null || el === "") {
    result.problems.push({ field: "eventlog", code: "EVENTLOG_EMPTY", message: "eventlog is empty" });
    return;
  }
  try {
    if (typeof el === "string") {
      const t = el.trim();
      const bytes = t.startsWith("[") || t.startsWith('"') ? new TextEncoder().encode(t) : decodeBytesField(t, "bootstrap info: eventlog");
      result.eventlogRaw = bytes;
      result.eventLog = parseEventLog(bytes);
    } else if (Array.isArray(el)) {
      result.eventLog = parseEventLog(el);
      result.eventlogRaw = new TextEncoder().encode(JSON.stringify(el));
    } else {
      throw new InputError("BAD_ENCODING", `bootstrap info: eventlog must be a hex string, got ${typeof el}`);
    }
  } catch (e) {
    note(result.problems, "eventlog", e);
  }
}

/** dstack's own JSON shape of this info (plain hex), e.g. to write a bootstrap-info.json. */
export function bootstrapInfoToDstackJson(info: BootstrapInfo): Record<string, string> {
  const h = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : "");
  if (info.format === "attestation") return { ca_pubkey: h(info.caPubkey), k256_pubkey: h(info.k256Pubkey), attestation: h(info.attestation) };
  const eventlog = info.eventlogRaw ?? (info.eventLog ? new TextEncoder().encode(JSON.stringify(eventLogToJson(info.eventLog))) : null);
  return { ca_pubkey: h(info.caPubkey), k256_pubkey: h(info.k256Pubkey), quote: h(info.quote), eventlog: h(eventlog) };
}

export function normalizeBootstrap(info: BootstrapInfo, source: BootstrapSource, now: number, meta?: KmsMetaSummary): NormalizedBootstrap {
  const h = (b: Uint8Array | null) => (b ? bytesToHex(b) : null);
  const doc: NormalizedBootstrap = {
    kind: NORMALIZED_KIND,
    version: 1,
    source,
    pulledAt: new Date(now * 1000).toISOString(),
    pulledAtUnix: now,
    format: info.format,
    caPubkey: bytesToHex(info.caPubkey),
    k256Pubkey: bytesToHex(info.k256Pubkey),
    kmsAddress: ethAddress(info.k256Pubkey),
    quote: h(info.quote),
    eventlog: info.format === "legacy" ? h(info.eventlogRaw) : null,
    attestation: h(info.attestation),
    bootstrapInfo: bootstrapInfoToDstackJson(info),
    problems: info.problems,
  };
  if (meta) doc.meta = meta;
  return doc;
}
