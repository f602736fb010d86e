/**
 * `kms-registry check-certs --certs-dir DIR [--domain D] [--json]` — the operator's checklist of the
 * bootstrap tutorials on a KMS certs dir. Exit 0 when every check passes, 1 otherwise.
 */
import { oneLine } from "../../core/sanitize.js";
import { checkCertsDir } from "../../kms/certs-dir.js";
import { readBootstrapFile } from "../../kms/pull.js";
import { EXIT_FAIL, EXIT_OK, nowOption, optString, requireString, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { printJson, table } from "../output.js";

export const checkCertsCommand: CommandSpec = {
  synopsis: "--certs-dir DIR [--domain D] [--file SAVED_BOOTSTRAP.json] [--json]",
  help: [
    "Checks, each with what was expected and what was found: the 8 files; root CA subject \"Dstack KMS CA\" (the",
    "v0.5.4 lower-case \"dstack KMS CA\" is accepted and reported), self-signed, a CA; RPC certificate CN and SAN =",
    "the domain, signed by the root CA (as `openssl verify -CAfile root-ca.crt rpc.crt`); temp CA self-signed;",
    "root-k256.key exactly 32 bytes, a valid secp256k1 scalar whose public key equals k256_pubkey; root-ca.key's",
    "public key equals ca_pubkey; private key files not readable by group/others; bootstrap-info.json valid with",
    "every field; quote present. Without --domain the rpc-domain file (newer KMS) is used if present.",
    "An auto-bootstrapped KMS or a replica has no bootstrap-info.json: give the saved Bootstrap answer with --file.",
  ].join("\n"),
  options: {
    "certs-dir": { type: "string", valueName: "DIR", description: "the KMS certs dir (e.g. /etc/kms/certs)" },
    domain: { type: "string", valueName: "D", description: "the KMS domain the RPC certificate must name" },
    file: {
      type: "string",
      valueName: "FILE",
      description: "the saved Onboard.Bootstrap answer, for a dir without bootstrap-info.json (auto-bootstrapped KMS, replica); checked against the dir's keys",
    },
    at: { type: "string", valueName: "UNIX_SECONDS", description: "time for certificate validity (default: now)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const dir = resolvePath(io, requireString(ctx, "certs-dir"));
    const domain = optString(ctx, "domain");
    const now = nowOption(ctx);
    const fileArg = optString(ctx, "file");
    let bootstrap;
    if (fileArg !== undefined) {
      const from = resolvePath(io, fileArg);
      bootstrap = { info: (await readBootstrapFile(from)).info, from };
    }
    const r = await checkCertsDir(dir, { now, ...(domain !== undefined ? { domain } : {}), ...(bootstrap ? { bootstrap } : {}) });
    if (ctx.json) {
      const { bootstrap: _b, ...rest } = r;
      printJson(io, rest);
    } else {
      io.stdout(`${r.ok ? "OK" : "FAILED"}: ${r.items.length - r.failed.length} of ${r.items.length} checks passed on ${dir}${r.domain ? ` (domain ${r.domain} from ${r.domainSource})` : ""}\n\n`);
      io.stdout(table(r.items.map((i) => [i.ok ? "✓" : "✗", i.title, i.ok ? i.found : `expected ${i.expected}; found ${i.found}`])));
      for (const i of r.items) if (i.note) io.stdout(`note: ${oneLine(i.note)}\n`);
    }
    if (!r.ok) io.stderr(`kms-registry: check-certs: failed: ${r.failed.join(", ")}\n`);
    return r.ok ? EXIT_OK : EXIT_FAIL;
  },
};
