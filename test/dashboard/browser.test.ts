/**
 * The dashboard as a person sees it, in Debian's Chromium driven by playwright-core (no browser download):
 * a real `hardhat node` with a written history (registrar and on-chain registrations, a re-attestation, a
 * recheck that made a KMS stale, a liveness proof, a revocation with a hostile reason, one anomaly), the real
 * `kms-registry dashboard` process, and checks of
 * the rows, the states, a KMS's timeline, a live update after a new event without a reload, the hostile
 * reason shown as text with no script run, and Ctrl-C. Screenshots go to a temp dir.
 * Without Chromium: a loud warning and a skipped test named "browser tests not run: chromium not found";
 * with CI=true that is a failure.
 */
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HOSTILE_REASON, writeHistory, type History } from "./history.js";
import { startDashboard, type Dashboard } from "./process.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const inCI = process.env.CI === "true";

if (!haveChromium && !inCI) {
  console.warn(`\n!!! browser tests not run: chromium not found at ${CHROMIUM} (apt-get install -y chromium) !!!\n`);
}

if (!haveChromium) {
  describe("dashboard in a real browser", () => {
    if (inCI) {
      it("chromium is installed (CI=true requires the browser tests to run)", () => {
        expect.fail(`chromium not found at ${CHROMIUM}: CI must install it (apt-get install -y chromium)`);
      });
    } else {
      it.skip("browser tests not run: chromium not found", () => {});
    }
  });
}

describe.runIf(haveChromium)("dashboard in a real browser", () => {
  let h: History;
  let dash: Dashboard;
  let browser: import("playwright-core").Browser;
  const shots = mkdtempSync(path.join(os.tmpdir(), "kms-dashboard-shots-"));
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    h = await writeHistory();
    dash = await startDashboard([
      "--registry", h.chain.registry,
      "--rpc", h.chain.node.url,
      "--from-block", String(h.chain.record.block),
      "--port", "0",
      "--interval", "1",
      "--explorer", "https://explorer.example/tx/{tx}",
      "--deployments", h.chain.tmp,
    ]);
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (dash && dash.child.exitCode === null) dash.child.kill("SIGKILL");
    await h?.stop();
    console.log(`dashboard screenshots: ${shots}`);
  });

  async function open(p: string) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    await page.goto(dash.url + p, { waitUntil: "load" });
    return page;
  }

  it("overview: one row per KMS with its state, how it was registered, its root and the anomaly", async () => {
    const page = await open("/");
    const rows = page.locator("table.kms tbody tr");
    await expect.poll(() => rows.count()).toBe(8);
    const rowOf = (k: `0x${string}`) => page.locator(`tr[data-kms="${k}"]`);
    const { getAddress } = await import("viem");
    const A = getAddress(h.addr(h.a)) as `0x${string}`;
    const SIM = getAddress(h.addr(h.sim_)) as `0x${string}`;
    const REV = getAddress(h.addr(h.revoked)) as `0x${string}`;
    const ORPHAN = getAddress(h.addr(h.orphan)) as `0x${string}`;
    expect(await rowOf(REV).locator("[data-state]").innerText()).toBe("revoked");
    expect(await rowOf(A).locator("[data-state]").innerText()).toBe("active");
    expect(await rowOf(A).locator("td").nth(8).innerText()).toBe("2"); // attestations: registered + re-attested
    expect(await rowOf(A).innerText()).toContain("registrar");
    expect(await rowOf(SIM).innerText()).toContain("NOT GENUINE");
    expect(await rowOf(SIM).innerText()).toMatch(/block \d+ \(\d+ s ago\)/); // last liveness proof and its age
    expect(await rowOf(ORPHAN).innerText()).toContain("registrar-lost-role");
    // the on-chain path: verified by the registry's DcapVerifier (forged root: NOT GENUINE), one rechecked to stale
    const VER = getAddress(h.addr(h.verified)) as `0x${string}`;
    const STALE = getAddress(h.addr(h.stale)) as `0x${string}`;
    expect(await rowOf(VER).locator("[data-state]").innerText()).toBe("active");
    expect(await rowOf(VER).innerText()).toMatch(/on-chain verified[\s\S]*NOT GENUINE[\s\S]*UpToDate[\s\S]*\d{4}-\d\d-\d\d[\s\S]*(29|30) days left/);
    expect(await rowOf(STALE).locator("[data-state]").innerText()).toBe("stale");
    expect(await rowOf(STALE).innerText()).toMatch(/on-chain verified[\s\S]*Revoked/);
    // the SEV-SNP KMS (registerSnp, a test AMD world): its platform, NOT GENUINE (test ARK), no TCB status but its reported TCB
    const SNP = h.snp.kms;
    expect(await rowOf(SNP).locator("[data-platform]").innerText()).toBe("AMD SEV-SNP");
    expect(await rowOf(A).locator("[data-platform]").innerText()).toBe("Intel TDX");
    expect(await rowOf(SNP).innerText()).toMatch(/active[\s\S]*registrar[\s\S]*NOT GENUINE \(test ARK, not AMD's\)[\s\S]*reported TCB 0x[0-9a-f]{16}[\s\S]*no TCB status/);
    expect(await rowOf(SNP).innerText()).not.toContain("unparseable");
    // the AWS Nitro Enclave KMS (registerNitro, a test Nitro world): its platform, NOT GENUINE (test root), no TCB status
    const NITRO = h.nitro.kms;
    expect(await rowOf(NITRO).locator("[data-platform]").innerText()).toBe("AWS Nitro Enclave");
    expect(await rowOf(NITRO).innerText()).toMatch(/active[\s\S]*registrar[\s\S]*NOT GENUINE \(test root, not AWS's\)[\s\S]*no TCB status \(AWS publishes none\)/);
    expect(await page.locator("[data-field=accepted]").innerText()).toBe("UpToDate, SWHardeningNeeded");
    expect(await page.locator("section[aria-label=anomalies]").innerText()).toContain("registrar-lost-role");
    expect(await page.locator("[data-field=allowlist]").innerText()).toContain("disabled");
    await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });
    await page.close();
  });

  it("the hostile revoke reason is shown as text; no script runs, nothing is injected", async () => {
    const page = await open(`/kms/${h.addr(h.revoked)}`);
    const reason = page.locator("li.ev-revoked .reason q.chain-text");
    const shown = await reason.innerText();
    expect(shown).toContain("<img src=x onerror=alert(1)>");
    expect(shown).toContain("<script>alert(2)</script>");
    // ANSI escape and bidi override removed, marked as removed
    expect([...shown].filter((c) => c === "\u001b" || c === "\u202e" || c === "\u202c")).toEqual([]);
    expect(await page.locator("li.ev-revoked .reason").innerText()).toContain("control characters removed");
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.locator("main script").count()).toBe(0);
    // the API keeps the exact on-chain text (JSON-escaped)
    const api = (await (await fetch(`${dash.url}/api/kms/${h.addr(h.revoked)}`)).json()) as { revocation: { reason: string } };
    expect(api.revocation.reason).toBe(HOSTILE_REASON);
    await page.screenshot({ path: path.join(shots, "revoked-kms.png"), fullPage: true });
    await page.close();
    expect(dialogs).toEqual([]);
  });

  it("a KMS page: timeline (registration, re-attestation), measurements, key binding, explorer links", async () => {
    const page = await open(`/kms/${h.addr(h.a)}`);
    const kinds = await page.locator("ol.timeline li").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")));
    expect(kinds).toEqual(["registered", "re-attested"]);
    expect(await page.locator("#attestation-1 table.measurements").innerText()).toMatch(/MRTD\s+0x[0-9a-f]{96}/);
    expect(await page.locator("#attestation-1 table.measurements").innerText()).toMatch(/RTMR3\s+0x[0-9a-f]{96}/);
    expect(await page.locator("[data-field=binding]").innerText()).toContain("report_data binds the keys");
    const href = await page.locator("ol.timeline li a.tx").first().getAttribute("href");
    expect(href).toMatch(/^https:\/\/explorer\.example\/tx\/0x[0-9a-f]{64}$/);
    const sim = await open(`/kms/${h.addr(h.sim_)}`);
    expect(await sim.locator("ol.timeline li").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))).toEqual(["registered", "liveness"]);
    await sim.screenshot({ path: path.join(shots, "sim-kms.png"), fullPage: true });
    await sim.close();
    const stale = await open(`/kms/${h.addr(h.stale)}`);
    expect(await stale.locator("ol.timeline li").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))).toEqual(["registered", "rechecked"]);
    expect(await stale.locator("li.ev-rechecked").innerText()).toMatch(/rechecked by 0x[0-9a-fA-F]{40}: Revoked, .* now STALE/);
    expect(await stale.locator("#attestation-1").innerText()).toContain("On-chain verification (KmsVerifiedOnChain)");
    expect(await stale.locator("#attestation-1").innerText()).toContain(`0x${Buffer.from(h.world.pck.fmspc).toString("hex")}`);
    await stale.screenshot({ path: path.join(shots, "stale-kms.png"), fullPage: true });
    await stale.close();
    // the SEV-SNP KMS's page: its report's fields instead of MRTD/RTMR, the binding, the chain check (test ARK)
    const snp = await open(`/kms/${h.snp.kms}`);
    const table = await snp.locator("#attestation-1 table.measurements").innerText();
    expect(table).toMatch(/MEASUREMENT\s+0x(4d){48}/);
    expect(table).toMatch(/HOST_DATA\s+0x(d5){32}/);
    expect(table).toMatch(/CHIP_ID\s+0x(5c){64}/);
    expect(table).toMatch(/REPORTED_TCB\s+0x[0-9a-f]{16} \(bl 4, tee 0, snp 22, ucode 213\)/);
    expect(table).not.toContain("MRTD");
    expect(await snp.locator(".kms-head").innerText()).toMatch(/Platform\s+AMD SEV-SNP/);
    expect(await snp.locator(".kms-head").innerText()).toMatch(/Chip id\s+0x(5c){64}/);
    expect(await snp.locator("[data-field=binding]").innerText()).toContain("report_data binds the keys");
    const checks = await snp.locator("#attestation-1").innerText();
    expect(checks).toMatch(/Checks from the VCEK and AMD chain published on chain — NOT GENUINE \(test ARK, not AMD's\)/);
    expect(checks).toMatch(/under that ARK: verified: SEV-SNP report \(Milan\) signed by its VCEK/);
    expect(checks).toContain("report.signature");
    await snp.screenshot({ path: path.join(shots, "snp-kms.png"), fullPage: true });
    await snp.close();
    // the AWS Nitro Enclave KMS's page: module_id, PCR0–2, os_image_hash (the record's image), the user_data binding, the chain check
    const nitro = await open(`/kms/${h.nitro.kms}`);
    const ntable = await nitro.locator("#attestation-1 table.measurements").innerText();
    expect(ntable).toMatch(/module_id\s+i-0feedc0ffee123456-enc0123456789abcdef/);
    expect(ntable).toMatch(/PCR0\s+0x(11){48}/);
    expect(ntable).toMatch(/os_image_hash\s+0x[0-9a-f]{64} = the record's image measurement/);
    expect(ntable).not.toContain("MRTD");
    expect(await nitro.locator(".kms-head").innerText()).toMatch(/Platform\s+AWS Nitro Enclave/);
    expect(await nitro.locator(".kms-head").innerText()).toMatch(/Module id\s+i-0feedc0ffee123456-enc0123456789abcdef/);
    expect(await nitro.locator("[data-field=binding]").innerText()).toContain("user_data binds the keys");
    expect(await nitro.locator("#attestation-1").innerText()).toMatch(/Checks from the document registered on chain \(its own certificate chain, at its timestamp\) — NOT GENUINE \(test root, not AWS's\)/);
    await nitro.screenshot({ path: path.join(shots, "nitro-kms.png"), fullPage: true });
    await nitro.close();
    // the JSON API carries the same: the platform, the report's fields, the chain check's root
    const api = (await (await fetch(`${dash.url}/api/kms/${h.snp.kms}`)).json()) as { platform: string; root: string; attestations: { platform: string; quote: { platform: string; snp: { hostData: string; chipId: string } } }[] };
    expect(api).toMatchObject({ platform: "sev-snp", root: "other" });
    expect(api.attestations[0]!.quote).toMatchObject({ platform: "sev-snp", snp: { hostData: `0x${"d5".repeat(32)}`, chipId: `0x${"5c".repeat(64)}` } });
    await page.close();
  });

  it("live: a new liveness proof and a new registration appear without a reload, with their block", async () => {
    const page = await open("/");
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await expect.poll(() => page.locator("#live-status").innerText()).toMatch(/live · block \d+/);
    const proof = await h.proveSimLiveness();
    const item = page.locator(`ol.timeline li[data-kind=liveness].fresh`);
    await item.first().waitFor({ timeout: 10_000 });
    expect(await item.first().innerText()).toContain(`block ${proof.block}`);
    const reg = await h.registerNew();
    await page.locator(`tr[data-kms="${(await import("viem")).getAddress(reg.kms)}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator("table.kms tbody tr").count()).toBe(9);
    await expect.poll(() => page.locator("#live-status").innerText()).toContain(`in block ${reg.block}`);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42); // the same document: no reload
    await page.screenshot({ path: path.join(shots, "live.png"), fullPage: true });
    await page.close();
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it("with --collateral and --root-ca every quote is fully re-verified; the KMS page shows the verdict and its trail", async () => {
    const second = await startDashboard([
      "--registry", h.chain.registry,
      "--rpc", h.chain.node.url,
      "--from-block", String(h.chain.record.block),
      "--port", "0",
      "--collateral", h.sim.simCollateralPath,
      "--root-ca", h.sim.simRootCaPath,
    ]);
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(`${second.url}/kms/${h.addr(h.sim_)}`);
      const att = page.locator("#attestation-1");
      expect(await att.innerText()).toContain("Full re-verification — passes");
      expect(await att.innerText()).toMatch(/verified: UpToDate \(NOT GENUINE: non-Intel root\)/);
      expect(await att.innerText()).toContain("tcb.status");
      expect(await page.locator("section.registry, .kms-head").first().innerText()).toContain("UpToDate");
      await page.goto(`${second.url}/`);
      expect(await page.locator("section.registry").innerText()).toMatch(/collateral file, accepted UpToDate, SWHardeningNeeded, root from --root-ca \(NOT GENUINE\)/);
      // the re-bound Intel quotes do not verify under the simulated root: the audit's quote-not-verifiable anomaly
      expect(await page.locator("section[aria-label=anomalies]").innerText()).toContain("quote-not-verifiable");
      await page.close();
    } finally {
      second.child.kill("SIGINT");
      expect(await second.exited).toBe(0);
    }
  });

  it("without JavaScript the page is complete; Ctrl-C stops the dashboard cleanly", async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(dash.url + "/");
    expect(await page.locator("table.kms tbody tr").count()).toBe(9);
    await ctx.close();
    // a page with its event stream open does not hold the server up
    const livePage = await open("/");
    await expect.poll(() => livePage.locator("#live-status").innerText()).toMatch(/live · block \d+/);
    dash.child.kill("SIGINT");
    expect(await dash.exited).toBe(0);
    expect(dash.stderr()).toContain("[dashboard] stopped");
    await livePage.close();
  });
});
