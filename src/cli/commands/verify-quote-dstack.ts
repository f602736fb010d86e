/**
 * dstack additions to `verify-quote` (issue #4): accept a dstack versioned attestation (V0 SCALE /
 * V1 msgpack, binary or hex) in place of a bare quote, and `--eventlog FILE` (event-log JSON text or
 * its hex) replayed against the quote's RTMRs. Kept apart so verify-quote.ts needs only small edits.
 */
import type { CommandContext } from "../framework.js";
import { optString } from "../framework.js";

export interface DstackQuoteInput {
  quote: Uint8Array;
  attestation: { format: string; platform: string } | null;
  /** Event log from --eventlog or from the attestation. */
  eventLog: import("../../dstack/eventlog.js").EventLogEntry[] | null;
  eventLogSource: "file" | "attestation" | null;
}

/** Unwrap a versioned attestation when the input is one; read `--eventlog` when given. */
export async function dstackQuoteInput(ctx: CommandContext, bytes: Uint8Array, readFile: (path: string) => Promise<Uint8Array>): Promise<DstackQuoteInput> {
  const { decodeDstackAttestation, looksLikeRawQuote } = await import("../../dstack/attestation.js");
  const out: DstackQuoteInput = { quote: bytes, attestation: null, eventLog: null, eventLogSource: null };
  if (!looksLikeRawQuote(bytes) && bytes.length > 0) {
    const b0 = bytes[0]!;
    if (b0 === 0x00 || (b0 >= 0x80 && b0 <= 0x8f) || b0 === 0xde || b0 === 0xdf) {
      const a = decodeDstackAttestation(bytes);
      out.quote = a.quote;
      out.attestation = { format: a.format, platform: a.platform };
      if (a.eventLog) {
        out.eventLog = a.eventLog;
        out.eventLogSource = "attestation";
      }
    }
  }
  const path = optString(ctx, "eventlog");
  if (path !== undefined) {
    const { parseEventLog } = await import("../../dstack/eventlog.js");
    out.eventLog = parseEventLog(await readFile(path));
    out.eventLogSource = "file";
  }
  return out;
}

/** `eventlog: { rtmrsMatch, events, … }` for the JSON output, or null without an event log. */
export async function eventLogJson(input: DstackQuoteInput): Promise<Record<string, unknown> | null> {
  if (!input.eventLog) return null;
  const { parseQuote } = await import("../../dcap/quote.js");
  const { checkEventLog } = await import("../../dstack/eventlog.js");
  const q = parseQuote(input.quote);
  if (q.body.type === "sgx") return { rtmrsMatch: false, error: "an SGX quote has no RTMRs", events: [] };
  const b = q.body;
  const c = checkEventLog(input.eventLog, [b.rtMr0, b.rtMr1, b.rtMr2, b.rtMr3]);
  return { rtmrsMatch: c.rtmrsMatch, source: input.eventLogSource, registers: c.registers, bootTimeRtmr3: c.bootTimeRtmr3, runtime: c.runtime, issues: c.issues, events: c.events };
}
