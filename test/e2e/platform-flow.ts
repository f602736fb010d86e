/**
 * The set-up of a platform's end-to-end flow over real processes: a `simulate-kms` child process with the given
 * options and a `hardhat node`, a KmsRegistry deployed by the CLI's `deploy`, and the CLI run with dev account
 * #0's key from the environment (never on the command line; after the file, no run's output holds it).
 */
import path from "node:path";

import { afterAll, beforeAll, expect } from "vitest";

import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { startBootstrappedKms, type SimKmsProcess } from "./helpers.js";

export const KEY_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY, KMS_REGISTRY_DEBUG: "" };

export interface PlatformFlow {
  kms: SimKmsProcess;
  node: DevNode;
  registry: `0x${string}`;
  deployments: string;
}

/** Starts the flow before the file's tests (`ready` receives it) and stops it after them; `cli` runs the executable, `target` names the registry. */
export function usePlatformFlow(simArgs: string[], ready: (f: PlatformFlow) => void): { cli: (args: string[], env?: Record<string, string>) => Promise<RunResult>; target: () => string[] } {
  let f: PlatformFlow | undefined;
  let state = "";
  const all: RunResult[] = [];
  const cli = async (args: string[], env: Record<string, string> = KEY_ENV): Promise<RunResult> => {
    const r = await runCli(args, { env: { KMS_REGISTRY_STATE_DIR: state, ...env }, timeoutMs: 120_000 });
    all.push(r);
    return r;
  };
  beforeAll(async () => {
    const [kms, node] = await Promise.all([startBootstrappedKms(simArgs), startDevNode()]);
    const deployments = path.join(kms.dir, "deployments");
    state = path.join(kms.dir, "state");
    f = { kms, node, deployments, registry: "0x" };
    const d = await cli(["deploy", "--rpc", node.url, "--deployments", deployments, "--json"]);
    expect(d.code, d.stderr).toBe(0);
    f.registry = (JSON.parse(d.stdout) as { address: `0x${string}` }).address;
    ready(f);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([f?.kms.stop(), f?.node.stop()]);
    for (const r of all) expect(r.stdout + r.stderr).not.toContain(HARDHAT_DEV_ACCOUNT_0_KEY.slice(2));
  });
  return { cli, target: () => ["--registry", f!.registry, "--rpc", f!.node.url, "--deployments", f!.deployments] };
}
