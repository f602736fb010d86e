/**
 * What a registered quote shows without collateral: its measurements (MRTD, RTMR0–3, TD attributes, XFAM,
 * MRCONFIGID, MROWNER…), the FMSPC of its PCK certificate, and whose root its certificate chain ends at
 * (the collateral-free checks of `verifyQuoteSignatures`: PCK chain, QE report, quote signature). Text is
 * never thrown: a quote that does not parse is described by `error`.
 */
import { bytesToHex, type Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { parseQuote, quotePckChain, type Quote } from "../dcap/quote.js";
import { parseSgxExtension } from "../dcap/sgx-extension.js";
import type { Check } from "../dcap/types.js";
import { QuoteVerificationError, verifyQuoteSignatures } from "../dcap/verify.js";

/**
 * What the collateral-free checks say of the quote: signed under Intel's pinned root (`intel`), under another
 * (simulated or test) root (`other`: the chain ends elsewhere, or at `--root-ca`), a chain that ends at the
 * trusted root but a signature over the quote that does not verify (`invalid`), or not checkable (`unknown`).
 */
export type QuoteRoot = "intel" | "other" | "invalid" | "unknown";

export interface QuoteMeasurements {
  reportType: "td10" | "td15";
  mrTd: Hex;
  rtMr0: Hex;
  rtMr1: Hex;
  rtMr2: Hex;
  rtMr3: Hex;
  tdAttributes: Hex;
  xfam: Hex;
  mrConfigId: Hex;
  mrOwner: Hex;
  mrOwnerConfig: Hex;
  mrSeam: Hex;
  teeTcbSvn: Hex;
  reportData: Hex;
}

export interface QuoteDetails {
  bytes: number;
  version: number | null;
  measurements: QuoteMeasurements | null;
  fmspc: Hex | null;
  root: QuoteRoot;
  /** One line: why `root` is what it is. */
  rootDetail: string;
  /** The collateral-free checks, in order (the failing one last). */
  signatureChecks: Check[];
  /** Set when the quote does not parse or is not a TD quote. */
  error: string | null;
}

function measurementsOf(q: Quote): QuoteMeasurements | null {
  const b = q.body;
  if (b.type === "sgx") return null;
  return {
    reportType: b.type,
    mrTd: bytesToHex(b.mrTd),
    rtMr0: bytesToHex(b.rtMr0),
    rtMr1: bytesToHex(b.rtMr1),
    rtMr2: bytesToHex(b.rtMr2),
    rtMr3: bytesToHex(b.rtMr3),
    tdAttributes: bytesToHex(b.tdAttributes),
    xfam: bytesToHex(b.xfam),
    mrConfigId: bytesToHex(b.mrConfigId),
    mrOwner: bytesToHex(b.mrOwner),
    mrOwnerConfig: bytesToHex(b.mrOwnerConfig),
    mrSeam: bytesToHex(b.mrSeam),
    teeTcbSvn: bytesToHex(b.teeTcbSvn),
    reportData: bytesToHex(b.reportData),
  };
}

function fmspcOf(q: Quote): Hex | null {
  try {
    const leaf = quotePckChain(q)[0];
    return leaf ? bytesToHex(parseSgxExtension(leaf).fmspc) : null;
  } catch {
    return null;
  }
}

/** The details of one quote, checked at `now` (unix seconds) against Intel's root or `rootCaDer`. */
export function quoteDetails(bytes: Uint8Array, now: number, rootCaDer?: Uint8Array): QuoteDetails {
  let q: Quote;
  try {
    q = parseQuote(bytes);
  } catch (e) {
    return { bytes: bytes.length, version: null, measurements: null, fmspc: null, root: "unknown", rootDetail: "the quote does not parse", signatureChecks: [], error: firstLine(errorMessage(e)) };
  }
  const base = { bytes: bytes.length, version: q.header.version, measurements: measurementsOf(q), fmspc: fmspcOf(q), error: q.body.type === "sgx" ? "an SGX quote, not a TD quote" : null };
  try {
    const r = verifyQuoteSignatures(q, { now, ...(rootCaDer ? { rootCaDer } : {}) });
    return {
      ...base,
      root: r.genuine ? "intel" : "other",
      rootDetail: r.genuine ? "PCK chain ends at Intel's SGX Root CA; QE report and quote signatures verify" : "PCK chain ends at the --root-ca root, not Intel's (simulated or test quote); signatures verify",
      signatureChecks: r.checks,
    };
  } catch (e) {
    const checks = e instanceof QuoteVerificationError ? e.checks : [];
    const failed = checks.find((c) => !c.ok);
    const chainOk = checks.some((c) => c.name === "pck.chain" && c.ok);
    const why = firstLine(errorMessage(e));
    if (chainOk) {
      // the chain is Intel's (or the given root's), but a signature over the quote does not verify
      const rootName = rootCaDer ? "the --root-ca root" : "Intel's SGX Root CA";
      return { ...base, root: "invalid", rootDetail: `PCK chain ends at ${rootName}, but ${failed?.name ?? "a check"} fails: ${why}`, signatureChecks: checks };
    }
    return { ...base, root: failed?.name === "pck.chain" ? "other" : "unknown", rootDetail: `${failed?.name ?? "verification"} fails: ${why}`, signatureChecks: checks };
  }
}
