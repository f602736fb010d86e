/** Real processes for end-to-end tests: the simulated KMS as `kms-registry simulate-kms`, bootstrapped over HTTP. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { freePort, stopChild } from "../../src/testing/devnode.js";
import { BIN, REPO_ROOT } from "../helpers/cli.js";

export interface SimKmsProcess {
  url: string;
  child: ChildProcess;
  dir: string;
  rootCaFile: string;
  collateralFile: string;
  stop: () => Promise<void>;
}

async function waitUp(url: string, child: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`simulate-kms exited: ${out()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`simulate-kms did not come up: ${out()}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Start `kms-registry simulate-kms` (with `extraArgs`, e.g. `--platform sev-snp`), bootstrap it through its HTTP API, finish onboarding, save its sim root + collateral. */
export async function startBootstrappedKms(extraArgs: string[] = []): Promise<SimKmsProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kms-registry-e2e-"));
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "simulate-kms", "--port", String(port), "--host", "127.0.0.1", "--certs-dir", path.join(dir, "certs"), ...extraArgs], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUp(`${url}/`, child, () => out);
    const boot = await fetch(`${url}/prpc/Onboard.Bootstrap?json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ domain: "kms.e2e.localhost" }) });
    if (!boot.ok) throw new Error(`bootstrap failed: ${await boot.text()}`);
    await (await fetch(`${url}/finish`)).text();
    const rootCaFile = path.join(dir, "sim-root.pem");
    const collateralFile = path.join(dir, "sim-collateral.json");
    writeFileSync(rootCaFile, await (await fetch(`${url}/sim/dcap-root-ca.pem`)).text());
    writeFileSync(collateralFile, await (await fetch(`${url}/sim/collateral.json`)).text());
    return { url, child, dir, rootCaFile, collateralFile, stop: () => stopChild(child) };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

export async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await r.json()) as Record<string, unknown>;
}
