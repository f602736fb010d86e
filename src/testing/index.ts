/**
 * Test worlds, exported as `dstack-kms-registry/testing` and never from the package root: the DCAP forge
 * (properly signed, non-Intel worlds), the simulated dstack KMS, the test PKI that makes KMS certificates,
 * KMS key material and certs dirs, and a local JSON-RPC dev node with Hardhat's well-known dev accounts.
 */
export * from "./forge/index.js";
export * from "./simulator/index.js";
export * from "./pki.js";
export * from "./generate.js";
export * from "./devnode.js";
export * from "./platforms/pki.js";
export * from "./platforms/cbor-encode.js";
export * from "./platforms/nitro-world.js";
export * from "./platforms/snp-world.js";
