/**
 * How commands print: one JSON document for `--json` (and nothing else on stdout), aligned tables, progress
 * lines on stderr, and errors as one line for humans or `{code, message}` for JSON. Server text is kept on
 * one line (`oneLine`) wherever it lands in a table, a progress line or an error line.
 */
import { KmsRegistryError, firstLine } from "../core/errors.js";
import { escapeJsonControls, oneLine, sanitizeForTerminal } from "../core/sanitize.js";
import { exitCodeFor } from "./framework.js";
import type { CliIO } from "./io.js";

/** `value` as one JSON document on stdout; DEL and C1 controls in strings are `\u00XX`-escaped like C0 ones. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(escapeJsonControls(JSON.stringify(value, jsonReplacer, 2)) + "\n");
}

/** JSON replacer: bigint → decimal string, Uint8Array → 0x hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
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

/** A table of named outcomes (verification checks, policy rules): name, ok / FAIL, detail. */
export function checksTable(checks: readonly { name: string; ok: boolean; detail: string }[], heading = "check"): string {
  return table(
    checks.map((c) => [c.name, c.ok ? "ok" : "FAIL", c.detail]),
    [heading, "ok", "detail"],
  );
}

/** A progress printer: `[cmd] stage: detail` on one line of stderr (never stdout, so `--json` stays clean). */
export function progressPrinter(io: CliIO, cmd: string): (stage: string, detail: string) => void {
  return (stage, detail) => io.stderr(`[${cmd}] ${stage}: ${oneLine(detail)}\n`);
}

/**
 * One-line description of an error for humans: our own errors' short message with line breaks folded (so a
 * server's text inside it cannot start a line of its own), other errors' first line (viem's short message),
 * control characters removed.
 */
export function errorLine(e: unknown): string {
  if (e instanceof KmsRegistryError) return oneLine(e.shortMessage);
  if (e instanceof Error) return oneLine(`${e.name}: ${firstLine(e.message)}`);
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

/**
 * Report a command's failure and return its exit code: with `jsonChecks` (the command was run with `--json`)
 * the failure document `{ ok: false, error: { code, message }, checks }` on stdout; always the one-line error on
 * stderr, and the stack trace too when `KMS_REGISTRY_DEBUG` is set.
 */
export function reportCommandError(io: CliIO, command: string, e: unknown, jsonChecks?: readonly unknown[]): number {
  if (jsonChecks) printJson(io, { ok: false, error: errorJson(e), checks: jsonChecks });
  io.stderr(`kms-registry: ${command}: ${errorLine(e)}\n`);
  if (io.env.KMS_REGISTRY_DEBUG && e instanceof Error && e.stack) io.stderr(e.stack + "\n");
  return exitCodeFor(e);
}
