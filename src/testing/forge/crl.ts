/**
 * The two CRLs of a forged world: the root CA's (revoking PCK CA, TCB Signing or root serials when asked)
 * and the PCK CA's (two unrelated revoked serials, like Intel's, plus the PCK leaf when asked). Both
 * are issued now−1d and next updated now+30d unless overridden.
 */
import { DAY, optionBytes, type BytesLike, type WorldFrame } from "./common.js";
import { derBitString, derEnum, derExplicit, derInt, derOctets, derOid, derSeq, derTime, uintContent } from "./der.js";
import type { ForgeCerts, WorldNames } from "./certs.js";
import { serialFrom, signDer, type Secrets } from "./secrets.js";
import { akiExtension, ALG_ECDSA_SHA256, derName, ext, OID, type ForgeName } from "./x509.js";

export interface ForgeCrlOptions {
  thisUpdate?: number;
  nextUpdate?: number;
  /** Extra revoked serial numbers (hex or bytes or bigint). */
  revokedSerials?: (BytesLike | bigint)[];
  /** Sign the CRL with an unrelated key (the issuer name stays right): a bad CRL signature. */
  signWithWrongKey?: boolean;
}

/** Options of the world's CRLs and revocations. */
export interface ForgeRevocationOptions {
  rootCrl?: ForgeCrlOptions;
  pckCrl?: ForgeCrlOptions;
  /** Put the named certificates' serials on the CRL of their issuer. */
  revoke?: { pckLeaf?: boolean; pckCa?: boolean; tcbSigning?: boolean; root?: boolean };
}

interface CrlSpec {
  issuer: ForgeName;
  issuerPk: Uint8Array;
  signerSk: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  revoked: Uint8Array[];
  number: number;
}

/** A v2 CRL: each entry revoked at `thisUpdate` with reason keyCompromise; extensions CRL number and AKI. */
function makeCrl(s: CrlSpec): Uint8Array {
  const entries = s.revoked.map((serial) => derSeq(derInt(serial), derTime(s.thisUpdate), derSeq(derSeq(derOid(OID.crlReason), derOctets(derEnum(1))))));
  const tbsParts = [derInt(1), ALG_ECDSA_SHA256, derName(s.issuer), derTime(s.thisUpdate), derTime(s.nextUpdate)];
  if (entries.length > 0) tbsParts.push(derSeq(...entries));
  tbsParts.push(derExplicit(0, derSeq(ext(OID.crlNumber, false, derInt(s.number)), akiExtension(s.issuerPk))));
  const tbs = derSeq(...tbsParts);
  return derSeq(tbs, ALG_ECDSA_SHA256, derBitString(signDer(s.signerSk, tbs)));
}

function revokedSerials(list: (BytesLike | bigint)[] | undefined): Uint8Array[] {
  return (list ?? []).map((s, i) => (typeof s === "bigint" ? uintContent(s) : optionBytes(s, `revokedSerials[${i}]`, undefined, new Uint8Array(0))));
}

export function issueCrls(
  frame: WorldFrame,
  opts: ForgeRevocationOptions,
  names: WorldNames,
  certs: ForgeCerts,
  secrets: Secrets,
): { rootCrl: Uint8Array; pckCrl: Uint8Array } {
  const { now, seed } = frame;
  const rootRevoked = revokedSerials(opts.rootCrl?.revokedSerials);
  if (opts.revoke?.pckCa) rootRevoked.push(certs.pckCa.serial);
  if (opts.revoke?.tcbSigning) rootRevoked.push(certs.tcbSigning.serial);
  if (opts.revoke?.root) rootRevoked.push(certs.root.serial);
  const pckRevoked = revokedSerials(opts.pckCrl?.revokedSerials);
  if (opts.revoke?.pckLeaf) pckRevoked.push(certs.pckLeaf.serial);
  // A few unrelated revoked serials, like Intel's CRLs.
  pckRevoked.unshift(serialFrom(seed, "revoked-1"), serialFrom(seed, "revoked-2"));

  const crl = (o: ForgeCrlOptions | undefined, issuer: ForgeName, key: Secrets["root"], revoked: Uint8Array[]): Uint8Array =>
    makeCrl({
      issuer,
      issuerPk: key.pk,
      signerSk: o?.signWithWrongKey ? secrets.unrelated.sk : key.sk,
      thisUpdate: o?.thisUpdate ?? now - DAY,
      nextUpdate: o?.nextUpdate ?? now + 30 * DAY,
      revoked,
      number: 1,
    });
  return { rootCrl: crl(opts.rootCrl, names.root, secrets.root, rootRevoked), pckCrl: crl(opts.pckCrl, names.pckCa, secrets.pckCa, pckRevoked) };
}
