/**
 * AWS Nitro attestation documents (a Nitro Enclave's NSM document, an EC2 NitroTPM document): a
 * COSE_Sign1 structure `[protected, unprotected, payload, signature]` (optionally CBOR tag 18) whose
 * payload is a CBOR map {module_id, digest, timestamp, pcrs, certificate, cabundle, public_key?,
 * user_data?, nonce?} (a NitroTPM document carries its PCRs as `nitrotpm_pcrs`). Decoding only: the
 * signature and the certificate chain are not checked here.
 */
import { bytesToHex, type Hex } from "../../core/bytes.js";
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
