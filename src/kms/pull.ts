/**
 * Pull a KMS's bootstrap info from one of three sources — a live KMS (`KMS.GetMeta`), a certs dir
 * (`bootstrap-info.json`), or a JSON file (a saved Bootstrap response, a saved GetMeta answer, or a
 * normalized document) — and check what the source itself can prove (TLS pin, GetMeta cross-checks).
 */
import { X509Certificate } from "node:crypto";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";

import { bytesEqual, bytesToHex, decodeBytesField } from "../core/bytes.js";
import { errorMessage, InputError, VerificationError } from "../core/errors.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseJsonLimited } from "../core/json.js";
import type { Check } from "../dcap/types.js";
import { normalizeBootstrap, parseBootstrapFields, parseBootstrapInfo, unwrapBootstrapObject, type BootstrapInfo, type KmsMetaSummary, type NormalizedBootstrap } from "./bootstrap.js";
import { checkCertsDir, readCertsDirBootstrap, type Checklist } from "./certs-dir.js";
import { getMeta, tlsPinError, type GetMetaResult, type KmsClientOptions } from "./client.js";

export type PullSource = { kms: string; caPubkey?: Uint8Array; file?: string } | { certsDir: string; file?: string } | { file: string };

export interface PullOptions extends KmsClientOptions {
  /** Unix seconds: recorded as the pull time and used for TLS certificate validity. */
  now: number;
  /** A certs dir's expected RPC domain, for the checklist `--certs-dir DIR --file FILE` runs (`PullResult.certs`). */
  domain?: string;
}

export interface PullResult {
  info: BootstrapInfo;
  doc: NormalizedBootstrap;
  /** What the source proved (TLS pin, GetMeta cross-checks); all ok when the pull succeeded. */
  checks: Check[];
  warnings: string[];
  /** Over https: the served RPC certificate (DER), for `verifyBootstrap`'s RA-TLS checks. */
  tlsLeaf?: Uint8Array;
  /** A certs dir with a separately supplied Bootstrap answer: the dir's checklist, which tied the answer to the dir. */
  certs?: Checklist;
}

/** Read a JSON file holding bootstrap info in any accepted container. */
export async function readBootstrapFile(path: string): Promise<{ info: BootstrapInfo; meta?: Record<string, unknown> }> {
  let bytes: Uint8Array;
  try {
    bytes = await readInput(path, INPUT_KINDS.bootstrap);
  } catch (e) {
    const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
    if (isDir) throw new InputError("FILE_IS_DIRECTORY", `${path} is a directory, not a JSON file: for a KMS certs dir use --certs-dir ${path}`, { cause: e });
    throw e;
  }
  const unwrapped = unwrapBootstrapObject(parseJsonLimited(new TextDecoder().decode(bytes), path));
  const out: { info: BootstrapInfo; meta?: Record<string, unknown> } = { info: parseBootstrapFields(unwrapped.info) };
  if (unwrapped.meta) out.meta = unwrapped.meta;
  return out;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

export function summarizeMeta(meta: Record<string, unknown>, k256: Uint8Array): KmsMetaSummary {
  return {
    k256Pubkey: bytesToHex(k256),
    caCertPem: str(meta.ca_cert),
    isDev: typeof meta.is_dev === "boolean" ? meta.is_dev : null,
    allowAnyUpgrade: typeof meta.allow_any_upgrade === "boolean" ? meta.allow_any_upgrade : null,
    chainId: typeof meta.chain_id === "number" ? meta.chain_id : null,
    kmsContractAddress: str(meta.kms_contract_address),
    gatewayAppId: str(meta.gateway_app_id),
    appAuthImplementation: str(meta.app_auth_implementation),
    bootstrapInfoPresent: meta.bootstrap_info !== null && meta.bootstrap_info !== undefined,
  };
}

/** GetMeta's top-level k256_pubkey: 33 bytes, or the pre-v0.4.2 bug (32-byte PRIVATE key). */
function metaK256(meta: Record<string, unknown>, host: string): Uint8Array {
  const v = meta.k256_pubkey;
  if (typeof v !== "string") throw new InputError("KMS_META_INVALID", `KMS ${host}: GetMeta has no k256_pubkey`);
  const b = decodeBytesField(v, "GetMeta k256_pubkey", 33);
  if (b.length === 32) {
    throw new VerificationError(
      "KMS_LEAKS_PRIVATE_KEY",
      `KMS ${host}: GetMeta's k256_pubkey is 32 bytes — this KMS predates the 2025-03 fix (fc8ea4b8) and publishes its PRIVATE root key there; it must not be trusted`,
    );
  }
  if (b.length !== 33) throw new InputError("KMS_META_INVALID", `KMS ${host}: GetMeta k256_pubkey has ${b.length} bytes, expected 33`);
  return b;
}

export async function pullFromKms(src: { kms: string; caPubkey?: Uint8Array; file?: string }, opts: PullOptions): Promise<PullResult> {
  const checks: Check[] = [];
  const warnings: string[] = [];
  const r = await getMeta(src.kms, { ...opts, ...(src.caPubkey ? { caPubkey: src.caPubkey } : {}) });
  const host = new URL(r.url).host;
  const meta = r.meta;
  const k256 = metaK256(meta, host);
  const { info, from } = await bootstrapInfoOf(meta, src.file, host, warnings);
  checkK256MatchesMeta(info, k256, from, host, checks);
  checkCaCertMatches(info, meta, host, checks, warnings);
  const caPinned = checkCaPin(info, src.caPubkey, r.tls, opts.now, host, checks, warnings);
  const source = { type: "kms" as const, url: src.kms, transport: r.tls ? ("https" as const) : ("http" as const), caPinned, bootstrapInfoFrom: from, ...(src.file ? { file: resolve(src.file) } : {}) };
  const doc = normalizeBootstrap(info, source, opts.now, summarizeMeta(meta, k256));
  const out: PullResult = { info, doc, checks, warnings };
  if (r.tls) out.tlsLeaf = r.tls.peerChain[0]!;
  return out;
}

/** The bootstrap info: the `--file` given, else GetMeta's `bootstrap_info` (or GetMeta's own top-level bootstrap fields). */
async function bootstrapInfoOf(meta: Record<string, unknown>, file: string | undefined, host: string, warnings: string[]): Promise<{ info: BootstrapInfo; from: "get-meta" | "file" }> {
  if (file) {
    if (meta.bootstrap_info) warnings.push("the KMS publishes bootstrap_info, but the --file given was used instead");
    return { info: (await readBootstrapFile(file)).info, from: "file" };
  }
  if (meta.bootstrap_info === undefined && "ca_pubkey" in meta) {
    // some KMS versions answer GetMeta with the bootstrap fields at its top level
    warnings.push("GetMeta carries the bootstrap fields at its top level (as the verification tutorial shows), not in bootstrap_info");
    return { info: parseBootstrapInfo(meta), from: "get-meta" };
  }
  if (meta.bootstrap_info === null || meta.bootstrap_info === undefined) {
    throw new InputError(
      "BOOTSTRAP_INFO_NULL",
      `KMS ${host}: GetMeta's bootstrap_info is null — this KMS was auto-bootstrapped (core.onboard.auto_bootstrap_domain) or is a replica created with Onboard, so it never wrote bootstrap-info.json. Supply the saved Onboard.Bootstrap response of the original KMS with --file FILE (its keys are cross-checked against this KMS)`,
    );
  }
  return { info: parseBootstrapInfo(meta.bootstrap_info), from: "get-meta" };
}

/** `kms.k256-matches-meta`: the bootstrap info names the live KMS's root k256 key (else `KMS_K256_MISMATCH`). */
function checkK256MatchesMeta(info: BootstrapInfo, k256: Uint8Array, from: "get-meta" | "file", host: string, checks: Check[]): void {
  const ok = bytesEqual(info.k256Pubkey, k256);
  checks.push({ name: "kms.k256-matches-meta", ok, detail: ok ? "bootstrap_info.k256_pubkey = GetMeta.k256_pubkey" : `bootstrap_info.k256_pubkey ${bytesToHex(info.k256Pubkey)} ≠ GetMeta.k256_pubkey ${bytesToHex(k256)}` });
  if (!ok) {
    throw new VerificationError("KMS_K256_MISMATCH", `KMS ${host}: ${from === "file" ? "the --file" : "bootstrap_info"} k256_pubkey ${bytesToHex(info.k256Pubkey)} differs from the live key ${bytesToHex(k256)}`);
  }
}

/** `kms.ca-cert-matches`: GetMeta's `ca_cert` has the key ca_pubkey (else `KMS_CA_CERT_MISMATCH`); a warning when there is none. */
function checkCaCertMatches(info: BootstrapInfo, meta: Record<string, unknown>, host: string, checks: Check[], warnings: string[]): void {
  const caCert = str(meta.ca_cert);
  if (!caCert) {
    warnings.push("GetMeta has no ca_cert");
    return;
  }
  let caCertSpki: Uint8Array;
  try {
    caCertSpki = new Uint8Array(new X509Certificate(caCert).publicKey.export({ type: "spki", format: "der" }));
  } catch (e) {
    throw new InputError("KMS_META_INVALID", `KMS ${host}: GetMeta ca_cert is not a certificate (${errorMessage(e)})`);
  }
  const ok = bytesEqual(caCertSpki, info.caPubkey);
  checks.push({ name: "kms.ca-cert-matches", ok, detail: ok ? "SPKI of GetMeta.ca_cert = ca_pubkey" : `SPKI of GetMeta.ca_cert ${bytesToHex(caCertSpki)} ≠ ca_pubkey` });
  if (!ok) throw new VerificationError("KMS_CA_CERT_MISMATCH", `KMS ${host}: GetMeta's ca_cert has another key than ca_pubkey ${bytesToHex(info.caPubkey).slice(0, 24)}…`);
}

/**
 * `kms.tls-pinned` (https) or `kms.ca-pubkey-pinned` (http with `--ca-pubkey`): an expected ca_pubkey is the
 * KMS's identity and must be the bootstrap info's, over http too; over https the served certificate must be
 * issued by the key ca_pubkey. Returns how the CA key was pinned.
 */
function checkCaPin(info: BootstrapInfo, expected: Uint8Array | undefined, tls: GetMetaResult["tls"], now: number, host: string, checks: Check[], warnings: string[]): "argument" | "response" | "none" {
  if (expected && !bytesEqual(expected, info.caPubkey)) {
    throw new VerificationError(
      tls ? "KMS_TLS_PIN_MISMATCH" : "KMS_CA_PUBKEY_MISMATCH",
      `KMS ${host}: the pinned --ca-pubkey differs from the bootstrap info's ca_pubkey ${bytesToHex(info.caPubkey).slice(0, 24)}…`,
    );
  }
  if (tls) {
    const pinError = tlsPinError(tls.peerChain[0]!, info.caPubkey, now, host);
    if (pinError) throw pinError;
    const caPinned = expected ? "argument" : "response";
    checks.push({
      name: "kms.tls-pinned",
      ok: true,
      detail: `the TLS certificate (${tls.leafSubject}) is signed by the CA key = ca_pubkey (${caPinned === "argument" ? "pinned by --ca-pubkey, checked during the handshake" : "first contact: pinned to the ca_pubkey in the response"})`,
    });
    return caPinned;
  }
  warnings.push("plain http: the transport is not authenticated (the bootstrap info is still checked by its quote)");
  if (!expected) return "none";
  checks.push({ name: "kms.ca-pubkey-pinned", ok: true, detail: "the bootstrap info's ca_pubkey = --ca-pubkey (plain http: there is no TLS certificate to pin)" });
  return "argument";
}

/** The checklist items that tie a separately supplied Bootstrap answer to a certs dir: its keys are the dir's. */
const KEY_ITEMS = ["root-ca.pubkey", "root-ca.key-pubkey", "root-k256.pubkey", "bootstrap-info.matches-file"];

/**
 * A certs dir without its own bootstrap-info.json (auto-bootstrapped KMS, replica) plus the saved Bootstrap answer:
 * the answer's keys must be the dir's keys (root-ca.crt/root-ca.key = ca_pubkey, root-k256.key → k256_pubkey, and
 * the dir's bootstrap-info.json when it has one). The dir's checklist is returned as `certs`.
 */
async function pullFromCertsDirWithFile(dir: string, file: string, opts: PullOptions): Promise<PullResult> {
  const { info } = await readBootstrapFile(file);
  const certs = await checkCertsDir(dir, { now: opts.now, ...(opts.domain !== undefined ? { domain: opts.domain } : {}), bootstrap: { info, from: file } });
  const checks: Check[] = [];
  for (const it of certs.items) {
    if (!KEY_ITEMS.includes(it.name)) continue;
    checks.push({ name: `certs-dir.${it.name}`, ok: it.ok, detail: it.ok ? `${it.title}` : `${it.title}: expected ${it.expected}, found ${it.found}` });
    if (!it.ok) throw new VerificationError("CERTS_DIR_KEY_MISMATCH", `${file} does not belong to ${dir}: failed ${it.name} (${it.title}): expected ${it.expected}, found ${it.found}`);
  }
  if (!certs.items.some((i) => i.name === "root-k256.pubkey" || i.name === "root-ca.pubkey")) {
    throw new InputError("CERTS_DIR_INVALID", `${dir}: neither root-ca.crt nor root-k256.key could be read, so ${file} cannot be tied to this certs dir`);
  }
  const doc = normalizeBootstrap(info, { type: "certs-dir", path: resolve(dir), file: resolve(file) }, opts.now);
  return { info, doc, checks, warnings: [], certs };
}

/** A JSON file; a saved GetMeta answer's own k256_pubkey must be its bootstrap info's (`kms.k256-matches-meta`). */
async function pullFromFile(file: string, opts: PullOptions): Promise<PullResult> {
  const { info, meta } = await readBootstrapFile(file);
  const doc = normalizeBootstrap(info, { type: "file", path: resolve(file) }, opts.now, meta ? summarizeMeta(meta, info.k256Pubkey) : undefined);
  const checks: Check[] = [];
  if (meta && typeof meta.k256_pubkey === "string") {
    const k = metaK256(meta, "file");
    const ok = bytesEqual(k, info.k256Pubkey);
    checks.push({ name: "kms.k256-matches-meta", ok, detail: ok ? "bootstrap_info.k256_pubkey = GetMeta.k256_pubkey" : "bootstrap_info.k256_pubkey ≠ GetMeta.k256_pubkey" });
    if (!ok) throw new VerificationError("KMS_K256_MISMATCH", `${file}: bootstrap_info.k256_pubkey differs from GetMeta.k256_pubkey`);
  }
  return { info, doc, checks, warnings: [] };
}

export async function pullBootstrap(source: PullSource, opts: PullOptions): Promise<PullResult> {
  if ("kms" in source) return pullFromKms(source, opts);
  if ("certsDir" in source) {
    if (source.file) return pullFromCertsDirWithFile(source.certsDir, source.file, opts);
    const info = await readCertsDirBootstrap(source.certsDir);
    return { info, doc: normalizeBootstrap(info, { type: "certs-dir", path: resolve(source.certsDir) }, opts.now), checks: [], warnings: [] };
  }
  return pullFromFile(source.file, opts);
}
