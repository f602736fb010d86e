/** Key derivation in dstack: every app key, env-encrypt key and derived key is derived from a parent private key. */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { concatBytes, utf8 } from "../core/bytes.js";

/** HKDF-SHA256 with salt "RATLS", IKM = the parent private key, info = the parts concatenated; 32 bytes. */
export function deriveKey(parent: Uint8Array, ...info: (Uint8Array | string)[]): Uint8Array {
  const parts = info.map((p) => (typeof p === "string" ? utf8(p) : p));
  return hkdf(sha256, parent, utf8("RATLS"), concatBytes(...parts), 32);
}
