/**
 * A KMS certs dir (`/etc/kms/certs`): what a dstack KMS writes when it bootstraps — its root CA
 * (`root-ca.crt`/`.key`), its secp256k1 root key (`root-k256.key`, 32 raw bytes), its RPC certificate
 * (`rpc.crt`/`.key`, issued by the root CA for its domain), a temporary CA (`tmp-ca.crt`/`.key`) and
 * `bootstrap-info.json`. Here: reading the bootstrap info from it, and the operator's checklist
 * (`check-certs`). Every check is named and says what was expected and what was found. Certificate
 * checks use OpenSSL through `node:crypto` (`X509Certificate.checkIssued` / `verify`), so they agree
 * with `openssl verify` on the same files.
 */
import "reflect-metadata";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as px509 from "@peculiar/x509";

import { bytesEqual, bytesToHex } from "../core/bytes.js";
import { errorMessage, InputError, KmsRegistryError } from "../core/errors.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseJsonLimited } from "../core/json.js";
import { parseQuote } from "../dcap/quote.js";
import { parseBootstrapInfo, type BootstrapInfo } from "./bootstrap.js";

/** The 8 files a bootstrapped KMS writes, in `ls` order. */
export const CERTS_DIR_FILES = [
  "bootstrap-info.json",
  "root-ca.crt",
  "root-ca.key",
  "root-k256.key",
  "rpc.crt",
  "rpc.key",
  "tmp-ca.crt",
  "tmp-ca.key",
] as const;
export const PRIVATE_KEY_FILES = ["root-ca.key", "root-k256.key", "rpc.key", "tmp-ca.key"] as const;
/** Written by newer KMS versions next to the 8 files; tolerated. */
export const KNOWN_EXTRA_FILES = ["rpc-domain"] as const;

export interface ChecklistItem {
  /** Stable identifier, e.g. `rpc.chain`. */
  name: string;
  /** Human title. */
  title: string;
  ok: boolean;
  expected: string;
  found: string;
  /** Extra explanation (e.g. "older KMS (v0.5.4) lower-case subject"). */
  note?: string;
}

export interface Checklist {
  ok: boolean;
  dir: string;
  domain: string | null;
  /** Where the domain came from. */
  domainSource: "argument" | "rpc-domain" | "none";
  items: ChecklistItem[];
  failed: string[];
  bootstrap: BootstrapInfo | null;
}

function unreadableDir(dir: string, e: unknown): InputError {
  return new InputError("CERTS_DIR_INVALID", `${dir}: cannot read certs dir (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
}

function parseBootstrapJson(bytes: Uint8Array): BootstrapInfo {
  return parseBootstrapInfo(parseJsonLimited(new TextDecoder().decode(bytes), "bootstrap-info.json"));
}

/** Read `bootstrap-info.json` of a certs dir. A missing file gets the auto-bootstrap explanation. */
export async function readCertsDirBootstrap(dir: string): Promise<BootstrapInfo> {
  const path = join(dir, "bootstrap-info.json");
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new InputError("CERTS_DIR_INVALID", `${dir}: not a directory`);
  } catch (e) {
    if (e instanceof KmsRegistryError) throw e;
    throw unreadableDir(dir, e);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readInput(path, INPUT_KINDS.bootstrap, { label: "bootstrap-info.json" });
  } catch (e) {
    if (e instanceof InputError && e.code === "FILE_NOT_FOUND") {
      throw new InputError(
        "BOOTSTRAP_INFO_MISSING",
        `${dir} has no bootstrap-info.json: the KMS was auto-bootstrapped (core.onboard.auto_bootstrap_domain) or is a replica (Onboard), so it never wrote one; supply the saved Onboard.Bootstrap response: --certs-dir ${dir} --file SAVED.json`,
        { cause: e },
      );
    }
    throw e;
  }
  return parseBootstrapJson(bytes);
}

/** basicConstraints cA and whether keyCertSign is allowed (node's `ca` folds key usage into one flag). */
function caInfo(c: X509Certificate): { basicCa: boolean; pathLength?: number; keyCertSign: boolean } {
  const p = new px509.X509Certificate(new Uint8Array(c.raw));
  const bc = p.getExtension(px509.BasicConstraintsExtension);
  const ku = p.getExtension(px509.KeyUsagesExtension);
  const out: { basicCa: boolean; pathLength?: number; keyCertSign: boolean } = {
    basicCa: bc?.ca === true,
    keyCertSign: !ku || (ku.usages & px509.KeyUsageFlags.keyCertSign) !== 0,
  };
  if (bc?.pathLength !== undefined) out.pathLength = bc.pathLength;
  return out;
}

function caItem(c: X509Certificate): { ok: boolean; found: string; note?: string } {
  const i = caInfo(c);
  if (!i.basicCa) return { ok: false, found: "not a CA (basicConstraints CA missing or FALSE)" };
  const found = `CA:TRUE${i.pathLength !== undefined ? `, pathlen:${i.pathLength}` : ""}`;
  return i.keyCertSign ? { ok: true, found } : { ok: true, found, note: "its key usage lacks keyCertSign (KMS before kms-v0.5.4): OpenSSL will not accept certificates it issued" };
}

function spkiOfCert(c: X509Certificate): Uint8Array {
  return new Uint8Array(c.publicKey.export({ type: "spki", format: "der" }));
}

function spkiOfPrivatePem(pem: Uint8Array): Uint8Array {
  return new Uint8Array(createPublicKey(createPrivateKey(Buffer.from(pem))).export({ type: "spki", format: "der" }));
}

function subjectField(subject: string, key: string): string | undefined {
  for (const line of subject.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0 && line.slice(0, i) === key) return line.slice(i + 1);
  }
  return undefined;
}

function oneLine(subject: string): string {
  return subject.split("\n").join(", ");
}

function sanDns(c: X509Certificate): string[] {
  const san = c.subjectAltName;
  if (!san) return [];
  return san
    .split(", ")
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4));
}

function timeValid(c: X509Certificate, now: number): string | null {
  const from = Date.parse(c.validFrom) / 1000;
  const to = Date.parse(c.validTo) / 1000;
  if (now < from) return `not yet valid (notBefore ${c.validFrom})`;
  if (now > to) return `expired (notAfter ${c.validTo})`;
  return null;
}

/**
 * Self-signed: issuer = subject and the signature verifies under its own key (what `openssl verify
 * -check_ss_sig -CAfile X X` checks, minus key usage: a root without keyCertSign is still self-signed —
 * a plain `openssl verify` says OK — but cannot issue, which `rpc.chain` reports).
 */
function selfSigned(c: X509Certificate): { ok: boolean; found: string } {
  if (c.subject !== c.issuer) return { ok: false, found: `issuer ${oneLine(c.issuer)} ≠ subject ${oneLine(c.subject)}` };
  if (!c.verify(c.publicKey)) return { ok: false, found: "signature does not verify under its own public key" };
  return { ok: true, found: "issuer = subject, signature verifies under its own key" };
}

export interface CheckCertsOptions {
  /** Expected RPC domain; default: the `rpc-domain` file if present. */
  domain?: string;
  /**
   * Bootstrap info supplied separately (the saved Onboard.Bootstrap answer, `--file`): an auto-bootstrapped KMS or a
   * replica has no `bootstrap-info.json`; its keys are then checked against this. When the dir has its own file
   * too, both must name the same keys.
   */
  bootstrap?: { info: BootstrapInfo; from: string };
  /** Unix seconds for certificate validity. */
  now: number;
}

/** What the checklist's steps share: the dir's listing and files, the items so far, and what earlier steps found. */
interface Inspection {
  dir: string;
  opts: CheckCertsOptions;
  /** The dir's entries, sorted. */
  names: string[];
  /** The contents of the known files that could be read. */
  files: Map<string, Uint8Array>;
  /** Why a known file could not be read. */
  readErrors: Map<string, string>;
  domain: string | null;
  domainSource: Checklist["domainSource"];
  items: ChecklistItem[];
  /** The bootstrap info the keys are compared with (the dir's own, else the one supplied), once found. */
  bootstrap: BootstrapInfo | null;
  /** Each certificate file parsed once (null: absent or unparseable). */
  certificates: Map<string, X509Certificate | null>;
}

type Step = (x: Inspection) => void | Promise<void>;

/** The steps, in the order their items appear in the checklist. */
const STEPS: Step[] = [fileSet, fileReadability, bootstrapInfo, bootstrapQuote, rootCa, rootCaKey, rpcCertificate, tmpCa, rootK256Key, privateKeyModes];

/** Run the operator's checklist on a certs dir. Never throws for a failed check; throws only for an unreadable dir. */
export async function checkCertsDir(dir: string, opts: CheckCertsOptions): Promise<Checklist> {
  const x = await inspect(dir, opts);
  for (const step of STEPS) await step(x);
  const failed = x.items.filter((i) => !i.ok).map((i) => i.name);
  return { ok: failed.length === 0, dir, domain: x.domain, domainSource: x.domainSource, items: x.items, failed, bootstrap: x.bootstrap };
}

/** List the dir, read the known files (each within its size cap), and settle the expected domain. */
async function inspect(dir: string, opts: CheckCertsOptions): Promise<Inspection> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw unreadableDir(dir, e);
  }
  const files = new Map<string, Uint8Array>();
  const readErrors = new Map<string, string>();
  for (const f of [...CERTS_DIR_FILES, ...KNOWN_EXTRA_FILES]) {
    if (!names.includes(f)) continue;
    try {
      files.set(f, await readInput(join(dir, f), f === "bootstrap-info.json" ? INPUT_KINDS.bootstrap : INPUT_KINDS.certsDirFile, { label: f }));
    } catch (e) {
      readErrors.set(f, errorMessage(e));
    }
  }
  let domain: string | null = opts.domain ?? null;
  let domainSource: Checklist["domainSource"] = opts.domain ? "argument" : "none";
  if (!domain && files.has("rpc-domain")) {
    domain = new TextDecoder().decode(files.get("rpc-domain")).trim() || null;
    if (domain) domainSource = "rpc-domain";
  }
  return { dir, opts, names, files, readErrors, domain, domainSource, items: [], bootstrap: null, certificates: new Map() };
}

function add(x: Inspection, name: string, title: string, ok: boolean, expected: string, found: string, note?: string): void {
  const it: ChecklistItem = { name, title, ok, expected, found };
  if (note) it.note = note;
  x.items.push(it);
}

/** The certificate in file `f` (PEM only, as `openssl x509 -in` reads it); the first look records `<name>.parse` when it does not parse. */
function certificate(x: Inspection, f: string): X509Certificate | null {
  if (x.certificates.has(f)) return x.certificates.get(f)!;
  let c: X509Certificate | null = null;
  const b = x.files.get(f);
  if (b) {
    try {
      // a DER file could hide the embedded PCK chain's PEM text, which OpenSSL's loader would pick up instead
      if (!/^\s*-----BEGIN CERTIFICATE-----/.test(new TextDecoder().decode(b.subarray(0, 64)))) throw new Error("not a PEM certificate");
      c = new X509Certificate(Buffer.from(b));
    } catch (e) {
      add(x, `${f.replace(/\.crt$/, "")}.parse`, `${f} is a certificate`, false, "a PEM X.509 certificate", `unparseable (${errorMessage(e)})`);
    }
  }
  x.certificates.set(f, c);
  return c;
}

/** The SPKI of the private key in file `f`; records `<name>.key-parse` when it does not parse. */
function privateKeySpki(x: Inspection, f: string): Uint8Array | null {
  const b = x.files.get(f);
  if (!b) return null;
  try {
    return spkiOfPrivatePem(b);
  } catch (e) {
    add(x, `${f.replace(/\.key$/, "")}.key-parse`, `${f} is a private key`, false, "a PEM PKCS#8 P-256 private key", `unparseable (${errorMessage(e)})`);
    return null;
  }
}

const isKnownFile = (n: string) => (CERTS_DIR_FILES as readonly string[]).includes(n);

/** `files`: exactly the 8 files (`rpc-domain` tolerated, hidden entries ignored); bootstrap-info.json may be supplied separately. */
function fileSet(x: Inspection): void {
  const { names, opts } = x;
  const missing = CERTS_DIR_FILES.filter((f) => !names.includes(f));
  // hidden entries are not counted, as `ls -1 | wc -l` does not, but they are mentioned
  const hidden = names.filter((n) => n.startsWith("."));
  const unknown = names.filter((n) => !n.startsWith(".") && !isKnownFile(n) && !(KNOWN_EXTRA_FILES as readonly string[]).includes(n));
  const present = names.filter(isKnownFile);
  // an auto-bootstrapped KMS or a replica has no bootstrap-info.json: the separately supplied answer stands in for it
  const replaced = opts.bootstrap !== undefined && missing.length === 1 && missing[0] === "bootstrap-info.json";
  add(
    x,
    "files",
    "All 8 files exist",
    (missing.length === 0 || replaced) && unknown.length === 0,
    `exactly ${CERTS_DIR_FILES.join(", ")}${opts.bootstrap ? ` (bootstrap-info.json may be replaced by ${opts.bootstrap.from})` : ""}`,
    `${present.length} of 8${missing.length ? `; missing ${missing.join(", ")}` : ""}${replaced ? ` (supplied as ${opts.bootstrap!.from})` : ""}${unknown.length ? `; unexpected ${unknown.join(", ")}` : ""}`,
    [names.includes("rpc-domain") ? "rpc-domain present (written by newer KMS versions; tolerated)" : "", hidden.length ? `hidden entries ignored: ${hidden.join(", ")}` : ""]
      .filter(Boolean)
      .join("; ") || undefined,
  );
}

/** `<file>.readable`: each known file that is present could be read. */
function fileReadability(x: Inspection): void {
  for (const [f, msg] of x.readErrors) add(x, `${f}.readable`, `${f} is readable`, false, "a readable regular file", msg);
}

/** `bootstrap-info.valid` (and `bootstrap-info.matches-file`): the bootstrap info decodes with every field; it names the supplied answer's keys. */
function bootstrapInfo(x: Inspection): void {
  const { opts, readErrors } = x;
  const bj = x.files.get("bootstrap-info.json");
  if (bj) {
    try {
      x.bootstrap = parseBootstrapJson(bj);
      bootstrapFieldsItem(x, x.bootstrap, "bootstrap-info.json");
    } catch (e) {
      add(x, "bootstrap-info.valid", "bootstrap-info.json is valid with every field", false, "JSON with ca_pubkey, k256_pubkey and quote+eventlog or attestation", errorMessage(e));
    }
    if (x.bootstrap && opts.bootstrap) sameKeysItem(x, x.bootstrap, opts.bootstrap);
  } else if (opts.bootstrap && !readErrors.has("bootstrap-info.json")) {
    x.bootstrap = opts.bootstrap.info;
    bootstrapFieldsItem(x, x.bootstrap, "the saved Bootstrap answer (--file, no bootstrap-info.json in the dir)");
  } else if (!readErrors.has("bootstrap-info.json")) {
    add(x, "bootstrap-info.valid", "bootstrap-info.json is valid with every field", false, "the file", "missing (auto-bootstrapped KMS or replica: supply the saved Bootstrap response with --file)");
  }
}

function bootstrapFieldsItem(x: Inspection, b: BootstrapInfo, what: string): void {
  const fields = b.format === "legacy" ? ["ca_pubkey", "k256_pubkey", "quote", "eventlog"] : ["ca_pubkey", "k256_pubkey", "attestation"];
  const emptyFields = b.problems.filter((p) => p.code.endsWith("_EMPTY")).map((p) => p.field);
  const badFields = b.problems.filter((p) => !p.code.endsWith("_EMPTY"));
  add(
    x,
    "bootstrap-info.valid",
    `${what} is valid with every field`,
    emptyFields.length === 0 && badFields.length === 0,
    `JSON with ${fields.join(", ")} (${b.format} format)`,
    emptyFields.length || badFields.length
      ? [emptyFields.length ? `empty: ${emptyFields.join(", ")}` : "", ...badFields.map((p) => `${p.field}: ${p.message}`)].filter(Boolean).join("; ")
      : `${b.format} format, all ${fields.length} fields decode`,
  );
}

function sameKeysItem(x: Inspection, own: BootstrapInfo, supplied: { info: BootstrapInfo; from: string }): void {
  const s = supplied.info;
  const same = bytesEqual(s.caPubkey, own.caPubkey) && bytesEqual(s.k256Pubkey, own.k256Pubkey);
  add(
    x,
    "bootstrap-info.matches-file",
    `bootstrap-info.json names the same keys as ${supplied.from}`,
    same,
    `ca_pubkey ${bytesToHex(s.caPubkey).slice(0, 24)}…, k256_pubkey ${bytesToHex(s.k256Pubkey)}`,
    `ca_pubkey ${bytesToHex(own.caPubkey).slice(0, 24)}…, k256_pubkey ${bytesToHex(own.k256Pubkey)}`,
  );
}

/** `quote.present`: the bootstrap info carries a quote that parses. */
function bootstrapQuote(x: Inspection): void {
  const b = x.bootstrap;
  if (!b) return;
  let found: string;
  let ok = false;
  const other = b.decodedAttestation && !b.decodedAttestation.quote ? b.decodedAttestation : null;
  if (other) {
    // an SEV-SNP / Nitro / other platform's KMS carries its evidence in the attestation, not a TDX quote
    add(x, "quote.present", "attestation evidence is present", other.evidence.length > 0, "a TDX quote or another platform's attestation evidence", `no TDX quote: a ${other.platform} attestation with ${other.evidence.length} bytes of evidence (verified by verify's platform.* checks)`);
    return;
  }
  if (!b.quote || b.quote.length === 0) found = "no quote (null or empty)";
  else {
    try {
      const q = parseQuote(b.quote);
      ok = true;
      found = `${b.quote.length}-byte quote v${q.header.version}, TEE type 0x${q.header.teeType.toString(16)}`;
    } catch (e) {
      found = `present but unparseable: ${errorMessage(e)}`;
    }
  }
  add(x, "quote.present", "TDX quote is present", ok, "a non-empty TDX quote", found);
}

/** `root-ca.*`: the root CA is a self-signed CA named "Dstack KMS CA", valid now, whose key is ca_pubkey. */
function rootCa(x: Inspection): void {
  const root = certificate(x, "root-ca.crt");
  if (!root) return;
  const cn = subjectField(root.subject, "CN");
  const exact = cn === "Dstack KMS CA";
  const older = cn === "dstack KMS CA";
  add(
    x,
    "root-ca.subject",
    'Root CA has CN = "Dstack KMS CA"',
    exact || older,
    'CN = "Dstack KMS CA" (or "dstack KMS CA" from KMS v0.5.4)',
    oneLine(root.subject),
    older ? 'older KMS (v0.5.4) lower-case subject "dstack KMS CA" — accepted' : undefined,
  );
  selfSignedCaItems(x, root, "root-ca", "Root CA");
  if (x.bootstrap) {
    const spki = spkiOfCert(root);
    add(x, "root-ca.pubkey", "root-ca.crt public key equals ca_pubkey", bytesEqual(spki, x.bootstrap.caPubkey), bytesToHex(x.bootstrap.caPubkey), bytesToHex(spki));
  }
}

/** `<name>.self-signed`, `<name>.is-ca`, `<name>.validity`: a self-signed CA certificate within its validity at `now`. */
function selfSignedCaItems(x: Inspection, c: X509Certificate, name: string, label: string): void {
  const { now } = x.opts;
  const ss = selfSigned(c);
  add(x, `${name}.self-signed`, `${label} is self-signed`, ss.ok, "issuer = subject and a valid self-signature", ss.found);
  const ca = caItem(c);
  add(x, `${name}.is-ca`, `${label} is a CA`, ca.ok, "basicConstraints CA:TRUE", ca.found, ca.note);
  const tv = timeValid(c, now);
  add(x, `${name}.validity`, `${label} is within its validity period`, tv === null, `valid at ${new Date(now * 1000).toISOString()}`, tv ?? `${c.validFrom} … ${c.validTo}`);
}

/** `root-ca.key-pubkey`: root-ca.key is the key of ca_pubkey (or, without bootstrap info, of root-ca.crt). */
function rootCaKey(x: Inspection): void {
  const rootKey = privateKeySpki(x, "root-ca.key");
  if (!rootKey) return;
  const root = certificate(x, "root-ca.crt");
  const ref = x.bootstrap?.caPubkey ?? (root ? spkiOfCert(root) : null);
  if (!ref) return;
  add(x, "root-ca.key-pubkey", `root-ca.key public key equals ${x.bootstrap ? "ca_pubkey" : "root-ca.crt's key"}`, bytesEqual(rootKey, ref), bytesToHex(ref), bytesToHex(rootKey));
}

/** `rpc.*`: the RPC certificate names the domain (CN and exactly one DNS SAN), is issued by the root CA, and rpc.key is its key. */
function rpcCertificate(x: Inspection): void {
  const rpc = certificate(x, "rpc.crt");
  if (!rpc) return;
  const { domain } = x;
  const cn = subjectField(rpc.subject, "CN") ?? "";
  const sans = sanDns(rpc);
  const sanText = sans.length ? sans.map((s) => `DNS:${s}`).join(", ") : "no DNS SAN";
  if (domain) {
    add(x, "rpc.subject", "RPC certificate has your domain as CN", cn === domain, `CN = ${domain}`, `CN = ${cn || "(none)"}`);
    // a dstack RPC certificate names exactly its domain (rcgen alt_names = [domain]); another name is not this KMS's
    add(x, "rpc.san", "RPC certificate SAN is your domain", sans.length === 1 && sans[0] === domain, `exactly DNS:${domain}`, sanText);
  } else {
    add(x, "rpc.subject", "RPC certificate has a domain as CN", cn !== "", "a CN (pass --domain to compare)", `CN = ${cn || "(none)"}`);
    add(x, "rpc.san", "RPC certificate SAN is its CN", sans.length === 1 && sans[0] === cn, `exactly DNS:${cn}`, sanText);
  }
  const root = certificate(x, "root-ca.crt");
  if (root) {
    const problem = rpcChainProblem(rpc, root, x.opts.now);
    add(x, "rpc.chain", "RPC certificate chain is valid (signed by the root CA)", problem === null, "rpc.crt signed by root-ca.crt (openssl verify -CAfile root-ca.crt rpc.crt: OK)", problem ?? "signed by root-ca.crt, both certificates valid now");
  }
  const rk = privateKeySpki(x, "rpc.key");
  if (rk) add(x, "rpc.key-pubkey", "rpc.key matches rpc.crt", bytesEqual(rk, spkiOfCert(rpc)), bytesToHex(spkiOfCert(rpc)), bytesToHex(rk));
}

/** Why `openssl verify -CAfile root-ca.crt rpc.crt` would fail, or null when it passes. */
function rpcChainProblem(rpc: X509Certificate, root: X509Certificate, now: number): string | null {
  if (!rpc.checkIssued(root)) {
    return rpc.issuer === root.subject
      ? `root-ca.crt cannot have issued it: the issuer name matches, but the root's key usage lacks keyCertSign or the key identifiers differ (openssl: "key usage does not include certificate signing" / "unable to get local issuer certificate")`
      : `not issued by root-ca.crt (issuer ${oneLine(rpc.issuer)}; root ${oneLine(root.subject)})`;
  }
  if (!rpc.verify(root.publicKey)) return "issuer name matches but the signature does not verify under the root CA key";
  if (!caInfo(root).basicCa) return "root-ca.crt is not a CA, it cannot issue certificates";
  return timeValid(rpc, now) ?? timeValid(root, now);
}

/** `tmp-ca.*`: the temporary CA is a self-signed CA, valid now, and tmp-ca.key is its key. */
function tmpCa(x: Inspection): void {
  const tmp = certificate(x, "tmp-ca.crt");
  if (!tmp) return;
  selfSignedCaItems(x, tmp, "tmp-ca", "Temp CA");
  const tk = privateKeySpki(x, "tmp-ca.key");
  if (tk) add(x, "tmp-ca.key-pubkey", "tmp-ca.key matches tmp-ca.crt", bytesEqual(tk, spkiOfCert(tmp)), bytesToHex(spkiOfCert(tmp)), bytesToHex(tk));
}

/** `root-k256.*`: root-k256.key is a 32-byte secp256k1 scalar whose public key is k256_pubkey. */
function rootK256Key(x: Inspection): void {
  const k = x.files.get("root-k256.key");
  if (!k) return;
  add(x, "root-k256.size", "K256 key is exactly 32 bytes", k.length === 32, "32 bytes", `${k.length} bytes`);
  if (k.length !== 32) return;
  let pub: Uint8Array | null;
  try {
    pub = secp256k1.getPublicKey(k, true);
  } catch {
    pub = null;
  }
  add(x, "root-k256.scalar", "K256 key is a valid secp256k1 scalar", pub !== null, "1 ≤ key < n", pub ? "valid scalar" : "0 or ≥ the curve order");
  if (pub && x.bootstrap) {
    add(x, "root-k256.pubkey", "K256 public key equals k256_pubkey", bytesEqual(pub, x.bootstrap.k256Pubkey), bytesToHex(x.bootstrap.k256Pubkey), bytesToHex(pub));
  }
}

/** `<key file>.mode`: no private key file is readable by group or others. */
async function privateKeyModes(x: Inspection): Promise<void> {
  for (const f of PRIVATE_KEY_FILES) {
    if (!x.names.includes(f)) continue;
    try {
      const st = await stat(join(x.dir, f));
      const mode = st.mode & 0o777;
      add(x, `${f}.mode`, `${f} is not readable by group/others`, (mode & 0o077) === 0, "mode 0600 or 0400 (no group/other bits)", `mode 0${mode.toString(8).padStart(3, "0")}`);
    } catch (e) {
      add(x, `${f}.mode`, `${f} is not readable by group/others`, false, "mode 0600", `cannot stat (${(e as NodeJS.ErrnoException).code})`);
    }
  }
}
