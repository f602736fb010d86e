/**
 * `kms-registry verify (--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL]
 *   [--at N] [--root-ca FILE] [--accept STATUS,...] [--json]`
 *
 * pull → (certs-dir checklist) → quote verification → report_data binding → event-log replay, one
 * report. Exit 0 when every check passes, 1 when any fails, 2 for usage/input errors.
 */
import { UsageError } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { defaultCollateralCacheDir } from "../../dcap/pccs/cache.js";
import { checkCertsDir } from "../../kms/certs-dir.js";
import { pullBootstrap } from "../../kms/pull.js";
import { verifyBootstrap } from "../../kms/verify.js";
import { EXIT_FAIL, EXIT_OK, optFlag, optString, type CommandSpec } from "../framework.js";
import { EXPECT_OPTION, readExpectPolicy } from "../options/expect.js";
import { KMS_SOURCE_OPTIONS, kmsSourceOptions } from "../options/kms-source.js";
import { NO_COLLATERAL_MESSAGE, readCollateralFile, readRootCaDer, verificationOptionSpecs, verificationOptionsWithoutCollateral } from "../options/verification.js";
import { printJson, table } from "../output.js";
import { readInputFile } from "../io.js";
import { AMD_KDS_URL, defaultKdsCacheDir, normalizeKdsBase } from "../../dstack/platforms/amd-kds.js";
import { amdCrlsFromFile } from "../../dstack/platforms/sev-snp-verify.js";

export const verifyCommand: CommandSpec = {
  synopsis: "(--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL] [--at N] [--root-ca FILE] [--accept STATUS,...] [--expect FILE] [--kds | --kds-url URL] [--amd-crl FILE] [--json]",
  help: [
    "The whole check of a KMS's bootstrap: pull the bootstrap info (as `pull`), run the certs-dir checklist when",
    "reading a certs dir (as `check-certs`), verify the TDX quote (as `verify-quote`), check that its report_data",
    "is keccak256(\"dstack-kms-genereted-keys-v1:\" + hex(ca_pubkey) + \";\" + hex(k256_pubkey) + \";\") ‖ 0×32, replay",
    "the event log to RTMR0–3 and decode the dstack runtime events. Prints the verdict, every check, the KMS's",
    "Ethereum address and the measurements. A simulated KMS passes only with --root-ca <certs-dir>.sim/dcap-root-ca.pem",
    "and --collateral <certs-dir>.sim/collateral.json, and is then reported NOT GENUINE.",
    "--expect FILE checks the measurements against a policy (each rule a check expect.<field>); a lite event log",
    "(no RTMR1/RTMR2 events) passes only when the policy pins the RTMR0-2 it cannot replay.",
    "A KMS on AWS Nitro Enclaves is verified from its attestation's NSM document (AWS's pinned root, ES384,",
    "validity at the document's timestamp, user_data = report_data binding the keys, the debug-mode rule); it",
    "needs no collateral. A KMS on AMD SEV-SNP is verified from its report: the VCEK of its cert_chain (else --kds),",
    "AMD's pinned ARK (--root-ca: a test ARK, NOT GENUINE), the CRL of --amd-crl or --kds, the guest policy, and",
    "report_data binding the keys. Other platforms without a TDX quote fail platform.supported (PLATFORM_NOT_SUPPORTED).",
  ].join("\n"),
  options: {
    ...KMS_SOURCE_OPTIONS,
    ...verificationOptionSpecs(),
    domain: { type: "string", valueName: "D", description: "with --certs-dir: the domain the RPC certificate must name" },
    "allow-debug": { type: "boolean", description: "accept a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production)" },
    ...EXPECT_OPTION,
    kds: { type: "boolean", description: "SEV-SNP: fetch the VCEK, chain and CRL the attestation does not carry from AMD's KDS (cached on disk)" },
    "kds-url": { type: "string", valueName: "URL", description: "SEV-SNP: another KDS base URL (implies --kds)" },
    "amd-crl": { type: "string", valueName: "FILE", description: "SEV-SNP: AMD's CRL of the ARK (DER or PEM), checked offline" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const { source, client } = kmsSourceOptions(ctx);
    // collateral is needed only for a TDX quote (known once pulled); SEV-SNP and Nitro evidence needs none
    const opts = verificationOptionsWithoutCollateral(ctx);
    const domain = optString(ctx, "domain");
    if (domain !== undefined && !("certsDir" in source)) throw new UsageError("--domain only applies to --certs-dir");

    const rootCaDer = await readRootCaDer(io, opts.rootCaFile);
    const kdsUrl = optString(ctx, "kds-url");
    const kds = optFlag(ctx, "kds") || kdsUrl !== undefined ? { url: normalizeKdsBase(kdsUrl ?? AMD_KDS_URL), cacheDir: defaultKdsCacheDir(io.env) } : undefined;
    const crlPath = optString(ctx, "amd-crl");
    const amdCrlDers = crlPath !== undefined ? amdCrlsFromFile(await readInputFile(io, crlPath, "AMD CRL file", "amdCrl"), `AMD CRL file ${JSON.stringify(crlPath)}`) : undefined;
    const policy = await readExpectPolicy(ctx);
    const collateral = opts.collateral?.kind === "file" ? await readCollateralFile(io, opts.collateral.path) : null;
    const pulled = await pullBootstrap(source, { now: opts.now, ...client, ...(domain !== undefined ? { domain } : {}) });
    if (!opts.collateral && pulled.info.quote) throw new UsageError(`${NO_COLLATERAL_MESSAGE} (the KMS's attestation is a TDX quote)`);
    // --certs-dir DIR --file FILE: the pull ran the dir's checklist already
    const certs = pulled.certs ?? ("certsDir" in source ? await checkCertsDir(source.certsDir, { now: opts.now, ...(domain !== undefined ? { domain } : {}) }) : null);
    const report = await verifyBootstrap(pulled.info, {
      collateral,
      ...(opts.collateral?.kind === "pccs" ? { pccsUrl: opts.collateral.url, pccsCacheDir: defaultCollateralCacheDir(io.env) } : {}),
      now: opts.now,
      // --root-ca is the test root of whichever platform the KMS runs on
      ...(rootCaDer ? { rootCaDer, nitroRootDer: rootCaDer, snpTestArkDer: rootCaDer } : {}),
      ...(kds ? { kds } : {}),
      ...(amdCrlDers ? { amdCrlDers } : {}),
      acceptedStatuses: opts.accept,
      ...(optFlag(ctx, "allow-debug") ? { allowDebug: true } : {}),
      certs,
      sourceChecks: pulled.checks,
      ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
      ...(policy ? { policy } : {}),
    });
    const warnings = [...pulled.warnings, ...report.warnings];
    if (ctx.json) {
      const { certs: c, ...rest } = report;
      printJson(io, { ...rest, warnings, source: pulled.doc.source, pulledAt: pulled.doc.pulledAt, certs: c ? { ok: c.ok, dir: c.dir, domain: c.domain, items: c.items, failed: c.failed } : null });
    } else {
      const q = report.quote;
      io.stdout(`${report.verdict}${report.ok && !report.genuine ? " (NOT GENUINE: simulated / non-Intel root)" : ""}\n\n`);
      io.stdout(`KMS address   ${report.kms.address}\nca_pubkey     ${report.kms.caPubkey}\nk256_pubkey   ${report.kms.k256Pubkey}\nformat        ${report.kms.format}\nplatform      ${report.platform}\n`);
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
