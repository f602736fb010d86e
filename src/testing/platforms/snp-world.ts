/**
 * A test AMD SEV-SNP world: a test ARK (RSA, self-signed RSA-PSS/SHA-384, `CN=ARK-<product>`) standing in
 * for AMD's pinned one (which it is not), its ASK (`CN=SEV-<product>`), the ARK's CRL, VCEKs (P-384,
 * `CN=SEV-VCEK`, AMD's TCB extensions blSPL/teeSPL/snpSPL/ucodeSPL[/fmcSPL] and hwID) and attestation
 * reports (1184 bytes, version 3 with the product's CPUID) signed by a VCEK over bytes [0, 0x2A0).
 * Verifying them needs `testArkDer: world.arkDer` (the result is then not genuine). It also serves the KDS's
 * answers (`kdsRoutes`) for a local HTTP server.
 */
import { sign as cryptoSign } from "node:crypto";

import { bytesToPlainHex } from "../../core/bytes.js";
import { toPem } from "../../dcap/x509.js";
import type { AmdProduct } from "../../dstack/platforms/amd-roots.js";
import type { SnpTcb } from "../../dstack/platforms/sev-snp-verify.js";
import { SNP_REPORT_DATA_OFFSET, SNP_REPORT_LENGTH } from "../../dstack/platforms/sev-snp.js";
import { derInt, derOctets, derTlv } from "../forge/der.js";
import { ext } from "../forge/x509.js";
import { generateP384, generateRsa, makePkiCert, makePkiCrl, type PkiKey } from "./pki.js";

export interface SnpWorld {
  product: AmdProduct;
  arkDer: Uint8Array;
  askDer: Uint8Array;
  /** AMD's cert_chain file of the product: the ASK then the ARK, PEM. */
  certChainPem: string;
  ark: PkiKey;
  ask: PkiKey;
  askSerial: bigint;
  notBefore: number;
  notAfter: number;
}

export interface SnpVcek {
  der: Uint8Array;
  key: PkiKey;
  serial: bigint;
  chipId: Uint8Array;
  tcb: SnpTcb;
}

const CPUID: Record<AmdProduct, [number, number]> = { Milan: [0x19, 0x01], Genoa: [0x19, 0x11], Turin: [0x1a, 0x02] };
const amdName = (cn: string) => ({ cn, o: "Advanced Micro Devices", ou: "Engineering", l: "Santa Clara", st: "CA", c: "US" });

export function createSnpWorld(opts: { now: number; product?: AmdProduct; rsaBits?: number; days?: number }): SnpWorld {
  const product = opts.product ?? "Milan";
  const notBefore = opts.now - 86_400;
  const notAfter = opts.now + (opts.days ?? 365) * 86_400;
  const ark = generateRsa(opts.rsaBits ?? 2048);
  const ask = generateRsa(opts.rsaBits ?? 2048);
  const arkName = amdName(`ARK-${product}`);
  const arkDer = makePkiCert({ serial: 0x10000, issuer: arkName, subject: arkName, notBefore, notAfter, spki: ark.spki, signer: ark, ca: true }).der;
  const askSerial = 0x10001n;
  const ask_ = makePkiCert({ serial: askSerial, issuer: arkName, subject: amdName(`SEV-${product}`), notBefore, notAfter, spki: ask.spki, signer: ark, ca: true, pathLen: 0 });
  const certChainPem = ask_.pem + toPem(arkDer);
  return { product, arkDer, askDer: ask_.der, certChainPem, ark, ask, askSerial, notBefore, notAfter };
}

/** A TCB_VERSION of the product (Milan, Genoa: bl, tee, 4 reserved, snp, ucode; Turin: fmc, bl, tee, snp, 3 reserved, ucode). */
export function encodeTcb(t: SnpTcb, product: AmdProduct): bigint {
  const bytes = new Array<number>(8).fill(0);
  if (product === "Turin") {
    bytes[0] = t.fmc ?? 0;
    bytes[1] = t.bootloader;
    bytes[2] = t.tee;
    bytes[3] = t.snp;
  } else {
    bytes[0] = t.bootloader;
    bytes[1] = t.tee;
    bytes[6] = t.snp;
  }
  bytes[7] = t.microcode;
  return bytes.reduce((acc, b, i) => acc | (BigInt(b) << BigInt(8 * i)), 0n);
}

/** A VCEK of the world's ASK for `chipId` (64 bytes) at `tcb`. */
export function issueVcek(w: SnpWorld, o: { chipId: Uint8Array; tcb: SnpTcb; serial?: bigint; notBefore?: number; notAfter?: number }): SnpVcek {
  const key = generateP384();
  const spl = (n: number, v: number) => ext(`1.3.6.1.4.1.3704.1.3.${n}`, false, derInt(v));
  const extra = [
    ext("1.3.6.1.4.1.3704.1.1", false, derTlv(0x16, new TextEncoder().encode("0"))),
    ext("1.3.6.1.4.1.3704.1.2", false, derTlv(0x16, new TextEncoder().encode(`${w.product}-B0`))),
    spl(1, o.tcb.bootloader),
    spl(2, o.tcb.tee),
    spl(3, o.tcb.snp),
    spl(4, 0),
    spl(5, 0),
    spl(6, 0),
    spl(7, 0),
    spl(8, o.tcb.microcode),
    ...(w.product === "Turin" ? [spl(9, o.tcb.fmc ?? 0)] : []),
    ext("1.3.6.1.4.1.3704.1.4", false, derOctets(w.product === "Turin" ? o.chipId.subarray(0, 8) : o.chipId)),
  ];
  const serial = o.serial ?? 0x20000n + BigInt(o.chipId[0]!);
  const der = makePkiCert({ serial, issuer: amdName(`SEV-${w.product}`), subject: { cn: "SEV-VCEK", o: "Advanced Micro Devices", ou: "Engineering", l: "Santa Clara", st: "CA", c: "US" }, notBefore: o.notBefore ?? w.notBefore, notAfter: o.notAfter ?? w.notAfter, spki: key.spki, signer: w.ask, ca: false, keyUsage: null, extra }).der;
  return { der, key, serial, chipId: o.chipId, tcb: o.tcb };
}

/** The ARK's CRL (RSA-PSS), optionally revoking the ASK or other serials. */
export function makeArkCrl(w: SnpWorld, o: { thisUpdate: number; nextUpdate: number; revokeAsk?: boolean; revoked?: bigint[] }): Uint8Array {
  return makePkiCrl({ issuer: amdName(`ARK-${w.product}`), signer: w.ark, thisUpdate: o.thisUpdate, nextUpdate: o.nextUpdate, revoked: [...(o.revokeAsk ? [w.askSerial] : []), ...(o.revoked ?? [])] });
}

export interface SnpReportOptions {
  reportData: Uint8Array;
  measurement?: Uint8Array;
  hostData?: Uint8Array;
  /** Guest policy; default 0x30000 (SMT allowed, reserved bit 17 set). Bit 19 allows debugging. */
  policy?: bigint;
  /** Report version (2 has no CPUID); default 3. */
  version?: number;
  /** reported_tcb; default the VCEK's. */
  reportedTcb?: SnpTcb;
  /** Sign with another key than the VCEK's. */
  wrongKey?: boolean;
}

/** An attestation report of the VCEK's chip, signed by the VCEK. */
export function makeSnpReport(w: SnpWorld, vcek: SnpVcek, o: SnpReportOptions): Uint8Array {
  const b = new Uint8Array(SNP_REPORT_LENGTH);
  const dv = new DataView(b.buffer);
  const version = o.version ?? 3;
  dv.setUint32(0x00, version, true);
  dv.setUint32(0x04, 1, true); // guest_svn
  dv.setBigUint64(0x08, o.policy ?? 0x30000n, true);
  dv.setUint32(0x30, 0, true); // vmpl
  dv.setUint32(0x34, 1, true); // ECDSA P-384 with SHA-384
  const tcb = encodeTcb(o.reportedTcb ?? vcek.tcb, w.product);
  dv.setBigUint64(0x38, tcb, true); // current_tcb
  b.set(o.reportData, SNP_REPORT_DATA_OFFSET);
  b.set(o.measurement ?? new Uint8Array(48).fill(0x4d), 0x90);
  b.set(o.hostData ?? new Uint8Array(32), 0xc0);
  dv.setBigUint64(0x180, tcb, true); // reported_tcb
  if (version >= 3) {
    const [family, model] = CPUID[w.product];
    b[0x188] = family;
    b[0x189] = model;
    b[0x18a] = 1;
  }
  b.set(vcek.chipId, 0x1a0);
  dv.setBigUint64(0x1e0, tcb, true); // committed_tcb
  dv.setBigUint64(0x1f0, tcb, true); // launch_tcb
  const signer = o.wrongKey ? generateP384() : vcek.key;
  const sig = new Uint8Array(cryptoSign("sha384", b.subarray(0, 0x2a0), { key: signer.privateKey, dsaEncoding: "ieee-p1363" }));
  b.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), 0x2a0);
  b.set(Uint8Array.from(sig.subarray(48)).reverse(), 0x2e8);
  return b;
}

/** The KDS paths of the world (VCEK URL of each given VCEK at its TCB, cert_chain, crl) → body and content type. */
export function kdsAnswers(w: SnpWorld, vceks: SnpVcek[], crlDer: Uint8Array): Map<string, { body: Uint8Array | string; contentType: string }> {
  const m = new Map<string, { body: Uint8Array | string; contentType: string }>();
  for (const v of vceks) {
    const t = v.tcb;
    const hwid = w.product === "Turin" ? bytesToPlainHex(v.chipId.subarray(0, 8)) : bytesToPlainHex(v.chipId);
    const q = `${w.product === "Turin" ? `fmcSPL=${t.fmc ?? 0}&` : ""}blSPL=${t.bootloader}&teeSPL=${t.tee}&snpSPL=${t.snp}&ucodeSPL=${t.microcode}`;
    m.set(`/vcek/v1/${w.product}/${hwid}?${q}`, { body: v.der, contentType: "application/x-x509-ca-cert" });
  }
  m.set(`/vcek/v1/${w.product}/cert_chain`, { body: w.certChainPem, contentType: "application/x-pem-file" });
  m.set(`/vcek/v1/${w.product}/crl`, { body: crlDer, contentType: "application/pkix-crl" });
  return m;
}
