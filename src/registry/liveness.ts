/**
 * The registry's liveness rules, computed off chain. Time is cut into epochs of `LIVENESS_EPOCH_BLOCKS`
 * blocks; the challenge of a KMS for an epoch is bound to the chain, the registry, the KMS, its liveness
 * nonce, the epoch and the hash of the block just before the epoch (its anchor), so no answer can be
 * collected before the epoch starts. A proof carries a timestamp that may lag the block by at most
 * `LIVENESS_MAX_AGE` seconds and lead it by at most `LIVENESS_MAX_FUTURE`.
 */
import { encodeAbiParameters, getAddress, keccak256, slice, type Chain, type PublicClient, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { kmsRegistryAbi } from "./generated/abi.js";

/** Blocks per liveness epoch (contract constant `LIVENESS_EPOCH_BLOCKS`). */
export const LIVENESS_EPOCH_BLOCKS = 128n;
/** Seconds a liveness timestamp may lag the block (contract constant `LIVENESS_MAX_AGE`). */
export const LIVENESS_MAX_AGE = 300;
/** Seconds a liveness timestamp may lead the block (contract constant `LIVENESS_MAX_FUTURE`). */
export const LIVENESS_MAX_FUTURE = 60;

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

export interface LivenessChallenge {
  /** The block both reads were made at. */
  blockNumber: bigint;
  epoch: bigint;
  /** The 20-byte challenge (used as an app id), as the registry returns it. */
  challenge: Hex;
}

/**
 * The current liveness epoch and the registry's challenge of `kms` for it, both read at one block, so that
 * the challenge belongs to the epoch a proof is sent with.
 */
export async function readLivenessChallenge(publicClient: PublicClient<Transport, Chain>, registry: Hex, kms: Hex): Promise<LivenessChallenge> {
  const blockNumber = await publicClient.getBlockNumber({ cacheTime: 0 });
  const epoch = await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "livenessEpoch", blockNumber });
  const challenge = (await publicClient.readContract({
    address: registry,
    abi: kmsRegistryAbi,
    functionName: "livenessChallengeAt",
    args: [kms, epoch],
    blockNumber,
  })) as Hex;
  return { blockNumber, epoch, challenge };
}
