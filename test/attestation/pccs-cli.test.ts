/**
 * `kms-registry verify-quote --pccs URL` end to end: the real executable, a real local PCCS serving
 * the real fixture collateral, the on-disk cache under a temporary XDG_CACHE_HOME.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";
import { pccsRoutes, startPccs, stopPccs, type Pccs } from "../helpers/pccs-server.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const TDX_QUOTE = fileURLToPath(new URL("tdx_quote", FIX));

let pccs: Pccs;
let cacheHome: string;

beforeAll(async () => {
  const c = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
  pccs = await startPccs(pccsRoutes(c, "tdx", "B0C06F000000", "platform"));
  cacheHome = await mkdtemp(join(tmpdir(), "kms-registry-xdg-"));
});

afterAll(async () => {
  await stopPccs(pccs);
  await rm(cacheHome, { recursive: true, force: true });
});

describe("verify-quote --pccs", () => {
  it("fetches, verifies (UpToDate, genuine) and caches under $XDG_CACHE_HOME", async () => {
    const env = { XDG_CACHE_HOME: cacheHome };
    const before = pccs.total();
    const r = await runCli(["verify-quote", TDX_QUOTE, "--pccs", pccs.url, "--at", "1752919234", "--json"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, accepted: true, status: "UpToDate", advisoryIds: [], genuine: true });
    expect(out.pck).toMatchObject({ fmspc: "0xb0c06f000000", ca: "platform" });
    expect(out.collateral.pckCrlNextUpdate).toBe("2025-07-19T10:00:35Z");
    expect(pccs.total() - before).toBe(4);
    const cacheDir = join(cacheHome, "dstack-kms-registry", "collateral");
    expect(await readdir(cacheDir)).toHaveLength(4);

    // a second process is served from the disk cache: no request reaches the PCCS
    const again = await runCli(["verify-quote", TDX_QUOTE, "--pccs", pccs.url, "--at", "1752919234", "--json"], { env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).status).toBe("UpToDate");
    expect(pccs.total() - before).toBe(4);
  });

  it("a PCCS that answers 404 is a one-line error naming status and path, exit 1", async () => {
    const routes = new Map(pccs.routes);
    routes.delete("/tdx/certification/v4/qe/identity?update=standard");
    const p = await startPccs(routes);
    try {
      const cache = await mkdtemp(join(tmpdir(), "kms-registry-xdg-"));
      const r = await runCli(["verify-quote", TDX_QUOTE, "--pccs", p.url, "--at", "1752919234", "--json"], { env: { XDG_CACHE_HOME: cache } });
      await rm(cache, { recursive: true, force: true });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/HTTP 404 for \/tdx\/certification\/v4\/qe\/identity\?update=standard/);
      expect(r.stderr).toMatch(/--collateral FILE/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await stopPccs(p);
    }
  });

  it("a forged world fetched over --pccs verifies only with --root-ca, and says NOT GENUINE", async () => {
    const w = await createForgeWorld({ seed: "cli-pccs", now: 1752919234 });
    const p = await startPccs(pccsRoutes(w.collateral, "tdx", "B0C06F000000", "platform"));
    const dir = await mkdtemp(join(tmpdir(), "kms-registry-forge-"));
    try {
      const quoteFile = join(dir, "quote.hex");
      await writeFile(quoteFile, Buffer.from(await forgeQuote(w, { reportData: "0x01" })).toString("hex"));
      const rootFile = join(dir, "root.pem");
      await writeFile(rootFile, w.rootCaPem);
      const env = { XDG_CACHE_HOME: dir };
      const pinned = await runCli(["verify-quote", quoteFile, "--pccs", p.url, "--at", "1752919234", "--json"], { env });
      expect(pinned.code).toBe(1);
      const pj = JSON.parse(pinned.stdout);
      expect(pj.ok).toBe(false);
      expect(pj.error.code).toBe("ROOT_CA_CRL_ISSUER_MISMATCH");
      const forged = await runCli(["verify-quote", quoteFile, "--pccs", p.url, "--at", "1752919234", "--root-ca", rootFile, "--json"], { env });
      expect(forged.code).toBe(0);
      const fj = JSON.parse(forged.stdout);
      expect(fj).toMatchObject({ ok: true, status: "UpToDate", genuine: false });
      expect(fj.warnings.join("\n")).toMatch(/NOT GENUINE/);
    } finally {
      await stopPccs(p);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
