/**
 * Real processes for the watch tests: the `kms-registry watch` CLI as a child process (its stdout read as JSON
 * lines), a TCP proxy in front of the RPC that can be cut and restored on the same port, and an HTTP webhook
 * receiver that can be stopped and started again on the same port. Plus KMS identities whose quotes verify
 * under a forged DCAP world (so re-verification passes, with a known collateral expiry).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import path from "node:path";

import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";

import { bytesToHex, concatBytes } from "../../src/core/bytes.js";
import { collateralToJson } from "../../src/dcap/collateral.js";
import { P256_SPKI_PREFIX } from "../../src/dcap/p256.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { envEncryptMessageV1, ethAddress, signMessage } from "../../src/dstack/signatures.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { publishKms } from "../../src/registry/publish.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import type { Finding } from "../../src/watch/finding.js";
import { BIN, REPO_ROOT } from "../helpers/cli.js";
import type { TestChain, TestKms } from "../registry/chain-helpers.js";

export interface WatchProc {
  child: ChildProcess;
  findings: Finding[];
  stderr: () => string;
  /** Resolves with the first findings list (all so far) for which `pred` holds. */
  until: (pred: (f: Finding[]) => boolean, what: string, timeoutMs?: number) => Promise<Finding[]>;
  untilStderr: (re: RegExp, timeoutMs?: number) => Promise<void>;
  /** Sends `sig` and resolves with the exit code (SIGKILL: null). */
  stop: (sig?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

export function startWatch(args: string[], env: Record<string, string> = {}): WatchProc {
  const child = spawn(process.execPath, [BIN, "watch", ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const findings: Finding[] = [];
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    let i;
    while ((i = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      if (line.trim()) findings.push(JSON.parse(line) as Finding);
    }
    wake();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    wake();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => (wake(), r(code))));
  const waitFor = (check: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${err.slice(-3000)}`)), timeoutMs);
      const test = () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`watch exited (${child.exitCode}) while waiting for ${what}; stderr:\n${err.slice(-3000)}`));
        } else waiters.push(test);
      };
      test();
    });
  return {
    child,
    findings,
    stderr: () => err,
    until: async (pred, what, timeoutMs = 15_000) => {
      await waitFor(() => pred(findings), what, timeoutMs);
      return findings;
    },
    untilStderr: (re, timeoutMs = 15_000) => waitFor(() => re.test(err), `stderr ${re}`, timeoutMs),
    stop: async (sig = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      return exited;
    },
    exited,
  };
}

/** A TCP proxy on loopback: `cut()` closes every connection and stops listening; `restore()` listens again on the same port. */
export async function startTcpProxy(upstream: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let connections = 0;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = net.createServer((client) => {
        connections++;
        const up = net.connect(upstream.port, upstream.host);
        sockets.add(client);
        sockets.add(up);
        const drop = () => {
          client.destroy();
          up.destroy();
          sockets.delete(client);
          sockets.delete(up);
        };
        client.on("error", drop).on("close", drop);
        up.on("error", drop).on("close", drop);
        client.pipe(up);
        up.pipe(client);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server!.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    cut: async () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((r) => server!.close(() => r()));
    },
    restore: async () => void (await listen(port)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => (server!.listening ? server!.close(() => r()) : r()));
    },
  };
}

export interface Received {
  finding: Finding;
  headers: http.IncomingHttpHeaders;
}

/** An HTTP receiver that records each POSTed finding; `stop()` / `start()` keep its port. */
export async function startReceiver() {
  const received: Received[] = [];
  let server: http.Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = http.createServer((req, res) => {
        let body = "";
        req.setEncoding("utf8").on("data", (d: string) => (body += d));
        req.on("end", () => {
          received.push({ finding: JSON.parse(body) as Finding, headers: req.headers });
          res.writeHead(204).end();
        });
      });
      server.listen(port, "127.0.0.1", () => resolve((server!.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    port,
    url: `http://127.0.0.1:${port}/ingest-7f3a9`,
    received,
    stop: () =>
      new Promise<void>((r) => {
        server!.closeAllConnections();
        server!.close(() => r());
      }),
    start: async () => void (await listen(port)),
  };
}

/** Resolves once `check()` holds (polling), or rejects after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A forged DCAP world valid around the real time, its root and collateral written to `dir`. */
export async function forgedWorld(dir: string): Promise<{ world: ForgeWorld; rootCa: string; collateral: string }> {
  const world = await createForgeWorld({ seed: "watch", now: Math.floor(Date.now() / 1000) });
  const rootCa = path.join(dir, "forge-root.pem");
  const collateral = path.join(dir, "forge-collateral.json");
  writeFileSync(rootCa, world.rootCaPem);
  writeFileSync(collateral, collateralToJson(world.collateral));
  return { world, rootCa, collateral };
}

/** Fresh keys and a quote of `world` binding them (it verifies under the world's root). */
export async function forgedKms(world: ForgeWorld): Promise<TestKms> {
  const caPubkey = concatBytes(P256_SPKI_PREFIX, p256.getPublicKey(p256.utils.randomSecretKey(), false));
  const k256Secret = secp256k1.utils.randomSecretKey();
  const k256Pubkey = secp256k1.getPublicKey(k256Secret, true);
  return { caPubkey, k256Pubkey, k256Secret, quote: await forgeQuote(world, { reportData: expectedKmsReportData(caPubkey, k256Pubkey) }) };
}

export const kmsAddr = (k: TestKms) => ethAddress(k.k256Pubkey);

export async function publish(chain: TestChain, k: TestKms): Promise<bigint> {
  const r = await publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: k, journalDir: `${chain.tmp}/journal` });
  return r.blockNumber!;
}

async function send(chain: TestChain, hash: `0x${string}`): Promise<bigint> {
  const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return r.blockNumber;
}

export async function revoke(chain: TestChain, k: TestKms, reason: string): Promise<bigint> {
  return send(chain, await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "revoke", args: [kmsAddr(k) as `0x${string}`, reason] }));
}

/** A liveness proof signed with the KMS's own root key (what a live KMS answers). */
export async function proveLive(chain: TestChain, k: TestKms): Promise<bigint> {
  const pc = chain.conn.publicClient;
  const kms = kmsAddr(k) as `0x${string}`;
  const epoch = await pc.readContract({ address: chain.registry, abi, functionName: "livenessEpoch", blockTag: "latest" });
  const challenge = await pc.readContract({ address: chain.registry, abi, functionName: "livenessChallengeAt", args: [kms, epoch], blockTag: "latest" });
  const ts = (await pc.getBlock({ blockTag: "latest" })).timestamp;
  const x25519 = new Uint8Array(32).fill(7);
  const sig = signMessage(envEncryptMessageV1(Buffer.from(challenge.slice(2), "hex"), ts, x25519), k.k256Secret);
  return send(chain, await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "proveLiveness", args: [kms, epoch, bytesToHex(x25519), ts, bytesToHex(sig)] }));
}

export async function rpc(chain: TestChain, method: string, params: unknown[] = []): Promise<unknown> {
  return chain.conn.publicClient.request({ method: method as never, params: params as never });
}

export const mine = (chain: TestChain, n = 1) => rpc(chain, "hardhat_mine", [`0x${n.toString(16)}`]);

/** No two findings with the same id. */
export function duplicateIds(fs: Finding[]): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const f of fs) {
    if (seen.has(f.id)) dup.push(f.id);
    seen.add(f.id);
  }
  return dup;
}
