/**
 * A very small command framework over `node:util.parseArgs`: each command declares its options,
 * usage text and a `run` function returning an exit code. Conventions for every command:
 *   exit 0 success · 1 verification failed / rejected · 2 usage or input error;
 *   `--json` prints exactly one JSON document on stdout and nothing else on stdout.
 * Output hygiene: `safeIO` (installed by `main` for every command) strips terminal control sequences from
 * everything written and redacts the secret-bearing URLs the command was given; `errorLine` and `table`
 * keep server text on one line.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

import { escapeJsonControls, oneLine, sanitizeForTerminal, secretRedactor, urlsInArgs } from "../core/sanitize.js";
import { InputError, KmsRegistryError, UsageError } from "../core/errors.js";

export { oneLine } from "../core/sanitize.js";

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

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

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>[string] & { description?: string; valueName?: string };

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  io: CliIO;
  json: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** One-line synopsis after the command name, e.g. `<file|-> [--collateral FILE] [--json]`. */
  synopsis: string;
  /** Extra help text (paragraphs) shown by `--help`. */
  help?: string;
  options: Record<string, OptionSpec>;
  /** Whether the command prints data and therefore accepts `--json`. */
  json?: boolean;
  minPositionals?: number;
  maxPositionals?: number;
  run: (ctx: CommandContext) => Promise<number>;
}

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: kms-registry ${cmd.name} ${cmd.synopsis}`.trimEnd(), "", cmd.summary];
  if (cmd.help) lines.push("", cmd.help.trim());
  const opts = Object.entries(allOptions(cmd));
  if (opts.length) {
    lines.push("", "Options:");
    const rows = opts.map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""}`;
      return [flag, o.description ?? ""] as const;
    });
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [flag, d] of rows) lines.push(`  ${flag.padEnd(w)}  ${d}`);
  }
  return lines.join("\n") + "\n";
}

function allOptions(cmd: Command): Record<string, OptionSpec> {
  const o: Record<string, OptionSpec> = { ...cmd.options };
  if (cmd.json) o.json = { type: "boolean", description: "print one JSON document on stdout" };
  o.help = { type: "boolean", short: "h", description: "show this help" };
  return o;
}

/** Parse `argv` (after the command name) for `cmd`; throws `UsageError` with a one-line message. */
export function parseCommandArgs(cmd: Command, argv: string[]): { values: CommandContext["values"]; positionals: string[] } {
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, o] of Object.entries(allOptions(cmd))) {
    const { description: _d, valueName: _v, ...rest } = o;
    options[name] = rest;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    throw new UsageError(msg.replace(/\. To specify a positional argument.*$/, ""));
  }
  const { values, positionals } = parsed;
  if (values.help) return { values, positionals };
  // an empty value (`--domain ''`, `--domain=`) would silently read as "not given" or as the cwd
  for (const [name, v] of Object.entries(values)) {
    if (v === "" || (Array.isArray(v) && v.includes(""))) throw new UsageError(`--${name} needs a non-empty value`);
  }
  const min = cmd.minPositionals ?? 0;
  const max = cmd.maxPositionals ?? 0;
  if (positionals.length < min) throw new UsageError(`missing argument (usage: kms-registry ${cmd.name} ${cmd.synopsis})`);
  if (positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`);
  return { values, positionals };
}

/** Map an error to an exit code: usage/input errors → 2, anything else → 1. */
export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError || e instanceof InputError ? EXIT_USAGE : EXIT_FAIL;
}

/**
 * One-line description of an error for humans: our own errors' whole message with line breaks folded (so a
 * server's text inside it cannot start a line of its own), other errors' first line (viem's short message),
 * control characters removed.
 */
export function errorLine(e: unknown): string {
  if (e instanceof KmsRegistryError) return oneLine(e.message);
  if (e instanceof Error) return oneLine(`${e.name}: ${e.message.split("\n")[0]}`);
  return oneLine(String(e));
}

/** viem's names for a JSON-RPC node that could not be reached or did not answer, and for one that answered an error. */
const RPC_UNREACHABLE_ERRORS = new Set(["HttpRequestError", "TimeoutError", "WebSocketRequestError", "SocketClosedError"]);
const RPC_ERROR_ERRORS = new Set(["RpcRequestError", "InternalRpcError", "InvalidInputRpcError", "MethodNotFoundRpcError", "MethodNotSupportedRpcError", "LimitExceededRpcError", "ResourceUnavailableRpcError"]);

/**
 * The code of an error that is not one of ours: `RPC_UNREACHABLE` / `RPC_ERROR` when a JSON-RPC request
 * failed somewhere in its cause chain (viem wraps transport errors in call and contract errors), else `INTERNAL`.
 */
function foreignErrorCode(e: unknown): string {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 16; cur = cur.cause, depth++) {
    if (RPC_UNREACHABLE_ERRORS.has(cur.name)) return "RPC_UNREACHABLE";
    if (RPC_ERROR_ERRORS.has(cur.name)) return "RPC_ERROR";
  }
  return "INTERNAL";
}

/** `{code, message}` of an error for `--json` output; the message keeps its lines but loses control characters. */
export function errorJson(e: unknown): { code: string; message: string } {
  if (e instanceof KmsRegistryError) return { code: e.code, message: sanitizeForTerminal(e.message) };
  return { code: foreignErrorCode(e), message: errorLine(e) };
}

/** Helpers for option values. */
export function optString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function requireString(ctx: CommandContext, name: string): string {
  const v = optString(ctx, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

/** Parse a whole number option (e.g. `--at`, `--port`); throws `UsageError` naming the option. */
export function optInteger(ctx: CommandContext, name: string, range?: { min?: number; max?: number }): number | undefined {
  const v = optString(ctx, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} is out of range: ${v}`);
  if (range?.min !== undefined && n < range.min) throw new UsageError(`--${name} must be ≥ ${range.min}, got ${n}`);
  if (range?.max !== undefined && n > range.max) throw new UsageError(`--${name} must be ≤ ${range.max}, got ${n}`);
  return n;
}

/** Exactly one of the named options must be given; returns its name. */
export function exactlyOne(ctx: CommandContext, names: string[]): string {
  const given = names.filter((n) => optString(ctx, n) !== undefined);
  if (given.length !== 1) {
    throw new UsageError(`give exactly one of ${names.map((n) => `--${n}`).join(", ")}${given.length ? ` (got ${given.map((n) => `--${n}`).join(", ")})` : ""}`);
  }
  return given[0]!;
}

/** `value` as one JSON document on stdout; DEL and C1 controls in strings are `\u00XX`-escaped like C0 ones. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(escapeJsonControls(JSON.stringify(value, jsonReplacer, 2)) + "\n");
}

/** JSON replacer: bigint → decimal string, Uint8Array → 0x hex. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString("hex")}`;
  return value;
}

/** Render rows as an aligned text table; each cell is put on one line without control characters. */
export function table(rows: string[][], header?: string[]): string {
  const all = (header ? [header, ...rows] : rows).map((r) => r.map(oneLine));
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - [...c].length))).join("  ");
  const out = all.map(fmt);
  if (header) out.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return out.join("\n") + "\n";
}
