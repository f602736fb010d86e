/**
 * A small CBOR (RFC 8949) writer for test documents: unsigned and negative integers, byte and text strings,
 * arrays, maps (a `Map` keeps its key order; a plain object's keys are text), null, booleans and tags —
 * definite lengths only, as the NSM writes them.
 */
import { concatBytes } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";

export type CborInput = number | bigint | string | boolean | null | Uint8Array | CborInput[] | Map<number | string, CborInput> | { tag: number; value: CborInput } | { [k: string]: CborInput };

function head(major: number, n: number | bigint): Uint8Array {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return Uint8Array.of(m | Number(v));
  if (v < 0x100n) return Uint8Array.of(m | 24, Number(v));
  if (v < 0x10000n) return Uint8Array.of(m | 25, Number(v >> 8n), Number(v & 0xffn));
  if (v < 0x100000000n) return Uint8Array.of(m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)));
  return Uint8Array.of(m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)));
}

export function encodeCbor(v: CborInput): Uint8Array {
  if (v === null) return Uint8Array.of(0xf6);
  if (v === true) return Uint8Array.of(0xf5);
  if (v === false) return Uint8Array.of(0xf4);
  if (typeof v === "number" || typeof v === "bigint") {
    if (typeof v === "number" && !Number.isInteger(v)) throw new UsageError("cbor: only integers are written");
    const b = BigInt(v);
    return b >= 0n ? head(0, b) : head(1, -1n - b);
  }
  if (typeof v === "string") {
    const b = new TextEncoder().encode(v);
    return concatBytes(head(3, b.length), b);
  }
  if (v instanceof Uint8Array) return concatBytes(head(2, v.length), v);
  if (Array.isArray(v)) return concatBytes(head(4, v.length), ...v.map(encodeCbor));
  if (v instanceof Map) return concatBytes(head(5, v.size), ...[...v].flatMap(([k, x]) => [encodeCbor(k), encodeCbor(x)]));
  if (typeof v.tag === "number" && "value" in v && Object.keys(v).length === 2) return concatBytes(head(6, v.tag as number), encodeCbor(v.value as CborInput));
  const entries = Object.entries(v);
  return concatBytes(head(5, entries.length), ...entries.flatMap(([k, x]) => [encodeCbor(k), encodeCbor(x)]));
}
