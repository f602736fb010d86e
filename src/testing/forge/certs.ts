/**
 * The certificates of a forged world: the root CA, the PCK Platform or Processor CA it issues, the PCK
 * leaf (with the SGX extension) the PCK CA issues, the TCB Signing certificate the root issues, and, when
 * a world asks for it, one extra collateral signer. Names, validity windows, CA flags, key usages and
 * signing keys can each be overridden to build the shapes a verifier must refuse.
 */
import { DAY, optionBytes, type BytesLike, type WorldFrame } from "./common.js";
import { derBool, derEnum, derInt, derOctets, derOid, derSeq, uintContent } from "./der.js";
import type { ForgePck, ForgePlatform } from "./platform.js";
import { keyFrom, serialFrom, type Secrets } from "./secrets.js";
import { ext, keyUsageBits, makeCert, OID, type ForgeCert, type ForgeKeyUsage, type ForgeName } from "./x509.js";

/** Validity window of one certificate, unix seconds (inclusive). */
export interface ForgeValidity {
  notBefore?: number;
  notAfter?: number;
}

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

/** The extra certificate of `collateralSigner: "other"`: a shape, and who issues it (default the root). */
export interface ForgeOtherSigner extends ForgeCertShape {
  issuer?: "root" | "pckCa";
}

/** Options of the world's certificates. */
export interface ForgeCertificateOptions {
  /**
   * Use Intel's exact subject names (`CN=Intel SGX Root CA, O=Intel Corporation, …`) instead of
   * the forge's clearly labelled ones. Default false: the root and the PCK leaf are "Forged SGX …"
   * with O "… (NOT Intel)"; the PCK CA and the TCB Signing certificate, whose names the verifier
   * pins under any root, get Intel's CN and O `Intel Corporation` with OU "… (NOT Intel)".
   */
  intelNames?: boolean;
  /** CRL distribution point URI written into the root, PCK CA and TCB Signing certificates. */
  rootCrlUri?: string;

  // --- PCK leaf ------------------------------------------------------------------------------
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

  /** Sign the named certificates with an unrelated key (issuer name unchanged): a bad certificate signature. */
  certSignedByWrongKey?: { pckLeaf?: boolean; pckCa?: boolean; tcbSigning?: boolean };

  // --- certificate shapes ---------------------------------------------------------------------
  /** Subject / CA flag / key usage of the PCK CA (default: CN `Intel SGX PCK Platform|Processor CA`, a CA with keyCertSign + cRLSign). */
  pckCaShape?: ForgeCertShape;
  /** Subject / CA flag / key usage of the TCB Signing certificate (default: CN `Intel SGX TCB Signing`, O `Intel Corporation`, end entity, digitalSignature). */
  tcbSigningShape?: ForgeCertShape;
  /** The extra certificate used by the signer choice `"other"` (made only when chosen). Default: a root-issued end entity named `… Collateral Signer`. */
  otherSigner?: ForgeOtherSigner;
}

export interface ForgeCerts {
  root: ForgeCert;
  pckCa: ForgeCert;
  pckLeaf: ForgeCert;
  tcbSigning: ForgeCert;
  /** only with the signer choice `"other"` */
  other?: ForgeCert;
}

/** The subjects of a world's certificates. */
export interface WorldNames {
  root: ForgeName;
  pckCa: ForgeName;
  pckLeaf: ForgeName;
  tcbSigning: ForgeName;
  other: ForgeName;
}

const FORGE_ORG = "dstack-kms-registry forge (NOT Intel)";

export function worldNames(ca: WorldFrame["ca"], opts: ForgeCertificateOptions): WorldNames {
  const intel = opts.intelNames === true;
  const org = intel ? "Intel Corporation" : FORGE_ORG;
  const name = (cn: string): ForgeName => ({ cn: intel ? `Intel SGX ${cn}` : `Forged SGX ${cn}`, o: org, l: "Santa Clara", st: "CA", c: "US" });
  // The verifier pins the names of the PCK CA and of the TCB Signing certificate under any trust root
  // (Intel's quote verification library accepts no others), so those two carry Intel's CN and O; their
  // OU still says NOT Intel. The root and the PCK leaf keep the forge's own names.
  const pinned = (cn: string): ForgeName => (intel ? name(cn) : { cn: `Intel SGX ${cn}`, o: "Intel Corporation", ou: FORGE_ORG, l: "Santa Clara", st: "CA", c: "US" });
  return {
    root: name("Root CA"),
    pckCa: opts.pckCaShape?.subject ?? pinned(ca === "platform" ? "PCK Platform CA" : "PCK Processor CA"),
    pckLeaf: name("PCK Certificate"),
    tcbSigning: opts.tcbSigningShape?.subject ?? pinned("TCB Signing"),
    other: opts.otherSigner?.subject ?? name("Collateral Signer"),
  };
}

function validity(v: ForgeValidity | undefined, notBefore: number, notAfter: number): { notBefore: number; notAfter: number } {
  return { notBefore: v?.notBefore ?? notBefore, notAfter: v?.notAfter ?? notAfter };
}

function shapeKeyUsage(shape: ForgeCertShape | undefined): Uint8Array | null | undefined {
  if (shape?.keyUsage === undefined) return undefined;
  return shape.keyUsage === null ? null : keyUsageBits(shape.keyUsage);
}

/** What issuing a world's certificates needs. */
export interface CertificateInputs {
  frame: WorldFrame;
  opts: ForgeCertificateOptions;
  names: WorldNames;
  secrets: Secrets;
  platform: ForgePlatform;
  /** Make the extra collateral signer (`"other"`). */
  withOther: boolean;
}

/**
 * Issue the world's certificates. Defaults: the root valid from now−1y to the end of 2049, the PCK CA
 * now−1y … now+10y, the PCK leaf now−180d … now+7y, the TCB Signing certificate now−1y … now+7y.
 * Making the extra signer stores its key in `secrets.other`.
 */
export function issueCertificates(c: CertificateInputs): ForgeCerts {
  const { now, seed } = c.frame;
  const { opts, names, secrets } = c;
  const wrong = secrets.unrelated;
  const urls = crlUrls(c.frame, opts);
  const root = makeCert({
    serial: serialFrom(seed, "root"),
    issuer: names.root,
    subject: names.root,
    ...validity(opts.rootValidity, now - 365 * DAY, Date.UTC(2049, 11, 31, 23, 59, 59) / 1000),
    pk: secrets.root.pk,
    issuerPk: secrets.root.pk,
    issuerSk: secrets.root.sk,
    ca: true,
    pathLen: 1,
    crlUri: urls.root,
  });
  const pckCa = makeCert({
    serial: serialFrom(seed, "pck-ca"),
    issuer: names.root,
    subject: names.pckCa,
    ...validity(opts.pckCaValidity, now - 365 * DAY, now + 10 * 365 * DAY),
    pk: secrets.pckCa.pk,
    issuerPk: secrets.root.pk,
    issuerSk: opts.certSignedByWrongKey?.pckCa ? wrong.sk : secrets.root.sk,
    ca: opts.pckCaShape?.ca ?? true,
    pathLen: 0,
    crlUri: urls.root,
    keyUsage: shapeKeyUsage(opts.pckCaShape),
  });
  const pckLeaf = issuePckLeaf(c);
  const tcbSigning = makeCert({
    serial: serialFrom(seed, "tcb-signing"),
    issuer: names.root,
    subject: names.tcbSigning,
    ...tcbSigningValidity(c),
    pk: secrets.tcbSigning.pk,
    issuerPk: secrets.root.pk,
    issuerSk: opts.certSignedByWrongKey?.tcbSigning ? wrong.sk : secrets.root.sk,
    ca: opts.tcbSigningShape?.ca ?? false,
    crlUri: urls.root,
    keyUsage: shapeKeyUsage(opts.tcbSigningShape),
  });
  const other = c.withOther ? issueOtherSigner(c) : undefined;
  return { root, pckCa, pckLeaf, tcbSigning, ...(other ? { other } : {}) };
}

function crlUrls(frame: WorldFrame, opts: ForgeCertificateOptions): { root: string; pck: string } {
  const intel = opts.intelNames === true;
  const pcsBase = intel ? "https://api.trustedservices.intel.com" : "https://forge.invalid";
  return {
    root: opts.rootCrlUri ?? (intel ? "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der" : "https://forge.invalid/IntelSGXRootCA.der"),
    pck: `${pcsBase}/sgx/certification/v4/pckcrl?ca=${frame.ca}&encoding=der`,
  };
}

function tcbSigningValidity(c: CertificateInputs): { notBefore: number; notAfter: number } {
  return validity(c.opts.tcbSigningValidity, c.frame.now - 365 * DAY, c.frame.now + 7 * 365 * DAY);
}

function issuePckLeaf(c: CertificateInputs): ForgeCert {
  const { now, seed } = c.frame;
  const { opts, names, secrets } = c;
  const serial = opts.pckLeafSerial === undefined ? serialFrom(seed, "pck-leaf") : uintContent(optionBytes(opts.pckLeafSerial, "pckLeafSerial", undefined, new Uint8Array(0)));
  const sgx = opts.omitSgxExtension === true ? [] : [sgxExtension(c.platform.pck, c.platform.platformInstanceId)];
  const extra = (opts.pckLeafExtraExtensions ?? []).map((e, i) => ext(e.oid, e.critical === true, optionBytes(e.value, `pckLeafExtraExtensions[${i}].value`, undefined, new Uint8Array(0))));
  return makeCert({
    serial,
    issuer: names.pckCa,
    subject: names.pckLeaf,
    ...validity(opts.pckLeafValidity, now - 180 * DAY, now + 7 * 365 * DAY),
    pk: secrets.pckLeaf.pk,
    issuerPk: secrets.pckCa.pk,
    issuerSk: opts.certSignedByWrongKey?.pckLeaf ? secrets.unrelated.sk : secrets.pckCa.sk,
    ca: opts.pckLeafIsCa === true,
    crlUri: crlUrls(c.frame, opts).pck,
    extra: [...sgx, ...extra],
  });
}

/** The extra collateral signer: by default a root-issued end entity, valid like the TCB Signing certificate. */
function issueOtherSigner(c: CertificateInputs): ForgeCert {
  const { opts, names, secrets } = c;
  const shape = opts.otherSigner ?? {};
  const byPckCa = shape.issuer === "pckCa";
  const issuer = byPckCa ? secrets.pckCa : secrets.root;
  secrets.other = keyFrom(c.frame.seed, "other-signer");
  const urls = crlUrls(c.frame, opts);
  return makeCert({
    serial: serialFrom(c.frame.seed, "other-signer"),
    issuer: byPckCa ? names.pckCa : names.root,
    subject: names.other,
    ...tcbSigningValidity(c),
    pk: secrets.other.pk,
    issuerPk: issuer.pk,
    issuerSk: issuer.sk,
    ca: shape.ca ?? false,
    crlUri: byPckCa ? urls.pck : urls.root,
    keyUsage: shapeKeyUsage(shape),
  });
}

/** The SGX extension of a PCK leaf: PPID, the TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type and, under the Platform CA, the platform instance id and configuration. */
function sgxExtension(p: ForgePck, platformInstanceId: Uint8Array | undefined): Uint8Array {
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
    const flag = (n: string): Uint8Array => derSeq(derOid(sub(n)), derBool(false));
    items.push(derSeq(derOid(sub("6")), derOctets(platformInstanceId)));
    items.push(derSeq(derOid(sub("7")), derSeq(flag("7.1"), flag("7.2"), flag("7.3"))));
  }
  return ext(OID.sgx, false, derSeq(...items));
}
