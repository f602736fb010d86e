/**
 * What `watch` reports: one finding per thing worth knowing (a registration and its re-verification, an audit
 * anomaly, a warning before trouble, a retraction after a reorg), in a stable JSON shape. A finding's id is a
 * hash of what it is about (the chain, the registry, its kind, its subject and the hash of the block it comes
 * from), so the same finding always has the same id: after a restart, an RPC outage or a replay nothing is
 * reported twice under another id, and a consumer can drop repeats by id.
 */
import { createHash } from "node:crypto";

import type { Hex } from "../core/bytes.js";
import { oneLine } from "../core/sanitize.js";

export const FINDING_SCHEMA = "kms-registry.watch.finding/1";

export type Severity = "info" | "warning" | "critical";

/** Kinds that are not audit anomalies (those keep the audit's names, e.g. `binding-mismatch`). */
export type WatchKind =
  | "registered"
  | "reattested"
  | "revoked"
  | "liveness"
  | "verified-on-chain"
  | "rechecked"
  | "collateral-expiring"
  | "collateral-expired"
  | "liveness-overdue"
  | "kms-stale"
  | "kms-unstale"
  | "retracted"
  | "reorg-beyond-window"
  | "webhook-dropped";

export interface Finding {
  schema: typeof FINDING_SCHEMA;
  /** 32 hex digits, stable for the same finding (see the module comment). */
  id: string;
  /** A `WatchKind` or an audit anomaly kind. */
  kind: string;
  severity: Severity;
  kms: Hex | null;
  block: number;
  blockHash: Hex;
  tx: Hex | null;
  message: string;
  registry: Hex;
  chainId: number;
  /** Only on `retracted`: the id of the finding it withdraws. */
  retracts?: string;
  /** Only on `webhook-dropped`: how many findings were not delivered to the webhook. */
  dropped?: number;
}

/** What the follower says of a finding; `makeFinding` adds the schema, the id and what is watched. */
export interface FindingInput extends Pick<Finding, "kind" | "severity" | "kms" | "block" | "blockHash" | "tx" | "message" | "retracts" | "dropped"> {
  /** What distinguishes this finding from others of its kind in the same block (log index, warning key, …). */
  key: string;
}

/** The finding of `input` for `registry` on `chainId`, with its id; the message is put on one clean line. */
export function makeFinding(registry: Hex, chainId: number, input: FindingInput): Finding {
  const id = createHash("sha256")
    .update([chainId, registry.toLowerCase(), input.kind, (input.kms ?? "-").toLowerCase(), input.blockHash.toLowerCase(), input.key].join("\n"))
    .digest("hex")
    .slice(0, 32);
  const f: Finding = {
    schema: FINDING_SCHEMA,
    id,
    kind: input.kind,
    severity: input.severity,
    kms: input.kms,
    block: input.block,
    blockHash: input.blockHash,
    tx: input.tx,
    message: oneLine(input.message),
    registry,
    chainId,
  };
  if (input.retracts !== undefined) f.retracts = input.retracts;
  if (input.dropped !== undefined) f.dropped = input.dropped;
  return f;
}

/** The human line of a finding (stderr): severity, kind, KMS, block, message; one line, no control characters. */
export function findingLine(f: Finding): string {
  const sev = f.severity === "info" ? "info" : f.severity.toUpperCase();
  const kms = f.kms ? ` ${f.kms}` : "";
  return oneLine(`[watch] ${sev} ${f.kind}${kms} @${f.block}: ${f.message} (id ${f.id})`);
}

/** Whether a value read back (from the state file) has the shape of a finding. */
export function isFinding(v: unknown): v is Finding {
  if (typeof v !== "object" || v === null) return false;
  const f = v as Record<string, unknown>;
  return (
    f.schema === FINDING_SCHEMA &&
    typeof f.id === "string" &&
    /^[0-9a-f]{32}$/.test(f.id) &&
    typeof f.kind === "string" &&
    (f.severity === "info" || f.severity === "warning" || f.severity === "critical") &&
    (f.kms === null || typeof f.kms === "string") &&
    Number.isSafeInteger(f.block) &&
    typeof f.blockHash === "string" &&
    (f.tx === null || typeof f.tx === "string") &&
    typeof f.message === "string" &&
    typeof f.registry === "string" &&
    Number.isSafeInteger(f.chainId)
  );
}
