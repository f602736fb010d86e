/**
 * `kms-registry watch --registry ADDR --rpc URL [--confirmations N] [--interval S] [--webhook URL]
 *   [--state FILE] [--collateral-warn-days D] [--liveness-max-age S] [--pccs URL | --collateral FILE]`
 *
 * Follows the registry until SIGINT/SIGTERM (`src/watch/follow.ts`): one JSON line per finding on stdout, a
 * human line on stderr, a POST per finding to the webhook (`src/watch/webhook.ts`), the position and the
 * queue in the state file (`src/watch/state.ts`).
 */
import { UsageError, NetworkError, errorMessage, firstLine } from "../../core/errors.js";
import { escapeJsonControls } from "../../core/sanitize.js";
import { findingLine, makeFinding, type Finding } from "../../watch/finding.js";
import { follow, sleep, type WatchReverify } from "../../watch/follow.js";
import { freshState, readWatchState, writeWatchState, type WatchState } from "../../watch/state.js";
import { WebhookSender, parseWebhookUrl } from "../../watch/webhook.js";
import type { Connection } from "../../registry/connect.js";
import type { DeploymentRecord } from "../../registry/deployments.js";
import { EXIT_OK, optInteger, optString, type CommandContext, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { REGISTRY_OPTIONS, connectToRegistry, registryOptions, type RegistryTarget } from "../options/registry.js";
import { givenVerificationOptions, verificationOptionSpecs } from "../options/verification.js";
import { buildRegistrationVerifier } from "./audit.js";

/** A duration option in seconds (decimals allowed, e.g. `0.2`), within [min, max]. */
function optSeconds(ctx: CommandContext, name: string, min: number, max: number): number | undefined {
  const v = optString(ctx, name);
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v.trim())) throw new UsageError(`--${name} must be a number of seconds, got ${JSON.stringify(v.slice(0, 40))}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max} seconds, got ${v}`);
  return n;
}

const { at: _at, ...VERIFY_OPTIONS } = verificationOptionSpecs(" to re-verify each new registration");

/**
 * The re-verification of each new registration (`reverifyRegistration`): an SEV-SNP registration always, from the
 * VCEK and AMD chain it published at its block time (to AMD's pinned ARK, or the test ARK of --root-ca); an AWS
 * Nitro Enclave registration always, from the document it registered, which carries its certificate chain, at
 * its timestamp (to AWS's pinned Nitro Enclaves Root-G1, or the test root of --root-ca); a TDX
 * one with --collateral or --pccs (the collateral it published at its block time, else the given one at the
 * chain time of the blocks being processed), with the collateral's expiry.
 */
async function watchReverify(ctx: CommandContext): Promise<WatchReverify> {
  const withCollateral = optString(ctx, "collateral") !== undefined || optString(ctx, "pccs") !== undefined;
  if (!withCollateral) {
    const stray = givenVerificationOptions(ctx).filter((o) => o !== "root-ca");
    if (stray.length) throw new UsageError(`${stray.map((o) => `--${o}`).join(", ")} only ${stray.length === 1 ? "applies" : "apply"} with --collateral or --pccs`);
  }
  let now = 0;
  const verify = await buildRegistrationVerifier(ctx, { now: () => now });
  return async (quote, c) => {
    if (c.platform === "tdx" && !withCollateral) return undefined;
    now = c.now;
    const v = await verify(c.platform, { quote, blockTimestamp: c.blockTimestamp, ...(c.collateral ? { collateral: c.collateral } : {}), ...(c.snpEvidence ? { snpEvidence: c.snpEvidence } : {}) });
    // an SEV-SNP VCEK's notAfter is no collateral expiry (AMD publishes no TCB status to go stale)
    const expiry = v.platform === "tdx" && v.status !== null ? v.validUntil : null;
    return { ok: v.ok, detail: v.summary, ...(expiry !== null ? { collateralExpiry: expiry } : {}) };
  };
}

/** Connect, retrying while the RPC is unreachable (a monitor started before its node); other errors are final. */
async function connectRetrying(target: RegistryTarget, log: (l: string) => void, maxBackoffMs: number, signal: AbortSignal): Promise<{ conn: Connection; record: DeploymentRecord | undefined } | undefined> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await connectToRegistry(target, "exists");
    } catch (e) {
      const unreachable = e instanceof NetworkError && e.code === "RPC_UNREACHABLE";
      if (!unreachable) throw e;
      const delay = Math.min(500 * 2 ** (attempt - 1), maxBackoffMs);
      log(`[watch] ${firstLine(errorMessage(e))}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, signal);
    }
  }
  return undefined;
}

export const watchCommand: CommandSpec = {
  synopsis:
    "--registry ADDR --rpc URL [--confirmations N] [--interval S] [--webhook URL] [--state FILE] [--collateral-warn-days D] [--liveness-max-age S] [--pccs URL | --collateral FILE]",
  help: [
    "Follows the registry as blocks arrive, until Ctrl-C / SIGTERM (then it saves its state and exits 0). A block is",
    "processed once it has N confirmations (--confirmations, default 1 = the head block). Each registration is",
    "re-checked (quote hash, KMS address, key binding) and, with --collateral or --pccs, fully re-verified (an",
    "SEV-SNP registration always is: from the VCEK and AMD chain it published, to AMD's pinned ARK or the test",
    "ARK of --root-ca, NOT GENUINE; so is an AWS Nitro Enclave registration: from the document it registered, to",
    "AWS's pinned Nitro Enclaves Root-G1 or the test root of --root-ca, NOT GENUINE); every",
    "audit anomaly is raised; warnings come before trouble: collateral that stops being valid within D days",
    "(--collateral-warn-days, default 7), no liveness proof for longer than S seconds (--liveness-max-age).",
    "Output: one JSON line per finding on stdout ({schema, id, kind, severity, kms, block, blockHash, tx, message,",
    "registry, chainId}), a human line on stderr, and an HTTP POST of the same JSON to --webhook (queued, retried).",
    "A reorg of processed blocks retracts their findings (kind retracted, retracts = the original id).",
    "--state FILE keeps the position (and the webhook queue) across restarts; without it the watch starts at",
    "--from-block (default: the deployment record's block, else 0) each time.",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    confirmations: { type: "string", valueName: "N", description: "process a block once it has N confirmations (default 1)" },
    interval: { type: "string", valueName: "S", description: "seconds between polls of the chain head (default 4; decimals allowed)" },
    webhook: { type: "string", valueName: "URL", description: "POST each finding's JSON here (retried, bounded queue)" },
    "webhook-queue": { type: "string", valueName: "N", description: "most findings queued for the webhook (default 1000)" },
    state: { type: "string", valueName: "FILE", description: "where the position and the webhook queue are kept across restarts" },
    "from-block": { type: "string", valueName: "N", description: "first block without a state file (default: the deployment block, else 0)" },
    "collateral-warn-days": { type: "string", valueName: "D", description: "warn when a KMS's collateral expires within D days (default 7)" },
    "liveness-max-age": { type: "string", valueName: "S", description: "warn when an active KMS has no liveness proof for S seconds" },
    "max-backoff": { type: "string", valueName: "S", description: "longest wait between retries of the RPC and of the webhook (default 60)" },
    ...VERIFY_OPTIONS,
  },
  async run(ctx) {
    const { io } = ctx;
    const target = registryOptions(ctx);
    const confirmations = optInteger(ctx, "confirmations", { min: 1, max: 10_000 }) ?? 1;
    const intervalMs = (optSeconds(ctx, "interval", 0.05, 3600) ?? 4) * 1000;
    const maxBackoffMs = (optSeconds(ctx, "max-backoff", 0.1, 3600) ?? 60) * 1000;
    const warnDays = optInteger(ctx, "collateral-warn-days", { min: 0, max: 3650 }) ?? 7;
    const livenessMaxAge = optInteger(ctx, "liveness-max-age", { min: 1 });
    const fromOpt = optInteger(ctx, "from-block", { min: 0 });
    const maxQueue = optInteger(ctx, "webhook-queue", { min: 1, max: 1_000_000 }) ?? 1000;
    const webhookRaw = optString(ctx, "webhook");
    const webhook = webhookRaw !== undefined ? parseWebhookUrl(webhookRaw) : undefined;
    const statePath = optString(ctx, "state") !== undefined ? resolvePath(io, optString(ctx, "state")!) : undefined;
    const reverify = await watchReverify(ctx);

    const stop = new AbortController();
    let signals = 0;
    const off = io.onSignal?.(() => {
      if (++signals === 1) io.stderr("[watch] stopping: saving the state\n");
      stop.abort();
    });
    const log = (l: string) => io.stderr(l + "\n");
    let sender: WebhookSender | undefined;
    try {
      const connected = await connectRetrying(target, log, maxBackoffMs, stop.signal);
      if (!connected) return EXIT_OK;
      const { conn, record } = connected;
      const chainId = conn.chainId;
      const head = Number(await conn.publicClient.getBlockNumber({ cacheTime: 0 }));
      const read = statePath ? await readWatchState(statePath, target.registry, chainId) : undefined;
      const fromBlock = fromOpt ?? record?.block ?? 0;
      if (!read && fromBlock > head + 1) throw new UsageError(`--from-block ${fromBlock} is past the chain head (block ${head})`);
      const state: WatchState = read ?? freshState(target.registry, chainId, fromBlock);
      const lastPoint = () => state.blocks.at(-1) ?? { number: Math.max(state.nextBlock - 1, 0), hash: `0x${"00".repeat(32)}` as const };
      const print = (f: Finding) => {
        io.stdout(escapeJsonControls(JSON.stringify(f)) + "\n");
        io.stderr(findingLine(f) + "\n");
      };
      if (webhook) {
        sender = new WebhookSender({
          target: webhook,
          maxQueue,
          baseDelayMs: Math.min(intervalMs, 1000),
          maxDelayMs: maxBackoffMs,
          log,
          initial: state.webhook,
          droppedFinding: (n, first) => {
            const p = lastPoint();
            return makeFinding(target.registry, chainId, {
              kind: "webhook-dropped",
              severity: "warning",
              kms: null,
              block: p.number,
              blockHash: p.hash,
              tx: null,
              key: `${first}:${n}`,
              dropped: n,
              message: `${n} finding${n === 1 ? " was" : "s were"} dropped from the webhook queue (bound ${maxQueue}) while ${webhook.shown} was unreachable, the first ${first}; they were printed on stdout`,
            });
          },
          onDroppedDelivered: print,
        });
        sender.start();
      }
      const save = statePath
        ? async (s: WatchState) => {
            if (sender) s.webhook = sender.snapshot();
            await writeWatchState(statePath, s);
          }
        : undefined;
      // an unwritable state file is an input error now, not after the first findings
      if (save) await save(state);
      log(
        `[watch] following ${target.registry} on chain ${chainId} from block ${state.nextBlock} (head ${head}, ${confirmations} confirmation${confirmations === 1 ? "" : "s"}, every ${intervalMs / 1000} s)` +
          `${optString(ctx, "collateral") !== undefined || optString(ctx, "pccs") !== undefined ? ", re-verifying quotes" : ", re-verifying SEV-SNP and AWS Nitro Enclave registrations"}${webhook ? `, webhook ${webhook.shown}` : ""}${statePath ? `, state ${statePath}` : ""}${read ? " (resumed)" : ""}`,
      );
      await follow({
        publicClient: conn.publicClient,
        registry: target.registry,
        chainId,
        state,
        confirmations,
        intervalMs,
        maxBackoffMs,
        collateralWarnDays: warnDays,
        ...(livenessMaxAge !== undefined ? { livenessMaxAgeS: livenessMaxAge } : {}),
        reverify,
        emit: (f) => {
          print(f);
          sender?.enqueue(f);
        },
        log,
        ...(save ? { save } : {}),
        ...(sender ? { dirty: () => sender!.takeChanged() } : {}),
        signal: stop.signal,
      });
      log(`[watch] stopped at block ${state.nextBlock - 1}${sender ? `; ${sender.pending} finding${sender.pending === 1 ? "" : "s"} queued for the webhook` : ""}`);
      return EXIT_OK;
    } finally {
      sender?.stop();
      off?.();
    }
  },
};
