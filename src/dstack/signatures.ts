/**
 * Messages and signatures made by a dstack KMS root k256 key and by app keys, checked off chain: A (an app
 * key issued by the KMS), B and C (an app's env-encrypt key, without and with a timestamp) and D (a key
 * derived by an app).
 *
 * All recoverable signatures are 65 bytes r‖s‖v over keccak256(message) (no EIP-191 prefix). dstack emits
 * v ∈ {0,1}; we also accept 27/28. High-s signatures are rejected (dstack normalises to low-s, and the
 * on-chain views reject them too, so off-chain and on-chain answers agree).
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToPlainHex, concatBytes, utf8, type Hex, bytesToHex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";

const APP_KEY_TAG = utf8("dstack-kms-issued:");
const ENV_KEY_TAG = utf8("dstack-env-encrypt-pubkey:");
const N = secp256k1.Point.CURVE().n;
const HALF_N = N >> 1n;

function expectLength(bytes: Uint8Array, n: number, field: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== n) {
    throw new InputError("BAD_LENGTH", `${field}: expected ${n} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`, {
      details: { field, expected: n },
    });
  }
}

/** A: `"dstack-kms-issued:" ‖ appId (20) ‖ appPubkey (33 compressed)` — 71 bytes. */
export function appKeyMessage(appId: Uint8Array, appPubkey: Uint8Array): Uint8Array {
  expectLength(appId, 20, "appId");
  expectLength(appPubkey, 33, "appPubkey");
  return concatBytes(APP_KEY_TAG, appId, appPubkey);
}

/** B (legacy): `"dstack-env-encrypt-pubkey:" ‖ appId (20) ‖ X25519 public key (32)`. */
export function envEncryptMessage(appId: Uint8Array, publicKey: Uint8Array): Uint8Array {
  expectLength(appId, 20, "appId");
  expectLength(publicKey, 32, "publicKey");
  return concatBytes(ENV_KEY_TAG, appId, publicKey);
}

/** C (v1): `"dstack-env-encrypt-pubkey:" ‖ appId (20) ‖ timestamp (u64 big-endian) ‖ X25519 public key (32)`. */
export function envEncryptMessageV1(appId: Uint8Array, timestamp: bigint | number, publicKey: Uint8Array): Uint8Array {
  expectLength(appId, 20, "appId");
  expectLength(publicKey, 32, "publicKey");
  if (typeof timestamp === "number" && !Number.isSafeInteger(timestamp)) {
    throw new InputError("BAD_TIMESTAMP", `timestamp must be a whole number of seconds, got ${timestamp}`);
  }
  if (typeof timestamp !== "number" && typeof timestamp !== "bigint") {
    throw new InputError("BAD_TIMESTAMP", `timestamp must be a number or bigint, got ${typeof timestamp}`);
  }
  const ts = BigInt(timestamp);
  if (ts < 0n || ts >= 1n << 64n) throw new InputError("BAD_TIMESTAMP", `timestamp out of u64 range: ${ts}`);
  const t = new Uint8Array(8);
  new DataView(t.buffer).setBigUint64(0, ts, false);
  return concatBytes(ENV_KEY_TAG, appId, t, publicKey);
}

/** D: ASCII `"{purpose}:{lowerhex(derivedPubkey)}"`, signed by the app key. */
export function keyChainMessage(purpose: string, derivedPubkey: Uint8Array): Uint8Array {
  return utf8(`${purpose}:${bytesToPlainHex(derivedPubkey)}`);
}

export function keccak256(bytes: Uint8Array): Uint8Array {
  return keccak_256(bytes);
}

/** Sign keccak256(message) the way dstack does: RFC 6979, low-s, 65 bytes r‖s‖v with v ∈ {0,1}. */
export function signMessage(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  expectLength(privateKey, 32, "privateKey");
  let sig: Uint8Array;
  try {
    sig = secp256k1.sign(keccak_256(message), privateKey, { prehash: false, lowS: true, format: "recovered" });
  } catch (e) {
    // zero or ≥ n; never echo the key
    throw new InputError("BAD_PRIVATE_KEY", "privateKey: not a valid secp256k1 scalar", { cause: e });
  }
  // noble's "recovered" format is v ‖ r ‖ s; dstack's is r ‖ s ‖ v
  return concatBytes(sig.subarray(1, 65), Uint8Array.of(sig[0]!));
}

/**
 * Recover the 33-byte compressed public key from a 65-byte r‖s‖v signature over keccak256(message).
 * Returns `null` for malformed, high-s or unrecoverable signatures (never throws on bad signatures).
 */
export function recoverPublicKey(message: Uint8Array, signature: Uint8Array): Uint8Array | null {
  return recoverFromDigest(keccak_256(message), signature);
}

export function recoverFromDigest(digest: Uint8Array, signature: Uint8Array): Uint8Array | null {
  if (!(signature instanceof Uint8Array) || signature.length !== 65 || digest.length !== 32) return null;
  let v = signature[64]!;
  if (v === 27 || v === 28) v -= 27;
  if (v !== 0 && v !== 1) return null;
  const r = BigInt(bytesToHex(signature.subarray(0, 32)));
  const s = BigInt(bytesToHex(signature.subarray(32, 64)));
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return null;
  try {
    const noble = concatBytes(Uint8Array.of(v), signature.subarray(0, 64));
    return secp256k1.recoverPublicKey(noble, digest, { prehash: false });
  } catch {
    return null;
  }
}

/** Compressed (33-byte) form of a secp256k1 public key given compressed or uncompressed. */
export function compressPublicKey(pubkey: Uint8Array): Uint8Array {
  try {
    return secp256k1.Point.fromBytes(pubkey).toBytes(true);
  } catch (e) {
    throw new InputError("BAD_PUBKEY", `not a secp256k1 public key (${pubkey.length} bytes)`, { cause: e });
  }
}

export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  expectLength(privateKey, 32, "privateKey");
  try {
    return secp256k1.getPublicKey(privateKey, true);
  } catch (e) {
    throw new InputError("BAD_PRIVATE_KEY", "not a valid secp256k1 scalar", { cause: e });
  }
}

/** Ethereum address (EIP-55 not applied; lower-case) of a secp256k1 public key, compressed or uncompressed. */
export function ethAddress(pubkey: Uint8Array): Hex {
  let point;
  try {
    point = secp256k1.Point.fromBytes(pubkey);
  } catch (e) {
    throw new InputError("BAD_PUBKEY", `not a secp256k1 public key (${pubkey.length} bytes)`, { cause: e });
  }
  const uncompressed = point.toBytes(false);
  return bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12));
}

/** Signer address of a 65-byte signature over keccak256(message), or null. */
export function recoverAddress(message: Uint8Array, signature: Uint8Array): Hex | null {
  const pub = recoverPublicKey(message, signature);
  return pub ? ethAddress(pub) : null;
}

/**
 * Verify a GetKey signature chain [D, A] against an app id — D: the app key signed the derived key, A: the
 * KMS root key signed the app key. Returns the recovered app key and KMS key (compressed), or null if either
 * signature does not recover.
 */
export function verifyKeyChainOffChain(args: {
  appId: Uint8Array;
  purpose: string;
  derivedPubkey: Uint8Array;
  derivedSignature: Uint8Array;
  appSignature: Uint8Array;
}): { appPubkey: Uint8Array; kmsPubkey: Uint8Array; kmsAddress: Hex } | null {
  const appPubkey = recoverPublicKey(keyChainMessage(args.purpose, args.derivedPubkey), args.derivedSignature);
  if (!appPubkey) return null;
  const kmsPubkey = recoverPublicKey(appKeyMessage(args.appId, appPubkey), args.appSignature);
  if (!kmsPubkey) return null;
  return { appPubkey, kmsPubkey, kmsAddress: ethAddress(kmsPubkey) };
}
