/**
 * The KMS-source options of `pull`, `verify` and `publish`: which bootstrap source (`--kms URL [--file FILE]`,
 * `--certs-dir DIR [--file FILE]`, `--file FILE`), `--ca-pubkey` pinning of a live KMS, and the client's
 * timeout and retries. `kmsSourceOptions` parses them once, before anything is read or connected to.
 */
import { UsageError } from "../../core/errors.js";
import { decodeBytesField } from "../../core/bytes.js";
import { assertCaPubkeyPin } from "../../kms/client.js";
import type { PullSource } from "../../kms/pull.js";
import { optInteger, optString, type CommandContext, type OptionSpec } from "../framework.js";
import { resolvePath } from "../io.js";

export const KMS_SOURCE_OPTIONS: Record<string, OptionSpec> = {
  kms: { type: "string", valueName: "URL", description: "live KMS base URL (http:// or https://); reads /prpc/KMS.GetMeta" },
  "certs-dir": { type: "string", valueName: "DIR", description: "a KMS certs dir (reads bootstrap-info.json)" },
  file: {
    type: "string",
    valueName: "FILE",
    description:
      "a saved Bootstrap response / bootstrap-info.json / GetMeta answer / pulled document; with --kms or --certs-dir: use it instead of the KMS's bootstrap_info / bootstrap-info.json (auto-bootstrapped KMS, replica)",
  },
  "ca-pubkey": { type: "string", valueName: "HEX", description: "pin the KMS root CA key (91-byte SPKI, hex/base64) for https" },
  timeout: { type: "string", valueName: "MS", description: "per-request timeout in milliseconds (default 10000)" },
  retries: { type: "string", valueName: "N", description: "retries on transient network errors (default 3)" },
};

export interface KmsSourceOptions {
  source: PullSource;
  /** The KMS client's per-request timeout and retries, when given. */
  client: { timeoutMs?: number; retries?: number };
}

export function kmsSourceOptions(ctx: CommandContext): KmsSourceOptions {
  return { source: pullSource(ctx), client: clientOptions(ctx) };
}

function pullSource(ctx: CommandContext): PullSource {
  const kms = optString(ctx, "kms");
  const dir = optString(ctx, "certs-dir");
  const file = optString(ctx, "file");
  const caPubkeyText = optString(ctx, "ca-pubkey");
  if (kms !== undefined) {
    if (dir !== undefined) throw new UsageError("give --kms or --certs-dir, not both");
    const src: PullSource = { kms };
    if (file !== undefined) src.file = resolvePath(ctx.io, file);
    if (caPubkeyText !== undefined) {
      const ca = decodeBytesField(caPubkeyText, "--ca-pubkey", 91);
      // a well-formed P-256 SPKI whose point is on the curve, checked before anything connects
      assertCaPubkeyPin(ca, "--ca-pubkey");
      src.caPubkey = ca;
    }
    return src;
  }
  if (caPubkeyText !== undefined) throw new UsageError("--ca-pubkey only applies to --kms");
  // --certs-dir DIR --file FILE: a certs dir without bootstrap-info.json (auto-bootstrapped KMS, replica) + the saved answer
  if (dir !== undefined) return file !== undefined ? { certsDir: resolvePath(ctx.io, dir), file: resolvePath(ctx.io, file) } : { certsDir: resolvePath(ctx.io, dir) };
  if (file === undefined) throw new UsageError("give exactly one of --kms, --certs-dir, --file");
  return { file: resolvePath(ctx.io, file) };
}

function clientOptions(ctx: CommandContext): KmsSourceOptions["client"] {
  const o: KmsSourceOptions["client"] = {};
  const t = optInteger(ctx, "timeout", { min: 1, max: 600_000 });
  const r = optInteger(ctx, "retries", { min: 0, max: 10 });
  if (t !== undefined) o.timeoutMs = t;
  if (r !== undefined) o.retries = r;
  return o;
}
