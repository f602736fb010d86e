/**
 * The watch's reading of the registry's on-chain-verification events (`KmsVerifiedOnChain`, `KmsRechecked`):
 * logs encoded with the registry's real ABI are decoded by the registry's `decodeRegistryLog` and applied to
 * the follower's model (the audit's `applyEvent`), which raises `verified-on-chain`, `rechecked`, `kms-stale` /
 * `kms-unstale` and, from the record's collateral expiry, `collateral-expiring` / `collateral-expired`; an
 * event of a KMS never registered is the audit's `event-without-registration`, raised once. (A chain that emits them needs a deployed DcapVerifier; these
 * tests feed the follower's state machine the logs such a chain returns.)
 */
import { encodeAbiParameters, encodeEventTopics, keccak256, type Hex } from "viem";
import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { TCB_STATUSES } from "../../src/dcap/types.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import type { RawLog } from "../../src/registry/logs.js";
import { decodeRegistryLog } from "../../src/registry/events.js";
import { applyEntry, timeWarnings, toLive } from "../../src/watch/follow.js";
import { freshState, parseWatchState, type WindowEntry } from "../../src/watch/state.js";
import { randomKms } from "../registry/chain-helpers.js";
import { kmsAddr } from "./helpers.js";

/** A log of the registry's event `eventName` with `args`: topics and data as a node returns them. */
function encodeEventLog(e: { abi: typeof kmsRegistryAbi; eventName: string; args: Record<string, unknown> }): { data: Hex; topics: Hex[] } {
  const item = e.abi.find((x) => x.type === "event" && x.name === e.eventName) as { inputs: readonly { name: string; type: string; indexed?: boolean }[] };
  const topics = encodeEventTopics({ abi: e.abi, eventName: e.eventName, args: e.args } as never) as Hex[];
  const plain = item.inputs.filter((i) => !i.indexed);
  return { topics, data: encodeAbiParameters(plain, plain.map((i) => e.args[i.name])) };
}

const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Hex;
let logIndex = 0;
/** `tx`: the transaction it is part of (a registration and its KmsVerifiedOnChain share one); default a fresh one. */
function rawLog(ev: { data: Hex; topics: (Hex | null)[] }, block: number, tx?: Hex): RawLog {
  const h = (n: number) => `0x${n.toString(16)}` as Hex;
  return {
    address: REGISTRY,
    topics: ev.topics as Hex[],
    data: ev.data,
    blockNumber: h(block),
    blockHash: keccak256(h(block)),
    transactionHash: tx ?? keccak256(h(block * 1000 + logIndex)),
    transactionIndex: "0x0",
    logIndex: h(logIndex++),
  };
}

function entryOf(log: RawLog, timestamp: number): WindowEntry {
  const ev = decodeRegistryLog(log);
  if (!ev || ev === "undecodable") throw new Error("log does not decode");
  return { ev, blockHash: log.blockHash, timestamp };
}

describe("watch: the registry's on-chain verification events", () => {
  it("verified on chain, rechecked, gone stale and back, the record's collateral expiry warned before and after it passes", () => {
    const k = randomKms();
    const kms = kmsAddr(k) as Hex;
    const model = toLive({ kms: [], extra: {} });
    const t0 = 1_800_000_000;
    const expiry = t0 + 10 * 86400;
    const registered = rawLog(
      encodeEventLog({
        abi: kmsRegistryAbi,
        eventName: "KmsRegistered",
        args: { kms, quoteHash: keccak256(k.quote), registrar: REGISTRY, caPubkey: bytesToHex(k.caPubkey), k256Pubkey: bytesToHex(k.k256Pubkey), quote: bytesToHex(k.quote) },
      }),
      10,
    );
    expect(applyEntry(model, entryOf(registered, t0)).map((f) => f.kind)).toEqual(["registered"]);
    const verified = rawLog(
      encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsVerifiedOnChain", args: { kms, quoteHash: keccak256(k.quote), tcbStatus: 0, fmspc: "0x00906ed50000", collateralExpiry: BigInt(expiry), intelRoot: true } }),
      10,
      registered.transactionHash,
    );
    const v = applyEntry(model, entryOf(verified, t0));
    expect(v).toEqual([expect.objectContaining({ kind: "verified-on-chain", severity: "info", kms: expect.stringMatching(/^0x/) as unknown })]);
    expect(v[0]!.message).toMatch(/^verified on chain: UpToDate, FMSPC 00906ed50000, collateral valid until 2027-01-\d\dT/);
    const opts = { collateralWarnDays: 7 };
    // 8 days left: nothing yet; 6 days left: warned once; past the expiry: expired
    expect(timeWarnings(model, opts, {}, 11, registered.blockHash, expiry - 8 * 86400).findings).toEqual([]);
    const w1 = timeWarnings(model, opts, {}, 12, registered.blockHash, expiry - 6 * 86400);
    expect(w1.findings).toEqual([expect.objectContaining({ kind: "collateral-expiring", severity: "warning" })]);
    expect(w1.findings[0]!.message).toMatch(/in 6\.0 days \(warning at 7 days; the registry's record\)/);
    expect(timeWarnings(model, opts, w1.raised, 13, registered.blockHash, expiry - 5 * 86400).findings).toEqual([]);
    const w2 = timeWarnings(model, opts, w1.raised, 14, registered.blockHash, expiry + 1);
    expect(w2.findings.map((f) => [f.kind, f.severity])).toEqual([["collateral-expired", "critical"]]);

    // a recheck finds the KMS stale (once), a later one clears it; the new expiry restarts the warnings
    const recheck = (stale: boolean, tcbStatus: number, exp: number, block: number) =>
      applyEntry(model, entryOf(rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsRechecked", args: { kms, by: REGISTRY, tcbStatus, collateralExpiry: BigInt(exp), stale } }), block), t0));
    const revokedStatus = TCB_STATUSES.indexOf("Revoked");
    const r1 = recheck(true, revokedStatus, expiry + 30 * 86400, 20);
    expect(r1.map((f) => [f.kind, f.severity])).toEqual([
      ["rechecked", "info"],
      ["kms-stale", "critical"],
    ]);
    expect(r1[1]!.message).toMatch(/gone stale: .*\(Revoked\); isVerifiedOnChain\(\) is false/);
    expect(recheck(true, revokedStatus, expiry + 30 * 86400, 21).map((f) => f.kind)).toEqual(["rechecked"]);
    expect(recheck(false, 0, expiry + 60 * 86400, 22).map((f) => f.kind)).toEqual(["rechecked", "kms-unstale"]);
    const w3 = timeWarnings(model, opts, w2.raised, 23, registered.blockHash, expiry + 55 * 86400);
    expect(w3.findings.map((f) => f.kind)).toEqual(["collateral-expiring"]);
    expect(Object.keys(w3.raised)).toEqual([`collateral-expiring:${kms.toLowerCase()}:${expiry + 60 * 86400}`]);
  });

  it("a verification under a root that is not Intel's is a warning; events of a KMS the watch never saw registered are findings", () => {
    const k = randomKms();
    const kms = kmsAddr(k) as Hex;
    const model = toLive({ kms: [], extra: {} });
    const verified = rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsVerifiedOnChain", args: { kms, quoteHash: keccak256(k.quote), tcbStatus: 1, fmspc: "0x00906ed50000", collateralExpiry: 1n, intelRoot: false } }), 5);
    expect(applyEntry(model, entryOf(verified, 1)).map((f) => f.kind)).toEqual(["event-without-registration"]);
    const reg = rawLog(
      encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsRegistered", args: { kms, quoteHash: keccak256(k.quote), registrar: REGISTRY, caPubkey: bytesToHex(k.caPubkey), k256Pubkey: bytesToHex(k.k256Pubkey), quote: bytesToHex(k.quote) } }),
      6,
    );
    applyEntry(model, entryOf(reg, 1));
    const v = applyEntry(model, entryOf(rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsVerifiedOnChain", args: { kms, quoteHash: keccak256(k.quote), tcbStatus: 1, fmspc: "0x00906ed50000", collateralExpiry: 1n, intelRoot: false } }), 6, reg.transactionHash), 1));
    expect(v).toEqual([expect.objectContaining({ kind: "verified-on-chain", severity: "warning", message: expect.stringMatching(/SWHardeningNeeded.*NOT GENUINE/) as unknown })]);
    // a verification in another transaction than the registration is not part of it: the audit's anomaly, once
    const apartEntry = entryOf(rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsVerifiedOnChain", args: { kms, quoteHash: keccak256(k.quote), tcbStatus: 200, fmspc: "0x00906ed50000", collateralExpiry: 1n, intelRoot: true } }), 7), 1);
    expect(apartEntry.ev).toMatchObject({ kind: "verified", tcbStatus: "status 200" });
    expect(applyEntry(model, apartEntry).map((f) => f.kind)).toEqual(["event-without-registration"]);
    // a recheck of a KMS never registered: the audit's anomaly, no rechecked finding
    const lone = randomKms();
    expect(applyEntry(model, entryOf(rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsRechecked", args: { kms: kmsAddr(lone), by: REGISTRY, tcbStatus: 0, collateralExpiry: 9n, stale: true } }), 8), 1)).map((f) => f.kind)).toEqual(["event-without-registration"]);
    // other events of the registry (roles, allowlist) are neither audit events nor on-chain verification events
    const role = rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "AcceptedStatusSet", args: { tcbStatus: 2, accepted: true } }), 8);
    expect(decodeRegistryLog(role)).toBeUndefined();
  });

  it("a state whose window holds on-chain events reads back valid", () => {
    const k = randomKms();
    const kms = kmsAddr(k) as Hex;
    const s = freshState(REGISTRY, 31337, 5);
    const log = rawLog(encodeEventLog({ abi: kmsRegistryAbi, eventName: "KmsRechecked", args: { kms, by: REGISTRY, tcbStatus: 0, collateralExpiry: 9n, stale: false } }), 5);
    s.window.push(entryOf(log, 1));
    s.blocks.push({ number: 5, hash: log.blockHash });
    s.nextBlock = 6;
    const back = parseWatchState(JSON.stringify(s), "mem");
    expect(back.window[0]!.ev).toMatchObject({ kind: "rechecked", stale: false, collateralExpiry: 9 });
    expect(() => parseWatchState(JSON.stringify({ ...s, blocks: [{ number: 7, hash: log.blockHash }] }), "mem")).toThrow(/bad blocks \(not ascending below nextBlock\)/);
  });
});
