/**
 * What `verify-quote` is given: a TDX/SGX quote (binary, or hex text with or without 0x and any whitespace),
 * a dstack versioned attestation (V0 SCALE / V1 msgpack, binary or hex) of any platform, a raw SEV-SNP report
 * or a raw AWS Nitro COSE_Sign1 document (each told apart by its shape), and an event log
 * (from `--eventlog FILE`, JSON text or its hex, else from the attestation) that is replayed against the
 * quote's RTMR0–3.
 */
import { bytesToHex, hexToBytes } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import type { Quote } from "../dcap/quote.js";
import { configOsImageHash, decodeDstackAttestation, looksLikeRawQuote, looksLikeVersionedAttestation, platformNotSupported, type DstackAttestation, type PlatformNotSupportedError } from "../dstack/attestation.js";
import { decodeNitroDocument, looksLikeCoseSign1, nitroReportJson } from "../dstack/platforms/nitro.js";
import { looksLikeSnpReport, parseSnpReport, snpReportJson } from "../dstack/platforms/sev-snp.js";
import { checkEventLog, parseEventLog, type EventLogEntry } from "../dstack/eventlog.js";
import { readInputFile, type CliIO } from "./io.js";

export interface QuoteInput {
  /** The TDX/SGX quote's bytes (unwrapped from the attestation when the input was one); the platform's evidence when `unsupported`. */
  quote: Uint8Array;
  /** What the input is: `tdx`, `sgx` (a quote's TEE type), `gcp-tdx`, `sev-snp`, `nitro-enclave`, `aws-nitro-tpm`, an attestation's unknown kind, or `unknown`. */
  platform: string;
  /** The attestation's format, version and platform (and what it carries besides the quote) when the input was a dstack attestation. */
  attestation: Record<string, unknown> | null;
  /** A platform whose verification is not supported yet: its decoded fields (`report`, with `reportData`) and the error to report. */
  unsupported: { report: Record<string, unknown>; error: PlatformNotSupportedError } | null;
  /** AWS Nitro Enclave evidence: the COSE_Sign1 document and, from an attestation, the report_data its user_data must equal. */
  nitro: { document: Uint8Array; reportData: Uint8Array | null; configOsImageHash?: string } | null;
  /** SEV-SNP evidence: the 1184-byte report and the attestation's cert_chain blobs (empty for a raw report). */
  snp: { report: Uint8Array; certChain: Uint8Array[] } | null;
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

/** A raw quote's platform from its header's TEE type (0 SGX, 0x81 TDX). */
function quotePlatform(bytes: Uint8Array): string {
  if (!looksLikeRawQuote(bytes)) return "unknown";
  const tee = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  return tee === 0x81 ? "tdx" : tee === 0 ? "sgx" : "unknown";
}

const FORMAT_NAMES: Record<string, string> = { "v0-scale": "V0 SCALE", "v1-msgpack": "V1 msgpack", "raw-quote": "raw quote" };

/** The `attestation` object of the output: format, version, platform, the stack's kind and report_data, and a GCP TPM quote's presence. */
function attestationJson(a: DstackAttestation): Record<string, unknown> {
  return {
    format: a.format,
    version: a.version,
    platform: a.platform,
    ...(a.stack ? { stack: { kind: a.stack.kind, reportData: bytesToHex(a.stack.reportData), runtimeEvents: a.stack.runtimeEvents.length } } : {}),
    ...(a.platform === "gcp-tdx" ? { tpmQuote: a.tpmQuote ? { present: true, verified: false, pcrs: a.tpmQuote.pcrValues.map((p) => p.index) } : { present: false } } : {}),
  };
}

/** The decoded fields of evidence this tool cannot verify yet (`reportData` for every platform). */
function unsupportedReport(platform: string, evidence: Uint8Array, a: DstackAttestation | null): Record<string, unknown> {
  if (platform === "sev-snp") {
    const snp = a?.snp ? { certChain: a.snp.certChain.length, mrConfig: a.snp.mrConfig } : {};
    return { ...snpReportJson(parseSnpReport(evidence)), ...snp };
  }
  if (platform === "nitro-enclave" || platform === "aws-nitro-tpm") {
    const d = decodeNitroDocument(evidence);
    return { kind: d.kind, ...nitroReportJson(d) };
  }
  return { reportData: a?.stack ? bytesToHex(a.stack.reportData) : null };
}

/**
 * Read the quote file (`-` = standard input), tell what it is (a TDX/SGX quote, a dstack attestation of
 * any platform, a raw SEV-SNP report, a raw Nitro COSE_Sign1 document), unwrap a TDX quote from an
 * attestation, and read `--eventlog` when given (it takes the place of the attestation's event log).
 */
export async function readQuoteInput(io: CliIO, quotePath: string, eventLogPath: string | undefined): Promise<QuoteInput> {
  const bytes = quoteBytesFromContent(await readInputFile(io, quotePath, "quote file", "quote"));
  const input: QuoteInput = { quote: bytes, platform: quotePlatform(bytes), attestation: null, unsupported: null, nitro: null, snp: null, eventLog: null, eventLogSource: null };
  // a COSE_Sign1 array header (0x84) is also a msgpack fixmap header: tell them apart first (a COSE
  // document's first item is a CBOR byte string, a V1 attestation's first key a msgpack string)
  if (looksLikeCoseSign1(bytes)) {
    const report = unsupportedReport("nitro-enclave", bytes, null);
    input.platform = String(report.kind);
    input.unsupported = { report, error: platformNotSupported(input.platform, "the input (a raw Nitro COSE_Sign1 document)") };
    if (input.platform === "nitro-enclave") input.nitro = { document: bytes, reportData: null };
  } else if (looksLikeVersionedAttestation(bytes)) {
    const a = decodeDstackAttestation(bytes);
    input.platform = a.platform;
    input.attestation = attestationJson(a);
    if (a.quote) {
      input.quote = a.quote;
      if (a.eventLog) {
        input.eventLog = a.eventLog;
        input.eventLogSource = "attestation";
      }
    } else {
      input.quote = a.evidence;
      input.unsupported = { report: unsupportedReport(a.platform, a.evidence, a), error: platformNotSupported(a.platform, `the input (${FORMAT_NAMES[a.format] ?? a.format} attestation)`) };
      if (a.platform === "sev-snp") input.snp = { report: a.evidence, certChain: a.snp?.certChain ?? [] };
      if (a.platform === "nitro-enclave") {
        const osImageHash = configOsImageHash(a.config);
        input.nitro = { document: a.evidence, reportData: a.reportData, ...(osImageHash !== undefined ? { configOsImageHash: osImageHash } : {}) };
      }
    }
  } else if (looksLikeSnpReport(bytes)) {
    input.platform = "sev-snp";
    input.unsupported = { report: unsupportedReport("sev-snp", bytes, null), error: platformNotSupported("sev-snp", "the input (a raw SEV-SNP report)") };
    input.snp = { report: bytes, certChain: [] };
  }
  if (input.unsupported) return input;
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
