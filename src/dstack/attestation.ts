/**
 * dstack's versioned attestation, the `attestation` field of a v0.5.6+ KMS's bootstrap info:
 *  - V0, SCALE (first byte 0x00): version, platform tag, TDX quote, event log, runtime events,
 *    report_data (64 raw bytes), config JSON;
 *  - V1, msgpack map (first byte 0x80..0x8f / 0xde / 0xdf): {version, platform:{kind,data:{quote,
 *    event_log}}, stack:{kind,data:{report_data,runtime_events,config}}}; byte fields may be msgpack
 *    `bin`, arrays of small integers or hex strings (not yet checked against a real V1 sample);
 *  - a raw TDX quote (`04 00 02 00 …`, what some KMS deployments publish), accepted defensively.
 * Every length is bounds-checked against the input; a malformed input is an `InputError` naming the
 * field and offset.
 */
import { decode as msgpackDecode } from "@msgpack/msgpack";

import { concatBytes, hexToBytes } from "../core/bytes.js";
import { errorMessage, InputError } from "../core/errors.js";
import { isPlainObject } from "../core/json.js";
import { parseEvent, parseEventLog, type EventLogEntry } from "./eventlog.js";

export class AttestationDecodeError extends InputError {}

export type AttestationFormat = "v0-scale" | "v1-msgpack" | "raw-quote";
export const V0_PLATFORMS = ["tdx", "gcp-tdx", "nitro-enclave", "amd-sev-snp", "aws-nitro-tpm"] as const;

export interface DstackAttestation {
  format: AttestationFormat;
  platform: string;
  quote: Uint8Array;
  /** The TDX event log (null for a bare quote). */
  eventLog: EventLogEntry[] | null;
  runtimeEvents: { event: string; payload: Uint8Array }[];
  reportData: Uint8Array | null;
  config: string | null;
  /** Bytes after the decoded structure (0 for a well-formed V0). */
  trailingBytes: number;
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

function unsupportedPlatform(platform: string): AttestationDecodeError {
  return new AttestationDecodeError("ATTESTATION_UNSUPPORTED_PLATFORM", `attestation: platform ${platform} carries no TDX quote; only TDX KMS attestations are supported`, {
    details: { platform },
  });
}

function decodeV0(buf: Uint8Array): DstackAttestation {
  const r: ScaleReader = new ScaleReader(buf);
  r.u8("version");
  const tag = r.u8("platform tag");
  const platform = V0_PLATFORMS[tag];
  if (platform === undefined) r.fail("platform tag", `unknown platform tag ${tag}`);
  if (platform !== "tdx" && platform !== "gcp-tdx") throw unsupportedPlatform(platform);
  const quote = r.vec("quote");
  const nEvents = r.count("event log");
  const eventLog: EventLogEntry[] = [];
  for (let i = 0; i < nEvents; i++) {
    const imr = r.u32(`event ${i}.imr`);
    const eventType = r.u32(`event ${i}.event_type`);
    const digest = r.vec(`event ${i}.digest`);
    const event = r.str(`event ${i}.event`);
    const payload = r.vec(`event ${i}.event_payload`);
    eventLog.push(parseEvent({ imr, event_type: eventType, digest: Buffer.from(digest).toString("hex"), event, event_payload: Buffer.from(payload).toString("hex") }, i));
  }
  const nRt = r.count("runtime events");
  const runtimeEvents: { event: string; payload: Uint8Array }[] = [];
  for (let i = 0; i < nRt; i++) runtimeEvents.push({ event: r.str(`runtime event ${i}.event`), payload: r.vec(`runtime event ${i}.payload`) });
  const reportData = r.bytes(64, "report_data");
  const config = r.str("config");
  // gcp-tdx: a TPM quote follows; the KMS binding does not need it, so it counts as trailing bytes
  return { format: "v0-scale", platform, quote, eventLog, runtimeEvents, reportData, config, trailingBytes: buf.length - r.pos };
}

function v1Fail(message: string): never {
  throw new AttestationDecodeError("ATTESTATION_MALFORMED", `attestation (V1 msgpack): ${message}`);
}

/** A msgpack byte field: bin, array of 0..255, or hex text. */
function v1Bytes(v: unknown, field: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255)) v1Fail(`${field}: array is not bytes`);
    return Uint8Array.from(v as number[]);
  }
  if (typeof v === "string") return hexToBytes(v, field);
  return v1Fail(`${field}: expected bytes, got ${v === null ? "null" : typeof v}`);
}

function v1Str(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return v1Fail(`${field}: expected a string`);
}

function decodeV1(buf: Uint8Array): DstackAttestation {
  let root: unknown;
  try {
    root = msgpackDecode(buf, { maxStrLength: buf.length, maxBinLength: buf.length, maxArrayLength: MAX_ITEMS, maxMapLength: 1024, maxExtLength: buf.length });
  } catch (e) {
    throw new AttestationDecodeError("ATTESTATION_MALFORMED", `attestation (V1 msgpack): ${errorMessage(e)}`, { cause: e });
  }
  if (!isPlainObject(root)) v1Fail("top level is not a map");
  const platformObj = root.platform;
  if (!isPlainObject(platformObj)) v1Fail("missing platform map");
  const kind = v1Str(platformObj.kind, "platform.kind");
  if (kind !== "tdx" && kind !== "gcp-tdx") throw unsupportedPlatform(kind);
  const pdata = platformObj.data;
  if (!isPlainObject(pdata)) v1Fail("missing platform.data");
  const quote = v1Bytes(pdata.quote, "platform.data.quote");
  const eventLog = v1EventLog(pdata.event_log);
  const stack = isPlainObject(root.stack) ? root.stack : undefined;
  const sdata = stack && isPlainObject(stack.data) ? stack.data : undefined;
  const reportData = sdata?.report_data === undefined ? null : v1Bytes(sdata.report_data, "stack.data.report_data");
  const runtimeEvents = sdata && Array.isArray(sdata.runtime_events) ? v1RuntimeEvents(sdata.runtime_events) : [];
  const config = sdata?.config === undefined || sdata.config === null ? null : typeof sdata.config === "string" ? sdata.config : JSON.stringify(sdata.config);
  return { format: "v1-msgpack", platform: kind, quote, eventLog, runtimeEvents, reportData, config, trailingBytes: 0 };
}

/** `platform.data.event_log`: an array of event maps (byte fields in any V1 byte form), or the JSON text of the log; absent → null. */
function v1EventLog(el: unknown): EventLogEntry[] | null {
  if (typeof el === "string" || el instanceof Uint8Array) return parseEventLog(el);
  if (!Array.isArray(el)) return null;
  return el.map((e, i) => {
    if (!isPlainObject(e)) v1Fail(`event ${i}: not a map`);
    const hex = (x: unknown, f: string) => (x === undefined || x === null ? "" : Buffer.from(v1Bytes(x, f)).toString("hex"));
    return parseEvent(
      {
        imr: e.imr,
        event_type: e.event_type,
        digest: hex(e.digest, `event ${i}.digest`),
        event: e.event === undefined ? "" : v1Str(e.event, `event ${i}.event`),
        event_payload: hex(e.event_payload, `event ${i}.event_payload`),
        version: e.version,
        preimage: e.preimage === undefined || e.preimage === null ? undefined : hex(e.preimage, `event ${i}.preimage`),
      },
      i,
    );
  });
}

function v1RuntimeEvents(events: unknown[]): { event: string; payload: Uint8Array }[] {
  return events.map((e, i) => {
    if (!isPlainObject(e)) v1Fail(`runtime event ${i}: not a map`);
    return { event: v1Str(e.event ?? e.name ?? "", `runtime event ${i}.event`), payload: e.payload === undefined ? new Uint8Array(0) : v1Bytes(e.payload, `runtime event ${i}.payload`) };
  });
}

/** True when the bytes look like a raw DCAP quote header (version 3/4/5, attestation key type 2). */
export function looksLikeRawQuote(b: Uint8Array): boolean {
  return b.length >= 48 && (b[0] === 3 || b[0] === 4 || b[0] === 5) && b[1] === 0 && b[2] === 2 && b[3] === 0;
}

/** Decode a dstack versioned attestation (V0 SCALE, V1 msgpack) or a raw quote. */
export function decodeDstackAttestation(bytes: Uint8Array): DstackAttestation {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new AttestationDecodeError("ATTESTATION_EMPTY", "attestation: empty (the KMS produced no attestation)");
  }
  if (looksLikeRawQuote(bytes)) {
    return { format: "raw-quote", platform: "tdx", quote: bytes, eventLog: null, runtimeEvents: [], reportData: null, config: null, trailingBytes: 0 };
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
