/**
 * The end-to-end demo: a simulated KMS and a real JSON-RPC node as child processes on free loopback
 * ports, then bootstrap → pull → verify (NOT GENUINE: simulated root) → deploy → publish → prove
 * liveness → app key / env key / key chain checked off and on chain → audit with re-verification → a
 * permissionless on-chain-verified registration (`registerVerified`, a DcapVerifier under the simulated root:
 * NOT GENUINE) in a second registry wired to that verifier.
 *
 * Library code: reports through `log`, never prints, never exits. Every child process is stopped when
 * the demo ends, fails, or `signal` aborts. A failure is a `DemoStageError` naming the stage.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { bytesToHex, bytesToPlainHex, hexToBytes, type Hex } from "../core/bytes.js";
import { KmsRegistryError, errorMessage, firstLine } from "../core/errors.js";
import { packageVersion } from "../core/version.js";
import { parseCollateralJson } from "../dcap/collateral.js";
import { DEFAULT_ACCEPTED_STATUSES, type Collateral } from "../dcap/types.js";
import { checkQuote } from "../dcap/verify.js";
import { certificateDerFromFile } from "../dcap/x509.js";
import { getAppEnvEncryptPubKey, kmsCall } from "../kms/client.js";
import { auditRegistry } from "../registry/audit.js";
import { checkAppKeySignature, checkEnvKeySignature, checkKeyChain } from "../registry/check-signature.js";
import { kmsAddressFromPubkey, readKms, readVerifiedOnChain } from "../registry/client.js";
import { accountFromEnv, connect, walletFor } from "../registry/connect.js";
import { deployRegistry, packageRoot, recordOf } from "../registry/deploy.js";
import { writeDeployment } from "../registry/deployments.js";
import { deployVerifier } from "../registry/onchain-verify.js";
import { publishKms, type KmsIdentity, type PublishResult } from "../registry/publish.js";
import { toOnChainCollateral } from "../registry/verifier.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, freePort, stopChild } from "../testing/devnode.js";
import { startEmbeddedNode } from "../testing/embedded-node.js";
import { proveLiveness, type LivenessResult } from "../workflows/prove-liveness.js";
import { publishKmsWorkflow, verifyForPublish, type GateResult, type RegistryTarget } from "../workflows/publish-kms.js";

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
  "onchain-verify",
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
  /** The permissionless on-chain-verified registration (NOT GENUINE: the verifier's root is the simulated one). */
  onChain: {
    genuine: false;
    verifier: Hex;
    registry: Hex;
    registeredBy: Hex;
    status: string;
    txHash: Hex | null;
    gasUsed: string | null;
    path: string;
    tcbStatus: string | null;
    intelRoot: boolean;
    isVerifiedOnChain: boolean;
  };
  stagesMs: Partial<Record<DemoStage, number>>;
}

export interface DemoOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Keep the temporary directory (certs, deployments) after the demo. */
  keepWorkDir?: boolean;
  /** Starts the JSON-RPC node (default: `startEmbeddedNode`, an EDR chain on hardfork osaka in a child process). Tests inject faults here. */
  startNode?: () => Promise<{ url: string; stop: () => Promise<void> }>;
}

/** How long one HTTP request of the demo to the simulated KMS may take (ms). */
const HTTP_TIMEOUT_MS = 30_000;

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

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const t = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return t;
}

/** A prpc call of the simulated KMS through the KMS client. */
async function simCall(kmsUrl: string, method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await kmsCall(kmsUrl, method, args, { timeoutMs: HTTP_TIMEOUT_MS })).result;
}

/** One run of the demo: its log, its stages and their timings, what to stop at the end. */
class DemoRun {
  stage: DemoStage = "start-kms";
  readonly stagesMs: DemoSummary["stagesMs"] = {};
  private begun = false;
  private t0 = Date.now();
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(
    readonly log: (line: string) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  begin(s: DemoStage, what: string): void {
    if (this.signal?.aborted) throw new DemoStageError(this.stage, "interrupted");
    if (this.begun) this.stagesMs[this.stage] = Date.now() - this.t0;
    this.begun = true;
    this.stage = s;
    this.t0 = Date.now();
    this.log(`[${s}] ${what}`);
  }

  end(): void {
    this.stagesMs[this.stage] = Date.now() - this.t0;
  }

  /** `detail` as an indented line under the current stage. */
  note(detail: string): void {
    this.log(`        ${detail}`);
  }

  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    while (this.cleanups.length) {
      try {
        await this.cleanups.pop()!();
      } catch {
        // keep cleaning up
      }
    }
  }
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoSummary> {
  const run = new DemoRun(opts.log ?? (() => {}), opts.signal);
  const onAbort = () => void run.cleanup();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const workDir = await mkdtemp(path.join(os.tmpdir(), "kms-registry-demo-"));
    if (!opts.keepWorkDir) run.onCleanup(() => rm(workDir, { recursive: true, force: true }));
    const sim = await startKms(run, workDir);
    const kmsUrl = sim.url;
    const node = await startNode(run, opts);
    await bootstrapKms(run, sim);
    const published = await pullVerifyDeployPublish(run, kmsUrl, node.url, workDir);
    const chain = { publicClient: published.target.publicClient, registry: published.target.registry };
    const live = await proveKmsLiveness(run, published, kmsUrl);
    const appId = new Uint8Array(randomBytes(20));
    const appKey = await checkAppKey(run, chain, kmsUrl, appId);
    const envKey = await checkEnvKey(run, chain, kmsUrl, appId);
    const keyChain = await checkDerivedKeyChain(run, chain, kmsUrl, appId);
    const audit = await auditWithReverification(run, chain, published);
    const onChain = await registerVerifiedOnChain(run, node.url, published, workDir);
    run.end();
    const { gate, target, pub, again } = published;
    return {
      genuine: false,
      workDir,
      kmsUrl,
      rpcUrl: node.url,
      chainId: target.publicClient.chain.id,
      registry: target.registry,
      kms: published.kms,
      tcbStatus: String(gate.status),
      intelRootRejects: published.intelRootRejects,
      publish: { status: pub.status, txHash: pub.txHash ?? null, gasUsed: pub.gasUsed?.toString() ?? null },
      republish: { status: again.status },
      liveness: { txHash: live.txHash, gasUsed: live.gasUsed.toString(), appId: live.appId, epoch: live.epoch.toString() },
      appKey,
      envKey,
      keyChain,
      audit,
      onChain,
      stagesMs: run.stagesMs,
    };
  } catch (e) {
    if (e instanceof DemoStageError) throw e;
    const msg = opts.signal?.aborted ? "interrupted" : firstLine(errorMessage(e));
    throw new DemoStageError(run.stage, msg, { cause: e });
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await run.cleanup();
  }
}

/** The simulated KMS, started in onboard mode. */
interface SimulatedKmsProcess extends Started {
  url: string;
}

async function startKms(run: DemoRun, workDir: string): Promise<SimulatedKmsProcess> {
  const bin = path.join(packageRoot(), "bin", "kms-registry.js");
  run.begin("start-kms", "starting the simulated KMS (kms-registry simulate-kms) on a free loopback port");
  const kmsPort = await freePort();
  const sim = startSimulator(bin, kmsPort, path.join(workDir, "certs"));
  run.onCleanup(() => stopChild(sim.child));
  const kmsUrl = `http://127.0.0.1:${kmsPort}`;
  await waitHttp(`${kmsUrl}/`, sim.child, sim.tail, 60_000);
  run.note(`simulated KMS at ${kmsUrl} (onboard mode)`);
  return { ...sim, url: kmsUrl };
}

async function startNode(run: DemoRun, opts: DemoOptions): Promise<{ url: string }> {
  run.begin("start-node", "starting a JSON-RPC node (Hardhat's EDR, hardfork osaka with the P-256 precompile) on a free loopback port");
  const node = await (opts.startNode ?? startEmbeddedNode)();
  run.onCleanup(() => node.stop());
  run.note(`JSON-RPC node at ${node.url}`);
  return node;
}

async function bootstrapKms(run: DemoRun, sim: SimulatedKmsProcess): Promise<void> {
  run.begin("bootstrap", "Onboard.Bootstrap through the KMS's HTTP API, then /finish");
  const boot = await simCall(sim.url, "Onboard.Bootstrap", { domain: "kms.demo.localhost" });
  if (typeof boot.k256_pubkey !== "string") throw new Error("Bootstrap answered without k256_pubkey");
  await getText(`${sim.url}/finish`);
  await waitHttp(`${sim.url}/prpc/KMS.GetMeta`, sim.child, sim.tail, 20_000);
}

interface Published {
  kms: Hex;
  gate: GateResult;
  intelRootRejects: boolean;
  collateral: Collateral;
  rootCaDer: Uint8Array;
  now: number;
  target: RegistryTarget;
  pub: PublishResult;
  again: PublishResult;
  identity: KmsIdentity;
  journalDir: string;
}

/**
 * The pull, verify, deploy and publish stages, as one run of `publishKmsWorkflow` (its hooks mark the stages;
 * the deploy happens when it connects), then the same publish again, which must send nothing.
 */
async function pullVerifyDeployPublish(run: DemoRun, kmsUrl: string, rpcUrl: string, workDir: string): Promise<Published> {
  run.begin("pull", "KMS.GetMeta → bootstrap info");
  const now = Math.floor(Date.now() / 1000);
  const rootCaDer = certificateDerFromFile(new TextEncoder().encode(await getText(`${kmsUrl}/sim/dcap-root-ca.pem`)), "simulated root CA");
  let intelRootRejects = false;
  const journalDir = path.join(workDir, "state");
  const r = await publishKmsWorkflow({
    source: { kms: kmsUrl },
    now,
    rootCaDer,
    loadCollateral: async () => parseCollateralJson(await getText(`${kmsUrl}/sim/collateral.json`)),
    accept: DEFAULT_ACCEPTED_STATUSES,
    allowSimulatedRoot: true,
    journalDir,
    onPulled: ({ info }) => {
      run.note(`KMS root key address ${kmsAddressFromPubkey(info.k256Pubkey)}`);
      run.begin("verify", "quote under the SIMULATED root with the simulator's collateral, key binding, event log");
    },
    onVerified: async ({ pulled, collateral, gate }) => {
      const intel = await verifyForPublish(pulled.info, { collateral, now, accept: DEFAULT_ACCEPTED_STATUSES });
      if (intel.ok) throw new Error("the simulated quote verified under Intel's root — it must not");
      intelRootRejects = true;
      run.note(`verified: ${gate.status}, ${gate.checks.length} checks ok — NOT GENUINE (simulated root); under Intel's root it is rejected`);
    },
    connect: () => deployRegistryForDemo(run, rpcUrl, workDir),
  });
  if (!r.ok) throw new Error(r.gate.reason ?? "verification failed");
  const { publish: pub, target } = r;
  if (pub.status !== "registered") throw new Error(`expected a new registration, got ${pub.status}`);
  run.note(pub.message);
  const again = await publishKms({
    publicClient: target.publicClient,
    walletClient: target.walletClient,
    registry: target.registry,
    identity: r.identity,
    fromBlock: BigInt(target.record?.block ?? 0),
    journalDir,
  });
  if (again.status !== "already-registered") throw new Error(`publishing the same quote again should be a no-op, got ${again.status}`);
  run.note(`re-run: ${again.message}`);
  return { kms: r.gate.kmsAddress, gate: r.gate, intelRootRejects, collateral: r.collateral!, rootCaDer, now, target, pub, again, identity: r.identity, journalDir };
}

/** The deploy stage, run when the publish workflow connects; the publish stage begins once the registry is recorded. */
async function deployRegistryForDemo(run: DemoRun, rpcUrl: string, workDir: string): Promise<RegistryTarget> {
  run.begin("deploy", "deploying KmsRegistry with Hardhat's dev account #0");
  const conn = await connect(rpcUrl);
  const walletClient = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY }));
  const dep = await deployRegistry({ publicClient: conn.publicClient, walletClient, toolVersion: packageVersion() });
  const record = recordOf(dep);
  await writeDeployment(path.join(workDir, "deployments"), record);
  run.note(`KmsRegistry at ${dep.address} (block ${dep.block}, gas ${dep.gasUsed})`);
  run.begin("publish", "register(caPubkey, k256Pubkey, quote)");
  return { publicClient: conn.publicClient, walletClient, registry: dep.address, record };
}

async function proveKmsLiveness(run: DemoRun, published: Published, kmsUrl: string): Promise<LivenessResult> {
  run.begin("prove-liveness", "livenessChallengeAt(kms, epoch) → KMS.GetAppEnvEncryptPubKey → proveLiveness");
  const { publicClient, walletClient, registry } = published.target;
  const live = await proveLiveness({ publicClient, walletClient, registry, kms: published.kms, kmsUrl });
  run.note(`liveness proven: challenge ${live.appId} (epoch ${live.epoch}), tx ${live.txHash}, gas ${live.gasUsed}`);
  return live;
}

type ChainView = Pick<RegistryTarget, "publicClient" | "registry">;

async function checkAppKey(run: DemoRun, chain: ChainView, kmsUrl: string, appId: Uint8Array): Promise<DemoSummary["appKey"]> {
  run.begin("app-key", "simulator-only Sim.GetAppKey: app key signed by the KMS root, checked off and on chain");
  const ak = await simCall(kmsUrl, "Sim.GetAppKey", { app_id: bytesToPlainHex(appId) });
  const appPubkey = hexToBytes(String(ak.app_pubkey), "app_pubkey");
  const r = await checkAppKeySignature({ ...chain, appId, appPubkey, signature: hexToBytes(String(ak.k256_signature), "k256_signature") });
  if (!r.valid) throw new Error(`app-key signature: off chain ${r.offChain.detail}; on chain ${r.onChain.detail}`);
  run.note(`app key ${bytesToHex(appPubkey)} for app ${bytesToHex(appId)}: valid off and on chain`);
  return { appId: bytesToHex(appId), appPubkey: bytesToHex(appPubkey), valid: r.valid };
}

async function checkEnvKey(run: DemoRun, chain: ChainView, kmsUrl: string, appId: Uint8Array): Promise<DemoSummary["envKey"]> {
  run.begin("env-key", "KMS.GetAppEnvEncryptPubKey signature_v1 checked off and on chain");
  const env = await getAppEnvEncryptPubKey(kmsUrl, appId);
  const r = await checkEnvKeySignature({ ...chain, appId, publicKey: env.publicKey, timestamp: env.timestamp, signature: env.signatureV1 });
  if (!r.valid) throw new Error(`env-key signature: off chain ${r.offChain.detail}; on chain ${r.onChain.detail}`);
  run.note(`env key ${bytesToHex(env.publicKey)}: valid off and on chain`);
  return { valid: r.valid };
}

async function checkDerivedKeyChain(run: DemoRun, chain: ChainView, kmsUrl: string, appId: Uint8Array): Promise<DemoSummary["keyChain"]> {
  run.begin("key-chain", "simulator-only Sim.GetKey: derived key chain [D, A] checked off and on chain");
  const purpose = "signing";
  const gk = await simCall(kmsUrl, "Sim.GetKey", { app_id: bytesToPlainHex(appId), path: "wallet/eth", purpose });
  const chainSigs = gk.signature_chain as string[];
  const r = await checkKeyChain({
    ...chain,
    appId,
    purpose,
    derivedPubkey: hexToBytes(String(gk.public_key), "public_key"),
    derivedSignature: hexToBytes(chainSigs[0]!, "signature_chain[0]"),
    appSignature: hexToBytes(chainSigs[1]!, "signature_chain[1]"),
  });
  if (!r.valid) throw new Error(`key chain: off chain ${r.offChain.detail}; on chain ${r.onChain.detail}`);
  run.note(`derived key ${r.onChain.derivedSigner} (purpose "${purpose}"): valid off and on chain`);
  return { purpose, derivedAddress: r.onChain.derivedSigner!, valid: r.valid };
}

async function auditWithReverification(run: DemoRun, chain: ChainView, published: Published): Promise<DemoSummary["audit"]> {
  run.begin("audit", "replaying every registry event and re-verifying every quote (simulated root)");
  const { collateral, now, rootCaDer } = published;
  const audit = await auditRegistry({
    ...chain,
    fromBlock: BigInt(published.target.record?.block ?? 0),
    reverify: async (quote) => {
      const out = checkQuote(quote, { collateral, now, rootCaDer });
      return out.ok ? { ok: true, detail: `verified: ${out.result.status} (NOT GENUINE: simulated root)` } : { ok: false, detail: out.error.message };
    },
  });
  if (audit.anomalies.length) throw new Error(`audit found ${audit.anomalies.length} anomalies: ${audit.anomalies.map((a) => `${a.kind}: ${a.detail}`).join("; ")}`);
  const k = audit.kms[0];
  if (audit.kms.length !== 1 || !k || k.status !== "active" || k.livenessProofs.length !== 1) throw new Error("audit state does not match what the demo did");
  run.note(`${audit.kms.length} KMS, ${audit.events} events, every check ok, no anomalies`);
  return { kms: audit.kms.length, events: audit.events, anomalies: audit.anomalies.length, reverified: k.checks.filter((c) => c.name === "reverify" && c.ok).length };
}

/**
 * The on-chain path next to the registrar path: a DcapVerifier deployed under the SIMULATED root, a second
 * KmsRegistry wired to it, and the same KMS registered there through the permissionless `registerVerified`
 * from an account that holds no role: the quote and its collateral are verified on chain at the block's time.
 * NOT GENUINE: the verifier's root is not Intel's, so `isVerifiedOnChain` stays false.
 */
async function registerVerifiedOnChain(run: DemoRun, rpcUrl: string, published: Published, workDir: string): Promise<DemoSummary["onChain"]> {
  run.begin("onchain-verify", "permissionless registerVerified: the quote verified ON CHAIN (NOT GENUINE: simulated root)");
  const conn = await connect(rpcUrl);
  const admin = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY }));
  const verifier = await deployVerifier(conn.publicClient, admin, published.rootCaDer);
  run.note(`DcapVerifier at ${verifier} — NOT GENUINE: its trust root is the simulated root, not Intel's (isIntelRoot false)`);
  const dep = await deployRegistry({ publicClient: conn.publicClient, walletClient: admin, verifier: { address: verifier }, toolVersion: packageVersion() });
  await writeDeployment(path.join(workDir, "deployments-onchain"), recordOf(dep));
  run.note(`second KmsRegistry at ${dep.address}, wired to that verifier`);
  // Hardhat's dev account #1, which holds no role on either registry: the on-chain path needs none
  const anyone = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }));
  const pub = await publishKms({
    publicClient: conn.publicClient,
    walletClient: anyone,
    registry: dep.address,
    identity: published.identity,
    fromBlock: BigInt(dep.block),
    journalDir: published.journalDir,
    onChain: { collateral: toOnChainCollateral(published.identity.quote, published.collateral) },
    onProgress: (stage, detail) => {
      if (stage === "estimate") run.note(detail);
    },
  });
  if (pub.status !== "registered") throw new Error(`expected a new on-chain-verified registration, got ${pub.status}`);
  const k = await readKms(conn.publicClient, dep.address, published.kms);
  const verified = await readVerifiedOnChain(conn.publicClient, dep.address, published.kms);
  if (k.path !== "on-chain" || k.intelRoot || verified) throw new Error(`the on-chain record is not what the demo did: path ${k.path}, intelRoot ${k.intelRoot}, isVerifiedOnChain ${verified}`);
  run.note(`NOT GENUINE (simulated root): registerVerified by ${anyone.account.address} (no role), tx ${pub.txHash}, gas ${pub.gasUsed}`);
  run.note(`record: path ${k.path}, TCB status ${k.tcbStatus}, FMSPC ${k.fmspc.toUpperCase()}, collateral until ${new Date(k.collateralExpiry * 1000).toISOString()}; isVerifiedOnChain ${verified} (never true under a non-Intel root)`);
  return {
    genuine: false,
    verifier,
    registry: dep.address,
    registeredBy: anyone.account.address as Hex,
    status: pub.status,
    txHash: pub.txHash ?? null,
    gasUsed: pub.gasUsed?.toString() ?? null,
    path: k.path,
    tcbStatus: k.tcbStatus,
    intelRoot: k.intelRoot,
    isVerifiedOnChain: verified,
  };
}

