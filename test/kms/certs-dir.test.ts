import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { checkCertsDir, readCertsDirBootstrap, type Checklist } from "../../src/kms/certs-dir.js";
import { generateKmsKeys, writeCertsDir, type KmsKeyMaterial } from "../../src/testing/generate.js";
import { createSelfSignedCa, generateK256, generateP256, issueRpcCert } from "../../src/testing/pki.js";
import { InputError } from "../../src/core/errors.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const QUOTE = readFileSync(new URL("tdx_quote", FIX));
const getQuote = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { event_log: string };
const SCRIPT = readFileSync(new URL("fixtures/tutorial-verify-bootstrap.sh", import.meta.url), "utf8");
const DOMAIN = "kms.example.com";
const NOW = Math.floor(Date.now() / 1000);
const tmp = mkdtempSync(join(tmpdir(), "kms-certs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function info(m: KmsKeyMaterial): Record<string, string> {
  return { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey), quote: QUOTE.toString("hex"), eventlog: Buffer.from(getQuote.event_log).toString("hex") };
}

async function goodDir(): Promise<{ dir: string; m: KmsKeyMaterial }> {
  const dir = join(tmp, `d${n++}`);
  const m = await generateKmsKeys({ domain: DOMAIN });
  await writeCertsDir(dir, m, info(m));
  return { dir, m };
}

function openssl(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** The tutorial's verification script, unchanged except for its certs-dir path constant. */
function tutorialScript(dir: string): { ok: boolean; out: string } {
  const r = spawnSync("bash", ["-c", SCRIPT.replace('CERTS_DIR="/etc/kms/certs"', `CERTS_DIR=${JSON.stringify(dir)}`)], { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

function item(r: Checklist, name: string) {
  const it = r.items.find((i) => i.name === name);
  if (!it) throw new Error(`no check ${name} in ${r.items.map((i) => i.name).join(", ")}`);
  return it;
}

/** Flip the last byte of a PEM certificate's DER (inside the signature value). */
function breakSignature(path: string): void {
  const pem = readFileSync(path, "utf8");
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  der[der.length - 1] = der[der.length - 1]! ^ 0x01;
  writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`);
}

describe("a freshly bootstrapped certs dir", () => {
  it("passes every check, the tutorial's own script and openssl", async () => {
    const { dir, m } = await goodDir();
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.items.length).toBeGreaterThanOrEqual(22);
    expect(item(r, "root-ca.key.mode").found).toBe("mode 0600");
    const s = tutorialScript(dir);
    expect(s.out).toContain("KMS bootstrap verified successfully!");
    expect(s.ok).toBe(true);
    expect(openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "root-ca.crt")).out).toContain(": OK");
    expect(openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "rpc.crt")).out).toContain(": OK");
    expect(openssl("verify", "-check_ss_sig", "-CAfile", join(dir, "tmp-ca.crt"), join(dir, "tmp-ca.crt")).ok).toBe(true);
    expect(openssl("x509", "-in", join(dir, "root-ca.crt"), "-noout", "-subject").out).toContain("CN = Dstack KMS CA");
    expect(openssl("x509", "-in", join(dir, "rpc.crt"), "-noout", "-subject").out.trim()).toBe(`subject=CN = ${DOMAIN}`);
    expect(openssl("x509", "-in", join(dir, "root-ca.crt"), "-noout", "-text").out).toMatch(/CA:TRUE, pathlen:1/);
    // docs/formats.md §1: ca_pubkey = SPKI of root-ca.key = SPKI of root-ca.crt
    const spki = execFileSync("openssl", ["pkey", "-in", join(dir, "root-ca.key"), "-pubout", "-outform", "DER"]);
    expect(spki.toString("hex")).toBe(bytesToPlainHex(m.caPubkey));
    const fromCert = execFileSync("bash", ["-c", `openssl x509 -in ${join(dir, "root-ca.crt")} -pubkey -noout | openssl pkey -pubin -outform DER`]);
    expect(fromCert.toString("hex")).toBe(bytesToPlainHex(m.caPubkey));
    expect(readFileSync(join(dir, "root-ca.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await readCertsDirBootstrap(dir)).format).toBe("legacy");
  });

  it("uses rpc-domain (newer KMS) when no --domain is given, and tolerates the file", async () => {
    const { dir } = await goodDir();
    writeFileSync(join(dir, "rpc-domain"), DOMAIN);
    const r = await checkCertsDir(dir, { now: NOW });
    expect(r.ok).toBe(true);
    expect(r.domainSource).toBe("rpc-domain");
    expect(item(r, "files").note).toMatch(/rpc-domain/);
  });

  it("accepts the v0.5.4 lower-case subject and says so", async () => {
    const dir = join(tmp, `d${n++}`);
    const m = await generateKmsKeys({ domain: DOMAIN, subjects: "v0.5.4" });
    await writeCertsDir(dir, m, info(m));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.ok).toBe(true);
    expect(item(r, "root-ca.subject").note).toMatch(/v0\.5\.4/);
    expect(tutorialScript(dir).ok).toBe(false); // the tutorial's grep is case-sensitive: we are more lenient, and say why
  });

  it("refuses to overwrite an existing certs dir", async () => {
    const { dir, m } = await goodDir();
    await expect(writeCertsDir(dir, m, info(m))).rejects.toThrow(/refusing to overwrite/);
  });
});

describe("corrupted certs dirs: each failure detected, named, and agreeing with openssl", () => {
  it("missing and extra files", async () => {
    const a = await goodDir();
    unlinkSync(join(a.dir, "tmp-ca.key"));
    const r = await checkCertsDir(a.dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toContain("files");
    expect(item(r, "files").found).toMatch(/7 of 8; missing tmp-ca.key/);
    expect(tutorialScript(a.dir).out).toContain("Expected 8 files, found 7");
    const b = await goodDir();
    writeFileSync(join(b.dir, "notes.txt"), "x");
    const r2 = await checkCertsDir(b.dir, { domain: DOMAIN, now: NOW });
    expect(r2.failed).toEqual(["files"]);
    expect(item(r2, "files").found).toMatch(/unexpected notes.txt/);
    expect(tutorialScript(b.dir).out).toContain("Expected 8 files, found 9");
    // hidden entries are not counted (like `ls -1`), only mentioned
    const c = await goodDir();
    writeFileSync(join(c.dir, ".swp"), "x");
    const r3 = await checkCertsDir(c.dir, { domain: DOMAIN, now: NOW });
    expect(r3.ok).toBe(true);
    expect(item(r3, "files").note).toMatch(/hidden entries ignored: .swp/);
    expect(tutorialScript(c.dir).ok).toBe(true);
  });

  it("RPC certificate signed by another CA", async () => {
    const { dir } = await goodDir();
    const other = await generateP256();
    const otherCa = await createSelfSignedCa(other);
    const leaf = await generateP256();
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(leaf, otherCa, other, { domain: DOMAIN }));
    writeFileSync(join(dir, "rpc.key"), leaf.privatePem, { mode: 0o600 });
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["rpc.chain"]);
    const o = openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "rpc.crt"));
    expect(o.ok).toBe(false);
    expect(tutorialScript(dir).out).toContain("✗ Certificate chain invalid");
  });

  it("RPC certificate for another domain, and without the SAN", async () => {
    const { dir, m } = await goodDir();
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(m.rpc, m.rootCaPem, m.rootCa, { domain: "evil.example.org", sanDns: ["other.example.org"] }));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed.sort()).toEqual(["rpc.san", "rpc.subject"]);
    expect(item(r, "rpc.subject").found).toBe("CN = evil.example.org");
    expect(openssl("x509", "-in", join(dir, "rpc.crt"), "-noout", "-subject").out.trim()).toBe("subject=CN = evil.example.org");
    expect(openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "rpc.crt")).ok).toBe(true); // chain itself is fine
    // the right CN, but the SAN also names another host: not "the domain"
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(m.rpc, m.rootCaPem, m.rootCa, { domain: DOMAIN, sanDns: [DOMAIN, "evil.example.org"] }));
    const extra = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(extra.failed).toEqual(["rpc.san"]);
    expect(item(extra, "rpc.san")).toMatchObject({ expected: `exactly DNS:${DOMAIN}`, found: `DNS:${DOMAIN}, DNS:evil.example.org` });
    expect(openssl("x509", "-in", join(dir, "rpc.crt"), "-noout", "-ext", "subjectAltName").out).toContain(`DNS:${DOMAIN}, DNS:evil.example.org`);
    // no SAN at all
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(m.rpc, m.rootCaPem, m.rootCa, { domain: DOMAIN, sanDns: [] }));
    const none = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(none.failed).toEqual(["rpc.san"]);
    expect(item(none, "rpc.san").found).toBe("no DNS SAN");
    expect(openssl("x509", "-in", join(dir, "rpc.crt"), "-noout", "-ext", "subjectAltName").out).not.toMatch(/DNS:/);
  });

  it("expired RPC certificate", async () => {
    const { dir, m } = await goodDir();
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(m.rpc, m.rootCaPem, m.rootCa, { domain: DOMAIN, notAfter: NOW - 86400 }));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["rpc.chain"]);
    expect(item(r, "rpc.chain").found).toMatch(/expired/);
    expect(openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "rpc.crt")).out).toMatch(/expired/);
  });

  it("root CA with the wrong subject, not self-signed, or not a CA", async () => {
    const a = await goodDir();
    const evil = await createSelfSignedCa(a.m.rootCa, { name: "O=Evil, CN=Evil CA" });
    writeFileSync(join(a.dir, "root-ca.crt"), evil);
    const r = await checkCertsDir(a.dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toContain("root-ca.subject");
    expect(r.failed).toContain("rpc.chain"); // the RPC cert names the real issuer
    expect(openssl("verify", "-CAfile", join(a.dir, "root-ca.crt"), join(a.dir, "rpc.crt")).ok).toBe(false);
    expect(tutorialScript(a.dir).out).toContain("✗ Root CA certificate invalid");

    const b = await goodDir();
    breakSignature(join(b.dir, "root-ca.crt"));
    const r2 = await checkCertsDir(b.dir, { domain: DOMAIN, now: NOW });
    expect(r2.failed).toEqual(["root-ca.self-signed"]);
    expect(openssl("verify", "-check_ss_sig", "-CAfile", join(b.dir, "root-ca.crt"), join(b.dir, "root-ca.crt")).ok).toBe(false);

    const c = await goodDir();
    const notCa = await createSelfSignedCa(c.m.rootCa, { isCa: false });
    writeFileSync(join(c.dir, "root-ca.crt"), notCa);
    // keep the RPC cert's issuer matching by re-issuing it under the not-a-CA root
    writeFileSync(join(c.dir, "rpc.crt"), await issueRpcCert(c.m.rpc, notCa, c.m.rootCa, { domain: DOMAIN }));
    const r3 = await checkCertsDir(c.dir, { domain: DOMAIN, now: NOW });
    expect(r3.failed.sort()).toEqual(["root-ca.is-ca", "rpc.chain"]);
    expect(openssl("verify", "-CAfile", join(c.dir, "root-ca.crt"), join(c.dir, "rpc.crt")).ok).toBe(false);
  });

  it("a root CA whose key usage lacks keyCertSign (pre-kms-v0.5.4 KMS) cannot issue: we and openssl agree", async () => {
    const { dir, m } = await goodDir();
    const { KeyUsageFlags } = await import("@peculiar/x509");
    const ds = await createSelfSignedCa(m.rootCa, { keyUsage: KeyUsageFlags.digitalSignature });
    writeFileSync(join(dir, "root-ca.crt"), ds);
    writeFileSync(join(dir, "rpc.crt"), await issueRpcCert(m.rpc, ds, m.rootCa, { domain: DOMAIN }));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    const o = openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "rpc.crt"));
    expect(item(r, "rpc.chain").ok).toBe(o.ok);
    expect(o.ok).toBe(false);
    expect(o.out).toMatch(/key usage|local issuer/i);
    expect(item(r, "rpc.chain").found).toMatch(/key usage lacks keyCertSign/);
    // still self-signed, as the tutorial's plain `openssl verify -CAfile root-ca.crt root-ca.crt` says
    expect(item(r, "root-ca.self-signed").ok).toBe(true);
    expect(openssl("verify", "-CAfile", join(dir, "root-ca.crt"), join(dir, "root-ca.crt")).ok).toBe(true);
    expect(r.failed).toEqual(["rpc.chain"]);
  });

  it("temp CA not self-signed", async () => {
    const { dir } = await goodDir();
    breakSignature(join(dir, "tmp-ca.crt"));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["tmp-ca.self-signed"]);
    expect(openssl("verify", "-check_ss_sig", "-CAfile", join(dir, "tmp-ca.crt"), join(dir, "tmp-ca.crt")).ok).toBe(false);
  });

  it("expired temp CA: we and openssl agree", async () => {
    const { dir, m } = await goodDir();
    writeFileSync(join(dir, "tmp-ca.crt"), await createSelfSignedCa(m.tmpCa, { name: "O=Dstack, CN=Dstack Client Temp CA", pathLength: 0, notAfter: NOW - 86400 }));
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["tmp-ca.validity"]);
    expect(item(r, "tmp-ca.validity").found).toMatch(/^expired \(notAfter /);
    const o = openssl("verify", "-CAfile", join(dir, "tmp-ca.crt"), join(dir, "tmp-ca.crt"));
    expect(o.ok).toBe(false);
    expect(o.out).toMatch(/expired/);
  });

  it("k256 key: wrong size, invalid scalar, another key", async () => {
    const a = await goodDir();
    writeFileSync(join(a.dir, "root-k256.key"), Buffer.alloc(31, 1), { mode: 0o600 });
    const r = await checkCertsDir(a.dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["root-k256.size"]);
    expect(item(r, "root-k256.size").found).toBe("31 bytes");
    expect(tutorialScript(a.dir).out).toContain("✗ K256 key invalid");

    const b = await goodDir();
    writeFileSync(join(b.dir, "root-k256.key"), Buffer.alloc(32, 0xff), { mode: 0o600 });
    expect((await checkCertsDir(b.dir, { domain: DOMAIN, now: NOW })).failed).toEqual(["root-k256.scalar"]);

    const c = await goodDir();
    writeFileSync(join(c.dir, "root-k256.key"), generateK256(), { mode: 0o600 });
    expect((await checkCertsDir(c.dir, { domain: DOMAIN, now: NOW })).failed).toEqual(["root-k256.pubkey"]);
  });

  it("root-ca.key of another key pair (openssl pkey -pubout disagrees with ca_pubkey too)", async () => {
    const { dir, m } = await goodDir();
    writeFileSync(join(dir, "root-ca.key"), (await generateP256()).privatePem, { mode: 0o600 });
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toEqual(["root-ca.key-pubkey"]);
    const spki = execFileSync("openssl", ["pkey", "-in", join(dir, "root-ca.key"), "-pubout", "-outform", "DER"]);
    expect(spki.toString("hex")).not.toBe(bytesToPlainHex(m.caPubkey));
  });

  it("private key readable by group/others: the mode is reported", async () => {
    const { dir } = await goodDir();
    chmodSync(join(dir, "rpc.key"), 0o644);
    chmodSync(join(dir, "root-k256.key"), 0o640);
    const r = await checkCertsDir(dir, { domain: DOMAIN, now: NOW });
    expect(r.failed.sort()).toEqual(["root-k256.key.mode", "rpc.key.mode"]);
    expect(item(r, "rpc.key.mode").found).toBe("mode 0644");
    expect(item(r, "root-k256.key.mode").found).toBe("mode 0640");
  });

  it("bootstrap-info.json: invalid JSON, a missing field, an empty quote", async () => {
    const a = await goodDir();
    writeFileSync(join(a.dir, "bootstrap-info.json"), "{not json");
    const r = await checkCertsDir(a.dir, { domain: DOMAIN, now: NOW });
    expect(r.failed).toContain("bootstrap-info.valid");
    expect(tutorialScript(a.dir).out).toContain("✗ bootstrap-info.json invalid"); // jq agrees
    await expect(readCertsDirBootstrap(a.dir)).rejects.toBeInstanceOf(InputError);

    const b = await goodDir();
    const j = JSON.parse(readFileSync(join(b.dir, "bootstrap-info.json"), "utf8")) as Record<string, string>;
    delete j.k256_pubkey;
    writeFileSync(join(b.dir, "bootstrap-info.json"), JSON.stringify(j));
    const r2 = await checkCertsDir(b.dir, { domain: DOMAIN, now: NOW });
    expect(item(r2, "bootstrap-info.valid").found).toMatch(/k256_pubkey is missing/);

    const c = await goodDir();
    const j3 = JSON.parse(readFileSync(join(c.dir, "bootstrap-info.json"), "utf8")) as Record<string, string>;
    j3.quote = "";
    writeFileSync(join(c.dir, "bootstrap-info.json"), JSON.stringify(j3));
    const r3 = await checkCertsDir(c.dir, { domain: DOMAIN, now: NOW });
    expect(r3.failed.sort()).toEqual(["bootstrap-info.valid", "quote.present"]);
    expect(item(r3, "quote.present").found).toBe("no quote (null or empty)");
  });

  it("an unreadable dir is an input error; a dir without bootstrap-info.json explains auto-bootstrap", async () => {
    await expect(checkCertsDir(join(tmp, "nope"), { now: NOW })).rejects.toThrow(/cannot read certs dir/);
    const { dir } = await goodDir();
    unlinkSync(join(dir, "bootstrap-info.json"));
    await expect(readCertsDirBootstrap(dir)).rejects.toThrow(/auto-bootstrapped.*--file/);
  });
});
