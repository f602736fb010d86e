/**
 * dstack-kms-registry — library entry point.
 *
 * Modules: `encoding` (hex/base64), `errors` (typed errors). Later modules: `attestation` (quote
 * parsing and DCAP verification), `kms` (bootstrap info, certs-dir checks, simulator), `registry`
 * (contract client, publish, audit).
 */
export * from "./errors.js";
export * from "./encoding/index.js";
export * from "./attestation/index.js";
export * from "./registry/index.js";
export * from "./registry/operations.js";
export * from "./kms/index.js";
