/**
 * The base every other folder builds on: typed errors and the catalogue of their codes, bytes and their
 * text encodings, output hygiene (sanitizing and redaction), bounded JSON parsing, bounded file reading
 * and atomic writes, time (the verification time `now` in unix seconds), and bounded concurrency.
 */
export * from "./errors.js";
export * from "./error-codes.js";
export * from "./bytes.js";
export * from "./sanitize.js";
export * from "./json.js";
export * from "./files.js";
export * from "./time.js";
export * from "./pool.js";
