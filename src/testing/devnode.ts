/**
 * A real JSON-RPC development node: `hardhat node` started as a child process on a free loopback port,
 * for the demo, the end-to-end tests and the audit benchmark. The node prints Hardhat's well-known dev
 * accounts and their private keys on stdout; that output is read only to detect start-up and is never
 * forwarded anywhere.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import { NetworkError, UsageError } from "../core/errors.js";
import { packageRoot } from "../registry/deploy.js";

/**
 * Hardhat's dev account #0. Public test data printed by every `hardhat node`; used only to send
 * transactions to a local development node. Never print it.
 */
export const HARDHAT_DEV_ACCOUNT_0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as const;
export const HARDHAT_DEV_ACCOUNT_1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" as const;

export interface DevNode {
  url: string;
  host: string;
  port: number;
  pid: number | undefined;
  /** Stops the node (SIGTERM, then SIGKILL after a grace period). Idempotent. */
  stop: () => Promise<void>;
  /** Resolves when the process exits (also when it dies on its own). */
  exited: Promise<number | null>;
}

/** A TCP port that was free a moment ago on `host` (bind to 0, read, close). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Path of Hardhat's CLI script in this package's `node_modules` (a development dependency). */
export function hardhatCli(root = packageRoot()): string {
  let dir = root;
  for (let i = 0; i < 4; i++) {
    const p = path.join(dir, "node_modules", "hardhat", "dist", "src", "cli.js");
    if (existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  throw new UsageError("hardhat is not installed (it is a development dependency; run `npm install` in a source checkout)");
}

/** True when this Node can run Hardhat 3 / EDR (≥ 22.13). */
export function nodeRunsHardhat(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 13);
}

/**
 * The Node executable to run Hardhat with: this one when it is new enough, otherwise the Node binary
 * the `node` development dependency installs (`node_modules/.bin/node`), so that the CLI started by an
 * older system Node still runs the dev node.
 */
export function nodeForHardhat(root = packageRoot()): string {
  if (nodeRunsHardhat()) return process.execPath;
  let dir = root;
  for (let i = 0; i < 4; i++) {
    for (const name of process.platform === "win32" ? ["node.cmd", "node.exe"] : ["node"]) {
      const p = path.join(dir, "node_modules", ".bin", name);
      if (existsSync(p)) return p;
    }
    dir = path.dirname(dir);
  }
  throw new UsageError(`hardhat node needs Node.js >= 22.13 (this is ${process.version}); run through npm (npm run demo) or install a newer Node`);
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Start `hardhat [hardhatArgs] node --hostname host --port P` with a Node that can run Hardhat (`nodeForHardhat`);
 * `hardhatArgs` are Hardhat's global options, by default `--network devnode` (the `devnode` network of
 * hardhat.config.ts: Osaka, for the P-256 precompile), e.g. `--config FILE` for another network config. Resolves once the
 * node answers `eth_chainId`; rejects with `NetworkError` (`DEVNODE_START`) if it exits or does not
 * come up within `timeoutMs`.
 */
export async function startDevNode(
  opts: {
    host?: string;
    port?: number;
    cwd?: string;
    timeoutMs?: number;
    /** Hardhat's global options, by default `--network devnode` */
    hardhatArgs?: string[];
    /** more `hardhat node` options, e.g. ["--chain-id", "8453"] */
    args?: readonly string[];
  } = {},
): Promise<DevNode> {
  const host = opts.host ?? "127.0.0.1";
  const cwd = opts.cwd ?? packageRoot();
  const cli = hardhatCli(cwd);
  const nodeBin = nodeForHardhat(cwd);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort(host));
    try {
      return await startOnce(nodeBin, cli, cwd, host, port, timeoutMs, opts.hardhatArgs ?? ["--network", "devnode"], opts.args ?? []);
    } catch (e) {
      lastError = e;
      if (opts.port !== undefined) break;
    }
  }
  throw lastError;
}

async function startOnce(
  nodeBin: string,
  cli: string,
  cwd: string,
  host: string,
  port: number,
  timeoutMs: number,
  hardhatArgs: string[],
  args: readonly string[],
): Promise<DevNode> {
  const child = spawn(nodeBin, [cli, ...hardhatArgs, "node", "--hostname", host, "--port", String(port), ...args], {
    cwd,
    env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let errTail = "";
  // Drain stdout (it lists private keys: read, never kept or forwarded) so the pipe never blocks.
  child.stdout!.on("data", () => {});
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (errTail = (errTail + d).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead) {
      throw new NetworkError("DEVNODE_START", `hardhat node exited before answering on ${url}: ${errTail.trim().split("\n").slice(-3).join(" | ") || "no output"}`);
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new NetworkError("DEVNODE_START", `hardhat node did not answer on ${url} within ${timeoutMs} ms`);
    }
    if (await answers(url)) break;
    await new Promise((r) => setTimeout(r, 150));
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    pid: child.pid,
    exited,
    stop: () => (stopping ??= stopChild(child)),
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) return false;
    const j = (await res.json()) as { result?: string };
    return typeof j.result === "string";
  } catch {
    return false;
  }
}
