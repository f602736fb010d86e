/**
 * Bytes ⇄ text. The only module that decodes strings into bytes: hex (with or without `0x`, any
 * case, optional whitespace) and base64 (standard or URL-safe, padded or not).
 */
import { InputError } from "./errors.js";

export type Hex = `0x${string}`;

const HEX_RE = /^[0-9a-fA-F]*$/;
const B64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
const WS_RE = /\s+/g;

/** Describe a value for an error message without echoing a huge or secret string. */
function describe(s: string): string {
  return s.length <= 16 ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, 12))}… (${s.length} chars)`;
}

/**
 * Decode hex text. Accepts an optional `0x`/`0X` prefix, either case and (with `allowWhitespace`,
 * the default) whitespace anywhere. Throws `InputError` (`BAD_HEX`) naming `field`.
 */
export function hexToBytes(text: string, field = "value", opts: { allowWhitespace?: boolean } = {}): Uint8Array {
  if (typeof text !== "string") throw new InputError("BAD_HEX", `${field}: expected a hex string, got ${typeof text}`);
  let s = opts.allowWhitespace === false ? text : text.replace(WS_RE, "");
  if (s.startsWith("0x") || s.startsWith("0X")) s = s.slice(2);
  if (!HEX_RE.test(s)) {
    const bad = s.search(/[^0-9a-fA-F]/);
    throw new InputError("BAD_HEX", `${field}: not hex (invalid character ${JSON.stringify(s[bad])} at position ${bad})`, {
      details: { field, position: bad },
    });
  }
  if (s.length % 2 !== 0) {
    throw new InputError("BAD_HEX", `${field}: hex has an odd number of digits (${s.length})`, { details: { field } });
  }
  return Uint8Array.from(Buffer.from(s, "hex"));
}

/** `0x`-prefixed lower-case hex. */
export function bytesToHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** Lower-case hex without prefix (dstack's wire format). */
export function bytesToPlainHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function isHexText(text: string): boolean {
  let s = text.replace(WS_RE, "");
  if (s.startsWith("0x") || s.startsWith("0X")) s = s.slice(2);
  return s.length % 2 === 0 && HEX_RE.test(s);
}

/** Decode base64 (standard or URL-safe alphabet, padding optional). Throws `InputError` (`BAD_BASE64`). */
export function base64ToBytes(text: string, field = "value"): Uint8Array {
  const s = text.replace(WS_RE, "");
  if (!B64_RE.test(s) || s.length % 4 === 1) {
    throw new InputError("BAD_BASE64", `${field}: not base64 (${describe(s)})`, { details: { field } });
  }
  return Uint8Array.from(Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Decode a byte field that may be hex (with or without `0x`) or base64, as dstack outputs and the
 * tutorials show both. `0x…` is always hex. Text that is valid hex is read as hex unless
 * `expectedLength` says otherwise and base64 fits; otherwise base64 is tried.
 */
export function decodeBytesField(text: string, field: string, expectedLength?: number): Uint8Array {
  if (typeof text !== "string") {
    throw new InputError("BAD_ENCODING", `${field}: expected a hex or base64 string, got ${text === null ? "null" : typeof text}`, {
      details: { field },
    });
  }
  const s = text.replace(WS_RE, "");
  if (s.startsWith("0x") || s.startsWith("0X")) return hexToBytes(s, field);
  if (isHexText(s)) {
    const hex = hexToBytes(s, field);
    if (expectedLength === undefined || hex.length === expectedLength) return hex;
    try {
      const b64 = base64ToBytes(s, field);
      if (b64.length === expectedLength) return b64;
    } catch {
      /* fall through: report the hex reading */
    }
    return hex;
  }
  try {
    return base64ToBytes(s, field);
  } catch {
    throw new InputError("BAD_ENCODING", `${field}: neither hex nor base64 (${describe(s)})`, { details: { field } });
  }
}

/** Constant-structure byte equality (not secret-safe timing; used for public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
