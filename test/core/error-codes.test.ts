/**
 * The error-code catalogue (`ERROR_CODES`) against the sources and against real throw paths: every entry
 * is described and UPPER_SNAKE_CASE, every code written at a throw site in `src/` is catalogued, no entry
 * is unused (each appears in `src/` as a literal, or is built from a literal prefix and the suffixes of the
 * computed codes), and real failures carry catalogued codes on the right classes.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import * as pkg from "../../src/index.js";
import { ERROR_CODES, type ErrorCode } from "../../src/core/error-codes.js";
import { InputError, KmsRegistryError, UsageError, VerificationError } from "../../src/core/errors.js";
import { errorJson, errorLine } from "../../src/cli/output.js";
import { parseQuote, QuoteParseError } from "../../src/dcap/quote.js";
import { QuoteVerificationError, verifyQuote } from "../../src/dcap/verify.js";
import { AttestationDecodeError, decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { EventLogError, parseEventLog } from "../../src/dstack/eventlog.js";
import { TDX_NOW, TDX_WINDOW, tdxCollateral, tdxQuote } from "../attestation/real-fixtures.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const CATALOGUE_FILE = path.join(SRC, "core", "error-codes.ts");
const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const codes = new Set<string>(Object.keys(ERROR_CODES));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") && p !== CATALOGUE_FILE ? [p] : [];
  });
}

const sources = sourceFiles(SRC).map((file) => ({ file: path.relative(SRC, file), text: readFileSync(file, "utf8") }));

/** The end of the string or template literal that starts at `i` (its closing quote's index + 1). */
function skipLiteral(text: string, i: number): number {
  const q = text[i]!;
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j]!;
    if (c === "\\") j++;
    else if (c === q) return j + 1;
    else if (q === "`" && c === "$" && text[j + 1] === "{") {
      let depth = 1;
      for (j += 2; j < text.length && depth > 0; j++) {
        const d = text[j]!;
        if (d === '"' || d === "'" || d === "`") j = skipLiteral(text, j) - 1;
        else if (d === "{") depth++;
        else if (d === "}") depth--;
      }
      j--;
    }
  }
  return text.length;
}

/** The arguments (source text) of the call whose `(` is at `open`. */
function callArguments(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      i = skipLiteral(text, i) - 1;
    } else if (c === "(" || c === "[" || c === "{") {
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0) {
        args.push(text.slice(start, i).trim());
        return args;
      }
    } else if (c === "," && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args;
}

/** Code-like literals of an expression (a literal, a ternary of literals), not the ones it compares against. */
function codeLiterals(expr: string): string[] {
  return [...expr.matchAll(/(===|!==)?\s*"([A-Z][A-Z0-9_]*)"/g)].filter((m) => !m[1] && CODE.test(m[2]!)).map((m) => m[2]!);
}

/** The suffix of a computed code `${prefix}_SUFFIX`, if the expression is one. */
function computedSuffix(expr: string): string | undefined {
  return /^`\$\{[^}`]+\}(_[A-Z0-9_]+)`$/.exec(expr)?.[1];
}

interface ThrowSite {
  file: string;
  line: number;
  expr: string;
}

/**
 * The code expressions at the throw sites of `src/`: the first argument of an error constructor (`new
 * …Error(`, `super(`) and of the local `fail(` / `reject(` helpers, the code argument of a verification
 * step (`.run(name, code, …)`), `code: "…"` in a `{code, message}` / `{code, detail}` record, and
 * `const code = "…"`.
 */
function throwSites(): ThrowSite[] {
  const out: ThrowSite[] = [];
  const lineOf = (text: string, i: number) => text.slice(0, i).split("\n").length;
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/\bnew\s+[A-Za-z]*Error\s*\(|\bsuper\s*\(|\b(?:fail|reject)\s*\(|\.run\s*\(/g)) {
      const open = m.index + m[0].length - 1;
      const args = callArguments(text, open);
      const expr = m[0].startsWith(".run") ? args[1] : args[0];
      if (expr) out.push({ file, line: lineOf(text, m.index), expr });
    }
    for (const m of text.matchAll(/\bcode:\s*("[A-Z][A-Z0-9_]*")\s*,\s*(?:message|detail)\s*:/g)) out.push({ file, line: lineOf(text, m.index), expr: m[1]! });
    for (const m of text.matchAll(/\bconst\s+code\s*=\s*("[A-Z][A-Z0-9_]*")\s*;/g)) out.push({ file, line: lineOf(text, m.index), expr: m[1]! });
  }
  return out;
}

describe("the error-code catalogue", () => {
  it("describes every code in one non-empty line, and names it in UPPER_SNAKE_CASE", () => {
    expect(codes.size).toBeGreaterThan(150);
    for (const [code, description] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(CODE);
      expect(typeof description, code).toBe("string");
      expect(description.trim().length, code).toBeGreaterThan(0);
      expect(description, code).not.toMatch(/\n|TODO/);
    }
  });

  it("lists every code written at a throw site in src/", () => {
    const sites = throwSites();
    const literals = sites.flatMap((s) => codeLiterals(s.expr).map((code) => ({ ...s, code })));
    // the scan sees the plain, the multi-line and the ternary sites (a sanity check of the scanner itself)
    const seen = new Set(literals.map((l) => l.code));
    for (const c of ["QUOTE_TRUNCATED", "USAGE", "DEMO_STAGE_FAILED", "PORT_IN_USE", "LISTEN_FAILED", "FILE_NOT_FOUND", "TD_DEBUG", "QUOTE_HEADER_INVALID", "TCB_SIGNER_NOT_TCB_SIGNING"]) {
      expect(seen.has(c), c).toBe(true);
    }
    expect(seen.size).toBeGreaterThan(120);
    const uncatalogued = literals.filter((l) => !codes.has(l.code)).map((l) => `${l.file}:${l.line} ${l.code}`);
    expect(uncatalogued).toEqual([]);
    // a computed code `${prefix}_SUFFIX`: some catalogued code ends with that suffix
    const suffixes = sites.map((s) => ({ ...s, suffix: computedSuffix(s.expr) })).filter((s) => s.suffix !== undefined);
    expect(suffixes.length).toBeGreaterThan(20);
    const unknownSuffixes = suffixes.filter((s) => ![...codes].some((c) => c.endsWith(s.suffix!))).map((s) => `${s.file}:${s.line} ${s.expr}`);
    expect(unknownSuffixes).toEqual([]);
  });

  it("has no unused entry: each is a literal in src/ or a literal prefix with the suffixes of computed codes", () => {
    const literals = new Set<string>();
    const suffixes = new Set<string>();
    for (const { text } of sources) {
      for (const m of text.matchAll(/"([A-Z][A-Z0-9_]*)"/g)) if (CODE.test(m[1]!)) literals.add(m[1]!);
      for (const m of text.matchAll(/`\$\{[^}`]+\}(_[A-Z0-9_]+)`/g)) suffixes.add(m[1]!);
    }
    // one or two suffixes: `${document}_CHAIN` is itself the prefix of the path codes (TCB_INFO_CHAIN_CERT_EXPIRED)
    const once = new Set([...literals].flatMap((p) => [...suffixes].map((s) => p + s)));
    const twice = new Set([...once].flatMap((p) => [...suffixes].map((s) => p + s)));
    const unused = [...codes].filter((c) => !literals.has(c) && !once.has(c) && !twice.has(c));
    expect(unused).toEqual([]);
  });

  it("is exported from the package root", () => {
    expect(pkg.ERROR_CODES).toBe(ERROR_CODES);
    const code: ErrorCode = "QUOTE_TRUNCATED";
    expect(pkg.ERROR_CODES[code]).toMatch(/quote/);
  });
});

/** What `fn` throws (it must throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("real throw paths produce catalogued codes on the right classes", () => {
  it("parseQuote on the real TDX quote cut short: QuoteParseError QUOTE_TRUNCATED, an InputError", () => {
    const e = thrown(() => parseQuote(tdxQuote().subarray(0, 100)));
    expect(e).toBeInstanceOf(QuoteParseError);
    expect(e).toBeInstanceOf(InputError);
    const q = e as QuoteParseError;
    expect(q.code).toBe("QUOTE_TRUNCATED");
    expect(codes.has(q.code)).toBe(true);
    expect(q.shortMessage).toBe(q.message);
    expect(q.message).toMatch(/^quote: .* at offset \d+: needs \d+ bytes but only \d+ remain/);
    expect(q.toJSON()).toEqual({ code: "QUOTE_TRUNCATED", message: q.message, details: { field: q.field, offset: q.offset } });
  });

  it("verifyQuote on the real TDX quote and collateral at wrong times: the computed CRL and document codes", () => {
    const cases: [number, ErrorCode][] = [
      [TDX_NOW + 10 * 365 * 86400, "ROOT_CA_CRL_EXPIRED"],
      [TDX_WINDOW.from - 86400, "TCB_INFO_NOT_YET_VALID"],
      [TDX_WINDOW.to + 10, "PCK_CRL_EXPIRED"],
    ];
    for (const [now, code] of cases) {
      const e = thrown(() => verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now }));
      expect(e, code).toBeInstanceOf(QuoteVerificationError);
      expect(e, code).toBeInstanceOf(VerificationError);
      expect((e as QuoteVerificationError).code).toBe(code);
      expect(codes.has(code)).toBe(true);
      expect((e as QuoteVerificationError).checks.at(-1)?.ok).toBe(false);
    }
    // and at the pinned time it verifies, so the failures above are the time's alone
    expect(verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW }).status).toBe("UpToDate");
  });

  it("the dstack decoders: EventLogError EVENTLOG_EMPTY and AttestationDecodeError ATTESTATION_UNKNOWN_FORMAT, InputErrors", () => {
    const log = thrown(() => parseEventLog(""));
    expect(log).toBeInstanceOf(EventLogError);
    expect(log).toBeInstanceOf(InputError);
    expect((log as EventLogError).code).toBe("EVENTLOG_EMPTY");
    const att = thrown(() => decodeDstackAttestation(Uint8Array.of(0x7f, 1, 2)));
    expect(att).toBeInstanceOf(AttestationDecodeError);
    expect(att).toBeInstanceOf(InputError);
    expect((att as AttestationDecodeError).code).toBe("ATTESTATION_UNKNOWN_FORMAT");
    for (const e of [log, att]) expect(codes.has((e as KmsRegistryError).code)).toBe(true);
  });

  it("a foreign error's --json code is catalogued too", () => {
    expect(codes.has(errorJson(new TypeError("boom")).code)).toBe(true);
    expect(codes.has(errorJson(new UsageError("bad")).code)).toBe(true);
  });
});

describe("KmsRegistryError's fields", () => {
  it("keeps the message as given as shortMessage; metaMessages follow it on their own lines", () => {
    const plain = new VerificationError("TD_DEBUG", "the TD is in DEBUG mode", { details: { bit: 0 } });
    expect(plain.shortMessage).toBe("the TD is in DEBUG mode");
    expect(plain.message).toBe("the TD is in DEBUG mode");
    expect(plain.metaMessages).toBeUndefined();
    expect(plain.name).toBe("VerificationError");
    expect(plain.toJSON()).toEqual({ code: "TD_DEBUG", message: "the TD is in DEBUG mode", details: { bit: 0 } });

    const meta = new InputError("BAD_HEX", "quote: not hex", { metaMessages: ["pass the quote itself, binary or hex"] });
    expect(meta.message).toBe("quote: not hex\npass the quote itself, binary or hex");
    expect(meta.shortMessage).toBe("quote: not hex");
    expect(meta.metaMessages).toEqual(["pass the quote itself, binary or hex"]);
    // the CLI's line is the short message; --json keeps every line
    expect(errorLine(meta)).toBe("quote: not hex");
    expect(errorJson(meta)).toEqual({ code: "BAD_HEX", message: "quote: not hex\npass the quote itself, binary or hex" });
  });

  it("UsageError's code is USAGE", () => {
    const e = new UsageError("missing --rpc");
    expect(e.code).toBe("USAGE");
    expect(e.shortMessage).toBe("missing --rpc");
    expect(ERROR_CODES.USAGE.length).toBeGreaterThan(0);
  });

  it("an uncatalogued code does not compile", () => {
    // @ts-expect-error "NOT_A_CATALOGUED_CODE" is no ErrorCode
    const e = new InputError("NOT_A_CATALOGUED_CODE", "x");
    expect(e.code).toBe("NOT_A_CATALOGUED_CODE");
  });
});
