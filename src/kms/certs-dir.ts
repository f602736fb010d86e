/**
 * A KMS certs dir (`/etc/kms/certs`, formats doc §7 and the two bootstrap tutorials): reading the
 * bootstrap info from it, and the operator's checklist (`check-certs`). Every check is named and
 * says what was expected and what was found. Certificate checks use OpenSSL through `node:crypto`
 * (`X509Certificate.checkIssued` / `verify`), so they agree with `openssl verify` on the same files.
 */
import "reflect-metadata";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import * as px509 from "@peculiar/x509";

import { parseQuote } from "../dcap/quote.js";
import { bytesEqual, bytesToHex } from "../core/bytes.js";
import { InputError, KmsRegistryError } from "../core/errors.js";
import { parseBootstrapInfo, type BootstrapInfo } from "./bootstrap.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseJsonLimited } from "../core/json.js";

/** The 8 files of the tutorials, in `ls` order. */
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

/** Read `bootstrap-info.json` of a certs dir. A missing file gets the auto-bootstrap explanation. */
export async function readCertsDirBootstrap(dir: string): Promise<BootstrapInfo> {
  const path = join(dir, "bootstrap-info.json");
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new InputError("CERTS_DIR_INVALID", `${dir}: not a directory`);
  } catch (e) {
    if (e instanceof KmsRegistryError) throw e;
    throw new InputError("CERTS_DIR_INVALID", `${dir}: cannot read certs dir (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  let bytes: Uint8Array;
  try {
    bytes = await readInput(path, INPUT_KINDS.bootstrap, { label: "bootstrap-info.json" });
  } catch (e) {
    if (e instanceof InputError && e.code === "FILE_NOT_FOUND") {
      throw new InputError(
        "BOOTSTRAP_INFO_MISSING",
        `${dir} has no bootstrap-info.json: the KMS was auto-bootstrapped (dstack issue #539) or is a replica (Onboard), so it never wrote one; supply the saved Onboard.Bootstrap response: --certs-dir ${dir} --file SAVED.json`,
        { cause: e },
      );
    }
    throw e;
  }
  return parseBootstrapInfo(parseJsonLimited(new TextDecoder().decode(bytes), "bootstrap-info.json"));
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
 * the tutorial's plain `openssl verify` says OK — but cannot issue, which `rpc.chain` reports).
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

/** Run the operator's checklist on a certs dir. Never throws for a failed check; throws only for an unreadable dir. */
export async function checkCertsDir(dir: string, opts: CheckCertsOptions): Promise<Checklist> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new InputError("CERTS_DIR_INVALID", `${dir}: cannot read certs dir (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  const items: ChecklistItem[] = [];
  const add = (name: string, title: string, ok: boolean, expected: string, found: string, note?: string) => {
    const it: ChecklistItem = { name, title, ok, expected, found };
    if (note) it.note = note;
    items.push(it);
  };
  const files = new Map<string, Uint8Array>();
  const readErr = new Map<string, string>();
  for (const f of [...CERTS_DIR_FILES, ...KNOWN_EXTRA_FILES]) {
    if (!names.includes(f)) continue;
    try {
      files.set(f, await readInput(join(dir, f), f === "bootstrap-info.json" ? INPUT_KINDS.bootstrap : INPUT_KINDS.certsDirFile, { label: f }));
    } catch (e) {
      readErr.set(f, e instanceof Error ? e.message : String(e));
    }
  }

  // 1. the 8 files
  const missing = CERTS_DIR_FILES.filter((f) => !names.includes(f));
  // hidden entries are not counted, like the tutorial's `ls -1 | wc -l`, but they are mentioned
  const hidden = names.filter((n) => n.startsWith("."));
  const unknown = names.filter((n) => !n.startsWith(".") && !(CERTS_DIR_FILES as readonly string[]).includes(n) && !(KNOWN_EXTRA_FILES as readonly string[]).includes(n));
  const present = names.filter((n) => (CERTS_DIR_FILES as readonly string[]).includes(n));
  // an auto-bootstrapped KMS or a replica has no bootstrap-info.json: the separately supplied answer stands in for it
  const replaced = opts.bootstrap !== undefined && missing.length === 1 && missing[0] === "bootstrap-info.json";
  add(
    "files",
    "All 8 files exist",
    (missing.length === 0 || replaced) && unknown.length === 0,
    `exactly ${CERTS_DIR_FILES.join(", ")}${opts.bootstrap ? ` (bootstrap-info.json may be replaced by ${opts.bootstrap.from})` : ""}`,
    `${present.length} of 8${missing.length ? `; missing ${missing.join(", ")}` : ""}${replaced ? ` (supplied as ${opts.bootstrap!.from})` : ""}${unknown.length ? `; unexpected ${unknown.join(", ")}` : ""}`,
    [names.includes("rpc-domain") ? "rpc-domain present (written by newer KMS versions; tolerated)" : "", hidden.length ? `hidden entries ignored: ${hidden.join(", ")}` : ""]
      .filter(Boolean)
      .join("; ") || undefined,
  );
  for (const [f, msg] of readErr) add(`${f}.readable`, `${f} is readable`, false, "a readable regular file", msg);

  // domain
  let domain: string | null = opts.domain ?? null;
  let domainSource: Checklist["domainSource"] = opts.domain ? "argument" : "none";
  if (!domain && files.has("rpc-domain")) {
    domain = new TextDecoder().decode(files.get("rpc-domain")).trim() || null;
    if (domain) domainSource = "rpc-domain";
  }

  const cert = (f: string): X509Certificate | null => {
    const b = files.get(f);
    if (!b) return null;
    try {
      // PEM only, as `openssl x509 -in` reads it (and DER could hide the embedded PCK chain's PEM text)
      if (!/^\s*-----BEGIN CERTIFICATE-----/.test(new TextDecoder().decode(b.subarray(0, 64)))) throw new Error("not a PEM certificate");
      return new X509Certificate(Buffer.from(b));
    } catch (e) {
      add(`${f.replace(/\.crt$/, "")}.parse`, `${f} is a certificate`, false, "a PEM X.509 certificate", `unparseable (${e instanceof Error ? e.message : String(e)})`);
      return null;
    }
  };
  const keySpki = (f: string): Uint8Array | null => {
    const b = files.get(f);
    if (!b) return null;
    try {
      return spkiOfPrivatePem(b);
    } catch (e) {
      add(`${f.replace(/\.key$/, "")}.key-parse`, `${f} is a private key`, false, "a PEM PKCS#8 P-256 private key", `unparseable (${e instanceof Error ? e.message : String(e)})`);
      return null;
    }
  };

  // bootstrap info (needed for key comparisons)
  let bootstrap: BootstrapInfo | null = null;
  const fieldsItem = (b: BootstrapInfo, what: string) => {
    const fields = b.format === "legacy" ? ["ca_pubkey", "k256_pubkey", "quote", "eventlog"] : ["ca_pubkey", "k256_pubkey", "attestation"];
    const emptyFields = b.problems.filter((p) => p.code.endsWith("_EMPTY")).map((p) => p.field);
    const badFields = b.problems.filter((p) => !p.code.endsWith("_EMPTY"));
    add(
      "bootstrap-info.valid",
      `${what} is valid with every field`,
      emptyFields.length === 0 && badFields.length === 0,
      `JSON with ${fields.join(", ")} (${b.format} format)`,
      emptyFields.length || badFields.length
        ? [emptyFields.length ? `empty: ${emptyFields.join(", ")}` : "", ...badFields.map((p) => `${p.field}: ${p.message}`)].filter(Boolean).join("; ")
        : `${b.format} format, all ${fields.length} fields decode`,
    );
  };
  const bj = files.get("bootstrap-info.json");
  if (bj) {
    try {
      bootstrap = parseBootstrapInfo(parseJsonLimited(new TextDecoder().decode(bj), "bootstrap-info.json"));
      fieldsItem(bootstrap, "bootstrap-info.json");
    } catch (e) {
      add("bootstrap-info.valid", "bootstrap-info.json is valid with every field", false, "JSON with ca_pubkey, k256_pubkey and quote+eventlog or attestation", e instanceof Error ? e.message : String(e));
    }
    if (bootstrap && opts.bootstrap) {
      const s = opts.bootstrap.info;
      const same = bytesEqual(s.caPubkey, bootstrap.caPubkey) && bytesEqual(s.k256Pubkey, bootstrap.k256Pubkey);
      add(
        "bootstrap-info.matches-file",
        `bootstrap-info.json names the same keys as ${opts.bootstrap.from}`,
        same,
        `ca_pubkey ${bytesToHex(s.caPubkey).slice(0, 24)}…, k256_pubkey ${bytesToHex(s.k256Pubkey)}`,
        `ca_pubkey ${bytesToHex(bootstrap.caPubkey).slice(0, 24)}…, k256_pubkey ${bytesToHex(bootstrap.k256Pubkey)}`,
      );
    }
  } else if (opts.bootstrap && !readErr.has("bootstrap-info.json")) {
    bootstrap = opts.bootstrap.info;
    fieldsItem(bootstrap, "the saved Bootstrap answer (--file, no bootstrap-info.json in the dir)");
  } else if (!readErr.has("bootstrap-info.json")) {
    add("bootstrap-info.valid", "bootstrap-info.json is valid with every field", false, "the file", "missing (auto-bootstrapped KMS or replica: supply the saved Bootstrap response with --file)");
  }
  if (bootstrap) {
    let found: string;
    let ok = false;
    if (!bootstrap.quote || bootstrap.quote.length === 0) found = "no quote (null or empty)";
    else {
      try {
        const q = parseQuote(bootstrap.quote);
        ok = true;
        found = `${bootstrap.quote.length}-byte quote v${q.header.version}, TEE type 0x${q.header.teeType.toString(16)}`;
      } catch (e) {
        found = `present but unparseable: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    add("quote.present", "TDX quote is present", ok, "a non-empty TDX quote", found);
  }

  // root CA
  const root = cert("root-ca.crt");
  if (root) {
    const cn = subjectField(root.subject, "CN");
    const exact = cn === "Dstack KMS CA";
    const older = cn === "dstack KMS CA";
    add(
      "root-ca.subject",
      'Root CA has CN = "Dstack KMS CA"',
      exact || older,
      'CN = "Dstack KMS CA" (or "dstack KMS CA" from KMS v0.5.4)',
      oneLine(root.subject),
      older ? 'older KMS (v0.5.4) lower-case subject "dstack KMS CA" — accepted' : undefined,
    );
    const ss = selfSigned(root);
    add("root-ca.self-signed", "Root CA is self-signed", ss.ok, "issuer = subject and a valid self-signature", ss.found);
    const rca = caItem(root);
    add("root-ca.is-ca", "Root CA is a CA", rca.ok, "basicConstraints CA:TRUE", rca.found, rca.note);
    const tv = timeValid(root, opts.now);
    add("root-ca.validity", "Root CA is within its validity period", tv === null, `valid at ${new Date(opts.now * 1000).toISOString()}`, tv ?? `${root.validFrom} … ${root.validTo}`);
    if (bootstrap) {
      const spki = spkiOfCert(root);
      add("root-ca.pubkey", "root-ca.crt public key equals ca_pubkey", bytesEqual(spki, bootstrap.caPubkey), bytesToHex(bootstrap.caPubkey), bytesToHex(spki));
    }
  }
  const rootKey = keySpki("root-ca.key");
  if (rootKey) {
    const ref = bootstrap?.caPubkey ?? (root ? spkiOfCert(root) : null);
    if (ref) {
      add(
        "root-ca.key-pubkey",
        `root-ca.key public key equals ${bootstrap ? "ca_pubkey" : "root-ca.crt's key"}`,
        bytesEqual(rootKey, ref),
        bytesToHex(ref),
        bytesToHex(rootKey),
      );
    }
  }

  // RPC cert
  const rpc = cert("rpc.crt");
  if (rpc) {
    const cn = subjectField(rpc.subject, "CN") ?? "";
    const sans = sanDns(rpc);
    if (domain) {
      add("rpc.subject", "RPC certificate has your domain as CN", cn === domain, `CN = ${domain}`, `CN = ${cn || "(none)"}`);
      // a dstack RPC certificate names exactly its domain (rcgen alt_names = [domain]); another name is not this KMS's
      add("rpc.san", "RPC certificate SAN is your domain", sans.length === 1 && sans[0] === domain, `exactly DNS:${domain}`, sans.length ? sans.map((s) => `DNS:${s}`).join(", ") : "no DNS SAN");
    } else {
      add("rpc.subject", "RPC certificate has a domain as CN", cn !== "", "a CN (pass --domain to compare)", `CN = ${cn || "(none)"}`);
      add("rpc.san", "RPC certificate SAN is its CN", sans.length === 1 && sans[0] === cn, `exactly DNS:${cn}`, sans.length ? sans.map((s) => `DNS:${s}`).join(", ") : "no DNS SAN");
    }
    if (root) {
      let ok = true;
      let found = "signed by root-ca.crt, both certificates valid now";
      if (!rpc.checkIssued(root)) {
        ok = false;
        found =
          rpc.issuer === root.subject
            ? `root-ca.crt cannot have issued it: the issuer name matches, but the root's key usage lacks keyCertSign or the key identifiers differ (openssl: "key usage does not include certificate signing" / "unable to get local issuer certificate")`
            : `not issued by root-ca.crt (issuer ${oneLine(rpc.issuer)}; root ${oneLine(root.subject)})`;
      } else if (!rpc.verify(root.publicKey)) {
        ok = false;
        found = "issuer name matches but the signature does not verify under the root CA key";
      } else if (!caInfo(root).basicCa) {
        ok = false;
        found = "root-ca.crt is not a CA, it cannot issue certificates";
      } else {
        const t = timeValid(rpc, opts.now) ?? timeValid(root, opts.now);
        if (t) {
          ok = false;
          found = t;
        }
      }
      add("rpc.chain", "RPC certificate chain is valid (signed by the root CA)", ok, "rpc.crt signed by root-ca.crt (openssl verify -CAfile root-ca.crt rpc.crt: OK)", found);
    }
    const rk = keySpki("rpc.key");
    if (rk) add("rpc.key-pubkey", "rpc.key matches rpc.crt", bytesEqual(rk, spkiOfCert(rpc)), bytesToHex(spkiOfCert(rpc)), bytesToHex(rk));
  }

  // temp CA
  const tmp = cert("tmp-ca.crt");
  if (tmp) {
    const ss = selfSigned(tmp);
    add("tmp-ca.self-signed", "Temp CA is self-signed", ss.ok, "issuer = subject and a valid self-signature", ss.found);
    const tca = caItem(tmp);
    add("tmp-ca.is-ca", "Temp CA is a CA", tca.ok, "basicConstraints CA:TRUE", tca.found, tca.note);
    const ttv = timeValid(tmp, opts.now);
    add("tmp-ca.validity", "Temp CA is within its validity period", ttv === null, `valid at ${new Date(opts.now * 1000).toISOString()}`, ttv ?? `${tmp.validFrom} … ${tmp.validTo}`);
    const tk = keySpki("tmp-ca.key");
    if (tk) add("tmp-ca.key-pubkey", "tmp-ca.key matches tmp-ca.crt", bytesEqual(tk, spkiOfCert(tmp)), bytesToHex(spkiOfCert(tmp)), bytesToHex(tk));
  }

  // k256
  const k = files.get("root-k256.key");
  if (k) {
    add("root-k256.size", "K256 key is exactly 32 bytes", k.length === 32, "32 bytes", `${k.length} bytes`);
    if (k.length === 32) {
      let pub: Uint8Array | null;
      try {
        pub = secp256k1.getPublicKey(k, true);
      } catch {
        pub = null;
      }
      add("root-k256.scalar", "K256 key is a valid secp256k1 scalar", pub !== null, "1 ≤ key < n", pub ? "valid scalar" : "0 or ≥ the curve order");
      if (pub && bootstrap) {
        add("root-k256.pubkey", "K256 public key equals k256_pubkey", bytesEqual(pub, bootstrap.k256Pubkey), bytesToHex(bootstrap.k256Pubkey), bytesToHex(pub));
      }
    }
  }

  // permissions
  for (const f of PRIVATE_KEY_FILES) {
    if (!names.includes(f)) continue;
    try {
      const st = await stat(join(dir, f));
      const mode = st.mode & 0o777;
      add(
        `${f}.mode`,
        `${f} is not readable by group/others`,
        (mode & 0o077) === 0,
        "mode 0600 or 0400 (no group/other bits)",
        `mode 0${mode.toString(8).padStart(3, "0")}`,
      );
    } catch (e) {
      add(`${f}.mode`, `${f} is not readable by group/others`, false, "mode 0600", `cannot stat (${(e as NodeJS.ErrnoException).code})`);
    }
  }

  const failed = items.filter((i) => !i.ok).map((i) => i.name);
  return { ok: failed.length === 0, dir, domain, domainSource, items, failed, bootstrap };
}
