/**
 * The PCCS client's redirect policy against real local servers serving the real Intel fixture collateral:
 * a redirect is followed only within the requested origin (same scheme, host and port), at most
 * MAX_PCCS_REDIRECTS times; one to another port or host, or from https to http, is a NetworkError
 * PCCS_REDIRECT naming the Location — and the target never sees a request.
 */
import "reflect-metadata";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { MAX_PCCS_REDIRECTS } from "../../src/dcap/pccs/client.js";
import { fetchCollateral } from "../../src/dcap/pccs/fetch-collateral.js";
import type { Collateral } from "../../src/dcap/types.js";
import { bytesToPlainHex } from "../../src/core/bytes.js";
import { KmsRegistryError, NetworkError } from "../../src/core/errors.js";
import { createSelfSignedCa, generateP256, issueRpcCert } from "../../src/testing/pki.js";
import { runCli } from "../helpers/cli.js";
import { pccsRoutes, startPccs, stopPccs, type Handler, type Pccs } from "../helpers/pccs-server.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const TDX_QUOTE = fileURLToPath(new URL("tdx_quote", FIX));
const TDX_NOW = 1752919234;
const TCB = "/tdx/certification/v4/tcb?fmspc=B0C06F000000";

let quote: Uint8Array;
let collateral: Collateral;
let routes: Map<string, Handler>;
const started: Pccs[] = [];
let tmp: string;

beforeAll(async () => {
  quote = new Uint8Array(await readFile(TDX_QUOTE));
  collateral = parseCollateralJson(await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8"));
  routes = pccsRoutes(collateral, "tdx", "B0C06F000000", "platform");
  tmp = await mkdtemp(join(tmpdir(), "pccs-redirect-"));
});
afterAll(async () => {
  for (const p of started) await stopPccs(p);
  await rm(tmp, { recursive: true, force: true });
});

/** A PCCS serving the fixture collateral, with `over` replacing some routes. */
async function pccsWith(over: Record<string, Handler> = {}): Promise<Pccs> {
  const r = new Map(routes);
  for (const [k, h] of Object.entries(over)) r.set(k, h);
  const p = await startPccs(r);
  started.push(p);
  return p;
}
const redirect =
  (location: string | null, status = 302): Handler =>
  (_req, res) => {
    res.writeHead(status, location === null ? {} : { Location: location });
    res.end("moved");
  };

async function rejection(p: Promise<unknown>): Promise<KmsRegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KmsRegistryError);
    return e as KmsRegistryError;
  }
  throw new Error("expected a rejection");
}

describe("fetchCollateral and redirects (plain http)", () => {
  it("a same-origin redirect (relative or absolute, any redirect status) is followed", async () => {
    const p = await pccsWith({ [TCB]: redirect("/moved/tcb", 301) });
    p.routes.set("/moved/tcb", redirect(`${p.url}/moved/again`, 308));
    p.routes.set("/moved/again", routes.get(TCB)!);
    const c = await fetchCollateral(quote, { pccsUrl: p.url, now: TDX_NOW });
    expect(c.tcbInfo).toBe(collateral.tcbInfo);
    expect(bytesToPlainHex(c.tcbInfoSignature)).toBe(bytesToPlainHex(collateral.tcbInfoSignature));
    expect([p.hits.get(TCB), p.hits.get("/moved/tcb"), p.hits.get("/moved/again")]).toEqual([1, 1, 1]);
  });

  it("a redirect to another port is refused: PCCS_REDIRECT naming the Location; the other server is never asked", async () => {
    const other = await pccsWith();
    const target = `${other.url}${TCB}`;
    const p = await pccsWith({ [TCB]: redirect(target) });
    const e = await rejection(fetchCollateral(quote, { pccsUrl: p.url, now: TDX_NOW }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toBe("PCCS_REDIRECT");
    expect(e.message).toContain(`redirecting to ${JSON.stringify(target)}, outside ${p.url}`);
    expect(e.message).toMatch(/^TCB Info: \/tdx\/certification\/v4\/tcb\?fmspc=B0C06F000000 answered HTTP 302 /);
    expect(e.details).toMatchObject({ status: 302, location: target });
    expect(other.total()).toBe(0);
  });

  it("a redirect to another host (same port) is refused", async () => {
    const p = await pccsWith();
    const port = new URL(p.url).port;
    p.routes.set(TCB, redirect(`http://localhost:${port}/elsewhere`));
    p.routes.set("/elsewhere", routes.get(TCB)!);
    const e = await rejection(fetchCollateral(quote, { pccsUrl: p.url, now: TDX_NOW }));
    expect(e.code).toBe("PCCS_REDIRECT");
    expect(e.message).toContain(`"http://localhost:${port}/elsewhere", outside http://127.0.0.1:${port}`);
    expect(p.hits.get("/elsewhere")).toBeUndefined();
  });

  it(`a redirect loop stops after ${MAX_PCCS_REDIRECTS} redirects; a redirect without Location is refused`, async () => {
    const loop = await pccsWith({ [TCB]: redirect(TCB) });
    const e = await rejection(fetchCollateral(quote, { pccsUrl: loop.url, now: TDX_NOW }));
    expect(e.code).toBe("PCCS_REDIRECT");
    expect(e.message).toMatch(new RegExp(`after ${MAX_PCCS_REDIRECTS} redirects already: at most ${MAX_PCCS_REDIRECTS} are followed`));
    expect(loop.hits.get(TCB)).toBe(MAX_PCCS_REDIRECTS + 1);

    const bare = await pccsWith({ [TCB]: redirect(null, 303) });
    const e2 = await rejection(fetchCollateral(quote, { pccsUrl: bare.url, now: TDX_NOW }));
    expect(e2.code).toBe("PCCS_REDIRECT");
    expect(e2.message).toMatch(/answered HTTP 303 \(a redirect\) without a Location header/);
  });
});

describe("verify-quote --pccs https://… and redirects", () => {
  let https: Server;
  let httpsUrl: string;
  let plain: Pccs;
  const httpsRoutes = new Map<string, Handler>();
  const httpsHits = new Map<string, number>();
  let runs = 0;
  // each run with an empty collateral cache, so every request reaches the server
  const env = () => ({ NODE_EXTRA_CA_CERTS: join(tmp, "ca.pem"), XDG_CACHE_HOME: join(tmp, `xdg-${++runs}`) });

  beforeAll(async () => {
    // a test CA trusted by the child process through NODE_EXTRA_CA_CERTS, and a server certificate for localhost
    const caKey = await generateP256();
    const caPem = await createSelfSignedCa(caKey, { name: "CN=pccs-redirect test CA" });
    const leafKey = await generateP256();
    const leafPem = await issueRpcCert(leafKey, caPem, caKey, { domain: "localhost" });
    await writeFile(join(tmp, "ca.pem"), caPem);
    for (const [k, v] of routes) httpsRoutes.set(k, v);
    https = createHttps({ cert: leafPem, key: leafKey.privatePem }, (req: IncomingMessage, res: ServerResponse) => {
      httpsHits.set(req.url ?? "", (httpsHits.get(req.url ?? "") ?? 0) + 1);
      const h = httpsRoutes.get(req.url ?? "");
      if (h) h(req, res);
      else res.writeHead(404).end("no such resource");
    });
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
    httpsUrl = `https://localhost:${(https.address() as AddressInfo).port}`;
    plain = await pccsWith();
  });
  afterAll(async () => {
    https.closeAllConnections();
    await new Promise((r) => https.close(r));
  });

  it("an https PCCS is used (control), and its same-origin redirect is followed", async () => {
    httpsRoutes.set(TCB, redirect("/v4-moved/tcb"));
    httpsRoutes.set("/v4-moved/tcb", routes.get(TCB)!);
    const r = await runCli(["verify-quote", TDX_QUOTE, "--pccs", httpsUrl, "--at", String(TDX_NOW), "--json"], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, status: "UpToDate", genuine: true });
    expect(httpsHits.get("/v4-moved/tcb")).toBe(1);
  });

  it("a redirect from https to http is refused (exit 1, one line, --json one document); the http server is never asked", async () => {
    const target = `http://localhost:${new URL(plain.url).port}${TCB}`;
    httpsRoutes.set(TCB, redirect(target));
    const before = plain.total();
    const r = await runCli(["verify-quote", TDX_QUOTE, "--pccs", httpsUrl, "--at", String(TDX_NOW)], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(`redirecting to ${JSON.stringify(target)}, outside ${httpsUrl}: only redirects with the same scheme, host and port are followed`);
    const j = await runCli(["verify-quote", TDX_QUOTE, "--pccs", httpsUrl, "--at", String(TDX_NOW), "--json"], { env: env() });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "PCCS_REDIRECT" } });
    expect(plain.total() - before).toBe(0);
  });
});
