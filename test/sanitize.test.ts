/**
 * The output-hygiene primitives: control characters and escape sequences stripped (every class), one-line
 * folding, JSON control escaping, URL secret redaction (as given, normalised, decoded, base64, JSON-escaped),
 * and in-place redaction of an error's cause chain; and their use by the CLI framework's printers.
 */
import { describe, expect, it } from "vitest";

import { safeIO, type CliIO } from "../src/cli/io.js";
import { errorJson, errorLine, printJson, table } from "../src/cli/output.js";
import { escapeJsonControls, oneLine, redactErrorText, redactUrl, sanitizeForTerminal, secretRedactor, urlsInArgs } from "../src/core/sanitize.js";
import { NetworkError } from "../src/core/errors.js";

const chr = (n: number) => String.fromCharCode(n);
/** Raw control characters a terminal acts on: C0 except TAB and LF, DEL, C1. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // eslint-disable-line no-control-regex

describe("sanitizeForTerminal", () => {
  it("removes every C0 control except TAB and LF, DEL, and every C1 control", () => {
    for (let c = 0; c <= 0x9f; c++) {
      if (c >= 0x20 && c < 0x7f) continue;
      const out = sanitizeForTerminal(`a${chr(c)}b`);
      if (c === 0x09 || c === 0x0a) expect(out, `U+${c.toString(16)}`).toBe(`a${chr(c)}b`);
      else expect(RAW_CONTROL.test(out), `U+${c.toString(16)} left in ${JSON.stringify(out)}`).toBe(false);
    }
    // a lone control (not the start of a sequence) goes and nothing else does
    expect(sanitizeForTerminal("a\x00b\x07c\x08d\re\x7ff\x85g\u009ch")).toBe("abcdefgh");
  });

  it("removes whole CSI sequences (colours, cursor moves, erase, private modes), not just the ESC", () => {
    expect(sanitizeForTerminal("\x1b[2K\r\x1b[32mVERIFIED\x1b[0m")).toBe("VERIFIED");
    expect(sanitizeForTerminal("a\x1b[1;31;48;5;196mb\x1b[?25lc\x1b[10;20Hd\x1b[3Je\x1b[ qf")).toBe("abcdef");
    expect(sanitizeForTerminal("x\u009b2Jy\u009b31mz")).toBe("xyz"); // 8-bit CSI
  });

  it("removes whole OSC / DCS / SOS / PM / APC strings, terminated by BEL or ST, or unterminated", () => {
    expect(sanitizeForTerminal("a\x1b]0;fake title\x07b")).toBe("ab");
    expect(sanitizeForTerminal("a\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\b")).toBe("alinkb");
    expect(sanitizeForTerminal("a\x1bP1$r0m\x1b\\b\x1bXsos\x1b\\c\x1b^pm\x1b\\d\x1b_apc\x1b\\e")).toBe("abcde");
    expect(sanitizeForTerminal("a\u009d0;owned\u0007b\u0090dcs\u009cc\u009fapc\u009cd")).toBe("abcd"); // 8-bit forms
    expect(sanitizeForTerminal("ok\x1b]0;never ends")).toBe("ok");
  });

  it("removes other escape sequences (RIS, save/restore cursor, charset selection) and a lone ESC", () => {
    expect(sanitizeForTerminal("a\x1bcb\x1b7c\x1b8d\x1b(0e\x1b#8f\x1b")).toBe("abcdef");
  });

  it("removes the Unicode bidi embedding, override and isolate controls (text that reads reversed on screen)", () => {
    for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(sanitizeForTerminal(`ok${chr(c)}DEIFIREV`), `U+${c.toString(16)}`).toBe("okDEIFIREV");
      expect(oneLine(`a${chr(c)}\nb`)).toBe("a b");
    }
    // the marks that only hint a direction (LRM, RLM) stay: they cannot reorder other text
    expect(sanitizeForTerminal("a\u200eb\u200fc")).toBe("a\u200eb\u200fc");
  });

  it("keeps ordinary text, Unicode, tabs and newlines unchanged", () => {
    const text = "✓ quote.verified\tUpToDate — 0x5FbD…\nzweite Zeile ü 😀 [1m] ]0; \\ ~";
    expect(sanitizeForTerminal(text)).toBe(text);
  });
});

describe("oneLine", () => {
  it("folds every line break (LF, CR, CRLF, U+2028/2029) and tab, with the spaces around it, to one space", () => {
    expect(oneLine("failed: bad key\nVERIFIED: all checks passed")).toBe("failed: bad key VERIFIED: all checks passed");
    expect(oneLine("a \r\n\r\n  b\rc\u2028d\u2029e\tf")).toBe("a b c d e f");
    expect(oneLine("x\x1b[2K\r\x1b[32mVERIFIED\x1b[0m\n")).toBe("x VERIFIED ");
  });
});

describe("escapeJsonControls", () => {
  it("escapes DEL and C1 in a JSON text; the document parses back to the same value", () => {
    const value = { m: `a\x7fb\u0085c\u009bd\x1be`, n: 1 };
    const text = escapeJsonControls(JSON.stringify(value));
    expect(RAW_CONTROL.test(text)).toBe(false);
    expect(text).toContain("\\u007f");
    expect(text).toContain("\\u009b");
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe("redactUrl and secretRedactor", () => {
  const url = "http://rpcUser1:s3cret%21pw@127.0.0.1:8545/v3/APIKEY123?apikey=QUERYSECRET&x=1#frag";

  it("redactUrl keeps scheme, host and port only", () => {
    expect(redactUrl(url)).toBe("http://127.0.0.1:8545/***");
    expect(redactUrl("https://host.example")).toBe("https://host.example");
    expect(redactUrl("not a url")).toBe("<url>");
  });

  it("replaces the URL in every form viem or a server may print it, and each secret part on its own", () => {
    const redact = secretRedactor([url]);
    const basic = Buffer.from("rpcUser1:s3cret!pw").toString("base64");
    const text = [
      `as given: ${url}`,
      `viem: URL: http://127.0.0.1:8545/v3/APIKEY123?apikey=QUERYSECRET&x=1#frag`,
      `no fragment: http://127.0.0.1:8545/v3/APIKEY123?apikey=QUERYSECRET&x=1`,
      `echo: invalid project id APIKEY123 for /v3/APIKEY123 (apikey=QUERYSECRET)`,
      `auth: Basic ${basic}, user rpcUser1, password s3cret!pw / s3cret%21pw`,
      `json: ${JSON.stringify({ url })}`,
    ].join("\n");
    const out = redact(text);
    for (const s of ["rpcUser1", "s3cret", "APIKEY123", "QUERYSECRET", basic, "frag"]) expect(out, s).not.toContain(s);
    expect(out).toContain("as given: http://127.0.0.1:8545/***");
    expect(out).toContain("viem: URL: http://127.0.0.1:8545/***");
    expect(out).toContain("echo: invalid project id *** for *** (***)");
    // short parts (the "v3" segment, the "x=1" pair) only go together with the URL: ordinary text survives
    expect(redact("v3 x=1 user password")).toBe("v3 x=1 user password");
  });

  it("a secret with a quote or backslash is redacted inside a JSON document without breaking it", () => {
    const u = 'http://u:p%22w%5Cd@h.example/k"ey\\1?t=a"b';
    const doc = JSON.stringify({ error: `x ${decodeURIComponent("p%22w%5Cd")} y`, url: u }, null, 2);
    const out = secretRedactor([u])(doc);
    expect(() => JSON.parse(out) as unknown).not.toThrow();
    expect(out).not.toContain("p\\\"w\\\\d");
  });

  it("URLs without credentials, path or query, and non-URL values, change nothing", () => {
    const redact = secretRedactor(["http://127.0.0.1:8545", "/etc/passwd", "0x5FbDB2315678afecb367f032d93F642f64180aa3"]);
    expect(redact("http://127.0.0.1:8545 /etc/passwd 0x5FbDB2315678afecb367f032d93F642f64180aa3")).toBe("http://127.0.0.1:8545 /etc/passwd 0x5FbDB2315678afecb367f032d93F642f64180aa3");
  });

  it("urlsInArgs finds secret-bearing URLs as separate values and as --opt=value", () => {
    expect(urlsInArgs(["audit", "--rpc", "https://h/v3/K", "--pccs=https://u:p@pccs.example", "--kms", "http://127.0.0.1:8000", "--registry", "0xabc"])).toEqual([
      "https://h/v3/K",
      "https://u:p@pccs.example",
    ]);
  });

  it("redactErrorText rewrites message, shortMessage, details, url, meta lines and stack through the cause chain", () => {
    const inner = Object.assign(new Error(`fetch ${url} failed`), { url, details: `key APIKEY123`, metaMessages: [`URL: ${url}`] });
    const outer = Object.assign(new Error(`HTTP request failed.\nURL: ${url}`, { cause: inner }), { shortMessage: "HTTP request failed." });
    expect(redactErrorText(outer, secretRedactor([url]))).toBe(outer);
    const all = JSON.stringify([outer.message, outer.stack, outer.shortMessage, inner.message, inner.stack, inner.url, inner.details, inner.metaMessages]);
    for (const s of ["rpcUser1", "APIKEY123", "QUERYSECRET"]) expect(all).not.toContain(s);
    expect(outer.shortMessage).toBe("HTTP request failed.");
    expect(inner.url).toBe("http://127.0.0.1:8545/***");
  });
});

describe("the CLI framework's printers", () => {
  function capture(): { io: CliIO; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: "/", readStdin: () => Promise.resolve(new Uint8Array()) } };
  }

  it("errorLine is one line without controls; errorJson keeps the lines but not the controls", () => {
    const e = new NetworkError("KMS_RPC_ERROR", "KMS h: failed: quota\x1b[2K\r\x1b[32m\nVERIFIED\x1b[0m");
    expect(errorLine(e)).toBe("KMS h: failed: quota VERIFIED");
    expect(errorLine(new Error("first\x9b2J line\nsecond"))).toBe("Error: first line");
    expect(errorJson(e)).toEqual({ code: "KMS_RPC_ERROR", message: "KMS h: failed: quota\nVERIFIED" });
  });

  it("table cells are put on one line without controls, so a cell cannot forge a row", () => {
    const t = table([["✗", "quote.verified", "bad\n✓  quote.verified  ok\x1b[32m"]], ["", "check", "detail"]);
    expect(t.split("\n").filter(Boolean)).toHaveLength(3);
    expect(RAW_CONTROL.test(t)).toBe(false);
  });

  it("safeIO redacts the command line's URLs and strips controls on both streams; printJson stays one parseable document", () => {
    const c = capture();
    const rpc = "https://user9:pass9@rpc.example/v2/KEY0123456789";
    const io = safeIO(c.io, ["audit", "--rpc", rpc]);
    io.stderr(`error from ${rpc}: \x1b]0;t\x07boom \u009b2J\n`);
    printJson(io, { ok: false, error: { message: `URL: ${rpc.replace("user9:pass9@", "")} \x1b[2K\x7f\u0085`, key: "KEY0123456789" } });
    expect(c.err.join("")).toBe("error from https://rpc.example/***: boom \n");
    const doc = c.out.join("");
    expect(RAW_CONTROL.test(doc)).toBe(false);
    for (const s of ["user9", "pass9", "KEY0123456789"]) expect(doc).not.toContain(s);
    expect(JSON.parse(doc)).toEqual({ ok: false, error: { message: "URL: https://rpc.example/*** \x1b[2K\x7f\u0085", key: "***" } });
  });
});
