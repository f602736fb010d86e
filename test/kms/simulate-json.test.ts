import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { BIN, REPO_ROOT } from "../helpers/cli.js";

describe("kms-registry simulate-kms --json", () => {
  it("prints one JSON document when ready, serves the KMS API there, and exits 0 on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kms-sim-json-"));
    const child = spawn(process.execPath, [BIN, "simulate-kms", "--port", "0", "--certs-dir", join(dir, "certs"), "--auto-bootstrap", "kms.test", "--json"], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const doc = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no JSON within 30 s; stderr: ${err}`)), 30_000);
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          try {
            const parsed = JSON.parse(out) as Record<string, unknown>;
            clearTimeout(timer);
            resolve(parsed);
          } catch {
            /* document not complete yet */
          }
        });
      });
      expect(doc.genuine).toBe(false);
      expect(doc.bootstrapped).toBe(true);
      expect(doc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(doc.port).toBe(Number(String(doc.url).split(":").pop()));
      expect(String(doc.simRootCaPath)).toMatch(/dcap-root-ca\.pem$/);
      const meta = (await (await fetch(`${doc.url}/prpc/KMS.GetMeta`)).json()) as { k256_pubkey: string };
      expect(meta.k256_pubkey).toMatch(/^(0x)?0[23][0-9a-f]{64}$/);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(err).toContain("NOT GENUINE");
      // stdout held exactly the one JSON document
      expect(() => JSON.parse(out)).not.toThrow();
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
