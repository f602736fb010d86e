import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { concatBytes, utf8 } from "../core/bytes.js";

/** dstack `ra-tls/src/kdf.rs`: HKDF-SHA256 with salt "RATLS", IKM = parent private key, info = parts concatenated. */
export function deriveKey(parent: Uint8Array, ...info: (Uint8Array | string)[]): Uint8Array {
  const parts = info.map((p) => (typeof p === "string" ? utf8(p) : p));
  return hkdf(sha256, parent, utf8("RATLS"), concatBytes(...parts), 32);
}
