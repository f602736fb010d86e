import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { hexToBytes } from "../../src/core/bytes.js";
import { InputError, VerificationError } from "../../src/core/errors.js";
import { checkCertsDir } from "../../src/kms/certs-dir.js";
import { getMeta, kmsCall } from "../../src/kms/client.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import {
  appKeyMessage,
  envEncryptMessage,
  envEncryptMessageV1,
  ethAddress,
  recoverPublicKey,
  verifyKeyChainOffChain,
} from "../../src/dstack/signatures.js";

const tmp = mkdtempSync(join(tmpdir(), "kms-sim-"));
const running: SimulatedKms[] = [];
afterAll(async () => {
  for (const k of running) await k.close();
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
async function start(opts: Partial<Parameters<typeof startSimulatedKms>[0]> = {}): Promise<SimulatedKms> {
  const kms = await startSimulatedKms({ certsDir: join(tmp, `c${n++}`), port: 0, ...opts });
  running.push(kms);
  return kms;
}
const NOW = () => Math.floor(Date.now() / 1000);
const DOMAIN = "kms.sim.example";

async function simTrust(kms: SimulatedKms) {
  return {
    collateral: parseCollateralJson(readFileSync(kms.simCollateralPath, "utf8")),
    rootCaDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simRootCaPath)), "sim root"),
  };
}

describe("simulated KMS over real HTTP: onboarding", () => {
  it("serves the onboarding page, bootstraps once with real files, refuses a second bootstrap, finishes", async () => {
    const kms = await start();
    expect(kms.mode).toBe("onboard");
    const page = await fetch(`${kms.url}/`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/Bootstrap/);
    // GetMeta during onboarding: an HTML 404 page — the client explains it
    await expect(getMeta(kms.url, { retries: 0 })).rejects.toMatchObject({ code: "KMS_HTML_RESPONSE" });

    const r = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ domain: DOMAIN }) });
    expect(r.status).toBe(200);
    const resp = (await r.json()) as Record<string, string>;
    expect(Object.keys(resp)).toEqual(["ca_pubkey", "k256_pubkey", "quote", "eventlog"]);
    expect(resp.ca_pubkey).toMatch(/^3059301306072a8648ce3d020106082a8648ce3d030107034200/);
    expect(resp.k256_pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(resp.eventlog!.startsWith("5b7b")).toBe(true);
    const files = readdirSync(kms.certsDir).sort();
    expect(files).toEqual(["bootstrap-info.json", "root-ca.crt", "root-ca.key", "root-k256.key", "rpc.crt", "rpc.key", "tmp-ca.crt", "tmp-ca.key"]);
    for (const f of ["root-ca.key", "root-k256.key", "rpc.key", "tmp-ca.key"]) expect(statSync(join(kms.certsDir, f)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(kms.certsDir, "bootstrap-info.json"), "utf8"))).toEqual(resp);
    const before = Object.fromEntries(files.map((f) => [f, readFileSync(join(kms.certsDir, f)).toString("hex")]));

    const again = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: JSON.stringify({ domain: "other.example" }) });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe("Bootstrap already completed");
    const after = Object.fromEntries(readdirSync(kms.certsDir).sort().map((f) => [f, readFileSync(join(kms.certsDir, f)).toString("hex")]));
    expect(after).toEqual(before);

    const fin = await fetch(`${kms.url}/finish`);
    expect(await fin.text()).toBe("OK");
    expect(kms.mode).toBe("normal");
    const meta = await getMeta(kms.url);
    expect(meta.meta.k256_pubkey).toBe(resp.k256_pubkey);
    expect(meta.meta.bootstrap_info).toEqual(resp);
    expect(String(meta.meta.ca_cert)).toMatch(/BEGIN CERTIFICATE/);

    // the tutorials' own commands, unchanged (only /etc/kms/certs replaced by this dir)
    const script = readFileSync(new URL("fixtures/tutorial-verify-bootstrap.sh", import.meta.url), "utf8").replace('CERTS_DIR="/etc/kms/certs"', `CERTS_DIR=${JSON.stringify(kms.certsDir)}`);
    const sh = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(sh.stdout).toContain("KMS bootstrap verified successfully!");
    expect(sh.status).toBe(0);
    const cmd = (c: string) => spawnSync("bash", ["-c", c.replaceAll("/etc/kms/certs", kms.certsDir)], { encoding: "utf8" });
    expect(cmd("openssl x509 -in /etc/kms/certs/root-ca.crt -text -noout | head -20").stdout).toMatch(/Subject: O = Dstack, CN = Dstack KMS CA/);
    expect(cmd("openssl verify -CAfile /etc/kms/certs/root-ca.crt /etc/kms/certs/root-ca.crt").stdout).toMatch(/root-ca.crt: OK/);
    expect(cmd("openssl x509 -in /etc/kms/certs/rpc.crt -noout -subject").stdout.trim()).toBe(`subject=CN = ${DOMAIN}`);
    expect(cmd("openssl verify -CAfile /etc/kms/certs/root-ca.crt /etc/kms/certs/rpc.crt").stdout).toMatch(/rpc.crt: OK/);
    expect(cmd('stat --format="%s bytes" /etc/kms/certs/root-k256.key').stdout.trim()).toBe("32 bytes");
    expect(cmd("cat /etc/kms/certs/bootstrap-info.json | jq -r .quote | head -c 8").stdout).toBe("04000200");
    expect(cmd("ls -1 /etc/kms/certs | wc -l").stdout.trim()).toBe("8");

    // the certs dir passes the checklist; sim files are outside it
    const c = await checkCertsDir(kms.certsDir, { domain: DOMAIN, now: NOW() });
    expect(c.failed).toEqual([]);
    expect(readdirSync(kms.simDir).sort()).toEqual(["bootstrap-response.json", "collateral.json", "dcap-root-ca.pem"]);
    const servedRoot = await (await fetch(`${kms.url}/sim/dcap-root-ca.pem`)).text();
    expect(servedRoot).toBe(readFileSync(kms.simRootCaPath, "utf8"));
    const servedCol = await (await fetch(`${kms.url}/sim/collateral.json`)).json();
    expect(servedCol).toEqual(JSON.parse(readFileSync(kms.simCollateralPath, "utf8")));
  });

  it("Onboard.GetAttestationInfo before bootstrap names the mr_aggregated the bootstrap quote then carries", async () => {
    const kms = await start();
    const info = (await (await fetch(`${kms.url}/prpc/Onboard.GetAttestationInfo?json`, { method: "POST", body: "{}" })).json()) as Record<string, string>;
    expect(info.mr_aggregated).toMatch(/^[0-9a-f]{64}$/);
    await kms.bootstrap(DOMAIN);
    const pulled = await pullBootstrap({ file: join(kms.certsDir, "bootstrap-info.json") }, { now: NOW() });
    const r = await verifyBootstrap(pulled.info, { ...(await simTrust(kms)), now: NOW() });
    expect(r.ok).toBe(true);
    expect(r.measurements!.mrAggregated).toBe(`0x${info.mr_aggregated}`);
    expect(r.measurements!.osImageHash).toBe(`0x${info.os_image_hash}`);
  });

  it("concurrent Bootstrap calls: exactly one wins, the files are written once", async () => {
    const kms = await start();
    const call = () => fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: JSON.stringify({ domain: DOMAIN }) });
    const rs = await Promise.all([call(), call(), call()]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    const winner = (await rs.find((r) => r.status === 200)!.json()) as Record<string, string>;
    expect(JSON.parse(readFileSync(join(kms.certsDir, "bootstrap-info.json"), "utf8"))).toEqual(winner);
    expect(readdirSync(kms.certsDir)).toHaveLength(8);
  });

  it("rejects bad domains and non-JSON requests with the prpc error shape", async () => {
    const kms = await start();
    for (const domain of ["", "bad domain", "a".repeat(300), 5]) {
      const r = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: JSON.stringify({ domain }) });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(/domain/);
    }
    const r = await fetch(`${kms.url}/prpc/Onboard.Bootstrap`, { method: "POST", body: "x" });
    expect(r.status).toBe(400);
    const deep = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: "[".repeat(1000) });
    expect(((await deep.json()) as { error: string }).error).toMatch(/nested/);
    const big = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: `{"domain":"${"a".repeat(100_000)}"}` });
    expect(big.status).toBe(413);
    expect(kms.bootstrapped).toBe(false);
    expect(readdirSync(kms.certsDir)).toEqual([]);
  });
});

describe("simulated KMS: normal mode API and verification", () => {
  it("auto-bootstraps; verify passes against its simulated root (genuine: false) and fails against Intel's", async () => {
    const kms = await start({ autoBootstrapDomain: DOMAIN });
    expect(kms.mode).toBe("normal");
    const now = NOW();
    const pulled = await pullBootstrap({ kms: kms.url }, { now });
    expect(pulled.doc.source).toMatchObject({ type: "kms", transport: "http" });
    const trust = await simTrust(kms);
    const ok = await verifyBootstrap(pulled.info, { ...trust, now });
    expect(ok.failed).toEqual([]);
    expect(ok.verdict).toBe("VERIFIED");
    expect(ok.genuine).toBe(false);
    expect(ok.binding!.ok).toBe(true);
    expect(ok.eventlog!.rtmrsMatch).toBe(true);
    expect(ok.eventlog!.runtime.keyProvider?.name).toBe("local-sgx");
    expect(ok.kms.address).toBe(ethAddress(pulled.info.k256Pubkey));
    expect(ok.warnings.join("\n")).toMatch(/NOT GENUINE/);

    const intel = await verifyBootstrap(pulled.info, { collateral: trust.collateral, now });
    expect(intel.ok).toBe(false);
    expect(intel.failed).toContain("quote.verified");
    expect(intel.checks.find((c) => c.name === "quote.verified")!.detail).toMatch(/Intel|root/i);
    // binding and replay still pass: only the trust anchor is wrong
    expect(intel.binding!.ok).toBe(true);
  });

  it("signs env-encrypt keys (messages B and C) and issues app keys and key chains (messages A and D) with the root k256 key", async () => {
    const kms = await start({ autoBootstrapDomain: DOMAIN });
    const meta = await getMeta(kms.url);
    const kmsPub = hexToBytes(String(meta.meta.k256_pubkey));
    const appId = new Uint8Array(20).fill(0x22);
    const { result: env } = await kmsCall(kms.url, "KMS.GetAppEnvEncryptPubKey", { app_id: Buffer.from(appId).toString("hex") });
    const pub = hexToBytes(String(env.public_key));
    expect(pub.length).toBe(32);
    expect(recoverPublicKey(envEncryptMessage(appId, pub), hexToBytes(String(env.signature)))).toEqual(kmsPub);
    expect(typeof env.timestamp).toBe("number");
    expect(Math.abs((env.timestamp as number) - NOW())).toBeLessThan(60);
    expect(recoverPublicKey(envEncryptMessageV1(appId, env.timestamp as number, pub), hexToBytes(String(env.signature_v1)))).toEqual(kmsPub);

    const { result: ak } = await kmsCall(kms.url, "Sim.GetAppKey", { app_id: Buffer.from(appId).toString("hex") });
    expect(ak.simulator_only).toBe(true);
    expect(recoverPublicKey(appKeyMessage(appId, hexToBytes(String(ak.app_pubkey))), hexToBytes(String(ak.k256_signature)))).toEqual(kmsPub);
    const { result: gk } = await kmsCall(kms.url, "Sim.GetKey", { app_id: Buffer.from(appId).toString("hex"), path: "wallet/eth", purpose: "signing" });
    const chain = gk.signature_chain as string[];
    const v = verifyKeyChainOffChain({ appId, purpose: "signing", derivedPubkey: hexToBytes(String(gk.public_key)), derivedSignature: hexToBytes(chain[0]!), appSignature: hexToBytes(chain[1]!) });
    expect(v?.kmsPubkey).toEqual(kmsPub);

    await expect(kmsCall(kms.url, "KMS.GetAppEnvEncryptPubKey", { app_id: "22" })).rejects.toThrow(/invalid app_id length/);
    await expect(kmsCall(kms.url, "KMS.NoSuchMethod", {})).rejects.toMatchObject({ code: "KMS_RPC_ERROR" });
  });

  it("attestation format (V0 SCALE) verifies the same way", async () => {
    const kms = await start({ autoBootstrapDomain: DOMAIN, format: "attestation" });
    const now = NOW();
    const pulled = await pullBootstrap({ kms: kms.url }, { now });
    expect(pulled.info.format).toBe("attestation");
    expect(pulled.info.decodedAttestation!.format).toBe("v0-scale");
    const r = await verifyBootstrap(pulled.info, { ...(await simTrust(kms)), now });
    expect(r.failed).toEqual([]);
    expect(r.checks.find((c) => c.name === "attestation.report-data")!.ok).toBe(true);
  });

  it("an auto-bootstrapped KMS without bootstrap-info.json: GetMeta says null, pull explains, --file rescues", async () => {
    const kms = await start({ autoBootstrapDomain: DOMAIN, omitBootstrapInfo: true });
    expect(readdirSync(kms.certsDir)).toHaveLength(7);
    const meta = await getMeta(kms.url);
    expect(meta.meta.bootstrap_info).toBeNull();
    await expect(pullBootstrap({ kms: kms.url }, { now: NOW() })).rejects.toMatchObject({ code: "BOOTSTRAP_INFO_NULL" });
    const saved = join(kms.simDir, "bootstrap-response.json");
    const p = await pullBootstrap({ kms: kms.url, file: saved }, { now: NOW() });
    expect(p.doc.source).toMatchObject({ bootstrapInfoFrom: "file" });
    // a saved response of ANOTHER KMS is refused
    const other = await start({ autoBootstrapDomain: DOMAIN });
    await expect(pullBootstrap({ kms: kms.url, file: join(other.simDir, "bootstrap-response.json") }, { now: NOW() })).rejects.toMatchObject({ code: "KMS_K256_MISMATCH" });
  });

  it("restarts from an existing certs dir without regenerating keys", async () => {
    const a = await start({ autoBootstrapDomain: DOMAIN });
    const k1 = (await getMeta(a.url)).meta.k256_pubkey;
    await a.close();
    running.splice(running.indexOf(a), 1);
    const b = await start({ certsDir: a.certsDir, autoBootstrapDomain: "ignored.example" });
    expect((await getMeta(b.url)).meta.k256_pubkey).toBe(k1);
    await expect(b.bootstrap("x.example")).rejects.toThrow(/Bootstrap already completed/);
  });
});

describe("simulated KMS over https with its own CA", () => {
  it("serves TLS with rpc.crt; the client pins the SPKI (first contact and --ca-pubkey) and rejects a wrong pin", async () => {
    const kms = await start({ autoBootstrapDomain: DOMAIN, https: true });
    expect(kms.url.startsWith("https://")).toBe(true);
    const now = NOW();
    const first = await pullBootstrap({ kms: kms.url }, { now });
    expect(first.doc.source).toMatchObject({ transport: "https", caPinned: "response" });
    expect(first.checks.map((c) => c.name)).toContain("kms.tls-pinned");
    const pinned = await pullBootstrap({ kms: kms.url, caPubkey: first.info.caPubkey }, { now });
    expect(pinned.doc.source).toMatchObject({ caPinned: "argument" });
    const r = await verifyBootstrap(pinned.info, { ...(await simTrust(kms)), now, sourceChecks: pinned.checks });
    expect(r.ok).toBe(true);

    // a pin for another KMS: rejected during the handshake
    const other = await start({ autoBootstrapDomain: DOMAIN });
    const otherCa = (await pullBootstrap({ kms: other.url }, { now })).info.caPubkey;
    try {
      await getMeta(kms.url, { caPubkey: otherCa, retries: 0 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VerificationError);
      expect((e as VerificationError).code).toBe("KMS_TLS_PIN_MISMATCH");
      expect((e as Error).message).toMatch(/not signed by the pinned KMS root CA key/);
    }
  });

  it("switches from http onboarding to https after Finish", async () => {
    const kms = await start({ https: true });
    expect(kms.url.startsWith("http://")).toBe(true);
    await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: JSON.stringify({ domain: DOMAIN }) });
    await fetch(`${kms.url}/finish`);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        await getMeta(kms.url.replace("http://", "https://"), { retries: 0, timeoutMs: 2000 });
        ok = true;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(ok).toBe(true);
    expect(kms.url.startsWith("https://")).toBe(true);
  });

  it("POST /prpc/Onboard.Finish?json: refused before Bootstrap, answers {} after it, then normal mode (over https with --https)", async () => {
    const kms = await start({ https: true });
    const early = await fetch(`${kms.url}/prpc/Onboard.Finish?json`, { method: "POST", body: "{}" });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { error: string }).error).toMatch(/not bootstrapped/);
    expect(kms.mode).toBe("onboard");
    const boot = await kmsCall(kms.url, "Onboard.Bootstrap", { domain: DOMAIN });
    const fin = await fetch(`${kms.url}/prpc/Onboard.Finish?json`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(fin.status).toBe(200);
    expect(await fin.json()).toEqual({});
    expect(kms.mode).toBe("normal");
    let meta: Awaited<ReturnType<typeof getMeta>> | null = null;
    for (let i = 0; i < 50 && !meta; i++) {
      try {
        meta = await getMeta(kms.url.replace("http://", "https://"), { retries: 0, timeoutMs: 2000, caPubkey: hexToBytes(String(boot.result.ca_pubkey)) });
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(meta?.meta.bootstrap_info).toEqual(boot.result);
    expect(meta?.tls?.pinnedAtHandshake).toBe(true);
    // plain http: Finish works the same, GetMeta then answers JSON on the same port
    const plain = await start();
    await kmsCall(plain.url, "Onboard.Bootstrap", { domain: DOMAIN });
    expect((await kmsCall(plain.url, "Onboard.Finish", {})).result).toEqual({});
    expect((await getMeta(plain.url)).meta.k256_pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
  });

  it("refuses a partially populated certs dir", async () => {
    const a = await start({ autoBootstrapDomain: DOMAIN });
    rmSync(join(a.certsDir, "rpc.key"));
    await expect(startSimulatedKms({ certsDir: a.certsDir, port: 0 })).rejects.toBeInstanceOf(InputError);
  });

  it("a port in use or a file in place of the certs dir: typed input errors, not raw system errors", async () => {
    const a = await start();
    await expect(startSimulatedKms({ certsDir: join(tmp, "busy"), port: a.port })).rejects.toMatchObject({ code: "PORT_IN_USE", message: expect.stringMatching(/already in use/) as unknown });
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    await expect(startSimulatedKms({ certsDir: file, port: 0 })).rejects.toMatchObject({ code: "CERTS_DIR_INVALID", message: expect.stringMatching(/a file is in the way/) as unknown });
  });
});
