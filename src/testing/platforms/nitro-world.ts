/**
 * A test AWS Nitro world: a P-384 root (standing in for AWS's Nitro Enclaves Root-G1, which it is not), a
 * regional CA and a per-document signing certificate, and NSM-shaped attestation documents (COSE_Sign1,
 * ES384 over the Sig_structure) with any PCRs, user_data, nonce or public_key. Verifying them needs
 * `rootDer: world.rootDer` (the result is then not genuine). Deliberate faults: another algorithm in the
 * protected header, critical headers, a tampered payload, a signature by another key.
 */
import { sign as cryptoSign } from "node:crypto";

import { concatBytes } from "../../core/bytes.js";
import { coseSign1SigStructure } from "../../dstack/platforms/nitro-verify.js";
import { encodeCbor, type CborInput } from "./cbor-encode.js";
import { generateP384, makePkiCert, type PkiKey } from "./pki.js";

export interface NitroWorld {
  rootDer: Uint8Array;
  caDer: Uint8Array;
  /** Unix seconds: the certificates are valid from `notBefore`. */
  notBefore: number;
  notAfter: number;
  root: PkiKey;
  ca: PkiKey;
}

export function createNitroWorld(opts: { now: number; days?: number }): NitroWorld {
  const notBefore = opts.now - 86_400;
  const notAfter = opts.now + (opts.days ?? 30) * 86_400;
  const root = generateP384();
  const ca = generateP384();
  const rootName = { cn: "test.nitro-enclaves", o: "Test", ou: "AWS", c: "US" };
  const rootDer = makePkiCert({ serial: 1, issuer: rootName, subject: rootName, notBefore, notAfter, spki: root.spki, signer: root, ca: true }).der;
  const caDer = makePkiCert({ serial: 2, issuer: rootName, subject: { cn: "region.test.nitro-enclaves", o: "Test", c: "US" }, notBefore, notAfter, spki: ca.spki, signer: root, ca: true, pathLen: 0 }).der;
  return { rootDer, caDer, notBefore, notAfter, root, ca };
}

export interface NitroDocumentOptions {
  /** Milliseconds since the epoch. */
  timestamp: number;
  moduleId?: string;
  /** PCR index → 48 bytes; default PCR0–2 of 0x11, 0x22, 0x33 (not debug mode), PCR3–15 zero. */
  pcrs?: Map<number, Uint8Array>;
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  publicKey?: Uint8Array | null;
  digest?: string;
  /** The signing certificate's validity (default the world's). */
  leafValidity?: { notBefore: number; notAfter: number };
  /** COSE alg in the protected header (default -35 ES384). */
  alg?: number;
  /** A `crit` parameter in the protected header. */
  crit?: CborInput[];
  /** Sign with a key that is not the signing certificate's. */
  wrongKey?: boolean;
  /** Change one byte of the payload after signing. */
  tamperPayload?: boolean;
  /** Wrap in COSE tag 18. */
  tagged?: boolean;
  /** Replace the cabundle (default [root, regional CA]). */
  cabundle?: Uint8Array[];
  /** An AWS Nitro TPM document: the PCRs under `nitrotpm_pcrs`. */
  tpm?: boolean;
}

/** Debug-mode PCRs: PCR0–15 all zero. */
export function debugPcrs(): Map<number, Uint8Array> {
  return new Map(Array.from({ length: 16 }, (_, i) => [i, new Uint8Array(48)] as [number, Uint8Array]));
}

function defaultPcrs(): Map<number, Uint8Array> {
  const m = debugPcrs();
  m.set(0, new Uint8Array(48).fill(0x11));
  m.set(1, new Uint8Array(48).fill(0x22));
  m.set(2, new Uint8Array(48).fill(0x33));
  return m;
}

/** An NSM attestation document of this world, signed by a fresh per-document certificate. */
export function makeNitroDocument(w: NitroWorld, o: NitroDocumentOptions): Uint8Array {
  const leaf = generateP384();
  const validity = o.leafValidity ?? { notBefore: Math.floor(o.timestamp / 1000) - 60, notAfter: Math.floor(o.timestamp / 1000) + 3 * 3600 };
  const leafDer = makePkiCert({ serial: 3, issuer: { cn: "region.test.nitro-enclaves", o: "Test", c: "US" }, subject: { cn: "i-test-enc.test", o: "Test", c: "US" }, ...validity, spki: leaf.spki, signer: w.ca, ca: false, keyUsage: ["digitalSignature"] }).der;
  const doc = new Map<string, CborInput>([
    ["module_id", o.moduleId ?? "i-0123456789abcdef0-enc0123456789abcdef"],
    ["digest", o.digest ?? "SHA384"],
    ["timestamp", o.timestamp],
    [o.tpm ? "nitrotpm_pcrs" : "pcrs", o.pcrs ?? defaultPcrs()],
    ["certificate", leafDer],
    ["cabundle", o.cabundle ?? [w.rootDer, w.caDer]],
    ["public_key", o.publicKey ?? null],
    ["user_data", o.userData ?? null],
    ["nonce", o.nonce ?? null],
  ]);
  const payload = encodeCbor(doc);
  const header = new Map<number, CborInput>([[1, o.alg ?? -35]]);
  if (o.crit) header.set(2, o.crit);
  const protectedHeader = encodeCbor(header);
  const signer = o.wrongKey ? generateP384() : leaf;
  const signature = new Uint8Array(cryptoSign("sha384", coseSign1SigStructure(protectedHeader, payload), { key: signer.privateKey, dsaEncoding: "ieee-p1363" }));
  const signedPayload = o.tamperPayload ? tamper(payload) : payload;
  const cose = encodeCbor([protectedHeader, new Map(), signedPayload, signature]);
  return o.tagged ? concatBytes(Uint8Array.of(0xd2), cose) : cose;
}

/** Flip the last byte of the module id text (the payload stays valid CBOR). */
function tamper(payload: Uint8Array): Uint8Array {
  const out = Uint8Array.from(payload);
  const at = Buffer.from(out).indexOf(Buffer.from("-enc"));
  out[at + 4] = out[at + 4]! ^ 1;
  return out;
}
