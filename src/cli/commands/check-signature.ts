/**
 * `kms-registry check-signature --registry ADDR --rpc URL [--kms ADDR] …` in one of three modes:
 *   app key:   --app-id ID --app-pubkey HEX --signature HEX
 *   env key:   --app-id ID --public-key HEX --timestamp T --signature HEX
 *   key chain: --app-id ID --purpose P --derived-pubkey HEX --signature-chain D,A
 */
import { hexToBytes } from "../../core/bytes.js";
import { InputError, UsageError } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { checkAppKeySignature, checkEnvKeySignature, checkKeyChain, type SignatureCheckResult } from "../../registry/check-signature.js";
import { parseAddress } from "../../registry/connect.js";
import { EXIT_FAIL, EXIT_OK, optString, requireString, type CommandSpec, type CommandContext } from "../framework.js";
import { REGISTRY_OPTIONS, connectToRegistry, registryOptions } from "../options/registry.js";
import { printJson } from "../output.js";

function bytesOpt(ctx: CommandContext, name: string, length?: number): Uint8Array {
  const b = hexToBytes(requireString(ctx, name), `--${name}`);
  if (length !== undefined && b.length !== length) throw new InputError("BAD_LENGTH", `--${name} must be ${length} bytes of hex, got ${b.length}`);
  return b;
}

/** `D,A`, `[D, A]` (JSON, as dstack prints it) or `D A`. */
export function parseSignatureChain(text: string): [Uint8Array, Uint8Array] {
  let parts: string[];
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      parts = (JSON.parse(t) as unknown[]).map(String);
    } catch {
      throw new InputError("BAD_SIGNATURE_CHAIN", "--signature-chain: not a JSON array of hex strings");
    }
  } else parts = t.split(/[\s,]+/).filter(Boolean);
  if (parts.length < 2) throw new InputError("BAD_SIGNATURE_CHAIN", `--signature-chain needs two signatures [D, A] (derived-key signature, then the KMS's app-key signature), got ${parts.length}`);
  // GetKey's chain is [D, A]; Sign's is [signature, D, A]: the last two are always D and A.
  const [d, a] = parts.slice(-2).map((p, i) => hexToBytes(p, `--signature-chain[${i}]`));
  for (const [i, s] of [d!, a!].entries()) {
    if (s.length !== 65) throw new InputError("BAD_SIGNATURE_CHAIN", `--signature-chain element ${i} must be 65 bytes (r‖s‖v), got ${s.length}`);
  }
  return [d!, a!];
}

export const checkSignatureCommand: CommandSpec = {
  synopsis:
    "--registry ADDR --rpc URL [--kms ADDR] --app-id ID (--app-pubkey HEX --signature HEX | --public-key HEX --timestamp T --signature HEX | --purpose P --derived-pubkey HEX --signature-chain D,A) [--json]",
  help: [
    "Checks the signature off chain (recovering the signer in TypeScript and asking the registry whether it is a",
    "registered, non-revoked KMS) and on chain (verifyAppKey / verifyEnvEncryptPubkey / verifyKeyChain), and says",
    "whether both agree. --signature-chain takes the guest agent's signature_chain as printed by dstack (a JSON",
    "array, or D,A). Exit 0 only when the signature is valid and both sides agree; 1 otherwise.",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    kms: { type: "string", valueName: "ADDR", description: "expected KMS address (default: the one the signature recovers to)" },
    "app-id": { type: "string", valueName: "HEX", description: "20-byte app id" },
    "app-pubkey": { type: "string", valueName: "HEX", description: "33-byte compressed app public key (app-key mode)" },
    signature: { type: "string", valueName: "HEX", description: "65-byte r‖s‖v signature (app-key / env-key modes)" },
    "public-key": { type: "string", valueName: "HEX", description: "32-byte X25519 env-encrypt public key (env-key mode)" },
    timestamp: { type: "string", valueName: "T", description: "signature_v1 timestamp (env-key mode)" },
    purpose: { type: "string", valueName: "P", description: "GetKey purpose (key-chain mode)" },
    "derived-pubkey": { type: "string", valueName: "HEX", description: "derived public key (key-chain mode)" },
    "signature-chain": { type: "string", valueName: "D,A", description: "GetKey signature_chain (key-chain mode)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const modes = [
      optString(ctx, "signature-chain") !== undefined && "key-chain",
      optString(ctx, "app-pubkey") !== undefined && "app-key",
      optString(ctx, "public-key") !== undefined && "env-key",
    ].filter(Boolean) as string[];
    if (modes.length !== 1) throw new UsageError("give exactly one of --app-pubkey (app key), --public-key (env key) or --signature-chain (key chain)");
    const mode = modes[0]!;
    const target = registryOptions(ctx);
    const { registry } = target;
    const kmsOpt = optString(ctx, "kms");
    const kms = kmsOpt !== undefined ? parseAddress(kmsOpt, "--kms") : undefined;
    const appId = bytesOpt(ctx, "app-id", 20);
    let input: () => Promise<SignatureCheckResult>;
    if (mode === "app-key") {
      const appPubkey = bytesOpt(ctx, "app-pubkey", 33);
      const signature = bytesOpt(ctx, "signature", 65);
      input = () => checkAppKeySignature({ publicClient: conn.publicClient, registry, ...(kms ? { kms } : {}), appId, appPubkey, signature });
    } else if (mode === "env-key") {
      const publicKey = bytesOpt(ctx, "public-key", 32);
      const ts = requireString(ctx, "timestamp");
      if (!/^\d{1,20}$/.test(ts) || BigInt(ts) >= 1n << 64n) throw new UsageError(`--timestamp must be a u64 (unix seconds), got ${JSON.stringify(ts.slice(0, 30))}`);
      const signature = bytesOpt(ctx, "signature", 65);
      input = () => checkEnvKeySignature({ publicClient: conn.publicClient, registry, ...(kms ? { kms } : {}), appId, publicKey, timestamp: BigInt(ts), signature });
    } else {
      const purpose = requireString(ctx, "purpose");
      const derivedPubkey = bytesOpt(ctx, "derived-pubkey");
      const [derivedSignature, appSignature] = parseSignatureChain(requireString(ctx, "signature-chain"));
      input = () => checkKeyChain({ publicClient: conn.publicClient, registry, ...(kms ? { kms } : {}), appId, purpose, derivedPubkey, derivedSignature, appSignature });
    }
    const { conn } = await connectToRegistry(target);
    const r = await input();
    if (ctx.json) printJson(io, { ok: r.valid, ...r });
    else {
      const verdict = r.valid ? "VALID" : r.agree ? "INVALID" : "DISAGREE";
      io.stdout(
        [
          `${verdict}: ${r.kind} signature for KMS ${r.kms}${r.registered ? " (registered)" : " (not registered)"}`,
          `  off chain: ${r.offChain.valid ? "valid" : "invalid"} — ${oneLine(r.offChain.detail)}`,
          `  on chain:  ${r.onChain.valid ? "valid" : "invalid"} — ${oneLine(r.onChain.detail)}`,
          `  ${r.agree ? "both agree" : "OFF CHAIN AND ON CHAIN DISAGREE"}`,
          "",
        ].join("\n"),
      );
    }
    return r.valid ? EXIT_OK : EXIT_FAIL;
  },
};
