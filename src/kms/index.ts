/**
 * KMS module: bootstrap-info model and parsing (legacy and attestation formats), the KMS HTTP(S)
 * client with SPKI pinning, certs-dir reading and the operator's checklist, pulling from any
 * source, the whole `verify`, and the simulated KMS.
 */
export * from "./bootstrap.js";
export * from "./json.js";
export { INPUT_KINDS, formatBytes, readFileLimited, readInput, readStreamLimited, readTextLimited, writeFileAtomic, type InputKind, type ReadInputOptions } from "./files.js";
export * from "./certs-dir.js";
export * from "./client.js";
export * from "./pull.js";
export * from "./verify.js";
export * from "./pki.js";
export * from "./generate.js";
export * from "./simulator.js";
export * from "./ratls.js";
