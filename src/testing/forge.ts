/**
 * The DCAP forge: builds a complete, properly signed *synthetic* DCAP world — root CA, PCK CA,
 * PCK leaf with the Intel SGX extension, TCB Signing cert, root and PCK CRLs, TCB Info v3 and
 * QE Identity v2 JSON signed by the TCB Signing key — and forges TDX (v4 TD10, v5 TD10/TD15) and
 * SGX (v3) quotes whose QE report is signed by the PCK leaf key and whose body is signed by a
 * fresh attestation key, with the PEM chain embedded as certification data type 5 inside type 6.
 *
 * Uses: tests of every verification path with correctly re-signed data, and the simulated KMS,
 * which signs its quotes with it. A forged world's root is NOT Intel's: verifying a forged quote
 * needs `rootCaDer: world.rootCaDer`, and any such result is `genuine: false`. Under the default
 * (pinned Intel root) a forged quote is rejected.
 *
 * Everything is configurable (TCB levels, statuses, dates, advisory IDs, module identities,
 * revocations) and several deliberate corruptions can be requested — among them collateral signed
 * by the wrong certificate (`collateralSigner`: the PCK leaf, the PCK CA, the root, another
 * root-issued leaf) and certificate shapes the verifier's pins refuse (`tcbSigningShape`,
 * `pckCaShape`); see `ForgeWorldOptions` and `ForgeQuoteOptions`. With `seed` every key, serial number and signature (RFC 6979
 * deterministic ECDSA) is reproducible, so the same options give byte-identical worlds and quotes.
 *
 * Private keys live in a module-private WeakMap, never on the world object: printing or
 * serialising a `ForgeWorld` cannot leak them.
 *
 * Certificates and CRLs are written with a minimal DER writer (below) and signed with
 * @noble/curves P-256; the tests parse them back with @peculiar/x509.
 *
 * ```ts
 * const world = await createForgeWorld({ seed: "sim", now });            // TDX, UpToDate, valid now−1d … now+30d
 * const quote = await forgeQuote(world, { reportData, mrTd, rtMrs });     // TDX v4 TD10
 * verifyQuote(quote, { collateral: world.collateral, now, rootCaDer: world.rootCaDer }); // genuine: false
 * // variations: createForgeWorld({ revoke: { pckLeaf: true } }), { tcbInfo: { tcbLevels: [...] } },
 * // { pckCrl: { nextUpdate } }, forgeQuote(world, { version: 5, body: "td15", tdAttributes: "…" }), …
 * ```
 */
import { p256 } from "@noble/curves/nist.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";

import { bytesToHex, concatBytes, hexToBytes, utf8, type Hex } from "../core/bytes.js";
import { UsageError } from "../core/errors.js";
import type { Collateral, TcbStatus } from "../dcap/types.js";
import { toPem } from "../dcap/x509.js";

// ---------------------------------------------------------------------------------------------
// Minimal DER writer
// ---------------------------------------------------------------------------------------------

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** DER SEQUENCE of the given encodings (exported with `derOid` for building extension values in tests). */
export function derSequence(...items: Uint8Array[]): Uint8Array {
  return derSeq(...items);
}

/** One TLV with a single-byte tag. */
export function derTlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  return concatBytes(Uint8Array.of(tag), derLength(body.length), body);
}

const derSeq = (...items: Uint8Array[]): Uint8Array => derTlv(0x30, ...items);
const derSet = (...items: Uint8Array[]): Uint8Array => derTlv(0x31, ...items);
const derOctets = (b: Uint8Array): Uint8Array => derTlv(0x04, b);
const derBool = (v: boolean): Uint8Array => derTlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
const derUtf8 = (s: string): Uint8Array => derTlv(0x0c, utf8(s));
const derPrintable = (s: string): Uint8Array => derTlv(0x13, utf8(s));
const derExplicit = (n: number, ...items: Uint8Array[]): Uint8Array => derTlv(0xa0 | n, ...items);
const derBitString = (b: Uint8Array, unused = 0): Uint8Array => derTlv(0x03, Uint8Array.of(unused), b);

/** Minimal two's-complement content octets of a non-negative integer. */
function uintContent(value: bigint | number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.slice(i);
    if (bytes.length === 0) bytes = Uint8Array.of(0);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new UsageError("forge: negative DER integer");
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Uint8Array.from(out);
  }
  return (bytes[0] ?? 0) & 0x80 ? concatBytes(Uint8Array.of(0), bytes) : bytes;
}
const derInt = (v: bigint | number | Uint8Array): Uint8Array => derTlv(0x02, uintContent(v));
const derEnum = (v: number): Uint8Array => derTlv(0x0a, uintContent(v));

export function derOid(oid: string): Uint8Array {
  const parts = oid.split(".").map((p) => BigInt(p));
  const [a, b, ...rest] = parts;
  if (a === undefined || b === undefined) throw new UsageError(`forge: bad OID ${oid}`);
  const out: number[] = [Number(a * 40n + b)];
  for (const p of rest) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] ?? 0) | 0x80;
    out.push(...groups);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
function derTime(unixSeconds: number): Uint8Array {
  const iso = new Date(unixSeconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const y = Number(iso.slice(0, 4));
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  if (y >= 1950 && y < 2050) return derTlv(0x17, utf8(`${digits.slice(2)}Z`));
  return derTlv(0x18, utf8(`${digits}Z`));
}

// ---------------------------------------------------------------------------------------------
// OIDs and constants
// ---------------------------------------------------------------------------------------------

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  cn: "2.5.4.3",
  o: "2.5.4.10",
  ou: "2.5.4.11",
  l: "2.5.4.7",
  st: "2.5.4.8",
  c: "2.5.4.6",
  ski: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlDistributionPoints: "2.5.29.31",
  aki: "2.5.29.35",
  sgx: "1.2.840.113741.1.13.1",
} as const;

/** Intel's QE vendor id (header bytes 12..28). */
export const INTEL_QE_VENDOR_ID: Hex = "0x939a7233f79c4ca9940a0db3957f0607";
/** The fixed default time of a forged world: 2026-01-01T00:00:00Z. */
export const FORGE_DEFAULT_NOW = 1767225600;
const DAY = 86_400;

const ALG_ECDSA_SHA256 = derSeq(derOid(OID.ecdsaWithSha256));

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Anything a byte option accepts: bytes or hex text (with or without `0x`). */
export type BytesLike = Uint8Array | string;

export interface ForgeName {
  cn: string;
  o?: string;
  ou?: string;
  l?: string;
  st?: string;
  c?: string;
}

/** Validity window of one certificate, unix seconds (inclusive). */
export interface ForgeValidity {
  notBefore?: number;
  notAfter?: number;
}

/** keyUsage bits by name (RFC 5280 §4.2.1.3). */
export type ForgeKeyUsage = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign";

/**
 * Overrides of one certificate's subject, CA flag and key usage, to build the shapes the verifier's
 * pins refuse (a TCB Signing certificate with another name, a CA flag or no digitalSignature; a
 * PCK CA with another name or without keyCertSign).
 */
export interface ForgeCertShape {
  /** the full subject (replaces the default name) */
  subject?: ForgeName;
  /** basicConstraints cA (default: the certificate's role) */
  ca?: boolean;
  /** keyUsage bits; `null` leaves the extension out. Default: keyCertSign + cRLSign for a CA, digitalSignature + nonRepudiation otherwise. */
  keyUsage?: ForgeKeyUsage[] | null;
}

/**
 * Which key signs `tcb_info` / `qe_identity`; the issuer chain in the collateral is that key's
 * certificate and its chain to the root. `"tcbSigning"` (default) is right; every other choice is a
 * wrong signer the verifier must refuse at the chain step: the PCK leaf (a PCK key extracted from
 * one platform signing its own TCB Info), the PCK CA, the root itself, or `"other"`, the world's
 * extra certificate (`otherSigner`; by default a root-issued end entity not named TCB Signing).
 */
export type ForgeCollateralSigner = "tcbSigning" | "pckLeaf" | "pckCa" | "root" | "other";

/** The extra certificate of `collateralSigner: "other"`: a shape, and who issues it (default the root). */
export interface ForgeOtherSigner extends ForgeCertShape {
  issuer?: "root" | "pckCa";
}

export interface ForgeCrlOptions {
  thisUpdate?: number;
  nextUpdate?: number;
  /** Extra revoked serial numbers (hex or bytes or bigint). */
  revokedSerials?: (BytesLike | bigint)[];
  /** Sign the CRL with an unrelated key (the issuer name stays right): a bad CRL signature. */
  signWithWrongKey?: boolean;
}

export interface ForgeTcbLevel {
  /** 16 SGX component SVNs (compared with the PCK CPUSVN). */
  sgx: number[];
  pcesvn: number;
  /** 16 TDX component SVNs (compared with `tee_tcb_svn`); TDX worlds only. */
  tdx?: number[];
  tcbDate?: string;
  tcbStatus: TcbStatus | string;
  advisoryIDs?: string[];
}

export interface ForgeIsvLevel {
  isvsvn: number;
  tcbDate?: string;
  tcbStatus: TcbStatus | string;
  advisoryIDs?: string[];
}

export interface ForgeModuleIdentity {
  /** e.g. `TDX_01` */
  id: string;
  mrsigner?: BytesLike;
  attributes?: BytesLike;
  attributesMask?: BytesLike;
  tcbLevels: ForgeIsvLevel[];
}

export interface ForgeWorldOptions {
  /** Makes every key, serial and signature reproducible. Without it keys are random. */
  seed?: string | Uint8Array;
  /** Reference time (unix seconds) around which all validity windows are placed. Default `FORGE_DEFAULT_NOW`. */
  now?: number;
  /** Default `"tdx"`. */
  tee?: "tdx" | "sgx";
  /** Which PCK CA issues the leaf. Default `"platform"`. */
  ca?: "platform" | "processor";
  /**
   * Use Intel's exact subject names (`CN=Intel SGX Root CA, O=Intel Corporation, …`) instead of
   * the forge's clearly labelled ones. Default false: the root and the PCK leaf are "Forged SGX …"
   * with O "… (NOT Intel)"; the PCK CA and the TCB Signing certificate, whose names the verifier
   * pins under any root, get Intel's CN and O `Intel Corporation` with OU "… (NOT Intel)".
   */
  intelNames?: boolean;
  /** CRL distribution point URI written into the root, PCK CA and TCB Signing certificates. */
  rootCrlUri?: string;

  // --- PCK leaf SGX extension -----------------------------------------------------------
  /** 6 bytes. Default `B0C06F000000` (TDX) / `00906ED50000` (SGX). */
  fmspc?: BytesLike;
  /** 2 bytes. Default `0000`. */
  pceId?: BytesLike;
  /** 16 bytes. Default (TDX) `03030202040100050000000000000000`. */
  cpuSvn?: BytesLike;
  /** Default 11. */
  pceSvn?: number;
  /** 16 bytes. Default derived from the seed. */
  ppid?: BytesLike;
  /** 0 standard, 1 scalable, 2 scalable with integrity. Default 1 (platform) / 0 (processor). */
  sgxType?: number;
  /** 16 bytes (Platform-CA leaves only). Default derived from the seed. */
  platformInstanceId?: BytesLike;
  /** Leave the SGX extension out of the PCK leaf (a required extension missing). */
  omitSgxExtension?: boolean;
  /** Make the PCK leaf a CA (basicConstraints cA=TRUE): "CA used as end entity". */
  pckLeafIsCa?: boolean;
  /** Serial number of the PCK leaf (default seed-derived, 20 bytes). */
  pckLeafSerial?: BytesLike;
  /** Extra extensions appended to the PCK leaf (e.g. an unknown critical one, an EKU, a second SGX extension). */
  pckLeafExtraExtensions?: { oid: string; critical?: boolean; value: BytesLike }[];

  // --- validity windows ---------------------------------------------------------------------
  rootValidity?: ForgeValidity;
  pckCaValidity?: ForgeValidity;
  pckLeafValidity?: ForgeValidity;
  tcbSigningValidity?: ForgeValidity;

  // --- CRLs and revocation -------------------------------------------------------------------
  rootCrl?: ForgeCrlOptions;
  pckCrl?: ForgeCrlOptions;
  /** Sign the named certificates with an unrelated key (issuer name unchanged): a bad certificate signature. */
  certSignedByWrongKey?: { pckLeaf?: boolean; pckCa?: boolean; tcbSigning?: boolean };
  /** Put the named certificates' serials on the CRL of their issuer. */
  revoke?: { pckLeaf?: boolean; pckCa?: boolean; tcbSigning?: boolean; root?: boolean };

  // --- certificate shapes and the collateral signer ---------------------------------------------
  /** Subject / CA flag / key usage of the PCK CA (default: CN `Intel SGX PCK Platform|Processor CA`, a CA with keyCertSign + cRLSign). */
  pckCaShape?: ForgeCertShape;
  /** Subject / CA flag / key usage of the TCB Signing certificate (default: CN `Intel SGX TCB Signing`, O `Intel Corporation`, end entity, digitalSignature). */
  tcbSigningShape?: ForgeCertShape;
  /** Who signs both `tcb_info` and `qe_identity` (default `"tcbSigning"`); `tcbInfo.signer` / `qeIdentity.signer` override it per document. */
  collateralSigner?: ForgeCollateralSigner;
  /** The extra certificate used by the signer choice `"other"` (made only when chosen). Default: a root-issued end entity named `… Collateral Signer`. */
  otherSigner?: ForgeOtherSigner;

  // --- TCB Info -----------------------------------------------------------------------------
  tcbInfo?: {
    issueDate?: number;
    nextUpdate?: number;
    /** Default 3. */
    version?: number;
    /** Default: the PCK FMSPC. */
    fmspc?: BytesLike;
    tcbEvaluationDataNumber?: number;
    /** Default: one `UpToDate` level equal to the default CPUSVN / PCESVN / TEE TCB SVN, then an `OutOfDate` one. */
    tcbLevels?: ForgeTcbLevel[];
    /** `tdxModule` (TDX). `null` leaves the field out. */
    tdxModule?: { mrsigner?: BytesLike; attributes?: BytesLike; attributesMask?: BytesLike } | null;
    /** Default: `TDX_01` with levels isvsvn 4 UpToDate, 2 OutOfDate, like Intel's. `[]` or `null` leaves it empty / out. */
    tdxModuleIdentities?: ForgeModuleIdentity[] | null;
    /** Last word on the JSON object before it is serialised and signed. */
    edit?: (tcbInfo: Record<string, unknown>) => Record<string, unknown> | void;
    /** Sign exactly this text instead of the generated JSON. */
    text?: string;
    /** Sign with an unrelated key (bad signature, good chain). */
    signWithWrongKey?: boolean;
    /** Sign with this certificate's key and make its chain `tcb_info_issuer_chain` (default `collateralSigner`). */
    signer?: ForgeCollateralSigner;
  };

  // --- QE Identity ---------------------------------------------------------------------------
  qeIdentity?: {
    issueDate?: number;
    nextUpdate?: number;
    /** Default `TD_QE` (TDX) / `QE` (SGX). */
    id?: string;
    version?: number;
    /** Defaults: the forge's QE (Intel's values: mrsigner DC9E2A7C…, isvprodid 2 (TDX) / 1 (SGX)). */
    mrsigner?: BytesLike;
    isvprodid?: number;
    miscselect?: BytesLike;
    miscselectMask?: BytesLike;
    attributes?: BytesLike;
    attributesMask?: BytesLike;
    /** Default: isvsvn 4 → UpToDate. */
    tcbLevels?: ForgeIsvLevel[];
    edit?: (qeIdentity: Record<string, unknown>) => Record<string, unknown> | void;
    text?: string;
    signWithWrongKey?: boolean;
    /** Sign with this certificate's key and make its chain `qe_identity_issuer_chain` (default `collateralSigner`). */
    signer?: ForgeCollateralSigner;
  };
}

/** The (public) QE defaults a forged quote uses unless overridden. */
export interface ForgeQe {
  mrSigner: Uint8Array;
  mrEnclave: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  attributes: Uint8Array;
  miscSelect: number;
  cpuSvn: Uint8Array;
}

export interface ForgeCert {
  der: Uint8Array;
  pem: string;
  serial: Uint8Array;
}

export interface ForgeWorld {
  /** Options the world was made from (frozen copy; contains no private key). */
  readonly options: Readonly<ForgeWorldOptions>;
  readonly tee: "tdx" | "sgx";
  readonly now: number;
  readonly ca: "platform" | "processor";
  rootCaDer: Uint8Array;
  rootCaPem: string;
  certs: { root: ForgeCert; pckCa: ForgeCert; pckLeaf: ForgeCert; tcbSigning: ForgeCert; /** only with the signer choice `"other"` */ other?: ForgeCert };
  /** PEM: PCK leaf, PCK CA, root — as embedded in forged quotes. */
  pckChainPem: string;
  collateral: Collateral;
  /** The PCK leaf's SGX extension values. */
  pck: { fmspc: Uint8Array; pceId: Uint8Array; cpuSvn: Uint8Array; pceSvn: number; ppid: Uint8Array; sgxType: number };
  qe: ForgeQe;
  /** Default TEE TCB SVN of forged TDX quotes (matches the first default TCB level). */
  teeTcbSvn: Uint8Array;
}

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

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

interface KeyPair {
  sk: Uint8Array;
  /** 65-byte uncompressed point. */
  pk: Uint8Array;
}

interface Secrets {
  seed: Uint8Array | undefined;
  root: KeyPair;
  pckCa: KeyPair;
  pckLeaf: KeyPair;
  tcbSigning: KeyPair;
  other: KeyPair | undefined;
  counter: number;
}

const SECRETS = new WeakMap<ForgeWorld, Secrets>();

function keyFrom(seed: Uint8Array | undefined, label: string): KeyPair {
  const material = seed === undefined ? crypto.getRandomValues(new Uint8Array(48)) : sha384(concatBytes(seed, utf8(`\0forge-key\0${label}`)));
  const sk = p256.utils.randomSecretKey(material);
  return { sk, pk: p256.getPublicKey(sk, false) };
}

function bytesFrom(seed: Uint8Array | undefined, label: string, n: number): Uint8Array {
  if (seed === undefined) return crypto.getRandomValues(new Uint8Array(n));
  const blocks: Uint8Array[] = [];
  for (let i = 0; i * 48 < n; i++) blocks.push(sha384(concatBytes(seed, utf8(`\0forge-bytes\0${label}${i === 0 ? "" : `\0${i}`}`))));
  return concatBytes(...blocks).slice(0, n);
}

/** A positive 20-byte serial (first bit clear, first byte non-zero). */
function serialFrom(seed: Uint8Array | undefined, label: string): Uint8Array {
  const s = bytesFrom(seed, `serial:${label}`, 20);
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x10;
  return s;
}

function signDer(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  return p256.sign(msg, sk, { format: "der" });
}

function signRaw(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  return p256.sign(msg, sk);
}

// ---------------------------------------------------------------------------------------------
// Option helpers
// ---------------------------------------------------------------------------------------------

function b(value: BytesLike | undefined, field: string, len: number | undefined, fallback: Uint8Array): Uint8Array {
  if (value === undefined) return fallback;
  const out = typeof value === "string" ? hexToBytes(value, field) : value;
  if (len !== undefined && out.length !== len) throw new UsageError(`forge: ${field} must be ${len} bytes, got ${out.length}`);
  return out;
}

function padRight(value: BytesLike | undefined, field: string, len: number): Uint8Array {
  const raw = value === undefined ? new Uint8Array(0) : typeof value === "string" ? hexToBytes(value, field) : value;
  if (raw.length > len) throw new UsageError(`forge: ${field} must be at most ${len} bytes, got ${raw.length}`);
  const out = new Uint8Array(len);
  out.set(raw);
  return out;
}

function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function upperHex(bytes: Uint8Array): string {
  return bytesToHex(bytes).slice(2).toUpperCase();
}

const pem = (der: Uint8Array): string => toPem(der);

function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
}
function u32le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

// ---------------------------------------------------------------------------------------------
// Certificates and CRLs
// ---------------------------------------------------------------------------------------------

function derName(n: ForgeName): Uint8Array {
  const rdn = (oid: string, value: Uint8Array): Uint8Array => derSet(derSeq(derOid(oid), value));
  const parts = [rdn(OID.cn, derUtf8(n.cn))];
  if (n.o !== undefined) parts.push(rdn(OID.o, derUtf8(n.o)));
  if (n.ou !== undefined) parts.push(rdn(OID.ou, derUtf8(n.ou)));
  if (n.l !== undefined) parts.push(rdn(OID.l, derUtf8(n.l)));
  if (n.st !== undefined) parts.push(rdn(OID.st, derUtf8(n.st)));
  if (n.c !== undefined) parts.push(rdn(OID.c, derPrintable(n.c)));
  return derSeq(...parts);
}

function spki(pk: Uint8Array): Uint8Array {
  return derSeq(derSeq(derOid(OID.ecPublicKey), derOid(OID.prime256v1)), derBitString(pk));
}

function keyId(pk: Uint8Array): Uint8Array {
  return sha256(pk).slice(0, 20);
}

function ext(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? derSeq(derOid(oid), derBool(true), derOctets(value)) : derSeq(derOid(oid), derOctets(value));
}

const KU_CA = derBitString(Uint8Array.of(0x06), 1); // keyCertSign | cRLSign
const KU_EE = derBitString(Uint8Array.of(0xc0), 6); // digitalSignature | nonRepudiation
const KU_BITS: Record<ForgeKeyUsage, number> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

/** keyUsage BIT STRING of the named bits (DER: trailing zero bits counted as unused). */
function keyUsageBits(names: ForgeKeyUsage[]): Uint8Array {
  let byte = 0;
  for (const n of names) {
    const bit = KU_BITS[n];
    if (bit === undefined) throw new UsageError(`forge: unknown key usage ${String(n)}`);
    byte |= 0x80 >> bit;
  }
  if (byte === 0) return derBitString(new Uint8Array(0));
  let unused = 0;
  while (!(byte & (1 << unused))) unused++;
  return derBitString(Uint8Array.of(byte), unused);
}

function basicConstraints(ca: boolean, pathLen?: number): Uint8Array {
  if (!ca) return derSeq();
  return pathLen === undefined ? derSeq(derBool(true)) : derSeq(derBool(true), derInt(pathLen));
}

function crlDp(uri: string): Uint8Array {
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
  return derSeq(derSeq(derTlv(0xa0, derTlv(0xa0, derTlv(0x86, utf8(uri))))));
}

interface CertSpec {
  serial: Uint8Array;
  issuer: ForgeName;
  subject: ForgeName;
  notBefore: number;
  notAfter: number;
  pk: Uint8Array;
  issuerPk: Uint8Array;
  issuerSk: Uint8Array;
  ca: boolean;
  pathLen?: number;
  crlUri?: string;
  extra?: Uint8Array[];
  /** keyUsage override: a BIT STRING, or null for no keyUsage extension (default by `ca`) */
  keyUsage?: Uint8Array | null;
}

function makeCert(s: CertSpec): ForgeCert {
  const exts = [ext(OID.aki, false, derSeq(derTlv(0x80, keyId(s.issuerPk))))];
  if (s.crlUri !== undefined) exts.push(ext(OID.crlDistributionPoints, false, crlDp(s.crlUri)));
  exts.push(ext(OID.ski, false, derOctets(keyId(s.pk))));
  if (s.keyUsage !== null) exts.push(ext(OID.keyUsage, true, s.keyUsage ?? (s.ca ? KU_CA : KU_EE)));
  exts.push(ext(OID.basicConstraints, true, basicConstraints(s.ca, s.pathLen)));
  if (s.extra) exts.push(...s.extra);
  const tbs = derSeq(
    derExplicit(0, derInt(2)),
    derInt(s.serial),
    ALG_ECDSA_SHA256,
    derName(s.issuer),
    derSeq(derTime(s.notBefore), derTime(s.notAfter)),
    derName(s.subject),
    spki(s.pk),
    derExplicit(3, derSeq(...exts)),
  );
  const der = derSeq(tbs, ALG_ECDSA_SHA256, derBitString(signDer(s.issuerSk, tbs)));
  return { der, pem: pem(der), serial: s.serial };
}

function makeCrl(issuer: ForgeName, issuerPk: Uint8Array, signerSk: Uint8Array, thisUpdate: number, nextUpdate: number, revoked: Uint8Array[], number: number): Uint8Array {
  const entries = revoked.map((serial) =>
    derSeq(derInt(serial), derTime(thisUpdate), derSeq(derSeq(derOid("2.5.29.21"), derOctets(derEnum(1))))),
  );
  const tbsParts = [derInt(1), ALG_ECDSA_SHA256, derName(issuer), derTime(thisUpdate), derTime(nextUpdate)];
  if (entries.length > 0) tbsParts.push(derSeq(...entries));
  tbsParts.push(derExplicit(0, derSeq(ext(OID.crlNumber, false, derInt(number)), ext(OID.aki, false, derSeq(derTlv(0x80, keyId(issuerPk)))))));
  const tbs = derSeq(...tbsParts);
  return derSeq(tbs, ALG_ECDSA_SHA256, derBitString(signDer(signerSk, tbs)));
}

function sgxExtension(p: ForgeWorld["pck"], platformInstanceId: Uint8Array | undefined): Uint8Array {
  const sub = (n: string): string => `${OID.sgx}.${n}`;
  const comps: Uint8Array[] = [];
  for (let i = 0; i < 16; i++) comps.push(derSeq(derOid(sub(`2.${i + 1}`)), derInt(p.cpuSvn[i] ?? 0)));
  comps.push(derSeq(derOid(sub("2.17")), derInt(p.pceSvn)));
  comps.push(derSeq(derOid(sub("2.18")), derOctets(p.cpuSvn)));
  const items = [
    derSeq(derOid(sub("1")), derOctets(p.ppid)),
    derSeq(derOid(sub("2")), derSeq(...comps)),
    derSeq(derOid(sub("3")), derOctets(p.pceId)),
    derSeq(derOid(sub("4")), derOctets(p.fmspc)),
    derSeq(derOid(sub("5")), derEnum(p.sgxType)),
  ];
  if (platformInstanceId !== undefined) {
    items.push(derSeq(derOid(sub("6")), derOctets(platformInstanceId)));
    items.push(
      derSeq(
        derOid(sub("7")),
        derSeq(
          derSeq(derOid(sub("7.1")), derBool(false)),
          derSeq(derOid(sub("7.2")), derBool(false)),
          derSeq(derOid(sub("7.3")), derBool(false)),
        ),
      ),
    );
  }
  return ext(OID.sgx, false, derSeq(...items));
}

// ---------------------------------------------------------------------------------------------
// Defaults (the values of the real dcap-qvl `tdx_quote` sample, so a default world looks real)
// ---------------------------------------------------------------------------------------------

const DEFAULT_TDX_CPUSVN = "03030202040100050000000000000000";
const DEFAULT_TDX_TEE_TCB_SVN = "06010300000000000000000000000000";
const DEFAULT_SGX_CPUSVN = "0b0b0202ff0100000000000000000000";
const QE_MRSIGNER = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";
const TD_QE_MRENCLAVE = "5aa1a9e1b6d6fc2c9d1a0e6ec0b32c9f8e6d3e0b8b1f7cf52d3d9d1f4e1c8a01";
const DEFAULT_MR_SEAM = "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1";

function levelsFor(tee: "tdx" | "sgx", cpuSvn: Uint8Array, pceSvn: number, teeTcbSvn: Uint8Array): ForgeTcbLevel[] {
  const sgx = [...cpuSvn];
  const tdx = [...teeTcbSvn];
  const lower = (a: number[]): number[] => a.map((v) => (v > 0 ? v - 1 : 0));
  const base: ForgeTcbLevel = { sgx, pcesvn: pceSvn, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "UpToDate" };
  const old: ForgeTcbLevel = {
    sgx: lower(sgx),
    pcesvn: Math.max(0, pceSvn - 1),
    tcbDate: "2018-01-04T00:00:00Z",
    tcbStatus: "OutOfDate",
    advisoryIDs: ["INTEL-SA-00106", "INTEL-SA-00115"],
  };
  if (tee === "tdx") {
    base.tdx = tdx;
    old.tdx = lower(tdx);
  }
  return [base, old];
}

function levelJson(l: ForgeTcbLevel, tee: "tdx" | "sgx"): Record<string, unknown> {
  const tcb: Record<string, unknown> = { sgxtcbcomponents: l.sgx.map((svn) => ({ svn })), pcesvn: l.pcesvn };
  if (tee === "tdx" || l.tdx !== undefined) tcb.tdxtcbcomponents = (l.tdx ?? []).map((svn) => ({ svn }));
  const out: Record<string, unknown> = { tcb, tcbDate: l.tcbDate ?? "2024-03-13T00:00:00Z", tcbStatus: l.tcbStatus };
  if (l.advisoryIDs !== undefined) out.advisoryIDs = l.advisoryIDs;
  return out;
}

function isvLevelJson(l: ForgeIsvLevel): Record<string, unknown> {
  const out: Record<string, unknown> = { tcb: { isvsvn: l.isvsvn }, tcbDate: l.tcbDate ?? "2024-03-13T00:00:00Z", tcbStatus: l.tcbStatus };
  if (l.advisoryIDs !== undefined) out.advisoryIDs = l.advisoryIDs;
  return out;
}

function validity(v: ForgeValidity | undefined, notBefore: number, notAfter: number): { notBefore: number; notAfter: number } {
  return { notBefore: v?.notBefore ?? notBefore, notAfter: v?.notAfter ?? notAfter };
}

function checkTime(now: unknown, what: string): number {
  if (typeof now !== "number" || !Number.isSafeInteger(now) || now < 0) {
    throw new UsageError(`forge: ${what} must be a non-negative integer number of unix seconds, got ${String(now)}`);
  }
  return now;
}

// ---------------------------------------------------------------------------------------------
// World
// ---------------------------------------------------------------------------------------------

const FORGE_ORG = "dstack-kms-registry forge (NOT Intel)";
const SIGNER_CHOICES: readonly ForgeCollateralSigner[] = ["tcbSigning", "pckLeaf", "pckCa", "root", "other"];

function shapeKeyUsage(shape: ForgeCertShape | undefined): Uint8Array | null | undefined {
  if (shape?.keyUsage === undefined) return undefined;
  return shape.keyUsage === null ? null : keyUsageBits(shape.keyUsage);
}

/**
 * Build a synthetic DCAP world. Defaults: a TDX world (Platform CA) whose collateral is valid
 * around `opts.now` (default `FORGE_DEFAULT_NOW`: certificates from now−1y, CRLs / TCB Info / QE
 * Identity issued now−1d, next update now+30d) and whose default quote evaluates to `UpToDate`
 * with no advisory IDs.
 */
export async function createForgeWorld(opts: ForgeWorldOptions = {}): Promise<ForgeWorld> {
  const now = checkTime(opts.now ?? FORGE_DEFAULT_NOW, "now");
  const tee = opts.tee ?? "tdx";
  const ca = opts.ca ?? "platform";
  const seed = opts.seed === undefined ? undefined : typeof opts.seed === "string" ? utf8(opts.seed) : opts.seed;

  const secrets: Secrets = {
    seed,
    root: keyFrom(seed, "root"),
    pckCa: keyFrom(seed, "pck-ca"),
    pckLeaf: keyFrom(seed, "pck-leaf"),
    tcbSigning: keyFrom(seed, "tcb-signing"),
    other: undefined,
    counter: 0,
  };
  const wrong = keyFrom(seed, "unrelated");

  const intel = opts.intelNames === true;
  const org = intel ? "Intel Corporation" : FORGE_ORG;
  const name = (cn: string): ForgeName => ({ cn: intel ? `Intel SGX ${cn}` : `Forged SGX ${cn}`, o: org, l: "Santa Clara", st: "CA", c: "US" });
  // The verifier pins the names of the PCK CA and of the TCB Signing certificate under any trust
  // root (Intel's QVL accepts no others), so those two carry Intel's CN and O; their OU still says
  // NOT Intel. The root and the PCK leaf keep the forge's own names.
  const pinned = (cn: string): ForgeName => (intel ? name(cn) : { cn: `Intel SGX ${cn}`, o: "Intel Corporation", ou: FORGE_ORG, l: "Santa Clara", st: "CA", c: "US" });
  const rootName = name("Root CA");
  const caName = opts.pckCaShape?.subject ?? pinned(ca === "platform" ? "PCK Platform CA" : "PCK Processor CA");
  const leafName = name("PCK Certificate");
  const tcbName = opts.tcbSigningShape?.subject ?? pinned("TCB Signing");
  const tiSigner = opts.tcbInfo?.signer ?? opts.collateralSigner ?? "tcbSigning";
  const qiSigner = opts.qeIdentity?.signer ?? opts.collateralSigner ?? "tcbSigning";
  for (const choice of [tiSigner, qiSigner]) {
    if (!SIGNER_CHOICES.includes(choice)) throw new UsageError(`forge: unknown collateral signer ${JSON.stringify(choice)} (one of ${SIGNER_CHOICES.join(", ")})`);
  }

  // --- PCK extension values --------------------------------------------------------------------
  const cpuSvn = b(opts.cpuSvn, "cpuSvn", 16, hexToBytes(tee === "tdx" ? DEFAULT_TDX_CPUSVN : DEFAULT_SGX_CPUSVN));
  const pck: ForgeWorld["pck"] = {
    fmspc: b(opts.fmspc, "fmspc", 6, hexToBytes(tee === "tdx" ? "B0C06F000000" : "00906ED50000")),
    pceId: b(opts.pceId, "pceId", 2, new Uint8Array(2)),
    cpuSvn,
    pceSvn: opts.pceSvn ?? (tee === "tdx" ? 11 : 13),
    ppid: b(opts.ppid, "ppid", 16, bytesFrom(seed, "ppid", 16)),
    sgxType: opts.sgxType ?? (ca === "platform" ? 1 : 0),
  };
  const platformInstanceId = ca === "platform" ? b(opts.platformInstanceId, "platformInstanceId", 16, bytesFrom(seed, "piid", 16)) : undefined;
  const teeTcbSvn = hexToBytes(DEFAULT_TDX_TEE_TCB_SVN);

  // --- certificates ------------------------------------------------------------------------------
  const rootV = validity(opts.rootValidity, now - 365 * DAY, Date.UTC(2049, 11, 31, 23, 59, 59) / 1000);
  const caV = validity(opts.pckCaValidity, now - 365 * DAY, now + 10 * 365 * DAY);
  const leafV = validity(opts.pckLeafValidity, now - 180 * DAY, now + 7 * 365 * DAY);
  const tcbV = validity(opts.tcbSigningValidity, now - 365 * DAY, now + 7 * 365 * DAY);
  const rootCrlUri = opts.rootCrlUri ?? (intel ? "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" : "https://forge.invalid/IntelSGXRootCA.der");
  const pcsBase = intel ? "https://api.trustedservices.intel.com" : "https://forge.invalid";

  const root = makeCert({
    serial: serialFrom(seed, "root"),
    issuer: rootName,
    subject: rootName,
    ...rootV,
    pk: secrets.root.pk,
    issuerPk: secrets.root.pk,
    issuerSk: secrets.root.sk,
    ca: true,
    pathLen: 1,
    crlUri: rootCrlUri,
  });
  const pckCa = makeCert({
    serial: serialFrom(seed, "pck-ca"),
    issuer: rootName,
    subject: caName,
    ...caV,
    pk: secrets.pckCa.pk,
    issuerPk: secrets.root.pk,
    issuerSk: opts.certSignedByWrongKey?.pckCa ? wrong.sk : secrets.root.sk,
    ca: opts.pckCaShape?.ca ?? true,
    pathLen: 0,
    crlUri: rootCrlUri,
    keyUsage: shapeKeyUsage(opts.pckCaShape),
  });
  const pckLeaf = makeCert({
    serial: opts.pckLeafSerial === undefined ? serialFrom(seed, "pck-leaf") : uintContent(b(opts.pckLeafSerial, "pckLeafSerial", undefined, new Uint8Array(0))),
    issuer: caName,
    subject: leafName,
    ...leafV,
    pk: secrets.pckLeaf.pk,
    issuerPk: secrets.pckCa.pk,
    issuerSk: opts.certSignedByWrongKey?.pckLeaf ? wrong.sk : secrets.pckCa.sk,
    ca: opts.pckLeafIsCa === true,
    crlUri: `${pcsBase}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
    extra: [
      ...(opts.omitSgxExtension === true ? [] : [sgxExtension(pck, platformInstanceId)]),
      ...(opts.pckLeafExtraExtensions ?? []).map((e, i) => ext(e.oid, e.critical === true, b(e.value, `pckLeafExtraExtensions[${i}].value`, undefined, new Uint8Array(0)))),
    ],
  });
  const tcbSigning = makeCert({
    serial: serialFrom(seed, "tcb-signing"),
    issuer: rootName,
    subject: tcbName,
    ...tcbV,
    pk: secrets.tcbSigning.pk,
    issuerPk: secrets.root.pk,
    issuerSk: opts.certSignedByWrongKey?.tcbSigning ? wrong.sk : secrets.root.sk,
    ca: opts.tcbSigningShape?.ca ?? false,
    crlUri: rootCrlUri,
    keyUsage: shapeKeyUsage(opts.tcbSigningShape),
  });
  let other: ForgeCert | undefined;
  const otherByCa = opts.otherSigner?.issuer === "pckCa";
  if (tiSigner === "other" || qiSigner === "other") {
    const os = opts.otherSigner ?? {};
    secrets.other = keyFrom(seed, "other-signer");
    other = makeCert({
      serial: serialFrom(seed, "other-signer"),
      issuer: otherByCa ? caName : rootName,
      subject: os.subject ?? name("Collateral Signer"),
      ...tcbV,
      pk: secrets.other.pk,
      issuerPk: otherByCa ? secrets.pckCa.pk : secrets.root.pk,
      issuerSk: otherByCa ? secrets.pckCa.sk : secrets.root.sk,
      ca: os.ca ?? false,
      crlUri: otherByCa ? `${pcsBase}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der` : rootCrlUri,
      keyUsage: shapeKeyUsage(os),
    });
  }
  const signerChain = (choice: ForgeCollateralSigner): string =>
    choice === "pckLeaf"
      ? pckLeaf.pem + pckCa.pem + root.pem
      : choice === "pckCa"
        ? pckCa.pem + root.pem
        : choice === "root"
          ? root.pem
          : choice === "other"
            ? other!.pem + (otherByCa ? pckCa.pem : "") + root.pem
            : tcbSigning.pem + root.pem;

  // --- CRLs ------------------------------------------------------------------------------------
  const serialsOf = (list: (BytesLike | bigint)[] | undefined): Uint8Array[] =>
    (list ?? []).map((s, i) => (typeof s === "bigint" ? uintContent(s) : b(s, `revokedSerials[${i}]`, undefined, new Uint8Array(0))));
  const rootRevoked = serialsOf(opts.rootCrl?.revokedSerials);
  if (opts.revoke?.pckCa) rootRevoked.push(pckCa.serial);
  if (opts.revoke?.tcbSigning) rootRevoked.push(tcbSigning.serial);
  if (opts.revoke?.root) rootRevoked.push(root.serial);
  const pckRevoked = serialsOf(opts.pckCrl?.revokedSerials);
  if (opts.revoke?.pckLeaf) pckRevoked.push(pckLeaf.serial);
  // A few unrelated revoked serials, like Intel's CRLs.
  pckRevoked.unshift(serialFrom(seed, "revoked-1"), serialFrom(seed, "revoked-2"));

  const rootCrl = makeCrl(
    rootName,
    secrets.root.pk,
    opts.rootCrl?.signWithWrongKey ? wrong.sk : secrets.root.sk,
    opts.rootCrl?.thisUpdate ?? now - DAY,
    opts.rootCrl?.nextUpdate ?? now + 30 * DAY,
    rootRevoked,
    1,
  );
  const pckCrl = makeCrl(
    caName,
    secrets.pckCa.pk,
    opts.pckCrl?.signWithWrongKey ? wrong.sk : secrets.pckCa.sk,
    opts.pckCrl?.thisUpdate ?? now - DAY,
    opts.pckCrl?.nextUpdate ?? now + 30 * DAY,
    pckRevoked,
    1,
  );

  // --- QE ----------------------------------------------------------------------------------------
  const qeAttributes = new Uint8Array(16);
  qeAttributes[0] = tee === "tdx" ? 0x15 : 0x11;
  qeAttributes[8] = 0xe7;
  const qe: ForgeQe = {
    mrSigner: hexToBytes(QE_MRSIGNER),
    mrEnclave: hexToBytes(TD_QE_MRENCLAVE),
    isvProdId: tee === "tdx" ? 2 : 1,
    isvSvn: tee === "tdx" ? 6 : 10,
    attributes: qeAttributes,
    miscSelect: 0,
    cpuSvn,
  };

  // --- TCB Info ----------------------------------------------------------------------------------
  const ti = opts.tcbInfo ?? {};
  const tcbInfoObj: Record<string, unknown> = {
    id: tee === "tdx" ? "TDX" : "SGX",
    version: ti.version ?? 3,
    issueDate: iso(ti.issueDate ?? now - DAY),
    nextUpdate: iso(ti.nextUpdate ?? now + 30 * DAY),
    fmspc: upperHex(b(ti.fmspc, "tcbInfo.fmspc", 6, pck.fmspc)),
    pceId: upperHex(pck.pceId),
    tcbType: 0,
    tcbEvaluationDataNumber: ti.tcbEvaluationDataNumber ?? 17,
  };
  if (tee === "tdx") {
    const zero48 = new Uint8Array(48);
    const attr0 = new Uint8Array(8);
    const maskFF = new Uint8Array(8).fill(0xff);
    if (ti.tdxModule !== null) {
      const m = ti.tdxModule ?? {};
      tcbInfoObj.tdxModule = {
        mrsigner: upperHex(b(m.mrsigner, "tdxModule.mrsigner", undefined, zero48)),
        attributes: upperHex(b(m.attributes, "tdxModule.attributes", undefined, attr0)),
        attributesMask: upperHex(b(m.attributesMask, "tdxModule.attributesMask", undefined, maskFF)),
      };
    }
    if (ti.tdxModuleIdentities !== null) {
      const ids: ForgeModuleIdentity[] = ti.tdxModuleIdentities ?? [
        {
          id: "TDX_01",
          tcbLevels: [
            { isvsvn: 4, tcbStatus: "UpToDate" },
            { isvsvn: 2, tcbDate: "2023-08-09T00:00:00Z", tcbStatus: "OutOfDate" },
          ],
        },
      ];
      tcbInfoObj.tdxModuleIdentities = ids.map((m) => ({
        id: m.id,
        mrsigner: upperHex(b(m.mrsigner, "tdxModuleIdentities.mrsigner", undefined, zero48)),
        attributes: upperHex(b(m.attributes, "tdxModuleIdentities.attributes", undefined, attr0)),
        attributesMask: upperHex(b(m.attributesMask, "tdxModuleIdentities.attributesMask", undefined, maskFF)),
        tcbLevels: m.tcbLevels.map(isvLevelJson),
      }));
    }
  }
  tcbInfoObj.tcbLevels = (ti.tcbLevels ?? levelsFor(tee, cpuSvn, pck.pceSvn, teeTcbSvn)).map((l) => levelJson(l, tee));
  const tcbInfoFinal = ti.edit?.(tcbInfoObj) ?? tcbInfoObj;
  const tcbInfo = ti.text ?? JSON.stringify(tcbInfoFinal);
  const tcbInfoSignature = signRaw(ti.signWithWrongKey ? wrong.sk : signerKey(secrets, tiSigner), utf8(tcbInfo));

  // --- QE Identity -------------------------------------------------------------------------------
  const qi = opts.qeIdentity ?? {};
  const qeObj: Record<string, unknown> = {
    id: qi.id ?? (tee === "tdx" ? "TD_QE" : "QE"),
    version: qi.version ?? 2,
    issueDate: iso(qi.issueDate ?? now - DAY),
    nextUpdate: iso(qi.nextUpdate ?? now + 30 * DAY),
    tcbEvaluationDataNumber: 17,
    miscselect: upperHex(b(qi.miscselect, "qeIdentity.miscselect", undefined, new Uint8Array(4))),
    miscselectMask: upperHex(b(qi.miscselectMask, "qeIdentity.miscselectMask", undefined, new Uint8Array(4).fill(0xff))),
    attributes: upperHex(b(qi.attributes, "qeIdentity.attributes", undefined, hexToBytes("11000000000000000000000000000000"))),
    attributesMask: upperHex(b(qi.attributesMask, "qeIdentity.attributesMask", undefined, hexToBytes("FBFFFFFFFFFFFFFF0000000000000000"))),
    mrsigner: upperHex(b(qi.mrsigner, "qeIdentity.mrsigner", undefined, qe.mrSigner)),
    isvprodid: qi.isvprodid ?? qe.isvProdId,
    tcbLevels: (qi.tcbLevels ?? [{ isvsvn: tee === "tdx" ? 4 : 8, tcbStatus: "UpToDate" }]).map(isvLevelJson),
  };
  const qeFinal = qi.edit?.(qeObj) ?? qeObj;
  const qeIdentity = qi.text ?? JSON.stringify(qeFinal);
  const qeIdentitySignature = signRaw(qi.signWithWrongKey ? wrong.sk : signerKey(secrets, qiSigner), utf8(qeIdentity));

  const collateral: Collateral = {
    pckCrlIssuerChain: pckCa.pem + root.pem,
    rootCaCrl: rootCrl,
    pckCrl,
    tcbInfoIssuerChain: signerChain(tiSigner),
    tcbInfo,
    tcbInfoSignature,
    qeIdentityIssuerChain: signerChain(qiSigner),
    qeIdentity,
    qeIdentitySignature,
  };

  const world: ForgeWorld = {
    options: Object.freeze({ ...opts, seed: undefined }),
    tee,
    now,
    ca,
    rootCaDer: root.der,
    rootCaPem: root.pem,
    certs: { root, pckCa, pckLeaf, tcbSigning, ...(other ? { other } : {}) },
    pckChainPem: pckLeaf.pem + pckCa.pem + root.pem,
    collateral,
    pck,
    qe,
    teeTcbSvn,
  };
  SECRETS.set(world, secrets);
  return world;
}

/**
 * Sign `text` (UTF-8) with the world's TCB Signing key (or another of its keys: `signer`), raw
 * `r‖s` — the signature format of `tcb_info` / `qe_identity`. For tests that need hand-written
 * collateral JSON. `"other"` needs a world made with that signer choice.
 */
export function forgeSignCollateralText(world: ForgeWorld, text: string, signer: ForgeCollateralSigner = "tcbSigning"): Uint8Array {
  return signRaw(signerKey(secretsOf(world), signer), utf8(text));
}

function signerKey(s: Secrets, choice: ForgeCollateralSigner): Uint8Array {
  switch (choice) {
    case "tcbSigning":
      return s.tcbSigning.sk;
    case "pckLeaf":
      return s.pckLeaf.sk;
    case "pckCa":
      return s.pckCa.sk;
    case "root":
      return s.root.sk;
    case "other":
      if (!s.other) throw new UsageError('forge: this world has no "other" signer (make it with collateralSigner, tcbInfo.signer or qeIdentity.signer "other")');
      return s.other.sk;
    default:
      throw new UsageError(`forge: unknown collateral signer ${JSON.stringify(choice)}`);
  }
}

function secretsOf(world: ForgeWorld): Secrets {
  const s = SECRETS.get(world);
  if (s === undefined) throw new UsageError("forge: not a world made by createForgeWorld (its keys are unknown)");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Quotes
// ---------------------------------------------------------------------------------------------

function enclaveReport(f: {
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn?: number;
  reportData: Uint8Array;
}): Uint8Array {
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

  // --- body ---------------------------------------------------------------------------------
  let body: Uint8Array;
  if (bodyKind === "sgx") {
    const s = opts.sgx ?? {};
    const attrs = new Uint8Array(16);
    attrs[0] = 0x05;
    attrs[8] = 0x03;
    body = enclaveReport({
      cpuSvn: b(s.cpuSvn, "sgx.cpuSvn", 16, world.pck.cpuSvn),
      miscSelect: s.miscSelect ?? 0,
      attributes: b(s.attributes, "sgx.attributes", 16, attrs),
      mrEnclave: b(s.mrEnclave, "sgx.mrEnclave", 32, sha256(utf8("forge enclave"))),
      mrSigner: b(s.mrSigner, "sgx.mrSigner", 32, sha256(utf8("forge enclave signer"))),
      isvProdId: s.isvProdId ?? 0,
      isvSvn: s.isvSvn ?? 0,
      configSvn: s.configSvn ?? 0,
      reportData,
    });
  } else {
    body = new Uint8Array(bodyKind === "td15" ? 648 : 584);
    const zero48 = new Uint8Array(48);
    body.set(b(opts.teeTcbSvn, "teeTcbSvn", 16, world.teeTcbSvn), 0);
    body.set(b(opts.mrSeam, "mrSeam", 48, hexToBytes(DEFAULT_MR_SEAM)), 16);
    body.set(b(opts.mrSignerSeam, "mrSignerSeam", 48, zero48), 64);
    body.set(b(opts.seamAttributes, "seamAttributes", 8, new Uint8Array(8)), 112);
    body.set(b(opts.tdAttributes, "tdAttributes", 8, hexToBytes("0000001000000000")), 120);
    body.set(b(opts.xfam, "xfam", 8, hexToBytes("e702060000000000")), 128);
    body.set(b(opts.mrTd, "mrTd", 48, zero48), 136);
    body.set(b(opts.mrConfigId, "mrConfigId", 48, zero48), 184);
    body.set(b(opts.mrOwner, "mrOwner", 48, zero48), 232);
    body.set(b(opts.mrOwnerConfig, "mrOwnerConfig", 48, zero48), 280);
    const rt = opts.rtMrs ?? [];
    if (rt.length > 4) throw new UsageError(`forge: at most 4 RTMRs, got ${rt.length}`);
    for (let i = 0; i < 4; i++) body.set(b(rt[i], `rtMrs[${i}]`, 48, zero48), 328 + 48 * i);
    body.set(reportData, 520);
    if (bodyKind === "td15") {
      body.set(b(opts.teeTcbSvn2, "teeTcbSvn2", 16, new Uint8Array(16)), 584);
      body.set(b(opts.mrServiceTd, "mrServiceTd", 48, zero48), 600);
    }
  }

  // --- header -------------------------------------------------------------------------------
  const header = new Uint8Array(48);
  header.set(u16le(version), 0);
  header.set(u16le(opts.attestationKeyType ?? 2), 2);
  header.set(u32le(opts.teeType ?? (bodyKind === "sgx" ? 0 : 0x81)), 4);
  header.set(u16le(opts.qeSvn ?? (version === 3 ? world.qe.isvSvn : 0)), 8);
  header.set(u16le(opts.pceSvn ?? (version === 3 ? world.pck.pceSvn : 0)), 10);
  header.set(b(opts.qeVendorId, "qeVendorId", 16, hexToBytes(INTEL_QE_VENDOR_ID)), 12);
  header.set(padRight(opts.userData ?? bytesFrom(secrets.seed, "user-data", 16), "userData", 20), 28);

  const signed =
    version === 5
      ? concatBytes(header, u16le(bodyKind === "sgx" ? 1 : bodyKind === "td10" ? 2 : 3), u32le(opts.bodySize ?? body.length), body)
      : concatBytes(header, body);

  // --- attestation key ------------------------------------------------------------------------
  secrets.counter++;
  const akSk =
    opts.attestationKey !== undefined
      ? b(opts.attestationKey, "attestationKey", 32, new Uint8Array(0))
      : keyFrom(secrets.seed === undefined ? undefined : concatBytes(secrets.seed, sha256(signed)), "attestation-key").sk;
  const akPub = p256.getPublicKey(akSk, false).subarray(1);
  const quoteSig = signRaw(opts.signQuoteWithWrongKey ? keyFrom(secrets.seed, "wrong-attestation").sk : akSk, signed);

  // --- QE report ------------------------------------------------------------------------------
  const qeAuth = b(opts.qeAuthData, "qeAuthData", undefined, Uint8Array.from({ length: 32 }, (_, i) => i));
  const binding = sha256(concatBytes(akPub, qeAuth));
  if (opts.breakQeBinding) binding[0] = (binding[0] ?? 0) ^ 0xff;
  const q = opts.qe ?? {};
  const qeReport = enclaveReport({
    cpuSvn: b(q.cpuSvn, "qe.cpuSvn", 16, world.qe.cpuSvn),
    miscSelect: q.miscSelect ?? world.qe.miscSelect,
    attributes: b(q.attributes, "qe.attributes", 16, world.qe.attributes),
    mrEnclave: b(q.mrEnclave, "qe.mrEnclave", 32, world.qe.mrEnclave),
    mrSigner: b(q.mrSigner, "qe.mrSigner", 32, world.qe.mrSigner),
    isvProdId: q.isvProdId ?? world.qe.isvProdId,
    isvSvn: q.isvSvn ?? world.qe.isvSvn,
    reportData: concatBytes(binding, b(q.reportDataTail, "qe.reportDataTail", 32, new Uint8Array(32))),
  });
  const qeSig = signRaw(opts.signQeReportWithWrongKey ? keyFrom(secrets.seed, "wrong-pck").sk : secrets.pckLeaf.sk, qeReport);

  // --- certification data ---------------------------------------------------------------------
  const chain = opts.certData !== undefined ? b(opts.certData, "certData", undefined, new Uint8Array(0)) : utf8(`${opts.pemChain ?? world.pckChainPem}\0`);
  const inner = concatBytes(u16le(opts.innerCertType ?? 5), u32le(chain.length), chain);
  const qeCertData = concatBytes(qeReport, qeSig, u16le(qeAuth.length), qeAuth, inner);
  const sigData =
    version === 3
      ? concatBytes(quoteSig, akPub, qeCertData)
      : concatBytes(quoteSig, akPub, u16le(opts.outerCertType ?? 6), u32le(qeCertData.length), qeCertData);

  return concatBytes(signed, u32le(sigData.length), sigData, b(opts.trailing, "trailing", undefined, new Uint8Array(0)));
}
