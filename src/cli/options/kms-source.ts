/**
 * Shared option handling of `pull` and `verify`: which bootstrap source (`--kms URL [--file FILE]`,
 * `--certs-dir DIR`, `--file FILE`), `--ca-pubkey` pinning, timeouts, retries.
 */
import { isAbsolute, resolve } from "node:path";

import { UsageError } from "../../core/errors.js";
import { optInteger, optString, type CommandContext, type OptionSpec } from "../framework.js";
import type { PullSource } from "../../kms/pull.js";

export const SOURCE_OPTIONS: Record<string, OptionSpec> = {
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

function abs(ctx: CommandContext, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.io.cwd, p);
}

export async function sourceFromOptions(ctx: CommandContext): Promise<PullSource> {
  const kms = optString(ctx, "kms");
  const dir = optString(ctx, "certs-dir");
  const file = optString(ctx, "file");
  const caPubkeyText = optString(ctx, "ca-pubkey");
  const given = [kms !== undefined && "--kms", dir !== undefined && "--certs-dir", file !== undefined && "--file"].filter(Boolean) as string[];
  if (kms !== undefined) {
    if (dir !== undefined) throw new UsageError("give --kms or --certs-dir, not both");
    const src: PullSource = { kms };
    if (file !== undefined) src.file = abs(ctx, file);
    if (caPubkeyText !== undefined) {
      const { decodeBytesField } = await import("../../core/bytes.js");
      const { assertCaPubkeyPin } = await import("../../kms/client.js");
      const ca = decodeBytesField(caPubkeyText, "--ca-pubkey", 91);
      // a well-formed P-256 SPKI whose point is on the curve, checked before anything connects
      assertCaPubkeyPin(ca, "--ca-pubkey");
      src.caPubkey = ca;
    }
    return src;
  }
  if (caPubkeyText !== undefined) throw new UsageError("--ca-pubkey only applies to --kms");
  // --certs-dir DIR --file FILE: a certs dir without bootstrap-info.json (auto-bootstrapped KMS, replica) + the saved answer
  if (dir !== undefined) return file !== undefined ? { certsDir: abs(ctx, dir), file: abs(ctx, file) } : { certsDir: abs(ctx, dir) };
  if (given.length !== 1) throw new UsageError(`give exactly one of --kms, --certs-dir, --file${given.length ? ` (got ${given.join(", ")})` : ""}`);
  return { file: abs(ctx, file!) };
}

export function clientOptions(ctx: CommandContext): { timeoutMs?: number; retries?: number } {
  const o: { timeoutMs?: number; retries?: number } = {};
  const t = optInteger(ctx, "timeout", { min: 1, max: 600_000 });
  const r = optInteger(ctx, "retries", { min: 0, max: 10 });
  if (t !== undefined) o.timeoutMs = t;
  if (r !== undefined) o.retries = r;
  return o;
}
