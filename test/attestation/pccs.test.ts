/**
 * Online collateral against a real local HTTP server (node:http on 127.0.0.1, ephemeral port)
 * that serves the REAL Intel-signed fixture collateral split back into PCCS responses: DER CRL
 * bodies, `{"tcbInfo":…,"signature":…}` bodies built from the exact stored text, URL-encoded
 * issuer-chain headers, and the content types a PCCS sends.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { collateralToJson, parseCollateralJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeEncryptedPpidCertData, forgeQuote } from "../../src/testing/forge/index.js";
import { defaultCollateralCacheDir } from "../../src/dcap/pccs/cache.js";
import { MAX_RESPONSE_BYTES, normalizePccsBase } from "../../src/dcap/pccs/client.js";
import { collateralRequestInfo, fetchCollateral, type FetchCollateralOptions } from "../../src/dcap/pccs/fetch-collateral.js";
import { rawJsonMember } from "../../src/dcap/pccs/raw-json.js";
import type { Collateral } from "../../src/dcap/types.js";
import { checkQuote, verifyQuote } from "../../src/dcap/verify.js";
import { bytesToPlainHex } from "../../src/core/bytes.js";
import { KmsRegistryError, NetworkError } from "../../src/core/errors.js";
import { pccsRoutes, startPccs, stopPccs, type Handler, type Pccs } from "../helpers/pccs-server.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const TDX_NOW = 1752919234;
const SGX_NOW = 1752919277;

function expectSameCollateral(a: Collateral, b: Collateral): void {
  expect(a.pckCrlIssuerChain).toBe(b.pckCrlIssuerChain);
  expect(a.tcbInfoIssuerChain).toBe(b.tcbInfoIssuerChain);
  expect(a.qeIdentityIssuerChain).toBe(b.qeIdentityIssuerChain);
  expect(a.tcbInfo).toBe(b.tcbInfo);
  expect(a.qeIdentity).toBe(b.qeIdentity);
  expect(bytesToPlainHex(a.rootCaCrl)).toBe(bytesToPlainHex(b.rootCaCrl));
  expect(bytesToPlainHex(a.pckCrl)).toBe(bytesToPlainHex(b.pckCrl));
  expect(bytesToPlainHex(a.tcbInfoSignature)).toBe(bytesToPlainHex(b.tcbInfoSignature));
  expect(bytesToPlainHex(a.qeIdentitySignature)).toBe(bytesToPlainHex(b.qeIdentitySignature));
  expect(a.pckCertificateChain).toBeUndefined();
}

async function rejection(p: Promise<unknown>): Promise<KmsRegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KmsRegistryError);
    return e as KmsRegistryError;
  }
  throw new Error("expected a rejection");
}

let tdxQuote: Uint8Array;
let sgxQuote: Uint8Array;
let tdxCollateral: Collateral;
let sgxCollateral: Collateral;
let tdxCollateralText: string;
let pccs: Pccs;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "pccs-cache-"));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  tdxQuote = new Uint8Array(await readFile(new URL("tdx_quote", FIX)));
  sgxQuote = new Uint8Array(await readFile(new URL("sgx_quote", FIX)));
  tdxCollateralText = await readFile(new URL("tdx_quote_collateral.json", FIX), "utf8");
  tdxCollateral = parseCollateralJson(tdxCollateralText);
  sgxCollateral = parseCollateralJson(await readFile(new URL("sgx_quote_collateral.json", FIX), "utf8"));
  const routes = pccsRoutes(tdxCollateral, "tdx", "B0C06F000000", "platform");
  for (const [k, v] of pccsRoutes(sgxCollateral, "sgx", "00A067110000", "processor")) routes.set(k, v);
  pccs = await startPccs(routes);
});

afterAll(async () => {
  await stopPccs(pccs);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("collateralRequestInfo / normalizePccsBase", () => {
  it("reads FMSPC, CA type and TEE from the quote's PCK leaf", () => {
    expect(collateralRequestInfo(tdxQuote)).toEqual({ tee: "tdx", fmspc: "B0C06F000000", ca: "platform" });
    expect(collateralRequestInfo(sgxQuote)).toEqual({ tee: "sgx", fmspc: "00A067110000", ca: "processor" });
  });

  it("normalises base URLs", () => {
    expect(normalizePccsBase("https://pccs.example/")).toBe("https://pccs.example");
    expect(normalizePccsBase("https://api.trustedservices.intel.com/sgx/certification/v4/")).toBe("https://api.trustedservices.intel.com");
    expect(normalizePccsBase("http://127.0.0.1:8081/pccs/tdx/certification/v4")).toBe("http://127.0.0.1:8081/pccs");
    expect(() => normalizePccsBase("ftp://x")).toThrow(/only http and https/);
    expect(() => normalizePccsBase("not a url")).toThrow(/not a URL/);
  });

  it("defaults the cache under XDG_CACHE_HOME, else ~/.cache", () => {
    expect(defaultCollateralCacheDir({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" })).toBe("/x/cache/dstack-kms-registry/collateral");
    expect(defaultCollateralCacheDir({ HOME: "/home/u" })).toBe("/home/u/.cache/dstack-kms-registry/collateral");
  });

  it("cuts the raw text of a member, whatever the formatting around it", () => {
    const inner = '{"a" : [1, {"b":"}\\"]"}], "c":null}';
    expect(rawJsonMember(`{"signature":"ab", "tcbInfo" : ${inner} }`, "tcbInfo")).toBe(inner);
    expect(rawJsonMember(`{\n  "tcbInfo":${inner},\n  "signature":"ab"\n}`, "tcbInfo")).toBe(inner);
    expect(rawJsonMember(`{"x":1}`, "tcbInfo")).toBeUndefined();
    expect(rawJsonMember(`{"tcbInfo":{"a":1},"tcbInfo":{"a":2}}`, "tcbInfo")).toBeUndefined();
    expect(rawJsonMember(`{"x":"tcbInfo","tcbInfo":true}`, "tcbInfo")).toBe("true");
  });
});

describe("rawJsonMember over random JSON (fast-check)", () => {
  it("returns the exact source text of the member, for any formatting and key order", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
        fc.jsonValue({ maxDepth: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        (others, value, indent, pos) => {
          const keys = Object.keys(others).filter((k) => k !== "tcbInfo");
          const at = keys.length === 0 ? 0 : pos % (keys.length + 1);
          const entries: [string, unknown][] = keys.map((k) => [k, others[k]]);
          entries.splice(at, 0, ["tcbInfo", value]);
          const valueText = JSON.stringify(value, null, indent);
          const body = `{${entries.map(([k, v]) => `${" ".repeat(indent)}${JSON.stringify(k)}${" ".repeat(indent)}:${k === "tcbInfo" ? valueText : JSON.stringify(v, null, indent)}`).join(",\n")}}`;
          expect(JSON.parse(body).tcbInfo).toEqual(JSON.parse(valueText));
          expect(rawJsonMember(body, "tcbInfo")).toBe(valueText);
        },
      ),
      { numRuns: 500, seed: 42 },
    );
  });
});

describe("fetchCollateral from a local PCCS serving the real fixture collateral", () => {
  it("reproduces the TDX fixture collateral byte for byte", async () => {
    const before = pccs.total();
    const c = await fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: TDX_NOW });
    expectSameCollateral(c, tdxCollateral);
    expect(collateralToJson(c)).toBe(collateralToJson(tdxCollateral));
    expect(JSON.parse(collateralToJson(c))).toEqual(JSON.parse(tdxCollateralText));
    expect(pccs.total() - before).toBe(4);
    const v = verifyQuote(tdxQuote, { collateral: c, now: TDX_NOW });
    expect(v.status).toBe("UpToDate");
    expect(v.advisoryIds).toEqual([]);
    expect(v.genuine).toBe(true);
    expect(pccs.hits.get("/sgx/certification/v4/pckcrl?ca=platform&encoding=der")).toBeGreaterThanOrEqual(1);
    expect(pccs.hits.get("/tdx/certification/v4/tcb?fmspc=B0C06F000000")).toBeGreaterThanOrEqual(1);
  });

  it("reproduces the SGX fixture collateral (Processor CA, sgx paths)", async () => {
    const c = await fetchCollateral(sgxQuote, { pccsUrl: `${pccs.url}/sgx/certification/v4/`, now: SGX_NOW });
    expectSameCollateral(c, sgxCollateral);
    const v = verifyQuote(sgxQuote, { collateral: c, now: SGX_NOW });
    expect(v.status).toBe("ConfigurationAndSWHardeningNeeded");
    expect(v.advisoryIds).toEqual(["INTEL-SA-00289", "INTEL-SA-00615"]);
    expect(pccs.hits.get("/sgx/certification/v4/tcb?fmspc=00A067110000")).toBeGreaterThanOrEqual(1);
    expect(pccs.hits.get("/sgx/certification/v4/pckcrl?ca=processor&encoding=der")).toBeGreaterThanOrEqual(1);
  });

  it("serves repeated requests from the on-disk cache and refetches only what passed nextUpdate", async () => {
    const cacheDir = await tempDir();
    const opts = (now: number): FetchCollateralOptions => ({ pccsUrl: pccs.url, now, cacheDir });
    const t0 = pccs.total();
    const first = await fetchCollateral(tdxQuote, opts(TDX_NOW));
    expect(pccs.total() - t0).toBe(4);
    expect(await readdir(cacheDir)).toHaveLength(4);

    const t1 = pccs.total();
    const second = await fetchCollateral(tdxQuote, opts(TDX_NOW));
    expect(pccs.total() - t1).toBe(0);
    expectSameCollateral(second, first);
    expectSameCollateral(second, tdxCollateral);

    // PCK CRL nextUpdate is 2025-07-19T10:00:35Z (1752919235); TCB Info 10:16:03Z; QE Identity 10:32:27Z.
    const pckCrlPath = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
    const tcbPath = "/tdx/certification/v4/tcb?fmspc=B0C06F000000";
    const qePath = "/tdx/certification/v4/qe/identity?update=standard";
    const snap = () => [pckCrlPath, tcbPath, qePath].map((p) => pccs.hits.get(p) ?? 0);
    let s = snap();
    await fetchCollateral(tdxQuote, opts(1752919236));
    expect(snap().map((v, i) => v - s[i]!)).toEqual([1, 0, 0]);
    s = snap();
    await fetchCollateral(tdxQuote, opts(1752920164));
    expect(snap().map((v, i) => v - s[i]!)).toEqual([1, 1, 0]);
    s = snap();
    await fetchCollateral(tdxQuote, opts(1752921148));
    expect(snap().map((v, i) => v - s[i]!)).toEqual([1, 1, 1]);
  });

  it("treats a corrupt cache entry as a miss", async () => {
    const cacheDir = await tempDir();
    await fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: TDX_NOW, cacheDir });
    for (const f of await readdir(cacheDir)) await writeFile(join(cacheDir, f), "{not json");
    const t = pccs.total();
    const c = await fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: TDX_NOW, cacheDir });
    expect(pccs.total() - t).toBe(4);
    expectSameCollateral(c, tdxCollateral);
  });

  it("an unusable cache directory does not stop the fetch", async () => {
    const d = await tempDir();
    const notADir = join(d, "file");
    await writeFile(notADir, "x");
    const c = await fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: TDX_NOW, cacheDir: join(notADir, "cache") });
    expectSameCollateral(c, tdxCollateral);
  });

  it("keys the cache by URL: another PCCS is asked again", async () => {
    const cacheDir = await tempDir();
    const other = await startPccs(pccs.routes);
    try {
      await fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: TDX_NOW, cacheDir });
      await fetchCollateral(tdxQuote, { pccsUrl: other.url, now: TDX_NOW, cacheDir });
      expect(other.total()).toBe(4);
    } finally {
      await stopPccs(other);
    }
  });

  it("rejects a missing or NaN now", async () => {
    for (const now of [undefined, Number.NaN, 1.5]) {
      const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: pccs.url, now: now as number }));
      expect(e.code).toBe("USAGE");
    }
  });
});

describe("fetchCollateral failures are typed and precise", () => {
  async function withServer(mutate: (routes: Map<string, Handler>) => void, run: (url: string) => Promise<void>): Promise<void> {
    const routes = new Map(pccs.routes);
    mutate(routes);
    const p = await startPccs(routes);
    try {
      await run(p.url);
    } finally {
      await stopPccs(p);
    }
  }

  it("HTTP 404 names the status and the path", async () => {
    await withServer(
      (r) => r.delete("/tdx/certification/v4/tcb?fmspc=B0C06F000000"),
      async (url) => {
        const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW }));
        expect(e).toBeInstanceOf(NetworkError);
        expect(e.code).toBe("PCCS_HTTP_STATUS");
        expect(e.details).toMatchObject({ status: 404, path: "/tdx/certification/v4/tcb?fmspc=B0C06F000000" });
        expect(e.message).toMatch(/TCB Info: HTTP 404 for \/tdx\/certification\/v4\/tcb\?fmspc=B0C06F000000/);
        expect(e.message).toMatch(/no collateral could be fetched: .*supply a collateral JSON file .*--collateral FILE/);
      },
    );
  });

  it("HTTP 500 names the status", async () => {
    await withServer(
      (r) =>
        r.set("/sgx/certification/v4/pckcrl?ca=platform&encoding=der", (_q, res) => {
          res.writeHead(500);
          res.end("internal error");
        }),
      async (url) => {
        const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW }));
        expect(e.code).toBe("PCCS_HTTP_STATUS");
        expect(e.details).toMatchObject({ status: 500 });
        expect(e.message).toMatch(/PCK CRL: HTTP 500 .*internal error/);
      },
    );
  });

  it("a server that never answers is a timeout", async () => {
    await withServer(
      (r) => r.set("/tdx/certification/v4/qe/identity?update=standard", () => undefined),
      async (url) => {
        const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW, timeoutMs: 300 }));
        expect(e.code).toBe("PCCS_TIMEOUT");
        expect(e.message).toMatch(/QE Identity: no answer from .*qe\/identity\?update=standard within 300 ms/);
      },
    );
  });

  it("a closed port is unreachable", async () => {
    const p = await startPccs(new Map());
    const url = p.url;
    await stopPccs(p);
    const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW, timeoutMs: 2000 }));
    expect(e.code).toBe("PCCS_UNREACHABLE");
  });

  it("garbage bodies and missing headers are bad responses naming what is wrong", async () => {
    const cases: [string, Handler, RegExp][] = [
      [
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        (_q, res) => {
          res.writeHead(200, { "TCB-Info-Issuer-Chain": "x" });
          res.end("<html>hello</html>");
        },
        /TCB Info: body is not JSON/,
      ],
      [
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        (_q, res) => {
          res.writeHead(200, { "TCB-Info-Issuer-Chain": "x" });
          res.end('{"tcbInfo":{"nextUpdate":"2030-01-01T00:00:00Z"},"signature":"abcd"}');
        },
        /TCB Info: body has no 64-byte hex "signature"/,
      ],
      [
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        (_q, res) => {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(`{"tcbInfo":${tdxCollateral.tcbInfo},"signature":"${bytesToPlainHex(tdxCollateral.tcbInfoSignature)}"}`);
        },
        /TCB Info: missing header TCB-Info-Issuer-Chain \/ SGX-TCB-Info-Issuer-Chain/,
      ],
      [
        "/tdx/certification/v4/qe/identity?update=standard",
        (_q, res) => {
          res.writeHead(200, { "SGX-Enclave-Identity-Issuer-Chain": "x" });
          res.end('{"signature":"00"}');
        },
        /QE Identity: body has no "enclaveIdentity" object/,
      ],
      [
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        (_q, res) => {
          res.writeHead(200, { "TCB-Info-Issuer-Chain": "x" });
          res.end(`{"tcbInfo":{"nextUpdate":"2030-01-01T00:00:00Z"},"tcbInfo":${tdxCollateral.tcbInfo},"signature":"${"00".repeat(64)}"}`);
        },
        /TCB Info: could not locate exactly one raw "tcbInfo" text/,
      ],
      [
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
        (_q, res) => {
          res.writeHead(200, { "SGX-PCK-CRL-Issuer-Chain": "x" });
          res.end("zzzz");
        },
        /PCK CRL: body is not a CRL/,
      ],
      [
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
        (_q, res) => {
          res.writeHead(200, { "SGX-PCK-CRL-Issuer-Chain": "x" });
          res.end(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
        },
        /PCK CRL: body is not a parsable CRL/,
      ],
    ];
    for (const [path, handler, re] of cases) {
      await withServer(
        (r) => r.set(path, handler),
        async (url) => {
          const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW }));
          expect(e.code).toBe("PCCS_BAD_RESPONSE");
          expect(e.message).toMatch(re);
        },
      );
    }
  });

  it("an oversized body is refused, declared or streamed", async () => {
    const path = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
    await withServer(
      (r) =>
        r.set(path, (_q, res) => {
          res.writeHead(200, { "Content-Length": String(MAX_RESPONSE_BYTES + 1), "SGX-PCK-CRL-Issuer-Chain": "x" });
          res.write("0");
        }),
      async (url) => {
        const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW }));
        expect(e.code).toBe("PCCS_BAD_RESPONSE");
        expect(e.message).toMatch(/PCK CRL: response from .* is larger than 16777216 bytes \(content-length 16777217\)/);
      },
    );
    await withServer(
      (r) =>
        r.set(path, (_q, res) => {
          res.writeHead(200, { "SGX-PCK-CRL-Issuer-Chain": "x" });
          const chunk = Buffer.alloc(1 << 20, 0x30);
          let sent = 0;
          const more = (): void => {
            while (sent < 17 && res.write(chunk)) sent++;
            if (sent < 17) res.once("drain", more);
            else res.end();
          };
          res.on("error", () => undefined);
          more();
        }),
      async (url) => {
        const e = await rejection(fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW }));
        expect(e.code).toBe("PCCS_BAD_RESPONSE");
        expect(e.message).toMatch(/larger than 16777216 bytes \(streamed\)/);
      },
    );
  });

  it("keeps the exact tcbInfo text when the server reorders and reformats the envelope", async () => {
    await withServer(
      (r) =>
        r.set("/tdx/certification/v4/tcb?fmspc=B0C06F000000", (_q, res) => {
          res.writeHead(200, { "Content-Type": "application/json", "SGX-TCB-Info-Issuer-Chain": encodeURIComponent(tdxCollateral.tcbInfoIssuerChain) });
          res.end(`{\n  "signature" : "${bytesToPlainHex(tdxCollateral.tcbInfoSignature).toUpperCase()}",\n  "tcbInfo" : ${tdxCollateral.tcbInfo}\n}\n`);
        }),
      async (url) => {
        const c = await fetchCollateral(tdxQuote, { pccsUrl: url, now: TDX_NOW });
        expectSameCollateral(c, tdxCollateral);
      },
    );
  });

  it("a quote with neither a PEM chain nor an encrypted PPID is an input error saying what to do", async () => {
    const w = await createForgeWorld({ seed: "pccs-no-chain" });
    const q = await forgeQuote(w, { innerCertType: 7 });
    const e = await rejection(fetchCollateral(q, { pccsUrl: pccs.url, now: TDX_NOW }));
    expect(e.code).toBe("PCCS_NO_PCK_CHAIN");
    expect(e.message).toMatch(/type 7: neither a PEM PCK chain \(5\) nor an encrypted PPID \(2, 3\).*--collateral/);
  });
});

describe("encrypted PPID (certification data type 3): the PCK certificate is fetched", () => {
  async function setup(tcbm?: string) {
    const routes = new Map<string, Handler>();
    const p = await startPccs(routes);
    const w = await createForgeWorld({ seed: "pccs-eppid" });
    for (const [k, v] of pccsRoutes(w.collateral, "tdx", "B0C06F000000", "platform")) routes.set(k, v);
    const certData = forgeEncryptedPpidCertData(w, 3);
    const quote = await forgeQuote(w, { innerCertType: 3, certData });
    const H = (b: Uint8Array) => bytesToPlainHex(b).toUpperCase();
    const qeid = H(quote.subarray(28, 44));
    const path =
      `/sgx/certification/v4/pckcert?qeid=${qeid}&encrypted_ppid=${H(certData.subarray(0, 384))}` +
      `&cpusvn=${H(w.pck.cpuSvn)}&pcesvn=0B00&pceid=0000`;
    const seen: (string | undefined)[] = [];
    routes.set(path, (req, res) => {
      seen.push(req.headers["ocp-apim-subscription-key"] as string | undefined);
      res.writeHead(200, {
        "Content-Type": "application/x-pem-file",
        "SGX-PCK-Certificate-Issuer-Chain": encodeURIComponent(w.certs.pckCa.pem + w.certs.root.pem),
        "SGX-TCBm": tcbm ?? `${H(w.pck.cpuSvn)}0B00`,
        "SGX-FMSPC": "B0C06F000000",
        "SGX-PCK-Certificate-CA-Type": "platform",
      });
      res.end(w.certs.pckLeaf.pem);
    });
    return { p, w, quote, path, seen };
  }

  it("asks pckcert with qeid, encrypted_ppid, cpusvn, pcesvn (LE), pceid and verifies with pck_certificate_chain", async () => {
    const { p, w, quote, path, seen } = await setup();
    try {
      const c = await fetchCollateral(quote, { pccsUrl: p.url, now: w.now, apiKey: "k-123" });
      expect(p.hits.get(path)).toBe(1);
      expect(seen).toEqual(["k-123"]);
      expect(c.pckCertificateChain).toBe(`${w.certs.pckLeaf.pem.trimEnd()}\n${w.certs.pckCa.pem}${w.certs.root.pem}`);
      const v = verifyQuote(quote, { collateral: c, now: w.now, rootCaDer: w.rootCaDer });
      expect(v.status).toBe("UpToDate");
      expect(v.genuine).toBe(false);
      // without the fetched chain the same quote cannot be verified
      const { pckCertificateChain: _drop, ...without } = c;
      const r = checkQuote(quote, { collateral: without, now: w.now, rootCaDer: w.rootCaDer });
      expect(r.ok).toBe(false);
    } finally {
      await stopPccs(p);
    }
  });

  it("a PCK certificate for another TCB (SGX-TCBm) means the platform's TCB is not registered", async () => {
    const { p, w, quote } = await setup("00".repeat(16) + "0100");
    try {
      const e = await rejection(fetchCollateral(quote, { pccsUrl: p.url, now: w.now }));
      expect(e.code).toBe("PCCS_PCK_TCB_NOT_REGISTERED");
      expect(e.message).toMatch(/returned the certificate for TCB 0{32}0100, not the quote's 030302020401000500000000000000000B00 \(CPUSVN ‖ PCESVN\): the platform's current TCB is not registered/);
    } finally {
      await stopPccs(p);
    }
  });

  it("truncated encrypted-PPID data is an input error", async () => {
    const w = await createForgeWorld({ seed: "pccs-eppid" });
    const q = await forgeQuote(w, { innerCertType: 3, certData: new Uint8Array(100) });
    const e = await rejection(fetchCollateral(q, { pccsUrl: pccs.url, now: w.now }));
    expect(e.code).toBe("PCCS_NO_PCK_CHAIN");
    expect(e.message).toMatch(/must hold 404 bytes .* got 100/);
  });
});

describe("root CA CRL from the root's CRL distribution point", () => {
  it("Intel PCS: no rootcacrl request; the root CRL comes from Intel's distribution point (hosts routed to the local server)", async () => {
    const routes = new Map(pccs.routes);
    routes.set("/IntelSGXRootCA.der", (_q, res) => {
      res.writeHead(200, { "Content-Type": "application/pkix-crl" });
      res.end(Buffer.from(tdxCollateral.rootCaCrl));
    });
    const p = await startPccs(routes);
    const asked: string[] = [];
    // The real PCS and certificate hosts cannot be reached offline: rewrite their origin to the local
    // server (a real socket), keep path and query, and record what was asked for.
    const viaLocal: typeof fetch = (input, init) => {
      const u = new URL(String(input));
      asked.push(u.href);
      return fetch(`${p.url}${u.pathname}${u.search}`, init);
    };
    try {
      const c = await fetchCollateral(tdxQuote, { pccsUrl: "https://api.trustedservices.intel.com/sgx/certification/v4", now: TDX_NOW, fetch: viaLocal });
      expectSameCollateral(c, tdxCollateral);
      expect(asked.sort()).toEqual(
        [
          "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
          "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity?update=standard",
          "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=B0C06F000000",
          "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
        ].sort(),
      );
      expect(p.hits.get("/sgx/certification/v4/rootcacrl")).toBeUndefined();
    } finally {
      await stopPccs(p);
    }
  });

  it("falls back to the distribution point when the PCCS has no rootcacrl (forged world)", async () => {
    const routes = new Map<string, Handler>();
    const p = await startPccs(routes);
    try {
      const w = await createForgeWorld({ seed: "cdp", rootCrlUri: `${p.url}/IntelSGXRootCA.der` });
      for (const [k, v] of pccsRoutes(w.collateral, "tdx", "B0C06F000000", "platform")) routes.set(k, v);
      routes.delete("/sgx/certification/v4/rootcacrl");
      routes.set("/IntelSGXRootCA.der", (_q, res) => {
        res.writeHead(200, { "Content-Type": "application/pkix-crl" });
        res.end(Buffer.from(w.collateral.rootCaCrl));
      });
      const q = await forgeQuote(w);
      const c = await fetchCollateral(q, { pccsUrl: p.url, now: w.now });
      expectSameCollateral(c, w.collateral);
      const v = verifyQuote(q, { collateral: c, now: w.now, rootCaDer: w.rootCaDer });
      expect(v.status).toBe("UpToDate");
      expect(v.genuine).toBe(false);
      expect(p.hits.get("/sgx/certification/v4/rootcacrl")).toBe(1);
      expect(p.hits.get("/IntelSGXRootCA.der")).toBe(1);
    } finally {
      await stopPccs(p);
    }
  });
});
