/**
 * dstack's versioned attestation, the `attestation` field of a v0.5.6+ KMS's bootstrap info and of its
 * RA-TLS certificates, decoded for every platform dstack runs on into one shape:
 *  - V0, SCALE (first byte 0x00): version tag, platform tag (0 tdx, 1 gcp-tdx, 2 nitro-enclave,
 *    3 sev-snp, 4 aws-nitro-tpm), the platform's evidence, runtime events, report_data (64 raw bytes),
 *    config JSON; nothing may follow;
 *  - V1, msgpack named map (first byte 0x80..0x8f / 0xde / 0xdf): {version: 1, platform: {kind, data},
 *    stack: {kind: "dstack" | "dstack-pod", data: {report_data, runtime_events, config[,
 *    report_data_payload]}}}; byte fields may be msgpack `bin` or arrays of integers 0..255;
 *  - a raw TDX quote (`04 00 02 00 …`, what some KMS deployments publish), accepted defensively.
 * The platform's evidence: tdx {quote, event_log}; gcp-tdx {quote, event_log, tpm_quote}; nitro-enclave
 * {nsm_quote} (a COSE_Sign1 document); aws-nitro-tpm {attestation_doc} (a COSE_Sign1 document); sev-snp
 * {report, cert_chain, mr_config}. A V1 platform kind not in that list decodes with empty evidence.
 * Every length is bounds-checked against the input; a malformed input is an `AttestationDecodeError`
 * naming the field (and for V0 the offset).
 */
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";

import { concatBytes } from "../core/bytes.js";
import { errorMessage, InputError } from "../core/errors.js";
import { isPlainObject } from "../core/json.js";
import { eventLogToJson, parseEvent, parseEventLog, type EventLogEntry } from "./eventlog.js";

export class AttestationDecodeError extends InputError {}

/** A platform this tool can decode but not yet verify (anything but TDX). */
export class PlatformNotSupportedError extends InputError {}

export type AttestationFormat = "v0-scale" | "v1-msgpack" | "raw-quote";
export const PLATFORM_KINDS = ["tdx", "gcp-tdx", "nitro-enclave", "sev-snp", "aws-nitro-tpm"] as const;
export type PlatformKind = (typeof PLATFORM_KINDS)[number];
/** The V0 platform tags, in tag order. */
export const V0_PLATFORMS: readonly PlatformKind[] = PLATFORM_KINDS;

export interface RuntimeEvent {
  event: string;
  payload: Uint8Array;
}

/** A GCP TPM quote: TPMS_ATTEST message, its signature, the quoted PCRs, the nonce and the AK certificate. */
export interface TpmQuote {
  message: Uint8Array;
  signature: Uint8Array;
  pcrValues: { index: number; value: Uint8Array }[];
  qualifyingData: Uint8Array;
  akCert: Uint8Array;
}

export interface StackEvidence {
  /** `dstack` or `dstack-pod` (V0 is always `dstack`). */
  kind: string;
  reportData: Uint8Array;
  runtimeEvents: RuntimeEvent[];
  config: string;
  /** dstack-pod only. */
  reportDataPayload: string | null;
}

export interface DstackAttestation {
  format: AttestationFormat;
  /** 0 or 1; null for a raw quote. */
  version: 0 | 1 | null;
  platform: PlatformKind | (string & {});
  /** The platform's raw evidence: the TDX quote, the SNP report, or the Nitro COSE_Sign1 document (empty for an unknown V1 kind). */
  evidence: Uint8Array;
  /** The TDX quote (tdx, gcp-tdx, raw quote); null on other platforms. */
  quote: Uint8Array | null;
  /** The TDX event log (tdx, gcp-tdx); null otherwise. */
  eventLog: EventLogEntry[] | null;
  /** gcp-tdx: the TPM quote. */
  tpmQuote: TpmQuote | null;
  /** sev-snp: the certificate chain blobs and the MrConfig document bound by HOST_DATA. */
  snp: { certChain: Uint8Array[]; mrConfig: string } | null;
  /** The stack evidence; null for a raw quote. */
  stack: StackEvidence | null;
  /** Shortcuts to the stack evidence (empty / null for a raw quote). */
  runtimeEvents: RuntimeEvent[];
  reportData: Uint8Array | null;
  config: string | null;
}

const MAX_ITEMS = 100_000;

class ScaleReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  fail(field: string, message: string): never {
    throw new AttestationDecodeError("ATTESTATION_MALFORMED", `attestation (V0 SCALE): ${field} at offset ${this.pos}: ${message}`, {
      details: { field, offset: this.pos },
    });
  }
  need(n: number, field: string): void {
    if (n > this.buf.length - this.pos) this.fail(field, `needs ${n} bytes, only ${this.buf.length - this.pos} remain`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** SCALE compact integer (modes 0..2; big-int mode accepted up to 2^53). */
  compact(field: string): number {
    const b0 = this.u8(field);
    const mode = b0 & 3;
    if (mode === 0) return b0 >> 2;
    if (mode === 1) return ((this.u8(field) << 8) | b0) >>> 2;
    if (mode === 2) {
      this.pos--;
      return this.u32(field) >>> 2;
    }
    const n = (b0 >> 2) + 4;
    if (n > 6) this.fail(field, `compact integer of ${n} bytes is too large`);
    const raw = this.bytes(n, field);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + raw[i]!;
    return v;
  }
  vec(field: string): Uint8Array {
    const len = this.compact(`${field} length`);
    return this.bytes(len, field);
  }
  str(field: string): string {
    const b = this.vec(field);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(b);
    } catch {
      this.fail(field, "not valid UTF-8");
    }
  }
  count(field: string): number {
    const n = this.compact(`${field} count`);
    // every item takes at least one byte
    if (n > MAX_ITEMS || n > this.buf.length - this.pos) this.fail(field, `count ${n} cannot fit in the remaining ${this.buf.length - this.pos} bytes`);
    return n;
  }
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

function v0EventLog(r: ScaleReader): EventLogEntry[] {
  const n = r.count("event log");
  const out: EventLogEntry[] = [];
  for (let i = 0; i < n; i++) {
    const imr = r.u32(`event ${i}.imr`);
    const eventType = r.u32(`event ${i}.event_type`);
    const digest = r.vec(`event ${i}.digest`);
    const event = r.str(`event ${i}.event`);
    const payload = r.vec(`event ${i}.event_payload`);
    out.push(parseEvent({ imr, event_type: eventType, digest: hexOf(digest), event, event_payload: hexOf(payload) }, i));
  }
  return out;
}

function v0TpmQuote(r: ScaleReader): TpmQuote {
  const message = r.vec("tpm_quote.message");
  const signature = r.vec("tpm_quote.signature");
  const n = r.count("tpm_quote.pcr_values");
  const pcrValues: TpmQuote["pcrValues"] = [];
  for (let i = 0; i < n; i++) pcrValues.push({ index: r.u32(`tpm_quote.pcr_values ${i}.index`), value: r.vec(`tpm_quote.pcr_values ${i}.value`) });
  return { message, signature, pcrValues, qualifyingData: r.vec("tpm_quote.qualifying_data"), akCert: r.vec("tpm_quote.ak_cert") };
}

type PlatformPart = Pick<DstackAttestation, "platform" | "evidence" | "quote" | "eventLog" | "tpmQuote" | "snp">;

function platformPart(platform: string, evidence: Uint8Array, extra: Partial<PlatformPart> = {}): PlatformPart {
  return { platform, evidence, quote: null, eventLog: null, tpmQuote: null, snp: null, ...extra };
}

function decodeV0(buf: Uint8Array): DstackAttestation {
  const r: ScaleReader = new ScaleReader(buf);
  r.u8("version");
  const tag = r.u8("platform tag");
  const platform = V0_PLATFORMS[tag];
  if (platform === undefined) r.fail("platform tag", `unknown platform tag ${tag} (known: ${V0_PLATFORMS.map((p, i) => `${i} ${p}`).join(", ")})`);
  let part: PlatformPart;
  if (platform === "tdx" || platform === "gcp-tdx") {
    const quote = r.vec("quote");
    const eventLog = v0EventLog(r);
    part = platformPart(platform, quote, { quote, eventLog, ...(platform === "gcp-tdx" ? { tpmQuote: v0TpmQuote(r) } : {}) });
  } else if (platform === "sev-snp") {
    const report = r.vec("report");
    const n = r.count("cert_chain");
    const certChain: Uint8Array[] = [];
    for (let i = 0; i < n; i++) certChain.push(r.vec(`cert_chain ${i}`));
    part = platformPart(platform, report, { snp: { certChain, mrConfig: r.str("mr_config") } });
  } else {
    part = platformPart(platform, r.vec(platform === "nitro-enclave" ? "nsm_quote" : "attestation_doc"));
  }
  const nRt = r.count("runtime events");
  const runtimeEvents: RuntimeEvent[] = [];
  for (let i = 0; i < nRt; i++) runtimeEvents.push({ event: r.str(`runtime event ${i}.event`), payload: r.vec(`runtime event ${i}.payload`) });
  const reportData = r.bytes(64, "report_data");
  const config = r.str("config");
  if (r.pos !== buf.length) r.fail("end", `${buf.length - r.pos} bytes after the attestation`);
  const stack: StackEvidence = { kind: "dstack", reportData, runtimeEvents, config, reportDataPayload: null };
  return { format: "v0-scale", version: 0, ...part, stack, runtimeEvents, reportData, config };
}

function v1Fail(field: string, message: string): never {
  throw new AttestationDecodeError("ATTESTATION_MALFORMED", `attestation (V1 msgpack): ${field}: ${message}`, { details: { field } });
}

function describe(v: unknown): string {
  return v === null ? "null" : v === undefined ? "missing" : Array.isArray(v) ? "an array" : v instanceof Uint8Array ? "bytes" : typeof v;
}

/** A msgpack byte field: bin, or an array of integers 0..255 (serde's `Vec<u8>` without serde_bytes). */
function v1Bytes(v: unknown, field: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255)) v1Fail(field, "array is not bytes (integers 0..255)");
    return Uint8Array.from(v as number[]);
  }
  return v1Fail(field, `expected bytes (bin or an array of integers), got ${describe(v)}`);
}

function v1Str(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  return v1Fail(field, `expected a string, got ${describe(v)}`);
}

function v1Map(v: unknown, field: string): Record<string, unknown> {
  if (isPlainObject(v)) return v;
  return v1Fail(field, `expected a map, got ${describe(v)}`);
}

function v1U32(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  return v1Fail(field, `expected an unsigned 32-bit integer, got ${describe(v)}`);
}

function v1Array(v: unknown, field: string): unknown[] {
  if (Array.isArray(v)) return v;
  return v1Fail(field, `expected an array, got ${describe(v)}`);
}

function decodeV1(buf: Uint8Array): DstackAttestation {
  let root: unknown;
  try {
    root = msgpackDecode(buf, { maxStrLength: buf.length, maxBinLength: buf.length, maxArrayLength: Math.min(buf.length, MAX_ITEMS), maxMapLength: 1024, maxExtLength: buf.length });
  } catch (e) {
    throw new AttestationDecodeError("ATTESTATION_MALFORMED", `attestation (V1 msgpack): ${errorMessage(e)}`, { cause: e });
  }
  const top = v1Map(root, "top level");
  if (top.version !== 1) v1Fail("version", `expected 1, got ${typeof top.version === "number" ? top.version : describe(top.version)}`);
  const platformObj = v1Map(top.platform, "platform");
  const kind = v1Str(platformObj.kind, "platform.kind");
  const part = v1Platform(kind, platformObj.data);
  const stack = v1Stack(top.stack);
  return { format: "v1-msgpack", version: 1, ...part, stack, runtimeEvents: stack.runtimeEvents, reportData: stack.reportData, config: stack.config };
}

function v1Platform(kind: string, data: unknown): PlatformPart {
  const known = (PLATFORM_KINDS as readonly string[]).includes(kind);
  if (!known) return platformPart(kind, new Uint8Array(0));
  const d = v1Map(data, "platform.data");
  const f = (name: string) => `platform.data.${name}`;
  switch (kind as PlatformKind) {
    case "tdx":
    case "gcp-tdx": {
      const quote = v1Bytes(d.quote, f("quote"));
      const eventLog = v1EventLog(d.event_log);
      return platformPart(kind, quote, { quote, eventLog, ...(kind === "gcp-tdx" ? { tpmQuote: v1TpmQuote(d.tpm_quote) } : {}) });
    }
    case "sev-snp": {
      const report = v1Bytes(d.report, f("report"));
      const certChain = v1Array(d.cert_chain, f("cert_chain")).map((c, i) => v1Bytes(c, `${f("cert_chain")}[${i}]`));
      return platformPart(kind, report, { snp: { certChain, mrConfig: v1Str(d.mr_config, f("mr_config")) } });
    }
    case "nitro-enclave":
      return platformPart(kind, v1Bytes(d.nsm_quote, f("nsm_quote")));
    case "aws-nitro-tpm":
      return platformPart(kind, v1Bytes(d.attestation_doc, f("attestation_doc")));
  }
}

function v1TpmQuote(v: unknown): TpmQuote {
  const f = (name: string) => `platform.data.tpm_quote.${name}`;
  const t = v1Map(v, "platform.data.tpm_quote");
  const pcrValues = v1Array(t.pcr_values, f("pcr_values")).map((p, i) => {
    const m = v1Map(p, `${f("pcr_values")}[${i}]`);
    return { index: v1U32(m.index, `${f("pcr_values")}[${i}].index`), value: v1Bytes(m.value, `${f("pcr_values")}[${i}].value`) };
  });
  return {
    message: v1Bytes(t.message, f("message")),
    signature: v1Bytes(t.signature, f("signature")),
    pcrValues,
    qualifyingData: v1Bytes(t.qualifying_data, f("qualifying_data")),
    akCert: v1Bytes(t.ak_cert, f("ak_cert")),
  };
}

function v1Stack(v: unknown): StackEvidence {
  const s = v1Map(v, "stack");
  const kind = v1Str(s.kind, "stack.kind");
  if (kind !== "dstack" && kind !== "dstack-pod") v1Fail("stack.kind", `unknown stack kind ${JSON.stringify(kind)} (known: dstack, dstack-pod)`);
  const d = v1Map(s.data, "stack.data");
  const reportData = v1Bytes(d.report_data, "stack.data.report_data");
  if (reportData.length !== 64) v1Fail("stack.data.report_data", `must be 64 bytes, got ${reportData.length}`);
  const runtimeEvents = v1Array(d.runtime_events, "stack.data.runtime_events").map((e, i) => {
    const m = v1Map(e, `stack.data.runtime_events[${i}]`);
    return { event: v1Str(m.event, `stack.data.runtime_events[${i}].event`), payload: v1Bytes(m.payload, `stack.data.runtime_events[${i}].payload`) };
  });
  const config = v1Str(d.config, "stack.data.config");
  const reportDataPayload = kind === "dstack-pod" ? v1Str(d.report_data_payload, "stack.data.report_data_payload") : null;
  return { kind, reportData, runtimeEvents, config, reportDataPayload };
}

/** `platform.data.event_log`: an array of event maps (byte fields in either V1 byte form), or the JSON text of the log. */
function v1EventLog(el: unknown): EventLogEntry[] {
  if (typeof el === "string") return parseEventLog(el);
  return v1Array(el, "platform.data.event_log").map((e, i) => {
    const f = (name: string) => `platform.data.event_log[${i}].${name}`;
    const m = v1Map(e, `platform.data.event_log[${i}]`);
    return parseEvent(
      {
        imr: v1U32(m.imr, f("imr")),
        event_type: v1U32(m.event_type, f("event_type")),
        digest: hexOf(v1Bytes(m.digest, f("digest"))),
        event: v1Str(m.event, f("event")),
        event_payload: hexOf(v1Bytes(m.event_payload, f("event_payload"))),
        ...(m.version === undefined ? {} : { version: m.version }),
        ...(m.preimage === undefined || m.preimage === null ? {} : { preimage: hexOf(v1Bytes(m.preimage, f("preimage"))) }),
      },
      i,
    );
  });
}

/** True when the bytes look like a raw DCAP quote header (version 3/4/5, attestation key type 2). */
export function looksLikeRawQuote(b: Uint8Array): boolean {
  return b.length >= 48 && (b[0] === 3 || b[0] === 4 || b[0] === 5) && b[1] === 0 && b[2] === 2 && b[3] === 0;
}

/** True when the first byte is that of a V0 (0x00) or V1 (msgpack map) attestation. */
export function looksLikeVersionedAttestation(b: Uint8Array): boolean {
  if (b.length === 0 || looksLikeRawQuote(b)) return false;
  const b0 = b[0]!;
  return b0 === 0x00 || (b0 >= 0x80 && b0 <= 0x8f) || b0 === 0xde || b0 === 0xdf;
}

/** Decode a dstack versioned attestation (V0 SCALE, V1 msgpack) or a raw quote, for any platform. */
export function decodeDstackAttestation(bytes: Uint8Array): DstackAttestation {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new AttestationDecodeError("ATTESTATION_EMPTY", "attestation: empty (the KMS produced no attestation)");
  }
  if (looksLikeRawQuote(bytes)) {
    return { format: "raw-quote", version: null, ...platformPart("tdx", bytes, { quote: bytes }), stack: null, runtimeEvents: [], reportData: null, config: null };
  }
  const b0 = bytes[0]!;
  if (b0 === 0x00) return decodeV0(bytes);
  if ((b0 >= 0x80 && b0 <= 0x8f) || b0 === 0xde || b0 === 0xdf) return decodeV1(bytes);
  throw new AttestationDecodeError(
    "ATTESTATION_UNKNOWN_FORMAT",
    `attestation: unknown format (first byte 0x${b0.toString(16).padStart(2, "0")}; expected 0x00 for V0 SCALE, a msgpack map for V1, or a raw quote 04 00 02 00)`,
    { details: { firstByte: b0 } },
  );
}

/** The `os_image_hash` the attestation's config JSON states (lower-case hex without 0x), when it states one. */
export function configOsImageHash(config: string | null): string | undefined {
  if (!config) return undefined;
  try {
    const v = (JSON.parse(config) as { os_image_hash?: unknown }).os_image_hash;
    return typeof v === "string" ? v.replace(/^0x/i, "").toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

const FORMAT_NAMES: Record<AttestationFormat, string> = { "v0-scale": "V0 SCALE", "v1-msgpack": "V1 msgpack", "raw-quote": "raw quote" };

/** The error for a decoded attestation whose platform carries no TDX quote: decodable, not yet verifiable. */
export function platformNotSupported(platform: string, what: string): PlatformNotSupportedError {
  return new PlatformNotSupportedError("PLATFORM_NOT_SUPPORTED", `${what} is a ${platform} attestation; verifying ${platform} is not supported yet (only TDX quotes are verified)`, {
    details: { platform },
  });
}

/** The attestation's TDX quote, or a `PlatformNotSupportedError` naming its platform. */
export function tdxQuoteOf(a: DstackAttestation): Uint8Array {
  if (a.quote) return a.quote;
  throw platformNotSupported(a.platform, `the attestation (${FORMAT_NAMES[a.format]})`);
}

function compactBytes(n: number): Uint8Array {
  if (n < 1 << 6) return Uint8Array.of(n << 2);
  if (n < 1 << 14) return Uint8Array.of(((n << 2) | 1) & 0xff, n >> 6);
  if (n < 1 << 30) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, ((n << 2) | 2) >>> 0, true);
    return b;
  }
  throw new InputError("ATTESTATION_TOO_LARGE", `attestation: length ${n} too large to encode`);
}

/** Encode a TDX V0 SCALE attestation (what `Attest` returns on a TDX dstack guest). */
export function encodeDstackAttestationV0(a: { quote: Uint8Array; eventLog: EventLogEntry[]; runtimeEvents?: { event: string; payload: Uint8Array }[]; reportData: Uint8Array; config?: string }): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0, 0)];
  const vec = (b: Uint8Array) => parts.push(compactBytes(b.length), b);
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    parts.push(b);
  };
  const te = new TextEncoder();
  vec(a.quote);
  parts.push(compactBytes(a.eventLog.length));
  for (const e of a.eventLog) {
    u32(e.imr);
    u32(e.eventType);
    vec(e.digest);
    vec(te.encode(e.event));
    vec(e.payload);
  }
  const rt = a.runtimeEvents ?? a.eventLog.filter((e) => e.eventType === 0x08000001).map((e) => ({ event: e.event, payload: e.payload }));
  parts.push(compactBytes(rt.length));
  for (const e of rt) {
    vec(te.encode(e.event));
    vec(e.payload);
  }
  if (a.reportData.length !== 64) throw new InputError("BAD_LENGTH", `attestation: report_data must be 64 bytes, got ${a.reportData.length}`);
  parts.push(a.reportData);
  vec(te.encode(a.config ?? "{}"));
  return concatBytes(...parts);
}

/** What a V1 attestation is made of (the decoded shape's platform part and its stack). */
export interface AttestationV1Input {
  platform: string;
  /** tdx / gcp-tdx */
  quote?: Uint8Array | null;
  eventLog?: EventLogEntry[] | null;
  tpmQuote?: TpmQuote | null;
  /** sev-snp: the report; nitro-enclave: the NSM document; aws-nitro-tpm: the attestation document. */
  evidence?: Uint8Array;
  snp?: { certChain: Uint8Array[]; mrConfig: string } | null;
  stack: { kind?: string; reportData: Uint8Array; runtimeEvents: RuntimeEvent[]; config: string; reportDataPayload?: string | null };
}

/**
 * Encode a V1 msgpack attestation (rmp_serde's named encoding, as dstack writes it): byte fields as arrays of
 * integers (dstack without serde_bytes) or as msgpack bin (`byteForm: "bin"`).
 */
export function encodeDstackAttestationV1(a: AttestationV1Input, opts: { byteForm?: "array" | "bin" } = {}): Uint8Array {
  const b = (x: Uint8Array): Uint8Array | number[] => (opts.byteForm === "bin" ? x : Array.from(x));
  const need = (x: Uint8Array | null | undefined, what: string): Uint8Array => {
    if (!x) throw new InputError("ATTESTATION_MALFORMED", `attestation (V1): ${a.platform} needs ${what}`);
    return x;
  };
  let data: Record<string, unknown>;
  if (a.platform === "tdx" || a.platform === "gcp-tdx") {
    const events = eventLogToJson(a.eventLog ?? []).map((e) => ({
      imr: e.imr,
      event_type: e.event_type,
      digest: b(Buffer.from(String(e.digest).replace(/^0x/, ""), "hex")),
      event: e.event,
      event_payload: b(Buffer.from(String(e.event_payload).replace(/^0x/, ""), "hex")),
      ...(e.version === 2 ? { version: 2 } : {}),
      ...(typeof e.preimage === "string" ? { preimage: b(Buffer.from(e.preimage, "hex")) } : {}),
    }));
    data = { quote: b(need(a.quote, "a quote")), event_log: events };
    if (a.platform === "gcp-tdx") {
      const t = a.tpmQuote;
      if (!t) throw new InputError("ATTESTATION_MALFORMED", "attestation (V1): gcp-tdx needs a TPM quote");
      data.tpm_quote = { message: b(t.message), signature: b(t.signature), pcr_values: t.pcrValues.map((p) => ({ index: p.index, value: b(p.value) })), qualifying_data: b(t.qualifyingData), ak_cert: b(t.akCert) };
    }
  } else if (a.platform === "sev-snp") {
    data = { report: b(need(a.evidence, "a report")), cert_chain: (a.snp?.certChain ?? []).map(b), mr_config: a.snp?.mrConfig ?? "" };
  } else if (a.platform === "nitro-enclave") data = { nsm_quote: b(need(a.evidence, "an NSM document")) };
  else if (a.platform === "aws-nitro-tpm") data = { attestation_doc: b(need(a.evidence, "an attestation document")) };
  else data = {};
  const s = a.stack;
  if (s.reportData.length !== 64) throw new InputError("BAD_LENGTH", `attestation: report_data must be 64 bytes, got ${s.reportData.length}`);
  const kind = s.kind ?? "dstack";
  const stackData: Record<string, unknown> = { report_data: b(s.reportData), runtime_events: s.runtimeEvents.map((e) => ({ event: e.event, payload: b(e.payload) })), config: s.config };
  if (kind === "dstack-pod") stackData.report_data_payload = s.reportDataPayload ?? "";
  return msgpackEncode({ version: 1, platform: { kind: a.platform, data }, stack: { kind, data: stackData } });
}

/** Encode a V0 SCALE attestation of any platform (tdx, gcp-tdx, nitro-enclave, sev-snp, aws-nitro-tpm). */
export function encodeVersionedAttestationV0(a: AttestationV1Input): Uint8Array {
  const tag = V0_PLATFORMS.indexOf(a.platform as PlatformKind);
  if (tag < 0) throw new InputError("ATTESTATION_MALFORMED", `attestation (V0): platform ${JSON.stringify(a.platform)} has no V0 tag`);
  const parts: Uint8Array[] = [Uint8Array.of(0, tag)];
  const te = new TextEncoder();
  const vec = (b: Uint8Array) => parts.push(compactBytes(b.length), b);
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    parts.push(b);
  };
  const need = (x: Uint8Array | null | undefined, what: string): Uint8Array => {
    if (!x) throw new InputError("ATTESTATION_MALFORMED", `attestation (V0): ${a.platform} needs ${what}`);
    return x;
  };
  if (a.platform === "tdx" || a.platform === "gcp-tdx") {
    vec(need(a.quote, "a quote"));
    const log = a.eventLog ?? [];
    parts.push(compactBytes(log.length));
    for (const e of log) {
      u32(e.imr);
      u32(e.eventType);
      vec(e.digest);
      vec(te.encode(e.event));
      vec(e.payload);
    }
    if (a.platform === "gcp-tdx") {
      const t = a.tpmQuote;
      if (!t) throw new InputError("ATTESTATION_MALFORMED", "attestation (V0): gcp-tdx needs a TPM quote");
      vec(t.message);
      vec(t.signature);
      parts.push(compactBytes(t.pcrValues.length));
      for (const p of t.pcrValues) {
        u32(p.index);
        vec(p.value);
      }
      vec(t.qualifyingData);
      vec(t.akCert);
    }
  } else if (a.platform === "sev-snp") {
    vec(need(a.evidence, "a report"));
    const chain = a.snp?.certChain ?? [];
    parts.push(compactBytes(chain.length));
    for (const c of chain) vec(c);
    vec(te.encode(a.snp?.mrConfig ?? ""));
  } else vec(need(a.evidence, "a document"));
  const s = a.stack;
  parts.push(compactBytes(s.runtimeEvents.length));
  for (const e of s.runtimeEvents) {
    vec(te.encode(e.event));
    vec(e.payload);
  }
  if (s.reportData.length !== 64) throw new InputError("BAD_LENGTH", `attestation: report_data must be 64 bytes, got ${s.reportData.length}`);
  parts.push(s.reportData);
  vec(te.encode(s.config));
  return concatBytes(...parts);
}
