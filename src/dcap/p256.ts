/**
 * ECDSA P-256 / SHA-256, the only signature DCAP uses: certificates, CRLs, Intel's signed JSON, the QE
 * report and the quote itself. Checked with `node:crypto`, which accepts high-S signatures as Intel's
 * verifier does. Keys are DER SubjectPublicKeyInfo; the quote's attestation key (raw x‖y) is wrapped
 * into one with `spkiFromRawP256`.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";

import { hexToBytes } from "../core/bytes.js";
import { bytesKey, type VerificationCache } from "./cache.js";

/** DER SubjectPublicKeyInfo of a P-256 key: this fixed 26-byte prefix, then the 65-byte uncompressed point. */
export const P256_SPKI_PREFIX = hexToBytes("3059301306072a8648ce3d020106082a8648ce3d030107034200", "P-256 SPKI prefix");

/** KeyObject from an SPKI DER; undefined when node cannot import it. */
export function keyFromSpki(spki: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

/** SPKI for a raw 64-byte P-256 point x‖y. */
export function spkiFromRawP256(xy: Uint8Array): Uint8Array {
  const out = new Uint8Array(P256_SPKI_PREFIX.length + 65);
  out.set(P256_SPKI_PREFIX, 0);
  out[P256_SPKI_PREFIX.length] = 4;
  out.set(xy, P256_SPKI_PREFIX.length + 1);
  return out;
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * ECDSA P-256 / SHA-256 check. `encoding` "der" for X.509/CRL signatures, "raw" for r‖s.
 * Returns false for any malformed key or signature (never throws).
 */
export function verifyP256(spki: Uint8Array, message: Uint8Array, signature: Uint8Array, encoding: "der" | "raw", cache?: VerificationCache): boolean {
  if (cache) {
    // the encoding is part of the key: the same bytes read as DER and as r‖s are different signatures
    const k = `${encoding}:${cache.sigKey(spki, message, signature)}`;
    const hit = cache.signatures.get(k);
    if (hit !== undefined) return hit;
    const ok = verifyP256Uncached(spki, message, signature, encoding, cache);
    cache.remember(cache.signatures, k, ok);
    return ok;
  }
  return verifyP256Uncached(spki, message, signature, encoding, undefined);
}

/** True when `spki` is an EC P-256 SubjectPublicKeyInfo (uncompressed or compressed point): a byte comparison, no key import. */
export function isP256Spki(spki: Uint8Array): boolean {
  const n = P256_SPKI_PREFIX.length;
  if (spki.length === n + 65) {
    for (let i = 0; i < n; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
    return spki[n] === 4;
  }
  if (spki.length === n + 33) {
    // 3039 3013 …(same algorithm)… 0322 00 02|03 x
    if (spki[0] !== 0x30 || spki[1] !== 0x39 || spki[n - 3] !== 0x03 || spki[n - 2] !== 0x22 || spki[n - 1] !== 0x00) return false;
    for (let i = 2; i < n - 3; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
    return spki[n] === 2 || spki[n] === 3;
  }
  return false;
}

function verifyP256Uncached(spki: Uint8Array, message: Uint8Array, signature: Uint8Array, encoding: "der" | "raw", cache: VerificationCache | undefined): boolean {
  if (encoding === "raw" && signature.length !== 64) return false;
  if (!isP256Spki(spki)) return false;
  let key: KeyObject | undefined;
  if (cache) {
    const kk = bytesKey(spki);
    key = cache.keys.get(kk);
    if (!key) {
      key = keyFromSpki(spki);
      if (key) cache.remember(cache.keys, kk, key);
    }
  } else key = keyFromSpki(spki);
  if (!key) return false;
  try {
    return cryptoVerify("sha256", buf(message), { key, dsaEncoding: encoding === "raw" ? "ieee-p1363" : "der" }, buf(signature));
  } catch {
    return false;
  }
}
