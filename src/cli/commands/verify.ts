/**
 * `kms-registry verify (--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL]
 *   [--at N] [--root-ca FILE] [--accept STATUS,...] [--json]`
 *
 * pull → (certs-dir checklist) → quote verification → report_data binding → event-log replay, one
 * report. Exit 0 when every check passes, 1 when any fails, 2 for usage/input errors.
 */
import { UsageError } from "../../core/errors.js";
import { EXIT_FAIL, EXIT_OK, oneLine, optInteger, optString, printJson, table, type Command } from "../framework.js";
import { SOURCE_OPTIONS, clientOptions, sourceFromOptions } from "../options/kms-source.js";
import { verificationOptions } from "../options/verification.js";

export const verifyCommand: Command = {
  name: "verify",
  summary: "pull, check, verify the quote, the key binding and the event log",
  synopsis: "(--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL] [--at N] [--root-ca FILE] [--accept STATUS,...] [--json]",
  help: [
    "The whole check of a KMS's bootstrap: pull the bootstrap info (as `pull`), run the certs-dir checklist when",
    "reading a certs dir (as `check-certs`), verify the TDX quote (as `verify-quote`), check that its report_data",
    "is keccak256(\"dstack-kms-genereted-keys-v1:\" + hex(ca_pubkey) + \";\" + hex(k256_pubkey) + \";\") ‖ 0×32, replay",
    "the event log to RTMR0–3 and decode the dstack runtime events. Prints the verdict, every check, the KMS's",
    "Ethereum address and the measurements. A simulated KMS passes only with --root-ca <certs-dir>.sim/dcap-root-ca.pem",
    "and --collateral <certs-dir>.sim/collateral.json, and is then reported NOT GENUINE.",
  ].join("\n"),
  options: {
    ...SOURCE_OPTIONS,
    ...verificationOptions(),
    domain: { type: "string", valueName: "D", description: "with --certs-dir: the domain the RPC certificate must name" },
    "allow-debug": { type: "boolean", description: "accept a DEBUG TD (never for production)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const { collateralSource, parseAccept, readInputFile } = await import("./verify-quote.js");
    const source = await sourceFromOptions(ctx);
    const csrc = collateralSource(ctx);
    const accept = parseAccept(ctx);
    const copts = clientOptions(ctx);
    const now = optInteger(ctx, "at", { min: 0 }) ?? Math.floor(Date.now() / 1000);
    const rootCaPath = optString(ctx, "root-ca");
    const domain = optString(ctx, "domain");
    if (domain !== undefined && !("certsDir" in source)) throw new UsageError("--domain only applies to --certs-dir");

    let rootCaDer: Uint8Array | undefined;
    if (rootCaPath !== undefined) {
      const { certificateDerFromFile } = await import("../../dcap/x509.js");
      rootCaDer = certificateDerFromFile(await readInputFile(io, rootCaPath, "root CA file", "certificate"), `root CA file ${JSON.stringify(rootCaPath)}`);
    }
    let collateral = null;
    if (csrc.kind === "file") {
      const { parseCollateralJson } = await import("../../dcap/collateral.js");
      collateral = parseCollateralJson(new TextDecoder().decode(await readInputFile(io, csrc.value, "collateral file", "collateral")));
    }

    const { pullBootstrap } = await import("../../kms/pull.js");
    const pulled = await pullBootstrap(source, { now, ...copts });
    let certs = null;
    if ("certsDir" in source) {
      const { checkCertsDir } = await import("../../kms/certs-dir.js");
      certs = await checkCertsDir(source.certsDir, { now, ...(domain !== undefined ? { domain } : {}), ...(source.file ? { bootstrap: { info: pulled.info, from: source.file } } : {}) });
    }
    const { verifyBootstrap } = await import("../../kms/verify.js");
    let pccsCacheDir: string | undefined;
    if (csrc.kind === "pccs") pccsCacheDir = (await import("../../dcap/pccs/cache.js")).defaultCollateralCacheDir(io.env);
    const report = await verifyBootstrap(pulled.info, {
      collateral,
      ...(csrc.kind === "pccs" ? { pccsUrl: csrc.value, ...(pccsCacheDir ? { pccsCacheDir } : {}) } : {}),
      now,
      ...(rootCaDer ? { rootCaDer } : {}),
      acceptedStatuses: accept,
      ...(ctx.values["allow-debug"] === true ? { allowDebug: true } : {}),
      certs,
      sourceChecks: pulled.checks,
      ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
    });
    const warnings = [...pulled.warnings, ...report.warnings];
    if (ctx.json) {
      const { certs: c, ...rest } = report;
      printJson(io, { ...rest, warnings, source: pulled.doc.source, pulledAt: pulled.doc.pulledAt, certs: c ? { ok: c.ok, dir: c.dir, domain: c.domain, items: c.items, failed: c.failed } : null });
    } else {
      const q = report.quote;
      io.stdout(`${report.verdict}${report.ok && !report.genuine ? " (NOT GENUINE: simulated / non-Intel root)" : ""}\n\n`);
      io.stdout(`KMS address   ${report.kms.address}\nca_pubkey     ${report.kms.caPubkey}\nk256_pubkey   ${report.kms.k256Pubkey}\nformat        ${report.kms.format}\n`);
      if (q) io.stdout(`TCB status    ${q.status ?? "—"}${q.advisoryIds.length ? ` [${q.advisoryIds.join(", ")}]` : ""}${q.verified ? (q.accepted ? " (accepted)" : " (NOT accepted)") : ""}\n`);
      io.stdout("\n" + table(report.checks.map((c) => [c.ok ? "✓" : "✗", c.name, c.detail])));
      if (report.measurements) {
        io.stdout("\nMeasurements\n" + table(Object.entries(report.measurements).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])));
      }
      for (const w of warnings) io.stdout(`warning: ${oneLine(w)}\n`);
    }
    if (!report.ok) io.stderr(`kms-registry: verify: REJECTED: failed ${report.failed.join(", ")}\n`);
    else if (!report.genuine) io.stderr("NOT GENUINE: verified against a non-Intel root CA (--root-ca); this says nothing about real Intel hardware\n");
    return report.ok ? EXIT_OK : EXIT_FAIL;
  },
};
