/**
 * A minimal DER writer: the TLVs the forge's certificates and CRLs are made of. Lengths use the short
 * form below 128 bytes and the minimal long form above; integers are minimal two's complement.
 */
import { concatBytes, utf8 } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a single-byte tag. */
export function derTlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  return concatBytes(Uint8Array.of(tag), derLength(body.length), body);
}

/** DER SEQUENCE of the given encodings (exported as `derSequence` with `derOid` for building extension values in tests). */
export const derSeq = (...items: Uint8Array[]): Uint8Array => derTlv(0x30, ...items);
export { derSeq as derSequence };
export const derSet = (...items: Uint8Array[]): Uint8Array => derTlv(0x31, ...items);
export const derOctets = (b: Uint8Array): Uint8Array => derTlv(0x04, b);
export const derBool = (v: boolean): Uint8Array => derTlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
export const derUtf8 = (s: string): Uint8Array => derTlv(0x0c, utf8(s));
export const derPrintable = (s: string): Uint8Array => derTlv(0x13, utf8(s));
/** A context-specific constructed tag `[n]`. */
export const derExplicit = (n: number, ...items: Uint8Array[]): Uint8Array => derTlv(0xa0 | n, ...items);
export const derBitString = (b: Uint8Array, unused = 0): Uint8Array => derTlv(0x03, Uint8Array.of(unused), b);

/** Minimal two's-complement content octets of a non-negative integer (bytes: leading zeros dropped). */
export function uintContent(value: bigint | number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.slice(i);
    if (bytes.length === 0) bytes = Uint8Array.of(0);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new UsageError("forge: negative DER integer");
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Uint8Array.from(out);
  }
  return (bytes[0] ?? 0) & 0x80 ? concatBytes(Uint8Array.of(0), bytes) : bytes;
}
export const derInt = (v: bigint | number | Uint8Array): Uint8Array => derTlv(0x02, uintContent(v));
export const derEnum = (v: number): Uint8Array => derTlv(0x0a, uintContent(v));

export function derOid(oid: string): Uint8Array {
  const parts = oid.split(".").map((p) => BigInt(p));
  const [a, b, ...rest] = parts;
  if (a === undefined || b === undefined) throw new UsageError(`forge: bad OID ${oid}`);
  const out: number[] = [Number(a * 40n + b)];
  for (const p of rest) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] ?? 0) | 0x80;
    out.push(...groups);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/** X.509 time: UTCTime (two-digit year) from 1950 to 2049, GeneralizedTime otherwise. */
export function derTime(unixSeconds: number): Uint8Array {
  const iso = new Date(unixSeconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const y = Number(iso.slice(0, 4));
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  if (y >= 1950 && y < 2050) return derTlv(0x17, utf8(`${digits.slice(2)}Z`));
  return derTlv(0x18, utf8(`${digits}Z`));
}
