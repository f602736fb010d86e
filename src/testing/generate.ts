/**
 * A KMS bootstrap's key material and certs dir, generated for real (the simulator's
 * `Onboard.Bootstrap`): exactly the 8 files a dstack KMS writes, private keys PKCS#8 PEM mode 0600,
 * `root-k256.key` raw 32 bytes, `bootstrap-info.json` compact one-line JSON like serde_json.
 */
import { chmod, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { publicKeyFromPrivate } from "../dstack/signatures.js";
import { InputError } from "../core/errors.js";
import { CERTS_DIR_FILES } from "../kms/certs-dir.js";
import { createSelfSignedCa, generateK256, generateP256, issueRpcCert, ROOT_CA_NAME, TEMP_CA_NAME, validateDomain, type P256KeyPair } from "./pki.js";

export interface KmsKeyMaterial {
  domain: string;
  rootCa: P256KeyPair;
  rootCaPem: string;
  rpc: P256KeyPair;
  rpcPem: string;
  tmpCa: P256KeyPair;
  tmpCaPem: string;
  /** Raw 32-byte secp256k1 scalar. Never log it. */
  k256: Uint8Array;
  caPubkey: Uint8Array;
  k256Pubkey: Uint8Array;
}

export interface GenerateOptions {
  domain: string;
  now?: number;
  /** `"v0.5.4"` writes the lower-case subjects of that release. */
  subjects?: "current" | "v0.5.4";
  /** Extra RPC-certificate extensions (OID → value), or a function of the RPC key's SPKI (e.g. an RA-TLS quote). */
  rpcExtensions?: Record<string, Uint8Array> | ((rpcSpki: Uint8Array) => Promise<Record<string, Uint8Array>>);
}

export async function generateKmsKeys(opts: GenerateOptions): Promise<KmsKeyMaterial> {
  const domain = validateDomain(opts.domain);
  const lower = opts.subjects === "v0.5.4";
  const [rootCa, rpc, tmpCa] = await Promise.all([generateP256(), generateP256(), generateP256()]);
  const now = opts.now;
  const rootCaPem = await createSelfSignedCa(rootCa, { name: lower ? "O=dstack, CN=dstack KMS CA" : ROOT_CA_NAME, pathLength: 1, ...(now !== undefined ? { now } : {}) });
  const ext = typeof opts.rpcExtensions === "function" ? await opts.rpcExtensions(rpc.spki) : opts.rpcExtensions;
  const rpcPem = await issueRpcCert(rpc, rootCaPem, rootCa, { domain, ...(now !== undefined ? { now } : {}), ...(ext ? { extraExtensions: ext } : {}) });
  const tmpCaPem = await createSelfSignedCa(tmpCa, { name: lower ? "O=dstack, CN=dstack Client Temp CA" : TEMP_CA_NAME, pathLength: 0, ...(now !== undefined ? { now } : {}) });
  const k256 = generateK256();
  return { domain, rootCa, rootCaPem, rpc, rpcPem, tmpCa, tmpCaPem, k256, caPubkey: rootCa.spki, k256Pubkey: publicKeyFromPrivate(k256) };
}

/**
 * Write the 8 files into `dir` (created 0755 if missing). Files are first written to a staging
 * directory beside `dir` and then renamed in, so an existing file is never overwritten and a
 * failure leaves nothing half-written. `bootstrapInfo` null omits `bootstrap-info.json`
 * (what an auto-bootstrapped dstack KMS does).
 */
export async function writeCertsDir(dir: string, m: KmsKeyMaterial, bootstrapInfo: Record<string, string> | null): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const existing = (await readdir(dir)).filter((f) => (CERTS_DIR_FILES as readonly string[]).includes(f));
  if (existing.length) throw new InputError("CERTS_DIR_NOT_EMPTY", `${dir} already holds ${existing.join(", ")}; refusing to overwrite KMS keys`);
  const stage = join(dir, `.bootstrap-${process.pid}-${Date.now()}`);
  await mkdir(stage, { mode: 0o700 });
  const files: [string, string | Uint8Array, number][] = [
    ["root-ca.key", m.rootCa.privatePem, 0o600],
    ["root-ca.crt", m.rootCaPem, 0o644],
    ["rpc.key", m.rpc.privatePem, 0o600],
    ["rpc.crt", m.rpcPem, 0o644],
    ["tmp-ca.key", m.tmpCa.privatePem, 0o600],
    ["tmp-ca.crt", m.tmpCaPem, 0o644],
    ["root-k256.key", m.k256, 0o600],
  ];
  if (bootstrapInfo) files.push(["bootstrap-info.json", JSON.stringify(bootstrapInfo), 0o644]);
  try {
    for (const [name, data, mode] of files) {
      await writeFile(join(stage, name), data, { mode, flag: "wx" });
      await chmod(join(stage, name), mode); // umask-proof
    }
    for (const [name] of files) await rename(join(stage, name), join(dir, name));
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return files.map((f) => f[0]);
}
