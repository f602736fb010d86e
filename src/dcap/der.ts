/**
 * A strict DER reader: tag-length-value elements, their children, OBJECT IDENTIFIERs, unsigned
 * INTEGERs, BIT STRINGs and the two ASN.1 time types. Only low tag numbers and definite lengths of at
 * most four bytes are accepted, and an element may never run past the end of the one enclosing it.
 *
 * Every decoding problem is an `InputError` with code `BAD_DER` naming what was being read; never
 * another exception.
 */
import { InputError } from "../core/errors.js";

/** One element: where it starts, where its content starts and where it ends. */
export interface Tlv {
  tag: number;
  /** start of the TLV (tag byte) */
  start: number;
  /** start of the content octets */
  cStart: number;
  /** end of the content octets (= end of the TLV) */
  end: number;
}

export function derError(what: string, message: string): InputError {
  return new InputError("BAD_DER", `${what}: ${message}`, { details: { what } });
}

/** Read one TLV at `pos` that must end by `limit`. Only low tag numbers, definite lengths ≤ 4 bytes. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, what: string): Tlv {
  if (pos + 2 > limit) throw derError(what, "truncated DER");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw derError(what, "high-tag-number form not supported");
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw derError(what, n === 0 ? "indefinite length not allowed in DER" : "length too large");
    if (p + n > limit) throw derError(what, "truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (len > limit - p) throw derError(what, `length ${len} runs past the end`);
  return { tag, start: pos, cStart: p, end: p + len };
}

/** `t` itself when its tag is `tag`, else `BAD_DER`. */
export function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw derError(what, `expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** Children of a constructed TLV. */
export function children(buf: Uint8Array, t: Tlv, what: string): Tlv[] {
  const out: Tlv[] = [];
  let p = t.cStart;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end, what);
    out.push(c);
    p = c.end;
    if (out.length > 100_000) throw derError(what, "too many elements");
  }
  return out;
}

/** Dotted OID from the content of an OBJECT IDENTIFIER TLV. */
export function oidToString(buf: Uint8Array, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.cStart; i < t.end; i++) {
    const b = buf[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Unsigned big-endian integer value of an INTEGER/ENUMERATED content (≤ 2^53). */
export function uintValue(buf: Uint8Array, t: Tlv, what: string): number {
  if (t.end === t.cStart) throw derError(what, "empty INTEGER");
  if (buf[t.cStart]! & 0x80) throw derError(what, "negative INTEGER");
  let v = 0;
  for (let i = t.cStart; i < t.end; i++) {
    v = v * 256 + buf[i]!;
    if (v > Number.MAX_SAFE_INTEGER) throw derError(what, "INTEGER too large");
  }
  return v;
}

/** The content of a BIT STRING without unused bits (the leading unused-bits byte must be 0). */
export function bitStringBytes(buf: Uint8Array, t: Tlv, what: string): Uint8Array {
  expectTag(t, 0x03, what);
  if (t.end - t.cStart < 1 || buf[t.cStart] !== 0) throw derError(what, "BIT STRING with unused bits");
  return buf.subarray(t.cStart + 1, t.end);
}

const latin1Decoder = /* @__PURE__ */ new TextDecoder("latin1");

/** Bytes as a latin1 string: one character per byte (exact, so usable as a key). */
export function latin1(b: Uint8Array): string {
  return latin1Decoder.decode(b);
}

/** UTCTime / GeneralizedTime → unix seconds. */
export function readTime(buf: Uint8Array, t: Tlv, what: string): number {
  const s = latin1(buf.subarray(t.cStart, t.end));
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw derError(what, `bad UTCTime ${JSON.stringify(s)}`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) throw derError(what, `bad GeneralizedTime ${JSON.stringify(s)}`);
    year = Number(m[1]);
  } else throw derError(what, `expected a time, got tag 0x${t.tag.toString(16)}`);
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw derError(what, `invalid date ${JSON.stringify(s)}`);
  }
  return ms / 1000;
}
