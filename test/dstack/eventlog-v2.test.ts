import { readFileSync } from "node:fs";

import { sha384 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex, concatBytes, hexToBytes, utf8 } from "../../src/core/bytes.js";
import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import {
  RUNTIME_EVENT_TYPE,
  checkEventLog,
  eventLogToJson,
  makeRuntimeEvent,
  parseEventLog,
  replayRuntimeEvents,
  runtimeEventDigest,
  runtimeEventPreimageV2,
} from "../../src/dstack/eventlog.js";

interface Vector {
  upstream_test: string;
  event: string;
  payload_hex: string;
  upstream_canonical_json: string | null;
  computed_here_canonical_json: string;
  computed_here_sha384_v2_digest: string;
  computed_here_sha384_v1_digest_same_inputs: string;
}
const V = JSON.parse(readFileSync(new URL("../fixtures/dstack/eventlog-v2/v2-canonical-json-vectors.json", import.meta.url), "utf8")) as {
  vectors: Vector[];
  mixed_replay: { events: { event: string; payload_hex: string; version: 1 | 2 }[]; computed_here_digests: string[]; computed_here_rtmr3: string };
};
const getQuote = JSON.parse(readFileSync(new URL("../fixtures/dcap/tdx-lite-getquote.json", import.meta.url), "utf8")) as { quote: string; event_log: string };
const td = parseQuote(hexToBytes(getQuote.quote)).body as TdReport10;

describe("event-log v2: the canonical-JSON preimage (dstack's runtime_events.rs vectors)", () => {
  it.each(V.vectors.map((v) => [v.upstream_test, v] as const))("%s: preimage and digest equal the vector byte for byte", (_name, v) => {
    const payload = hexToBytes(v.payload_hex, "payload");
    const preimage = runtimeEventPreimageV2(v.event, payload);
    if (v.upstream_canonical_json !== null) expect(preimage).toEqual(utf8(v.upstream_canonical_json));
    expect(preimage).toEqual(utf8(v.computed_here_canonical_json));
    expect(bytesToPlainHex(runtimeEventDigest(v.event, payload, 2))).toBe(v.computed_here_sha384_v2_digest);
    expect(bytesToPlainHex(runtimeEventDigest(v.event, payload, 1))).toBe(v.computed_here_sha384_v1_digest_same_inputs);
    expect(v.computed_here_sha384_v2_digest).not.toBe(v.computed_here_sha384_v1_digest_same_inputs);
  });

  it("the non-ASCII name is emitted verbatim (UTF-8), not \\u-escaped", () => {
    const v = V.vectors.find((x) => x.upstream_test === "canonical_json_non_ascii_unicode")!;
    expect(new TextDecoder().decode(runtimeEventPreimageV2(v.event, hexToBytes(v.payload_hex)))).toContain(v.event);
  });

  it("mixed_v1_v2_replay: per-event digests and the RTMR3 chain equal the vectors", () => {
    const events = V.mixed_replay.events.map((e) => makeRuntimeEvent(e.event, hexToBytes(e.payload_hex), e.version));
    expect(events.map((e) => bytesToPlainHex(e.digest))).toEqual(V.mixed_replay.computed_here_digests);
    expect(bytesToPlainHex(replayRuntimeEvents(events))).toBe(V.mixed_replay.computed_here_rtmr3);
    // through the JSON form dstack serves (v2 events carry version and preimage)
    const parsed = parseEventLog(JSON.stringify(eventLogToJson(events)));
    expect(parsed.map((e) => e.version)).toEqual([1, 2, 1]);
    const c = checkEventLog(parsed, [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), hexToBytes(V.mixed_replay.computed_here_rtmr3)]);
    expect(c.issues).toEqual([]);
    expect(c.registers[3]).toMatchObject({ match: true, coverage: "replayed-matches" });
  });
});

describe("a mixed v1/v2 log built from the real tdx-lite log", () => {
  // the real log with its compose-hash and key-provider events re-emitted as v2 events
  const real = parseEventLog(getQuote.event_log);
  const mixed = real.map((e) =>
    e.eventType === RUNTIME_EVENT_TYPE && (e.event === "compose-hash" || e.event === "key-provider") ? makeRuntimeEvent(e.event, e.payload, 2) : e,
  );
  const json = JSON.stringify(eventLogToJson(mixed));

  it("replays: RTMR0–2 equal the quote, RTMR3 equals the SHA-384 chain of the v1 and v2 digests", () => {
    const events = parseEventLog(json);
    let chain = new Uint8Array(48);
    for (const e of events.filter((x) => x.eventType === RUNTIME_EVENT_TYPE)) {
      const pre = e.version === 2 ? utf8(JSON.stringify({ name: e.event, payload: bytesToPlainHex(e.payload), type: RUNTIME_EVENT_TYPE })) : concatBytes(Uint8Array.of(1, 0, 0, 8), utf8(`:${e.event}:`), e.payload);
      chain = sha384(concatBytes(chain, sha384(pre)));
    }
    const c = checkEventLog(events, [td.rtMr0, td.rtMr1, td.rtMr2, chain]);
    expect(c.lite).toBe(false);
    expect(c.issues).toEqual([]);
    expect(c.registers.map((r) => r.coverage)).toEqual(["replayed-matches", "replayed-matches", "replayed-matches", "replayed-matches"]);
    expect(c.events.filter((e) => e.version === 2).map((e) => e.name)).toEqual(["compose-hash", "key-provider"]);
    // the v2 events change RTMR3: the real quote's RTMR3 no longer matches
    expect(bytesToHex(chain)).not.toBe(bytesToHex(td.rtMr3));
    const againstQuote = checkEventLog(events, [td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3]);
    expect(againstQuote.registers[3]!.coverage).toBe("replayed-differs");
    expect(againstQuote.rtmr3Match).toBe(false);
  });

  it("a v2 event whose preimage is not the canonical JSON of its name and payload is an error", () => {
    const arr = JSON.parse(json) as Record<string, unknown>[];
    const i = arr.findIndex((e) => e.version === 2);
    arr[i]!.preimage = bytesToPlainHex(utf8('{"name":"compose-hash","payload":"00","type":134217729}'));
    const c = checkEventLog(parseEventLog(arr), [td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3]);
    expect(c.issues).toEqual([expect.objectContaining({ index: i, kind: "v2-preimage-mismatch", severity: "error" })]);
    expect(c.rtmr3Match).toBe(false);
  });
});
