/**
 * The KMS TLS pin, hardened: `--ca-pubkey` / `caPubkey` must be a P-256 SPKI whose point is on the curve
 * (checked before connecting), the KMS root CA certificate itself is not accepted as the TLS leaf, and no
 * throw inside the client's event listeners escapes as an uncaught exception — it becomes a typed error.
 * Real https servers on 127.0.0.1 with real certificates made the way a KMS makes them (src/kms/pki.ts).
 */
import "reflect-metadata";
import { X509Certificate, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo } from "node:net";
import { TLSSocket } from "node:tls";

import { p256 } from "@noble/curves/nist.js";
import * as x509 from "@peculiar/x509";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { InputError, KmsRegistryError, NetworkError, VerificationError } from "../../src/core/errors.js";
import { assertCaPubkeyPin, getMeta } from "../../src/kms/client.js";
import { generateKmsKeys, type KmsKeyMaterial } from "../../src/testing/generate.js";
import { createSelfSignedCa, generateP256 } from "../../src/testing/pki.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { runCli } from "../helpers/cli.js";

const QUOTE = readFileSync(new URL("../fixtures/dcap/tdx_quote", import.meta.url)).toString("hex");
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** A server answering `body()`; counts TCP connections and requests. */
async function serve(body: () => string, tls?: { cert: string; key: string }): Promise<{ url: string; hits: () => number; connections: () => number }> {
  let hits = 0;
  let connections = 0;
  const h = (_req: IncomingMessage, res: ServerResponse) => {
    hits++;
    const b = body();
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b) });
    res.end(b);
  };
  const s = tls ? createHttps(tls, h) : createHttp(h);
  s.on("connection", () => connections++);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { url: `${tls ? "https" : "http"}://127.0.0.1:${(s.address() as AddressInfo).port}`, hits: () => hits, connections: () => connections };
}

let A: KmsKeyMaterial;
let B: KmsKeyMaterial;
beforeAll(async () => {
  [A, B] = await Promise.all([generateKmsKeys({ domain: "a.example" }), generateKmsKeys({ domain: "b.example" })]);
});
const metaOf = (m: KmsKeyMaterial) =>
  JSON.stringify({
    ca_cert: m.rootCaPem,
    k256_pubkey: bytesToPlainHex(m.k256Pubkey),
    bootstrap_info: { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey), quote: QUOTE, eventlog: "" },
    is_dev: false,
  });
const fast = { retryDelayMs: 5, timeoutMs: 3000, retries: 0 };

async function err(p: Promise<unknown>): Promise<KmsRegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KmsRegistryError);
    return e as KmsRegistryError;
  }
  throw new Error("did not reject");
}

/** A's SPKI with its y coordinate changed: still 91 bytes with the P-256 prefix, but the point is off the curve. */
function offCurve(spki: Uint8Array): Uint8Array {
  const bad = new Uint8Array(spki);
  bad[90]! ^= 1;
  expect(() => p256.Point.fromBytes(bad.subarray(26))).toThrow(/not on curve/);
  return bad;
}

/** Uncaught exceptions seen while `fn` runs (there must be none). */
async function uncaughtDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUncaught = (e: unknown) => seen.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  return seen;
}

describe("--ca-pubkey / caPubkey is validated before connecting", () => {
  it("an off-curve, truncated or non-P-256 key is an InputError BAD_CA_PUBKEY; the server is never contacted", async () => {
    const real = await serve(() => metaOf(A), { cert: A.rpcPem, key: A.rpc.privatePem });
    const seen = await uncaughtDuring(async () => {
      const e = await err(getMeta(real.url, { ...fast, caPubkey: offCurve(A.caPubkey) }));
      expect(e).toBeInstanceOf(InputError);
      expect(e.code).toBe("BAD_CA_PUBKEY");
      expect(e.message).toMatch(/not on the curve/);
      const e2 = await err(pullBootstrap({ kms: real.url, caPubkey: offCurve(A.caPubkey) }, { now: Math.floor(Date.now() / 1000), ...fast }));
      expect(e2.code).toBe("BAD_CA_PUBKEY");
      expect((await err(getMeta(real.url, { ...fast, caPubkey: A.caPubkey.subarray(0, 90) }))).code).toBe("BAD_CA_PUBKEY");
      expect((await err(getMeta(real.url, { ...fast, caPubkey: A.k256Pubkey }))).code).toBe("BAD_CA_PUBKEY");
    });
    expect(seen).toEqual([]);
    expect(real.connections()).toBe(0);
    // the real key is accepted, by the check and by the server's handshake
    expect(() => assertCaPubkeyPin(A.caPubkey, "--ca-pubkey")).not.toThrow();
    expect((await getMeta(real.url, { ...fast, caPubkey: A.caPubkey })).tls?.pinnedAtHandshake).toBe(true);
  });

  it("pull / verify / publish --ca-pubkey OFF-CURVE: exit 2, one line (no stack trace), --json one document", async () => {
    const real = await serve(() => metaOf(A), { cert: A.rpcPem, key: A.rpc.privatePem });
    const bad = bytesToPlainHex(offCurve(A.caPubkey));
    const registry = ["--rpc", "http://127.0.0.1:1", "--registry", "0x00000000000000000000000000000000000000aa"];
    for (const cmd of [["pull"], ["verify"], ["publish", ...registry]]) {
      const args = [...cmd, "--kms", real.url, "--ca-pubkey", bad, "--retries", "0"];
      const r = await runCli(args, { env: { KMS_REGISTRY_PRIVATE_KEY: undefined } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^kms-registry: ${cmd[0]}: --ca-pubkey: the point .* is not on the curve`));
      expect(r.stderr).not.toMatch(/\n\s+at |node:internal|Node\.js v/);
      const j = await runCli([...args, "--json"], { env: { KMS_REGISTRY_PRIVATE_KEY: undefined } });
      expect(j.code).toBe(2);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "BAD_CA_PUBKEY" } });
    }
    expect(real.connections()).toBe(0);
  });
});

describe("the KMS root CA certificate is not accepted as the TLS leaf", () => {
  it("a server presenting A's root CA certificate and key is refused, pinned at the handshake or on first contact", async () => {
    const now = Math.floor(Date.now() / 1000);
    const caAsLeaf = await serve(() => metaOf(A), { cert: A.rootCaPem, key: A.rootCa.privatePem });
    // the CA certificate verifies under the CA key (self-signed): that alone must not make it an RPC certificate
    expect(new X509Certificate(A.rootCaPem).verify(new X509Certificate(A.rootCaPem).publicKey)).toBe(true);
    const pinned = await err(getMeta(caAsLeaf.url, { ...fast, caPubkey: A.caPubkey }));
    expect(pinned).toBeInstanceOf(VerificationError);
    expect(pinned.code).toBe("KMS_TLS_PIN_MISMATCH");
    expect(pinned.message).toMatch(/presents the KMS root CA certificate itself .*not an RPC certificate issued by it/);
    expect(caAsLeaf.hits()).toBe(0); // rejected during the handshake, before any request
    const first = await err(pullBootstrap({ kms: caAsLeaf.url }, { now, ...fast }));
    expect(first.code).toBe("KMS_TLS_PIN_MISMATCH");
    expect(first.message).toMatch(/root CA certificate itself/);
    // the same through the CLI: exit 1, one line
    const r = await runCli(["pull", "--kms", caAsLeaf.url, "--ca-pubkey", bytesToPlainHex(A.caPubkey), "--retries", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/TLS rejected: the server presents the KMS root CA certificate itself/);
  });

  it("a self-signed certificate of the CA key without the CA flag, and a CA=true certificate issued by the CA, are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const noFlag = await createSelfSignedCa(A.rootCa, { isCa: false, name: "CN=a.example" });
    const s1 = await serve(() => metaOf(A), { cert: noFlag, key: A.rootCa.privatePem });
    expect((await err(getMeta(s1.url, { ...fast, caPubkey: A.caPubkey }))).message).toMatch(/root CA certificate itself/);

    // an intermediate CA (basicConstraints CA=true, its own key) signed by A's root CA key
    const inter = await generateP256();
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: "0a0b0c",
        subject: "CN=a.example",
        issuer: new X509Certificate(A.rootCaPem).subject.replace(/\n/g, ", "),
        notBefore: new Date((now - 3600) * 1000),
        notAfter: new Date((now + 3600) * 1000),
        signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
        publicKey: inter.keys.publicKey,
        signingKey: A.rootCa.keys.privateKey,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
      },
      webcrypto as never,
    );
    const s2 = await serve(() => metaOf(A), { cert: cert.toString("pem"), key: inter.privatePem });
    const e = await err(getMeta(s2.url, { ...fast, caPubkey: A.caPubkey }));
    expect(e.code).toBe("KMS_TLS_PIN_MISMATCH");
    expect(e.message).toMatch(/is a CA certificate \(basicConstraints CA=true\), not an RPC certificate/);
    expect((await err(pullBootstrap({ kms: s2.url }, { now, ...fast }))).message).toMatch(/basicConstraints CA=true/);

    // control: A's real RPC certificate (issued by the CA, not a CA) is accepted both ways; B's CA is not A's
    const real = await serve(() => metaOf(A), { cert: A.rpcPem, key: A.rpc.privatePem });
    expect((await pullBootstrap({ kms: real.url, caPubkey: A.caPubkey }, { now, ...fast })).checks.map((c) => c.name)).toContain("kms.tls-pinned");
    expect((await pullBootstrap({ kms: real.url }, { now, ...fast })).doc.source).toMatchObject({ transport: "https", caPinned: "response" });
    const other = await serve(() => metaOf(A), { cert: B.rootCaPem, key: B.rootCa.privatePem });
    expect((await err(getMeta(other.url, { ...fast, caPubkey: A.caPubkey }))).message).toMatch(/not signed by the pinned KMS root CA key/);
  });
});

describe("a throw inside the client's event listeners becomes a typed error", () => {
  // OpenSSL failing inside X509Certificate#verify cannot be caused from outside, so it is simulated
  it("the pin check throwing (pinned at the handshake, and on first contact) → VerificationError KMS_TLS_PIN_CHECK_FAILED", async () => {
    const now = Math.floor(Date.now() / 1000);
    const real = await serve(() => metaOf(A), { cert: A.rpcPem, key: A.rpc.privatePem });
    vi.spyOn(X509Certificate.prototype, "verify").mockImplementation(() => {
      throw new Error("simulated failure inside the signature check");
    });
    const seen = await uncaughtDuring(async () => {
      const e = await err(getMeta(real.url, { ...fast, caPubkey: A.caPubkey }));
      expect(e).toBeInstanceOf(VerificationError);
      expect(e.code).toBe("KMS_TLS_PIN_CHECK_FAILED");
      expect(e.message).toMatch(/TLS rejected: the server certificate could not be checked .*simulated failure/);
      expect(real.hits()).toBe(0);
      const first = await err(pullBootstrap({ kms: real.url }, { now, ...fast }));
      expect(first.code).toBe("KMS_TLS_PIN_CHECK_FAILED");
    });
    expect(seen).toEqual([]);
  });

  it("anything else in the secureConnect listener throwing → typed, not uncaught", async () => {
    const real = await serve(() => metaOf(A), { cert: A.rpcPem, key: A.rpc.privatePem });
    vi.spyOn(TLSSocket.prototype, "getPeerCertificate").mockImplementation(() => {
      throw new TypeError("simulated failure reading the peer certificate");
    });
    const seen = await uncaughtDuring(async () => {
      for (const caPubkey of [A.caPubkey, undefined]) {
        const e = await err(getMeta(real.url, { ...fast, ...(caPubkey ? { caPubkey } : {}) }));
        expect(e).toBeInstanceOf(VerificationError);
        expect(e.code).toBe("KMS_TLS_PIN_CHECK_FAILED");
        expect(e.message).toMatch(/simulated failure reading the peer certificate/);
      }
    });
    expect(seen).toEqual([]);
  });

  it("a response listener throwing → NetworkError KMS_BAD_RESPONSE, not uncaught", async () => {
    const plain = await serve(() => `{"marker":"listener-fault"}`);
    const concat = Buffer.concat.bind(Buffer);
    vi.spyOn(Buffer, "concat").mockImplementation((list, len) => {
      if (list.some((b) => Buffer.from(b).includes("listener-fault"))) throw new RangeError("simulated failure joining the body");
      return concat(list, len);
    });
    const seen = await uncaughtDuring(async () => {
      const e = await err(getMeta(plain.url, fast));
      expect(e).toBeInstanceOf(NetworkError);
      expect(e.code).toBe("KMS_BAD_RESPONSE");
      expect(e.message).toMatch(/the response could not be read \(simulated failure joining the body\)/);
    });
    expect(seen).toEqual([]);
    expect(plain.hits()).toBe(1);
  });
});
