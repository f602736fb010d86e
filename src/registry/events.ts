/**
 * The registry's history as events: a raw `eth_getLogs` entry decoded into a registration, a revocation or
 * a liveness proof (the events the audit replays), with where it happened (block, transaction, log index).
 */
import { decodeEventLog, getAddress, keccak256 } from "viem";

import type { Hex } from "../core/bytes.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import type { RawLog } from "./logs.js";

export type AuditEvent =
  | {
      kind: "registered";
      kms: Hex;
      quoteHash: Hex;
      registrar: Hex;
      caPubkey: Hex;
      k256Pubkey: Hex;
      quote: Hex;
      block: number;
      tx: Hex;
      logIndex: number;
    }
  | { kind: "revoked"; kms: Hex; by: Hex; reason: string; block: number; tx: Hex; logIndex: number }
  | { kind: "liveness"; kms: Hex; timestamp: number; nonce: string; block: number; tx: Hex; logIndex: number };

export type RegisteredEvent = Extract<AuditEvent, { kind: "registered" }>;

const cs = (a: string): Hex => getAddress(a) as Hex;

/** The topic0 of every event of the registry's ABI. */
const KNOWN_TOPICS = new Set(
  kmsRegistryAbi
    .filter((x) => x.type === "event")
    .map((e) => keccak256(new TextEncoder().encode(`${e.name}(${e.inputs.map((i) => i.type).join(",")})`)).toLowerCase()),
);

/** Decode one raw registry log; `undefined` for events the audit does not replay (roles, allowlist). */
export function decodeRegistryLog(log: RawLog): AuditEvent | undefined | "undecodable" {
  let d;
  try {
    d = decodeEventLog({ abi: kmsRegistryAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]], strict: true });
  } catch {
    return KNOWN_TOPICS.has(log.topics[0]?.toLowerCase() ?? "") ? "undecodable" : undefined;
  }
  const where = { block: Number(BigInt(log.blockNumber)), tx: log.transactionHash, logIndex: Number(BigInt(log.logIndex)) };
  switch (d.eventName) {
    case "KmsRegistered":
      return {
        kind: "registered",
        kms: cs(d.args.kms),
        quoteHash: d.args.quoteHash.toLowerCase() as Hex,
        registrar: cs(d.args.registrar),
        caPubkey: d.args.caPubkey.toLowerCase() as Hex,
        k256Pubkey: d.args.k256Pubkey.toLowerCase() as Hex,
        quote: d.args.quote.toLowerCase() as Hex,
        ...where,
      };
    case "KmsRevoked":
      return { kind: "revoked", kms: cs(d.args.kms), by: cs(d.args.by), reason: d.args.reason, ...where };
    case "KmsLivenessProven":
      return { kind: "liveness", kms: cs(d.args.kms), timestamp: Number(d.args.timestamp), nonce: d.args.nonce.toString(), ...where };
  }
}
