/**
 * Pull a KMS's bootstrap info from one of three sources — a live KMS (`KMS.GetMeta`), a certs dir
 * (`bootstrap-info.json`), or a JSON file (a saved Bootstrap response, a saved GetMeta answer, or a
 * normalized document) — and check what the source itself can prove (TLS pin, GetMeta cross-checks).
 */
import { X509Certificate } from "node:crypto";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";

import type { Check } from "../dcap/types.js";
import { bytesEqual, bytesToHex, decodeBytesField } from "../core/bytes.js";
import { InputError, VerificationError } from "../core/errors.js";
import { normalizeBootstrap, parseBootstrapInfo, unwrapBootstrapObject, type BootstrapInfo, type KmsMetaSummary, type NormalizedBootstrap } from "./bootstrap.js";
import { readCertsDirBootstrap } from "./certs-dir.js";
import { getMeta, tlsPinError, type KmsClientOptions } from "./client.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseJsonLimited } from "../core/json.js";

export type PullSource = { kms: string; caPubkey?: Uint8Array; file?: string } | { certsDir: string; file?: string } | { file: string };

export interface PullOptions extends KmsClientOptions {
  /** Unix seconds: recorded as the pull time and used for TLS certificate validity. */
  now: number;
}

export interface PullResult {
  info: BootstrapInfo;
  doc: NormalizedBootstrap;
  /** What the source proved (TLS pin, GetMeta cross-checks); all ok when the pull succeeded. */
  checks: Check[];
  warnings: string[];
  /** Over https: the served RPC certificate (DER), for `verifyBootstrap`'s RA-TLS checks. */
  tlsLeaf?: Uint8Array;
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
  const text = new TextDecoder().decode(bytes);
  const value = parseJsonLimited(text, path);
  const unwrapped = unwrapBootstrapObject(value);
  const out: { info: BootstrapInfo; meta?: Record<string, unknown> } = { info: parseBootstrapInfo(value) };
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

  let info: BootstrapInfo;
  let from: "get-meta" | "file";
  if (src.file) {
    info = (await readBootstrapFile(src.file)).info;
    from = "file";
    if (meta.bootstrap_info) warnings.push("the KMS publishes bootstrap_info, but the --file given was used instead");
  } else if (meta.bootstrap_info === undefined && "ca_pubkey" in meta) {
    // the bootstrap-verification tutorial shows GetMeta answering the bootstrap fields at the top level
    info = parseBootstrapInfo(meta);
    from = "get-meta";
    warnings.push("GetMeta carries the bootstrap fields at its top level (as the verification tutorial shows), not in bootstrap_info");
  } else {
    if (meta.bootstrap_info === null || meta.bootstrap_info === undefined) {
      throw new InputError(
        "BOOTSTRAP_INFO_NULL",
        `KMS ${host}: GetMeta's bootstrap_info is null — this KMS was auto-bootstrapped (core.onboard.auto_bootstrap_domain; dstack issue #539) or is a replica created with Onboard, so it never wrote bootstrap-info.json. Supply the saved Onboard.Bootstrap response of the original KMS with --file FILE (its keys are cross-checked against this KMS)`,
      );
    }
    info = parseBootstrapInfo(meta.bootstrap_info);
    from = "get-meta";
  }

  const k256Ok = bytesEqual(info.k256Pubkey, k256);
  checks.push({ name: "kms.k256-matches-meta", ok: k256Ok, detail: k256Ok ? "bootstrap_info.k256_pubkey = GetMeta.k256_pubkey" : `bootstrap_info.k256_pubkey ${bytesToHex(info.k256Pubkey)} ≠ GetMeta.k256_pubkey ${bytesToHex(k256)}` });
  if (!k256Ok) {
    throw new VerificationError("KMS_K256_MISMATCH", `KMS ${host}: ${from === "file" ? "the --file" : "bootstrap_info"} k256_pubkey ${bytesToHex(info.k256Pubkey)} differs from the live key ${bytesToHex(k256)}`);
  }

  const caCert = str(meta.ca_cert);
  if (caCert) {
    let caCertSpki: Uint8Array;
    try {
      caCertSpki = new Uint8Array(new X509Certificate(caCert).publicKey.export({ type: "spki", format: "der" }));
    } catch (e) {
      throw new InputError("KMS_META_INVALID", `KMS ${host}: GetMeta ca_cert is not a certificate (${e instanceof Error ? e.message : String(e)})`);
    }
    const ok = bytesEqual(caCertSpki, info.caPubkey);
    checks.push({ name: "kms.ca-cert-matches", ok, detail: ok ? "SPKI of GetMeta.ca_cert = ca_pubkey" : `SPKI of GetMeta.ca_cert ${bytesToHex(caCertSpki)} ≠ ca_pubkey` });
    if (!ok) throw new VerificationError("KMS_CA_CERT_MISMATCH", `KMS ${host}: GetMeta's ca_cert has another key than ca_pubkey ${bytesToHex(info.caPubkey).slice(0, 24)}…`);
  } else {
    warnings.push("GetMeta has no ca_cert");
  }

  let caPinned: "argument" | "response" | "none" = "none";
  // an expected ca_pubkey (--ca-pubkey) is the KMS's identity: it must be the bootstrap info's, over http too
  if (src.caPubkey && !bytesEqual(src.caPubkey, info.caPubkey)) {
    throw new VerificationError(
      r.tls ? "KMS_TLS_PIN_MISMATCH" : "KMS_CA_PUBKEY_MISMATCH",
      `KMS ${host}: the pinned --ca-pubkey differs from the bootstrap info's ca_pubkey ${bytesToHex(info.caPubkey).slice(0, 24)}…`,
    );
  }
  if (r.tls) {
    const pinError = tlsPinError(r.tls.peerChain[0]!, info.caPubkey, opts.now, host);
    if (pinError) throw pinError;
    caPinned = src.caPubkey ? "argument" : "response";
    checks.push({
      name: "kms.tls-pinned",
      ok: true,
      detail: `the TLS certificate (${r.tls.leafSubject}) is signed by the CA key = ca_pubkey (${caPinned === "argument" ? "pinned by --ca-pubkey, checked during the handshake" : "first contact: pinned to the ca_pubkey in the response"})`,
    });
  } else {
    warnings.push("plain http: the transport is not authenticated (the bootstrap info is still checked by its quote)");
    if (src.caPubkey) {
      caPinned = "argument";
      checks.push({ name: "kms.ca-pubkey-pinned", ok: true, detail: "the bootstrap info's ca_pubkey = --ca-pubkey (plain http: there is no TLS certificate to pin)" });
    }
  }

  const source = { type: "kms" as const, url: src.kms, transport: r.tls ? ("https" as const) : ("http" as const), caPinned, bootstrapInfoFrom: from, ...(src.file ? { file: resolve(src.file) } : {}) };
  const doc = normalizeBootstrap(info, source, opts.now, summarizeMeta(meta, k256));
  const out: PullResult = { info, doc, checks, warnings };
  if (r.tls) out.tlsLeaf = r.tls.peerChain[0]!;
  return out;
}

/**
 * A certs dir without its own bootstrap-info.json (auto-bootstrapped KMS, replica) plus the saved Bootstrap answer:
 * the answer's keys must be the dir's keys (root-ca.crt/root-ca.key = ca_pubkey, root-k256.key → k256_pubkey, and
 * the dir's bootstrap-info.json when it has one).
 */
async function pullFromCertsDirWithFile(dir: string, file: string, opts: PullOptions): Promise<PullResult> {
  const { info } = await readBootstrapFile(file);
  const { checkCertsDir } = await import("./certs-dir.js");
  const list = await checkCertsDir(dir, { now: opts.now, bootstrap: { info, from: file } });
  const keyItems = ["root-ca.pubkey", "root-ca.key-pubkey", "root-k256.pubkey", "bootstrap-info.matches-file"];
  const checks: Check[] = [];
  for (const it of list.items) {
    if (!keyItems.includes(it.name)) continue;
    checks.push({ name: `certs-dir.${it.name}`, ok: it.ok, detail: it.ok ? `${it.title}` : `${it.title}: expected ${it.expected}, found ${it.found}` });
    if (!it.ok) throw new VerificationError("CERTS_DIR_KEY_MISMATCH", `${file} does not belong to ${dir}: failed ${it.name} (${it.title}): expected ${it.expected}, found ${it.found}`);
  }
  if (!list.items.some((i) => i.name === "root-k256.pubkey" || i.name === "root-ca.pubkey")) {
    throw new InputError("CERTS_DIR_INVALID", `${dir}: neither root-ca.crt nor root-k256.key could be read, so ${file} cannot be tied to this certs dir`);
  }
  const doc = normalizeBootstrap(info, { type: "certs-dir", path: resolve(dir), file: resolve(file) }, opts.now);
  return { info, doc, checks, warnings: [] };
}

export async function pullBootstrap(source: PullSource, opts: PullOptions): Promise<PullResult> {
  if ("kms" in source) return pullFromKms(source, opts);
  if ("certsDir" in source) {
    if (source.file) return pullFromCertsDirWithFile(source.certsDir, source.file, opts);
    const info = await readCertsDirBootstrap(source.certsDir);
    return { info, doc: normalizeBootstrap(info, { type: "certs-dir", path: resolve(source.certsDir) }, opts.now), checks: [], warnings: [] };
  }
  const { info, meta } = await readBootstrapFile(source.file);
  const doc = normalizeBootstrap(info, { type: "file", path: resolve(source.file) }, opts.now, meta ? summarizeMeta(meta, info.k256Pubkey) : undefined);
  const checks: Check[] = [];
  if (meta && typeof meta.k256_pubkey === "string") {
    const k = metaK256(meta, "file");
    const ok = bytesEqual(k, info.k256Pubkey);
    checks.push({ name: "kms.k256-matches-meta", ok, detail: ok ? "bootstrap_info.k256_pubkey = GetMeta.k256_pubkey" : "bootstrap_info.k256_pubkey ≠ GetMeta.k256_pubkey" });
    if (!ok) throw new VerificationError("KMS_K256_MISMATCH", `${source.file}: bootstrap_info.k256_pubkey differs from GetMeta.k256_pubkey`);
  }
  return { info, doc, checks, warnings: [] };
}
