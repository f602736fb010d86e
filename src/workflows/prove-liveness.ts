/**
 * Proving that a live KMS still holds its root key, without extracting the key: the registry's liveness
 * challenge for the current epoch is used as an app id for the KMS's public `KMS.GetAppEnvEncryptPubKey`
 * RPC; the KMS root key signs an env-encrypt key for it (`signature_v1` with a timestamp), which
 * `proveLiveness` checks on chain. The registry accepts proofs for the current and the previous epoch.
 */
import { getAddress, parseEventLogs, type Account, type Chain, type PublicClient, type TransactionReceipt, type Transport, type WalletClient } from "viem";

import { bytesToHex, decodeBytesField, type Hex } from "../core/bytes.js";
import { NetworkError, VerificationError } from "../core/errors.js";
import { envEncryptMessageV1, recoverAddress } from "../dstack/signatures.js";
import { getAppEnvEncryptPubKey, getMeta, type EnvEncryptAnswer, type KmsClientOptions } from "../kms/client.js";
import { revertReason } from "../registry/client.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import { readLivenessChallenge } from "../registry/liveness.js";

/** How long one KMS request of the liveness workflow may take (ms). */
const KMS_TIMEOUT_MS = 15_000;

export interface LivenessResult {
  kms: Hex;
  appId: Hex;
  /** The liveness epoch the challenge was read for (and `proveLiveness` was called with). */
  epoch: bigint;
  timestamp: bigint;
  txHash: Hex;
  blockNumber: bigint;
  gasUsed: bigint;
  /** The nonce the challenge was computed with (from `KmsLivenessProven`; the stored nonce is now one more). */
  nonce?: bigint;
}

export type LivenessStage = "challenge" | "sign" | "send" | "wait";

export interface ProveLivenessOptions {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  registry: Hex;
  kms: Hex;
  kmsUrl: string;
  /** How the KMS is called (a TLS pin `caPubkey`, timeouts, retries); the timeout defaults to 15 s. */
  kmsClient?: KmsClientOptions;
  confirmations?: number;
  onProgress?: (stage: LivenessStage, detail: string) => void;
}

/**
 * Read the current liveness epoch and the challenge for it (both at one block), ask the live KMS to sign
 * the challenge, check the signer off chain (a clear error instead of a revert when the URL serves another
 * KMS), and submit `proveLiveness` for that epoch.
 */
export async function proveLiveness(opts: ProveLivenessOptions): Promise<LivenessResult> {
  const progress = opts.onProgress ?? (() => {});
  const { publicClient, registry } = opts;
  const kms = getAddress(opts.kms) as Hex;
  await requireRegistered(publicClient, registry, kms);
  const { blockNumber, epoch, challenge } = await readLivenessChallenge(publicClient, registry, kms);
  progress("challenge", `challenge app id ${challenge} for epoch ${epoch} (block ${blockNumber})`);
  const appId = decodeBytesField(challenge, "challenge", 20);
  const answer = await getAppEnvEncryptPubKey(opts.kmsUrl, appId, { timeoutMs: KMS_TIMEOUT_MS, ...opts.kmsClient });
  checkLivenessSigner(answer, appId, kms, opts.kmsUrl);
  progress("sign", `KMS signed the challenge at timestamp ${answer.timestamp}`);
  const hash = await sendProof(opts, kms, epoch, answer);
  progress("send", `sent ${hash}`);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, pollingInterval: publicClient.pollingInterval });
  if (receipt.status !== "success") throw new VerificationError("LIVENESS_REVERTED", `proveLiveness transaction ${hash} reverted`);
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  return livenessResult(kms, challenge, epoch, answer, receipt);
}

async function requireRegistered(publicClient: PublicClient<Transport, Chain>, registry: Hex, kms: Hex): Promise<void> {
  const registered = await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] });
  if (!registered) throw new VerificationError("KMS_NOT_REGISTERED", `KMS ${kms} is not registered (or is revoked) on ${registry}`);
}

/** The answer's `signature_v1` must recover to the registered KMS (`LIVENESS_BAD_SIGNATURE` / `LIVENESS_WRONG_KMS`). */
function checkLivenessSigner(answer: EnvEncryptAnswer, appId: Uint8Array, kms: Hex, kmsUrl: string): void {
  const signer = recoverAddress(envEncryptMessageV1(appId, answer.timestamp, answer.publicKey), answer.signatureV1);
  if (!signer) throw new VerificationError("LIVENESS_BAD_SIGNATURE", `the KMS at ${kmsUrl} returned a signature_v1 that does not recover`);
  if (signer.toLowerCase() !== kms.toLowerCase()) {
    throw new VerificationError("LIVENESS_WRONG_KMS", `the KMS at ${kmsUrl} signed with ${getAddress(signer)}, not with the registered KMS ${kms}`);
  }
}

/** Simulate, then send `proveLiveness(kms, epoch, publicKey, timestamp, signatureV1)`; a rejection is `LIVENESS_REJECTED`. */
async function sendProof(opts: ProveLivenessOptions, kms: Hex, epoch: bigint, answer: EnvEncryptAnswer): Promise<Hex> {
  const args = [kms, epoch, bytesToHex(answer.publicKey), answer.timestamp, bytesToHex(answer.signatureV1)] as const;
  try {
    const { request } = await opts.publicClient.simulateContract({
      address: opts.registry,
      abi: kmsRegistryAbi,
      functionName: "proveLiveness",
      args,
      account: opts.walletClient.account,
    });
    return await opts.walletClient.writeContract(request);
  } catch (e) {
    throw new VerificationError("LIVENESS_REJECTED", `the registry rejected proveLiveness: ${revertReason(e)}`, { cause: e });
  }
}

function livenessResult(kms: Hex, challenge: Hex, epoch: bigint, answer: EnvEncryptAnswer, receipt: TransactionReceipt): LivenessResult {
  const [proven] = parseEventLogs({ abi: kmsRegistryAbi, eventName: "KmsLivenessProven", logs: receipt.logs });
  return {
    kms,
    appId: challenge.toLowerCase() as Hex,
    epoch,
    timestamp: answer.timestamp,
    txHash: receipt.transactionHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    ...(proven ? { nonce: proven.args.nonce } : {}),
  };
}

/** `GET <kms>/prpc/KMS.GetMeta` → the live root k256 public key (33 bytes), through the KMS client. */
export async function getKmsK256Pubkey(kmsUrl: string, opts: { timeoutMs?: number } = {}): Promise<Uint8Array> {
  const { meta, url } = await getMeta(kmsUrl, { timeoutMs: opts.timeoutMs ?? KMS_TIMEOUT_MS });
  if (typeof meta.k256_pubkey !== "string") throw new NetworkError("KMS_BAD_ANSWER", `KMS ${url}: GetMeta has no k256_pubkey`);
  const pub = decodeBytesField(meta.k256_pubkey, "k256_pubkey", 33);
  if (pub.length !== 33) throw new NetworkError("KMS_BAD_ANSWER", `KMS ${url}: k256_pubkey is ${pub.length} bytes, expected 33`);
  return pub;
}
