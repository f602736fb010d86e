/**
 * A world's private keys and the bytes derived from its seed. With a seed every key, serial and byte
 * string is a hash of (seed, label), so the same seed gives the same world; without one they are random.
 * The keys live in a module-private WeakMap keyed by the world, never on the world object: printing or
 * serialising a world cannot leak them. Signatures are P-256 ECDSA with deterministic nonces (derived from key and message).
 */
import { p256 } from "@noble/curves/nist.js";
import { sha384 } from "@noble/hashes/sha2.js";

import { concatBytes, utf8 } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";

export interface KeyPair {
  sk: Uint8Array;
  /** 65-byte uncompressed point. */
  pk: Uint8Array;
}

export interface Secrets {
  seed: Uint8Array | undefined;
  root: KeyPair;
  pckCa: KeyPair;
  pckLeaf: KeyPair;
  tcbSigning: KeyPair;
  /** The extra collateral signer's key, made only when a world asks for that signer. */
  other: KeyPair | undefined;
  /** A key no certificate names: it makes the deliberately bad signatures. */
  unrelated: KeyPair;
}

export function keyFrom(seed: Uint8Array | undefined, label: string): KeyPair {
  const material = seed === undefined ? crypto.getRandomValues(new Uint8Array(48)) : sha384(concatBytes(seed, utf8(`\0forge-key\0${label}`)));
  const sk = p256.utils.randomSecretKey(material);
  return { sk, pk: p256.getPublicKey(sk, false) };
}

export function bytesFrom(seed: Uint8Array | undefined, label: string, n: number): Uint8Array {
  if (seed === undefined) return crypto.getRandomValues(new Uint8Array(n));
  const blocks: Uint8Array[] = [];
  for (let i = 0; i * 48 < n; i++) blocks.push(sha384(concatBytes(seed, utf8(`\0forge-bytes\0${label}${i === 0 ? "" : `\0${i}`}`))));
  return concatBytes(...blocks).slice(0, n);
}

/** A positive 20-byte serial (first bit clear, first byte non-zero). */
export function serialFrom(seed: Uint8Array | undefined, label: string): Uint8Array {
  const s = bytesFrom(seed, `serial:${label}`, 20);
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x10;
  return s;
}

/** The keys of a new world: root, PCK CA, PCK leaf, TCB Signing and the unrelated key. */
export function newSecrets(seed: Uint8Array | undefined): Secrets {
  return {
    seed,
    root: keyFrom(seed, "root"),
    pckCa: keyFrom(seed, "pck-ca"),
    pckLeaf: keyFrom(seed, "pck-leaf"),
    tcbSigning: keyFrom(seed, "tcb-signing"),
    other: undefined,
    unrelated: keyFrom(seed, "unrelated"),
  };
}

/** ECDSA-SHA256 signature, DER-encoded (certificates, CRLs). */
export function signDer(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  return p256.sign(msg, sk, { format: "der" });
}

/** ECDSA-SHA256 signature, raw `r‖s` (quotes, QE reports, TCB Info, QE Identity). */
export function signRaw(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  return p256.sign(msg, sk);
}

const SECRETS = new WeakMap<object, Secrets>();

export function keepSecrets(world: object, secrets: Secrets): void {
  SECRETS.set(world, secrets);
}

export function secretsOf(world: object): Secrets {
  const s = SECRETS.get(world);
  if (s === undefined) throw new UsageError("forge: not a world made by createForgeWorld (its keys are unknown)");
  return s;
}
