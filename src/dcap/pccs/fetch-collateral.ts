/**
 * Online collateral: fetch the PCK CRL, TCB Info, QE Identity and root CA CRL for a quote from a PCCS or
 * from Intel's PCS (`client.ts`), through the optional disk cache (`cache.ts`).
 *
 * - What to ask for (the FMSPC, the PCK CA type `platform` / `processor`, the TEE) comes from the PCK
 *   leaf: the one embedded in the quote (certification data type 5), or, for an encrypted-PPID quote
 *   (certification data types 2 and 3), the one fetched from `…/pckcert?qeid=…&encrypted_ppid=…&cpusvn=…
 *   &pcesvn=…&pceid=…` and returned as `pckCertificateChain`; an `SGX-TCBm` other than the quote's raw
 *   TCB is an error.
 * - `tcb_info` / `qe_identity` are cut out of the response body as raw text (`raw-json.ts`).
 * - Issuer-chain headers are percent-decoded.
 * - Root CA CRL: a PCCS serves it at `…/rootcacrl` (hex text, DER tolerated); for Intel's PCS, or
 *   when that call fails, it is downloaded from the CRL distribution point of the root
 *   certificate (last certificate of the QE Identity issuer chain).
 *
 * Errors: the `NetworkError`s of `client.ts`, and `PCCS_PCK_TCB_NOT_REGISTERED`; `InputError`
 * `PCCS_NO_PCK_CHAIN` when the quote carries no usable PCK chain; `QuoteParseError` for an undecodable
 * quote; `UsageError` for a bad base URL or `now`.
 */
import { base64ToBytes, bytesToPlainHex, hexToBytes, isHexText } from "../../core/bytes.js";
import { errorMessage, InputError, KmsRegistryError, NetworkError, type UsageError } from "../../core/errors.js";
import { requireNow } from "../../core/time.js";
import { asQuote, isTdxQuote, quotePckPem, type Quote, type QuoteParseError } from "../quote.js";
import { OID_SGX_EXTENSION, parseSgxExtension, pckCaType, type PckCaType, type SgxExtension } from "../sgx-extension.js";
import type { Collateral } from "../types.js";
import { crlDistributionPoint, parseCertificate, parseCrl, pemBlocks } from "../x509.js";
import { getCached, type DiskCacheOptions } from "./cache.js";
import { badResponse, isIntelPcs, normalizePccsBase, pathOf, responseHeader, type Fetched, type HttpGetOptions } from "./client.js";
import { signedJsonResponse, type SignedJson } from "./raw-json.js";

export interface FetchCollateralOptions extends HttpGetOptions, DiskCacheOptions {
  /** PCCS or PCS base URL, e.g. `https://pccs.phala.network` or `https://api.trustedservices.intel.com`. */
  pccsUrl: string;
  /** Intel PCS subscription key, sent as `Ocp-Apim-Subscription-Key` with the PCK certificate request only. */
  apiKey?: string;
}

/** The options of `fetchCollateral` (the quote is its first argument). */
export type FetchCollateralParameters = FetchCollateralOptions;
/** What `fetchCollateral` resolves to: collateral in the same form as a collateral file gives. */
export type FetchCollateralReturnType = Collateral;
/** What `fetchCollateral` rejects with. */
export type FetchCollateralErrorType = NetworkError | InputError | QuoteParseError | UsageError;

/** What was read from the quote to know what to ask for. */
export interface CollateralRequestInfo {
  tee: "tdx" | "sgx";
  /** 12 upper-case hex digits. */
  fmspc: string;
  ca: PckCaType;
}

function noPckChain(message: string, details?: Record<string, unknown>, cause?: unknown): InputError {
  return new InputError("PCCS_NO_PCK_CHAIN", message, { ...(details ? { details } : {}), ...(cause === undefined ? {} : { cause }) });
}

/** FMSPC, CA type and TEE of a quote, from its embedded PCK leaf. */
export function collateralRequestInfo(quote: Uint8Array | Quote): CollateralRequestInfo {
  const q = asQuote(quote);
  const pem = quotePckPem(q);
  if (pem === undefined) {
    throw noPckChain(
      `the quote carries certification data type ${q.certificationType}, not a PEM PCK chain (type 5)${
        q.certificationType === 2 || q.certificationType === 3 ? " (an encrypted PPID: fetchCollateral asks the PCCS for the PCK certificate)" : ""
      }`,
      { certificationType: q.certificationType },
    );
  }
  return requestInfoFromLeaf(q, embeddedLeaf(pem));
}

function embeddedLeaf(pem: string): Uint8Array {
  const leafDer = pemBlocks(pem, "quote PCK chain")[0];
  if (leafDer === undefined) throw noPckChain("the quote's PCK chain holds no certificate");
  return leafDer;
}

function requestInfoFromLeaf(q: Quote, leafDer: Uint8Array): CollateralRequestInfo {
  const leaf = parseCertificate(leafDer, "PCK leaf certificate");
  let ext: SgxExtension;
  try {
    ext = parseSgxExtension(leaf);
  } catch (e) {
    const why = leaf.extensions.some((x) => x.oid === OID_SGX_EXTENSION) ? `'s Intel SGX extension (${OID_SGX_EXTENSION}) is unusable (${errorMessage(e)})` : ` has no Intel SGX extension (${OID_SGX_EXTENSION})`;
    throw noPckChain(`the PCK leaf certificate${why}, so its FMSPC is unknown`, undefined, e);
  }
  return { tee: isTdxQuote(q) ? "tdx" : "sgx", fmspc: bytesToPlainHex(ext.fmspc).toUpperCase(), ca: pckCaType(leaf) };
}

/** The fields of certification data types 2 / 3 (encrypted PPID): RSA-3072 (type 3) or RSA-2048 (type 2) encrypted PPID, CPUSVN, PCESVN, PCE-ID. */
export interface EncryptedPpidData {
  encryptedPpid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
}

export function parseEncryptedPpidData(type: number, data: Uint8Array): EncryptedPpidData {
  const ppidLen = type === 2 ? 256 : type === 3 ? 384 : -1;
  if (ppidLen < 0) throw noPckChain(`certification data type ${type} does not carry an encrypted PPID`);
  if (data.length < ppidLen + 20) {
    throw noPckChain(`certification data type ${type} must hold ${ppidLen + 20} bytes (encrypted PPID, CPUSVN, PCESVN, PCE-ID), got ${data.length}`);
  }
  return {
    encryptedPpid: data.subarray(0, ppidLen),
    cpuSvn: data.subarray(ppidLen, ppidLen + 16),
    pceSvn: data[ppidLen + 16]! | (data[ppidLen + 17]! << 8),
    pceId: data.subarray(ppidLen + 18, ppidLen + 20),
  };
}

// ---------------------------------------------------------------------------------------------
// Body decoding
// ---------------------------------------------------------------------------------------------

/** A CRL body: DER, hex text, or PEM (`X509 CRL`). */
function crlBytes(f: Fetched, what: string): Uint8Array {
  const b = f.body;
  let der: Uint8Array;
  if (b[0] === 0x30) der = b;
  else {
    const text = new TextDecoder("latin1").decode(b).trim();
    const pemMatch = /-----BEGIN X509 CRL-----([^-]*)-----END X509 CRL-----/.exec(text);
    try {
      if (pemMatch) der = base64ToBytes(pemMatch[1]!, `${what} (PEM)`);
      else if (text.length > 0 && isHexText(text)) der = hexToBytes(text, what);
      else throw badResponse(what, f, "body is not a CRL (neither DER, hex nor PEM)");
    } catch (e) {
      if (e instanceof NetworkError) throw e;
      throw badResponse(what, f, `body is not a CRL: ${(e as Error).message}`);
    }
  }
  try {
    parseCrl(der, what);
  } catch (e) {
    throw badResponse(what, f, `body is not a parsable CRL: ${(e as Error).message}`);
  }
  return der;
}

/** A CRL response decoded for the cache: the DER, fresh until its `nextUpdate`. */
function decodeCrl(f: Fetched, what: string): { value: Uint8Array; nextUpdate: number | undefined } {
  const der = crlBytes(f, what);
  return { value: der, nextUpdate: parseCrl(der, what).nextUpdate };
}

/** A signed-document response decoded for the cache: the document and its issuer chain, fresh until its `nextUpdate`. */
function decodeSignedDocument(f: Fetched, what: string, key: "tcbInfo" | "enclaveIdentity", chainHeaders: string[]): { value: SignedJson & { chain: string }; nextUpdate: number } {
  const j = signedJsonResponse(f, what, key);
  const chain = responseHeader(f, what, chainHeaders);
  return { value: { ...j, chain }, nextUpdate: j.nextUpdate };
}

// ---------------------------------------------------------------------------------------------
// fetchCollateral
// ---------------------------------------------------------------------------------------------

/**
 * Fetch the collateral for `quote` (its bytes, or the `Quote` already parsed) from a PCCS / Intel PCS.
 * The result is in the same in-memory form as a collateral JSON file (`Collateral`), ready for `verifyQuote`.
 */
export async function fetchCollateral(quote: Uint8Array | Quote, opts: FetchCollateralParameters): Promise<FetchCollateralReturnType> {
  try {
    return await fetchCollateralFor(quote, opts);
  } catch (e) {
    if (e instanceof NetworkError) {
      // Say what it means for the caller and how to get past it.
      throw new NetworkError(e.code, `${e.message}; no collateral could be fetched: try again, use another PCCS, or supply a collateral JSON file (dcap-qvl QuoteCollateralV3, --collateral FILE)`, {
        cause: e,
        ...(e.details ? { details: e.details } : {}),
      });
    }
    throw e;
  }
}

async function fetchCollateralFor(quoteInput: Uint8Array | Quote, opts: FetchCollateralOptions): Promise<Collateral> {
  requireNow(opts.now);
  const base = normalizePccsBase(opts.pccsUrl);
  const q = asQuote(quoteInput);
  const v4 = (tee: string): string => `${base}/${tee}/certification/v4`;
  const { info, pckCertificateChain } = await pckRequestInfo(q, v4("sgx"), opts);

  const rootCrlUrl = `${v4("sgx")}/rootcacrl`;
  const pcs = isIntelPcs(base);
  const pckCrlP = getCached(`${v4("sgx")}/pckcrl?ca=${info.ca}&encoding=der`, opts, "PCK CRL", (f) => {
    const { value: der, nextUpdate } = decodeCrl(f, "PCK CRL");
    return { value: { der, chain: responseHeader(f, "PCK CRL", ["sgx-pck-crl-issuer-chain"]) }, nextUpdate };
  });
  const tcbP = getCached(`${v4(info.tee)}/tcb?fmspc=${info.fmspc}`, opts, "TCB Info", (f) =>
    decodeSignedDocument(f, "TCB Info", "tcbInfo", ["tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"]),
  );
  const qeP = getCached(`${v4(info.tee)}/qe/identity?update=standard`, opts, "QE Identity", (f) =>
    decodeSignedDocument(f, "QE Identity", "enclaveIdentity", ["sgx-enclave-identity-issuer-chain", "enclave-identity-issuer-chain"]),
  );
  const rootFromPccsP: Promise<Uint8Array | KmsRegistryError> = pcs
    ? Promise.resolve(new NetworkError("PCCS_HTTP_STATUS", "Intel PCS has no rootcacrl endpoint"))
    : getCached(rootCrlUrl, opts, "root CA CRL", (f) => decodeCrl(f, "root CA CRL")).catch((e: unknown) => {
        if (e instanceof KmsRegistryError) return e;
        throw e;
      });

  // Settle everything before throwing, so no request is left dangling.
  const [pckCrlR, tcbR, qeR, rootR] = await Promise.allSettled([pckCrlP, tcbP, qeP, rootFromPccsP]);
  for (const r of [pckCrlR, tcbR, qeR, rootR]) if (r.status === "rejected") throw r.reason;
  const pckCrl = (pckCrlR as PromiseFulfilledResult<Awaited<typeof pckCrlP>>).value;
  const tcb = (tcbR as PromiseFulfilledResult<Awaited<typeof tcbP>>).value;
  const qe = (qeR as PromiseFulfilledResult<Awaited<typeof qeP>>).value;
  const rootFromPccs = (rootR as PromiseFulfilledResult<Uint8Array | KmsRegistryError>).value;
  const rootCrl = rootFromPccs instanceof KmsRegistryError ? await rootCrlFromDistributionPoint(qe.chain, rootFromPccs, pcs, rootCrlUrl, opts) : rootFromPccs;

  return {
    pckCrlIssuerChain: pckCrl.chain,
    rootCaCrl: rootCrl,
    pckCrl: pckCrl.der,
    tcbInfoIssuerChain: tcb.chain,
    tcbInfo: tcb.text,
    tcbInfoSignature: tcb.signature,
    qeIdentityIssuerChain: qe.chain,
    qeIdentity: qe.text,
    qeIdentitySignature: qe.signature,
    ...(pckCertificateChain === undefined ? {} : { pckCertificateChain }),
  };
}

/** What to ask for, from the quote's PCK leaf: embedded (type 5) or fetched for an encrypted PPID (types 2, 3). */
async function pckRequestInfo(q: Quote, sgxV4: string, opts: FetchCollateralOptions): Promise<{ info: CollateralRequestInfo; pckCertificateChain?: string }> {
  const pem = quotePckPem(q);
  if (pem !== undefined) return { info: requestInfoFromLeaf(q, embeddedLeaf(pem)) };
  if (q.certificationType === 2 || q.certificationType === 3) {
    const pck = await fetchPckCertificate(q.certificationType, q.certificationData, q.header.userData, sgxV4, opts);
    return { info: requestInfoFromLeaf(q, pck.leafDer), pckCertificateChain: pck.chain };
  }
  throw noPckChain(
    `the quote carries certification data type ${q.certificationType}: neither a PEM PCK chain (5) nor an encrypted PPID (2, 3); supply collateral with pck_certificate_chain via --collateral`,
    { certificationType: q.certificationType },
  );
}

/** The root CA CRL from the CRL distribution point of the root (the last certificate of the QE Identity issuer chain). */
async function rootCrlFromDistributionPoint(qeChain: string, pccsError: KmsRegistryError, pcs: boolean, rootCrlUrl: string, opts: FetchCollateralOptions): Promise<Uint8Array> {
  const rootDer = pemBlocks(qeChain, "QE Identity issuer chain").at(-1);
  const cdp = rootDer === undefined ? undefined : crlDistributionPoint(rootDer);
  if (cdp === undefined) {
    throw new NetworkError(
      "PCCS_BAD_RESPONSE",
      `root CA CRL: ${pcs ? "" : `the PCCS call failed (${pccsError.message}) and `}the root certificate of the QE Identity issuer chain has no CRL distribution point`,
      { details: { url: rootCrlUrl } },
    );
  }
  return getCached(cdp, opts, "root CA CRL", (f) => decodeCrl(f, "root CA CRL"));
}

/**
 * The PCK certificate for an encrypted-PPID quote. Returns the leaf and
 * `leaf + "\n" + issuer chain` for `pck_certificate_chain`. The PCS answers with the certificate for
 * the best TCB it has registered (`SGX-TCBm`); a different TCB than the quote's raw one means the
 * platform's current TCB is not registered, which is an error.
 */
async function fetchPckCertificate(
  type: number,
  data: Uint8Array,
  userData: Uint8Array,
  sgxV4: string,
  opts: FetchCollateralOptions,
): Promise<{ leafDer: Uint8Array; chain: string }> {
  const e = parseEncryptedPpidData(type, data);
  const H = (b: Uint8Array): string => bytesToPlainHex(b).toUpperCase();
  const pceSvnLe = Uint8Array.of(e.pceSvn & 0xff, e.pceSvn >>> 8);
  const url = `${sgxV4}/pckcert?qeid=${H(userData.subarray(0, 16))}&encrypted_ppid=${H(e.encryptedPpid)}&cpusvn=${H(e.cpuSvn)}&pcesvn=${H(pceSvnLe)}&pceid=${H(e.pceId)}`;
  const what = "PCK certificate";
  return getCached(
    url,
    opts,
    what,
    (f) => {
      const text = new TextDecoder().decode(f.body);
      const leafDer = pemBlocks(text, what)[0];
      if (leafDer === undefined) throw badResponse(what, f, "body holds no PEM certificate");
      let notAfter: number;
      try {
        notAfter = parseCertificate(leafDer, what).notAfter;
      } catch (err) {
        throw badResponse(what, f, `body is not a parsable certificate: ${(err as Error).message}`);
      }
      const issuerChain = responseHeader(f, what, ["sgx-pck-certificate-issuer-chain"]);
      const tcbm = f.headers["sgx-tcbm"];
      const want = H(e.cpuSvn) + H(pceSvnLe);
      if (tcbm !== undefined && tcbm.toUpperCase() !== want) {
        throw new NetworkError(
          "PCCS_PCK_TCB_NOT_REGISTERED",
          `${what}: the PCCS returned the certificate for TCB ${tcbm.toUpperCase()}, not the quote's ${want} (CPUSVN ‖ PCESVN): the platform's current TCB is not registered`,
          { details: { url: f.url, path: pathOf(f.url), tcbm, expected: want } },
        );
      }
      const leafPem = text.slice(text.indexOf("-----BEGIN CERTIFICATE-----"), text.indexOf("-----END CERTIFICATE-----") + 25);
      return { value: { leafDer, chain: `${leafPem}\n${issuerChain}` }, nextUpdate: notAfter };
    },
    opts.apiKey === undefined ? undefined : { "Ocp-Apim-Subscription-Key": opts.apiKey },
  );
}
