/**
 * An embedded development chain: Hardhat's EDR configured in code (hardfork osaka with the P-256 precompile,
 * unlimited contract size), in a child process run by a Node that can run Hardhat (`nodeForHardhat`), served
 * as JSON-RPC on a free loopback port. Unlike `startDevNode` (`hardhat node`) it needs no Hardhat config
 * file, so the built CLI can use it from `dist/`; it still needs the `hardhat` development dependency.
 * Its accounts are Hardhat's dev accounts, unlocked on the node (`eth_accounts`).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { NetworkError } from "../core/errors.js";
import { packageRoot } from "../registry/deploy.js";
import { hardhatCli, nodeForHardhat, stopChild, type DevNode } from "./devnode.js";

/** The child program: the compiled `.js` beside this file, else (running from sources) the `.ts` through tsx. */
function mainScript(): { args: string[] } {
  const js = fileURLToPath(new URL("./embedded-node-main.js", import.meta.url));
  if (existsSync(js)) return { args: [js] };
  const ts = fileURLToPath(new URL("./embedded-node-main.ts", import.meta.url));
  return { args: ["--import", "tsx", ts] };
}

/**
 * Starts the embedded chain; resolves once it answers `eth_chainId`. Rejects with `NetworkError`
 * (`DEVNODE_START`) when Hardhat is not installed, the child exits, or it does not come up in `timeoutMs`.
 */
export async function startEmbeddedNode(opts: { host?: string; timeoutMs?: number } = {}): Promise<DevNode> {
  const host = opts.host ?? "127.0.0.1";
  const root = packageRoot();
  hardhatCli(root); // a clear UsageError when the development dependency is missing
  const nodeBin = nodeForHardhat(root);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const child = spawn(nodeBin, [...mainScript().args, host], {
    cwd: root,
    env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let errTail = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (errTail = (errTail + d).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new NetworkError("DEVNODE_START", `the embedded chain did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const u = (JSON.parse(buf.slice(0, nl)) as { url?: unknown }).url;
        if (typeof u !== "string") throw new Error("no url");
        resolve(u);
      } catch {
        void stopChild(child);
        reject(new NetworkError("DEVNODE_START", "the embedded chain printed an unexpected first line"));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      const tail = errTail.trim().split("\n").filter((l) => !/^\s+at /.test(l)).slice(-3).join(" | ");
      reject(new NetworkError("DEVNODE_START", `the embedded chain exited (${code ?? "signal"}) before it listened: ${tail || "no output"}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    url,
    host,
    port: Number(new URL(url).port),
    pid: child.pid,
    exited,
    stop: () =>
      (stopping ??= (async () => {
        child.stdin!.end();
        await stopChild(child);
      })()),
  };
}
