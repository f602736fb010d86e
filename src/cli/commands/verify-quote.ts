/**
 * `kms-registry verify-quote <file|-> [--collateral FILE | --pccs URL] [--at UNIX_SECONDS]
 *   [--root-ca FILE] [--accept STATUS,...] [--json]`
 *
 * Thin shell over `src/attestation`: read the quote (binary or hex text), get collateral, verify,
 * apply the accepted-status policy, print. The pipeline is split into small exported steps
 * (`readQuoteInput`, `loadCollateral`, `verifyResultJson`, `renderHuman`) so that more inputs
 * (event logs, dstack attestation containers) can be added with small edits.
 */
import { isAbsolute, resolve } from "node:path";

import { InputError, UsageError } from "../../core/errors.js";
import { INPUT_KINDS, readInput } from "../../core/files.js";
import {
  DEFAULT_ACCEPTED_STATUSES,
  TCB_STATUSES,
  type Check,
  type Collateral,
  type PolicyRule,
  type PolicyVerdict,
  type TcbStatus,
  type VerificationVerdict,
  type VerifiedQuote,
} from "../../dcap/types.js";
import {
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  errorJson,
  errorLine,
  exitCodeFor,
  optInteger,
  optString,
  printJson,
  table,
  type CliIO,
  type Command,
  type CommandContext,
} from "../framework.js";
import { verificationOptions } from "../options/verification.js";

/** Statuses a user may accept: every TCB status except Revoked, which is always an error. */
const STATUSES: readonly TcbStatus[] = TCB_STATUSES.filter((s) => s !== "Revoked");
const DEFAULT_ACCEPT = DEFAULT_ACCEPTED_STATUSES;

export const NO_COLLATERAL_MESSAGE =
  "no collateral was supplied: pass --collateral FILE (a JSON file in dcap-qvl's QuoteCollateralV3 layout) or --pccs URL (a PCCS or Intel PCS base URL, e.g. https://api.trustedservices.intel.com)";

/**
 * Read a file argument (`-` = standard input) relative to the CLI's cwd: a regular file or standard
 * input of at most the size cap of its `kind`; `what` names it in errors (e.g. "root CA file").
 */
export async function readInputFile(io: CliIO, path: string, what: string, kind: keyof typeof INPUT_KINDS): Promise<Uint8Array> {
  if (path === "-") return readInput(path, INPUT_KINDS[kind], { stdin: io.readStdin });
  // (an absolute path is never "-"; `stdin` here only makes the errors mention it)
  return readInput(isAbsolute(path) ? path : resolve(io.cwd, path), INPUT_KINDS[kind], { label: `${what} ${JSON.stringify(path)}`, stdin: io.readStdin });
}

/** Quote bytes from a file's content: binary as is, or hex text (with or without 0x, any whitespace). */
export async function quoteBytesFromContent(content: Uint8Array): Promise<Uint8Array> {
  if (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf) content = content.subarray(3); // UTF-8 BOM of a hex text file
  if (content.length === 0) throw new InputError("QUOTE_EMPTY", "the quote input is empty");
  // Hex text is printable ASCII only; a binary quote starts with a small little-endian version number.
  let text = true;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) {
      text = false;
      break;
    }
  }
  if (!text) return content;
  const firstChar = Buffer.from(content.subarray(0, 64)).toString("latin1").trimStart()[0];
  if (firstChar === "{" || firstChar === "[") {
    throw new InputError(
      "QUOTE_NOT_HEX",
      'the quote input is JSON, not a quote: pass the quote itself, binary or hex (e.g. from a dstack GetQuote answer: jq -r .quote FILE | kms-registry verify-quote - …)',
    );
  }
  const { hexToBytes } = await import("../../core/bytes.js");
  const bytes = hexToBytes(Buffer.from(content).toString("latin1"), "quote (hex text)");
  if (bytes.length === 0) throw new InputError("QUOTE_EMPTY", "the quote input is empty (a text file without hex digits)");
  return bytes;
}

/** The quote from the positional argument. */
export async function readQuoteInput(ctx: CommandContext): Promise<Uint8Array> {
  return quoteBytesFromContent(await readInputFile(ctx.io, ctx.positionals[0]!, "quote file", "quote"));
}

export interface CollateralSource {
  kind: "file" | "pccs";
  value: string;
}

/** Which collateral source the options name; `UsageError` when none or both. */
export function collateralSource(ctx: CommandContext): CollateralSource {
  const file = optString(ctx, "collateral");
  const pccs = optString(ctx, "pccs");
  if (file !== undefined && pccs !== undefined) throw new UsageError("give either --collateral FILE or --pccs URL, not both");
  if (file !== undefined) return { kind: "file", value: file };
  if (pccs !== undefined) return { kind: "pccs", value: pccs };
  throw new UsageError(NO_COLLATERAL_MESSAGE);
}

export async function loadCollateral(ctx: CommandContext, src: CollateralSource, quote: Uint8Array, now: number): Promise<Collateral> {
  if (src.kind === "file") {
    const bytes = await readInputFile(ctx.io, src.value, "collateral file", "collateral");
    const { parseCollateralJson } = await import("../../dcap/collateral.js");
    return parseCollateralJson(new TextDecoder().decode(bytes));
  }
  const [{ fetchCollateral }, { defaultCollateralCacheDir }] = await Promise.all([import("../../dcap/pccs/fetch-collateral.js"), import("../../dcap/pccs/cache.js")]);
  return fetchCollateral(quote, { pccsUrl: src.value, cacheDir: defaultCollateralCacheDir(ctx.io.env), now });
}

export function parseAccept(ctx: CommandContext): TcbStatus[] {
  const v = optString(ctx, "accept");
  if (v === undefined) return [...DEFAULT_ACCEPT];
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new UsageError("--accept needs at least one status");
  for (const s of list) {
    if (!(STATUSES as readonly string[]).includes(s)) throw new UsageError(`--accept: unknown TCB status ${JSON.stringify(s)} (one of ${STATUSES.join(", ")})`);
  }
  return list as TcbStatus[];
}

/** The `--json` document of a successful verification (keys as documented in the README). */
export function verifyResultJson(r: VerifiedQuote, accepted: boolean): Record<string, unknown> {
  return {
    ok: true,
    accepted,
    status: r.status,
    advisoryIds: r.advisoryIds,
    genuine: r.genuine,
    warnings: r.warnings,
    checks: r.checks,
    report: r.report,
    pck: r.pck,
    collateral: r.collateral,
    verification: r.verification,
    policy: r.policy,
  };
}

function checksTable(checks: Check[]): string {
  return table(
    checks.map((c) => [c.name, c.ok ? "ok" : "FAIL", c.detail]),
    ["check", "ok", "detail"],
  );
}

function policyTable(rules: PolicyRule[]): string {
  return table(
    rules.map((c) => [c.name, c.ok ? "ok" : "FAIL", c.detail]),
    ["policy rule", "ok", "detail"],
  );
}

/** The verdict when Intel's rules passed but a report rule of the policy refused the quote. */
function renderPolicyRefusal(code: string, verification: VerificationVerdict, policy: PolicyVerdict, checks: Check[]): string {
  const adv = verification.advisoryIds.length ? ` [${verification.advisoryIds.join(", ")}]` : "";
  const refused = policy.rules.find((x) => !x.ok && x.name !== "tcb.status") ?? policy.rules.find((x) => !x.ok);
  const hint = refused?.name === "td.sept-ve-disable" ? " (--allow-sept-ve accepts it for a TD that is not a dstack KMS)" : "";
  return [
    `REJECTED BY POLICY: ${code} — Intel's verification passed (${String(verification.status)}${adv}${verification.genuine ? "" : "; NOT GENUINE: non-Intel root CA"}), but ${refused ? `${refused.name}: ${refused.detail}` : "a policy rule refused the quote"}${hint}`,
    "",
    checksTable(checks),
    "",
    policyTable(policy.rules),
  ].join("\n");
}

export function renderHuman(r: VerifiedQuote, accepted: boolean, accept: readonly TcbStatus[]): string {
  const adv = r.advisoryIds.length ? ` [${r.advisoryIds.join(", ")}]` : "";
  const what = `${r.report.type} quote, FMSPC ${String(r.pck.fmspc).slice(2).toUpperCase()}`;
  // a result under a non-Intel root says so in the verdict itself, not only in a warning
  const valid = r.genuine ? "VALID" : "VALID (NOT GENUINE: non-Intel root CA)";
  const verdict = accepted
    ? `${valid}: ${r.status}${adv} — accepted (${what})`
    : `${valid} but NOT ACCEPTED: ${r.status}${adv} is not one of ${accept.join(", ")} (${what})`;
  const lines = [verdict, ...r.warnings.map((w) => `warning: ${w}`), "", checksTable(r.checks)];
  return lines.join("\n");
}

export const verifyQuoteCommand: Command = {
  name: "verify-quote",
  summary: "verify a TDX/SGX quote locally (DCAP chain, collateral, TCB status)",
  synopsis: "<file|-> [--collateral FILE | --pccs URL] [--at UNIX_SECONDS] [--root-ca FILE] [--accept STATUS,...] [--allow-sept-ve] [--json]",
  help: [
    "The quote file may be binary or hex text (with or without 0x, any whitespace); `-` reads standard input.",
    "Collateral comes from --collateral FILE (dcap-qvl's QuoteCollateralV3 JSON) or --pccs URL (a PCCS or",
    "Intel PCS; responses are cached on disk until their nextUpdate). Intel's SGX Root CA is pinned; --root-ca",
    "verifies against another root, and the result is then reported as NOT GENUINE.",
    `Exit 0 when the quote is valid and its status is accepted (default ${DEFAULT_ACCEPT.join(", ")}), 1 when it`,
    "is invalid or its status is not accepted, 2 for usage or input errors.",
    "The TD must have SEPT_VE_DISABLE set (as a dstack KMS must); --allow-sept-ve accepts a TD without it (a TD",
    "that is not a dstack KMS). The result separates Intel's verdict (verification) from this policy (policy).",
  ].join("\n"),
  options: {
    ...verificationOptions(),
    eventlog: { type: "string", valueName: "FILE", description: "dstack event log (JSON text or its hex): replay RTMR0–3 against the quote" },
    "allow-sept-ve": { type: "boolean", description: "accept a TD whose SEPT_VE_DISABLE attribute is clear (never for a dstack KMS)" },
  },
  json: true,
  minPositionals: 1,
  maxPositionals: 1,
  async run(ctx) {
    try {
      return await runVerifyQuote(ctx);
    } catch (e) {
      // Without --json the framework prints the one-line error. With --json every failure, including
      // unreadable or undecodable input and unusable collateral, has the documented failure shape
      // { ok: false, error: { code, message }, checks } (no step ran yet, so no checks).
      if (!ctx.json) throw e;
      // an undecodable quote met first by the PCCS path (it reads the PCK chain) is still a failed quote.parse
      const { QuoteParseError } = await import("../../dcap/quote.js");
      const checks = e instanceof QuoteParseError ? [{ name: "quote.parse", ok: false, detail: e.message }] : [];
      printJson(ctx.io, { ok: false, error: errorJson(e), checks });
      ctx.io.stderr(`kms-registry: verify-quote: ${errorLine(e)}\n`);
      if (ctx.io.env.KMS_REGISTRY_DEBUG && e instanceof Error && e.stack) ctx.io.stderr(e.stack + "\n");
      return exitCodeFor(e);
    }
  },
};

async function runVerifyQuote(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  // options first: usage errors before any file is read
  const src = collateralSource(ctx);
  const now = optInteger(ctx, "at", { min: 0 }) ?? Math.floor(Date.now() / 1000);
  const accept = parseAccept(ctx);
  const allowSeptVe = ctx.values["allow-sept-ve"] === true;
  const rootCaPath = optString(ctx, "root-ca");
  const fromStdin = [["quote", ctx.positionals[0]], ["--collateral", optString(ctx, "collateral")], ["--root-ca", rootCaPath], ["--eventlog", optString(ctx, "eventlog")]].filter(([, v]) => v === "-");
  if (fromStdin.length > 1) throw new UsageError(`only one input can be read from standard input (-), got ${fromStdin.map(([n]) => n).join(" and ")}`);

  const { dstackQuoteInput, eventLogJson } = await import("./verify-quote-dstack.js");
  const dstack = await dstackQuoteInput(ctx, await readQuoteInput(ctx), (p) => readInputFile(io, p, "event log file", "eventLog"));
  const quote = dstack.quote;
  let rootCaDer: Uint8Array | undefined;
  if (rootCaPath !== undefined) {
    const { certificateDerFromFile } = await import("../../dcap/x509.js");
    rootCaDer = certificateDerFromFile(await readInputFile(io, rootCaPath, "root CA file", "certificate"), `root CA file ${JSON.stringify(rootCaPath)}`);
  }
  const collateral = await loadCollateral(ctx, src, quote, now);

  const { verifyQuote, QuoteVerificationError } = await import("../../dcap/verify.js");
  const { QuoteParseError } = await import("../../dcap/quote.js");
  let r: VerifiedQuote;
  try {
    r = verifyQuote(quote, { collateral, now, acceptStatuses: accept, ...(allowSeptVe ? { allowSeptVe: true } : {}), ...(rootCaDer ? { rootCaDer } : {}) });
  } catch (e) {
    // a failed step (exit 1) or an undecodable quote (exit 2) is reported with the checks so far;
    // anything else (bad options, bad root file) is left to the framework's one-line error
    const checks = e instanceof QuoteVerificationError ? e.checks : e instanceof QuoteParseError ? [{ name: "quote.parse", ok: false, detail: e.message }] : undefined;
    if (!checks || !(e instanceof Error) || !("code" in e)) throw e;
    const error = { code: String(e.code), message: e.message };
    // the event log is still replayed against the (parsed, unverified) quote: say whether it matches
    const failedEventlog = e instanceof QuoteVerificationError ? await eventLogJson(dstack).catch(() => null) : null;
    // after the quote parsed: what was attested (report, pck when readable) and Intel's verdict apart from the policy's
    const attested = e instanceof QuoteVerificationError && e.verification
      ? { ...(e.report ? { report: e.report } : {}), ...(e.pck ? { pck: e.pck } : {}), verification: e.verification, policy: e.policy ?? null }
      : {};
    const byPolicy = e instanceof QuoteVerificationError && e.verification?.ok === true && e.policy ? renderPolicyRefusal(error.code, e.verification, e.policy, checks) : null;
    if (ctx.json) printJson(io, { ok: false, error, checks, ...attested, ...(failedEventlog ? { eventlog: failedEventlog } : {}) });
    else io.stdout((byPolicy ?? `INVALID: ${error.code}\n\n${checksTable(checks)}`) + (failedEventlog ? `\nevent log (${String(failedEventlog.source)}): RTMR0–3 ${failedEventlog.rtmrsMatch === true ? "match" : "DO NOT match"} the (unverified) quote\n` : ""));
    io.stderr(`kms-registry: verify-quote: ${error.message.split("\n")[0]}\n`);
    return e instanceof QuoteParseError ? EXIT_USAGE : EXIT_FAIL;
  }
  const accepted = r.accepted;
  if (!r.genuine) {
    io.stderr(`NOT GENUINE: verified against a non-Intel root CA (--root-ca ${rootCaPath ?? "?"}); this result says nothing about real Intel hardware\n`);
  }
  const eventlog = await eventLogJson(dstack);
  const rtmrsOk = eventlog === null || eventlog.rtmrsMatch === true;
  if (ctx.json) printJson(io, { ...verifyResultJson(r, accepted && rtmrsOk), ...(dstack.attestation ? { attestation: dstack.attestation } : {}), ...(eventlog ? { eventlog } : {}) });
  else io.stdout(renderHuman(r, accepted, accept) + (eventlog ? `\nevent log (${String(eventlog.source)}): RTMR0–3 ${rtmrsOk ? "match the quote" : "DO NOT match the quote"}\n` : ""));
  if (!accepted) io.stderr(`kms-registry: verify-quote: TCB status ${r.status} is not accepted (accepted: ${accept.join(", ")})\n`);
  if (!rtmrsOk) io.stderr("kms-registry: verify-quote: the event log does not replay to the quote's RTMRs\n");
  return accepted && rtmrsOk ? EXIT_OK : EXIT_FAIL;
}
