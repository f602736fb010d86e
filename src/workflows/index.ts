/**
 * Use cases that combine the KMS, verification and chain layers: publishing a KMS (`publishKmsWorkflow`: pull →
 * collateral → certs-dir checklist → verification gate → connect → register) and proving that a live KMS still
 * holds its root key (`proveLiveness`).
 */
export * from "./publish-kms.js";
export * from "./prove-liveness.js";
export * from "./check-dstack-kms.js";
