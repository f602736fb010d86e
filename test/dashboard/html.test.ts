/**
 * The dashboard's one escaping helper and the pages built with it: chain-controlled text (a revoke reason,
 * an anomaly's detail) is shown as text, never as markup; control, escape and bidi characters are removed
 * and marked; links only go to http(s) or this origin.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { sanitizeForTerminal } from "../../src/core/sanitize.js";
import { escapeHtml, hasHiddenCharacters, html, join, safeHref, SafeHtml } from "../../src/dashboard/html.js";
import type { DashboardSnapshot, KmsView } from "../../src/dashboard/model.js";
import { quoteDetails } from "../../src/dashboard/quote-details.js";
import { renderKms, renderOverview, span, timeLeft } from "../../src/dashboard/render.js";
import { REAL_TDX_QUOTE } from "../registry/chain-helpers.js";

const HOSTILE = "<img src=x onerror=alert(1)>\"'&amp; \u001b[2J\u001b]0;title\u0007 \u202Eevil\u202C \u0000";

/** The text a browser shows for escaped HTML text (the five entities back to characters). */
const unescape = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");

describe("escapeHtml", () => {
  it("turns markup into text and removes controls, escape sequences and bidi controls", () => {
    expect(escapeHtml("<img src=x onerror=alert(1)>")).toBe("&lt;img src=x onerror=alert(1)&gt;");
    expect(escapeHtml(`a"b'c&d`)).toBe("a&quot;b&#39;c&amp;d");
    expect(escapeHtml("\u001b[31mred\u001b[0m \u202Egnp.exe\u202C")).toBe("red gnp.exe");
    expect(hasHiddenCharacters("\u202Ex")).toBe(true);
    expect(hasHiddenCharacters("plain <b>")).toBe(false);
  });

  it("for any string: no markup character survives, and the text shown is the sanitized text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const e = escapeHtml(s);
        expect(e).not.toMatch(/[<>"']/);
        expect(e.replace(/&(amp|lt|gt|quot|#39);/g, "")).not.toContain("&");
        expect(unescape(e)).toBe(sanitizeForTerminal(s));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("html template", () => {
  it("escapes every interpolated value, keeps SafeHtml, flattens arrays, drops null/undefined/false", () => {
    const inner = html`<b>${"<i>"}</b>`;
    expect(html`<p title="${'"x"'}">${inner}${["<a>", 1]}${null}${undefined}${false}</p>`.value).toBe('<p title="&quot;x&quot;"><b>&lt;i&gt;</b>&lt;a&gt;1</p>');
    expect(join(["<x>", html`<br>`], new SafeHtml(", ")).value).toBe("&lt;x&gt;, <br>");
  });

  it("safeHref lets through http(s) and same-origin paths only", () => {
    expect(safeHref("https://etherscan.io/tx/0xab")).toBe("https://etherscan.io/tx/0xab");
    expect(safeHref("/kms/0x12")).toBe("/kms/0x12");
    for (const bad of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>", "//evil.example/x", "vbscript:x", "not a url"]) expect(safeHref(bad)).toBe("#");
  });

  it("spans and times left", () => {
    expect(span(42)).toBe("42 s");
    expect(span(3 * 3600 + 120)).toBe("3 h 2 min");
    expect(span(86_400 * 3)).toBe("3 days");
    expect(timeLeft(1000 + 86_400 * 5, 1000)).toBe("5 days left");
    expect(timeLeft(1000, 1000 + 7200)).toBe("expired 2 h 0 min ago");
  });
});

/** A snapshot whose every chain-controlled string is hostile; the quote is the real Intel-signed one. */
function hostileSnapshot(): { snap: DashboardSnapshot; k: KmsView } {
  const addr = "0x1111111111111111111111111111111111111111" as const;
  const tx = `0x${"ab".repeat(32)}` as const;
  const details = quoteDetails(REAL_TDX_QUOTE, 1752919234);
  const k: KmsView = {
    address: addr,
    state: "revoked",
    path: "registrar",
    platform: "tdx",
    root: details.root,
    tcbStatus: null,
    tcbSource: null,
    collateralExpiry: null,
    fmspc: details.fmspc,
    lastLiveness: null,
    livenessProofs: 0,
    attestationCount: 1,
    registeredAt: 10,
    revocation: { block: 12, by: addr, reason: HOSTILE, tx },
    binding: { ok: false, detail: HOSTILE },
    caPubkey: "0x00",
    k256Pubkey: "0x00",
    record: null,
    attestations: [{ n: 1, block: 10, tx, time: 1752919234, quoteHash: tx, registrar: addr, path: "registrar", platform: "tdx", onChain: null, quote: details, checks: [{ attestation: 1, name: "binding", ok: false, detail: HOSTILE }], reverify: null }],
    timeline: [
      { id: `${tx}:att:1`, kind: "registered", kms: addr, block: 10, tx, time: 1752919234, summary: "registered" },
      { id: `${tx}:revoked`, kind: "revoked", kms: addr, block: 12, tx, time: 1752919300, summary: "revoked", text: HOSTILE },
    ],
    anomalies: [{ kms: addr, kind: "binding-mismatch", detail: HOSTILE }],
  };
  const snap: DashboardSnapshot = {
    registry: {
      chainId: 31337,
      chainName: "localhost",
      address: addr,
      deploymentBlock: 1,
      deploymentSource: "--from-block",
      head: 12,
      headTime: 1752919300,
      acceptedStatuses: null,
      verifier: null,
      allowlistEnabled: false,
      reverify: null,
    },
    kms: [k],
    registryAnomalies: [{ kms: null, kind: "undecodable-event", detail: HOSTILE }],
    anomalyCount: 2,
    events: 2,
    recent: [...k.timeline].reverse(),
    builtAt: 1752919300,
    error: HOSTILE,
  };
  return { snap, k };
}

describe("pages", () => {
  const { snap, k } = hostileSnapshot();
  const pages = { overview: renderOverview(snap, { explorer: "https://explorer.example/tx/{tx}" }), kms: renderKms(snap, k, { explorer: "javascript:alert(1)//{tx}" }) };

  for (const [name, page] of Object.entries(pages)) {
    it(`${name}: hostile chain text appears only escaped; the only script is /assets/live.js`, () => {
      expect(page).not.toContain("<img");
      expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
      expect(page.match(/<script/g)).toEqual(["<script"]);
      expect(page).toContain('<script src="/assets/live.js" defer></script>');
      expect([...page].filter((c) => "\u0000\u001b\u0007\u202e\u202c".includes(c))).toEqual([]);
      expect(page).toContain("control characters removed");
      expect(page).not.toMatch(/<[a-z][^>]*\son[a-z]+\s*=/i); // no tag with an event-handler attribute
      expect(page).not.toContain("javascript:");
    });
  }

  it("the KMS page shows the real quote's measurements and FMSPC, and its collateral-free checks", () => {
    expect(pages.kms).toContain(k.attestations[0]!.quote!.measurements!.mrTd);
    expect(pages.kms).toContain(k.attestations[0]!.quote!.measurements!.rtMr3);
    expect(pages.kms).toContain(`<code>${k.fmspc}</code>`);
    expect(k.root).toBe("intel");
    expect(pages.kms).toContain("genuine (Intel root)");
    expect(pages.kms).toContain("quote.signature");
  });

  it("the overview links transactions through the explorer template", () => {
    expect(pages.overview).toContain(`href="https://explorer.example/tx/0x${"ab".repeat(32)}"`);
    expect(pages.overview).toContain('rel="noreferrer noopener"');
  });
});
