/**
 * Intel DCAP: TDX/SGX quote parsing, verification to the pinned Intel root, collateral files and collateral
 * from a PCCS / Intel PCS, TCB Info, QE Identity and the TCB policy.
 */
export * from "./types.js";
export { parseQuote, quotePckChain, quotePckPem, QuoteParseError, isTdxQuote, reportToJson, INTEL_QE_VENDOR_ID, TEE_TYPE_SGX, TEE_TYPE_TDX, MAX_LENGTH_FIELD } from "./quote.js";
export type { Quote, QuoteHeader, QuoteBody, EnclaveReport, TdReport10, TdReport15, ParseQuoteParameters, ParseQuoteReturnType, ParseQuoteErrorType } from "./quote.js";
export { verifyQuote, checkQuote, verifyQuoteSignatures, QuoteVerificationError } from "./verify.js";
export type {
  VerifyOptions,
  VerifyQuoteSignaturesOptions,
  QuoteCheckFailure,
  QuoteSignatureCheck,
  SignatureCheckResult,
  VerifyQuoteParameters,
  VerifyQuoteReturnType,
  VerifyQuoteErrorType,
  CheckQuoteParameters,
  CheckQuoteReturnType,
  CheckQuoteErrorType,
  VerifyQuoteSignaturesParameters,
  VerifyQuoteSignaturesReturnType,
  VerifyQuoteSignaturesErrorType,
} from "./verify.js";
export { createVerificationCache } from "./cache.js";
export type { VerificationCache } from "./cache.js";
export { parseCollateralJson, collateralToJson, collateralFromObject } from "./collateral.js";
export type { ParseCollateralJsonParameters, ParseCollateralJsonReturnType, ParseCollateralJsonErrorType } from "./collateral.js";
export { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from "./intel-root.js";
export { parseTcbInfo } from "./tcb-info.js";
export type { TcbInfo, TcbLevel } from "./tcb-info.js";
export { parseQeIdentity, checkQeIdentity } from "./qe-identity.js";
export type { QeIdentity } from "./qe-identity.js";
export { convergeStatus, matchPlatformLevel, checkTdxModule, tdAttributesProblem } from "./tcb-policy.js";
export type { StatusWithAdvisories } from "./tcb-policy.js";
export { parseCertificate, parseCrl, pemBlocks, certificateDerFromFile } from "./x509.js";
export type { Certificate, Crl } from "./x509.js";
export { parseSgxExtension } from "./sgx-extension.js";
export { P256_SPKI_PREFIX } from "./p256.js";
export type { SgxExtension } from "./sgx-extension.js";
export { fetchCollateral, collateralRequestInfo } from "./pccs/fetch-collateral.js";
export type { FetchCollateralOptions, CollateralRequestInfo, FetchCollateralParameters, FetchCollateralReturnType, FetchCollateralErrorType } from "./pccs/fetch-collateral.js";
export { normalizePccsBase, INTEL_PCS_URL, DEFAULT_PCCS_URL } from "./pccs/client.js";
export { defaultCollateralCacheDir } from "./pccs/cache.js";
