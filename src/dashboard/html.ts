/**
 * HTML built from chain-controlled text. Everything the page shows that a registry event, a quote or an RPC
 * answer decided (a revoke reason, an anomaly's detail, an error message) goes through `escapeHtml`, the one
 * escaping helper of the dashboard: terminal escape sequences, control characters and bidirectional
 * controls are removed first (`sanitizeForTerminal`, so the text cannot reorder what a person reads), then
 * the five HTML metacharacters become entities. `html` is a tagged template that escapes every value it is
 * given unless the value is already `SafeHtml` (built by `html` itself), so a page is composed without a
 * place where a raw string could slip in.
 */
import { sanitizeForTerminal } from "../core/sanitize.js";

/** A fragment of HTML that is safe to insert as is (built by `html`, `join` or `trusted`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * `text` as HTML text or attribute content: controls, escape sequences and bidi controls removed, then
 * `& < > " '` escaped. Safe in element content and in quoted attribute values.
 */
export function escapeHtml(text: string): string {
  return sanitizeForTerminal(String(text)).replace(/[&<>"']/g, (c) => ENTITY[c]!);
}

/** Whether `text` loses characters when shown (controls, escape sequences, bidi controls). */
export function hasHiddenCharacters(text: string): boolean {
  return sanitizeForTerminal(text) !== text;
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/** Tagged template: the literal parts are HTML, every interpolated value is escaped unless it is `SafeHtml`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Fragments joined with `sep` (itself HTML text from the program, never data). */
export function join(parts: readonly HtmlValue[], sep: SafeHtml = new SafeHtml("")): SafeHtml {
  return new SafeHtml(parts.map(render).join(sep.value));
}

/**
 * A URL for an `href`: only `http:`/`https:` URLs and same-origin paths starting with `/` pass (anything
 * else, `javascript:` included, becomes `#`); the result still goes through `escapeHtml` inside `html`.
 */
export function safeHref(url: string): string {
  if (/^\/(?!\/)/.test(url)) return url;
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : "#";
  } catch {
    return "#";
  }
}
