/**
 * Liveness without extracting the key (formats doc §8): the registry's liveness challenge for the current
 * epoch is used as an app id for the KMS's public `KMS.GetAppEnvEncryptPubKey` RPC; the KMS root key signs
 * an env-encrypt key for it (`signature_v1` with a timestamp), which `proveLiveness` checks on chain. The
 * challenge depends on the hash of the block just before its epoch, so no answer can be collected before
 * the epoch starts; the registry accepts proofs for the current and the previous epoch.
 */
import {
  encodeAbiParameters,
  getAddress,
  keccak256,
  parseEventLogs,
  slice,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";

import { bytesToHex, bytesToPlainHex, decodeBytesField, type Hex } from "../core/bytes.js";
import { InputError, NetworkError, VerificationError } from "../core/errors.js";
import { shortMessage } from "../registry/connect.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import { revertReason } from "../registry/publish.js";
import { envEncryptMessageV1, recoverAddress } from "../dstack/signatures.js";

export interface EnvEncryptAnswer {
  publicKey: Uint8Array;
  timestamp: bigint;
  signatureV1: Uint8Array;
  /** Legacy signature (message B), when the KMS sends one. */
  signature?: Uint8Array;
}

export type JsonPost = (url: string, body: unknown, opts: { timeoutMs: number }) => Promise<unknown>;

/** POST JSON with fetch; non-2xx or `{error}` answers become `NetworkError`s naming the URL. */
export const fetchJsonPost: JsonPost = async (url, body, { timeoutMs }) => {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new NetworkError("KMS_UNREACHABLE", `KMS request to ${url} failed: ${cause?.code ?? cause?.message ?? shortMessage(e)}`, { cause: e });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new NetworkError("KMS_CONNECTION_LOST", `KMS ${url} dropped the connection while answering: ${shortMessage(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new NetworkError("KMS_BAD_ANSWER", `KMS ${url} answered HTTP ${res.status} with non-JSON (${text.trimStart().startsWith("<") ? "an HTML page" : `${text.length} bytes`})`);
  }
  if (typeof json === "object" && json !== null && "error" in json) {
    throw new NetworkError("KMS_ERROR", `KMS ${url} answered an error: ${String((json as { error: unknown }).error).split("\n")[0]}`);
  }
  if (!res.ok) throw new NetworkError("KMS_HTTP_STATUS", `KMS ${url} answered HTTP ${res.status}`);
  return json;
};

/** `POST <kms>/prpc/KMS.GetAppEnvEncryptPubKey?json {"app_id": "<40 hex>"}` → the decoded answer. */
export async function getAppEnvEncryptPubKey(
  kmsUrl: string,
  appId: Uint8Array,
  opts: { post?: JsonPost; timeoutMs?: number } = {},
): Promise<EnvEncryptAnswer> {
  if (appId.length !== 20) throw new InputError("BAD_APP_ID", `app id must be 20 bytes, got ${appId.length}`);
  const url = `${kmsUrl.replace(/\/+$/, "")}/prpc/KMS.GetAppEnvEncryptPubKey?json`;
  const ans = (await (opts.post ?? fetchJsonPost)(url, { app_id: bytesToPlainHex(appId) }, { timeoutMs: opts.timeoutMs ?? 15_000 })) as Record<string, unknown>;
  if (typeof ans !== "object" || ans === null) throw new NetworkError("KMS_BAD_ANSWER", `${url}: answer is not a JSON object`);
  if (typeof ans.signature_v1 !== "string" || ans.signature_v1 === "") {
    throw new NetworkError("KMS_NO_SIGNATURE_V1", `${url}: the KMS returned no signature_v1 (it predates timestamped env-key signatures, dstack f8d2bac5); liveness needs it`);
  }
  const ts = ans.timestamp;
  if (!(typeof ts === "number" && Number.isSafeInteger(ts) && ts >= 0) && !(typeof ts === "string" && /^\d+$/.test(ts))) {
    throw new NetworkError("KMS_BAD_ANSWER", `${url}: timestamp is missing or not a whole number`);
  }
  try {
    return {
      publicKey: decodeBytesField(String(ans.public_key), "public_key", 32),
      timestamp: BigInt(ts),
      signatureV1: decodeBytesField(ans.signature_v1, "signature_v1", 65),
      ...(typeof ans.signature === "string" && ans.signature ? { signature: decodeBytesField(ans.signature, "signature", 65) } : {}),
    };
  } catch (e) {
    throw new NetworkError("KMS_BAD_ANSWER", `${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Blocks per liveness epoch (contract constant `LIVENESS_EPOCH_BLOCKS`). */
export const LIVENESS_EPOCH_BLOCKS = 128n;

/** The liveness epoch of a block: blockNumber / LIVENESS_EPOCH_BLOCKS. */
export function livenessEpochOf(blockNumber: bigint): bigint {
  return blockNumber / LIVENESS_EPOCH_BLOCKS;
}

/** The block whose hash anchors `epoch`: the last block before it (the genesis block for epoch 0). */
export function livenessAnchorBlock(epoch: bigint): bigint {
  return epoch === 0n ? 0n : epoch * LIVENESS_EPOCH_BLOCKS - 1n;
}

/**
 * The registry's liveness challenge computed off chain:
 * bytes20(keccak256(abi.encode(chainId, registry, kms, nonce, epoch, anchorHash))), lower-case hex.
 */
export function livenessChallengeFor(p: { chainId: number | bigint; registry: Hex; kms: Hex; nonce: bigint; epoch: bigint; anchorHash: Hex }): Hex {
  const encoded = encodeAbiParameters(
    [{ type: "uint256" }, { type: "address" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }, { type: "bytes32" }],
    [BigInt(p.chainId), getAddress(p.registry), getAddress(p.kms), p.nonce, p.epoch, p.anchorHash],
  );
  return slice(keccak256(encoded), 0, 20).toLowerCase() as Hex;
}

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

/**
 * Read the current liveness epoch and the challenge for it (both at one block), ask the live KMS to sign
 * the challenge, check the signer off chain (a clear error instead of a revert when the URL serves another
 * KMS), and submit `proveLiveness` for that epoch.
 */
export async function proveLiveness(opts: {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  registry: Hex;
  kms: Hex;
  kmsUrl: string;
  post?: JsonPost;
  confirmations?: number;
  onProgress?: (stage: "challenge" | "sign" | "send" | "wait", detail: string) => void;
}): Promise<LivenessResult> {
  const progress = opts.onProgress ?? (() => {});
  const { publicClient, walletClient, registry } = opts;
  const kms = getAddress(opts.kms) as Hex;
  const registered = await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] });
  if (!registered) throw new VerificationError("KMS_NOT_REGISTERED", `KMS ${kms} is not registered (or is revoked) on ${registry}`);
  // one block for both reads, so the challenge belongs to the epoch that is sent with the proof
  const blockNumber = await publicClient.getBlockNumber({ cacheTime: 0 });
  const epoch = await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "livenessEpoch", blockNumber });
  const challenge = (await publicClient.readContract({
    address: registry,
    abi: kmsRegistryAbi,
    functionName: "livenessChallengeAt",
    args: [kms, epoch],
    blockNumber,
  })) as Hex;
  progress("challenge", `challenge app id ${challenge} for epoch ${epoch} (block ${blockNumber})`);
  const appId = decodeBytesField(challenge, "challenge", 20);
  const ans = await getAppEnvEncryptPubKey(opts.kmsUrl, appId, { post: opts.post });
  const signer = recoverAddress(envEncryptMessageV1(appId, ans.timestamp, ans.publicKey), ans.signatureV1);
  if (!signer) throw new VerificationError("LIVENESS_BAD_SIGNATURE", `the KMS at ${opts.kmsUrl} returned a signature_v1 that does not recover`);
  if (signer.toLowerCase() !== kms.toLowerCase()) {
    throw new VerificationError("LIVENESS_WRONG_KMS", `the KMS at ${opts.kmsUrl} signed with ${getAddress(signer)}, not with the registered KMS ${kms}`);
  }
  progress("sign", `KMS signed the challenge at timestamp ${ans.timestamp}`);
  const args = [kms, epoch, bytesToHex(ans.publicKey), ans.timestamp, bytesToHex(ans.signatureV1)] as const;
  let hash: Hex;
  try {
    const { request } = await publicClient.simulateContract({
      address: registry,
      abi: kmsRegistryAbi,
      functionName: "proveLiveness",
      args,
      account: walletClient.account,
    });
    hash = await walletClient.writeContract(request);
  } catch (e) {
    throw new VerificationError("LIVENESS_REJECTED", `the registry rejected proveLiveness: ${revertReason(e)}`, { cause: e });
  }
  progress("send", `sent ${hash}`);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations ?? 1, pollingInterval: publicClient.pollingInterval });
  if (receipt.status !== "success") throw new VerificationError("LIVENESS_REVERTED", `proveLiveness transaction ${hash} reverted`);
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  const [proven] = parseEventLogs({ abi: kmsRegistryAbi, eventName: "KmsLivenessProven", logs: receipt.logs });
  return {
    kms,
    appId: challenge.toLowerCase() as Hex,
    epoch,
    timestamp: ans.timestamp,
    txHash: hash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    ...(proven ? { nonce: proven.args.nonce } : {}),
  };
}

/** `GET <kms>/prpc/KMS.GetMeta` → the live root k256 public key (33 bytes), through the KMS client. */
export async function getKmsK256Pubkey(kmsUrl: string, opts: { timeoutMs?: number } = {}): Promise<Uint8Array> {
  const { getMeta } = await import("../kms/client.js");
  const { meta, url } = await getMeta(kmsUrl, { timeoutMs: opts.timeoutMs ?? 15_000 });
  if (typeof meta.k256_pubkey !== "string") throw new NetworkError("KMS_BAD_ANSWER", `KMS ${url}: GetMeta has no k256_pubkey`);
  const pub = decodeBytesField(meta.k256_pubkey, "k256_pubkey", 33);
  if (pub.length !== 33) throw new NetworkError("KMS_BAD_ANSWER", `KMS ${url}: k256_pubkey is ${pub.length} bytes, expected 33`);
  return pub;
}
