/**
 * The RPC certificate's own attestation (RA-TLS): up to v0.5.8 a TDX KMS puts its
 * TDX quote in extension 1.3.6.1.4.1.62397.1.1 and the event-log JSON in …1.2 of `rpc.crt`; from
 * v0.5.9 a versioned attestation in …1.8. The quote's report_data is SHA-512("ratls-cert:" ‖ SPKI of
 * the certificate). Checking it proves the TLS key was made inside a TD — ideally the same TD image
 * as the bootstrap quote (same MRTD and RTMR0–2).
 */
import "reflect-metadata";

import { sha512 } from "@noble/hashes/sha2.js";
import * as x509 from "@peculiar/x509";

import { decodeDstackAttestation, tdxQuoteOf } from "./attestation.js";
import { checkEventLog, parseEventLog, type EventLogEntry } from "./eventlog.js";
import { bytesEqual, bytesToHex, concatBytes, utf8 } from "../core/bytes.js";
import { errorMessage, firstLine, InputError } from "../core/errors.js";
import { asQuote, parseQuote, type Quote, type TdReport10 } from "../dcap/quote.js";
import type { Check, Collateral } from "../dcap/types.js";
import { checkQuote } from "../dcap/verify.js";

/** dstack's private OID arc for RA-TLS certificate extensions. */
export const OID_DSTACK = "1.3.6.1.4.1.62397.1";
/** The raw TDX quote of the certificate's key. */
export const OID_TDX_QUOTE = `${OID_DSTACK}.1`;
/** The event log that goes with that quote. */
export const OID_EVENT_LOG = `${OID_DSTACK}.2`;
/** dstack's special-usage marker. */
export const OID_SPECIAL_USAGE = `${OID_DSTACK}.4`;
/** A versioned attestation (quote and event log in one container). */
export const OID_VERSIONED_ATTESTATION = `${OID_DSTACK}.8`;

/** Unwrap the DER OCTET STRING dstack puts inside each private extension value. */
function octets(value: Uint8Array, what: string): Uint8Array {
  if (value[0] !== 0x04 || value.length < 2) throw new InputError("RATLS_EXTENSION_MALFORMED", `${what}: not an OCTET STRING`);
  let len = value[1]!;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4 || value.length < 2 + n) throw new InputError("RATLS_EXTENSION_MALFORMED", `${what}: bad length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + value[2 + i]!;
    off = 2 + n;
  }
  if (off + len !== value.length) throw new InputError("RATLS_EXTENSION_MALFORMED", `${what}: length ${len} does not match ${value.length - off} content bytes`);
  return value.subarray(off);
}

export interface RpcCertAttestation {
  kind: "quote+eventlog" | "versioned";
  quote: Uint8Array;
  eventLog: EventLogEntry[] | null;
  spki: Uint8Array;
}

/** Extract the attestation embedded in an RPC certificate (DER), or null when it carries none. */
export function rpcCertAttestation(certDer: Uint8Array): RpcCertAttestation | null {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certDer);
  } catch (e) {
    throw new InputError("RATLS_CERT_INVALID", `RPC certificate does not parse: ${errorMessage(e)}`);
  }
  const spki = new Uint8Array(cert.publicKey.rawData);
  const ext = (oid: string) => {
    const e = cert.getExtension(oid);
    return e ? octets(new Uint8Array(e.value), `extension ${oid}`) : null;
  };
  const v = ext(OID_VERSIONED_ATTESTATION);
  if (v) {
    const a = decodeDstackAttestation(v);
    return { kind: "versioned", quote: tdxQuoteOf(a), eventLog: a.eventLog, spki };
  }
  const q = ext(OID_TDX_QUOTE);
  if (!q) return null;
  const el = ext(OID_EVENT_LOG);
  return { kind: "quote+eventlog", quote: q, eventLog: el && el.length ? parseEventLog(el) : null, spki };
}

export function ratlsReportData(spki: Uint8Array): Uint8Array {
  return sha512(concatBytes(utf8("ratls-cert:"), spki));
}

export interface RpcCertOptions {
  /** Collateral for the embedded quote (the bootstrap quote's); without it the quote itself is not verified. */
  collateral: Collateral | null;
  now: number;
  rootCaDer?: Uint8Array;
  /** The bootstrap quote (bytes or parsed): the certificate's quote must come from the same TD image. */
  bootstrapQuote?: Uint8Array | Quote | null;
}

export interface RpcCertCheck {
  /** False when the certificate carries no attestation extension: then `checks` is the one failed `rpc-cert.attestation`. */
  attested: boolean;
  checks: Check[];
}

/**
 * Check the RPC certificate's attestation: the quote verifies (same collateral/root as the bootstrap
 * quote), its report_data binds the certificate's key, its event log replays, and it ran the same TD
 * image as `bootstrapQuote` (MRTD, RTMR0–2). Never throws for a failed check.
 */
export function checkRpcCert(certDer: Uint8Array, opts: RpcCertOptions): RpcCertCheck {
  let att: RpcCertAttestation | null;
  try {
    att = rpcCertAttestation(certDer);
  } catch (e) {
    return { attested: true, checks: [{ name: "rpc-cert.attestation", ok: false, detail: errorMessage(e) }] };
  }
  if (!att) return { attested: false, checks: [{ name: "rpc-cert.attestation", ok: false, detail: "the RPC certificate carries no attestation extension (…62397.1.1 or …1.8)" }] };
  let quote: Quote;
  try {
    quote = parseQuote(att.quote);
    if (quote.body.type === "sgx") throw new InputError("RATLS_NOT_TDX", "not a TDX quote");
  } catch (e) {
    return { attested: true, checks: [{ name: "rpc-cert.attestation", ok: false, detail: `embedded quote: ${errorMessage(e)}` }] };
  }
  const body = quote.body as TdReport10;
  const checks: Check[] = [{ name: "rpc-cert.attestation", ok: true, detail: `${att.kind} extension, ${att.quote.length}-byte TDX quote` }];
  if (opts.collateral) checks.push(embeddedQuoteCheck(quote, opts.collateral, opts));
  checks.push(reportDataCheck(body, att.spki));
  if (att.eventLog) checks.push(eventLogCheck(body, att.eventLog));
  if (opts.bootstrapQuote) checks.push(...sameImageCheck(body, opts.bootstrapQuote));
  return { attested: true, checks };
}

/** `checkRpcCert`'s checks. */
export async function checkRpcCertAttestation(certDer: Uint8Array, opts: RpcCertOptions): Promise<Check[]> {
  return checkRpcCert(certDer, opts).checks;
}

function embeddedQuoteCheck(quote: Quote, collateral: Collateral, opts: RpcCertOptions): Check {
  const out = checkQuote(quote, { collateral, now: opts.now, ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}) });
  return { name: "rpc-cert.quote", ok: out.ok, detail: out.ok ? `verifies (${out.result.status}${out.result.genuine ? "" : ", NOT GENUINE"})` : `${out.error.code}: ${firstLine(out.error.message)}` };
}

function reportDataCheck(body: TdReport10, spki: Uint8Array): Check {
  const bound = bytesEqual(body.reportData, ratlsReportData(spki));
  return { name: "rpc-cert.report-data", ok: bound, detail: bound ? 'report_data = SHA-512("ratls-cert:" ‖ certificate SPKI)' : `report_data ${bytesToHex(body.reportData).slice(0, 18)}… does not bind the certificate's key` };
}

function eventLogCheck(body: TdReport10, eventLog: EventLogEntry[]): Check {
  const c = checkEventLog(eventLog, [body.rtMr0, body.rtMr1, body.rtMr2, body.rtMr3]);
  return { name: "rpc-cert.eventlog", ok: c.rtmrsMatch, detail: c.rtmrsMatch ? "event log replays to RTMR0–3" : `RTMRs ${c.registers.filter((r) => !r.match).map((r) => r.index).join(", ")} do not replay` };
}

/** MRTD and RTMR0–2 equal the bootstrap quote's; nothing when that quote is unusable (its own problems are reported elsewhere). */
function sameImageCheck(body: TdReport10, bootstrapQuote: Uint8Array | Quote): Check[] {
  let same: boolean;
  try {
    const b = asQuote(bootstrapQuote).body as TdReport10;
    same = bytesEqual(b.mrTd, body.mrTd) && bytesEqual(b.rtMr0, body.rtMr0) && bytesEqual(b.rtMr1, body.rtMr1) && bytesEqual(b.rtMr2, body.rtMr2);
  } catch {
    return [];
  }
  return [{ name: "rpc-cert.same-image", ok: same, detail: same ? "MRTD and RTMR0–2 equal the bootstrap quote's" : "MRTD/RTMR0–2 differ from the bootstrap quote's (another TD image)" }];
}
