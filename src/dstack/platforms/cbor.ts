/**
 * A small, bounded CBOR (RFC 8949) reader for the documents attestation platforms sign (an AWS Nitro
 * COSE_Sign1 document and its payload, whose map is of indefinite length). Arrays and maps of definite
 * or indefinite length; byte and text strings of definite length only, text strictly UTF-8 (the NSM writes
 * no chunked strings, and the registry's on-chain reader accepts none); integers up to 2^53 (larger ones
 * are bigint); no floats (the NSM writes none, and a float would read as an integer); maps keep their keys
 * (integers or text) in a `Map`; tags wrap their content. Every length is
 * checked against the input and nesting is limited, so a malformed document is a `CborError` naming the
 * offset, never a crash, a hang or a large allocation.
 */
import { InputError } from "../../core/errors.js";

export class CborError extends InputError {}

export type CborValue = number | bigint | string | boolean | null | undefined | Uint8Array | CborValue[] | Map<CborKey, CborValue> | CborTagged;
export type CborKey = number | bigint | string;
export interface CborTagged {
  tag: number;
  value: CborValue;
}

const MAX_DEPTH = 16;
const MAX_ITEMS = 100_000;

export function decodeCbor(bytes: Uint8Array, what: string): CborValue {
  const r = new CborReader(bytes, what);
  const v = r.item(0);
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} bytes after the CBOR item`);
  return v;
}

class CborReader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {}

  fail(message: string): never {
    throw new CborError("CBOR_MALFORMED", `${this.what}: CBOR at offset ${this.pos}: ${message}`, { details: { offset: this.pos } });
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) this.fail(`needs ${n} bytes, only ${this.buf.length - this.pos} remain`);
  }

  private argument(info: number): number | bigint {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) this.fail(info === 31 ? "an indefinite length is not allowed here" : `reserved additional information ${info}`);
    this.need(size);
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.buf[this.pos++]!);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private length(info: number, unit: number): number {
    const n = this.argument(info);
    if (typeof n === "bigint" || n * unit > this.buf.length - this.pos) this.fail(`length ${String(n)} does not fit in the remaining ${this.buf.length - this.pos} bytes`);
    return n;
  }

  /** True (and the break byte consumed) when an indefinite-length item ends here. */
  private atBreak(): boolean {
    this.need(1);
    if (this.buf[this.pos] !== 0xff) return false;
    this.pos++;
    return true;
  }

  private text(raw: Uint8Array, start: number): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      this.pos = start;
      return this.fail("text string is not valid UTF-8");
    }
  }

  private mapEntry(out: Map<CborKey, CborValue>, depth: number): void {
    const keyAt = this.pos;
    const k = this.item(depth + 1);
    if (typeof k !== "number" && typeof k !== "bigint" && typeof k !== "string") {
      this.pos = keyAt;
      this.fail("map key is not an integer or a text string");
    }
    if (out.has(k)) {
      this.pos = keyAt;
      this.fail(`duplicate map key ${String(k)}`);
    }
    out.set(k, this.item(depth + 1));
  }

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    this.need(1);
    const b = this.buf[this.pos++]!;
    const major = b >> 5;
    const info = b & 0x1f;
    if (info === 31 && major >= 2 && major <= 5) return this.indefinite(major, depth);
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        return typeof n === "bigint" ? -1n - n : -1 - n;
      }
      case 2: {
        const n = this.length(info, 1);
        const v = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case 3: {
        const n = this.length(info, 1);
        const start = this.pos;
        this.pos += n;
        return this.text(this.buf.subarray(start, start + n), start);
      }
      case 4: {
        const n = this.length(info, 1);
        if (n > MAX_ITEMS) this.fail(`array of ${n} items is too large`);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(info, 2);
        if (n > MAX_ITEMS) this.fail(`map of ${n} entries is too large`);
        const out = new Map<CborKey, CborValue>();
        for (let i = 0; i < n; i++) this.mapEntry(out, depth);
        return out;
      }
      case 6: {
        const tag = this.argument(info);
        if (typeof tag === "bigint") this.fail("tag number is too large");
        return { tag, value: this.item(depth + 1) };
      }
      default:
        return this.simple(info);
    }
  }

  /** An indefinite-length array or map (bounded by the input: every item takes at least one byte). */
  private indefinite(major: number, depth: number): CborValue {
    if (major === 2 || major === 3) {
      this.pos--;
      this.fail(`an indefinite-length (chunked) ${major === 2 ? "byte" : "text"} string is not read`);
    }
    if (major === 4) {
      const out: CborValue[] = [];
      while (!this.atBreak()) {
        if (out.length >= MAX_ITEMS) this.fail(`array of more than ${MAX_ITEMS} items`);
        out.push(this.item(depth + 1));
      }
      return out;
    }
    const out = new Map<CborKey, CborValue>();
    while (!this.atBreak()) {
      if (out.size >= MAX_ITEMS) this.fail(`map of more than ${MAX_ITEMS} entries`);
      this.mapEntry(out, depth);
    }
    return out;
  }

  private simple(info: number): CborValue {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    if (info >= 25 && info <= 27) {
      this.pos--;
      this.fail("a floating-point number is not read");
    }
    return this.fail(`unsupported simple value ${info}`);
  }
}
