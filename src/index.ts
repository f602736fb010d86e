/**
 * dstack-kms-registry — the library. Layers, each re-exported here: `core` (errors, bytes, bounded input),
 * `dcap` (Intel quote verification), `dstack` (dstack's formats), `kms` (talking to a KMS), `registry` (the
 * chain) and `workflows` (publish a KMS, prove liveness). Test worlds (forge, simulated KMS, dev node) are
 * in `dstack-kms-registry/testing`.
 */
export * from "./core/index.js";
export * from "./dcap/index.js";
export * from "./dstack/index.js";
export * from "./kms/index.js";
export * from "./registry/index.js";
export * from "./workflows/index.js";
