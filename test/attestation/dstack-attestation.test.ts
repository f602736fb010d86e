import { readFileSync } from "node:fs";

import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";

import { AttestationDecodeError, decodeDstackAttestation, encodeDstackAttestationV0 } from "../../src/dstack/attestation.js";
import { checkEventLog, decodeRuntimeInfo, eventLogToJson, makeRuntimeEvent } from "../../src/dstack/eventlog.js";
import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import { bytesToHex, hexToBytes } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const v0 = new Uint8Array(readFileSync(new URL("dstack-attestation-v0.bin", FIX)));
const tdxQuote = new Uint8Array(readFileSync(new URL("tdx_quote", FIX)));

describe("V0 SCALE attestation (real dstack-attestation-v0.bin)", () => {
  it("decodes to a quote and an event log that replays to the quote's RTMRs", () => {
    const a = decodeDstackAttestation(v0);
    expect(a.format).toBe("v0-scale");
    expect(a.platform).toBe("tdx");
    expect(a.version).toBe(0);
    expect(a.quote!.length).toBe(5010);
    expect(a.evidence).toBe(a.quote);
    expect(a.stack?.kind).toBe("dstack");
    expect(a.eventLog).toHaveLength(33);
    expect(a.runtimeEvents).toHaveLength(9);
    expect(bytesToHex(a.reportData!)).toBe(`0x${"00".repeat(64)}`);
    expect(JSON.parse(a.config!)).toHaveProperty("kms_urls");
    const q = parseQuote(a.quote!).body as TdReport10;
    const c = checkEventLog(a.eventLog!, [q.rtMr0, q.rtMr1, q.rtMr2, q.rtMr3]);
    expect(c.rtmrsMatch).toBe(true);
    const info = decodeRuntimeInfo(a.eventLog!);
    // the real app id of dstack's simulator app (docs/formats.md §7)
    expect(info.appId).toBe("0x5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    expect(info.keyProvider?.id).toBe(
      "3059301306072a8648ce3d020106082a8648ce3d0301070342000419b2457dd9b8aa6446d980f136fff7812ecd6c77740eeb0e28b10d56c0c00028a5b6e59dcea307d583bd1f70769e9c116df2bcfb1758a95d8613e7de1c8482c0",
    );
    expect(a.runtimeEvents.map((e) => e.event)).toEqual(info.eventNames);
  });

  it("re-encodes byte for byte (the simulator's encoder is the decoder's inverse)", () => {
    const a = decodeDstackAttestation(v0);
    const re = encodeDstackAttestationV0({ quote: a.quote!, eventLog: a.eventLog!, runtimeEvents: a.runtimeEvents, reportData: a.reportData!, config: a.config! });
    expect(Buffer.from(re).equals(Buffer.from(v0))).toBe(true);
  });

  it("rejects every truncation with a typed error naming the field", () => {
    for (const n of [1, 2, 3, 100, 5014, 5100, 9000, 9400, 9503]) {
      try {
        decodeDstackAttestation(v0.subarray(0, n));
        expect.unreachable(`length ${n}`);
      } catch (e) {
        expect(e).toBeInstanceOf(AttestationDecodeError);
        expect((e as InputError).code).toBe("ATTESTATION_MALFORMED");
        expect((e as Error).message).toMatch(/at offset \d+/);
      }
    }
  });

  it("rejects absurd counts and unknown platforms without allocating", () => {
    const huge = Uint8Array.of(0, 0, 0x03, 0xff, 0xff, 0xff, 0xff); // compact big-int length
    expect(() => decodeDstackAttestation(huge)).toThrow(AttestationDecodeError);
    const bigCount = Uint8Array.of(0, 0, 0, 0xfe, 0xff, 0xff, 0xff); // empty quote, 1 073 741 823 events
    expect(() => decodeDstackAttestation(bigCount)).toThrow(/cannot fit/);
    expect(() => decodeDstackAttestation(Uint8Array.of(0, 9))).toThrow(/unknown platform tag 9/);
    expect(() => decodeDstackAttestation(Uint8Array.of(0, 2))).toThrow(/nsm_quote length at offset 2/);
    expect(() => decodeDstackAttestation(Uint8Array.of(...v0, 0))).toThrow(/end at offset 9504: 1 bytes after the attestation/);
    expect(() => decodeDstackAttestation(new Uint8Array(0))).toThrow(/empty/);
    expect(() => decodeDstackAttestation(Uint8Array.of(0x42, 1, 2))).toThrow(/unknown format \(first byte 0x42/);
  });
});

describe("raw quote and V1 msgpack", () => {
  it("accepts a raw quote (as the deployment tutorial shows)", () => {
    const a = decodeDstackAttestation(tdxQuote);
    expect(a.format).toBe("raw-quote");
    expect(a.eventLog).toBeNull();
    expect(a.quote).toBe(tdxQuote);
  });

  it("decodes a V1 map with bin and integer-array byte fields", () => {
    const v = decodeDstackAttestation(v0);
    const events = eventLogToJson(v.eventLog!).map((e) => ({
      ...e,
      digest: hexToBytes(e.digest as string),
      event_payload: hexToBytes(e.event_payload as string),
    }));
    const doc = {
      version: 1,
      platform: { kind: "tdx", data: { quote: Array.from(v.quote!), event_log: events } },
      stack: { kind: "dstack", data: { report_data: Array.from(v.reportData!), runtime_events: v.runtimeEvents, config: v.config } },
    };
    const a = decodeDstackAttestation(encode(doc));
    expect(a.format).toBe("v1-msgpack");
    expect(bytesToHex(a.quote!)).toBe(bytesToHex(v.quote!));
    expect(a.eventLog).toHaveLength(33);
    expect(a.runtimeEvents).toHaveLength(9);
    const q = parseQuote(a.quote!).body as TdReport10;
    expect(checkEventLog(a.eventLog!, [q.rtMr0, q.rtMr1, q.rtMr2, q.rtMr3]).rtmrsMatch).toBe(true);
    // V2 runtime events survive (version + preimage)
    const v2 = eventLogToJson([makeRuntimeEvent("app-id", new Uint8Array(20), 2)]);
    const b = decodeDstackAttestation(encode({ ...doc, platform: { kind: "tdx", data: { quote: v.quote, event_log: JSON.stringify(v2) } } }));
    expect(b.eventLog![0]!.version).toBe(2);
  });

  it("rejects malformed V1", () => {
    expect(() => decodeDstackAttestation(encode({ version: 1 }))).toThrow(/platform: expected a map, got missing/);
    expect(() => decodeDstackAttestation(encode({ version: 1, platform: { kind: "sev-snp", data: {} } }))).toThrow(/platform\.data\.report: expected bytes/);
    expect(() => decodeDstackAttestation(encode({ version: 1, platform: { kind: "tdx", data: { quote: [1, 999] } } }))).toThrow(/platform\.data\.quote: array is not bytes/);
    expect(() => decodeDstackAttestation(Uint8Array.of(0x81, 0xa1))).toThrow(AttestationDecodeError);
  });
});
