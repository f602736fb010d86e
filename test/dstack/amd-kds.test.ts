/**
 * AMD KDS online: a real local HTTP server serving a test SNP world (ARK/ASK/VCEK, the ARK's CRL) in KDS's
 * layout; the VCEK, cert_chain and CRL fetched, cached on disk while valid, and hostile answers (huge, slow,
 * wrong content, redirects, HTTP errors) refused with named KDS_* codes. The CRL rules of the verifier
 * (signed by the ARK, current, the ASK not revoked) and `verify-quote --kds-url / --amd-crl` end to end.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { NetworkError } from "../../src/core/errors.js";
import { toPem } from "../../src/dcap/x509.js";
import { fetchAmdCrl, fetchCertChain, fetchVcek, kdsVcekUrl } from "../../src/dstack/platforms/amd-kds.js";
import { SnpVerificationError, verifySnpReportOrThrow } from "../../src/dstack/platforms/sev-snp-verify.js";
import { parseSnpReport } from "../../src/dstack/platforms/sev-snp.js";
import { freePort } from "../../src/testing/devnode.js";
import { createSnpWorld, issueVcek, kdsAnswers, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { runCli } from "../helpers/cli.js";
import { startPccs, type Handler, type Pccs } from "../helpers/pccs-server.js";

const now = Math.floor(Date.UTC(2026, 10, 1) / 1000);
const world = createSnpWorld({ now });
const chipId = new Uint8Array(64).map((_, i) => (i * 7 + 3) & 0xff);
const tcb = { bootloader: 4, tee: 0, snp: 22, microcode: 213 };
const vcek = issueVcek(world, { chipId, tcb });
const reportBytes = makeSnpReport(world, vcek, { reportData: new Uint8Array(64).fill(0x5a) });
const report = parseSnpReport(reportBytes);
const crl = makeArkCrl(world, { thisUpdate: now - 3600, nextUpdate: now + 7 * 86_400 });
const tmp = mkdtempSync(join(tmpdir(), "kms-kds-"));
let kds: Pccs;

function serve(body: Uint8Array | string, contentType: string): Handler {
  return (_req, res) => {
    res.writeHead(200, { "Content-Type": contentType });
    res.end(typeof body === "string" ? body : Buffer.from(body));
  };
}

beforeAll(async () => {
  const routes = new Map<string, Handler>();
  for (const [path, a] of kdsAnswers(world, [vcek], crl)) routes.set(path, serve(a.body, a.contentType));
  kds = await startPccs(routes);
});
afterAll(async () => {
  await new Promise<void>((r) => kds.server.close(() => r()));
  rmSync(tmp, { recursive: true, force: true });
});

const vcekPath = () => new URL(kdsVcekUrl(kds.url, "Milan", report)).pathname + new URL(kdsVcekUrl(kds.url, "Milan", report)).search;

async function kdsError(p: Promise<unknown>): Promise<NetworkError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NetworkError) return e;
    throw e;
  }
  throw new Error("expected a NetworkError");
}

describe("AMD KDS client", () => {
  it("the VCEK URL: product, the chip id in hex, the reported TCB's four SPLs", () => {
    expect(kdsVcekUrl("https://kdsintf.amd.com/", "Milan", report)).toBe(`https://kdsintf.amd.com/vcek/v1/Milan/${Buffer.from(chipId).toString("hex")}?blSPL=4&teeSPL=0&snpSPL=22&ucodeSPL=213`);
  });

  it("fetches the VCEK, the cert_chain and the CRL, caches them on disk and serves the next ones from the cache", async () => {
    const cacheDir = join(tmp, "cache-1");
    const o = { kdsUrl: kds.url, cacheDir, now };
    const before = kds.total();
    const v = await fetchVcek("Milan", report, o);
    const c = await fetchCertChain("Milan", o);
    const l = await fetchAmdCrl("Milan", o);
    expect([v.fromCache, c.fromCache, l.fromCache]).toEqual([false, false, false]);
    expect(Buffer.from(v.der).equals(Buffer.from(vcek.der))).toBe(true);
    expect(Buffer.from(c.ark).equals(Buffer.from(world.arkDer))).toBe(true);
    expect(kds.total() - before).toBe(3);
    expect(readdirSync(cacheDir)).toHaveLength(3);
    const again = [await fetchVcek("Milan", report, o), await fetchCertChain("Milan", o), await fetchAmdCrl("Milan", o)];
    expect(again.map((x) => x.fromCache)).toEqual([true, true, true]);
    expect(kds.total() - before).toBe(3);
    // after the CRL's nextUpdate its cached copy is stale: fetched again (the certificates are still valid)
    const later = { ...o, now: now + 8 * 86_400 };
    expect((await fetchVcek("Milan", report, later)).fromCache).toBe(true);
    expect((await fetchAmdCrl("Milan", later)).fromCache).toBe(false);
    expect(kds.total() - before).toBe(4);
  });

  it("the fetched world verifies, with the CRL checked: not revoked, signed by the ARK, current", async () => {
    const o = { kdsUrl: kds.url, now };
    const v = await fetchVcek("Milan", report, o);
    const c = await fetchCertChain("Milan", o);
    const l = await fetchAmdCrl("Milan", o);
    const r = verifySnpReportOrThrow(reportBytes, { vcekDer: v.der, askDer: c.ask, arkDer: c.ark, crlDers: [l.der], testArkDer: world.arkDer, now });
    expect(r).toMatchObject({ ok: true, genuine: false, crl: { issuers: ["ARK-Milan"] } });
    expect(r.verification.checks.find((x) => x.name === "chain.crl")?.ok).toBe(true);
  });

  const hostile: [string, Handler, string, RegExp][] = [
    ["a body over the cap (declared)", (_q, res) => { res.writeHead(200, { "Content-Length": String(300 * 1024) }); res.end(Buffer.alloc(300 * 1024)); }, "KDS_BAD_RESPONSE", /larger than 262144 bytes \(content-length 307200\)/],
    ["a body over the cap (streamed)", (_q, res) => { res.writeHead(200); const chunk = Buffer.alloc(64 * 1024); for (let i = 0; i < 5; i++) res.write(chunk); res.end(); }, "KDS_BAD_RESPONSE", /larger than 262144 bytes \(streamed\)/],
    ["not a certificate", serve("hello", "text/plain"), "KDS_BAD_RESPONSE", /AMD KDS VCEK \(Milan, chip .*\): .*\(from \/vcek\/v1\/Milan\//],
    ["the ASK instead of the VCEK", serve(world.askDer, "application/x-x509-ca-cert"), "KDS_BAD_RESPONSE", /the answer's subject is CN=SEV-Milan, not CN=SEV-VCEK/],
    ["HTTP 404", (_q, res) => { res.writeHead(404); res.end("Not Found"); }, "KDS_HTTP_STATUS", /HTTP 404/],
    ["HTTP 429 (rate-limited)", (_q, res) => { res.writeHead(429); res.end("Too Many Requests"); }, "KDS_HTTP_STATUS", /HTTP 429/],
    ["a redirect to another host", (_q, res: ServerResponse) => { res.writeHead(302, { Location: "http://attacker.invalid/vcek" }); res.end(); }, "KDS_REDIRECT", /outside http:\/\/127\.0\.0\.1/],
  ];
  for (const [what, handler, code, message] of hostile) {
    it(`${what}: ${code}`, async () => {
      const routes = new Map<string, Handler>([[vcekPath(), handler]]);
      const srv = await startPccs(routes);
      try {
        const e = await kdsError(fetchVcek("Milan", report, { kdsUrl: srv.url, now, cacheDir: join(tmp, `hostile-${code}`) }));
        expect(e.code).toBe(code);
        expect(e.message).toMatch(message);
      } finally {
        await new Promise<void>((r) => srv.server.close(() => r()));
      }
    });
  }

  it("a server that never answers: KDS_TIMEOUT within the timeout", async () => {
    const srv = await startPccs(new Map([[vcekPath(), () => undefined]]));
    try {
      const t0 = Date.now();
      const e = await kdsError(fetchVcek("Milan", report, { kdsUrl: srv.url, now, timeoutMs: 300 }));
      expect(e.code).toBe("KDS_TIMEOUT");
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      srv.server.closeAllConnections();
      await new Promise<void>((r) => srv.server.close(() => r()));
    }
  });

  it("a body that trickles in slower than the timeout: KDS_TIMEOUT, the connection dropped", async () => {
    const timers: NodeJS.Timeout[] = [];
    const srv = await startPccs(new Map<string, Handler>([[vcekPath(), (_q, res) => {
      res.writeHead(200, { "Content-Type": "application/x-x509-ca-cert" });
      timers.push(setInterval(() => res.write(Buffer.from([0x30])), 50));
    }]]));
    try {
      const e = await kdsError(fetchVcek("Milan", report, { kdsUrl: srv.url, now, timeoutMs: 400 }));
      expect(e.code).toBe("KDS_TIMEOUT");
      expect(e.message).toMatch(/did not arrive|within 400 ms/);
    } finally {
      for (const t of timers) clearInterval(t);
      srv.server.closeAllConnections();
      await new Promise<void>((r) => srv.server.close(() => r()));
    }
  });

  it("a cert_chain of another product, or of one certificate: KDS_BAD_RESPONSE", async () => {
    const genoa = createSnpWorld({ now, product: "Genoa" });
    const srv = await startPccs(new Map([["/vcek/v1/Milan/cert_chain", serve(genoa.certChainPem, "application/x-pem-file")], ["/vcek/v1/Genoa/cert_chain", serve(toPem(genoa.askDer), "application/x-pem-file")]]));
    try {
      expect((await kdsError(fetchCertChain("Milan", { kdsUrl: srv.url, now }))).message).toMatch(/expected CN=SEV-Milan then CN=ARK-Milan, got CN=SEV-Genoa, CN=ARK-Genoa/);
      expect((await kdsError(fetchCertChain("Genoa", { kdsUrl: srv.url, now }))).message).toMatch(/expected 2 PEM certificates \(ASK, ARK\), got 1/);
    } finally {
      await new Promise<void>((r) => srv.server.close(() => r()));
    }
  });
});

describe("the CRL rules", () => {
  const base = { vcekDer: vcek.der, askDer: world.askDer, testArkDer: world.arkDer, now };
  const code = (crls: Uint8Array[], at = now): string => {
    try {
      verifySnpReportOrThrow(reportBytes, { ...base, now: at, crlDers: crls });
    } catch (e) {
      if (e instanceof SnpVerificationError) return `${e.code} ${e.checks.at(-1)!.name}`;
      throw e;
    }
    return "ok";
  };
  it("a revoked ASK, an expired CRL, a CRL not yet current, a CRL of another ARK, a forged one, none of the ARK", () => {
    const other = createSnpWorld({ now });
    const forged = Uint8Array.from(crl);
    forged[forged.length - 10]! ^= 1;
    expect(code([crl])).toBe("ok");
    expect(code([makeArkCrl(world, { thisUpdate: now - 60, nextUpdate: now + 60, revokeAsk: true })])).toBe("SNP_CERT_REVOKED chain.crl");
    expect(code([crl], now + 8 * 86_400)).toMatch(/^SNP_(CRL_EXPIRED|CERT_NOT_VALID_AT) chain\.(crl|validity)$/);
    expect(code([makeArkCrl(world, { thisUpdate: now - 600, nextUpdate: now - 60 })])).toBe("SNP_CRL_EXPIRED chain.crl");
    expect(code([makeArkCrl(world, { thisUpdate: now + 600, nextUpdate: now + 6000 })])).toBe("SNP_CRL_EXPIRED chain.crl");
    expect(code([makeArkCrl(other, { thisUpdate: now - 60, nextUpdate: now + 60 })])).toBe("SNP_CRL_INVALID chain.crl");
    expect(code([forged])).toBe("SNP_CRL_INVALID chain.crl");
    expect(code([])).toBe("SNP_CRL_INVALID chain.crl");
    expect(code([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])])).toBe("SNP_CRL_INVALID chain.crl");
  });
});

describe("verify-quote --kds-url / --amd-crl", () => {
  const rep = join(tmp, "report.bin");
  const ark = join(tmp, "ark.pem");
  beforeAll(() => {
    writeFileSync(rep, reportBytes);
    writeFileSync(ark, toPem(world.arkDer));
  });
  const env = { XDG_CACHE_HOME: join(tmp, "xdg") };

  it("fetches what is missing from the KDS, checks the CRL, exit 0 (NOT GENUINE under the test ARK); the second run is cached", async () => {
    const args = ["verify-quote", rep, "--kds-url", kds.url, "--root-ca", ark, "--at", String(now), "--json"];
    const before = kds.total();
    const r = await runCli(args, { env });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { ok: boolean; genuine: boolean; crl: unknown; kds: Record<string, { fromCache: boolean }>; checks: { name: string }[] };
    expect(j).toMatchObject({ ok: true, genuine: false, crl: { issuers: ["ARK-Milan"] }, kds: { vcek: { fromCache: false }, certChain: { fromCache: false }, crl: { fromCache: false } } });
    expect(j.checks.map((c) => c.name)).toContain("chain.crl");
    expect(r.stderr).toMatch(/^NOT GENUINE: verified against a test ARK/);
    expect(kds.total() - before).toBe(3);
    const again = await runCli(args, { env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ kds: { vcek: { fromCache: true }, certChain: { fromCache: true }, crl: { fromCache: true } } });
    expect(kds.total() - before).toBe(3);
  });

  it("--amd-crl FILE offline (PEM or DER): a CRL revoking the ASK → SNP_CERT_REVOKED, exit 1", async () => {
    const vcekFile = join(tmp, "vcek.der");
    writeFileSync(vcekFile, vcek.der);
    const chainFile = join(tmp, "chain.pem");
    writeFileSync(chainFile, world.certChainPem);
    const revoked = join(tmp, "revoked.crl.pem");
    writeFileSync(revoked, toPem(makeArkCrl(world, { thisUpdate: now - 60, nextUpdate: now + 600, revokeAsk: true }), "X509 CRL"));
    const good = join(tmp, "good.crl");
    writeFileSync(good, crl);
    const common = ["verify-quote", rep, "--vcek", vcekFile, "--amd-chain", chainFile, "--root-ca", ark, "--at", String(now), "--json"];
    const r = await runCli([...common, "--amd-crl", revoked]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "SNP_CERT_REVOKED" } });
    const ok = await runCli([...common, "--amd-crl", good]);
    expect(ok.code).toBe(0);
    const human = await runCli(common.filter((a) => a !== "--json"));
    expect(human.stdout.split("\n")[0]).toMatch(/revocation NOT checked: no CRL/);
  });

  it("an unreachable KDS: exit 1 with KDS_UNREACHABLE, one line", async () => {
    const port = await freePort();
    const r = await runCli(["verify-quote", rep, "--kds-url", `http://127.0.0.1:${port}`, "--root-ca", ark, "--at", String(now)], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^kms-registry: verify-quote: AMD KDS VCEK \\(Milan, chip [0-9a-f]{16}…\\): cannot reach http://127\\.0\\.0\\.1:${port}/vcek/v1/Milan/[0-9a-f]{128}\\?blSPL=4&teeSPL=0&snpSPL=22&ucodeSPL=213 \\(ECONNREFUSED\\)\n$`));
  });
});
