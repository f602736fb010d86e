import { readFileSync } from "node:fs";
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { KmsRegistryError, NetworkError, VerificationError } from "../../src/core/errors.js";
import { getMeta, kmsBaseUrl } from "../../src/kms/client.js";
import { generateKmsKeys, type KmsKeyMaterial } from "../../src/testing/generate.js";
import { pullBootstrap } from "../../src/kms/pull.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const QUOTE = readFileSync(new URL("tdx_quote", FIX)).toString("hex");
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;
async function serve(handler: Handler, tls?: { cert: string; key: string }): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const h = (req: IncomingMessage, res: ServerResponse) => handler(req, res, ++hits);
  const s = tls ? createHttps(tls, h) : createHttp(h);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { url: `${tls ? "https" : "http"}://127.0.0.1:${(s.address() as AddressInfo).port}`, hits: () => hits };
}

let A: KmsKeyMaterial;
let B: KmsKeyMaterial;
beforeAll(async () => {
  [A, B] = await Promise.all([generateKmsKeys({ domain: "a.example" }), generateKmsKeys({ domain: "b.example" })]);
});
function metaOf(m: KmsKeyMaterial, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ca_cert: m.rootCaPem,
    allow_any_upgrade: false,
    k256_pubkey: bytesToPlainHex(m.k256Pubkey),
    bootstrap_info: { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey), quote: QUOTE, eventlog: "" },
    is_dev: false,
    ...over,
  };
}
const json = (res: ServerResponse, v: unknown, status = 200) => {
  const body = JSON.stringify(v);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
};

async function err(p: Promise<unknown>): Promise<KmsRegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KmsRegistryError);
    return e as KmsRegistryError;
  }
  throw new Error("did not reject");
}
const fast = { retryDelayMs: 5, timeoutMs: 3000 };

describe("KMS client against hostile or broken servers", () => {
  it("HTML instead of JSON (the onboarding page)", async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<!doctype html><html><body>onboard</body></html>");
    });
    const e = await err(getMeta(s.url, fast));
    expect(e.code).toBe("KMS_HTML_RESPONSE");
    expect(e.message).toMatch(/onboard mode/);
    expect(s.hits()).toBe(1); // not retried
  });

  it("responses over the size cap, declared or streamed", async () => {
    const declared = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 50_000_000 });
      res.write("{");
    });
    expect((await err(getMeta(declared.url, fast))).code).toBe("KMS_RESPONSE_TOO_LARGE");
    const streamed = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(`{"a":"${"x".repeat(20_000)}`);
      res.end('"}');
    });
    expect((await err(getMeta(streamed.url, { ...fast, maxBytes: 4096 }))).code).toBe("KMS_RESPONSE_TOO_LARGE");
  });

  it("a connection closed mid-response is retried, then reported", async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 1000 });
      res.write('{"ca_cert":"---');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const e = await err(getMeta(s.url, { ...fast, retries: 2 }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toBe("KMS_CONNECTION_CLOSED");
    expect(e.message).toMatch(/mid-response|closed the connection/);
    expect(e.message).toMatch(/after 3 attempts/);
    expect(s.hits()).toBe(3);
  });

  it("retries 502/503/504 with backoff and then succeeds", async () => {
    const s = await serve((_q, res, hit) => (hit < 3 ? json(res, { error: "busy" }, hit === 1 ? 503 : 502) : json(res, metaOf(A))));
    const r = await getMeta(s.url, fast);
    expect(r.attempts).toBe(3);
    expect(r.meta.k256_pubkey).toBe(bytesToPlainHex(A.k256Pubkey));
  });

  it("connection refused: bounded retries, a typed error", async () => {
    const s = await serve(() => undefined);
    const port = new URL(s.url).port;
    const srv = servers.pop()!;
    await new Promise((r) => srv.close(r));
    const t0 = Date.now();
    const e = await err(getMeta(`http://127.0.0.1:${port}`, { retries: 2, retryDelayMs: 20 }));
    expect(e.code).toBe("ECONNREFUSED");
    expect(e.message).toMatch(/after 3 attempts/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55); // 20 + 40 ms of backoff
  });

  it("a server that never answers times out", async () => {
    const s = await serve(() => undefined);
    const e = await err(getMeta(s.url, { timeoutMs: 150, retries: 0 }));
    expect(e.code).toBe("KMS_TIMEOUT");
  });

  it("malformed, hostile-deep JSON, prpc errors and non-object answers", async () => {
    const bad = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end('{"ca_cert": ');
    });
    expect((await err(getMeta(bad.url, fast))).code).toBe("BAD_JSON");
    const deep = await serve((_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("[".repeat(200_000));
    });
    expect((await err(getMeta(deep.url, fast))).code).toBe("JSON_TOO_DEEP");
    const rpcErr = await serve((_q, res) => json(res, { error: "auth webhook failed\ncaused by: boom" }, 400));
    const e = await err(getMeta(rpcErr.url, fast));
    expect(e.code).toBe("KMS_RPC_ERROR");
    expect(e.message).toMatch(/auth webhook failed$/);
    const arr = await serve((_q, res) => json(res, [1, 2]));
    expect((await err(getMeta(arr.url, fast))).code).toBe("KMS_BAD_JSON");
  });

  it("GetMeta consistency: live k256 key, leaked private key (pre-v0.4.2), null bootstrap_info", async () => {
    const now = Math.floor(Date.now() / 1000);
    const mismatch = await serve((_q, res) => json(res, metaOf(A, { k256_pubkey: bytesToPlainHex(B.k256Pubkey) })));
    expect((await err(pullBootstrap({ kms: mismatch.url }, { now, ...fast }))).code).toBe("KMS_K256_MISMATCH");
    const leak = await serve((_q, res) => json(res, metaOf(A, { k256_pubkey: "11".repeat(32) })));
    const e = await err(pullBootstrap({ kms: leak.url }, { now, ...fast }));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe("KMS_LEAKS_PRIVATE_KEY");
    expect(e.message).not.toContain("11".repeat(32));
    const nul = await serve((_q, res) => json(res, metaOf(A, { bootstrap_info: null })));
    const n = await err(pullBootstrap({ kms: nul.url }, { now, ...fast }));
    expect(n.code).toBe("BOOTSTRAP_INFO_NULL");
    expect(n.message).toMatch(/--file/);
    const caMismatch = await serve((_q, res) => json(res, metaOf(A, { ca_cert: B.rootCaPem })));
    expect((await err(pullBootstrap({ kms: caMismatch.url }, { now, ...fast }))).code).toBe("KMS_CA_CERT_MISMATCH");
    // the verification tutorial's GetMeta shape: bootstrap fields at the top level, 0x hex keys, base64 quote
    const tutorial = await serve((_q, res) =>
      json(res, { ca_pubkey: `0x${bytesToPlainHex(A.caPubkey)}`, k256_pubkey: `0x${bytesToPlainHex(A.k256Pubkey)}`, quote: Buffer.from(QUOTE, "hex").toString("base64"), eventlog: "" }),
    );
    const t = await pullBootstrap({ kms: tutorial.url }, { now, ...fast });
    expect(t.info.quote).toEqual(new Uint8Array(Buffer.from(QUOTE, "hex")));
    expect(t.info.k256Pubkey).toEqual(A.k256Pubkey);
    expect(t.checks.find((c) => c.name === "kms.k256-matches-meta")?.ok).toBe(true);
    expect(t.warnings.join()).toMatch(/top level/);
    const good = await serve((_q, res) => json(res, metaOf(A)));
    const ok = await pullBootstrap({ kms: `${good.url}/prpc/` }, { now, ...fast });
    expect(ok.warnings.join()).toMatch(/plain http/);
    // --ca-pubkey over plain http: no TLS to pin, but the KMS must still be the expected one
    const wrong = await err(pullBootstrap({ kms: good.url, caPubkey: B.caPubkey }, { now, ...fast }));
    expect(wrong).toBeInstanceOf(VerificationError);
    expect(wrong.code).toBe("KMS_CA_PUBKEY_MISMATCH");
    const right = await pullBootstrap({ kms: good.url, caPubkey: A.caPubkey }, { now, ...fast });
    expect(right.doc.source).toMatchObject({ transport: "http", caPinned: "argument" });
    expect(right.checks.find((c) => c.name === "kms.ca-pubkey-pinned")?.ok).toBe(true);
  });
});

describe("https pinning against servers with the wrong certificate", () => {
  it("a server whose TLS certificate is not issued by the CA it names is rejected (first contact)", async () => {
    const now = Math.floor(Date.now() / 1000);
    // relays A's identity but holds B's RPC key/cert (a man in the middle)
    const mitm = await serve((_q, res) => json(res, metaOf(A)), { cert: B.rpcPem, key: B.rpc.privatePem });
    const e = await err(pullBootstrap({ kms: mitm.url }, { now, ...fast }));
    expect(e.code).toBe("KMS_TLS_PIN_MISMATCH");
    expect(e.message).toMatch(/not signed by the pinned KMS root CA key/);
    // and the same with an explicit pin: rejected during the handshake, before any answer is read
    const e2 = await err(getMeta(mitm.url, { ...fast, retries: 0, caPubkey: A.caPubkey }));
    expect(e2.code).toBe("KMS_TLS_PIN_MISMATCH");
    expect(mitm.hits()).toBe(1);
  });

  it("a self-signed look-alike CA and the CA certificate itself are rejected; the real RPC cert is accepted", async () => {
    const now = Math.floor(Date.now() / 1000);
    // B's "Dstack KMS CA" certificate, same subject as A's: not A's key
    const lookAlike = await serve((_q, res) => json(res, metaOf(A)), { cert: B.rootCaPem, key: B.rootCa.privatePem });
    expect((await err(pullBootstrap({ kms: lookAlike.url }, { now, ...fast }))).code).toBe("KMS_TLS_PIN_MISMATCH");
    // the CA certificate itself as the TLS identity is not an RPC certificate issued by the CA (tls-pin-hardening.test.ts)
    const caAsLeaf = await serve((_q, res) => json(res, metaOf(A)), { cert: A.rootCaPem, key: A.rootCa.privatePem });
    expect((await err(pullBootstrap({ kms: caAsLeaf.url }, { now, ...fast }))).code).toBe("KMS_TLS_PIN_MISMATCH");
    const real = await serve((_q, res) => json(res, metaOf(A)), { cert: A.rpcPem, key: A.rpc.privatePem });
    const ok = await pullBootstrap({ kms: real.url, caPubkey: A.caPubkey }, { now, ...fast });
    expect(ok.doc.source).toMatchObject({ transport: "https", caPinned: "argument" });
    // an explicit pin that differs from the served bootstrap info
    expect((await err(pullBootstrap({ kms: real.url, caPubkey: B.caPubkey }, { now, ...fast, retries: 0 }))).code).toBe("KMS_TLS_PIN_MISMATCH");
  });

  it("the wrong scheme either way: a clear, typed error, not OpenSSL's internals", async () => {
    const plain = await serve((_q, res) => json(res, metaOf(A)));
    const e = await err(getMeta(plain.url.replace("http:", "https:"), { ...fast, retries: 2 }));
    expect(e).toBeInstanceOf(NetworkError);
    expect(e.code).toBe("KMS_TLS_HANDSHAKE");
    expect(e.message).toMatch(/does not speak TLS on this port/);
    expect(e.message).not.toMatch(/ssl3|openssl|\.c:\d/i);
    expect(e.message).not.toMatch(/attempts/); // not a transient error: no retry
    const tls = await serve((_q, res) => json(res, metaOf(A)), { cert: A.rpcPem, key: A.rpc.privatePem });
    const e2 = await err(getMeta(tls.url.replace("https:", "http:"), { ...fast, retries: 0 }));
    expect(e2).toBeInstanceOf(NetworkError);
    expect(e2.message).toMatch(/use https:\/\//);
  });

  it("URL handling", () => {
    expect(kmsBaseUrl("https://kms.example.com:9201/prpc/").toString()).toBe("https://kms.example.com:9201/");
    expect(kmsBaseUrl("http://localhost:9100/prpc/KMS.GetMeta").toString()).toBe("http://localhost:9100/");
    expect(kmsBaseUrl("https://gw.example.com/kms/prpc/KMS.GetMeta?json").toString()).toBe("https://gw.example.com/kms");
    expect(() => kmsBaseUrl("ftp://x")).toThrow(/http/);
    expect(() => kmsBaseUrl("not a url")).toThrow(/not a URL/);
  });
});
