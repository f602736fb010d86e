/**
 * What a command sees of the outside world (`CliIO`: stdout, stderr, environment, cwd, stdin, signals) and
 * the two things every command does with it: resolve a path argument against the cwd and read a file
 * argument (`-` = standard input) through the bounded reader.
 * Output hygiene: `safeIO` (installed by `main` for every command) strips terminal control sequences from
 * everything written and redacts the secret-bearing URLs the command was given.
 */
import { isAbsolute, resolve } from "node:path";

import { INPUT_KINDS, readInput } from "../core/files.js";
import { sanitizeForTerminal, secretRedactor, urlsInArgs } from "../core/sanitize.js";

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Reads standard input (for `-` file arguments), stopping once more than `maxBytes` bytes came. */
  readStdin: (maxBytes: number) => Promise<Uint8Array>;
  /** Installs a handler for SIGINT/SIGTERM; returns a function that removes it. */
  onSignal?: (handler: () => void) => () => void;
}

/**
 * `io` whose stdout and stderr first redact every secret-bearing URL among `argv` (credentials, path, query,
 * also inside error messages and JSON documents) and then strip control characters and escape sequences
 * (`sanitizeForTerminal`), so no server- or file-controlled text reaches the terminal raw. A JSON document
 * stays one valid document: its strings only ever hold escaped controls, and the redactions are plain text.
 */
export function safeIO(io: CliIO, argv: readonly string[]): CliIO {
  const redact = secretRedactor(urlsInArgs(argv));
  const clean = (text: string) => sanitizeForTerminal(redact(text));
  return { ...io, stdout: (text) => io.stdout(clean(text)), stderr: (text) => io.stderr(clean(text)) };
}

/** A path argument, relative to the CLI's cwd unless absolute. */
export function resolvePath(io: CliIO, path: string): string {
  return isAbsolute(path) ? path : resolve(io.cwd, path);
}

/**
 * Read a file argument (`-` = standard input) relative to the CLI's cwd: a regular file or standard
 * input of at most the size cap of its `kind`; `what` names it in errors (e.g. "root CA file").
 */
export async function readInputFile(io: CliIO, path: string, what: string, kind: keyof typeof INPUT_KINDS): Promise<Uint8Array> {
  if (path === "-") return readInput(path, INPUT_KINDS[kind], { stdin: io.readStdin });
  // (an absolute path is never "-"; `stdin` here only makes the errors mention it)
  return readInput(resolvePath(io, path), INPUT_KINDS[kind], { label: `${what} ${JSON.stringify(path)}`, stdin: io.readStdin });
}
