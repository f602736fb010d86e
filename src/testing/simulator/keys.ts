/**
 * The simulated KMS's keys and certificates, as a bootstrapped KMS holds them: its secp256k1 root key,
 * its root CA, its RPC certificate and key, and its Bootstrap response. A simulator started on a certs
 * dir that already holds them resumes with them; on an empty one it waits for Bootstrap.
 */
import { X509Certificate } from "node:crypto";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";

import { InputError } from "../../core/errors.js";
import { INPUT_KINDS, readInput, type InputKind } from "../../core/files.js";
import { parseJsonLimited } from "../../core/json.js";
import { publicKeyFromPrivate } from "../../dstack/signatures.js";
import { CERTS_DIR_FILES } from "../../kms/certs-dir.js";
import type { SimulatorConfig } from "./options.js";

export interface KmsKeys {
  domain: string;
  k256: Uint8Array;
  k256Pubkey: Uint8Array;
  caCertPem: string;
  rpcCertPem: string;
  rpcKeyPem: string;
  /** dstack-shaped BootstrapResponse (plain hex). */
  bootstrapResponse: Record<string, string>;
  /** Whether bootstrap-info.json is in the certs dir (GetMeta's `bootstrap_info` is null otherwise). */
  infoWritten: boolean;
}

export async function readText(p: string, kind: InputKind): Promise<string> {
  return new TextDecoder().decode(await readInput(p, kind));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create the certs dir if missing and load the keys it holds: null when it holds none of the 8 files.
 * A dir with some key files but not all, a root key that is not 32 bytes, or keys without a Bootstrap
 * response (neither bootstrap-info.json nor the one saved in the sim dir) is refused.
 */
export async function openCertsDir(config: SimulatorConfig): Promise<KmsKeys | null> {
  const { certsDir, simDir } = config;
  let existing: string[];
  try {
    await mkdir(certsDir, { recursive: true, mode: 0o755 });
    existing = await readdir(certsDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError("CERTS_DIR_INVALID", `${certsDir}: cannot use as a certs dir (${code}${code === "EEXIST" || code === "ENOTDIR" ? ": a file is in the way" : ""})`, { cause: e });
  }
  const present = existing.filter((f) => (CERTS_DIR_FILES as readonly string[]).includes(f));
  if (!present.length) return null;
  const keyFiles = CERTS_DIR_FILES.filter((f) => f !== "bootstrap-info.json");
  const missing = keyFiles.filter((f) => !present.includes(f));
  if (missing.length) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir} is partially populated (missing ${missing.join(", ")}); refusing to start`);
  const k256 = await readInput(join(certsDir, "root-k256.key"), INPUT_KINDS.certsDirFile);
  if (k256.length !== 32) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir}/root-k256.key is ${k256.length} bytes, expected 32`);
  const infoWritten = present.includes("bootstrap-info.json");
  const response = await savedBootstrapResponse(config, infoWritten);
  if (!response) throw new InputError("CERTS_DIR_PARTIAL", `${certsDir} has keys but no bootstrap-info.json and no saved response in ${simDir}`);
  const rpcCertPem = await readText(join(certsDir, "rpc.crt"), INPUT_KINDS.certsDirFile);
  return {
    domain: /CN=([^\n,]+)/.exec(new X509Certificate(rpcCertPem).subject)?.[1] ?? "localhost",
    k256,
    k256Pubkey: publicKeyFromPrivate(k256),
    caCertPem: await readText(join(certsDir, "root-ca.crt"), INPUT_KINDS.certsDirFile),
    rpcCertPem,
    rpcKeyPem: await readText(join(certsDir, "rpc.key"), INPUT_KINDS.certsDirFile),
    bootstrapResponse: response,
    infoWritten,
  };
}

/** The Bootstrap response: bootstrap-info.json when written, else the copy saved in the sim dir. */
async function savedBootstrapResponse(config: SimulatorConfig, infoWritten: boolean): Promise<Record<string, string> | null> {
  if (infoWritten) {
    return parseJsonLimited(await readText(join(config.certsDir, "bootstrap-info.json"), INPUT_KINDS.bootstrap), "bootstrap-info.json") as Record<string, string>;
  }
  if (await exists(config.savedResponsePath)) {
    return parseJsonLimited(await readText(config.savedResponsePath, INPUT_KINDS.bootstrap), "saved bootstrap response") as Record<string, string>;
  }
  return null;
}
