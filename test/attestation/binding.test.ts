import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";

import { checkKmsBinding, expectedKmsReportData, kmsBindingHash, kmsBindingMessage } from "../../src/dstack/binding.js";
import { bytesToHex, hexToBytes } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { ethAddress } from "../../src/dstack/signatures.js";

// NEAR AI's production KMS (docs/formats.md §2): real values read from KMS.GetMeta.
const NEAR_CA = hexToBytes(
  "3059301306072a8648ce3d020106082a8648ce3d030107034200" +
    "04228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda" +
    "2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc",
);
const NEAR_K256 = hexToBytes("022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e");

describe("KMS report_data binding (docs/formats.md §2)", () => {
  it("reproduces the NEAR production vector", () => {
    const msg = kmsBindingMessage(NEAR_CA, NEAR_K256);
    expect(msg.length).toBe(279);
    const text = new TextDecoder().decode(msg);
    expect(text.startsWith("dstack-kms-genereted-keys-v1:3059")).toBe(true);
    expect(text.endsWith(";022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e;")).toBe(true);
    expect(bytesToHex(kmsBindingHash(NEAR_CA, NEAR_K256))).toBe("0x30dd5d40583a4cdbf151238925fd1fbca449528a757423a5534a1dab9f1d6429");
    const rd = expectedKmsReportData(NEAR_CA, NEAR_K256);
    expect(rd.length).toBe(64);
    expect(bytesToHex(rd.subarray(32))).toBe(`0x${"00".repeat(32)}`);
    expect(ethAddress(NEAR_K256)).toBe("0x796bcb22109675531a48ee05026c3302442b54d9");
  });

  it("accepts the right report_data and names each kind of mismatch", () => {
    const rd = expectedKmsReportData(NEAR_CA, NEAR_K256);
    expect(checkKmsBinding(rd, NEAR_CA, NEAR_K256).ok).toBe(true);
    const tail = rd.slice();
    tail[40] = 1;
    const r1 = checkKmsBinding(tail, NEAR_CA, NEAR_K256);
    expect(r1.ok).toBe(false);
    expect(r1.detail).toMatch(/last 32 bytes/);
    const r2 = checkKmsBinding(new Uint8Array(64), NEAR_CA, NEAR_K256);
    expect(r2.ok).toBe(false);
    expect(r2.detail).toMatch(/does not bind/);
    expect(checkKmsBinding(rd.subarray(0, 32), NEAR_CA, NEAR_K256).detail).toMatch(/32 bytes, expected 64/);
    // upper-case hex or a 0x prefix in the message would give another hash
    const upper = keccak_256(new TextEncoder().encode(new TextDecoder().decode(kmsBindingMessage(NEAR_CA, NEAR_K256)).toUpperCase()));
    expect(bytesToHex(upper)).not.toBe(bytesToHex(rd.subarray(0, 32)));
  });

  it("rejects wrong key shapes with typed errors", () => {
    expect(() => kmsBindingMessage(NEAR_CA.subarray(0, 90), NEAR_K256)).toThrow(InputError);
    expect(() => kmsBindingMessage(NEAR_CA, NEAR_K256.subarray(1))).toThrow(/33-byte/);
    const uncompressed = new Uint8Array(33).fill(4);
    expect(() => kmsBindingMessage(NEAR_CA, uncompressed)).toThrow(/02 or 03/);
    const notP256 = NEAR_CA.slice();
    notP256[5] = 0;
    try {
      kmsBindingMessage(notP256, NEAR_K256);
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).code).toBe("BAD_CA_PUBKEY");
    }
  });
});
