/**
 * Output hygiene for text shown to people (the CLI's output, error messages):
 * - `sanitizeForTerminal` removes control characters and terminal escape sequences from text a server or a
 *   file controls (KMS and PCCS error bodies, RPC messages, certificate subjects, event-log contents, revert
 *   and revoke reasons), so such text cannot move the cursor, recolour, retitle or overwrite lines.
 * - `oneLine` additionally folds line breaks, for contexts that must stay one line (error lines, table
 *   cells, progress lines), so server text cannot forge a separate output line.
 * - `secretRedactor` replaces the credentials, path and query of the URLs a command was given (RPC API keys,
 *   basic-auth users and passwords) wherever they appear in a string.
 */

/* eslint-disable no-control-regex -- these patterns exist to match control characters */
/**
 * ESC-introduced sequences: CSI (`ESC [` parameters, intermediates, final byte); OSC, DCS, SOS, PM and APC
 * (`ESC ] P X ^ _` up to BEL or ST, or to the end of the text when unterminated); and the other escape
 * sequences (`ESC`, intermediate bytes, one final byte). A lone ESC matches too.
 */
const ESC_SEQUENCE = /\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|[\x20-\x2f]*[\x30-\x7e])?/g;
/** The same sequences introduced by their 8-bit C1 forms: CSI U+009B; DCS, SOS, OSC, PM, APC U+0090/98/9D/9E/9F. */
const C1_SEQUENCE = /\x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g;
/**
 * Every remaining C0 control except TAB and LF, DEL, every C1 control, and the Unicode bidirectional
 * embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069), which reorder what a terminal shows.
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/** `text` without terminal escape sequences, control characters and bidi controls; tabs and newlines are kept. */
export function sanitizeForTerminal(text: string): string {
  return text.replace(ESC_SEQUENCE, "").replace(C1_SEQUENCE, "").replace(CONTROL, "");
}

/**
 * `sanitizeForTerminal(text)` on one line: escape sequences go first, then every run of line breaks (LF, CR,
 * VT, FF, NEL, U+2028/2029) and tabs, with the white space around it, becomes one space.
 */
export function oneLine(text: string): string {
  const bare = text.replace(ESC_SEQUENCE, "").replace(C1_SEQUENCE, "");
  return bare.replace(/\s*[\r\n\t\v\f\x85\u2028\u2029]\s*/g, " ").replace(CONTROL, "");
}

/** A JSON text with DEL and the C1 controls escaped as `\u00XX` (JSON.stringify leaves them raw). */
export function escapeJsonControls(json: string): string {
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/** The shortest fragment redacted on its own (shorter path segments and values, e.g. `v3`, only go with their URL). */
const MIN_FRAGMENT = 4;

/**
 * A URL with its credentials, path, query and fragment hidden: `https://host:port`, plus `/***` when the URL
 * had a path, query or fragment. Not a URL: `<url>`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.pathname.replace(/\/+$/, "") !== "" || u.search !== "" || u.hash !== "";
    return `${u.protocol}//${u.host}${hidden ? "/***" : ""}`;
  } catch {
    return "<url>";
  }
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether `value` is an absolute URL that carries anything secret (user, password, path, query, fragment). */
function secretBearing(value: string): URL | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  return u.username || u.password || u.pathname.replace(/\/+$/, "") || u.search || u.hash ? u : undefined;
}

/**
 * A function replacing, in any text, every URL in `urls` (as given, normalised, and without its credentials)
 * by its `redactUrl` form, and then each of its secret parts on its own by `***`: the user, the password,
 * `user:password` and its base64 form (a Basic `Authorization` header), the path and each of its segments,
 * the query, each query value, and the fragment, as written and percent-decoded, also in JSON-escaped form.
 * Values that are not URLs, or URLs without such parts, are ignored.
 */
export function secretRedactor(urls: Iterable<string>): (text: string) => string {
  const pairs = new Map<string, string>();
  const add = (needle: string, replacement: string, minLength = 1) => {
    for (const n of new Set([needle, decoded(needle)])) {
      if (n.length < minLength || pairs.has(n)) continue;
      // A needle with a quote or backslash only appears JSON-escaped inside a JSON document.
      if (!/["\\]/.test(n)) pairs.set(n, replacement);
      const j = JSON.stringify(n).slice(1, -1);
      if (j !== n) pairs.set(j, replacement);
    }
  };
  for (const value of urls) {
    const u = secretBearing(value);
    if (!u) continue;
    const shown = redactUrl(value);
    const bare = new URL(u.href);
    bare.username = "";
    bare.password = "";
    for (const form of [value, u.href, bare.href, `${bare.origin}${bare.pathname}${bare.search}`]) {
      add(form, shown);
      add(form.replace(/\/+$/, ""), shown);
    }
    const star = "***";
    if (u.username || u.password) {
      add(`${u.username}:${u.password}`, star, MIN_FRAGMENT);
      add(Buffer.from(`${decoded(u.username)}:${decoded(u.password)}`).toString("base64"), star, MIN_FRAGMENT);
    }
    add(u.username, star, MIN_FRAGMENT);
    add(u.password, star, MIN_FRAGMENT);
    const path = u.pathname.replace(/\/+$/, "");
    if (path) {
      add(`${path}${u.search}`, star, MIN_FRAGMENT);
      add(path, star, MIN_FRAGMENT);
      for (const seg of path.split("/")) add(seg, star, MIN_FRAGMENT);
    }
    if (u.search) {
      add(u.search, star, MIN_FRAGMENT);
      add(u.search.slice(1), star, MIN_FRAGMENT);
      for (const pair of u.search.slice(1).split("&")) {
        add(pair, star, MIN_FRAGMENT);
        const eq = pair.indexOf("=");
        if (eq >= 0) add(pair.slice(eq + 1), star, MIN_FRAGMENT);
      }
    }
    if (u.hash) {
      add(u.hash, star, MIN_FRAGMENT);
      add(u.hash.slice(1), star, MIN_FRAGMENT);
    }
  }
  // Longest first, so a whole URL is replaced before any of its parts.
  const ordered = [...pairs].sort((a, b) => b[0].length - a[0].length);
  if (!ordered.length) return (text) => text;
  return (text) => {
    let out = text;
    for (const [needle, replacement] of ordered) if (out.includes(needle)) out = out.split(needle).join(replacement);
    return out;
  };
}

/**
 * The secret-bearing URLs among command-line arguments: every argument (or `--option=value` value) that is
 * an absolute URL with a user, password, path, query or fragment (`--rpc`, `--pccs`, `--kms`, …).
 */
export function urlsInArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const v = eq >= 0 ? a.slice(eq + 1) : a;
    if (secretBearing(v)) out.push(v);
  }
  return out;
}

/**
 * Run `redact` over the text of `e` and of its causes (message, shortMessage, details, meta lines, url,
 * stack), in place, so an error wrapped later (viem builds its messages from its causes' details) carries
 * only redacted text. Returns `e`.
 */
export function redactErrorText<E>(e: E, redact: (text: string) => string): E {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && typeof cur === "object" && cur !== null; depth++) {
    const o = cur as Record<string, unknown>;
    for (const key of ["message", "shortMessage", "details", "url", "stack"]) {
      const v = o[key];
      if (typeof v !== "string") continue;
      try {
        o[key] = redact(v);
      } catch {
        // a read-only property stays as it is
      }
    }
    if (Array.isArray(o.metaMessages)) {
      try {
        o.metaMessages = o.metaMessages.map((m: unknown) => (typeof m === "string" ? redact(m) : m));
      } catch {
        // as above
      }
    }
    cur = o.cause;
  }
  return e;
}
