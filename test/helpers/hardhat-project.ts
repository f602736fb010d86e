/**
 * A user's Hardhat project for end-to-end tests of the plugin: test/fixtures/hardhat-project copied to a temporary
 * directory whose node_modules links `dstack-kms-registry` to this repository (so `dstack-kms-registry/hardhat`
 * resolves through package.json's exports to the built dist/) and `hardhat` to the repository's, and a runner of
 * `hardhat <args>` in it (a real child process, a Node that runs Hardhat 3).
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { hardhatCli, nodeForHardhat } from "../../src/testing/devnode.js";
import { REPO_ROOT, type RunResult } from "./cli.js";

export function makePluginProject(fixture = "hardhat-project"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kms-registry-hh-project-"));
  cpSync(path.join(REPO_ROOT, "test", "fixtures", fixture), dir, { recursive: true });
  mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  symlinkSync(REPO_ROOT, path.join(dir, "node_modules", "dstack-kms-registry"), "dir");
  symlinkSync(path.join(REPO_ROOT, "node_modules", "hardhat"), path.join(dir, "node_modules", "hardhat"), "dir");
  mkdirSync(path.join(dir, "node_modules", "@nomicfoundation"));
  symlinkSync(path.join(REPO_ROOT, "node_modules", "@nomicfoundation", "hardhat-verify"), path.join(dir, "node_modules", "@nomicfoundation", "hardhat-verify"), "dir");
  return dir;
}

/** `hardhat <args>` in `cwd`; an empty HOME so no keystore or telemetry state of the machine leaks in. */
export function hardhatIn(cwd: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 90_000): Promise<RunResult> {
  const home = path.join(cwd, ".home");
  mkdirSync(home, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(nodeForHardhat(), [hardhatCli(REPO_ROOT), ...args], {
      cwd,
      env: {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, ".config"),
        XDG_DATA_HOME: path.join(home, ".local", "share"),
        XDG_CACHE_HOME: path.join(home, ".cache"),
        HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
        FORCE_COLOR: "0",
        NO_COLOR: "1",
        KMS_REGISTRY_PRIVATE_KEY: undefined,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON document a task printed with `--json` (Hardhat may print lines before it). */
export function jsonOut<T>(stdout: string): T {
  return JSON.parse(stdout.slice(stdout.indexOf("{"))) as T;
}
