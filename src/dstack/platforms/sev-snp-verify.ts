/**
 * Offline verification of an AMD SEV-SNP attestation report with its VCEK: the AMD chain
 * VCEK ← ASK ← ARK (RSA-PSS with SHA-384, salt 48; the ARK must be AMD's pinned root of the product,
 * the pinned one is used when none is given), every certificate's validity at `now`, the VCEK's TCB
 * extensions and hwID against the report's reported_tcb and chip_id, the report's ECDSA P-384 / SHA-384
 * signature over bytes [0, 0x2A0) by the VCEK's key, then the guest policy rules (debugging refused
 * unless allowed; migration agent and SMT reported).
 *
 * Nothing is fetched here: the VCEK (and optionally the ASK, ARK and CRLs) come from the caller (a file, or
 * AMD's KDS through `amd-kds.ts`). Given CRLs, the chain is checked against them: the ARK's CRL signed by the
 * ARK, current at `now`, not listing the ASK. AMD publishes no TCB status; none is consulted.
 */
import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";

import { bytesToHex } from "../../core/bytes.js";
import { InputError, VerificationError, type ErrorCode } from "../../core/errors.js";
import { commonName, parseCertificate, parseCrl, pemBlocks, type Certificate, type Crl } from "../../dcap/x509.js";
import { AMD_ARKS, AMD_PRODUCTS, type AmdProduct } from "./amd-roots.js";
import { parseSnpReport, snpReportJson, SNP_REPORT_LENGTH, type SnpReport } from "./sev-snp.js";

/** One named step of the verification, in the order performed. */
export interface SnpCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SnpVerifyOptions {
  /** The VCEK certificate, DER. */
  vcekDer: Uint8Array;
  /** The ASK certificate, DER; without it the ASK must be given in `chainDer`. */
  askDer?: Uint8Array;
  /** The ARK certificate, DER; it must equal the pinned ARK of the product (the pinned one is used when absent). */
  arkDer?: Uint8Array;
  /** Verification time, unix seconds. */
  now: number;
  /** Accept a guest whose policy allows debugging (refused by default). */
  allowDebug?: boolean;
  /**
   * CRLs (DER) to check the chain against: one issued by the ARK is required (AMD's KDS `crl`), signed with
   * RSA-PSS by it, current at `now`, listing neither the ASK nor (a CRL of the ASK, when given) the VCEK.
   */
  crlDers?: Uint8Array[];
  /** A test ARK (DER) instead of AMD's pinned one (test worlds, the simulator): the result is then not genuine. */
  testArkDer?: Uint8Array;
}

export interface VerifiedSnpReport {
  ok: boolean;
  platform: "sev-snp";
  product: AmdProduct;
  /** True only when the chain ends at AMD's pinned ARK of the product. */
  genuine: boolean;
  /** The revocation check, null when no CRL was given. */
  crl: { thisUpdate: string; nextUpdate: string; issuers: string[] } | null;
  verification: { ok: true; checks: SnpCheck[] };
  policy: { ok: boolean; rules: SnpCheck[] };
  report: Record<string, unknown>;
  vcek: { subject: string; serial: string; notBefore: string; notAfter: string; tcb: SnpTcb; hwId: string };
}

/** A failed step: the checks so far (the last one failed), the report's fields when it parsed, and the policy when only it refused. */
export class SnpVerificationError extends VerificationError {
  readonly checks: SnpCheck[];
  report?: Record<string, unknown>;
  verification?: { ok: boolean; checks: SnpCheck[] };
  policy?: { ok: boolean; rules: SnpCheck[] } | null;
  constructor(code: ErrorCode, message: string, checks: SnpCheck[]) {
    super(code, message, { details: { step: checks[checks.length - 1]?.name } });
    this.checks = checks;
  }
}

/** The four security patch levels of a TCB_VERSION (and Turin's FMC level). */
export interface SnpTcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  fmc?: number;
}

const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
const OID_BL_SPL = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID = "1.3.6.1.4.1.3704.1.4";

/** The report's bytes covered by the signature. */
const SIGNED_LENGTH = 0x2a0;

/** The guest policy bits the rules read. */
const POLICY_SMT = 1n << 16n;
const POLICY_RESERVED_ONE = 1n << 17n;
const POLICY_MIGRATE_MA = 1n << 18n;
const POLICY_DEBUG = 1n << 19n;
const POLICY_SINGLE_SOCKET = 1n << 20n;

/** Known CPUID family/model of each product (a v3+ report names them). */
const CPUID_PRODUCTS: { family: number; model: number; product: AmdProduct }[] = [
  { family: 0x19, model: 0x01, product: "Milan" },
  { family: 0x19, model: 0x11, product: "Genoa" },
  { family: 0x1a, model: 0x02, product: "Turin" },
];

/** A TCB_VERSION's levels: Milan and Genoa bl, tee, 4 reserved, snp, ucode; Turin fmc, bl, tee, snp, 3 reserved, ucode. */
export function decodeTcb(tcb: bigint, product: AmdProduct): SnpTcb {
  const b = (i: number) => Number((tcb >> BigInt(8 * i)) & 0xffn);
  if (product === "Turin") return { fmc: b(0), bootloader: b(1), tee: b(2), snp: b(3), microcode: b(7) };
  return { bootloader: b(0), tee: b(1), snp: b(6), microcode: b(7) };
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString();
}

/** The certificates of a PEM text (any number of blocks) or one DER certificate; `what` names it in errors. */
export function amdCertificatesFromFile(bytes: Uint8Array, what: string): Uint8Array[] {
  if (bytes[0] === 0x30) return [bytes];
  const blocks = pemBlocks(new TextDecoder().decode(bytes), what);
  if (blocks.length === 0) throw new InputError("BAD_PEM", `${what}: neither DER nor a PEM certificate`);
  return blocks;
}

/** The CRLs of a file: one DER CRL, or PEM blocks (`X509 CRL`); `what` names it in errors. */
export function amdCrlsFromFile(bytes: Uint8Array, what: string): Uint8Array[] {
  if (bytes[0] === 0x30) return [bytes];
  const text = new TextDecoder().decode(bytes);
  const blocks = [...text.matchAll(/-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/g)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
  if (blocks.length === 0) throw new InputError("BAD_PEM", `${what}: neither a DER CRL nor PEM X509 CRL blocks`);
  return blocks.map((b) => new Uint8Array(b));
}

/**
 * The VCEK, ASK and ARK among certificates given in any order (a KDS `cert_chain` file, an attestation's
 * cert_chain, a VCEK file): told apart by their subject's common name (SEV-VCEK, SEV-<product> or
 * SEV-VLEK's issuer, ARK-<product>).
 */
export function sortAmdCertificates(ders: Uint8Array[], what: string): { vcek?: Uint8Array; ask?: Uint8Array; ark?: Uint8Array } {
  const out: { vcek?: Uint8Array; ask?: Uint8Array; ark?: Uint8Array } = {};
  ders.forEach((der, i) => {
    const cn = commonName(parseCertificate(der, `${what} certificate ${i + 1}`).subject);
    const role = cn === "SEV-VCEK" ? "vcek" : cn.startsWith("ARK-") ? "ark" : cn.startsWith("SEV-") ? "ask" : undefined;
    if (!role) throw new InputError("SNP_CERT_INVALID", `${what} certificate ${i + 1}: subject CN=${cn} is neither a VCEK (SEV-VCEK), an ASK (SEV-<product>) nor an ARK (ARK-<product>)`, { details: { what, index: i } });
    if (out[role]) throw new InputError("SNP_CERT_INVALID", `${what}: more than one ${role.toUpperCase()} certificate`, { details: { what, role } });
    out[role] = der;
  });
  return out;
}

/** The unsigned value of a DER INTEGER extension (an SPL), or of a raw one-byte value. */
function splValue(cert: Certificate, oid: string, name: string): number | undefined {
  const e = cert.extensions.find((x) => x.oid === oid);
  if (!e) return undefined;
  const v = e.value;
  if (v[0] === 0x02 && v[1] !== undefined && v[1] === v.length - 2 && v.length <= 6) {
    let n = 0;
    for (let i = 2; i < v.length; i++) n = n * 256 + v[i]!;
    return n;
  }
  throw new InputError("SNP_CERT_INVALID", `VCEK: extension ${name} (${oid}) is not a DER INTEGER`, { details: { oid } });
}

/** The hwID extension: the chip id, as a DER OCTET STRING or as the raw bytes. */
function hwIdValue(cert: Certificate): Uint8Array | undefined {
  const e = cert.extensions.find((x) => x.oid === OID_HW_ID);
  if (!e) return undefined;
  const v = e.value;
  if (v[0] === 0x04 && v[1] === v.length - 2 && (v.length - 2 === 64 || v.length - 2 === 8)) return v.subarray(2);
  return v;
}

/** The SPKI's algorithm and curve OIDs. */
function spkiAlgorithm(spki: Uint8Array): { key: string; curve: string | undefined } {
  const k = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  const d = k.asymmetricKeyDetails;
  return { key: k.asymmetricKeyType ?? "?", curve: d?.namedCurve };
}

function rsaPssVerifies(issuerKey: KeyObject, cert: Certificate | Crl): boolean {
  if (cert.signatureAlgorithm !== OID_RSASSA_PSS) return false;
  try {
    return cryptoVerify("sha384", cert.tbs, { key: issuerKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, cert.signature);
  } catch {
    return false;
  }
}

function productOfName(cn: string, prefix: "SEV-" | "ARK-"): AmdProduct | undefined {
  const p = cn.startsWith(prefix) ? cn.slice(prefix.length) : "";
  return (AMD_PRODUCTS as readonly string[]).includes(p) ? (p as AmdProduct) : undefined;
}

/** Policy rules of the guest policy: debugging refused unless `allowDebug`; migration agent, SMT and single socket reported. */
export function snpPolicyRules(report: SnpReport, allowDebug: boolean): SnpCheck[] {
  const p = report.policy;
  const on = (bit: bigint) => (p & bit) !== 0n;
  const debug = on(POLICY_DEBUG);
  return [
    { name: "snp.policy.debug", ok: !debug || allowDebug, detail: debug ? `the guest policy allows debugging (bit 19)${allowDebug ? "; accepted by --allow-debug" : ": the hypervisor can read and change guest memory"}` : "debugging not allowed" },
    { name: "snp.policy.migrate-ma", ok: true, detail: on(POLICY_MIGRATE_MA) ? "a migration agent may be associated (bit 18)" : "no migration agent" },
    { name: "snp.policy.smt", ok: true, detail: on(POLICY_SMT) ? "SMT allowed (bit 16)" : "SMT not allowed" },
    { name: "snp.policy.single-socket", ok: true, detail: on(POLICY_SINGLE_SOCKET) ? "single socket required (bit 20)" : "single socket not required" },
    { name: "snp.policy.reserved", ok: on(POLICY_RESERVED_ONE), detail: on(POLICY_RESERVED_ONE) ? "reserved bit 17 is set" : "reserved bit 17 is clear (firmware requires it set)" },
  ];
}

/** The reported fields: measurement, host_data, chip_id, report_data, reported_tcb (decoded), policy, version, vmpl and the rest. */
function reportFields(report: SnpReport, product: AmdProduct | undefined): Record<string, unknown> {
  return { ...snpReportJson(report), ...(product ? { product, reportedTcbLevels: decodeTcb(report.reportedTcb, product) } : {}) };
}

/**
 * Verify `reportBytes` (1184 bytes) with its VCEK. Returns the result when every verification step passed
 * (`ok` false when a policy rule refused the report); throws `SnpVerificationError` naming the failed step
 * with the checks so far, `InputError` for an undecodable report or certificate.
 */
export function verifySnpReport(reportBytes: Uint8Array, opts: SnpVerifyOptions): VerifiedSnpReport {
  const checks: SnpCheck[] = [];
  let fields: Record<string, unknown> | undefined;
  const fail = (code: ErrorCode, name: string, detail: string): never => {
    checks.push({ name, ok: false, detail });
    const e = new SnpVerificationError(code, `SEV-SNP ${name}: ${detail}`, checks);
    if (fields) e.report = fields;
    e.verification = { ok: false, checks };
    e.policy = null;
    throw e;
  };
  const pass = (name: string, detail: string) => checks.push({ name, ok: true, detail });

  const report = parseSnpReport(reportBytes);
  if (report.signatureAlgorithm !== 1) throw new InputError("SNP_REPORT_MALFORMED", `SEV-SNP report: signature algorithm ${report.signatureAlgorithm} (expected 1, ECDSA P-384 with SHA-384)`, { details: { field: "signature_algo", offset: 0x34 } });
  fields = reportFields(report, undefined);
  pass("report.parse", `version ${report.version}, vmpl ${report.vmpl}, policy 0x${report.policy.toString(16)}, ${SNP_REPORT_LENGTH} bytes`);

  // the certificates and the product
  const vcek = parseCertificate(opts.vcekDer, "VCEK");
  const vcekKey = spkiAlgorithm(vcek.spki);
  const product = productOfName(commonName(vcek.issuer), "SEV-");
  if (commonName(vcek.subject) !== "SEV-VCEK") fail("SNP_CERT_INVALID", "vcek.parse", `the VCEK's subject is CN=${commonName(vcek.subject)}, not CN=SEV-VCEK`);
  if (vcekKey.key !== "ec" || vcekKey.curve !== "secp384r1") fail("SNP_CERT_INVALID", "vcek.parse", `the VCEK's key is ${vcekKey.key}${vcekKey.curve ? ` ${vcekKey.curve}` : ""}, not EC P-384`);
  if (!product) fail("SNP_CERT_INVALID", "vcek.parse", `the VCEK's issuer CN=${commonName(vcek.issuer)} names no known product (${AMD_PRODUCTS.map((p) => `SEV-${p}`).join(", ")})`);
  const prod = product!;
  fields = reportFields(report, prod);
  pass("vcek.parse", `CN=SEV-VCEK issued by CN=SEV-${prod}, EC P-384 key, serial ${vcek.serial}`);

  if (report.cpuid) {
    const known = CPUID_PRODUCTS.find((c) => c.family === report.cpuid!.family && c.model === report.cpuid!.model);
    const at = `family 0x${report.cpuid.family.toString(16)} model 0x${report.cpuid.model.toString(16)}`;
    if (known && known.product !== prod) fail("SNP_PRODUCT_MISMATCH", "report.product", `the report's CPUID (${at}) is ${known.product}, the VCEK is of ${prod}`);
    pass("report.product", known ? `CPUID ${at} is ${prod}` : `CPUID ${at} is not a known model; the product ${prod} is the VCEK's`);
  } else pass("report.product", `report version ${report.version} carries no CPUID; the product ${prod} is the VCEK's`);

  // ARK: the pinned one of the product (or the test ARK); a given ARK must be that one
  const genuine = opts.testArkDer === undefined;
  const pinned = genuine ? AMD_ARKS[prod] : { der: opts.testArkDer!, sha256: createHash("sha256").update(opts.testArkDer!).digest("hex") };
  if (opts.arkDer && bytesToHex(opts.arkDer) !== bytesToHex(pinned.der)) {
    const given = parseCertificate(opts.arkDer, "ARK");
    fail("SNP_ARK_NOT_PINNED", "chain.ark", `the given ARK (CN=${commonName(given.subject)}, serial ${given.serial}) is not the ${genuine ? "pinned" : "test"} ARK-${prod} (SHA-256 ${pinned.sha256})`);
  }
  const ark = parseCertificate(pinned.der, `ARK-${prod}`);
  if (commonName(ark.subject) !== `ARK-${prod}`) fail("SNP_CHAIN_INVALID", "chain.ark", `the ${genuine ? "pinned" : "test"} ARK is CN=${commonName(ark.subject)}, not CN=ARK-${prod}`);
  const arkKey = createPublicKey({ key: Buffer.from(ark.spki), format: "der", type: "spki" });
  if (!rsaPssVerifies(arkKey, ark)) fail("SNP_CHAIN_INVALID", "chain.ark", `the ARK-${prod} self-signature does not verify`);
  pass("chain.ark", `${genuine ? "pinned" : "TEST (NOT GENUINE)"} ARK-${prod} (SHA-256 ${pinned.sha256})${opts.arkDer ? ", equal to the given ARK" : ""}; self-signature verifies`);

  // ASK signed by the ARK
  if (!opts.askDer) fail("SNP_CERT_INVALID", "chain.ask", `no ASK was given (the SEV-${prod} certificate of AMD's cert_chain)`);
  const ask = parseCertificate(opts.askDer!, "ASK");
  if (commonName(ask.subject) !== `SEV-${prod}`) fail("SNP_CHAIN_INVALID", "chain.ask", `the ASK's subject is CN=${commonName(ask.subject)}, the VCEK's issuer CN=SEV-${prod}`);
  if (ask.issuerKey !== ark.subjectKey) fail("SNP_CHAIN_INVALID", "chain.ask", `the ASK's issuer CN=${commonName(ask.issuer)} is not ARK-${prod}`);
  if (spkiAlgorithm(ask.spki).key !== "rsa" && spkiAlgorithm(ask.spki).key !== "rsa-pss") fail("SNP_CERT_INVALID", "chain.ask", "the ASK's key is not RSA");
  if (!rsaPssVerifies(arkKey, ask)) fail("SNP_CHAIN_INVALID", "chain.ask", `the ASK's RSA-PSS signature does not verify with ARK-${prod}'s key`);
  pass("chain.ask", `CN=SEV-${prod} signed by ARK-${prod} (RSA-PSS, SHA-384)`);

  // VCEK signed by the ASK
  if (vcek.issuerKey !== ask.subjectKey) fail("SNP_CHAIN_INVALID", "chain.vcek", `the VCEK's issuer is not the given ASK's subject`);
  const askKey = createPublicKey({ key: Buffer.from(ask.spki), format: "der", type: "spki" });
  if (!rsaPssVerifies(askKey, vcek)) fail("SNP_CHAIN_INVALID", "chain.vcek", `the VCEK's RSA-PSS signature does not verify with the ASK's key`);
  pass("chain.vcek", `VCEK signed by SEV-${prod} (RSA-PSS, SHA-384)`);

  // validity at now
  for (const [name, c] of [["VCEK", vcek], ["ASK", ask], ["ARK", ark]] as const) {
    if (opts.now < c.notBefore || opts.now > c.notAfter) {
      fail("SNP_CERT_NOT_VALID_AT", "chain.validity", `the ${name} is valid ${iso(c.notBefore)} … ${iso(c.notAfter)}, not at ${iso(opts.now)}`);
    }
  }
  pass("chain.validity", `VCEK, ASK and ARK valid at ${iso(opts.now)} (VCEK until ${iso(vcek.notAfter)})`);

  // revocation: AMD's CRL of the ARK (and a CRL of the ASK when one is given)
  let crlInfo: VerifiedSnpReport["crl"] = null;
  if (opts.crlDers !== undefined) {
    if (opts.crlDers.length === 0) fail("SNP_CRL_INVALID", "chain.crl", "no CRL was given");
    const issuers: string[] = [];
    let arkCrl: Crl | undefined;
    for (const [i, der] of opts.crlDers.entries()) {
      let crl: Crl;
      try {
        crl = parseCrl(der, `CRL ${i + 1}`);
      } catch (e) {
        return fail("SNP_CRL_INVALID", "chain.crl", (e as Error).message);
      }
      const issuer = crl.issuerKey === ark.subjectKey ? { name: `ARK-${prod}`, key: arkKey, revokes: [["ASK", ask] as const] } : crl.issuerKey === ask.subjectKey ? { name: `SEV-${prod}`, key: askKey, revokes: [["VCEK", vcek] as const] } : null;
      if (!issuer) fail("SNP_CRL_INVALID", "chain.crl", `CRL ${i + 1} is issued by CN=${commonName(crl.issuer)}, neither ARK-${prod} nor SEV-${prod}`);
      if (!rsaPssVerifies(issuer!.key, crl)) fail("SNP_CRL_INVALID", "chain.crl", `CRL ${i + 1}'s RSA-PSS signature does not verify with ${issuer!.name}'s key`);
      if (crl.nextUpdate === undefined || opts.now < crl.thisUpdate || opts.now > crl.nextUpdate) {
        fail("SNP_CRL_EXPIRED", "chain.crl", `CRL ${i + 1} of ${issuer!.name} is current ${iso(crl.thisUpdate)} … ${crl.nextUpdate === undefined ? "(no nextUpdate)" : iso(crl.nextUpdate)}, not at ${iso(opts.now)}`);
      }
      for (const [role, c] of issuer!.revokes) {
        if (crl.revoked.has(c.serial)) fail("SNP_CERT_REVOKED", "chain.crl", `the ${role} (serial ${c.serial}) is revoked by ${issuer!.name}'s CRL`);
      }
      if (issuer!.name.startsWith("ARK-")) arkCrl = crl;
      issuers.push(issuer!.name);
    }
    if (!arkCrl) fail("SNP_CRL_INVALID", "chain.crl", `no CRL of ARK-${prod} was given (AMD's KDS /vcek/v1/${prod}/crl)`);
    crlInfo = { thisUpdate: iso(arkCrl!.thisUpdate), nextUpdate: iso(arkCrl!.nextUpdate!), issuers };
    pass("chain.crl", `${issuers.join(" and ")} CRL${issuers.length > 1 ? "s" : ""} signed (RSA-PSS) and current at ${iso(opts.now)} (next update ${crlInfo.nextUpdate}); the ASK${issuers.length > 1 ? " and the VCEK are" : " is"} not revoked`);
  }

  // the VCEK is the report's chip's, at the reported TCB
  const hwId = hwIdValue(vcek);
  const chip = Buffer.from(report.chipId.slice(2), "hex");
  if (!hwId) fail("SNP_CERT_INVALID", "vcek.chip-id", `the VCEK has no hwID extension (${OID_HW_ID})`);
  const chipMatches = hwId!.length <= chip.length && chip.subarray(0, hwId!.length).equals(Buffer.from(hwId!)) && chip.subarray(hwId!.length).every((x) => x === 0);
  if (!chipMatches) fail("SNP_CHIP_ID_MISMATCH", "vcek.chip-id", `the VCEK's hwID ${bytesToHex(hwId!)} is not the report's chip_id ${report.chipId}`);
  pass("vcek.chip-id", `the VCEK's hwID is the report's chip_id`);

  const reported = decodeTcb(report.reportedTcb, prod);
  const certTcb: SnpTcb = {
    bootloader: splValue(vcek, OID_BL_SPL, "blSPL") ?? -1,
    tee: splValue(vcek, OID_TEE_SPL, "teeSPL") ?? -1,
    snp: splValue(vcek, OID_SNP_SPL, "snpSPL") ?? -1,
    microcode: splValue(vcek, OID_UCODE_SPL, "ucodeSPL") ?? -1,
  };
  const fmc = splValue(vcek, OID_FMC_SPL, "fmcSPL");
  if (fmc !== undefined) certTcb.fmc = fmc;
  const names: (keyof SnpTcb)[] = ["bootloader", "tee", "snp", "microcode", ...(prod === "Turin" ? (["fmc"] as const) : [])];
  const diffs = names.filter((k) => certTcb[k] !== reported[k]).map((k) => `${k} VCEK ${certTcb[k] === -1 || certTcb[k] === undefined ? "absent" : String(certTcb[k])} ≠ report ${String(reported[k])}`);
  if (diffs.length) fail("SNP_TCB_MISMATCH", "vcek.tcb", `the VCEK's TCB is not the report's reported_tcb 0x${report.reportedTcb.toString(16).padStart(16, "0")}: ${diffs.join(", ")}`);
  pass("vcek.tcb", `blSPL ${certTcb.bootloader}, teeSPL ${certTcb.tee}, snpSPL ${certTcb.snp}, ucodeSPL ${certTcb.microcode}${certTcb.fmc !== undefined ? `, fmcSPL ${certTcb.fmc}` : ""} = reported_tcb`);

  // the report's signature
  const r = Buffer.from(report.signature.r.slice(2), "hex");
  const s = Buffer.from(report.signature.s.slice(2), "hex");
  const high = (x: Buffer) => x.subarray(0, 24).some((v) => v !== 0);
  if (high(r) || high(s)) fail("SNP_REPORT_SIGNATURE_INVALID", "report.signature", "r or s does not fit in 48 bytes (the upper 24 bytes of its 72-byte field are not zero)");
  const sig = Buffer.concat([r.subarray(24), s.subarray(24)]);
  const key = createPublicKey({ key: Buffer.from(vcek.spki), format: "der", type: "spki" });
  const sigOk = cryptoVerify("sha384", reportBytes.subarray(0, SIGNED_LENGTH), { key, dsaEncoding: "ieee-p1363" }, sig);
  if (!sigOk) fail("SNP_REPORT_SIGNATURE_INVALID", "report.signature", "the ECDSA P-384 signature over bytes 0x000–0x29F does not verify with the VCEK's key");
  pass("report.signature", "ECDSA P-384 / SHA-384 over bytes 0x000–0x29F verifies with the VCEK's key");

  const rules = snpPolicyRules(report, opts.allowDebug === true);
  const policyOk = rules.every((x) => x.ok);
  return {
    ok: policyOk,
    platform: "sev-snp",
    product: prod,
    genuine,
    crl: crlInfo,
    verification: { ok: true, checks },
    policy: { ok: policyOk, rules },
    report: fields,
    vcek: { subject: "CN=SEV-VCEK", serial: vcek.serial, notBefore: iso(vcek.notBefore), notAfter: iso(vcek.notAfter), tcb: certTcb, hwId: bytesToHex(hwId!) },
  };
}

/** `verifySnpReport`, and a policy refusal thrown as `SNP_POLICY_REFUSED` with the verdicts. */
export function verifySnpReportOrThrow(reportBytes: Uint8Array, opts: SnpVerifyOptions): VerifiedSnpReport {
  const r = verifySnpReport(reportBytes, opts);
  if (r.ok) return r;
  const refused = r.policy.rules.find((x) => !x.ok)!;
  const e = new SnpVerificationError("SNP_POLICY_REFUSED", `SEV-SNP ${refused.name}: ${refused.detail}`, [...r.verification.checks, { name: "report.policy", ok: false, detail: `${refused.name}: ${refused.detail}` }]);
  e.report = r.report;
  e.verification = r.verification;
  e.policy = r.policy;
  throw e;
}
