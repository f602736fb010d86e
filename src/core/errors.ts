/**
 * Typed errors. Every error the library throws on purpose is a `KmsRegistryError` with a stable
 * machine-readable `code` from the catalogue `ERROR_CODES` (error-codes.ts), a `shortMessage`, optional
 * `details` and `metaMessages`; the CLI maps them to exit codes and one-line messages.
 *
 * - `UsageError` / `InputError`  → exit 2 (the caller gave something unusable)
 * - `VerificationError`         → exit 1 (the data was well-formed but did not verify / was rejected)
 * - anything else                → exit 1 with its message (never a stack trace unless DEBUG is set)
 */
import type { ErrorCode } from "./error-codes.js";

export type { ErrorCode } from "./error-codes.js";

/** What every error of the library may carry besides its code and message. */
export interface KmsRegistryErrorOptions {
  cause?: unknown;
  /** Structured context (field names, offsets, expected/found). Never contains secrets. */
  details?: Record<string, unknown>;
  /** Extra lines that explain or suggest; `message` is `shortMessage` followed by them, one per line. */
  metaMessages?: string[];
}

export class KmsRegistryError extends Error {
  /** Stable identifier from the catalogue (`ERROR_CODES`), e.g. `QUOTE_TRUNCATED`, `BAD_HEX`. */
  readonly code: ErrorCode;
  /** What went wrong, as given to the constructor (the CLI prints it as the error's line). */
  readonly shortMessage: string;
  /** Optional structured context (field names, offsets, expected/found). Never contains secrets. */
  readonly details: Record<string, unknown> | undefined;
  /** Optional extra lines after the short message. */
  readonly metaMessages: string[] | undefined;

  constructor(code: ErrorCode, shortMessage: string, options?: KmsRegistryErrorOptions) {
    const meta = options?.metaMessages;
    super(meta?.length ? [shortMessage, ...meta].join("\n") : shortMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options?.details;
    this.metaMessages = meta;
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** The command line or an API call was malformed (missing argument, unknown option, bad `now`). */
export class UsageError extends KmsRegistryError {
  constructor(message: string, options?: KmsRegistryErrorOptions) {
    super("USAGE", message, options);
  }
}

/** Input data could not be read or decoded (bad hex, wrong length, malformed JSON, missing file). */
export class InputError extends KmsRegistryError {}

/** Well-formed data that failed a verification step or a policy. */
export class VerificationError extends KmsRegistryError {}

/** A network peer (KMS, PCCS, RPC) failed or answered something unusable. */
export class NetworkError extends KmsRegistryError {}

export function isKmsRegistryError(e: unknown): e is KmsRegistryError {
  return e instanceof KmsRegistryError;
}

/** The message of anything thrown: an Error's `message`, else its string form. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The first line of a text (viem and Node put details on the lines after the first). */
export function firstLine(text: string): string {
  const i = text.indexOf("\n");
  return i < 0 ? text : text.slice(0, i);
}
