/**
 * Attestation module: TDX/SGX quote parsing, DCAP verification to the pinned Intel root, collateral
 * files and collateral from a PCCS / Intel PCS, TCB evaluation, the DCAP forge (synthetic, non-Intel
 * worlds for tests and the simulated KMS), key binding, event log.
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
export { createForgeWorld, forgeQuote, forgeSignCollateralText, forgeEncryptedPpidCertData, FORGE_DEFAULT_NOW } from "./forge.js";
export type {
  ForgeWorld,
  ForgeWorldOptions,
  ForgeQuoteOptions,
  ForgeTcbLevel,
  ForgeIsvLevel,
  ForgeModuleIdentity,
  ForgeCrlOptions,
  ForgeQe,
  ForgeCert,
  ForgeCertShape,
  ForgeCollateralSigner,
  ForgeOtherSigner,
  ForgeKeyUsage,
} from "./forge.js";
export * from "./binding.js";
export * from "./eventlog.js";
export * from "./dstack-attestation.js";
