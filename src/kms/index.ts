/**
 * Talking to a KMS and reading its files: the bootstrap-info model and parsing (legacy and attestation
 * formats), the KMS HTTP(S) client with SPKI pinning, certs-dir reading and the operator's checklist, pulling
 * from any source, and the whole `verify` of a KMS's bootstrap info.
 */
export * from "./bootstrap.js";
export * from "./certs-dir.js";
export * from "./client.js";
export * from "./pull.js";
export * from "./verify.js";
