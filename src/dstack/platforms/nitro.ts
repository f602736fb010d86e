/**
 * AWS Nitro attestation documents (a Nitro Enclave's NSM document, an EC2 NitroTPM document): a
 * COSE_Sign1 structure `[protected, unprotected, payload, signature]` (optionally CBOR tag 18) whose
 * payload is a CBOR map {module_id, digest, timestamp, pcrs, certificate, cabundle, public_key?,
 * user_data?, nonce?} (a NitroTPM document carries its PCRs as `nitrotpm_pcrs`). Decoding only: the
 * signature and the certificate chain are not checked here.
 */
import { createHash } from "node:crypto";

import { bytesEqual, bytesToHex, concatBytes, hexToBytes, type Hex } from "../../core/bytes.js";
import { InputError } from "../../core/errors.js";
import { decodeCbor, type CborValue } from "./cbor.js";

export interface NitroDocument {
  /** `nitro-enclave` for an NSM document, `aws-nitro-tpm` when the PCRs are `nitrotpm_pcrs`. */
  kind: "nitro-enclave" | "aws-nitro-tpm";
  /** COSE algorithm of the protected header (-35 = ES384). */
  algorithm: number | null;
  moduleId: string;
  digest: string;
  /** Milliseconds since the Unix epoch, as the document states it. */
  timestamp: number;
  pcrs: Record<string, Hex>;
  certificate: Uint8Array;
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
  signature: Uint8Array;
  /** The COSE_Sign1 protected header and payload as signed (raw byte strings), for the Sig_structure. */
  protectedHeader: Uint8Array;
  payload: Uint8Array;
  /** The unprotected header (a map; dstack's NSM documents leave it empty). */
  unprotectedHeader: Map<unknown, CborValue>;
  /** The protected header's `crit` labels (COSE label 2), empty when absent. */
  critical: CborValue[];
}

function fail(field: string, message: string): never {
  throw new InputError("NITRO_DOCUMENT_MALFORMED", `Nitro attestation document: ${field}: ${message}`, { details: { field } });
}

/** True when the bytes start like a COSE_Sign1 array (optionally tag 18) whose first item is a byte string. */
export function looksLikeCoseSign1(b: Uint8Array): boolean {
  const at = b[0] === 0xd2 ? 1 : 0;
  return b.length > 16 && b[at] === 0x84 && b[at + 1] !== undefined && b[at + 1]! >> 5 === 2;
}

function bytesField(m: Map<unknown, CborValue>, key: string, optional: true): Uint8Array | null;
function bytesField(m: Map<unknown, CborValue>, key: string, optional?: false): Uint8Array;
function bytesField(m: Map<unknown, CborValue>, key: string, optional = false): Uint8Array | null {
  const v = m.get(key);
  if ((v === undefined || v === null) && optional) return null;
  if (!(v instanceof Uint8Array)) fail(key, v === undefined ? "missing" : "not a byte string");
  return v;
}

export function decodeNitroDocument(bytes: Uint8Array): NitroDocument {
  let root = decodeCbor(bytes, "Nitro attestation document");
  if (isTagged(root)) {
    if (root.tag !== 18) fail("COSE_Sign1", `tag ${root.tag}, expected 18`);
    root = root.value;
  }
  if (!Array.isArray(root) || root.length !== 4) fail("COSE_Sign1", "not an array of 4 items");
  const [prot, unprot, payload, signature] = root;
  if (!(prot instanceof Uint8Array)) fail("protected header", "not a byte string");
  if (!(payload instanceof Uint8Array)) fail("payload", "not a byte string");
  if (!(signature instanceof Uint8Array)) fail("signature", "not a byte string");
  if (!(unprot instanceof Map)) fail("unprotected header", "not a map");
  const header = prot.length ? decodeCbor(prot, "Nitro attestation document: protected header") : new Map();
  if (!(header instanceof Map)) fail("protected header", "not a map");
  const alg = header.get(1);
  const crit = header.get(2);
  if (crit !== undefined && !Array.isArray(crit)) fail("protected header", "crit (label 2) is not an array");
  const doc = decodeCbor(payload, "Nitro attestation document: payload");
  if (!(doc instanceof Map)) fail("payload", "not a map");
  const moduleId = doc.get("module_id");
  if (typeof moduleId !== "string") fail("module_id", "missing or not text");
  const digest = doc.get("digest");
  if (typeof digest !== "string") fail("digest", "missing or not text");
  const timestamp = doc.get("timestamp");
  if (typeof timestamp !== "number") fail("timestamp", "missing or not an unsigned integer");
  const tpm = doc.has("nitrotpm_pcrs");
  const pcrMap = doc.get(tpm ? "nitrotpm_pcrs" : "pcrs");
  if (!(pcrMap instanceof Map)) fail(tpm ? "nitrotpm_pcrs" : "pcrs", "missing or not a map");
  const pcrs: Record<string, Hex> = {};
  for (const [k, v] of pcrMap) {
    if (typeof k !== "number" || !(v instanceof Uint8Array)) fail("pcrs", "an entry is not index → byte string");
    pcrs[String(k)] = bytesToHex(v);
  }
  const cabundle = doc.get("cabundle");
  if (!Array.isArray(cabundle) || !cabundle.every((c) => c instanceof Uint8Array)) fail("cabundle", "missing or not an array of byte strings");
  return {
    kind: tpm ? "aws-nitro-tpm" : "nitro-enclave",
    algorithm: typeof alg === "number" ? alg : null,
    moduleId,
    digest,
    timestamp,
    pcrs,
    certificate: bytesField(doc, "certificate"),
    cabundle: cabundle as Uint8Array[],
    publicKey: bytesField(doc, "public_key", true),
    userData: bytesField(doc, "user_data", true),
    nonce: bytesField(doc, "nonce", true),
    signature,
    protectedHeader: prot,
    payload,
    unprotectedHeader: unprot,
    critical: crit ?? [],
  };
}

function isTagged(v: CborValue): v is { tag: number; value: CborValue } {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v) && !(v instanceof Map);
}

/** The document's fields for a report (`reportData` is its user_data; null when the document has none). */
export function nitroReportJson(d: NitroDocument): Record<string, unknown> {
  return {
    moduleId: d.moduleId,
    digest: d.digest,
    timestamp: d.timestamp,
    algorithm: d.algorithm,
    pcrs: d.pcrs,
    reportData: d.userData ? bytesToHex(d.userData) : null,
    userData: d.userData ? bytesToHex(d.userData) : null,
    nonce: d.nonce ? bytesToHex(d.nonce) : null,
    publicKey: d.publicKey ? bytesToHex(d.publicKey) : null,
    certificateLength: d.certificate.length,
    cabundleLength: d.cabundle.length,
  };
}

/** What the registry reads from a Nitro Enclave document (`nitroDocumentFields` on chain). */
export interface NitroRegistryFields {
  /** user_data[0:32] and user_data[32:64]. */
  reportDataHigh: Hex;
  reportDataLow: Hex;
  /** sha256(PCR0 ‖ PCR1 ‖ PCR2): dstack's os_image_hash, the record's image measurement. */
  image: Hex;
  /** Milliseconds since the Unix epoch. */
  timestamp: bigint;
}

/** The payload keys an NSM writes (each at most once); public_key and nonce may be absent. */
const NSM_KEYS = new Set(["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce"]);
const ES384_PROTECTED_HEADER = Uint8Array.of(0xa1, 0x01, 0x38, 0x22);
const NSM_MAX = { public_key: 1024, nonce: 512 } as const;

function headLength(b: Uint8Array, at: number): number {
  const info = (b[at] ?? 0) & 0x1f;
  return info < 24 ? 1 : 1 + (1 << (info - 24));
}

/**
 * The registry's reading of an NSM attestation document: the document decoded (`decodeNitroDocument`), then
 * held to exactly the shape AWS's NSM emits, which `KmsRegistry.registerNitro` reads on chain (the two accept
 * the same documents with the same fields; differential tests hold them equal): the one-byte tag 18 or
 * none, the array head 0x84, the protected header {1: -35} (ES384), the empty unprotected header 0xa0, a
 * 96-byte signature; payload keys among the NSM's nine, `module_id` printable ASCII and not empty, `digest`
 * "SHA384", `timestamp` 1 to 2^53 - 1, `pcrs` indexes 0–31 of 48 bytes each with PCR0–2 present, `cabundle`
 * not empty, `user_data` 64 bytes, `public_key` (≤ 1024 bytes) and `nonce` (≤ 512 bytes) byte strings or
 * null. Decoding only, like the on-chain reader: no signature or certificate check.
 */
export function nitroRegistryFields(bytes: Uint8Array): NitroRegistryFields {
  const d = decodeNitroDocument(bytes);
  const at = bytes[0] === 0xd2 ? 1 : 0;
  if (bytes[at] !== 0x84) fail("COSE_Sign1", "not the NSM's COSE_Sign1 (the one-byte tag 18 or none, then a 4-item array head 0x84)");
  if (!bytesEqual(d.protectedHeader, ES384_PROTECTED_HEADER)) fail("protected header", "not exactly {1: -35} (alg ES384)");
  if (bytes[at + 1 + headLength(bytes, at + 1) + d.protectedHeader.length] !== 0xa0) fail("unprotected header", "not the empty map 0xa0");
  if (d.signature.length !== 96) fail("signature", `${d.signature.length} bytes, expected 96 (ES384)`);
  const doc = decodeCbor(d.payload, "Nitro attestation document: payload") as Map<unknown, CborValue>;
  for (const [k, v] of doc) {
    if (typeof k !== "string" || !NSM_KEYS.has(k)) fail("payload", `key ${JSON.stringify(typeof k === "bigint" ? String(k) : k)} is not one the NSM writes`);
    if (v === undefined) fail(k, "undefined");
  }
  if (d.moduleId.length === 0 || !/^[\x20-\x7e]+$/.test(d.moduleId)) fail("module_id", "empty or not printable ASCII");
  if (d.digest !== "SHA384") fail("digest", `${JSON.stringify(d.digest)}, expected "SHA384"`);
  if (!Number.isSafeInteger(d.timestamp) || d.timestamp <= 0) fail("timestamp", "not an integer from 1 to 2^53 - 1");
  for (const k of (doc.get("pcrs") as Map<unknown, CborValue>).keys()) {
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > 31) fail("pcrs", `index ${String(k)} is not 0 to 31`);
  }
  for (const [i, v] of Object.entries(d.pcrs)) if (v.length !== 2 + 96) fail("pcrs", `PCR${i} is ${(v.length - 2) / 2} bytes, expected 48`);
  for (const i of ["0", "1", "2"]) if (d.pcrs[i] === undefined) fail(`PCR${i}`, "missing");
  if (d.cabundle.length === 0) fail("cabundle", "empty");
  for (const [k, max] of Object.entries(NSM_MAX)) {
    const v = k === "nonce" ? d.nonce : d.publicKey;
    if (v && v.length > max) fail(k, `${v.length} bytes, at most ${max}`);
  }
  if (!d.userData) fail("user_data", "missing or null (dstack's report_data is there)");
  if (d.userData.length !== 64) fail("user_data", `${d.userData.length} bytes, expected 64`);
  const pcr012 = concatBytes(...["0", "1", "2"].map((i) => hexToBytes(d.pcrs[i]!)));
  return {
    reportDataHigh: bytesToHex(d.userData.subarray(0, 32)),
    reportDataLow: bytesToHex(d.userData.subarray(32)),
    image: bytesToHex(new Uint8Array(createHash("sha256").update(pcr012).digest())),
    timestamp: BigInt(d.timestamp),
  };
}
