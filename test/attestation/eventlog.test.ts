import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import {
  EventLogError,
  canonicalJson,
  checkEventLog,
  decodeRuntimeInfo,
  derivedMeasurements,
  eventLogToJson,
  keyProviderPayload,
  makeRuntimeEvent,
  parseEventLog,
  replayEventLog,
  replayRuntimeEvents,
  runtimeEventDigest,
  runtimeEventPreimageV1,
  runtimeEventPreimageV2,
} from "../../src/dstack/eventlog.js";
import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import { bytesToHex, hexToBytes, utf8 } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const getQuote = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { quote: string; event_log: string; report_data: string };
const body = parseQuote(hexToBytes(getQuote.quote)).body as TdReport10;
const quoteRtmrs = [body.rtMr0, body.rtMr1, body.rtMr2, body.rtMr3];

describe("runtime event digests (docs/formats.md §3)", () => {
  it("V1 digest of system-preparing matches the spec vector", () => {
    expect(bytesToHex(runtimeEventPreimageV1("system-preparing", new Uint8Array(0)))).toBe("0x010000083a73797374656d2d707265706172696e673a");
    expect(bytesToHex(runtimeEventDigest("system-preparing", new Uint8Array(0)))).toBe(
      "0xf9974020ef507068183313d0ca808e0d1ca9b2d1ad0c61f5784e7157c362c06536f5ddacdad4451693f48fcc72fff624",
    );
  });

  it("V2 preimage is RFC 8785 canonical JSON", () => {
    expect(new TextDecoder().decode(runtimeEventPreimageV2("compose-hash", Uint8Array.of(0xab, 0xcd)))).toBe('{"name":"compose-hash","payload":"abcd","type":134217729}');
    expect(canonicalJson({ b: [1, 2.5, "é\n"], a: null, "\u00e9": true, A: false })).toBe('{"A":false,"a":null,"b":[1,2.5,"é\\n"],"é":true}');
    expect(canonicalJson(1e21)).toBe("1e+21");
    expect(() => canonicalJson("\ud800")).toThrow(InputError);
  });
});

describe("tdx-lite-getquote.json (real dstack fixture)", () => {
  it("replays RTMR0–3 to the quote's values, with RTMR3 and boot-time RTMR3 from the spec", () => {
    const events = parseEventLog(getQuote.event_log);
    expect(events.length).toBe(29);
    const c = checkEventLog(events, quoteRtmrs);
    expect(c.rtmrsMatch).toBe(true);
    expect(c.registers.map((r) => r.match)).toEqual([true, true, true, true]);
    expect(c.registers[3]!.replayed).toBe("0x6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e3a66824b5b56869137e");
    expect(c.bootTimeRtmr3).toBe("0xf3358e2e735973e425869f2985a5f469e59a116352fa1156ad34c8a10a93b27e614b2cf2d8319fb25405e553a8b05626");
    expect(bytesToHex(replayRuntimeEvents(events))).toBe(c.registers[3]!.replayed);
    expect(c.issues).toEqual([]);
  });

  it("decodes the dstack runtime events", () => {
    const events = parseEventLog(getQuote.event_log);
    const info = decodeRuntimeInfo(events);
    expect(info.eventNames).toEqual(["system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done", "os-image-hash", "key-provider", "storage-fs", "system-ready"]);
    expect(info.appId).toBe("0x86b0e55f2fa8e4fb69d890f14f54d5612707646e");
    expect(info.composeHash).toBe("0x86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9");
    expect(info.instanceId).toBe("0x050bf89570575fe8fab4cb8f0a62a9e64efe8ead");
    expect(info.osImageHash).toBe("0x07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d");
    expect(info.keyProvider?.name).toBe("kms");
    expect(info.keyProvider?.id).toMatch(/^3059301306072a8648ce3d0201.*1dee06$/);
    expect(info.storageFs).toBe("zfs");
    expect(info.bootMrDone && info.systemReady).toBe(true);
  });

  it("derives mr_key_provider, mr_system and mr_aggregated (docs/formats.md §6)", () => {
    const events = parseEventLog(getQuote.event_log);
    expect(derivedMeasurements(body, keyProviderPayload(events))).toEqual({
      mrKeyProvider: "0x4facf64384bf715c05d4dbf0251d72ebe32be4ec4c84ddc01548d70e21d3a512",
      mrSystem: "0x118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70",
      mrAggregated: "0xc758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee",
    });
  });

  it("parses every input form: array, JSON text, double-encoded string, hex of the text, bytes, whole response", () => {
    const text = getQuote.event_log;
    const ref = bytesToHex(replayEventLog(parseEventLog(text)).rtmrs[3]);
    const forms: unknown[] = [
      JSON.parse(text),
      JSON.stringify(text),
      Buffer.from(text).toString("hex"),
      `0x${Buffer.from(text).toString("hex")}`,
      utf8(text),
      getQuote,
      JSON.stringify(getQuote),
      JSON.stringify(eventLogToJson(parseEventLog(text))),
    ];
    for (const f of forms) expect(bytesToHex(replayEventLog(parseEventLog(f)).rtmrs[3])).toBe(ref);
  });

  it("detects a tampered payload as an RTMR3 mismatch", () => {
    const arr = JSON.parse(getQuote.event_log) as Record<string, unknown>[];
    const ci = arr.findIndex((e) => e.event === "compose-hash");
    arr[ci]!.event_payload = "00".repeat(32);
    const c = checkEventLog(parseEventLog(arr), quoteRtmrs);
    expect(c.rtmrsMatch).toBe(false);
    expect(c.registers.map((r) => r.match)).toEqual([true, true, true, false]);
    // reordering boot events breaks RTMR1
    const arr2 = JSON.parse(getQuote.event_log) as Record<string, unknown>[];
    const ones = arr2.map((e, i) => [e, i] as const).filter(([e]) => e.imr === 1);
    const [a, b] = [ones[0]![1], ones[1]![1]];
    [arr2[a], arr2[b]] = [arr2[b]!, arr2[a]!];
    expect(checkEventLog(parseEventLog(arr2), quoteRtmrs).registers[1]!.match).toBe(false);
  });
});

describe("V2 events and stored digests", () => {
  it("replays V2 events and checks their preimage", () => {
    const ev = makeRuntimeEvent("compose-hash", Uint8Array.of(1, 2, 3), 2);
    const v1 = makeRuntimeEvent("app-id", new Uint8Array(20).fill(7));
    const events = parseEventLog(JSON.stringify(eventLogToJson([v1, ev])));
    const r = replayEventLog(events);
    expect(r.issues).toEqual([]);
    expect(checkEventLog(events, [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), r.rtmrs[3]]).rtmrsMatch).toBe(true);
    const json = eventLogToJson(events);
    json[1]!.preimage = "00";
    const bad = checkEventLog(parseEventLog(json), [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), r.rtmrs[3]]);
    expect(bad.rtmrsMatch).toBe(false);
    expect(bad.issues[0]!.kind).toBe("v2-preimage-mismatch");
    delete json[1]!.preimage;
    expect(replayEventLog(parseEventLog(json)).issues[0]!.kind).toBe("v2-preimage-missing");
  });

  it("warns (only) when a V1 runtime event's stored digest differs", () => {
    const json = eventLogToJson([makeRuntimeEvent("system-ready", new Uint8Array(0))]);
    json[0]!.digest = "11".repeat(48);
    const r = replayEventLog(parseEventLog(json));
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]!.severity).toBe("warning");
    expect(bytesToHex(r.rtmrs[3])).toBe(bytesToHex(replayEventLog([makeRuntimeEvent("system-ready", new Uint8Array(0))]).rtmrs[3]));
  });

  it("ignores app-defined events after system-ready for identity", () => {
    const events = [makeRuntimeEvent("app-id", new Uint8Array(20).fill(1)), makeRuntimeEvent("system-ready", new Uint8Array(0)), makeRuntimeEvent("app-id", new Uint8Array(20).fill(2))];
    expect(decodeRuntimeInfo(events).appId).toBe(`0x${"01".repeat(20)}`);
    expect(keyProviderPayload([makeRuntimeEvent("system-ready", new Uint8Array(0)), makeRuntimeEvent("key-provider", utf8("{}"))])).toBeUndefined();
  });
});

describe("hostile event logs", () => {
  const cases: [string, unknown, string][] = [
    ["empty", "", "EVENTLOG_EMPTY"],
    ["not json", "hello", "EVENTLOG_BAD_FORMAT"],
    ["object", { foo: 1 }, "EVENTLOG_BAD_FORMAT"],
    ["number", 5, "EVENTLOG_BAD_FORMAT"],
    ["truncated JSON", '[{"imr":0', "BAD_JSON"],
    ["deep nesting", "[".repeat(10_000) + "]".repeat(10_000), "JSON_TOO_DEEP"],
    ["event not object", [1], "EVENTLOG_BAD_EVENT"],
    ["imr out of range", [{ imr: 4, event_type: 1, digest: "00".repeat(48) }], "EVENTLOG_BAD_FIELD"],
    ["negative imr", [{ imr: -1, event_type: 1, digest: "00".repeat(48) }], "EVENTLOG_BAD_FIELD"],
    ["float type", [{ imr: 0, event_type: 1.5, digest: "00".repeat(48) }], "EVENTLOG_BAD_FIELD"],
    ["short digest", [{ imr: 0, event_type: 1, digest: "00".repeat(47) }], "EVENTLOG_BAD_DIGEST"],
    ["empty boot digest", [{ imr: 0, event_type: 1, digest: "" }], "EVENTLOG_BAD_DIGEST"],
    ["bad hex payload", [{ imr: 3, event_type: 134217729, digest: "", event: "x", event_payload: "zz" }], "EVENTLOG_BAD_FIELD"],
    ["odd hex digest", [{ imr: 0, event_type: 1, digest: "0" }], "EVENTLOG_BAD_FIELD"],
    ["bad version", [{ imr: 3, event_type: 134217729, digest: "", event: "x", event_payload: "", version: 3 }], "EVENTLOG_BAD_FIELD"],
    ["event name not string", [{ imr: 3, event_type: 134217729, digest: "", event: 5, event_payload: "" }], "EVENTLOG_BAD_FIELD"],
  ];
  for (const [name, input, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      try {
        parseEventLog(input);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).code).toBe(code);
      }
    });
  }

  it("caps size", () => {
    expect(() => parseEventLog(`[${" ".repeat(100)}]`, { maxBytes: 50 })).toThrow(/exceed the limit/);
    const e = (() => {
      try {
        parseEventLog([{ imr: 9, event_type: 1, digest: "" }]);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(EventLogError);
    expect((e as Error).message).toMatch(/event 0\.imr/);
  });
});
