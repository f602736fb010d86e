/** Binds the CLI to the real process: stdio, environment, signals, exit code. */
import { errorMessage } from "../core/errors.js";
import { readStreamLimited } from "../core/files.js";
import { oneLine, secretRedactor, urlsInArgs } from "../core/sanitize.js";
import { main } from "./main.js";
import type { CliIO } from "./io.js";

export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    readStdin: (maxBytes) => readStreamLimited(process.stdin, maxBytes),
    onSignal: (handler) => {
      process.on("SIGINT", handler);
      process.on("SIGTERM", handler);
      return () => {
        process.off("SIGINT", handler);
        process.off("SIGTERM", handler);
      };
    },
  };
}

export async function run(argv = process.argv.slice(2)): Promise<void> {
  let code: number;
  try {
    code = await main(argv, processIO());
  } catch (e) {
    // main() never throws by contract; this is the last line of defence against a stack trace.
    const redact = secretRedactor(urlsInArgs(argv));
    process.stderr.write(`kms-registry: internal error: ${oneLine(redact(errorMessage(e)))}\n`);
    code = 1;
  }
  process.exitCode = code;
}
