/**
 * The dashboard's pages, rendered on the server from a snapshot: the overview (the registry's header, one
 * row per KMS, the latest events, the anomalies) and one page per KMS (its record, timeline, attestations
 * with their measurements, key binding and verification trails). Complete without JavaScript; the one script
 * (`/assets/live.js`) only refreshes `<main>` when the server announces new events. Every value goes
 * through `html`, which escapes it (`escapeHtml`), and links go through `safeHref`.
 */
import type { Hex } from "../core/bytes.js";
import type { Anomaly, AuditCheck } from "../registry/audit-state.js";
import { REGISTRY_PLATFORMS } from "../registry/platforms.js";
import { SafeHtml, hasHiddenCharacters, html, join, safeHref, type HtmlValue } from "./html.js";
import type { AttestationView, DashboardSnapshot, KmsView, ReverifyResult, TimelineEntry } from "./model.js";
import type { QuoteDetails } from "./quote-details.js";

export interface RenderOptions {
  /** Explorer URL template with `{tx}` (and optionally `{address}`), e.g. `https://etherscan.io/tx/{tx}`. */
  explorer?: string;
  /** Unix seconds "now" for ages and times left (default: the snapshot's `builtAt`). */
  now?: number;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z").replace("T", " ");

/** "3 min", "2 h 5 min", "4 days" for a span of seconds. */
export function span(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  const d = Math.floor(s / 86_400);
  return `${d} day${d === 1 ? "" : "s"}`;
}

/** "in 4 days" / "expired 2 h 5 min ago". */
export function timeLeft(until: number, now: number): string {
  return until >= now ? `${span(until - now)} left` : `expired ${span(now - until)} ago`;
}

function when(t: number | null, now: number): SafeHtml {
  if (t === null) return html`<span class="muted">time unknown</span>`;
  return html`<time datetime="${new Date(t * 1000).toISOString()}">${iso(t)}</time> <span class="muted">(${span(now - t)} ago)</span>`;
}

function txLink(tx: Hex, opts: RenderOptions): SafeHtml {
  const short = `${tx.slice(0, 10)}…${tx.slice(-6)}`;
  if (!opts.explorer) return html`<code class="tx" title="${tx}">${short}</code>`;
  const href = safeHref(opts.explorer.replaceAll("{tx}", tx));
  return html`<a class="tx" href="${href}" rel="noreferrer noopener" target="_blank" title="${tx}"><code>${short}</code></a>`;
}

const kmsHref = (a: Hex) => `/kms/${a}`;

/** Chain-controlled text, escaped, with a mark when controls or bidi characters were removed. */
export function chainText(text: string): SafeHtml {
  const mark = hasHiddenCharacters(text) ? html` <span class="badge warn" title="the on-chain text holds control, escape or bidi characters; they are not shown">control characters removed</span>` : "";
  return html`<q class="chain-text">${text}</q>${mark}`;
}

function badge(text: string, kind: "ok" | "warn" | "bad" | "info" | "muted"): SafeHtml {
  return html`<span class="badge ${kind}">${text}</span>`;
}

const STATE_KIND = { active: "ok", stale: "warn", revoked: "bad" } as const;

function stateBadge(k: KmsView): SafeHtml {
  return html`<span class="badge ${STATE_KIND[k.state]}" data-state="${k.state}">${k.state}</span>`;
}

const NOT_GENUINE: Partial<Record<KmsView["platform"], { other: string; invalid: string }>> = {
  "sev-snp": { other: "NOT GENUINE (test ARK, not AMD's)", invalid: "INVALID report or AMD chain" },
  "nitro-enclave": { other: "NOT GENUINE (test root, not AWS's)", invalid: "INVALID document or certificate chain" },
};

function rootBadge(root: KmsView["root"], platform: KmsView["platform"] = "tdx"): SafeHtml {
  if (root === "intel") return badge("genuine (Intel root)", "ok");
  if (root === "amd") return badge("genuine (AMD's pinned ARK)", "ok");
  if (root === "vendor") return badge(`genuine (${REGISTRY_PLATFORMS[platform]?.vendorRoot ?? "vendor root"})`, "ok");
  if (root === "other") return badge(NOT_GENUINE[platform]?.other ?? "NOT GENUINE (other root)", "bad");
  if (root === "invalid") return badge(NOT_GENUINE[platform]?.invalid ?? "INVALID quote signature", "bad");
  return badge("unknown", "muted");
}

function platformBadge(platform: KmsView["platform"]): SafeHtml {
  return html`<span class="badge info" data-platform="${platform}">${REGISTRY_PLATFORMS[platform]?.label ?? platform}</span>`;
}

function pathBadge(path: KmsView["path"]): SafeHtml {
  return path === "on-chain" ? badge("on-chain verified", "ok") : badge("registrar", "info");
}

function tcbCell(k: KmsView): SafeHtml {
  if (!k.tcbStatus && k.platform === "sev-snp") {
    const snp = k.attestations.at(-1)?.quote?.snp;
    const levels = snp?.reportedTcbLevels;
    const tcb = snp ? html`reported TCB <code title="${levels ? `bl ${levels.bootloader}, tee ${levels.tee}, snp ${levels.snp}, ucode ${levels.microcode}${levels.fmc !== undefined ? `, fmc ${levels.fmc}` : ""}` : ""}">${snp.reportedTcb}</code>` : "";
    return html`${tcb} <span class="muted small">no TCB status (AMD publishes none)</span>`;
  }
  if (!k.tcbStatus && k.platform === "nitro-enclave") {
    const n = k.attestations.at(-1)?.quote?.nitro;
    return html`${n?.debug ? html`${badge("debug-mode enclave", "bad")} ` : ""}<span class="muted small">no TCB status (AWS publishes none)</span>`;
  }
  if (!k.tcbStatus) return html`<span class="muted">not verified here</span>`;
  const kind = k.tcbStatus === "UpToDate" ? "ok" : k.tcbStatus === "SWHardeningNeeded" ? "info" : k.tcbStatus === "Revoked" ? "bad" : "warn";
  return html`${badge(k.tcbStatus, kind)} <span class="muted small">${k.tcbSource ?? ""}</span>`;
}

function expiryCell(k: KmsView, now: number): SafeHtml {
  if (k.collateralExpiry === null) return html`<span class="muted">—</span>`;
  const left = k.collateralExpiry - now;
  const cls = left < 0 ? "bad" : left < 7 * 86_400 ? "warn" : "ok";
  return html`<time datetime="${new Date(k.collateralExpiry * 1000).toISOString()}">${iso(k.collateralExpiry).slice(0, 10)}</time> ${badge(timeLeft(k.collateralExpiry, now), cls)}`;
}

function livenessCell(k: KmsView, now: number): SafeHtml {
  if (!k.lastLiveness) return html`<span class="muted">never</span>`;
  return html`block ${k.lastLiveness.block} <span class="muted">(${span(now - k.lastLiveness.timestamp)} ago)</span>`;
}

function anomalyCell(list: Anomaly[]): SafeHtml {
  if (!list.length) return badge("none", "ok");
  const kinds = [...new Set(list.map((a) => a.kind))];
  return html`${badge(`${list.length}`, "bad")} <span class="small">${kinds.join(", ")}</span>`;
}

function layout(title: string, snap: DashboardSnapshot, body: SafeHtml, opts: RenderOptions): SafeHtml {
  const r = snap.registry;
  const err = snap.error ? html`<p class="banner bad" role="alert">The last refresh failed: ${snap.error}. Showing the data of block ${r.head}; retrying.</p>` : "";
  void opts;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · KMS registry dashboard</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/live.js" defer></script>
</head>
<body>
<header class="top">
<a class="home" href="/">KMS registry</a>
<span class="where">${r.chainName} (chain ${r.chainId}) · <code>${r.address}</code></span>
<span id="live-status" class="live" aria-live="polite"><noscript>static page: reload for new events</noscript></span>
</header>
<main data-head="${r.head}">
${err}
${body}
<footer class="muted small">Built at block ${r.head}${r.headTime !== null ? html` (${iso(r.headTime)})` : ""} from ${snap.events} registry events · same data as <code>kms-registry audit</code> · JSON: <a href="/api/snapshot">/api/snapshot</a></footer>
</main>
</body>
</html>
`;
}

function registryHeader(snap: DashboardSnapshot): SafeHtml {
  const r = snap.registry;
  const accepted = r.acceptedStatuses ? (r.acceptedStatuses.length ? r.acceptedStatuses.join(", ") : "none") : "not on chain (this registry has no on-chain verification path)";
  const allow = r.allowlistEnabled === null ? "unknown" : r.allowlistEnabled ? "enabled (only allowlisted images can register)" : "disabled (any image can register)";
  return html`<section class="registry" aria-label="registry">
<h1>Registry <code>${r.address}</code></h1>
<dl class="grid">
<dt>Chain</dt><dd>${r.chainName} (id ${r.chainId})</dd>
<dt>Deployment block</dt><dd>${r.deploymentBlock} <span class="muted">(${r.deploymentSource})</span></dd>
<dt>Scanned to</dt><dd>block ${r.head}</dd>
<dt>Accepted TCB statuses</dt><dd data-field="accepted">${accepted}</dd>
<dt>On-chain verifier</dt><dd>${r.verifier ? html`<code>${r.verifier}</code>` : html`<span class="muted">none</span>`}</dd>
<dt>Image allowlist</dt><dd data-field="allowlist">${allow}</dd>
<dt>Quote re-verification</dt><dd>${r.reverify ?? html`<span class="muted">off — only the collateral-free checks (start with --pccs URL or --collateral FILE); SEV-SNP reports are checked from the VCEK and AMD chain they published, AWS Nitro Enclave documents from their own certificate chain</span>`}</dd>
</dl>
</section>`;
}

function anomalyList(list: Anomaly[]): SafeHtml {
  if (!list.length) return html`<p class="muted">No anomalies.</p>`;
  return html`<ul class="anomalies">${list.map(
    (a) => html`<li><span class="badge bad">${a.kind}</span>${a.kms ? html` <a href="${kmsHref(a.kms)}"><code>${a.kms}</code></a>` : ""} ${chainText(a.detail)}</li>`,
  )}</ul>`;
}

function timelineItems(entries: TimelineEntry[], opts: RenderOptions, now: number, withKms: boolean): SafeHtml {
  if (!entries.length) return html`<p class="muted">No events.</p>`;
  return html`<ol class="timeline">${entries.map(
    (e) => html`<li class="ev ev-${e.kind}" data-id="${e.id}" data-kind="${e.kind}">
<span class="block">block ${e.block}</span> ${badge(e.kind, e.kind === "revoked" ? "bad" : e.stale ? "warn" : e.kind === "liveness" || e.kind === "rechecked" ? "info" : "ok")}
${withKms ? html`<a href="${kmsHref(e.kms)}"><code>${e.kms}</code></a>` : ""}
<span class="summary">${e.summary}</span>${e.text !== undefined ? html`<div class="reason">reason: ${chainText(e.text)}</div>` : ""}
<div class="meta small">${when(e.time, now)} · tx ${txLink(e.tx, opts)}</div>
</li>`,
  )}</ol>`;
}

/** The overview page. */
export function renderOverview(snap: DashboardSnapshot, opts: RenderOptions = {}): string {
  const now = opts.now ?? snap.builtAt;
  const rows = snap.kms.map(
    (k) => html`<tr data-kms="${k.address}">
<td><a href="${kmsHref(k.address)}"><code>${k.address}</code></a></td>
<td>${platformBadge(k.platform)}</td>
<td>${stateBadge(k)}</td>
<td>${pathBadge(k.path)}</td>
<td>${rootBadge(k.root, k.platform)}</td>
<td>${tcbCell(k)}</td>
<td>${expiryCell(k, now)}</td>
<td>${livenessCell(k, now)}</td>
<td class="num">${k.attestationCount}</td>
<td>${anomalyCell(k.anomalies)}</td>
</tr>`,
  );
  const table = snap.kms.length
    ? html`<div class="table-scroll"><table class="kms">
<thead><tr><th>KMS</th><th>Platform</th><th>State</th><th>Registered via</th><th>Root</th><th>TCB status</th><th>Collateral expiry</th><th>Last liveness proof</th><th>Attestations</th><th>Anomalies</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`
    : html`<p class="muted">No KMS registered yet.</p>`;
  const body = html`${registryHeader(snap)}
<section aria-label="kms list"><h2>KMS (${snap.kms.length})</h2>${table}</section>
<section aria-label="anomalies"><h2>Anomalies (${snap.anomalyCount})</h2>${anomalyList([...snap.registryAnomalies, ...snap.kms.flatMap((k) => k.anomalies)])}</section>
<section aria-label="latest events"><h2>Latest events</h2>${timelineItems(snap.recent.slice(0, 25), opts, now, true)}</section>`;
  return layout("Overview", snap, body, opts).value;
}

function checkRows(checks: readonly { name: string; ok: boolean; detail: string }[]): SafeHtml {
  if (!checks.length) return html`<p class="muted">none</p>`;
  return html`<table class="checks"><tbody>${checks.map((c) => html`<tr class="${c.ok ? "pass" : "fail"}"><td>${c.ok ? "✓" : "✗"}</td><td><code>${c.name}</code></td><td>${chainText(c.detail)}</td></tr>`)}</tbody></table>`;
}

function snpMeasurements(q: QuoteDetails & { snp: NonNullable<QuoteDetails["snp"]> }): SafeHtml {
  const m = q.snp;
  const l = m.reportedTcbLevels;
  const rows: [string, HtmlValue][] = [
    ["MEASUREMENT", m.measurement],
    ["HOST_DATA", m.hostData],
    ["CHIP_ID", m.chipId],
    ["REPORTED_TCB", l ? `${m.reportedTcb} (bl ${l.bootloader}, tee ${l.tee}, snp ${l.snp}, ucode ${l.microcode}${l.fmc !== undefined ? `, fmc ${l.fmc}` : ""})` : m.reportedTcb],
    ["Guest policy", m.policy],
    ["VMPL", String(m.vmpl)],
    ["Guest SVN", String(m.guestSvn)],
    ["FAMILY_ID", m.familyId],
    ["IMAGE_ID", m.imageId],
    ["ID_KEY_DIGEST", m.idKeyDigest],
    ["report_data", m.reportData],
    ["VCEK valid until", m.vcekNotAfter ?? "unknown"],
  ];
  return html`<table class="measurements" data-platform="sev-snp"><tbody>${rows.map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</tbody></table>
<p class="small">SEV-SNP attestation report v${m.version}${m.product ? ` (${m.product})` : ""}, ${q.bytes} bytes</p>`;
}

function nitroMeasurements(q: QuoteDetails & { nitro: NonNullable<QuoteDetails["nitro"]> }, recordImage: Hex | null): SafeHtml {
  const m = q.nitro;
  const image = recordImage === null ? "" : recordImage.toLowerCase() === m.osImageHash.toLowerCase() ? badge("= the record's image measurement", "ok") : badge("≠ the record's image measurement", "bad");
  const rows: [string, HtmlValue, SafeHtml | string][] = [
    ["module_id", m.moduleId, ""],
    ["timestamp", `${new Date(m.timestamp).toISOString()} (${m.timestamp} ms)`, ""],
    ["PCR0", m.pcr0 ?? "absent", ""],
    ["PCR1", m.pcr1 ?? "absent", ""],
    ["PCR2", m.pcr2 ?? "absent", m.debug ? badge("all zero: debug mode", "bad") : ""],
    ["os_image_hash", m.osImageHash, image],
    ["user_data", m.userData ?? "absent", ""],
    ["nonce", m.nonce ?? "none", ""],
    ["public_key", m.publicKey ?? "none", ""],
    ["digest", m.digest, ""],
    ["cabundle", `${m.cabundleLength} certificate${m.cabundleLength === 1 ? "" : "s"}, from CN=${m.rootName ?? "?"}`, ""],
  ];
  return html`<table class="measurements" data-platform="nitro-enclave"><tbody>${rows.map(([k, v, note]) => html`<tr><th>${k}</th><td><code>${v}</code>${note ? html` ${note}` : ""}</td></tr>`)}</tbody></table>
<p class="small">AWS Nitro Enclave attestation document (COSE_Sign1, ES384), ${m.pcrCount} PCRs, ${q.bytes} bytes; os_image_hash = sha256(PCR0 ‖ PCR1 ‖ PCR2); user_data carries dstack's report_data</p>`;
}

function measurements(q: QuoteDetails | null, recordImage: Hex | null = null): SafeHtml {
  if (!q) return html`<p class="muted">quote not seen</p>`;
  if (q.snp) return snpMeasurements({ ...q, snp: q.snp });
  if (q.nitro) return nitroMeasurements({ ...q, nitro: q.nitro }, recordImage);
  if (q.fields) {
    return html`<table class="measurements" data-platform="${q.platform}"><tbody>${Object.entries(q.fields).map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</tbody></table>
<p class="small">${REGISTRY_PLATFORMS[q.platform]?.label ?? q.platform} evidence, ${q.bytes} bytes</p>`;
  }
  if (!q.measurements) return html`<p class="bad">${q.error ?? "no TD measurements"}</p>`;
  const m = q.measurements;
  const rows: [string, HtmlValue][] = [
    ["MRTD", m.mrTd],
    ["RTMR0", m.rtMr0],
    ["RTMR1", m.rtMr1],
    ["RTMR2", m.rtMr2],
    ["RTMR3", m.rtMr3],
    ["TD attributes", m.tdAttributes],
    ["XFAM", m.xfam],
    ["FMSPC", q.fmspc ?? "unknown"],
    ["MRCONFIGID", m.mrConfigId],
    ["MROWNER", m.mrOwner],
    ["MRSEAM", m.mrSeam],
    ["TEE TCB SVN", m.teeTcbSvn],
    ["report_data", m.reportData],
  ];
  return html`<table class="measurements"><tbody>${rows.map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</tbody></table>
<p class="small">TD quote v${q.version ?? "?"} (${m.reportType}), ${q.bytes} bytes</p>`;
}

function reverifyBlock(r: ReverifyResult | null, q: QuoteDetails | null): SafeHtml {
  const heading =
    q?.platform === "tdx"
      ? "Collateral-free checks"
      : q?.platform === "sev-snp"
        ? "Checks from the VCEK and AMD chain published on chain"
        : q?.platform === "nitro-enclave"
          ? "Checks from the document registered on chain (its own certificate chain, at its timestamp)"
          : "Checks from the evidence published on chain";
  const sig = q ? html`<h4>${heading} — ${rootBadge(q.root, q.platform)}</h4><p class="small">${chainText(q.rootDetail)}</p>${checkRows(q.signatureChecks)}` : "";
  if (!r) return html`${sig}<h4>Full re-verification</h4><p class="muted">not run (no collateral: start the dashboard with --pccs URL or --collateral FILE)</p>`;
  return html`${sig}<h4>Full re-verification — ${badge(r.ok ? "passes" : "FAILS", r.ok ? "ok" : "bad")}</h4>
<p>${chainText(r.detail)}${r.collateralExpiry !== null ? html` · collateral valid until ${iso(r.collateralExpiry)}` : ""}</p>${checkRows(r.checks)}`;
}

function bindingChecks(checks: AuditCheck[]): SafeHtml {
  const binding = checks.filter((c) => c.name !== "reverify");
  return checkRows(binding);
}

function onChainVerdict(a: AttestationView): SafeHtml | string {
  const v = a.onChain;
  if (!v) return "";
  return html`<h4>On-chain verification (KmsVerifiedOnChain)</h4>
<dl class="grid small"><dt>TCB status</dt><dd>${v.tcbStatus ?? "unknown"}</dd><dt>FMSPC</dt><dd><code>${v.fmspc}</code></dd>
<dt>Collateral valid until</dt><dd>${iso(v.collateralExpiry)}</dd><dt>Verifier root</dt><dd>${v.intelRoot ? badge("Intel SGX Root CA", "ok") : badge("NOT Intel's root", "bad")}</dd></dl>`;
}

function attestationSection(a: AttestationView, opts: RenderOptions, now: number, recordImage: Hex | null): SafeHtml {
  return html`<section class="attestation" id="attestation-${a.n}" aria-label="attestation ${a.n}">
<h3>Attestation #${a.n} ${platformBadge(a.platform)} ${pathBadge(a.path)}</h3>
<p class="small">block ${a.block} · ${when(a.time, now)} · tx ${txLink(a.tx, opts)} · registrar <code>${a.registrar}</code> · quote hash <code>${a.quoteHash}</code></p>
<div class="cols">
<div><h4>Measurements</h4>${measurements(a.quote, recordImage)}</div>
<div>${onChainVerdict(a)}<h4>Key binding and event checks</h4>${bindingChecks(a.checks)}${reverifyBlock(a.reverify, a.quote)}</div>
</div>
</section>`;
}

/** What identifies the KMS's hardware or enclave: TDX's FMSPC, SEV-SNP's chip id, a Nitro Enclave's module id. */
function platformIdentity(k: KmsView): SafeHtml {
  const q = k.attestations.at(-1)?.quote;
  if (k.platform === "sev-snp") return html`<dt>Chip id</dt><dd><code class="wrap">${q?.snp?.chipId ?? "unknown"}</code></dd>`;
  if (k.platform === "nitro-enclave") return html`<dt>Module id</dt><dd><code class="wrap">${q?.nitro?.moduleId ?? "unknown"}</code></dd>`;
  return html`<dt>FMSPC</dt><dd><code>${k.fmspc ?? "unknown"}</code></dd>`;
}

/** One KMS's page. */
export function renderKms(snap: DashboardSnapshot, k: KmsView, opts: RenderOptions = {}): string {
  const now = opts.now ?? snap.builtAt;
  const rec = k.record;
  const recordRows = rec
    ? html`<dt>Image measurement</dt><dd><code>${rec.imageMeasurement}</code>${rec.imageAllowed === null ? "" : rec.imageAllowed ? html` ${badge("allowlisted", "ok")}` : html` ${badge("not on the allowlist", "muted")}`}</dd>
<dt>Stored quote hash</dt><dd><code>${rec.quoteHash}</code></dd>
<dt>Attested at</dt><dd>${when(rec.attestedAt || null, now)}</dd>
<dt>Liveness nonce</dt><dd>${rec.livenessNonce}</dd>
${rec.verifiedOnChain !== null ? html`<dt>isVerifiedOnChain</dt><dd>${rec.verifiedOnChain ? badge("true", "ok") : badge("false", "muted")}</dd>` : ""}
${rec.tcbEvaluationDataNumber !== null && rec.path === "on-chain" ? html`<dt>TCB evaluation data number</dt><dd>${rec.tcbEvaluationDataNumber}</dd>` : ""}`
    : html`<dt>Record</dt><dd class="muted">kmsInfo() could not be read</dd>`;
  const revocation = k.revocation ? html`<dt>Revoked</dt><dd>block ${k.revocation.block} by <code>${k.revocation.by}</code> · reason: ${chainText(k.revocation.reason)}</dd>` : "";
  const body = html`<nav class="small"><a href="/">← overview</a></nav>
<section class="kms-head" data-kms="${k.address}" aria-label="kms">
<h1>KMS <code>${k.address}</code> ${stateBadge(k)}</h1>
<dl class="grid">
<dt>Platform</dt><dd>${platformBadge(k.platform)}</dd>
<dt>Registered via</dt><dd>${pathBadge(k.path)}</dd>
<dt>Root</dt><dd>${rootBadge(k.root, k.platform)}</dd>
<dt>TCB status</dt><dd>${tcbCell(k)}</dd>
<dt>Collateral expiry</dt><dd>${expiryCell(k, now)}</dd>
${platformIdentity(k)}
<dt>Key binding</dt><dd data-field="binding">${k.binding.ok ? badge(k.platform === "nitro-enclave" ? "user_data binds the keys" : "report_data binds the keys", "ok") : badge("BINDING FAILS", "bad")} <span class="small">${chainText(k.binding.detail)}</span></dd>
<dt>Last liveness proof</dt><dd>${livenessCell(k, now)} · ${k.livenessProofs} proof${k.livenessProofs === 1 ? "" : "s"}</dd>
${revocation}
${recordRows}
<dt>CA public key</dt><dd><code class="wrap">${k.caPubkey}</code></dd>
<dt>k256 public key</dt><dd><code class="wrap">${k.k256Pubkey}</code></dd>
</dl>
</section>
<section aria-label="anomalies"><h2>Anomalies (${k.anomalies.length})</h2>${anomalyList(k.anomalies)}</section>
<section aria-label="timeline"><h2>Timeline</h2>${timelineItems(k.timeline, opts, now, false)}</section>
<section aria-label="attestations"><h2>Attestations (${k.attestations.length})</h2>${join(k.attestations.map((a, i) => attestationSection(a, opts, now, i === k.attestations.length - 1 ? (rec?.imageMeasurement ?? null) : null)))}</section>`;
  return layout(`KMS ${k.address}`, snap, body, opts).value;
}

/** The page for a path that names nothing. */
export function renderNotFound(snap: DashboardSnapshot, what: string): string {
  return layout("Not found", snap, html`<nav class="small"><a href="/">← overview</a></nav><h1>Not found</h1><p>${what}</p>`, {}).value;
}
