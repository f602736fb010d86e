/**
 * `kms-registry publish --registry ADDR --rpc URL (--kms URL | --certs-dir DIR | --file FILE)
 *   [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...] [--allow-simulated-root]
 *   [--dry-run] [--confirmations N] [--json]`
 *
 * Pull → full verification (refuses on failure) → chain-id check against the deployment record →
 * idempotent, journalled `register` (see `src/registry/publish.ts`).
 */
import { EXIT_FAIL, EXIT_OK, optInteger, optString, printJson, table, type Command } from "../framework.js";
import { SOURCE_OPTIONS, clientOptions, sourceFromOptions } from "../options/kms-source.js";
import { REGISTRY_OPTIONS, confirmations, connectToRegistry, progressPrinter, registryArgs } from "../options/registry.js";
import { verificationOptions } from "../options/verification.js";

export const NOT_GENUINE_WARNING =
  "WARNING: NOT GENUINE — this quote verifies only under a simulated (non-Intel) root CA. It proves nothing about real TDX hardware. Publishing it is for development only (--allow-simulated-root).";

export const publishCommand: Command = {
  name: "publish",
  summary: "verify a KMS and register it on the registry contract",
  synopsis:
    "--registry ADDR --rpc URL (--kms URL | --certs-dir DIR | --file FILE) [--collateral FILE | --pccs URL] [--at T] [--root-ca FILE] [--accept S,...] [--allow-simulated-root] [--dry-run] [--json]",
  help: [
    "Pulls the KMS's bootstrap info, runs the full verification (quote chain to Intel's root with the given",
    "collateral, accepted TCB status, report_data key binding, event-log replay) and refuses to publish when any",
    "step fails. A quote that verifies only under --root-ca (e.g. the simulator's) is refused unless",
    "--allow-simulated-root is given, and is then loudly labelled NOT GENUINE.",
    "The chain id served by --rpc must match the deployment record (deployments/<chainId>.json) when one names",
    "this registry. Publishing is idempotent (the same quote already registered: no transaction) and journalled:",
    "re-running after an interruption finds the sent transaction instead of sending another.",
    "The signing key comes from KMS_REGISTRY_PRIVATE_KEY (environment only).",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    ...SOURCE_OPTIONS,
    ...verificationOptions(),
    "allow-simulated-root": { type: "boolean", description: "DEVELOPMENT ONLY: publish a quote verified under --root-ca" },
    "dry-run": { type: "boolean", description: "verify and estimate gas; send nothing" },
    confirmations: { type: "string", valueName: "N", description: "confirmations to wait for (default 1)" },
    "journal-dir": { type: "string", valueName: "DIR", description: "where unconfirmed sends are journalled (default $KMS_REGISTRY_STATE_DIR or ~/.local/state/kms-registry)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const progress = progressPrinter(io, "publish");
    // Usage errors first, before any network or file access.
    const { rpc, registry } = await registryArgs(ctx);
    const source = await sourceFromOptions(ctx);
    const { collateralSource, loadCollateral, parseAccept, readInputFile } = await import("./verify-quote.js");
    const colSrc = collateralSource(ctx);
    const now = optInteger(ctx, "at", { min: 0 }) ?? Math.floor(Date.now() / 1000);
    const accept = parseAccept(ctx);
    const conf = confirmations(ctx);
    const rootCaPath = optString(ctx, "root-ca");
    const allowSim = ctx.values["allow-simulated-root"] === true;
    const { UsageError } = await import("../../core/errors.js");
    if (allowSim && rootCaPath === undefined) throw new UsageError("--allow-simulated-root needs --root-ca FILE (the simulated root the quote must still verify under)");
    const { accountFromEnv, walletFor } = await import("../../registry/connect.js");
    const account = accountFromEnv(io.env);
    const { resolve, isAbsolute } = await import("node:path");
    const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
    const journalOpt = optString(ctx, "journal-dir");

    // pull
    progress("pull", `from ${"kms" in source ? source.kms : "certsDir" in source ? `certs dir ${source.certsDir}` : `file ${source.file}`}`);
    const { pullBootstrap } = await import("../../kms/pull.js");
    const pulled = await pullBootstrap(source, { now, ...clientOptions(ctx) });
    const info = pulled.info;
    for (const w of pulled.warnings) progress("pull", `warning: ${w}`);

    // verify
    progress("verify", "quote chain and collateral, TCB policy, key binding, event log");
    let rootCaDer: Uint8Array | undefined;
    if (rootCaPath !== undefined) {
      const { certificateDerFromFile } = await import("../../dcap/x509.js");
      rootCaDer = certificateDerFromFile(await readInputFile(io, rootCaPath, "root CA file", "certificate"), `root CA file ${JSON.stringify(rootCaPath)}`);
    }
    const { InputError } = await import("../../core/errors.js");
    if (!info.quote) throw new InputError("NO_QUOTE", "the bootstrap info carries no quote; nothing to verify or publish");
    const collateral = await loadCollateral(ctx, colSrc, info.quote, now);
    const { verifyForPublish } = await import("../../workflows/publish-kms.js");
    let certs = null;
    if ("certsDir" in source) {
      const { checkCertsDir } = await import("../../kms/certs-dir.js");
      certs = await checkCertsDir(source.certsDir, { now, ...(source.file ? { bootstrap: { info, from: source.file } } : {}) });
    }
    const gate = await verifyForPublish(info, {
      collateral,
      now,
      accept,
      allowSimulatedRoot: allowSim,
      ...(rootCaDer ? { rootCaDer } : {}),
      certs,
      sourceChecks: pulled.checks,
      ...(pulled.tlsLeaf ? { rpcCertDer: pulled.tlsLeaf } : {}),
    });
    if (!gate.ok) {
      if (ctx.json) printJson(io, { ok: false, stage: "verify", error: { code: "VERIFICATION_FAILED", message: gate.reason }, kms: gate.kmsAddress, checks: gate.checks });
      else io.stdout(`NOT PUBLISHED: verification failed: ${gate.reason}\n\n${table(gate.checks.map((c) => [c.name, c.ok ? "ok" : "FAIL", c.detail]), ["check", "ok", "detail"])}`);
      io.stderr(`kms-registry: publish: refusing to publish: ${gate.reason}\n`);
      return EXIT_FAIL;
    }
    if (!gate.genuine) io.stderr(`${NOT_GENUINE_WARNING}\n`);
    progress("verify", `ok: ${gate.status}${gate.genuine ? "" : " (NOT GENUINE)"}; KMS address ${gate.kmsAddress}`);

    // chain
    const { conn, record } = await connectToRegistry(ctx, rpc, registry);
    progress("chain", `chain ${conn.chainId}${record ? `, deployment record block ${record.block}` : ", no deployment record for this registry (scanning from block 0)"}`);

    const { publishKms, defaultStateDir } = await import("../../registry/publish.js");
    const r = await publishKms({
      publicClient: conn.publicClient,
      walletClient: walletFor(conn, account),
      registry,
      identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote },
      fromBlock: BigInt(record?.block ?? 0),
      confirmations: conf,
      journalDir: journalOpt !== undefined ? abs(journalOpt) : defaultStateDir(io.env),
      dryRun: ctx.values["dry-run"] === true,
      onProgress: progress,
    });
    if (ctx.json) {
      printJson(io, {
        ok: true,
        ...r,
        genuine: gate.genuine,
        verification: { verdict: gate.report.verdict, status: gate.status, genuine: gate.genuine, checks: gate.checks },
      });
    } else {
      const lines = [r.message];
      if (r.txHash) lines.push(`  tx hash:  ${r.txHash}`);
      if (r.gasUsed !== undefined) lines.push(`  gas used: ${r.gasUsed}`);
      if (r.estimatedGas !== undefined) lines.push(`  estimated gas: ${r.estimatedGas}`);
      lines.push(`  KMS ${r.kms}, quote hash ${r.quoteHash}${gate.genuine ? "" : "  [NOT GENUINE: simulated root]"}`);
      io.stdout(lines.join("\n") + "\n");
    }
    return EXIT_OK;
  },
};
