/**
 * Intel DCAP: TDX/SGX quote parsing, verification to the pinned Intel root, collateral files and collateral
 * from a PCCS / Intel PCS, TCB Info, QE Identity and the TCB policy.
 */
export * from "./types.js";
export { parseQuote, quotePckChain, QuoteParseError, isTdxQuote, INTEL_QE_VENDOR_ID, TEE_TYPE_SGX, TEE_TYPE_TDX, MAX_LENGTH_FIELD } from "./quote.js";
export type { Quote, QuoteHeader, QuoteBody, EnclaveReport, TdReport10, TdReport15 } from "./quote.js";
export {
  verifyQuote,
  checkQuote,
  verifyQuoteSignatures,
  QuoteVerificationError,
  reportToJson,
  requireNow,
  createVerificationCache,
} from "./verify.js";
export type { VerifyOptions, VerificationCache, SignatureCheckResult } from "./verify.js";
export { parseCollateralJson, collateralToJson, collateralFromObject } from "./collateral.js";
export { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from "./intel-root.js";
export { parseTcbInfo, parseQeIdentity, convergeStatus, matchPlatformLevel, checkTdxModule, checkQeIdentity, tdAttributesProblem, parseRfc3339 } from "./tcb.js";
export type { TcbInfo, QeIdentity, TcbLevel, StatusWithAdvisories } from "./tcb.js";
export { parseCertificate, parseCrl, pemBlocks, parseSgxExtension, certificateDerFromFile } from "./x509.js";
export type { Certificate, Crl, SgxExtension } from "./x509.js";
export { fetchCollateral, collateralRequestInfo, normalizePccsBase, defaultCollateralCacheDir, INTEL_PCS_URL, DEFAULT_PCCS_URL } from "./pccs.js";
export type { FetchCollateralOptions, CollateralRequestInfo } from "./pccs.js";
