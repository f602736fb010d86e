/**
 * `kms-registry pull (--kms URL [--file FILE] | --certs-dir DIR | --file FILE) [--out FILE] [--json]`
 *
 * Writes one normalized JSON document (`0x` hex, source, time pulled). `--out` writes atomically
 * (temp file + rename), so an existing file is never left half-written.
 */
import { isAbsolute, resolve } from "node:path";

import { EXIT_OK, oneLine, optInteger, optString, printJson, type Command } from "../framework.js";
import { SOURCE_OPTIONS, clientOptions, sourceFromOptions } from "../options/kms-source.js";

export const pullCommand: Command = {
  name: "pull",
  summary: "fetch a KMS's bootstrap info and write one normalized JSON document",
  synopsis: "(--kms URL | --certs-dir DIR | --file FILE) [--out FILE] [--json]",
  help: [
    "Sources: a live KMS (GET /prpc/KMS.GetMeta; over https the server must present a certificate signed by the",
    "CA key equal to ca_pubkey — pin it with --ca-pubkey, otherwise it is pinned to the key in the answer), a certs",
    "dir (bootstrap-info.json), or a JSON file (a saved Onboard.Bootstrap response, bootstrap-info.json, a saved",
    "GetMeta answer, or a document written by pull). Both bootstrap formats are read: legacy {quote, eventlog}",
    "and v0.5.6+ {attestation}; byte fields may be hex (with or without 0x) or base64.",
    "An auto-bootstrapped or replica KMS has bootstrap_info = null (and no bootstrap-info.json): give the saved Bootstrap",
    "answer with --kms URL --file SAVED.json or --certs-dir DIR --file SAVED.json; its keys are checked against the KMS's.",
    "Without --out the document is printed on stdout.",
  ].join("\n"),
  options: {
    ...SOURCE_OPTIONS,
    out: { type: "string", valueName: "FILE", description: "write the document here (atomically)" },
    at: { type: "string", valueName: "UNIX_SECONDS", description: "time recorded as pulled-at and used for TLS validity (default: now)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const source = await sourceFromOptions(ctx);
    const copts = clientOptions(ctx);
    const now = optInteger(ctx, "at", { min: 0 }) ?? Math.floor(Date.now() / 1000);
    const out = optString(ctx, "out");
    const { pullBootstrap } = await import("../../kms/pull.js");
    const r = await pullBootstrap(source, { now, ...copts });
    for (const w of r.warnings) io.stderr(`warning: ${oneLine(w)}\n`);
    for (const p of r.doc.problems) io.stderr(`warning: ${p.field}: ${oneLine(p.message)}\n`);
    const text = JSON.stringify(r.doc, null, 2) + "\n";
    if (out !== undefined) {
      const { writeFileAtomic } = await import("../../core/files.js");
      const path = isAbsolute(out) ? out : resolve(io.cwd, out);
      await writeFileAtomic(path, text);
      if (ctx.json) printJson(io, r.doc);
      else {
        io.stdout(`wrote ${path}\n`);
        io.stdout(`  format       ${r.doc.format}\n  ca_pubkey    ${r.doc.caPubkey}\n  k256_pubkey  ${r.doc.k256Pubkey}\n  address      ${r.doc.kmsAddress}\n`);
        io.stdout(`  quote        ${r.doc.quote ? `${(r.doc.quote.length - 2) / 2} bytes` : "none"}\n`);
        for (const c of r.checks) io.stdout(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${oneLine(c.detail)}\n`);
      }
    } else {
      io.stdout(text);
    }
    return EXIT_OK;
  },
};
