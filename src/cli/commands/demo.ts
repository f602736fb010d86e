/** `kms-registry demo [--keep] [--json]` — the whole flow end to end on a simulated KMS and a local chain. */
import { DemoStageError, runDemo } from "../../demo/run.js";
import { EXIT_FAIL, EXIT_OK, optFlag, type CommandSpec } from "../framework.js";
import { printJson } from "../output.js";

export const demoCommand: CommandSpec = {
  synopsis: "[--keep] [--json]",
  help: [
    "Starts a simulated dstack KMS (kms-registry simulate-kms) and a real JSON-RPC node (hardhat node) as child",
    "processes on free loopback ports, bootstraps the KMS through its HTTP API, pulls and verifies its bootstrap",
    "info (NOT GENUINE: the quote is made under a simulated root), deploys the registry, publishes the KMS,",
    "proves liveness, checks a KMS-issued app key, an env-encrypt key and a derived key chain off and on chain,",
    "and audits the registry. Every process is stopped at the end, on failure and on Ctrl-C. Exit 0 on success;",
    "1 with the failing stage named otherwise. Needs a source checkout (hardhat is a development dependency).",
  ].join("\n"),
  options: {
    keep: { type: "boolean", description: "keep the temporary work directory (certs dir, deployment record)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const ac = new AbortController();
    const off = io.onSignal?.(() => {
      if (ac.signal.aborted) return;
      io.stderr("\n[demo] interrupted: stopping every process…\n");
      ac.abort();
    });
    const started = Date.now();
    try {
      const s = await runDemo({ log: (l) => io.stderr(`${l}\n`), signal: ac.signal, keepWorkDir: optFlag(ctx, "keep") });
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (ctx.json) printJson(io, { ok: true, seconds: Number(secs), ...s });
      else {
        io.stdout(
          [
            "",
            `Demo complete in ${secs} s — every stage passed. NOT GENUINE: the KMS quote was made under a simulated root.`,
            `  KMS             ${s.kms}  (${s.kmsUrl}, TCB ${s.tcbStatus}; Intel's root rejects it: ${s.intelRootRejects ? "yes" : "NO"})`,
            `  chain           ${s.chainId} at ${s.rpcUrl}`,
            `  registry        ${s.registry}`,
            `  publish         ${s.publish.status}, tx ${s.publish.txHash}, gas ${s.publish.gasUsed}; re-run: ${s.republish.status}`,
            `  liveness        tx ${s.liveness.txHash}, gas ${s.liveness.gasUsed}`,
            `  app key         ${s.appKey.appPubkey} for app ${s.appKey.appId}: valid off and on chain`,
            `  env key         valid off and on chain`,
            `  key chain       derived ${s.keyChain.derivedAddress} (${s.keyChain.purpose}): valid off and on chain`,
            `  audit           ${s.audit.kms} KMS, ${s.audit.events} events, ${s.audit.reverified} quote(s) re-verified, ${s.audit.anomalies} anomalies`,
            `  on-chain path   NOT GENUINE: simulated root — registerVerified by ${s.onChain.registeredBy} (no role) on ${s.onChain.registry}: ${s.onChain.tcbStatus}, gas ${s.onChain.gasUsed}, isVerifiedOnChain ${s.onChain.isVerifiedOnChain}`,
            ...(optFlag(ctx, "keep") ? [`  work dir        ${s.workDir}`] : []),
            "",
          ].join("\n"),
        );
      }
      return EXIT_OK;
    } catch (e) {
      if (e instanceof DemoStageError) {
        if (ctx.json) printJson(io, { ok: false, stage: e.stage, error: { code: e.code, message: e.message } });
        io.stderr(`kms-registry: demo: ${e.message}\n`);
        if (io.env.KMS_REGISTRY_DEBUG && e.cause instanceof Error && e.cause.stack) io.stderr(e.cause.stack + "\n");
        return EXIT_FAIL;
      }
      throw e;
    } finally {
      off?.();
    }
  },
};
