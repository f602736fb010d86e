import { readFileSync } from "node:fs";

import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { parseEventLog } from "../../src/dstack/eventlog.js";
import { KmsRegistryError } from "../../src/core/errors.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const v0 = new Uint8Array(readFileSync(new URL("dstack-attestation-v0.bin", FIX)));
const eventLog = (JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { event_log: string }).event_log;

const CA = "3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
const K256 = "022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";

/** Runs f; anything thrown must be one of our typed errors. */
function typedOnly(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof KmsRegistryError)) throw e;
  }
}

describe("decoders never throw untyped errors on hostile input", () => {
  it("V0 attestation with random byte mutations and truncations", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(v0.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(v0.length), (muts, cut) => {
        const b = v0.slice(0, Math.max(1, cut));
        for (const [i, v] of muts) if (i < b.length) b[i] = v;
        typedOnly(() => decodeDstackAttestation(b));
      }),
      { numRuns: 400 },
    );
  });

  it("random bytes in every format family", () => {
    fc.assert(
      fc.property(fc.constantFrom(0x00, 0x04, 0x81, 0x85, 0xde, 0xdf, 0x42), fc.uint8Array({ maxLength: 200 }), (first, rest) => {
        typedOnly(() => decodeDstackAttestation(Uint8Array.of(first, ...rest)));
      }),
      { numRuns: 400 },
    );
  });

  it("event logs with mutated JSON text", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(eventLog.length - 1), fc.constantFrom("[", "]", "{", "}", '"', ",", ":", "0", "x", "-", "9")), { maxLength: 6 }), (muts) => {
        const chars = eventLog.split("");
        for (const [i, c] of muts) chars[i] = c;
        typedOnly(() => parseEventLog(chars.join("")));
      }),
      { numRuns: 300 },
    );
  });

  it("bootstrap info objects with arbitrary JSON values in every field", () => {
    const any = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }), fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 200 }));
    fc.assert(
      fc.property(fc.record({ ca_pubkey: fc.oneof(any, fc.constant(CA)), k256_pubkey: fc.oneof(any, fc.constant(K256)), quote: any, eventlog: any, attestation: any }, { requiredKeys: [] }), (o) => {
        typedOnly(() => parseBootstrapInfo(o));
      }),
      { numRuns: 400 },
    );
  });
});

it("the fixtures themselves decode (sanity for the fuzz base)", () => {
  expect(decodeDstackAttestation(v0).eventLog).toHaveLength(33);
  expect(parseEventLog(eventLog)).toHaveLength(29);
});
