/** `kms-registry prove-liveness --registry ADDR --rpc URL --kms URL [--kms-address ADDR] [--json]` */
import { getAddress } from "viem";

import { decodeBytesField, hexToBytes, type Hex } from "../../core/bytes.js";
import { NetworkError, UsageError } from "../../core/errors.js";
import { ethAddress } from "../../dstack/signatures.js";
import { getMeta } from "../../kms/client.js";
import { decodeRegistryLog } from "../../registry/events.js";
import { accountFromEnv, parseAddress, walletFor } from "../../registry/connect.js";
import { findRegistrations } from "../../registry/publish.js";
import { proveLiveness } from "../../workflows/prove-liveness.js";
import { EXIT_OK, optString, requireString, type CommandSpec } from "../framework.js";
import { CONFIRMATIONS_OPTION, REGISTRY_OPTIONS, confirmations, connectToRegistry, registryOptions } from "../options/registry.js";
import { printJson, progressPrinter } from "../output.js";

export const proveLivenessCommand: CommandSpec = {
  synopsis: "--registry ADDR --rpc URL --kms URL [--kms-address ADDR] [--confirmations N] [--json]",
  help: [
    "Reads the current liveness epoch and livenessChallengeAt(kms, epoch) from the registry (the challenge is",
    "bound to the hash of the block before the epoch, 128 blocks long), asks the live KMS to sign it through its",
    "public KMS.GetAppEnvEncryptPubKey RPC (the challenge is used as the app id), checks the signer off chain,",
    "and submits proveLiveness with the epoch, signature_v1, timestamp and public_key; it must be mined before",
    "the end of the next epoch. The KMS's address comes from its KMS.GetMeta k256_pubkey unless --kms-address",
    "is given. The sender's key comes from KMS_REGISTRY_PRIVATE_KEY.",
  ].join("\n"),
  options: {
    ...REGISTRY_OPTIONS,
    kms: { type: "string", valueName: "URL", description: "the live KMS's base URL (http or https)" },
    "kms-address": { type: "string", valueName: "ADDR", description: "the KMS's registered address (default: from KMS.GetMeta)" },
    ...CONFIRMATIONS_OPTION,
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const target = registryOptions(ctx);
    const { registry } = target;
    const kmsUrl = requireString(ctx, "kms");
    if (!/^https?:\/\//i.test(kmsUrl)) throw new UsageError(`--kms must be an http(s) URL, got ${JSON.stringify(kmsUrl.slice(0, 80))}`);
    const addrOpt = optString(ctx, "kms-address");
    let kms = addrOpt !== undefined ? parseAddress(addrOpt, "--kms-address") : undefined;
    const conf = confirmations(ctx);
    const account = accountFromEnv(io.env);
    const progress = progressPrinter(io, "prove-liveness");
    if (!kms) {
      const { meta } = await getMeta(kmsUrl);
      if (typeof meta.k256_pubkey !== "string") throw new NetworkError("KMS_BAD_ANSWER", `KMS ${kmsUrl}: GetMeta has no k256_pubkey`);
      kms = getAddress(ethAddress(decodeBytesField(meta.k256_pubkey, "k256_pubkey", 33))) as Hex;
      progress("meta", `KMS root key address ${kms}`);
    }
    const { conn, record } = await connectToRegistry(target);
    // Over https, pin the KMS's TLS certificate to the CA key registered on chain for this KMS.
    let caPubkey: Uint8Array | undefined;
    if (/^https:/i.test(kmsUrl)) {
      const regs = await findRegistrations(conn.publicClient, registry, kms, null, BigInt(record?.block ?? 0));
      const last = regs.length ? decodeRegistryLog(regs[regs.length - 1]!) : undefined;
      if (last && last !== "undecodable" && last.kind === "registered") {
        caPubkey = hexToBytes(last.caPubkey, "caPubkey");
        progress("tls", "pinning the KMS's TLS certificate to its registered CA key");
      }
    }
    const r = await proveLiveness({
      publicClient: conn.publicClient,
      walletClient: walletFor(conn, account),
      registry,
      kms,
      kmsUrl,
      kmsClient: caPubkey ? { caPubkey } : {},
      confirmations: conf,
      onProgress: progress,
    });
    if (ctx.json) printJson(io, { ok: true, ...r });
    else io.stdout(`liveness proven for KMS ${r.kms}: challenge ${r.appId} (epoch ${r.epoch}), signed at ${r.timestamp}; tx ${r.txHash} in block ${r.blockNumber}, gas used ${r.gasUsed}\n`);
    return EXIT_OK;
  },
};
