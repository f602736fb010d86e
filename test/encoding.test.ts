import { describe, expect, it } from "vitest";

import { base64ToBytes, bytesToHex, decodeBytesField, hexToBytes, InputError } from "../src/index.js";

describe("encoding", () => {
  it("decodes hex with or without 0x, any case, with whitespace", () => {
    expect(bytesToHex(hexToBytes("0xDEad beef\n"))).toBe("0xdeadbeef");
    expect(bytesToHex(hexToBytes("deadBEEF"))).toBe("0xdeadbeef");
    expect(hexToBytes("").length).toBe(0);
  });

  it("rejects bad hex with a typed error naming the field and position", () => {
    expect(() => hexToBytes("0xabc", "quote")).toThrow(InputError);
    expect(() => hexToBytes("0xabc", "quote")).toThrow(/quote: hex has an odd number of digits \(3\)/);
    try {
      hexToBytes("12zz", "k256_pubkey");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).code).toBe("BAD_HEX");
      expect((e as InputError).message).toBe('k256_pubkey: not hex (invalid character "z" at position 2)');
    }
  });

  it("decodes base64 in both alphabets", () => {
    expect(bytesToHex(base64ToBytes("3q2+7w=="))).toBe("0xdeadbeef");
    expect(bytesToHex(base64ToBytes("3q2-7w"))).toBe("0xdeadbeef");
    expect(() => base64ToBytes("a", "x")).toThrow(/x: not base64/);
  });

  it("decodeBytesField prefers hex, uses base64 when the expected length says so", () => {
    // 33-byte compressed key in hex and in base64
    const hex = "02" + "11".repeat(32);
    expect(decodeBytesField(hex, "k", 33).length).toBe(33);
    const b64 = Buffer.from(hex, "hex").toString("base64");
    expect(bytesToHex(decodeBytesField(b64, "k", 33))).toBe(`0x${hex}`);
    expect(() => decodeBytesField("!!", "k")).toThrow(/k: neither hex nor base64/);
    expect(() => decodeBytesField(null as unknown as string, "k")).toThrow(/k: expected a hex or base64 string, got null/);
  });
});
