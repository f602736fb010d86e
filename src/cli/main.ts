/**
 * `kms-registry` entry point: a thin shell over the library. `main` never calls process.exit and
 * never throws; it returns the exit code (0 ok, 1 verification failed / rejected, 2 usage/input).
 * Everything it and the commands print goes through `safeIO`: secret-bearing URLs from the command line are
 * redacted and control characters stripped, on stdout and stderr, in human and JSON output alike.
 */
import { commands, loadCommand } from "./commands/index.js";
import { EXIT_OK, EXIT_USAGE, commandHelp, parseCommandArgs } from "./framework.js";
import { safeIO, type CliIO } from "./io.js";
import { reportCommandError } from "./output.js";
import { packageVersion } from "../core/version.js";

export function topLevelHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    `kms-registry ${packageVersion()} — verify a dstack KMS's TDX attestation and publish its identity on chain`,
    "",
    "Usage: kms-registry <command> [options]",
    "       kms-registry <command> --help",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Options:",
    "  -h, --help     show this help",
    "  -V, --version  print the version",
    "",
    "Exit codes: 0 success, 1 verification failed or rejected, 2 usage or input error.",
    "",
  ].join("\n");
}

export async function main(argv: string[], rawIO: CliIO): Promise<number> {
  const io = safeIO(rawIO, argv);
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    if (first === "help" && rest[0]) {
      const cmd = await loadCommand(rest[0]);
      if (!cmd) return unknown(rest[0], io);
      io.stdout(commandHelp(cmd));
      return EXIT_OK;
    }
    io.stdout(topLevelHelp());
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === "-V" || first === "--version") {
    io.stdout(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (first.startsWith("-")) {
    io.stderr(`kms-registry: unknown option ${JSON.stringify(first)} (see kms-registry --help)\n`);
    return EXIT_USAGE;
  }
  const cmd = await loadCommand(first);
  if (!cmd) return unknown(first, io);

  const wantsJson = cmd.json === true && rest.includes("--json");
  try {
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      io.stdout(commandHelp(cmd));
      return EXIT_OK;
    }
    return await cmd.run({ values, positionals, io, json: values.json === true });
  } catch (e) {
    return reportCommandError(io, cmd.name, e, wantsJson ? [] : undefined);
  }
}

function unknown(name: string, io: CliIO): number {
  io.stderr(`kms-registry: unknown command ${JSON.stringify(name)} (see kms-registry --help)\n`);
  return EXIT_USAGE;
}
