/**
 * dstack's own formats: the KMS key binding in report_data, the TDX event log and its RTMR replay, the
 * versioned attestation containers, the KMS signature messages and key derivation, RA-TLS certificates, and the
 * ABI of dstack's own on-chain KMS contract (DstackKms).
 */
export * from "./binding.js";
export * from "./eventlog.js";
export * from "./measurement.js";
export * from "./policy.js";
export * from "./attestation.js";
export * from "./signatures.js";
export * from "./kdf.js";
export * from "./ratls.js";
export * from "./dstack-kms-abi.js";
