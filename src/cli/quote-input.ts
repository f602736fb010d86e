/**
 * What `verify-quote` is given: a TDX/SGX quote (binary, or hex text with or without 0x and any whitespace)
 * or a dstack versioned attestation that carries one (V0 SCALE / V1 msgpack, binary or hex), and an event log
 * (from `--eventlog FILE`, JSON text or its hex, else from the attestation) that is replayed against the
 * quote's RTMR0–3.
 */
import { hexToBytes } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import type { Quote } from "../dcap/quote.js";
import { decodeDstackAttestation, looksLikeRawQuote } from "../dstack/attestation.js";
import { checkEventLog, parseEventLog, type EventLogEntry } from "../dstack/eventlog.js";
import { readInputFile, type CliIO } from "./io.js";

export interface QuoteInput {
  /** The quote's bytes (unwrapped from the attestation when the input was one). */
  quote: Uint8Array;
  /** The attestation's format and platform when the input was a dstack attestation. */
  attestation: { format: string; platform: string } | null;
  /** Event log from --eventlog or from the attestation. */
  eventLog: EventLogEntry[] | null;
  eventLogSource: "file" | "attestation" | null;
}

/** Quote bytes from a file's content: binary as is, or hex text (with or without 0x, any whitespace). */
export function quoteBytesFromContent(content: Uint8Array): Uint8Array {
  if (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf) content = content.subarray(3); // UTF-8 BOM of a hex text file
  if (content.length === 0) throw new InputError("QUOTE_EMPTY", "the quote input is empty");
  // Hex text is printable ASCII only; a binary quote starts with a small little-endian version number.
  if (!isPrintableAscii(content)) return content;
  const firstChar = Buffer.from(content.subarray(0, 64)).toString("latin1").trimStart()[0];
  if (firstChar === "{" || firstChar === "[") {
    throw new InputError(
      "QUOTE_NOT_HEX",
      'the quote input is JSON, not a quote: pass the quote itself, binary or hex (e.g. from a dstack GetQuote answer: jq -r .quote FILE | kms-registry verify-quote - …)',
    );
  }
  const bytes = hexToBytes(Buffer.from(content).toString("latin1"), "quote (hex text)");
  if (bytes.length === 0) throw new InputError("QUOTE_EMPTY", "the quote input is empty (a text file without hex digits)");
  return bytes;
}

function isPrintableAscii(content: Uint8Array): boolean {
  for (const b of content) if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) return false;
  return true;
}

/** A dstack versioned attestation: V0 SCALE starts with 0x00, V1 msgpack with a map header. */
function isVersionedAttestation(bytes: Uint8Array): boolean {
  if (looksLikeRawQuote(bytes) || bytes.length === 0) return false;
  const b0 = bytes[0]!;
  return b0 === 0x00 || (b0 >= 0x80 && b0 <= 0x8f) || b0 === 0xde || b0 === 0xdf;
}

/**
 * Read the quote file (`-` = standard input), unwrap a versioned attestation, and read `--eventlog` when
 * given (it takes the place of the attestation's event log).
 */
export async function readQuoteInput(io: CliIO, quotePath: string, eventLogPath: string | undefined): Promise<QuoteInput> {
  const bytes = quoteBytesFromContent(await readInputFile(io, quotePath, "quote file", "quote"));
  const input: QuoteInput = { quote: bytes, attestation: null, eventLog: null, eventLogSource: null };
  if (isVersionedAttestation(bytes)) {
    const a = decodeDstackAttestation(bytes);
    input.quote = a.quote;
    input.attestation = { format: a.format, platform: a.platform };
    if (a.eventLog) {
      input.eventLog = a.eventLog;
      input.eventLogSource = "attestation";
    }
  }
  if (eventLogPath !== undefined) {
    input.eventLog = parseEventLog(await readInputFile(io, eventLogPath, "event log file", "eventLog"));
    input.eventLogSource = "file";
  }
  return input;
}

/** `eventlog: { rtmrsMatch, events, … }` for the output: the input's event log replayed against `quote`; null without one. */
export function eventLogJson(input: QuoteInput, quote: Quote): Record<string, unknown> | null {
  if (!input.eventLog) return null;
  if (quote.body.type === "sgx") return { rtmrsMatch: false, error: "an SGX quote has no RTMRs", events: [] };
  const b = quote.body;
  const c = checkEventLog(input.eventLog, [b.rtMr0, b.rtMr1, b.rtMr2, b.rtMr3]);
  return { rtmrsMatch: c.rtmrsMatch, source: input.eventLogSource, registers: c.registers, bootTimeRtmr3: c.bootTimeRtmr3, runtime: c.runtime, issues: c.issues, events: c.events };
}
