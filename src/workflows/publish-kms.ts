/**
 * The verification a KMS identity must pass before it is published: the whole `verify` of the KMS module
 * (`verifyBootstrap`: certs-dir checklist when given, checks made while pulling, the quote's DCAP chain and
 * collateral, accepted TCB status, report_data binding of (caPubkey, k256Pubkey), event-log replay, the RPC
 * certificate's RA-TLS attestation when present), plus the publishing policy: a quote that verifies only
 * under a non-Intel (simulated) root passes only with the explicit `allowSimulatedRoot` override, and is
 * always reported as not genuine.
 */
import { getAddress } from "viem";

import type { Check, Collateral, TcbStatus } from "../dcap/types.js";
import type { Hex } from "../core/bytes.js";
import type { BootstrapInfo } from "../kms/bootstrap.js";
import type { Checklist } from "../kms/certs-dir.js";
import { verifyBootstrap, type BootstrapReport } from "../kms/verify.js";
import { ethAddress } from "../dstack/signatures.js";

export type GateInput = BootstrapInfo;

export interface GateOptions {
  collateral: Collateral;
  now: number;
  rootCaDer?: Uint8Array;
  accept: readonly TcbStatus[];
  /** Development only: publish a quote that verifies under a non-Intel (simulated) root. */
  allowSimulatedRoot?: boolean;
  /** The certs-dir checklist (when publishing from a certs dir). */
  certs?: Checklist | null;
  /** Checks made while pulling (TLS pin, GetMeta cross-checks). */
  sourceChecks?: Check[];
  /** The KMS's RPC certificate (DER), whose RA-TLS attestation is checked when present. */
  rpcCertDer?: Uint8Array;
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
  report: BootstrapReport;
}

export async function verifyForPublish(id: GateInput, opts: GateOptions): Promise<GateResult> {
  const report = await verifyBootstrap(id, {
    collateral: opts.collateral,
    now: opts.now,
    ...(opts.rootCaDer ? { rootCaDer: opts.rootCaDer } : {}),
    acceptedStatuses: opts.accept,
    requireEventLog: true,
    ...(opts.certs ? { certs: opts.certs } : {}),
    ...(opts.sourceChecks ? { sourceChecks: opts.sourceChecks } : {}),
    ...(opts.rpcCertDer ? { rpcCertDer: opts.rpcCertDer } : {}),
  });
  const kmsAddress = getAddress(ethAddress(id.k256Pubkey)) as Hex;
  const status = (report.quote?.status ?? null) as TcbStatus | null;
  const checks = [...report.checks];
  const base = { genuine: report.genuine, status, kmsAddress, report };
  if (!report.ok) {
    const first = report.checks.find((c) => !c.ok);
    const reason = first ? `${first.name}: ${first.detail}` : `verification failed (${report.failed.join(", ") || "no detail"})`;
    return { ok: false, ...base, checks, reason };
  }
  const allowed = report.genuine || opts.allowSimulatedRoot === true;
  checks.push({
    name: "publish.genuine",
    ok: allowed,
    detail: report.genuine
      ? "the quote chains to Intel's SGX Root CA"
      : `NOT GENUINE: the quote chains to a non-Intel root${opts.allowSimulatedRoot ? " (allowed by --allow-simulated-root)" : ""}`,
  });
  if (!allowed) {
    return {
      ok: false,
      ...base,
      checks,
      reason: "the quote verifies only under a non-Intel root CA (NOT GENUINE); pass --allow-simulated-root to publish it anyway (development only)",
    };
  }
  return { ok: true, ...base, checks };
}
