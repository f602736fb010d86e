/** The registry module: contract ABI and typed client, dstack signature formats (off chain). */
export * from "./abi.js";
export * from "./client.js";
export * from "./signatures.js";
