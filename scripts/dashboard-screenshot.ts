/**
 * Regenerates the README's dashboard screenshots (docs/dashboard.png, docs/dashboard-kms.png, docs/dashboard-snp.png):
 *
 *   npx tsx scripts/dashboard-screenshot.ts
 *
 * Starts a `hardhat node`, writes the dashboard tests' history on it (registrar registrations, a
 * re-attestation, a liveness proof, a revocation with a hostile reason, two on-chain registrations under a
 * forged root, one of them rechecked stale, an SEV-SNP registration of a test AMD world, and one anomaly: a
 * registrar that lost its role), serves the dashboard and photographs the overview, the revoked KMS's page and
 * the SEV-SNP KMS's page in Debian's Chromium (`/usr/bin/chromium`, or CHROMIUM_PATH).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { LiveRegistry, startDashboardServer } from "../src/dashboard/index.js";
import { writeHistory } from "../test/dashboard/history.js";

const DOCS = fileURLToPath(new URL("../docs/", import.meta.url));

async function main(): Promise<void> {
  const h = await writeHistory();
  const live = new LiveRegistry({
    publicClient: h.chain.conn.publicClient,
    registry: h.chain.registry,
    fromBlock: BigInt(h.chain.record.block),
    deploymentSource: "deployment record",
  });
  await live.start();
  const server = await startDashboardServer({ live, port: 0, explorer: "https://etherscan.io/tx/{tx}" });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    mkdirSync(DOCS, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(`${server.url}/`, { waitUntil: "load" });
    await page.screenshot({ path: path.join(DOCS, "dashboard.png"), fullPage: true });
    await page.goto(`${server.url}/kms/${h.addr(h.revoked)}`, { waitUntil: "load" });
    await page.screenshot({ path: path.join(DOCS, "dashboard-kms.png"), fullPage: true });
    await page.goto(`${server.url}/kms/${h.snp.kms}`, { waitUntil: "load" });
    await page.screenshot({ path: path.join(DOCS, "dashboard-snp.png"), fullPage: true });
    console.log(`wrote ${path.join(DOCS, "dashboard.png")}, dashboard-kms.png and dashboard-snp.png`);
  } finally {
    await browser.close();
    await live.stop();
    await server.close();
    await h.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
