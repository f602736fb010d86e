/**
 * What the forge's parts share: the frame of a world (time, TEE, CA, seed), byte options given as bytes
 * or hex, the little-endian integers of a quote, and the upper-case hex of the signed JSON.
 */
import { bytesToHex, hexToBytes } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";

/** Anything a byte option accepts: bytes or hex text (with or without `0x`). */
export type BytesLike = Uint8Array | string;

export type ForgeTee = "tdx" | "sgx";
export type ForgeCa = "platform" | "processor";

/** The settings every part of a world is made under. */
export interface WorldFrame {
  /** Reference time, unix seconds. */
  now: number;
  tee: ForgeTee;
  ca: ForgeCa;
  /** Seed of every key, serial and signature; undefined: random. */
  seed: Uint8Array | undefined;
}

export const DAY = 86_400;

/** A byte option: `fallback` when absent, else the bytes (hex decoded), of exactly `len` bytes when given. */
export function optionBytes(value: BytesLike | undefined, field: string, len: number | undefined, fallback: Uint8Array): Uint8Array {
  if (value === undefined) return fallback;
  const out = typeof value === "string" ? hexToBytes(value, field) : value;
  if (len !== undefined && out.length !== len) throw new UsageError(`forge: ${field} must be ${len} bytes, got ${out.length}`);
  return out;
}

/** A byte option of at most `len` bytes, zero-padded on the right to `len`. */
export function padRight(value: BytesLike | undefined, field: string, len: number): Uint8Array {
  const raw = value === undefined ? new Uint8Array(0) : typeof value === "string" ? hexToBytes(value, field) : value;
  if (raw.length > len) throw new UsageError(`forge: ${field} must be at most ${len} bytes, got ${raw.length}`);
  const out = new Uint8Array(len);
  out.set(raw);
  return out;
}

/** Upper-case hex without `0x`, the byte format of TCB Info and QE Identity. */
export function upperHex(bytes: Uint8Array): string {
  return bytesToHex(bytes).slice(2).toUpperCase();
}

export function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
}

export function u32le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}
