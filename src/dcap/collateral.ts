/**
 * Collateral files in dcap-qvl's `QuoteCollateralV3` JSON layout: nine required keys
 * plus the optional `pck_certificate_chain`. Byte fields are read from hex strings (any case, with or
 * without `0x`) or from arrays of numbers (what dcap-qvl's JS port emits); written as lower-case hex.
 */
import { bytesToPlainHex, hexToBytes } from "../core/bytes.js";
import { errorMessage, InputError } from "../core/errors.js";
import type { Collateral } from "./types.js";

const BYTE_KEYS = ["root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"] as const;
const TEXT_KEYS = ["pck_crl_issuer_chain", "tcb_info_issuer_chain", "tcb_info", "qe_identity_issuer_chain", "qe_identity"] as const;

function bad(key: string, message: string): never {
  throw new InputError("COLLATERAL_INVALID", `collateral: ${key} ${message}`, { details: { field: key } });
}

function bytesField(o: Record<string, unknown>, key: string): Uint8Array {
  const v = o[key];
  if (v === undefined || v === null) bad(key, "is missing");
  if (typeof v === "string") {
    try {
      return hexToBytes(v, `collateral: ${key}`);
    } catch (e) {
      bad(key, `is not hex (${errorMessage(e).replace(/^collateral: \S+: /, "")})`);
    }
  }
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    v.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 255) bad(key, `[${i}] is not a byte (0…255)`);
      out[i] = x;
    });
    return out;
  }
  bad(key, "must be a hex string or an array of bytes");
}

function textField(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined || v === null) bad(key, "is missing");
  if (typeof v !== "string") bad(key, "must be a string");
  return v;
}

/** The argument of `parseCollateralJson`: the file's text. */
export type ParseCollateralJsonParameters = string;
export type ParseCollateralJsonReturnType = Collateral;
export type ParseCollateralJsonErrorType = InputError;

/** Parse collateral JSON text. Throws `InputError` (`COLLATERAL_INVALID`) naming the missing or bad key. */
export function parseCollateralJson(text: ParseCollateralJsonParameters): ParseCollateralJsonReturnType {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError("COLLATERAL_INVALID", `collateral: not valid JSON (${errorMessage(e)})`);
  }
  return collateralFromObject(v);
}

/** Same as `parseCollateralJson` for an already-parsed object. */
export function collateralFromObject(v: unknown): Collateral {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new InputError("COLLATERAL_INVALID", "collateral: expected a JSON object with the QuoteCollateralV3 keys");
  }
  const o = v as Record<string, unknown>;
  for (const k of [...TEXT_KEYS, ...BYTE_KEYS]) if (o[k] === undefined || o[k] === null) bad(k, "is missing");
  const c: Collateral = {
    pckCrlIssuerChain: textField(o, "pck_crl_issuer_chain"),
    rootCaCrl: bytesField(o, "root_ca_crl"),
    pckCrl: bytesField(o, "pck_crl"),
    tcbInfoIssuerChain: textField(o, "tcb_info_issuer_chain"),
    tcbInfo: textField(o, "tcb_info"),
    tcbInfoSignature: bytesField(o, "tcb_info_signature"),
    qeIdentityIssuerChain: textField(o, "qe_identity_issuer_chain"),
    qeIdentity: textField(o, "qe_identity"),
    qeIdentitySignature: bytesField(o, "qe_identity_signature"),
  };
  if (o.pck_certificate_chain !== undefined && o.pck_certificate_chain !== null) c.pckCertificateChain = textField(o, "pck_certificate_chain");
  return c;
}

/** Serialise to dcap-qvl's layout (keys in its order, byte fields as lower-case hex without prefix). */
export function collateralToJson(c: Collateral): string {
  const o: Record<string, string> = {
    pck_crl_issuer_chain: c.pckCrlIssuerChain,
    root_ca_crl: bytesToPlainHex(c.rootCaCrl),
    pck_crl: bytesToPlainHex(c.pckCrl),
    tcb_info_issuer_chain: c.tcbInfoIssuerChain,
    tcb_info: c.tcbInfo,
    tcb_info_signature: bytesToPlainHex(c.tcbInfoSignature),
    qe_identity_issuer_chain: c.qeIdentityIssuerChain,
    qe_identity: c.qeIdentity,
    qe_identity_signature: bytesToPlainHex(c.qeIdentitySignature),
  };
  if (c.pckCertificateChain !== undefined) o.pck_certificate_chain = c.pckCertificateChain;
  return JSON.stringify(o, null, 2) + "\n";
}
