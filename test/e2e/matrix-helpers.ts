/**
 * The format × platform matrix over real processes: one `hardhat node`, one KmsRegistry (deployed by the CLI) and
 * one DstackKms test double (behind its ERC-1967 proxy, owned by dev account #0) per test file; each cell is a
 * `simulate-kms` child process driven through the `kms-registry` executable: pull (a live URL, its certs dir, the
 * saved file) → verify → publish → audit --reverify → check-dstack-kms (the record written into the DstackKms
 * with its owner's setKmsInfo, the contract's allow-lists given dstack's measurements of it).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";
import { encodeFunctionData, getAddress, parseAbi, type Hex } from "viem";
import { afterAll, beforeAll, expect } from "vitest";

import { parseQuote, quotePckChain, type TdReport10 } from "../../src/dcap/quote.js";
import { parseSgxExtension } from "../../src/dcap/sgx-extension.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { dstackKmsAbi } from "../../src/dstack/dstack-kms-abi.js";
import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

export const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_DEBUG: "" };

/** The keys of NEAR's real TDX KMS record (the real samples bind these, not keys of ours). */
export const NEAR_CA = "0x3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
export const NEAR_K256 = "0x022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";

/**
 * A test file's matrix: started before its tests in a fresh temporary directory (`ready` receives both), and
 * after them the simulated KMSs in `started` stopped, the node stopped, no CLI run's output holding the signing
 * key, the directory removed.
 */
export function useMatrix(prefix: string, started: SimKmsProcess[], ready: (m: Matrix, dir: string) => void): void {
  let m: Matrix | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), prefix));
    m = await startMatrix(dir);
    ready(m, dir);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(started.map((k) => k.stop()));
    await m?.stop();
    for (const r of m?.all ?? []) expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

export interface Matrix {
  node: DevNode;
  conn: Connection;
  registry: Hex;
  dstackKms: Hex;
  owner: Hex;
  state: string;
  all: RunResult[];
  cli: (args: string[], env?: Record<string, string>) => Promise<RunResult>;
  send: (data: Hex) => Promise<void>;
  stop: () => Promise<void>;
}

const artifact = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../artifacts/contracts/test/dstack/${name}.sol/${name}.json`, import.meta.url), "utf8")) as { abi: unknown[]; bytecode: Hex };

export const kmsCall = (fn: string, args: unknown[]): Hex => encodeFunctionData({ abi: dstackKmsAbi, functionName: fn as never, args: args as never });

/** The node, the registry (CLI `deploy`) and a DstackKms proxy owned by dev account #0. */
export async function startMatrix(dir: string): Promise<Matrix> {
  const node = await startDevNode();
  const all: RunResult[] = [];
  const state = path.join(dir, "state");
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli(args, { env: { KMS_REGISTRY_STATE_DIR: state, XDG_CACHE_HOME: path.join(dir, "cache"), ...KEY_ENV, ...env }, timeoutMs: 120_000 });
    all.push(r);
    return r;
  };
  const d = await cli(["deploy", "--rpc", node.url, "--deployments", path.join(dir, "deployments"), "--json"]);
  expect(d.code, d.stderr).toBe(0);
  const registry = (JSON.parse(d.stdout) as { address: Hex }).address;
  const conn = await connect(node.url, { pollingIntervalMs: 50 });
  const account = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY });
  const owner = getAddress(account.address) as Hex;
  const wallet = walletFor(conn, account);
  const deploy = async (a: ReturnType<typeof artifact>, args: unknown[]) => {
    const hash = await wallet.deployContract({ abi: a.abi as never, bytecode: a.bytecode, args: args as never });
    return (await conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress! as Hex;
  };
  const impl = await deploy(artifact("DstackKms"), []);
  const init = encodeFunctionData({ abi: parseAbi(["function initialize(address initialOwner, address appImplementation)"]), functionName: "initialize", args: [owner, "0x0000000000000000000000000000000000000000"] });
  const dstackKms = await deploy(artifact("DstackKmsProxy"), [impl, init]);
  const send = async (data: Hex) => {
    const hash = await wallet.sendTransaction({ to: dstackKms, data });
    expect((await conn.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
  };
  return { node, conn, registry, dstackKms, owner, state, all, cli, send, stop: () => node.stop() };
}

/** The record a simulated KMS would write: its Bootstrap answer's keys and evidence (the quote field holds the attestation). */
export function simRecord(kms: SimKmsProcess): { k256Pubkey: Hex; caPubkey: Hex; quote: Hex; eventlog: Hex } {
  const r = JSON.parse(readFileSync(path.join(kms.dir, "certs.sim", "bootstrap-response.json"), "utf8")) as Record<string, string>;
  return { k256Pubkey: `0x${r.k256_pubkey!}`, caPubkey: `0x${r.ca_pubkey!}`, quote: `0x${r.quote ?? r.attestation!}`, eventlog: `0x${r.eventlog ?? ""}` };
}

export interface CheckJson {
  ok: boolean;
  verdict: string;
  genuine: boolean;
  platform: string;
  record: { quoteKind: string };
  allowLists: { list: string; value: Hex | null; allowed: boolean | null; applicable: boolean; source: string }[];
  isKmsAllowed: { allowed: boolean; reason: string } | null;
  findings: { code: string; detail: string }[];
  checks: { name: string; ok: boolean; detail: string }[];
  failed: string[];
}

/** Write `record` with the owner's setKmsInfo, allow `allow` (dstack's measurements), run `check-dstack-kms --json`. */
export async function checkRecord(m: Matrix, record: ReturnType<typeof simRecord>, allow: { mr?: Hex; os?: Hex; device?: Hex }, trust: string[]): Promise<{ r: RunResult; j: CheckJson }> {
  await m.send(kmsCall("setKmsInfo", [record]));
  if (allow.mr) await m.send(kmsCall("addKmsAggregatedMr", [allow.mr]));
  if (allow.os) await m.send(kmsCall("addOsImageHash", [allow.os]));
  if (allow.device) await m.send(kmsCall("addKmsDevice", [allow.device]));
  const r = await m.cli(["check-dstack-kms", "--contract", m.dstackKms, "--rpc", m.node.url, ...trust, "--json"]);
  expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/); // never a stack trace
  return { r, j: JSON.parse(r.stdout) as CheckJson };
}

export interface CellResult {
  kms: SimKmsProcess;
  saved: string;
  blockNumber: number;
  kmsAddress: Hex;
}

/**
 * One simulated cell through pull (URL, certs dir, file), verify (NOT GENUINE under the test root, refused under
 * the vendor's pinned root), publish (registered, its platform on chain) and audit --reverify of its block.
 */
export async function runCell(m: Matrix, simArgs: string[], cell: { platform: string; onChainPlatform: string; format: RegExp; trust: (k: SimKmsProcess) => string[]; auditTrust?: (k: SimKmsProcess) => string[]; pinned: (k: SimKmsProcess) => string[]; pinnedFails: RegExp }): Promise<CellResult> {
  const kms = await startBootstrappedKms(simArgs);
  try {
    const saved = path.join(kms.dir, "pulled.json");
    const p = await m.cli(["pull", "--kms", kms.url, "--out", saved]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(cell.format);
    const pd = await m.cli(["pull", "--certs-dir", path.join(kms.dir, "certs"), "--json"]);
    expect(pd.code, pd.stderr).toBe(0);
    const pf = await m.cli(["pull", "--file", saved, "--json"]);
    expect(pf.code, pf.stderr).toBe(0);
    // the certs dir and the saved file name the same KMS as the live URL
    const [dj, fj] = [pd, pf].map((x) => JSON.parse(x.stdout) as { kmsAddress: Hex; format: string; attestation: Hex | null; quote: Hex | null });
    expect(dj!.kmsAddress).toBe(fj!.kmsAddress);
    expect(dj!.attestation ?? dj!.quote).toBe(fj!.attestation ?? fj!.quote);

    const [vu, vd, vf, pinned] = await Promise.all([
      m.cli(["verify", "--kms", kms.url, ...cell.trust(kms), "--json"]),
      m.cli(["verify", "--certs-dir", path.join(kms.dir, "certs"), ...cell.trust(kms), "--json"]),
      m.cli(["verify", "--file", saved, ...cell.trust(kms), "--json"]),
      m.cli(["verify", "--file", saved, ...cell.pinned(kms), "--json"]),
    ]);
    for (const v of [vu, vd, vf]) {
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const j = JSON.parse(v.stdout) as { ok: boolean; genuine: boolean; platform: string; failed: string[] };
      expect(j).toMatchObject({ ok: true, genuine: false, platform: cell.platform, failed: [] });
    }
    expect(vu.stderr).toMatch(/NOT GENUINE/);
    expect(pinned.code, pinned.stdout).toBe(1);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ ok: false, platform: cell.platform });
    expect(pinned.stdout).toMatch(cell.pinnedFails);

    const pub = await m.cli(["publish", "--registry", m.registry, "--rpc", m.node.url, "--kms", kms.url, ...cell.trust(kms), "--allow-simulated-root", "--json"]);
    expect(pub.code, pub.stderr).toBe(0);
    const pj = JSON.parse(pub.stdout) as { status: string; kms: Hex; blockNumber: string; genuine: boolean; platform: string; onChainPlatform: string };
    expect(pj).toMatchObject({ status: "registered", genuine: false, platform: cell.platform, onChainPlatform: cell.onChainPlatform });
    expect(pj.kms.toLowerCase()).toBe(fj!.kmsAddress.toLowerCase());
    const block = Number(pj.blockNumber);

    const au = await m.cli(["audit", "--registry", m.registry, "--rpc", m.node.url, "--from-block", String(block), "--to-block", String(block), "--reverify", ...(cell.auditTrust ?? cell.trust)(kms), "--json"]);
    expect(au.code, au.stdout + au.stderr).toBe(0);
    const aj = JSON.parse(au.stdout) as { kms: { address: Hex; platform: string; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: unknown[] };
    expect(aj.anomalies).toEqual([]);
    expect(aj.kms.map((k) => k.platform)).toEqual([cell.onChainPlatform]);
    const reverify = aj.kms[0]!.checks.find((c) => c.name === "reverify")!;
    expect(reverify).toMatchObject({ ok: true });
    expect(reverify.detail).toMatch(/NOT GENUINE|NON-INTEL|non-Intel|test root/);
    return { kms, saved, blockNumber: block, kmsAddress: pj.kms };
  } catch (e) {
    await kms.stop();
    throw e;
  }
}

export const hx = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;

/** dstack's TDX measurements of a record, computed here from the quote and the event log (independently of src's helpers). */
export function tdxMeasured(quote: Uint8Array, events: { imr: number; event: string; payload: Uint8Array }[]): { mr: Hex; os: Hex; device: Hex } {
  const q = parseQuote(quote);
  const td = q.body as TdReport10;
  const parts = [td.mrTd, td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3];
  if ([td.mrConfigId, td.mrOwner, td.mrOwnerConfig].some((r) => r.some((b) => b !== 0))) parts.push(td.mrConfigId, td.mrOwner, td.mrOwnerConfig);
  const os = events.find((e) => e.imr === 3 && e.event === "os-image-hash")!.payload;
  const ppid = parseSgxExtension(quotePckChain(q)[0]!).ppid;
  return { mr: hx(sha256(Buffer.concat(parts))), os: hx(os), device: hx(sha256(ppid)) };
}

export function measuredOf(rec: ReturnType<typeof simRecord>): { mr: Hex; os: Hex; device: Hex } {
  const bytes = Buffer.from(rec.quote.slice(2), "hex");
  if (bytes[0] === 0x04 || bytes[0] === 0x05) {
    const log = JSON.parse(Buffer.from(rec.eventlog.slice(2), "hex").toString("utf8")) as { imr: number; event: string; event_payload: string }[];
    return tdxMeasured(bytes, log.map((e) => ({ imr: e.imr, event: e.event, payload: Buffer.from(e.event_payload, "hex") })));
  }
  const att = decodeDstackAttestation(bytes);
  return tdxMeasured(att.quote!, att.eventLog!.map((e) => ({ imr: e.imr, event: e.event, payload: e.payload })));
}
