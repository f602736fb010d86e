/**
 * Forged quotes: TDX v4 (TD 1.0 body), TDX v5 (TD 1.0 or TD 1.5 body) and SGX v3. The body is signed by
 * an attestation key; the QE report binds that key (SHA-256 of key ‖ QE authentication data) and is
 * signed by the world's PCK leaf key; the certification data is type 6 (QE report certification data)
 * carrying type 5 (the PEM chain) — or, on request, other types, other bytes and deliberate corruptions.
 */
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { concatBytes, hexToBytes, utf8 } from "../../core/bytes.js";
import { UsageError } from "../../core/errors.js";
import { INTEL_QE_VENDOR_ID } from "../../dcap/quote.js";
import { optionBytes, padRight, u16le, u32le, type BytesLike } from "./common.js";
import { DEFAULT_MR_SEAM, type ForgeQe } from "./platform.js";
import { bytesFrom, keyFrom, secretsOf, signRaw, type Secrets } from "./secrets.js";
import type { ForgeWorld } from "./world.js";

export interface ForgeQuoteOptions {
  /** TDX: 4 (default) or 5; SGX: 3. */
  version?: 3 | 4 | 5;
  /** `"td10"` (default for TDX), `"td15"` (v5 only) or `"sgx"`. */
  body?: "td10" | "td15" | "sgx";
  /** 64 bytes (shorter input is zero-padded on the right). Default zeros. */
  reportData?: BytesLike;

  // TD report fields (48-byte measurements unless noted)
  teeTcbSvn?: BytesLike; // 16
  mrSeam?: BytesLike;
  mrSignerSeam?: BytesLike;
  seamAttributes?: BytesLike; // 8
  /** 8 bytes; default `0000001000000000` (SEPT_VE_DISABLE only). */
  tdAttributes?: BytesLike;
  xfam?: BytesLike; // 8
  mrTd?: BytesLike;
  mrConfigId?: BytesLike;
  mrOwner?: BytesLike;
  mrOwnerConfig?: BytesLike;
  /** RTMR0..3 (each 48 bytes). */
  rtMrs?: BytesLike[];
  teeTcbSvn2?: BytesLike; // 16, TD15
  mrServiceTd?: BytesLike; // TD15

  // SGX enclave report fields (body "sgx")
  sgx?: {
    cpuSvn?: BytesLike;
    miscSelect?: number;
    attributes?: BytesLike; // 16
    mrEnclave?: BytesLike; // 32
    mrSigner?: BytesLike; // 32
    isvProdId?: number;
    isvSvn?: number;
    configSvn?: number;
  };

  // Header
  qeSvn?: number;
  pceSvn?: number;
  userData?: BytesLike; // 20
  qeVendorId?: BytesLike; // 16
  attestationKeyType?: number;
  teeType?: number;

  // QE report (overrides of world.qe)
  qe?: Partial<Omit<ForgeQe, "mrSigner" | "mrEnclave" | "attributes" | "cpuSvn">> & {
    mrSigner?: BytesLike;
    mrEnclave?: BytesLike;
    attributes?: BytesLike;
    cpuSvn?: BytesLike;
    /** Bytes 32..64 of the QE report data (Intel: zero). */
    reportDataTail?: BytesLike;
  };
  /** QE authentication data. Default `00 01 … 1f` (32 bytes). */
  qeAuthData?: BytesLike;

  // Deliberate corruptions (each still produces a well-formed quote)
  /** 32-byte attestation private key; default fresh (or seed-derived in a seeded world). */
  attestationKey?: BytesLike;
  /** Sign the quote body with a key other than the one embedded (quote signature invalid). */
  signQuoteWithWrongKey?: boolean;
  /** Sign the QE report with a key other than the PCK leaf's. */
  signQeReportWithWrongKey?: boolean;
  /** Put a wrong hash into QE report data (binding broken, QE report still validly signed). */
  breakQeBinding?: boolean;
  /** Outer certification data type (default 6). */
  outerCertType?: number;
  /** Inner certification data type (default 5). */
  innerCertType?: number;
  /** Embed this PEM text as the chain instead of the world's. */
  pemChain?: string;
  /**
   * Raw inner certification data instead of the PEM chain (with `innerCertType` 2/3: encrypted PPID
   * ‖ CPUSVN ‖ PCESVN (u16 LE) ‖ PCE-ID — see `forgeEncryptedPpidCertData`).
   */
  certData?: BytesLike;
  /** v5 body size field override. */
  bodySize?: number;
  /** Bytes appended after the signature data. */
  trailing?: BytesLike;
}

type BodyKind = NonNullable<ForgeQuoteOptions["body"]>;

/** The fields of a 384-byte SGX enclave report (the SGX quote body and the QE report). */
interface EnclaveReportFields {
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn?: number;
  reportData: Uint8Array;
}

function enclaveReport(f: EnclaveReportFields): Uint8Array {
  const r = new Uint8Array(384);
  r.set(f.cpuSvn, 0);
  r.set(u32le(f.miscSelect), 16);
  r.set(f.attributes, 48);
  r.set(f.mrEnclave, 64);
  r.set(f.mrSigner, 128);
  r.set(u16le(f.isvProdId), 256);
  r.set(u16le(f.isvSvn), 258);
  r.set(u16le(f.configSvn ?? 0), 260);
  r.set(f.reportData, 320);
  return r;
}

/**
 * Certification data of type 3 (RSA-3072 encrypted PPID; 384 opaque bytes here) or type 2 (256
 * bytes) for the world's platform: encrypted PPID ‖ CPUSVN ‖ PCESVN (u16 LE) ‖ PCE-ID.
 */
export function forgeEncryptedPpidCertData(world: ForgeWorld, type: 2 | 3 = 3): Uint8Array {
  const ppid = bytesFrom(secretsOf(world).seed, `encrypted-ppid-${type}`, type === 2 ? 256 : 384);
  return concatBytes(ppid, world.pck.cpuSvn, u16le(world.pck.pceSvn), world.pck.pceId);
}

/**
 * Forge a quote in `world`: body fields from `opts`, QE report signed by the world's PCK leaf
 * key, quote signed by a fresh attestation key (seed-derived in a seeded world, so identical
 * inputs give identical bytes). Defaults: TDX v4 TD10 with the world's default TCB SVNs and
 * `td_attributes = 0000001000000000` (SEPT_VE_DISABLE), or SGX v3 in an SGX world.
 */
export async function forgeQuote(world: ForgeWorld, opts: ForgeQuoteOptions = {}): Promise<Uint8Array> {
  const secrets = secretsOf(world);
  const bodyKind = opts.body ?? (world.tee === "sgx" ? "sgx" : "td10");
  const version = opts.version ?? (bodyKind === "sgx" ? 3 : bodyKind === "td15" ? 5 : 4);
  if (bodyKind === "td15" && version !== 5) throw new UsageError("forge: a TD 1.5 body needs quote version 5");
  if (version === 3 && bodyKind !== "sgx") throw new UsageError("forge: quote version 3 carries an SGX body only");
  const reportData = padRight(opts.reportData, "reportData", 64);
  const body = bodyKind === "sgx" ? sgxBody(world, opts, reportData) : tdBody(world, opts, bodyKind, reportData);
  const header = quoteHeader(world, opts, version, bodyKind, secrets);
  const signed =
    version === 5
      ? concatBytes(header, u16le(bodyKind === "sgx" ? 1 : bodyKind === "td10" ? 2 : 3), u32le(opts.bodySize ?? body.length), body)
      : concatBytes(header, body);
  const sigData = signatureData(world, opts, version, signed, secrets);
  return concatBytes(signed, u32le(sigData.length), sigData, optionBytes(opts.trailing, "trailing", undefined, new Uint8Array(0)));
}

function sgxBody(world: ForgeWorld, opts: ForgeQuoteOptions, reportData: Uint8Array): Uint8Array {
  const s = opts.sgx ?? {};
  const attrs = new Uint8Array(16);
  attrs[0] = 0x05;
  attrs[8] = 0x03;
  return enclaveReport({
    cpuSvn: optionBytes(s.cpuSvn, "sgx.cpuSvn", 16, world.pck.cpuSvn),
    miscSelect: s.miscSelect ?? 0,
    attributes: optionBytes(s.attributes, "sgx.attributes", 16, attrs),
    mrEnclave: optionBytes(s.mrEnclave, "sgx.mrEnclave", 32, sha256(utf8("forge enclave"))),
    mrSigner: optionBytes(s.mrSigner, "sgx.mrSigner", 32, sha256(utf8("forge enclave signer"))),
    isvProdId: s.isvProdId ?? 0,
    isvSvn: s.isvSvn ?? 0,
    configSvn: s.configSvn ?? 0,
    reportData,
  });
}

/** A TD report: 584 bytes (TD 1.0), or 648 with TEE_TCB_SVN2 and MRSERVICETD (TD 1.5). */
function tdBody(world: ForgeWorld, opts: ForgeQuoteOptions, bodyKind: Exclude<BodyKind, "sgx">, reportData: Uint8Array): Uint8Array {
  const body = new Uint8Array(bodyKind === "td15" ? 648 : 584);
  const zero48 = new Uint8Array(48);
  body.set(optionBytes(opts.teeTcbSvn, "teeTcbSvn", 16, world.teeTcbSvn), 0);
  body.set(optionBytes(opts.mrSeam, "mrSeam", 48, hexToBytes(DEFAULT_MR_SEAM)), 16);
  body.set(optionBytes(opts.mrSignerSeam, "mrSignerSeam", 48, zero48), 64);
  body.set(optionBytes(opts.seamAttributes, "seamAttributes", 8, new Uint8Array(8)), 112);
  body.set(optionBytes(opts.tdAttributes, "tdAttributes", 8, hexToBytes("0000001000000000")), 120);
  body.set(optionBytes(opts.xfam, "xfam", 8, hexToBytes("e702060000000000")), 128);
  body.set(optionBytes(opts.mrTd, "mrTd", 48, zero48), 136);
  body.set(optionBytes(opts.mrConfigId, "mrConfigId", 48, zero48), 184);
  body.set(optionBytes(opts.mrOwner, "mrOwner", 48, zero48), 232);
  body.set(optionBytes(opts.mrOwnerConfig, "mrOwnerConfig", 48, zero48), 280);
  const rt = opts.rtMrs ?? [];
  if (rt.length > 4) throw new UsageError(`forge: at most 4 RTMRs, got ${rt.length}`);
  for (let i = 0; i < 4; i++) body.set(optionBytes(rt[i], `rtMrs[${i}]`, 48, zero48), 328 + 48 * i);
  body.set(reportData, 520);
  if (bodyKind === "td15") {
    body.set(optionBytes(opts.teeTcbSvn2, "teeTcbSvn2", 16, new Uint8Array(16)), 584);
    body.set(optionBytes(opts.mrServiceTd, "mrServiceTd", 48, zero48), 600);
  }
  return body;
}

/** The 48-byte header: version, key type, TEE type, QE and PCE SVNs (v3 only), QE vendor id, user data. */
function quoteHeader(world: ForgeWorld, opts: ForgeQuoteOptions, version: number, bodyKind: BodyKind, secrets: Secrets): Uint8Array {
  const header = new Uint8Array(48);
  header.set(u16le(version), 0);
  header.set(u16le(opts.attestationKeyType ?? 2), 2);
  header.set(u32le(opts.teeType ?? (bodyKind === "sgx" ? 0 : 0x81)), 4);
  header.set(u16le(opts.qeSvn ?? (version === 3 ? world.qe.isvSvn : 0)), 8);
  header.set(u16le(opts.pceSvn ?? (version === 3 ? world.pck.pceSvn : 0)), 10);
  header.set(optionBytes(opts.qeVendorId, "qeVendorId", 16, INTEL_QE_VENDOR_ID), 12);
  header.set(padRight(opts.userData ?? bytesFrom(secrets.seed, "user-data", 16), "userData", 20), 28);
  return header;
}

/**
 * The signature data over `signed`: quote signature ‖ attestation public key ‖ QE report certification
 * data (QE report, its signature, QE authentication data, the inner certification data). v4/v5 wrap
 * the latter as certification data of type 6; v3 carries it bare.
 */
function signatureData(world: ForgeWorld, opts: ForgeQuoteOptions, version: number, signed: Uint8Array, secrets: Secrets): Uint8Array {
  const akSk =
    opts.attestationKey !== undefined
      ? optionBytes(opts.attestationKey, "attestationKey", 32, new Uint8Array(0))
      : keyFrom(secrets.seed === undefined ? undefined : concatBytes(secrets.seed, sha256(signed)), "attestation-key").sk;
  const akPub = p256.getPublicKey(akSk, false).subarray(1);
  const quoteSig = signRaw(opts.signQuoteWithWrongKey ? keyFrom(secrets.seed, "wrong-attestation").sk : akSk, signed);

  const qeAuth = optionBytes(opts.qeAuthData, "qeAuthData", undefined, Uint8Array.from({ length: 32 }, (_, i) => i));
  const qeReport = qeReportFor(world, opts, akPub, qeAuth);
  const qeSig = signRaw(opts.signQeReportWithWrongKey ? keyFrom(secrets.seed, "wrong-pck").sk : secrets.pckLeaf.sk, qeReport);

  const chain = opts.certData !== undefined ? optionBytes(opts.certData, "certData", undefined, new Uint8Array(0)) : utf8(`${opts.pemChain ?? world.pckChainPem}\0`);
  const inner = concatBytes(u16le(opts.innerCertType ?? 5), u32le(chain.length), chain);
  const qeCertData = concatBytes(qeReport, qeSig, u16le(qeAuth.length), qeAuth, inner);
  return version === 3
    ? concatBytes(quoteSig, akPub, qeCertData)
    : concatBytes(quoteSig, akPub, u16le(opts.outerCertType ?? 6), u32le(qeCertData.length), qeCertData);
}

/** The QE report: the world's QE (or the overrides), report data SHA-256(attestation key ‖ QE auth data) ‖ tail. */
function qeReportFor(world: ForgeWorld, opts: ForgeQuoteOptions, akPub: Uint8Array, qeAuth: Uint8Array): Uint8Array {
  const binding = sha256(concatBytes(akPub, qeAuth));
  if (opts.breakQeBinding) binding[0] = (binding[0] ?? 0) ^ 0xff;
  const q = opts.qe ?? {};
  return enclaveReport({
    cpuSvn: optionBytes(q.cpuSvn, "qe.cpuSvn", 16, world.qe.cpuSvn),
    miscSelect: q.miscSelect ?? world.qe.miscSelect,
    attributes: optionBytes(q.attributes, "qe.attributes", 16, world.qe.attributes),
    mrEnclave: optionBytes(q.mrEnclave, "qe.mrEnclave", 32, world.qe.mrEnclave),
    mrSigner: optionBytes(q.mrSigner, "qe.mrSigner", 32, world.qe.mrSigner),
    isvProdId: q.isvProdId ?? world.qe.isvProdId,
    isvSvn: q.isvSvn ?? world.qe.isvSvn,
    reportData: concatBytes(binding, optionBytes(q.reportDataTail, "qe.reportDataTail", 32, new Uint8Array(32))),
  });
}
