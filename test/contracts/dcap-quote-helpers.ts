/**
 * The TypeScript side of the on-chain quote verifier's differential tests: what TdxQuote.parse and the
 * QuoteSignatures steps must answer for a quote, computed with src/dcap (parseQuote, checkQuoteHeader,
 * checkQeReport, checkQuoteSignature), and the harness's answer decoded the same way.
 */
import { readFileSync } from "node:fs";

import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type Hex } from "viem";

import { bytesToHex } from "../../src/core/bytes.js";
import { parseQuote, QuoteParseError, quotePckChain, TEE_TYPE_TDX, type Quote } from "../../src/dcap/quote.js";
import { checkQeReport, checkQuoteHeader, checkQuoteSignature, type Run, type StepRunner } from "../../src/dcap/verify-steps.js";
import type { Certificate } from "../../src/dcap/x509.js";
import type { Check } from "../../src/dcap/types.js";

/** TdxQuote.Field, in declaration order: the TypeScript parser's field names. */
export const FIELDS = [
  "header",
  "body_descriptor.body_type",
  "body_descriptor.body_size",
  "body (SGX enclave report)",
  "body (TD 1.0 report)",
  "body (TD 1.5 report)",
  "signature_data_length",
  "signature_data",
  "quote_signature",
  "attestation_key",
  "certification_data.type",
  "certification_data.size",
  "certification_data",
  "qe_report",
  "qe_report_signature",
  "qe_auth_data.size",
  "qe_auth_data",
  "pck_cert_data.type",
  "pck_cert_data.size",
  "pck_cert_data",
] as const;

/** An outcome: accepted, or the custom error (name and the arguments both sides can state). */
export interface Outcome {
  error?: string;
  args?: readonly (number | string)[];
  /** The step the outcome belongs to: parse, quote.header, tdx, qe-report.signature, qe-report.binding, quote.signature. */
  step: string;
}

const u16 = (q: Uint8Array, o: number): number => q[o]! | (q[o + 1]! << 8);
const u32 = (q: Uint8Array, o: number): number => (q[o]! | (q[o + 1]! << 8) | (q[o + 2]! << 16)) + q[o + 3]! * 0x1000000;

/** What TdxQuote.parse must do with `q`, from parseQuote and checkQuoteHeader. */
export function expectedParse(q: Uint8Array): { outcome: Outcome; quote?: Quote } {
  let quote: Quote;
  try {
    quote = parseQuote(q);
  } catch (e) {
    if (!(e instanceof QuoteParseError)) throw e;
    return { outcome: { step: "parse", ...parseErrorOutcome(q, e) } };
  }
  const h = quote.header;
  let headerFailed = false;
  try {
    checkQuoteHeader(runOf(quote));
  } catch {
    headerFailed = true;
  }
  const vendorOk = bytesToHex(h.qeVendorId) === "0x939a7233f79c4ca9940a0db3957f0607";
  let outcome: Outcome;
  if (!vendorOk) outcome = { step: "quote.header", error: "QuoteVendorNotIntel", args: [bytesToHex(h.qeVendorId)] };
  else if (h.attestationKeyType !== 2) outcome = { step: "quote.header", error: "QuoteAttestationKeyTypeUnsupported", args: [h.attestationKeyType] };
  else if (h.teeType !== TEE_TYPE_TDX) outcome = { step: "tdx", error: "QuoteNotTdx", args: [h.teeType] };
  else outcome = { step: "parse" };
  // the TypeScript header step refuses exactly the quotes this model refuses at quote.header, or non-TDX ones
  if (headerFailed && outcome.error === undefined) throw new Error("checkQuoteHeader refused a quote the model accepts");
  if (!headerFailed && outcome.step === "quote.header") throw new Error("checkQuoteHeader accepted a quote the model refuses");
  return { outcome, quote };
}

function parseErrorOutcome(q: Uint8Array, e: QuoteParseError): { error: string; args: (number | string)[] } {
  const f = FIELDS.indexOf(e.field as (typeof FIELDS)[number]);
  switch (e.code) {
    case "QUOTE_TRUNCATED":
      return { error: "QuoteTruncated", args: [f, e.offset] };
    case "QUOTE_LENGTH_TOO_LARGE":
      return { error: "QuoteLengthTooLarge", args: [f, e.offset, u32(q, e.offset)] };
    case "QUOTE_LENGTH_PAST_END":
      return { error: "QuoteLengthPastEnd", args: [f, e.offset, e.field === "qe_auth_data" ? u16(q, e.offset - 2) : u32(q, e.offset - 4)] };
    case "QUOTE_BODY_SIZE_MISMATCH":
      return { error: "QuoteBodySizeMismatch", args: [u16(q, 48), u32(q, 50)] };
    case "QUOTE_UNSUPPORTED_CERT_TYPE":
      return { error: "QuoteUnsupportedCertType", args: [u16(q, e.offset)] };
    case "QUOTE_UNSUPPORTED":
      if (e.field === "header.version") return { error: "QuoteUnsupportedVersion", args: [u16(q, 0)] };
      if (e.field === "header.tee_type") return { error: "QuoteUnsupportedTeeType", args: [u32(q, 4)] };
      if (e.field === "body_descriptor.body_type") return { error: "QuoteUnsupportedBodyType", args: [u16(q, 48)] };
  }
  throw new Error(`no on-chain counterpart for ${e.code} ${e.field}`);
}

/** A Run over `quote` whose steps only record (what checkQuoteHeader / checkQeReport / checkQuoteSignature need). */
export function runOf(quote: Quote): Run {
  const checks: Check[] = [];
  const steps: StepRunner = {
    checks,
    run(name, _code, fn) {
      const [v, detail] = fn();
      checks.push({ name, ok: true, detail });
      return v;
    },
  };
  return { quote, tdx: quote.header.teeType === TEE_TYPE_TDX, steps } as unknown as Run;
}

/** The TypeScript signature steps, each on its own (true = passes). */
export function expectedSignatureSteps(quote: Quote, leaf: Certificate): { qeReportSignature: boolean; qeReportBinding: boolean; quoteSignature: boolean } {
  const qeRun = runOf(quote);
  try {
    checkQeReport(qeRun, leaf);
  } catch {
    // checkQeReport runs qe-report.signature, then qe-report.binding
  }
  const passed = new Set(qeRun.steps.checks.map((c) => c.name));
  let qeReportBinding = passed.has("qe-report.binding");
  if (!passed.has("qe-report.signature")) {
    // the binding step did not run: run it with the signature step satisfied by the quote's own QE report
    qeReportBinding = bindingOnly(quote);
  }
  let quoteSignature = true;
  try {
    checkQuoteSignature(runOf(quote));
  } catch {
    quoteSignature = false;
  }
  return { qeReportSignature: passed.has("qe-report.signature"), qeReportBinding, quoteSignature };
}

/** qe-report.binding alone: checkQeReport on a run whose step runner skips qe-report.signature. */
function bindingOnly(quote: Quote): boolean {
  const run = runOf(quote);
  const steps = run.steps;
  const wrapped: StepRunner = {
    checks: steps.checks,
    run(name, code, fn) {
      if (name === "qe-report.signature") return undefined as never;
      return steps.run(name, code, fn);
    },
  };
  try {
    checkQeReport({ ...run, steps: wrapped }, { spki: new Uint8Array(0) } as unknown as Certificate);
    return true;
  } catch {
    return false;
  }
}

/** The full expected outcome of harness.verify(q, pck) (parse, then the three steps in TypeScript order). */
export function expectedVerify(q: Uint8Array, leaf: Certificate): Outcome {
  const { outcome, quote } = expectedParse(q);
  if (outcome.error || !quote) return outcome;
  const s = expectedSignatureSteps(quote, leaf);
  if (!s.qeReportSignature) return { step: "qe-report.signature", error: "QeReportSignatureInvalid", args: [] };
  if (!s.qeReportBinding) return { step: "qe-report.binding", error: "QeReportBindingMismatch", args: [] };
  if (!s.quoteSignature) return { step: "quote.signature", error: "QuoteSignatureInvalid", args: [] };
  return { step: "accepted" };
}

/** The PCK leaf certificate of a quote's PEM chain and its public key (x, y). */
export function pckLeaf(q: Uint8Array): { leaf: Certificate; x: Hex; y: Hex } {
  const leaf = quotePckChain(parseQuote(q))[0]!;
  const point = leaf.spki.subarray(leaf.spki.length - 64);
  return { leaf, x: bytesToHex(point.subarray(0, 32)), y: bytesToHex(point.subarray(32)) };
}

/** The custom error of a reverted harness call, decoded with `abi`; throws for anything else (a panic, no data). */
export function decodeRevert(error: unknown, abi: Abi): { error: string; args: readonly (number | string)[] } {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      return { error: reverted.data.errorName, args: normalise(reverted.data.args ?? []) };
    }
    const seen = new Set<unknown>();
    for (let e: unknown = error; e && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
      seen.add(e);
      const data = (e as { data?: unknown }).data;
      if (typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data)) {
        const d = decodeErrorResult({ abi, data: data as Hex });
        return { error: d.errorName, args: normalise(d.args ?? []) };
      }
    }
  }
  throw error;
}

function normalise(args: readonly unknown[]): (number | string)[] {
  return args.map((a) => (typeof a === "bigint" ? Number(a) : typeof a === "number" ? a : String(a).toLowerCase()));
}

/** Real quotes: TDX v4 (three sources, one from a dstack-lite guest), v5/TD15, and SGX v3 (two). */
export function realQuotes(): { name: string; bytes: Uint8Array }[] {
  const file = (rel: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/dcap/${rel}`, import.meta.url)));
  const out = [
    { name: "tdx_quote", bytes: file("tdx_quote") },
    { name: "sgx_quote", bytes: file("sgx_quote") },
  ];
  for (const n of ["qvl_near_v4", "auto_forge_v4_0625", "gtg_v5_td15_2602", "auto_forge_v3_sgx_0825"]) {
    out.push({ name: n, bytes: file(`real/${n}.quote`) });
  }
  const lite = JSON.parse(new TextDecoder().decode(file("tdx-lite-getquote.json"))) as { quote: string };
  out.push({ name: "tdx-lite-getquote", bytes: new Uint8Array(Buffer.from(lite.quote.replace(/^0x/, ""), "hex")) });
  return out;
}
