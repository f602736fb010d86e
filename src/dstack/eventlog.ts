/**
 * dstack TDX event log: parse the JSON event log (also its hex, also a
 * JSON-encoded string holding it, also a whole GetQuote response), replay RTMR0–3, recompute the
 * runtime-event digests (V1: SHA-384(le32(type) ‖ ":" ‖ name ‖ ":" ‖ payload); V2: SHA-384 of the
 * RFC 8785 canonical JSON {"name","payload","type"}), decode the dstack runtime events (app-id,
 * compose-hash, instance-id, os-image-hash, key-provider, boot-mr-done, system-ready, …) and
 * derive mr_key_provider / mr_system / mr_aggregated the way dstack's `decode_mr_tdx` does.
 *
 * Pure functions over bytes; every malformed input is an `InputError` naming the event index and field.
 */
import { sha256, sha384 } from "@noble/hashes/sha2.js";

import { bytesEqual, bytesToHex, bytesToPlainHex, concatBytes, hexToBytes, isHexText, utf8, type Hex } from "../core/bytes.js";
import { errorMessage, InputError, type ErrorCode } from "../core/errors.js";
import { isPlainObject, parseJsonLimited, type JsonLimits } from "../core/json.js";

export const RUNTIME_EVENT_TYPE = 0x08000001;
export const RTMR_SIZE = 48;
/** Hostile-input bound: real logs have ≈30 events. */
export const MAX_EVENTS = 10_000;

export class EventLogError extends InputError {}

export interface EventLogEntry {
  /** 0-based register index: 0..3 → RTMR0..3. */
  imr: number;
  eventType: number;
  /** The stored digest (48 bytes) or empty when stripped. */
  digest: Uint8Array;
  /** Event name (runtime events and a few labelled boot events), else "". */
  event: string;
  payload: Uint8Array;
  /** 1 (default) or 2 (canonical-JSON digest). */
  version: 1 | 2;
  /** V2 only: the exact bytes hashed into `digest`. */
  preimage?: Uint8Array;
}

function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new EventLogError(code, `event log: ${message}`, details ? { details } : undefined);
}

function u32(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail("EVENTLOG_BAD_FIELD", `${where}: expected an unsigned 32-bit integer, got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v;
}

function hexField(v: unknown, where: string): Uint8Array {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v !== "string") fail("EVENTLOG_BAD_FIELD", `${where}: expected a hex string, got ${typeof v}`);
  try {
    return hexToBytes(v, where);
  } catch (e) {
    throw new EventLogError("EVENTLOG_BAD_FIELD", `event log: ${errorMessage(e)}`, { cause: e });
  }
}

/** Validate one event object (snake_case as dstack emits it; camelCase accepted). */
export function parseEvent(raw: unknown, index: number): EventLogEntry {
  const at = `event ${index}`;
  if (!isPlainObject(raw)) fail("EVENTLOG_BAD_EVENT", `${at}: expected an object, got ${Array.isArray(raw) ? "an array" : typeof raw}`, { index });
  const imr = u32(raw.imr, `${at}.imr`);
  if (imr > 3) fail("EVENTLOG_BAD_FIELD", `${at}.imr: register index ${imr} is out of range 0..3`, { index });
  const eventType = u32(raw.event_type ?? raw.eventType, `${at}.event_type`);
  const digest = hexField(raw.digest, `${at}.digest`);
  const name = raw.event ?? "";
  if (typeof name !== "string") fail("EVENTLOG_BAD_FIELD", `${at}.event: expected a string, got ${typeof name}`, { index });
  const payload = hexField(raw.event_payload ?? raw.eventPayload, `${at}.event_payload`);
  const versionRaw = raw.version ?? 1;
  if (versionRaw !== 1 && versionRaw !== 2) fail("EVENTLOG_BAD_FIELD", `${at}.version: expected 1 or 2, got ${JSON.stringify(versionRaw)}`, { index });
  if (digest.length !== 0 && digest.length !== RTMR_SIZE) {
    fail("EVENTLOG_BAD_DIGEST", `${at}.digest: expected ${RTMR_SIZE} bytes (SHA-384) or empty, got ${digest.length}`, { index });
  }
  if (digest.length === 0 && eventType !== RUNTIME_EVENT_TYPE) {
    fail("EVENTLOG_BAD_DIGEST", `${at} (imr ${imr}, type 0x${eventType.toString(16)}): empty digest on a non-runtime event cannot be replayed`, { index });
  }
  const ev: EventLogEntry = { imr, eventType, digest, event: name, payload, version: versionRaw };
  if (raw.preimage !== undefined && raw.preimage !== null) ev.preimage = hexField(raw.preimage, `${at}.preimage`);
  return ev;
}

/**
 * Parse an event log given as: an array of events; JSON text of it; a JSON string whose value is that
 * text (double-encoded, as `GetQuoteResponse.event_log` inside a saved response); hex of the UTF-8
 * text (legacy `eventlog` field); bytes of the text; or an object with an `event_log` field.
 */
export function parseEventLog(input: unknown, limits: JsonLimits = {}): EventLogEntry[] {
  let value: unknown = input;
  for (let round = 0; round < 4; round++) {
    if (value instanceof Uint8Array) {
      value = new TextDecoder("utf-8", { fatal: false }).decode(value);
      continue;
    }
    if (typeof value === "string") {
      const t = value.trim();
      if (t === "") fail("EVENTLOG_EMPTY", "empty (the KMS produced no event log)");
      if (t.startsWith("[") || t.startsWith("{") || t.startsWith('"')) {
        value = parseJsonLimited(t, "event log", limits);
        continue;
      }
      if (isHexText(t)) {
        value = hexToBytes(t, "event log hex");
        continue;
      }
      fail("EVENTLOG_BAD_FORMAT", `expected JSON text, its hex, or an array (starts ${JSON.stringify(t.slice(0, 12))})`);
    }
    if (isPlainObject(value)) {
      const inner = value.event_log ?? value.eventlog ?? value.eventLog;
      if (inner === undefined) fail("EVENTLOG_BAD_FORMAT", "an object without an event_log field");
      value = inner;
      continue;
    }
    break;
  }
  if (!Array.isArray(value)) fail("EVENTLOG_BAD_FORMAT", `expected a JSON array of events, got ${value === null ? "null" : typeof value}`);
  if (value.length > MAX_EVENTS) fail("EVENTLOG_TOO_LARGE", `${value.length} events exceed the limit of ${MAX_EVENTS}`);
  return value.map((e, i) => parseEvent(e, i));
}

/** RFC 8785 (JCS) canonical JSON of plain JSON data. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new InputError("BAD_JSON", "canonical JSON: non-finite number");
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) throw new InputError("BAD_JSON", "canonical JSON: lone surrogate in string");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  throw new InputError("BAD_JSON", `canonical JSON: unsupported value of type ${typeof value}`);
}

/** V1 preimage `le32(0x08000001) ‖ ":" ‖ name ‖ ":" ‖ payload`. */
export function runtimeEventPreimageV1(name: string, payload: Uint8Array, eventType = RUNTIME_EVENT_TYPE): Uint8Array {
  const t = new Uint8Array(4);
  new DataView(t.buffer).setUint32(0, eventType, true);
  return concatBytes(t, utf8(":"), utf8(name), utf8(":"), payload);
}

/** V2 preimage: canonical JSON `{"name":…,"payload":"<hex>","type":134217729}`. */
export function runtimeEventPreimageV2(name: string, payload: Uint8Array, eventType = RUNTIME_EVENT_TYPE): Uint8Array {
  return utf8(canonicalJson({ name, payload: bytesToPlainHex(payload), type: eventType }));
}

export function runtimeEventDigest(name: string, payload: Uint8Array, version: 1 | 2 = 1): Uint8Array {
  return sha384(version === 2 ? runtimeEventPreimageV2(name, payload) : runtimeEventPreimageV1(name, payload));
}

export interface ReplayIssue {
  index: number;
  event: string;
  kind: "stored-digest-differs" | "v2-preimage-missing" | "v2-preimage-mismatch" | "v2-digest-mismatch";
  detail: string;
  severity: "warning" | "error";
}

export interface ReplayResult {
  /** RTMR0..3 after replaying every event (or up to the stop point). */
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** The digest actually extended for each replayed event. */
  digests: Uint8Array[];
  replayedEvents: number;
  issues: ReplayIssue[];
}

/**
 * Replay: rtmr[imr] = SHA-384(rtmr[imr] ‖ d) for each event in order, with d recomputed for runtime
 * events. `stopAfterEvent` (e.g. "boot-mr-done") stops after the first runtime event with that name.
 */
export function replayEventLog(events: EventLogEntry[], opts: { stopAfterEvent?: string } = {}): ReplayResult {
  const rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array] = [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), new Uint8Array(48)];
  const digests: Uint8Array[] = [];
  const issues: ReplayIssue[] = [];
  let n = 0;
  for (const [index, ev] of events.entries()) {
    let d: Uint8Array;
    if (ev.eventType === RUNTIME_EVENT_TYPE) {
      d = runtimeEventDigest(ev.event, ev.payload, ev.version);
      if (ev.version === 2) {
        const canon = runtimeEventPreimageV2(ev.event, ev.payload);
        if (!ev.preimage) issues.push({ index, event: ev.event, kind: "v2-preimage-missing", detail: "V2 event without a preimage", severity: "error" });
        else if (!bytesEqual(ev.preimage, canon)) issues.push({ index, event: ev.event, kind: "v2-preimage-mismatch", detail: "preimage is not the canonical JSON of event/event_payload", severity: "error" });
        if (ev.digest.length && !bytesEqual(ev.digest, d)) issues.push({ index, event: ev.event, kind: "v2-digest-mismatch", detail: `stored ${bytesToHex(ev.digest)}, recomputed ${bytesToHex(d)}`, severity: "error" });
      } else if (ev.digest.length && !bytesEqual(ev.digest, d)) {
        issues.push({ index, event: ev.event, kind: "stored-digest-differs", detail: `stored ${bytesToHex(ev.digest)} ignored, recomputed ${bytesToHex(d)}`, severity: "warning" });
      }
    } else {
      d = ev.digest;
    }
    rtmrs[ev.imr] = sha384(concatBytes(rtmrs[ev.imr]!, d));
    digests.push(d);
    n++;
    if (opts.stopAfterEvent !== undefined && ev.eventType === RUNTIME_EVENT_TYPE && ev.event === opts.stopAfterEvent) break;
  }
  return { rtmrs, digests, replayedEvents: n, issues };
}

/** dstack's own RTMR3 check: replay only runtime events (regardless of imr) from zero. */
export function replayRuntimeEvents(events: EventLogEntry[], opts: { stopAfterEvent?: string } = {}): Uint8Array {
  let r = new Uint8Array(48);
  for (const ev of events) {
    if (ev.eventType !== RUNTIME_EVENT_TYPE) continue;
    r = sha384(concatBytes(r, runtimeEventDigest(ev.event, ev.payload, ev.version)));
    if (opts.stopAfterEvent !== undefined && ev.event === opts.stopAfterEvent) break;
  }
  return r;
}

export interface RuntimeEventJson {
  index: number;
  imr: number;
  name: string;
  payload: Hex;
  /** The payload as text when it is printable UTF-8 (key-provider JSON, storage-fs name). */
  text?: string;
  digest: Hex;
  version: 1 | 2;
  /** true for events after `system-ready` (application-controlled, not identity). */
  afterSystemReady: boolean;
}

export interface KeyProviderInfo {
  raw: Hex;
  name?: string;
  id?: string;
}

/** Identity fields read from RTMR3 runtime events ("first match before system-ready"). */
export interface DstackRuntimeInfo {
  appId?: Hex;
  composeHash?: Hex;
  instanceId?: Hex;
  osImageHash?: Hex;
  keyProvider?: KeyProviderInfo;
  storageFs?: string;
  initScriptHashes: Hex[];
  bootMrDone: boolean;
  systemPreparing: boolean;
  systemReady: boolean;
  /** Names of every runtime event in order. */
  eventNames: string[];
}

function printable(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  const s = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return /^[\x20-\x7e\t\r\n]*$/.test(s) ? s : undefined;
}

export function runtimeEvents(events: EventLogEntry[]): RuntimeEventJson[] {
  const out: RuntimeEventJson[] = [];
  let ready = false;
  for (const [index, ev] of events.entries()) {
    if (ev.eventType !== RUNTIME_EVENT_TYPE) continue;
    const j: RuntimeEventJson = {
      index,
      imr: ev.imr,
      name: ev.event,
      payload: bytesToHex(ev.payload),
      digest: bytesToHex(runtimeEventDigest(ev.event, ev.payload, ev.version)),
      version: ev.version,
      afterSystemReady: ready,
    };
    const text = printable(ev.payload);
    if (text !== undefined) j.text = text;
    out.push(j);
    if (ev.event === "system-ready") ready = true;
  }
  return out;
}

/** Runtime events whose payload (hex) is an identity field: the first one before system-ready counts. */
const IDENTITY_EVENTS: Record<string, "appId" | "composeHash" | "instanceId" | "osImageHash"> = {
  "app-id": "appId",
  "compose-hash": "composeHash",
  "instance-id": "instanceId",
  "os-image-hash": "osImageHash",
};

export function decodeRuntimeInfo(events: EventLogEntry[]): DstackRuntimeInfo {
  const info: DstackRuntimeInfo = { initScriptHashes: [], bootMrDone: false, systemPreparing: false, systemReady: false, eventNames: [] };
  for (const ev of events) {
    if (ev.eventType !== RUNTIME_EVENT_TYPE) continue;
    info.eventNames.push(ev.event);
    if (info.systemReady) continue;
    const hex = bytesToHex(ev.payload);
    const field = Object.hasOwn(IDENTITY_EVENTS, ev.event) ? IDENTITY_EVENTS[ev.event] : undefined;
    if (field) {
      info[field] ??= hex;
      continue;
    }
    switch (ev.event) {
      case "system-preparing":
        info.systemPreparing = true;
        break;
      case "init-script-hash":
        info.initScriptHashes.push(hex);
        break;
      case "boot-mr-done":
        info.bootMrDone = true;
        break;
      case "storage-fs":
        info.storageFs ??= new TextDecoder().decode(ev.payload);
        break;
      case "key-provider":
        info.keyProvider ??= keyProviderInfo(ev.payload);
        break;
      case "system-ready":
        info.systemReady = true;
        break;
    }
  }
  return info;
}

/** A key-provider payload: JSON `{name, id}` when it is one, the raw bytes (hex) always. */
function keyProviderInfo(payload: Uint8Array): KeyProviderInfo {
  const kp: KeyProviderInfo = { raw: bytesToHex(payload) };
  try {
    const j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)) as unknown;
    if (isPlainObject(j)) {
      if (typeof j.name === "string") kp.name = j.name;
      if (typeof j.id === "string") kp.id = j.id;
    }
  } catch {
    /* opaque payload: keep raw */
  }
  return kp;
}

export function keyProviderPayload(events: EventLogEntry[]): Uint8Array | undefined {
  for (const ev of events) {
    if (ev.eventType !== RUNTIME_EVENT_TYPE) continue;
    if (ev.event === "system-ready") return undefined;
    if (ev.event === "key-provider") return ev.payload;
  }
  return undefined;
}

export interface TdMeasurements {
  mrTd: Uint8Array;
  rtMr0: Uint8Array;
  rtMr1: Uint8Array;
  rtMr2: Uint8Array;
  rtMr3: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
}

/** dstack `decode_mr_tdx`: mr_key_provider, mr_system, mr_aggregated. */
export function derivedMeasurements(m: TdMeasurements, keyProvider: Uint8Array | undefined): { mrKeyProvider: Hex; mrSystem: Hex; mrAggregated: Hex } {
  const mrKeyProvider = keyProvider ? sha256(keyProvider) : new Uint8Array(32);
  const mrSystem = sha256(concatBytes(m.mrTd, m.rtMr0, m.rtMr1, m.rtMr2, mrKeyProvider));
  const nonZero = (b: Uint8Array) => b.some((x) => x !== 0);
  const parts = [m.mrTd, m.rtMr0, m.rtMr1, m.rtMr2, m.rtMr3];
  if (nonZero(m.mrConfigId) || nonZero(m.mrOwner) || nonZero(m.mrOwnerConfig)) parts.push(m.mrConfigId, m.mrOwner, m.mrOwnerConfig);
  return { mrKeyProvider: bytesToHex(mrKeyProvider), mrSystem: bytesToHex(mrSystem), mrAggregated: bytesToHex(sha256(concatBytes(...parts))) };
}

/**
 * What the log says about one register: it replays to the quote's value, it replays to another value, or
 * this log does not carry the events that extend it (a lite log's RTMR0–2: the OS image measurement covers them).
 */
export type RegisterCoverage = "replayed-matches" | "replayed-differs" | "not-covered";

export interface RegisterCheck {
  index: number;
  replayed: Hex;
  quote: Hex;
  match: boolean;
  coverage: RegisterCoverage;
}

export interface EventLogCheck {
  /** Every register replays to the quote's value (false for a lite log, whose RTMR0–2 are not covered). */
  rtmrsMatch: boolean;
  /** RTMR3 (the runtime events) replays to the quote's RTMR3 with no event in error. */
  rtmr3Match: boolean;
  /** The log is a lite log: it carries no RTMR1 or RTMR2 event, so RTMR0–2 cannot be replayed from it. */
  lite: boolean;
  /** Per register: replayed vs quote, and whether this log covers it. */
  registers: RegisterCheck[];
  /** RTMR3 replayed up to and including `boot-mr-done` (undefined if there is no such event). */
  bootTimeRtmr3?: Hex;
  events: RuntimeEventJson[];
  runtime: DstackRuntimeInfo;
  issues: ReplayIssue[];
  eventCount: number;
}

/**
 * A lite event log (dstack's `tdx-lite` attestation variant) keeps only RTMR0's ACPI events and the runtime
 * events: it has no event extending RTMR1 or RTMR2 (a full log always has the kernel and its command line there).
 */
export function isLiteEventLog(events: readonly EventLogEntry[]): boolean {
  return !events.some((e) => e.imr === 1 || e.imr === 2);
}

/**
 * Replay `events` and compare with the quote's RTMRs (each 48 bytes). `opts.lite` declares the log lite
 * (e.g. from the VM config's `tdx_attestation_variant`); by default it is detected with `isLiteEventLog`.
 * In a lite log RTMR0–2 that do not replay to the quote are `not-covered`, not `replayed-differs`.
 */
export function checkEventLog(events: EventLogEntry[], quoteRtmrs: readonly Uint8Array[], opts: { lite?: boolean } = {}): EventLogCheck {
  const full = replayEventLog(events);
  const lite = opts.lite ?? isLiteEventLog(events);
  const registers = full.rtmrs.map((r, i): RegisterCheck => {
    const q = quoteRtmrs[i] ?? new Uint8Array(0);
    const match = bytesEqual(r, q);
    const coverage: RegisterCoverage = match ? "replayed-matches" : lite && i < 3 ? "not-covered" : "replayed-differs";
    return { index: i, replayed: bytesToHex(r), quote: bytesToHex(q), match, coverage };
  });
  const noErrors = !full.issues.some((i) => i.severity === "error");
  const result: EventLogCheck = {
    rtmrsMatch: registers.every((r) => r.match) && noErrors,
    rtmr3Match: registers[3]!.match && noErrors,
    lite,
    registers,
    events: runtimeEvents(events),
    runtime: decodeRuntimeInfo(events),
    issues: full.issues,
    eventCount: events.length,
  };
  if (events.some((e) => e.eventType === RUNTIME_EVENT_TYPE && e.event === "boot-mr-done")) {
    result.bootTimeRtmr3 = bytesToHex(replayEventLog(events, { stopAfterEvent: "boot-mr-done" }).rtmrs[3]);
  }
  return result;
}

/** Serialise events back to dstack's JSON shape (hex without `0x`, as the guest agent emits). */
export function eventLogToJson(events: EventLogEntry[]): Record<string, unknown>[] {
  return events.map((e) => {
    const o: Record<string, unknown> = {
      imr: e.imr,
      event_type: e.eventType,
      digest: bytesToPlainHex(e.digest),
      event: e.event,
      event_payload: bytesToPlainHex(e.payload),
    };
    if (e.version === 2) o.version = 2;
    if (e.preimage) o.preimage = bytesToPlainHex(e.preimage);
    return o;
  });
}

/** Build a runtime event as dstack emits it (digest filled in). */
export function makeRuntimeEvent(name: string, payload: Uint8Array, version: 1 | 2 = 1): EventLogEntry {
  const ev: EventLogEntry = { imr: 3, eventType: RUNTIME_EVENT_TYPE, digest: runtimeEventDigest(name, payload, version), event: name, payload, version };
  if (version === 2) ev.preimage = runtimeEventPreimageV2(name, payload);
  return ev;
}
