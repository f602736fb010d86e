/**
 * Use cases that combine the KMS, verification and chain layers: publishing a KMS (pull → check → verify →
 * gate → register) and proving that a live KMS still holds its root key.
 */
export * from "./publish-kms.js";
export * from "./prove-liveness.js";
