/**
 * The verification a KMS identity must pass before it is published: the quote (DCAP chain, collateral,
 * TCB status within the accepted set), the report_data binding of (caPubkey, k256Pubkey), and the event
 * log replaying to the quote's RTMRs. A quote verified under a non-Intel root (the simulator's) passes
 * only with the explicit `allowSimulatedRoot` override, and is always reported as not genuine.
 */
import { checkKmsBinding } from "../attestation/binding.js";
import { checkEventLog, type EventLogEntry } from "../attestation/eventlog.js";
import type { Check, Collateral, TcbStatus } from "../attestation/types.js";
import { parseQuote } from "../attestation/quote.js";
import { checkQuote } from "../attestation/verify.js";
import { getAddress } from "viem";
import type { Hex } from "../encoding/index.js";
import { ethAddress } from "./signatures.js";

export interface GateInput {
  caPubkey: Uint8Array;
  k256Pubkey: Uint8Array;
  quote: Uint8Array | null;
  eventLog: EventLogEntry[] | null;
}

export interface GateOptions {
  collateral: Collateral;
  now: number;
  rootCaDer?: Uint8Array;
  accept: readonly TcbStatus[];
  /** Development only: publish a quote that verifies under a non-Intel (simulated) root. */
  allowSimulatedRoot?: boolean;
}

export interface GateResult {
  ok: boolean;
  /** true only when the quote chains to Intel's pinned root. */
  genuine: boolean;
  status: TcbStatus | null;
  kmsAddress: Hex;
  checks: Check[];
  /** First failure, one line. */
  reason?: string;
}

export function verifyForPublish(id: GateInput, opts: GateOptions): GateResult {
  const checks: Check[] = [];
  const kmsAddress = getAddress(ethAddress(id.k256Pubkey)) as Hex;
  const fail = (reason: string, genuine = false, status: TcbStatus | null = null): GateResult => ({ ok: false, genuine, status, kmsAddress, checks, reason });
  if (!id.quote) {
    checks.push({ name: "quote.present", ok: false, detail: "the bootstrap info carries no quote" });
    return fail("the bootstrap info carries no quote (a KMS with quotes disabled cannot be published)");
  }
  const q = checkQuote(id.quote, { collateral: opts.collateral, now: opts.now, ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}) });
  if (!q.ok) {
    checks.push(...q.checks.map((c) => ({ ...c, name: `quote.${c.name.replace(/^quote\./, "")}` })));
    return fail(`quote verification failed: ${q.error.code}: ${q.error.message.split("\n")[0]}`);
  }
  const r = q.result;
  checks.push(...r.checks.map((c) => ({ ...c, name: `quote.${c.name.replace(/^quote\./, "")}` })));
  const accepted = opts.accept.includes(r.status);
  checks.push({ name: "quote.tcb-policy", ok: accepted, detail: accepted ? `${r.status} is accepted` : `${r.status} is not one of ${opts.accept.join(", ")}` });
  if (!accepted) return fail(`TCB status ${r.status} is not accepted (accepted: ${opts.accept.join(", ")})`, r.genuine, r.status);
  checks.push({
    name: "quote.genuine",
    ok: r.genuine || opts.allowSimulatedRoot === true,
    detail: r.genuine ? "chain ends at Intel's SGX Root CA" : `NOT GENUINE: chain ends at a non-Intel root${opts.allowSimulatedRoot ? " (allowed by --allow-simulated-root)" : ""}`,
  });
  if (!r.genuine && !opts.allowSimulatedRoot) {
    return fail("the quote verifies only under a non-Intel root CA (NOT GENUINE); pass --allow-simulated-root to publish it anyway (development only)", false, r.status);
  }
  const body = parseQuote(id.quote).body;
  const b = checkKmsBinding(body.reportData, id.caPubkey, id.k256Pubkey);
  checks.push({ name: "binding", ok: b.ok, detail: b.detail });
  if (!b.ok) return fail(`report_data binding: ${b.detail}`, r.genuine, r.status);
  if (!id.eventLog) {
    checks.push({ name: "eventlog", ok: false, detail: "no event log: the RTMRs cannot be replayed" });
    return fail("the bootstrap info carries no event log, so the quote's RTMRs cannot be checked", r.genuine, r.status);
  }
  if (body.type === "sgx") return fail("an SGX quote cannot attest a KMS CVM (expected TDX)", r.genuine, r.status);
  const rtmrs = [body.rtMr0, body.rtMr1, body.rtMr2, body.rtMr3];
  const ev = checkEventLog(id.eventLog, rtmrs);
  checks.push({
    name: "eventlog.rtmrs",
    ok: ev.rtmrsMatch,
    detail: ev.rtmrsMatch ? `${ev.eventCount} events replay to RTMR0–3` : `replay mismatch in RTMR ${ev.registers.filter((x) => !x.match).map((x) => x.index).join(", ")}`,
  });
  if (!ev.rtmrsMatch) return fail("the event log does not replay to the quote's RTMRs", r.genuine, r.status);
  return { ok: true, genuine: r.genuine, status: r.status, kmsAddress, checks };
}
