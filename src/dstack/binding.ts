/**
 * The KMS key binding: a dstack KMS puts
 *   keccak256("dstack-kms-genereted-keys-v1:" + hex(ca_pubkey) + ";" + hex(k256_pubkey) + ";") ‖ 32 zero bytes
 * into its bootstrap quote's report_data, so the quote vouches for exactly this pair of root keys. `genereted` is dstack's spelling and part of the protocol;
 * hex is lower case without `0x`, and the trailing `;` is included.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesEqual, bytesToHex, bytesToPlainHex, concatBytes, utf8, type Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { P256_SPKI_PREFIX } from "../dcap/p256.js";

export const KMS_BINDING_TAG = "dstack-kms-genereted-keys-v1:";
export const CA_PUBKEY_LENGTH = 91;
export const K256_PUBKEY_LENGTH = 33;

/**
 * Throws `InputError` `BAD_CA_PUBKEY` unless `spki` has the shape of a KMS root CA key: a 91-byte P-256
 * SubjectPublicKeyInfo (DER) with an uncompressed point. `field` names the value in the message.
 */
export function assertCaPubkeyShape(spki: Uint8Array, field = "ca_pubkey"): void {
  if (!(spki instanceof Uint8Array) || spki.length !== CA_PUBKEY_LENGTH) {
    throw new InputError("BAD_CA_PUBKEY", `${field}: expected a ${CA_PUBKEY_LENGTH}-byte P-256 SubjectPublicKeyInfo (DER), got ${spki instanceof Uint8Array ? spki.length : typeof spki} bytes`, {
      details: { field, expected: CA_PUBKEY_LENGTH, ...(spki instanceof Uint8Array ? { found: spki.length } : {}) },
    });
  }
  if (!bytesEqual(spki.subarray(0, P256_SPKI_PREFIX.length), P256_SPKI_PREFIX) || spki[P256_SPKI_PREFIX.length] !== 0x04) {
    throw new InputError("BAD_CA_PUBKEY", `${field}: not a P-256 SubjectPublicKeyInfo with an uncompressed point (starts ${bytesToHex(spki.subarray(0, 8))}…)`, { details: { field } });
  }
}

/** Throws `InputError` unless `caPubkey` is a 91-byte P-256 SPKI and `k256Pubkey` a 33-byte compressed point. */
export function assertKmsPubkeyShapes(caPubkey: Uint8Array, k256Pubkey: Uint8Array): void {
  assertCaPubkeyShape(caPubkey);
  if (!(k256Pubkey instanceof Uint8Array) || k256Pubkey.length !== K256_PUBKEY_LENGTH) {
    throw new InputError("BAD_K256_PUBKEY", `k256_pubkey: expected a ${K256_PUBKEY_LENGTH}-byte compressed secp256k1 key, got ${k256Pubkey?.length ?? typeof k256Pubkey} bytes`, {
      details: { field: "k256_pubkey", expected: K256_PUBKEY_LENGTH, found: k256Pubkey?.length },
    });
  }
  if (k256Pubkey[0] !== 0x02 && k256Pubkey[0] !== 0x03) {
    throw new InputError("BAD_K256_PUBKEY", `k256_pubkey: a compressed key starts with 02 or 03, found ${bytesToHex(k256Pubkey.subarray(0, 1))}`, {
      details: { field: "k256_pubkey" },
    });
  }
}

/** The exact 279-byte ASCII message that is hashed. */
export function kmsBindingMessage(caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  assertKmsPubkeyShapes(caPubkey, k256Pubkey);
  return utf8(`${KMS_BINDING_TAG}${bytesToPlainHex(caPubkey)};${bytesToPlainHex(k256Pubkey)};`);
}

/** keccak256 of the binding message (32 bytes). */
export function kmsBindingHash(caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  return keccak_256(kmsBindingMessage(caPubkey, k256Pubkey));
}

/** The 64-byte report_data a KMS quote must carry for these keys. */
export function expectedKmsReportData(caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  return concatBytes(kmsBindingHash(caPubkey, k256Pubkey), new Uint8Array(32));
}

export interface BindingCheck {
  ok: boolean;
  expected: Hex;
  found: Hex;
  detail: string;
}

/** Compare a quote's report_data with the binding of (caPubkey, k256Pubkey); never throws for a mismatch. */
export function checkKmsBinding(reportData: Uint8Array, caPubkey: Uint8Array, k256Pubkey: Uint8Array): BindingCheck {
  const expected = expectedKmsReportData(caPubkey, k256Pubkey);
  const ok = bytesEqual(reportData, expected);
  let detail: string;
  if (ok) detail = "report_data = keccak256(\"dstack-kms-genereted-keys-v1:\" + hex(ca_pubkey) + \";\" + hex(k256_pubkey) + \";\") ‖ 0×32";
  else if (reportData.length !== 64) detail = `report_data has ${reportData.length} bytes, expected 64`;
  else if (bytesEqual(reportData.subarray(0, 32), expected.subarray(0, 32))) detail = "report_data hash matches but the last 32 bytes are not zero";
  else detail = "report_data does not bind these keys (the quote was made for other keys, or the keys were swapped)";
  return { ok, expected: bytesToHex(expected), found: bytesToHex(reportData), detail };
}
