/**
 * The end-to-end demo: a simulated KMS and a real JSON-RPC node as child processes on free loopback
 * ports, then bootstrap → pull → verify (NOT GENUINE: simulated root) → deploy → publish → prove
 * liveness → app key / env key / key chain checked off and on chain → audit with re-verification.
 *
 * Library code: reports through `log`, never prints, never exits. Every child process is stopped when
 * the demo ends, fails, or `signal` aborts. A failure is a `DemoStageError` naming the stage.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { KmsRegistryError } from "../core/errors.js";
import type { Hex } from "../core/bytes.js";

export const DEMO_STAGES = [
  "start-kms",
  "start-node",
  "bootstrap",
  "pull",
  "verify",
  "deploy",
  "publish",
  "prove-liveness",
  "app-key",
  "env-key",
  "key-chain",
  "audit",
] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];

export class DemoStageError extends KmsRegistryError {
  readonly stage: DemoStage;
  constructor(stage: DemoStage, message: string, options?: { cause?: unknown }) {
    super("DEMO_STAGE_FAILED", `demo failed at stage "${stage}": ${message}`, options);
    this.stage = stage;
  }
}

export interface DemoSummary {
  genuine: false;
  workDir: string;
  kmsUrl: string;
  rpcUrl: string;
  chainId: number;
  registry: Hex;
  kms: Hex;
  tcbStatus: string;
  intelRootRejects: boolean;
  publish: { status: string; txHash: Hex | null; gasUsed: string | null };
  republish: { status: string };
  liveness: { txHash: Hex; gasUsed: string; appId: Hex; epoch: string };
  appKey: { appId: Hex; appPubkey: Hex; valid: boolean };
  envKey: { valid: boolean };
  keyChain: { purpose: string; derivedAddress: Hex; valid: boolean };
  audit: { kms: number; events: number; anomalies: number; reverified: number };
  stagesMs: Partial<Record<DemoStage, number>>;
}

export interface DemoOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Keep the temporary directory (certs, deployments) after the demo. */
  keepWorkDir?: boolean;
  /** Starts the JSON-RPC node (default: `startDevNode`, a `hardhat node` child process). Tests inject faults here. */
  startNode?: () => Promise<{ url: string; stop: () => Promise<void> }>;
}

interface Started {
  child: ChildProcess;
  tail: () => string;
}

function startSimulator(bin: string, port: number, certsDir: string): Started {
  const child = spawn(process.execPath, [bin, "simulate-kms", "--port", String(port), "--host", "127.0.0.1", "--certs-dir", certsDir], {
    // the package root: a source checkout's tsx fallback finds the project's tsconfig there
    cwd: path.dirname(path.dirname(bin)),
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let buf = "";
  const keep = (d: Buffer) => (buf = (buf + d.toString("utf8")).slice(-2000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, tail: () => buf.trim().split("\n").slice(-3).join(" | ") };
}

async function waitHttp(url: string, child: ChildProcess, tail: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the process exited (${child.exitCode ?? child.signalCode}): ${tail() || "no output"}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} within ${timeoutMs} ms: ${tail() || "no output"}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with non-JSON`);
  }
  if (!res.ok || (typeof j === "object" && j !== null && "error" in j)) throw new Error(`${url} answered HTTP ${res.status}: ${String((j as { error?: unknown }).error ?? "").split("\n")[0]}`);
  return j as Record<string, unknown>;
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const t = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return t;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const log = opts.log ?? (() => {});
  const cleanups: (() => Promise<void>)[] = [];
  let stage: DemoStage = "start-kms";
  let begun = false;
  const stagesMs: DemoSummary["stagesMs"] = {};
  let t0 = Date.now();
  const begin = (s: DemoStage, what: string) => {
    if (opts.signal?.aborted) throw new DemoStageError(stage, "interrupted");
    if (begun) stagesMs[stage] = Date.now() - t0;
    begun = true;
    stage = s;
    t0 = Date.now();
    log(`[${s}] ${what}`);
  };
  const cleanup = async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()!();
      } catch {
        // keep cleaning up
      }
    }
  };
  const onAbort = () => void cleanup();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  let workDir = "";
  try {
    workDir = await mkdtemp(path.join(os.tmpdir(), "kms-registry-demo-"));
    if (!opts.keepWorkDir) cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const { packageRoot } = await import("../registry/deploy.js");
    const { freePort, startDevNode, stopChild, HARDHAT_DEV_ACCOUNT_0_KEY } = await import("../testing/devnode.js");
    const bin = path.join(packageRoot(), "bin", "kms-registry.js");

    begin("start-kms", "starting the simulated KMS (kms-registry simulate-kms) on a free loopback port");
    const kmsPort = await freePort();
    const sim = startSimulator(bin, kmsPort, path.join(workDir, "certs"));
    cleanups.push(() => stopChild(sim.child));
    const kmsUrl = `http://127.0.0.1:${kmsPort}`;
    await waitHttp(`${kmsUrl}/`, sim.child, sim.tail, 60_000);
    log(`        simulated KMS at ${kmsUrl} (onboard mode)`);

    begin("start-node", "starting a JSON-RPC node (hardhat node) on a free loopback port");
    const node = await (opts.startNode ?? startDevNode)();
    cleanups.push(() => node.stop());
    log(`        JSON-RPC node at ${node.url}`);

    begin("bootstrap", "Onboard.Bootstrap through the KMS's HTTP API, then /finish");
    const boot = await postJson(`${kmsUrl}/prpc/Onboard.Bootstrap?json`, { domain: "kms.demo.localhost" });
    if (typeof boot.k256_pubkey !== "string") throw new Error("Bootstrap answered without k256_pubkey");
    await getText(`${kmsUrl}/finish`);
    await waitHttp(`${kmsUrl}/prpc/KMS.GetMeta`, sim.child, sim.tail, 20_000);

    begin("pull", "KMS.GetMeta → bootstrap info");
    const now = Math.floor(Date.now() / 1000);
    const { pullBootstrap } = await import("../kms/pull.js");
    const pulled = await pullBootstrap({ kms: kmsUrl }, { now });
    const info = pulled.info;
    if (!info.quote) throw new Error("the KMS's bootstrap info has no quote");
    const { ethAddress } = await import("../dstack/signatures.js");
    const { getAddress } = await import("viem");
    const kmsAddress = getAddress(ethAddress(info.k256Pubkey)) as Hex;
    log(`        KMS root key address ${kmsAddress}`);

    begin("verify", "quote under the SIMULATED root with the simulator's collateral, key binding, event log");
    const { certificateDerFromFile } = await import("../dcap/x509.js");
    const { parseCollateralJson } = await import("../dcap/collateral.js");
    const rootCaDer = certificateDerFromFile(new TextEncoder().encode(await getText(`${kmsUrl}/sim/dcap-root-ca.pem`)), "simulated root CA");
    const collateral = parseCollateralJson(await getText(`${kmsUrl}/sim/collateral.json`));
    const { verifyForPublish } = await import("../workflows/publish-kms.js");
    const gate = await verifyForPublish(info, { collateral, now, rootCaDer, accept: ["UpToDate", "SWHardeningNeeded"], allowSimulatedRoot: true, sourceChecks: pulled.checks });
    if (!gate.ok) throw new Error(gate.reason ?? "verification failed");
    const intel = await verifyForPublish(info, { collateral, now, accept: ["UpToDate", "SWHardeningNeeded"] });
    if (intel.ok) throw new Error("the simulated quote verified under Intel's root — it must not");
    log(`        verified: ${gate.status}, ${gate.checks.length} checks ok — NOT GENUINE (simulated root); under Intel's root it is rejected`);

    begin("deploy", "deploying KmsRegistry with Hardhat's dev account #0");
    const { accountFromEnv, connect, walletFor } = await import("../registry/connect.js");
    const conn = await connect(node.url);
    const wallet = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY }));
    const { deployRegistry, recordOf } = await import("../registry/deploy.js");
    const { writeDeployment } = await import("../registry/deployments.js");
    const { packageVersion } = await import("../core/version.js");
    const dep = await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, toolVersion: packageVersion() });
    await writeDeployment(path.join(workDir, "deployments"), recordOf(dep));
    log(`        KmsRegistry at ${dep.address} (block ${dep.block}, gas ${dep.gasUsed})`);

    begin("publish", "register(caPubkey, k256Pubkey, quote)");
    const { publishKms } = await import("../registry/publish.js");
    const pubOpts = {
      publicClient: conn.publicClient,
      walletClient: wallet,
      registry: dep.address,
      identity: { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote },
      fromBlock: BigInt(dep.block),
      journalDir: path.join(workDir, "state"),
    };
    const pub = await publishKms(pubOpts);
    if (pub.status !== "registered") throw new Error(`expected a new registration, got ${pub.status}`);
    log(`        ${pub.message}`);
    const again = await publishKms(pubOpts);
    if (again.status !== "already-registered") throw new Error(`publishing the same quote again should be a no-op, got ${again.status}`);
    log(`        re-run: ${again.message}`);

    begin("prove-liveness", "livenessChallengeAt(kms, epoch) → KMS.GetAppEnvEncryptPubKey → proveLiveness");
    const { proveLiveness } = await import("../workflows/prove-liveness.js");
    const live = await proveLiveness({ publicClient: conn.publicClient, walletClient: wallet, registry: dep.address, kms: kmsAddress, kmsUrl });
    log(`        liveness proven: challenge ${live.appId} (epoch ${live.epoch}), tx ${live.txHash}, gas ${live.gasUsed}`);

    const { hexToBytes, bytesToHex } = await import("../core/bytes.js");
    const check = await import("../registry/check-signature.js");
    const appId = new Uint8Array(randomBytes(20));
    begin("app-key", "simulator-only Sim.GetAppKey: app key signed by the KMS root, checked off and on chain");
    const ak = await postJson(`${kmsUrl}/prpc/Sim.GetAppKey?json`, { app_id: bytesToHex(appId).slice(2) });
    const appPubkey = hexToBytes(String(ak.app_pubkey), "app_pubkey");
    const akr = await check.checkAppKeySignature({ publicClient: conn.publicClient, registry: dep.address, appId, appPubkey, signature: hexToBytes(String(ak.k256_signature), "k256_signature") });
    if (!akr.valid) throw new Error(`app-key signature: off chain ${akr.offChain.detail}; on chain ${akr.onChain.detail}`);
    log(`        app key ${bytesToHex(appPubkey)} for app ${bytesToHex(appId)}: valid off and on chain`);

    begin("env-key", "KMS.GetAppEnvEncryptPubKey signature_v1 checked off and on chain");
    const { getAppEnvEncryptPubKey } = await import("../kms/client.js");
    const env = await getAppEnvEncryptPubKey(kmsUrl, appId);
    const ekr = await check.checkEnvKeySignature({ publicClient: conn.publicClient, registry: dep.address, appId, publicKey: env.publicKey, timestamp: env.timestamp, signature: env.signatureV1 });
    if (!ekr.valid) throw new Error(`env-key signature: off chain ${ekr.offChain.detail}; on chain ${ekr.onChain.detail}`);
    log(`        env key ${bytesToHex(env.publicKey)}: valid off and on chain`);

    begin("key-chain", "simulator-only Sim.GetKey: derived key chain [D, A] checked off and on chain");
    const purpose = "signing";
    const gk = await postJson(`${kmsUrl}/prpc/Sim.GetKey?json`, { app_id: bytesToHex(appId).slice(2), path: "wallet/eth", purpose });
    const chainSigs = gk.signature_chain as string[];
    const kcr = await check.checkKeyChain({
      publicClient: conn.publicClient,
      registry: dep.address,
      appId,
      purpose,
      derivedPubkey: hexToBytes(String(gk.public_key), "public_key"),
      derivedSignature: hexToBytes(chainSigs[0]!, "signature_chain[0]"),
      appSignature: hexToBytes(chainSigs[1]!, "signature_chain[1]"),
    });
    if (!kcr.valid) throw new Error(`key chain: off chain ${kcr.offChain.detail}; on chain ${kcr.onChain.detail}`);
    log(`        derived key ${kcr.onChain.derivedSigner} (purpose "${purpose}"): valid off and on chain`);

    begin("audit", "replaying every registry event and re-verifying every quote (simulated root)");
    const { auditRegistry } = await import("../registry/audit.js");
    const { checkQuote } = await import("../dcap/verify.js");
    const audit = await auditRegistry({
      publicClient: conn.publicClient,
      registry: dep.address,
      fromBlock: BigInt(dep.block),
      reverify: async (quote) => {
        const out = checkQuote(quote, { collateral, now, rootCaDer });
        return out.ok ? { ok: true, detail: `verified: ${out.result.status} (NOT GENUINE: simulated root)` } : { ok: false, detail: out.error.message };
      },
    });
    if (audit.anomalies.length) throw new Error(`audit found ${audit.anomalies.length} anomalies: ${audit.anomalies.map((a) => `${a.kind}: ${a.detail}`).join("; ")}`);
    const k = audit.kms[0];
    if (audit.kms.length !== 1 || !k || k.status !== "active" || k.livenessProofs.length !== 1) throw new Error("audit state does not match what the demo did");
    log(`        ${audit.kms.length} KMS, ${audit.events} events, every check ok, no anomalies`);
    stagesMs[stage] = Date.now() - t0;

    return {
      genuine: false,
      workDir,
      kmsUrl,
      rpcUrl: node.url,
      chainId: conn.chainId,
      registry: dep.address,
      kms: kmsAddress,
      tcbStatus: String(gate.status),
      intelRootRejects: !intel.ok,
      publish: { status: pub.status, txHash: pub.txHash ?? null, gasUsed: pub.gasUsed?.toString() ?? null },
      republish: { status: again.status },
      liveness: { txHash: live.txHash, gasUsed: live.gasUsed.toString(), appId: live.appId, epoch: live.epoch.toString() },
      appKey: { appId: bytesToHex(appId), appPubkey: bytesToHex(appPubkey), valid: akr.valid },
      envKey: { valid: ekr.valid },
      keyChain: { purpose, derivedAddress: kcr.onChain.derivedSigner!, valid: kcr.valid },
      audit: { kms: audit.kms.length, events: audit.events, anomalies: audit.anomalies.length, reverified: k.checks.filter((c) => c.name === "reverify" && c.ok).length },
      stagesMs,
    };
  } catch (e) {
    if (e instanceof DemoStageError) throw e;
    const msg = opts.signal?.aborted ? "interrupted" : e instanceof Error ? e.message.split("\n")[0]! : String(e);
    throw new DemoStageError(stage, msg, { cause: e });
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await cleanup();
  }
}
