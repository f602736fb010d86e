/**
 * The dashboard's two static assets, served from its own origin (nothing comes from the internet): the
 * style sheet and the live-update script. The script is progressive enhancement: the pages are complete
 * without it; with it, the page listens to `/api/events` and, when the server announces a snapshot with
 * new events, fetches the same page again and swaps its `<main>` (parsed by `DOMParser`, which runs no
 * script; the content is the server's escaped HTML), marking the new events.
 */

export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #667085; --line: #d0d5dd; --bg: #f8f9fb; --card: #fff;
  --ok: #067647; --ok-bg: #dcfae6; --warn: #93370d; --warn-bg: #fef0c7; --bad: #b42318; --bad-bg: #fee4e2;
  --info: #175cd3; --info-bg: #d1e9ff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; gap: 16px; align-items: center; padding: 10px 20px; background: #101828; color: #fff; flex-wrap: wrap; }
header.top a.home { color: #fff; font-weight: 700; text-decoration: none; }
header.top .where { color: #d0d5dd; }
header.top .live { margin-left: auto; color: #a6f4c5; font-size: 12px; }
main { padding: 16px 20px 40px; max-width: 1500px; margin: 0 auto; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; }
h1 { font-size: 18px; margin: 4px 0 10px; word-break: break-all; }
h2 { font-size: 15px; margin: 2px 0 10px; }
h3 { font-size: 14px; margin: 4px 0 6px; }
h4 { font-size: 13px; margin: 10px 0 4px; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.wrap, .measurements code { word-break: break-all; }
a { color: var(--info); }
dl.grid { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.grid dt { color: var(--muted); }
dl.grid dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
.table-scroll { overflow-x: auto; }
table.kms td { padding: 6px 5px; }
table.kms .badge { white-space: normal; border-radius: 6px; }
table.kms td code { font-size: 11px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.info { color: var(--info); background: var(--info-bg); }
.badge.muted { color: var(--muted); background: #f2f4f7; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.bad { color: var(--bad); }
.banner { padding: 8px 12px; border-radius: 6px; }
.banner.bad { background: var(--bad-bg); }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { border-left: 3px solid var(--line); padding: 4px 10px; margin: 0 0 8px; }
ol.timeline li.ev-revoked { border-color: var(--bad); }
ol.timeline li.ev-liveness { border-color: var(--info); }
ol.timeline li.ev-registered, ol.timeline li.ev-re-attested { border-color: var(--ok); }
ol.timeline li.fresh { background: #fffbe6; border-color: #f79009; }
ol.timeline .block { font-weight: 600; }
.reason { margin-top: 2px; }
q.chain-text { quotes: "\\201C" "\\201D"; unicode-bidi: isolate; white-space: pre-wrap; overflow-wrap: anywhere; }
ul.anomalies { margin: 0; padding-left: 18px; }
ul.anomalies li { margin: 0 0 6px; overflow-wrap: anywhere; }
table.checks td { padding: 3px 6px; font-size: 12px; }
table.checks tr.fail td { color: var(--bad); }
table.measurements th { width: 120px; font-size: 12px; color: var(--muted); font-weight: 500; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
@media (max-width: 900px) { .cols { grid-template-columns: 1fr; } }
footer { margin-top: 8px; }
`;

export const LIVE_JS = `"use strict";
(function () {
  var status = document.getElementById("live-status");
  if (!status || typeof EventSource === "undefined" || typeof DOMParser === "undefined") return;
  var busy = Promise.resolve();
  function say(text) { status.textContent = text; }
  function refresh(info) {
    busy = busy.then(function () {
      return fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store", credentials: "same-origin" })
        .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.text(); })
        .then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var next = doc.querySelector("main");
          var cur = document.querySelector("main");
          if (!next || !cur) return;
          cur.replaceWith(document.adoptNode(next));
          (info.events || []).forEach(function (e) {
            document.querySelectorAll("[data-id]").forEach(function (n) { if (n.getAttribute("data-id") === e.id) n.classList.add("fresh"); });
          });
          var n = (info.events || []).length;
          var last = n ? info.events[n - 1] : null;
          if (info.error) say("live · refresh failed, showing block " + info.head + "; retrying");
          else say("live · block " + info.head + (last ? " · " + n + " new event" + (n === 1 ? "" : "s") + ", last: " + last.kind + " in block " + last.block : ""));
        })
        .catch(function (err) { say("live · refresh failed: " + String(err && err.message || err)); });
    });
  }
  var es = new EventSource("/api/events");
  say("live · connecting");
  es.addEventListener("hello", function (m) { var d = JSON.parse(m.data); say("live · block " + d.head); });
  es.addEventListener("snapshot", function (m) { refresh(JSON.parse(m.data)); });
  es.addEventListener("error", function () { say("live · reconnecting"); });
})();
`;
