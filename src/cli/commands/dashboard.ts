/**
 * `kms-registry dashboard --registry ADDR --rpc URL [--port N] [--host 127.0.0.1 [--allow-remote]]
 *   [--pccs URL | --collateral FILE] [--root-ca FILE] [--accept S,...] [--explorer TEMPLATE] [--from-block N]
 *   [--interval S]`
 *
 * Serves the auditor's dashboard (`src/dashboard`) until SIGINT/SIGTERM.
 */
import { UsageError } from "../../core/errors.js";
import { oneLine, redactUrl, secretRedactor } from "../../core/sanitize.js";
import type { AuditProgress } from "../../registry/audit.js";
import { LiveRegistry, isLoopbackHost, reverifyResultOf, startDashboardServer, type QuoteVerifier, type RegistryHeader } from "../../dashboard/index.js";
import { EXIT_OK, optFlag, optInteger, optString, type CommandContext, type CommandSpec } from "../framework.js";
import { REGISTRY_OPTIONS, connectToRegistry, registryOptions } from "../options/registry.js";
import { readRootCaDer, verificationOptionSpecs, verificationOptions } from "../options/verification.js";
import { buildRegistrationVerifier, evidenceOf } from "./audit.js";

const { at: _at, ...VERIFICATION_OPTIONS } = verificationOptionSpecs(" for re-verifying every quote");

/**
 * Full re-verification of each registration (`reverifyRegistration`, as `audit --reverify`): a TDX registration
 * that published its collateral on chain (registerVerified, registerWithCollateral) with exactly that, at its
 * block time; another with the `--collateral` file or the `--pccs` collateral at the time of the check; an
 * SEV-SNP registration with the VCEK and AMD chain it published, at its block time.
 */
async function buildVerifier(ctx: CommandContext, rootCaDer: Uint8Array | undefined): Promise<{ verify: QuoteVerifier; label: string }> {
  const opts = verificationOptions(ctx);
  const label = `${opts.collateral.kind === "file" ? "collateral file" : `collateral from ${redactUrl(opts.collateral.url)}`}, accepted ${opts.accept.join(", ")}${rootCaDer ? ", root from --root-ca (NOT GENUINE)" : ", Intel root"}; a registration that published collateral on chain is verified with it at its block time`;
  const reverify = await buildRegistrationVerifier(ctx, { now: () => Math.floor(Date.now() / 1000) });
  const verify: QuoteVerifier = async (quote, rc) => reverifyResultOf(await reverify(rc.registration.platform, { quote, blockTimestamp: rc.blockTimestamp, ...evidenceOf(rc) }));
  return { verify, label };
}

/** `--explorer` must be an http(s) URL template containing `{tx}`. */
function explorerOption(ctx: CommandContext): string | undefined {
  const t = optString(ctx, "explorer");
  if (t === undefined) return undefined;
  let ok: boolean;
  try {
    const u = new URL(t.replaceAll("{tx}", "0x00").replaceAll("{address}", "0x00"));
    ok = u.protocol === "http:" || u.protocol === "https:";
  } catch {
    ok = false;
  }
  if (!ok || !t.includes("{tx}")) throw new UsageError(`--explorer must be an http(s) URL template with {tx}, e.g. https://etherscan.io/tx/{tx}; got ${JSON.stringify(t.slice(0, 80))}`);
  return t;
}

export const dashboardCommand: CommandSpec = {
  synopsis:
    "--registry ADDR --rpc URL [--port N] [--host 127.0.0.1 [--allow-remote]] [--pccs URL | --collateral FILE] [--root-ca FILE] [--accept S,...] [--explorer TEMPLATE] [--from-block N] [--interval S]",
  help: [
    "Serves a local web page for auditors, built from the same rebuilt state as `audit` (every KmsRegistered /",
    "KmsRevoked / KmsLivenessProven event since the deployment block, each registration's checks, the anomalies):",
    "an overview with one row per KMS and a page per KMS (timeline, measurements, key binding, verification trail).",
    "New events appear without reloading (server-sent events at /api/events; the page itself works without",
    "JavaScript). The same data as JSON under /api/ (see /api). With --pccs or --collateral every quote is also",
    "fully re-verified (DCAP chain, collateral, TCB status) as `audit --reverify` does: with the collateral a",
    "registration published on chain at its block time, else the given one now. SEV-SNP registrations show their",
    "platform, measurement, host_data, chip id, reported TCB and whether the VCEK and AMD chain they published end",
    "at AMD's pinned ARK (genuine) or a test ARK (NOT GENUINE). --explorer links transactions, e.g.",
    "'https://etherscan.io/tx/{tx}'. Listens on 127.0.0.1 (loopback) by default; another --host needs",
    "--allow-remote (the dashboard has no authentication). Stops on Ctrl-C.",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    port: { type: "string", valueName: "N", description: "TCP port (default 8580; 0 = any free port)" },
    host: { type: "string", valueName: "ADDR", description: "listen address (default 127.0.0.1)" },
    "allow-remote": { type: "boolean", description: "allow a --host that is not a loopback address" },
    explorer: { type: "string", valueName: "TEMPLATE", description: "transaction link template with {tx}" },
    "from-block": { type: "string", valueName: "N", description: "first block to read (default: the deployment record's block, else 0)" },
    interval: { type: "string", valueName: "S", description: "seconds between checks for a new block (default 2)" },
    ...VERIFICATION_OPTIONS,
  },
  async run(ctx) {
    const { io } = ctx;
    const target = registryOptions(ctx);
    const port = optInteger(ctx, "port", { min: 0, max: 65535 }) ?? 8580;
    const host = optString(ctx, "host") ?? "127.0.0.1";
    const loopback = isLoopbackHost(host);
    if (!loopback && !optFlag(ctx, "allow-remote")) {
      throw new UsageError(`--host ${host} is not a loopback address: other machines could read the dashboard (it has no authentication); add --allow-remote to do this on purpose`);
    }
    const explorer = explorerOption(ctx);
    const fromOpt = optInteger(ctx, "from-block", { min: 0 });
    const intervalS = optInteger(ctx, "interval", { min: 1, max: 3600 }) ?? 2;
    const wantsReverify = optString(ctx, "collateral") !== undefined || optString(ctx, "pccs") !== undefined;
    if (!wantsReverify) {
      const stray = ["accept"].filter((o) => optString(ctx, o) !== undefined);
      if (stray.length) throw new UsageError(`--${stray[0]} only applies with --collateral or --pccs`);
    }
    const rootCaDer = await readRootCaDer(io, optString(ctx, "root-ca"));
    const verifier = wantsReverify ? await buildVerifier(ctx, rootCaDer) : undefined;
    const { conn, record } = await connectToRegistry(target, "exists");
    const fromBlock = BigInt(fromOpt ?? record?.block ?? 0);
    const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
    if (fromBlock > head) throw new UsageError(`--from-block ${fromBlock} is past the chain head (block ${head})`);
    const deploymentSource: RegistryHeader["deploymentSource"] = fromOpt !== undefined ? "--from-block" : record ? "deployment record" : "not known (scanning from block 0)";
    const redact = secretRedactor([target.rpc, ...(optString(ctx, "pccs") ? [optString(ctx, "pccs")!] : [])]);
    let progress: (p: AuditProgress) => void = () => undefined;
    const live = new LiveRegistry({
      onProgress: (p) => progress(p),
      publicClient: conn.publicClient,
      registry: target.registry,
      fromBlock,
      deploymentSource,
      ...(verifier ? { verifyQuote: verifier.verify, reverifyLabel: verifier.label } : {}),
      ...(rootCaDer ? { rootCaDer } : {}),
      intervalMs: intervalS * 1000,
      redact: (t) => oneLine(redact(t)),
      onError: (m) => io.stderr(`[dashboard] refresh failed (keeping the last snapshot): ${m}\n`),
      onUpdate: (u) => {
        for (const e of u.events) io.stderr(`[dashboard] block ${e.block}: ${e.kind} ${e.kms}\n`);
      },
    });
    io.stderr(`[dashboard] reading registry ${target.registry} from block ${fromBlock}…\n`);
    let first = true;
    let lastPrint = Date.now();
    progress = (p) => {
      if (!first) return; // (later rebuilds are quick and repeat the same notes)
      if ("note" in p && p.note) io.stderr(`[dashboard] note: ${oneLine(p.note)}\n`);
      if (Date.now() - lastPrint < 1000) return;
      lastPrint = Date.now();
      if ("stage" in p) io.stderr(`[dashboard] ${p.stage}: ${p.done}/${p.total}\n`);
      else io.stderr(`[dashboard] scanned blocks ${p.fromBlock}…${p.scannedTo} of ${p.toBlock}\n`);
    };
    await live.start();
    first = false;
    let server;
    try {
      server = await startDashboardServer({ live, host, port, ...(explorer ? { explorer } : {}) });
    } catch (e) {
      await live.stop();
      throw e;
    }
    const snap = live.snapshot;
    if (!loopback) io.stderr(`WARNING: the dashboard listens on ${host}, reachable from other machines; it has no authentication.\n`);
    io.stdout(`dashboard: ${server.url}/ (registry ${snap.registry.address} on ${snap.registry.chainName}, ${snap.kms.length} KMS, block ${snap.registry.head}). Stop with Ctrl-C.\n`);
    await new Promise<void>((done) => {
      const off = io.onSignal?.(() => {
        off?.();
        done();
      });
    });
    await live.stop();
    await server.close();
    io.stderr("[dashboard] stopped\n");
    return EXIT_OK;
  },
};
