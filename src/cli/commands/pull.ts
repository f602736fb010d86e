/**
 * `kms-registry pull (--kms URL [--file FILE] | --certs-dir DIR | --file FILE) [--out FILE] [--json]`
 *
 * Writes one normalized JSON document (`0x` hex, source, time pulled). `--out` writes atomically
 * (temp file + rename), so an existing file is never left half-written.
 */
import { writeFileAtomic } from "../../core/files.js";
import { oneLine } from "../../core/sanitize.js";
import { pullBootstrap } from "../../kms/pull.js";
import { EXIT_OK, nowOption, optString, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { KMS_SOURCE_OPTIONS, kmsSourceOptions } from "../options/kms-source.js";
import { printJson } from "../output.js";

export const pullCommand: CommandSpec = {
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
    ...KMS_SOURCE_OPTIONS,
    out: { type: "string", valueName: "FILE", description: "write the document here (atomically)" },
    at: { type: "string", valueName: "UNIX_SECONDS", description: "time recorded as pulled-at and used for TLS validity (default: now)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const { source, client } = kmsSourceOptions(ctx);
    const now = nowOption(ctx);
    const out = optString(ctx, "out");
    const r = await pullBootstrap(source, { now, ...client });
    for (const w of r.warnings) io.stderr(`warning: ${oneLine(w)}\n`);
    for (const p of r.doc.problems) io.stderr(`warning: ${p.field}: ${oneLine(p.message)}\n`);
    const text = JSON.stringify(r.doc, null, 2) + "\n";
    if (out !== undefined) {
      const path = resolvePath(io, out);
      await writeFileAtomic(path, text);
      if (ctx.json) printJson(io, r.doc);
      else {
        io.stdout(`wrote ${path}\n`);
        io.stdout(`  format       ${r.doc.format}\n  ca_pubkey    ${r.doc.caPubkey}\n  k256_pubkey  ${r.doc.k256Pubkey}\n  address      ${r.doc.kmsAddress}\n`);
        const att = r.info.decodedAttestation;
        if (att) io.stdout(`  attestation  ${att.format} (version ${String(att.version)}), platform ${att.platform}\n`);
        io.stdout(`  quote        ${r.doc.quote ? `${(r.doc.quote.length - 2) / 2} bytes` : att && !att.quote ? `none (${att.platform} evidence: ${att.evidence.length} bytes)` : "none"}\n`);
        for (const c of r.checks) io.stdout(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${oneLine(c.detail)}\n`);
      }
    } else {
      io.stdout(text);
    }
    return EXIT_OK;
  },
};
