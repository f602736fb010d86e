/** Shared fixtures for the KmsRegistry contract tests: real quote, key generation, quote patching. */
import { readFileSync } from "node:fs";

import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { expect } from "vitest";

import { bytesToHex, bytesToPlainHex, concatBytes, hexToBytes, utf8, type Hex } from "../../src/core/bytes.js";
import { registryRevert } from "../../src/registry/client.js";
import { ethAddress } from "../../src/dstack/signatures.js";

/** The real Intel-signed 5006-byte TDX v4 quote (dcap-qvl sample). */
export const REAL_QUOTE: Uint8Array = new Uint8Array(readFileSync(new URL("../fixtures/dcap/tdx_quote", import.meta.url)));

export const SPKI_P256_PREFIX = hexToBytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");

/** NEAR AI production KMS (docs/formats.md §2): keys and report_data hash, from a real quote. */
export const NEAR = {
  caPubkey: hexToBytes(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc",
  ),
  k256Pubkey: hexToBytes("022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e"),
  reportDataHash: "0x30dd5d40583a4cdbf151238925fd1fbca449528a757423a5534a1dab9f1d6429" as Hex,
  address: "0x796bcb22109675531a48ee05026c3302442b54d9" as Hex,
};

/** Real KMS signature vector (docs/formats.md §7; dstack's sdk/simulator/appkeys.json). */
export const REAL_VECTOR = {
  kmsPubkey: hexToBytes("0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6"),
  kmsAddress: "0xa7f6043c29f9cc1d9d6acf554c53e0c6792aaeaf" as Hex,
  caPubkey: hexToBytes(
    "3059301306072a8648ce3d020106082a8648ce3d0301070342000419b2457dd9b8aa6446d980f136fff7812ecd6c77740eeb0e28b10d56c0c00028a5b6e59dcea307d583bd1f70769e9c116df2bcfb1758a95d8613e7de1c8482c0",
  ),
  appId: "0x5bb4ff9a3837357f19dc176407a5709c62eb6c56" as Hex,
  appPrivateKey: hexToBytes("d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d"),
  appPubkey: hexToBytes("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c"),
  signature: hexToBytes(
    "9e618603e72d01fedb82deff6daf2d62a572becf0059eec3f89c1ab40e1f2e594d2a283f843f34e8f39e4cc49a612496ce67223a12ac923f8efe330346dfc6c500",
  ),
};

/** keccak256 of dstack's binding string (docs/formats.md §2). */
export function bindingHash(caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  return keccak_256(utf8(`dstack-kms-genereted-keys-v1:${bytesToPlainHex(caPubkey)};${bytesToPlainHex(k256Pubkey)};`));
}

/** report_data = binding hash ‖ 32 zero bytes. */
export function bindingReportData(caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  return concatBytes(bindingHash(caPubkey, k256Pubkey), new Uint8Array(32));
}

/** Offset of report_data in a TDX quote (v4: 48 + 520; v5: 54 + 520). */
export function reportDataOffset(quote: Uint8Array): number {
  return quote[0] === 5 ? 574 : 568;
}

/** A copy of `quote` with report_data replaced. */
export function withReportData(quote: Uint8Array, reportData: Uint8Array): Uint8Array {
  const q = quote.slice();
  q.set(reportData, reportDataOffset(q));
  return q;
}

/** A copy of a v4 TDX quote rewritten as v5 with body type 2 (TD10) or 3 (TD15, 64 extra body bytes). */
export function toV5(quoteV4: Uint8Array, bodyType: 2 | 3 = 2, bodySize?: number): Uint8Array {
  const header = quoteV4.slice(0, 48);
  header[0] = 5;
  header[1] = 0;
  const body = bodyType === 2 ? quoteV4.slice(48, 632) : concatBytes(quoteV4.slice(48, 632), new Uint8Array(64).fill(0xee));
  const meta = new Uint8Array(6);
  const dv = new DataView(meta.buffer);
  dv.setUint16(0, bodyType, true);
  dv.setUint32(2, bodySize ?? body.length, true);
  return concatBytes(header, meta, body, quoteV4.slice(632));
}

/** keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2) of a v4/v5 quote, computed off chain. */
export function imageMeasurement(quote: Uint8Array): Hex {
  const body = quote[0] === 5 ? 54 : 48;
  return bytesToHex(keccak_256(concatBytes(quote.slice(body + 136, body + 184), quote.slice(body + 328, body + 472))));
}

export interface TestKms {
  caPrivateKey: Uint8Array;
  caPubkey: Uint8Array;
  k256PrivateKey: Uint8Array;
  k256Pubkey: Uint8Array;
  address: Hex;
  quote: Uint8Array;
}

/** A fresh KMS identity (P-256 CA + k256 root key) with the real quote re-bound to its keys. */
export function newKms(k256PrivateKey?: Uint8Array, baseQuote: Uint8Array = REAL_QUOTE): TestKms {
  const caPrivateKey = p256.utils.randomSecretKey();
  const caPubkey = concatBytes(SPKI_P256_PREFIX, p256.getPublicKey(caPrivateKey, false));
  const k = k256PrivateKey ?? secp256k1.utils.randomSecretKey();
  const k256Pubkey = secp256k1.getPublicKey(k, true);
  return {
    caPrivateKey,
    caPubkey,
    k256PrivateKey: k,
    k256Pubkey,
    address: ethAddress(k256Pubkey),
    quote: withReportData(baseQuote, bindingReportData(caPubkey, k256Pubkey)),
  };
}

/** Asserts that `promise` rejects with the registry custom error `name`; returns its decoded args. */
export async function expectRevert(promise: Promise<unknown>, name: string): Promise<readonly unknown[]> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected revert ${name}`).toBeDefined();
  const decoded = registryRevert(error);
  expect(decoded?.name, String((error as Error)?.message ?? error).slice(0, 400)).toBe(name);
  return decoded!.args;
}

export const hex = (b: Uint8Array): Hex => bytesToHex(b);
