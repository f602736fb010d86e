/**
 * What a registered quote shows without collateral: its measurements (MRTD, RTMR0–3, TD attributes, XFAM,
 * MRCONFIGID, MROWNER…), the FMSPC of its PCK certificate, and whose root its certificate chain ends at
 * (the collateral-free checks of `verifyQuoteSignatures`: PCK chain, QE report, quote signature). An SEV-SNP
 * report shows its measurement, host_data, chip id, reported TCB, report_data and guest policy, and whose ARK
 * the VCEK and AMD chain it published end at (verified from that chain data: AMD's pinned ARK, or another one,
 * a test ARK, under which the rest is checked). An AWS Nitro Enclave document shows its module id, timestamp,
 * PCR0–2, os_image_hash and user_data, and whose root its own cabundle starts at (AWS's pinned Nitro Enclaves
 * Root-G1, or another one, a test root, under which the rest is checked). Text is never thrown: a quote that
 * does not parse is described by `error`.
 */
import { bytesToHex, type Hex } from "../core/bytes.js";
import { errorMessage, firstLine } from "../core/errors.js";
import { parseQuote, quotePckChain, type Quote } from "../dcap/quote.js";
import { parseSgxExtension } from "../dcap/sgx-extension.js";
import type { Check } from "../dcap/types.js";
import { QuoteVerificationError, verifyQuoteSignatures } from "../dcap/verify.js";
import { isDebugEnclave, nitroOsImageHash } from "../dstack/platforms/nitro-verify.js";
import { decodeNitroDocument, type NitroDocument } from "../dstack/platforms/nitro.js";
import { amdCertificatesFromFile, decodeTcb, sortAmdCertificates, type SnpTcb } from "../dstack/platforms/sev-snp-verify.js";
import { parseSnpReport, snpReportJson, type SnpReport } from "../dstack/platforms/sev-snp.js";
import type { RegistryPlatform } from "../registry/platforms.js";
import { reverifyRegistration, type RegistrationEvidence, type RegistrationVerdict } from "../registry/reverify.js";
import { commonName, parseCertificate } from "../dcap/x509.js";

/**
 * What the collateral-free checks say of the quote: signed under Intel's pinned root (`intel`), under another
 * (simulated or test) root (`other`: the chain ends elsewhere, or at `--root-ca`), a chain that ends at the
 * trusted root but a signature over the quote that does not verify (`invalid`), or not checkable (`unknown`).
 * `amd`: an SEV-SNP report chained to AMD's pinned ARK; `vendor`: another platform's evidence chained to its
 * vendor's pinned root.
 */
export type QuoteRoot = "intel" | "amd" | "vendor" | "other" | "invalid" | "unknown";

/** The fields of an SEV-SNP report a page shows. */
export interface SnpReportFields {
  version: number;
  /** The product the VCEK names (Milan, Genoa, Turin), when the chain was read. */
  product: string | null;
  measurement: Hex;
  hostData: Hex;
  chipId: Hex;
  /** reported_tcb (0x-hex u64) and its levels for the product. */
  reportedTcb: Hex;
  reportedTcbLevels: SnpTcb | null;
  reportData: Hex;
  policy: Hex;
  vmpl: number;
  guestSvn: number;
  familyId: Hex;
  imageId: Hex;
  idKeyDigest: Hex;
  /** The published VCEK's notAfter (ISO), when it was read. */
  vcekNotAfter: string | null;
}

/** The fields of an AWS Nitro Enclave attestation document a page shows. */
export interface NitroDocumentFields {
  moduleId: string;
  /** Milliseconds since the Unix epoch, as the document states it. */
  timestamp: number;
  digest: string;
  pcr0: Hex | null;
  pcr1: Hex | null;
  pcr2: Hex | null;
  /** How many PCRs the document carries. */
  pcrCount: number;
  /** sha256(PCR0 ‖ PCR1 ‖ PCR2): dstack's os_image_hash, the record's image measurement. */
  osImageHash: Hex;
  /** dstack's report_data. */
  userData: Hex | null;
  nonce: Hex | null;
  publicKey: Hex | null;
  /** PCR0–2 all zero: a debug-mode enclave. */
  debug: boolean;
  /** The common name of the cabundle's first certificate (the root it claims), when it reads. */
  rootName: string | null;
  cabundleLength: number;
}

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
  platform: RegistryPlatform;
  bytes: number;
  version: number | null;
  measurements: QuoteMeasurements | null;
  fmspc: Hex | null;
  /** SEV-SNP: the report's fields (null for TDX). */
  snp: SnpReportFields | null;
  /** AWS Nitro Enclave: the document's fields. */
  nitro?: NitroDocumentFields | null;
  /** Another platform's: the fields its re-verification from chain data read, as text. */
  fields?: Record<string, string> | null;
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
    return { platform: "tdx", bytes: bytes.length, version: null, measurements: null, fmspc: null, snp: null, root: "unknown", rootDetail: "the quote does not parse", signatureChecks: [], error: firstLine(errorMessage(e)) };
  }
  const base = { platform: "tdx" as const, bytes: bytes.length, version: q.header.version, measurements: measurementsOf(q), fmspc: fmspcOf(q), snp: null, error: q.body.type === "sgx" ? "an SGX quote, not a TD quote" : null };
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

function snpFields(r: SnpReport, verdict: RegistrationVerdict): SnpReportFields {
  const j = snpReportJson(r) as Record<string, Hex>;
  const product = typeof verdict.report?.product === "string" ? verdict.report.product : null;
  const notAfter = verdict.report?.vcekNotAfter;
  return {
    version: r.version,
    product,
    measurement: r.measurement,
    hostData: r.hostData,
    chipId: r.chipId,
    reportedTcb: j.reportedTcb!,
    reportedTcbLevels: product === "Milan" || product === "Genoa" || product === "Turin" ? decodeTcb(r.reportedTcb, product) : null,
    reportData: j.reportData!,
    policy: j.policy!,
    vmpl: r.vmpl,
    guestSvn: r.guestSvn,
    familyId: r.familyId,
    imageId: r.imageId,
    idKeyDigest: r.idKeyDigest,
    vcekNotAfter: typeof notAfter === "string" ? notAfter : null,
  };
}

/** The ARK (DER) at the end of a published AMD chain and its common name, when it can be read. */
function publishedArk(evidence: RegistrationEvidence["snpEvidence"]): { der: Uint8Array; cn: string } | undefined {
  if (!evidence) return undefined;
  try {
    const ark = sortAmdCertificates(amdCertificatesFromFile(Buffer.from(evidence.amdChain.slice(2), "hex"), "the published AMD chain"), "the published AMD chain").ark;
    return ark ? { der: ark, cn: commonName(parseCertificate(ark, "ARK").subject) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The details of a registered SEV-SNP report, from chain data alone (the VCEK and AMD chain it published, at
 * its block time): verified to AMD's pinned ARK of the product (`amd`, genuine); when the chain ends at another
 * ARK, verified under that ARK to tell a test-ARK registration whose report is otherwise sound (`other`, NOT
 * GENUINE) from one that fails (`invalid`); `unknown` when no evidence was published.
 */
export async function snpReportDetails(reg: RegistrationEvidence): Promise<QuoteDetails> {
  const bytes = reg.quote;
  let r: SnpReport;
  try {
    r = parseSnpReport(bytes);
  } catch (e) {
    return { platform: "sev-snp", bytes: bytes.length, version: null, measurements: null, fmspc: null, snp: null, root: "unknown", rootDetail: "the SEV-SNP report does not parse", signatureChecks: [], error: firstLine(errorMessage(e)) };
  }
  const pinned = await reverifyRegistration("sev-snp", reg, { accept: [] });
  const out = (verdict: RegistrationVerdict, root: QuoteRoot, rootDetail: string): QuoteDetails => ({
    platform: "sev-snp",
    bytes: bytes.length,
    version: r.version,
    measurements: null,
    fmspc: null,
    snp: snpFields(r, verdict),
    root,
    rootDetail,
    signatureChecks: verdict.steps,
    error: null,
  });
  if (!pinned.ran) return out(pinned, "unknown", pinned.summary);
  if (pinned.genuine === true) return out(pinned, "amd", pinned.summary);
  const ark = pinned.genuine === false ? publishedArk(reg.snpEvidence) : undefined;
  if (!ark) return out(pinned, "invalid", pinned.summary);
  const own = await reverifyRegistration("sev-snp", reg, { accept: [], rootCaDer: ark.der });
  const signed = own.steps.some((c) => c.name === "report.signature" && c.ok);
  return out(own, signed ? "other" : "invalid", `NOT GENUINE: the AMD chain it published ends at CN=${ark.cn}, not AMD's pinned ARK; under that ARK: ${own.summary}`);
}

function certName(der: Uint8Array | undefined): string | null {
  if (!der) return null;
  try {
    return commonName(parseCertificate(der, "certificate").subject);
  } catch {
    return null;
  }
}

function nitroFields(d: NitroDocument): NitroDocumentFields {
  const hex = (b: Uint8Array | null) => (b ? bytesToHex(b) : null);
  return {
    moduleId: d.moduleId,
    timestamp: d.timestamp,
    digest: d.digest,
    pcr0: d.pcrs["0"] ?? null,
    pcr1: d.pcrs["1"] ?? null,
    pcr2: d.pcrs["2"] ?? null,
    pcrCount: Object.keys(d.pcrs).length,
    osImageHash: `0x${nitroOsImageHash(d)}`,
    userData: hex(d.userData),
    nonce: hex(d.nonce),
    publicKey: hex(d.publicKey),
    debug: isDebugEnclave(d),
    rootName: certName(d.cabundle[0]),
    cabundleLength: d.cabundle.length,
  };
}

/**
 * The details of a registered AWS Nitro Enclave document, from chain data alone (the document, which carries its
 * certificate chain, at its own timestamp): verified to AWS's pinned Nitro Enclaves Root-G1 (`vendor`, genuine);
 * when its cabundle starts at another root, verified under that root to tell a test-root registration whose
 * document is otherwise sound (`other`, NOT GENUINE) from one that fails (`invalid`).
 */
export async function nitroDocumentDetails(reg: RegistrationEvidence): Promise<QuoteDetails> {
  const bytes = reg.quote;
  const base = { platform: "nitro-enclave" as const, bytes: bytes.length, version: null, measurements: null, fmspc: null, snp: null };
  let d: NitroDocument;
  try {
    d = decodeNitroDocument(bytes);
  } catch (e) {
    return { ...base, nitro: null, root: "unknown", rootDetail: "the Nitro attestation document does not decode", signatureChecks: [], error: firstLine(errorMessage(e)) };
  }
  const out = (verdict: RegistrationVerdict, root: QuoteRoot, rootDetail: string): QuoteDetails => ({ ...base, nitro: nitroFields(d), root, rootDetail, signatureChecks: verdict.steps, error: null });
  const pinned = await reverifyRegistration("nitro-enclave", reg, { accept: [] });
  if (pinned.genuine === true) return out(pinned, "vendor", pinned.summary);
  const first = d.cabundle[0];
  if (pinned.genuine !== false || !first) return out(pinned, "invalid", pinned.summary);
  const own = await reverifyRegistration("nitro-enclave", reg, { accept: [], rootCaDer: first });
  const signed = own.steps.some((c) => c.name === "cose.signature" && c.ok);
  return out(own, signed ? "other" : "invalid", `NOT GENUINE: its cabundle starts at CN=${certName(first) ?? "?"}, not AWS's pinned Nitro Enclaves Root-G1; under that root: ${own.summary}`);
}

/**
 * A registration of a platform the pages have no layout of their own for: the fields its re-verification from
 * chain data read (`reverifyRegistration`, under the platform's pinned vendor root) and whether it chained there
 * (`vendor`), elsewhere (`other`), failed (`invalid`), or could not be checked (`unknown`).
 */
export async function platformReportDetails(platform: RegistryPlatform, reg: RegistrationEvidence): Promise<QuoteDetails> {
  const v = await reverifyRegistration(platform, reg, { accept: [] });
  const root: QuoteRoot = !v.ran ? "unknown" : v.genuine === true ? "vendor" : v.genuine === false ? "other" : "invalid";
  const fields = v.report ? Object.fromEntries(Object.entries(v.report).map(([k, x]) => [k, typeof x === "string" ? x : JSON.stringify(x)])) : null;
  return { platform, bytes: reg.quote.length, version: null, measurements: null, fmspc: null, snp: null, fields, root, rootDetail: v.summary, signatureChecks: v.steps, error: null };
}
