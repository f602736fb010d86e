/**
 * A very small command framework over `node:util.parseArgs`: each command declares its options,
 * usage text and a `run` function returning an exit code. Conventions for every command:
 *   exit 0 success · 1 verification failed / rejected · 2 usage or input error;
 *   `--json` prints exactly one JSON document on stdout and nothing else on stdout.
 * Option values are read through the typed helpers here (`optString`, `optInteger`, `nowOption`, …) and the
 * option groups in `options/`, each parsed once per run.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

import { InputError, UsageError, errorMessage, firstLine } from "../core/errors.js";
import type { CliIO } from "./io.js";

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>[string] & { description?: string; valueName?: string };

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  io: CliIO;
  json: boolean;
}

/** What a command's module defines: its usage text, options and `run`. */
export interface CommandSpec {
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

/** A command: its name and summary from the command list (`commands/index.ts`) and its module's spec. */
export interface Command extends CommandSpec {
  name: string;
  summary: string;
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
    // node's own hint about `--` does not apply to these commands
    throw new UsageError(firstLine(errorMessage(e)).replace(/\. To specify a positional argument.*$/, ""));
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

/** A string option's value, or undefined when it was not given. */
export function optString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function requireString(ctx: CommandContext, name: string): string {
  const v = optString(ctx, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

/** Whether a boolean flag was given. */
export function optFlag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
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

/** `--at UNIX_SECONDS`: the time a command checks validity at, default now. */
export function nowOption(ctx: CommandContext): number {
  return optInteger(ctx, "at", { min: 0 }) ?? Math.floor(Date.now() / 1000);
}
