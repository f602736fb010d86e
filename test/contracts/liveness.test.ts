import { network } from "hardhat";
import { encodeAbiParameters, getAddress, keccak256 as viemKeccak, slice, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";

import { hexToBytes, type Hex } from "../../src/core/bytes.js";
import { decodeRegistryLogs } from "../../src/registry/client.js";
import {
  LIVENESS_EPOCH_BLOCKS,
  LIVENESS_MAX_AGE,
  LIVENESS_MAX_FUTURE,
  livenessAnchorBlock,
  livenessChallengeFor,
  livenessEpochOf,
} from "../../src/registry/liveness.js";
import { envEncryptMessageV1, signMessage } from "../../src/dstack/signatures.js";
import { expectRevert, hex, newKms } from "./helpers.js";

const { viem, networkHelpers } = await network.connect();
const publicClient = await viem.getPublicClient();
const [adminWallet, otherWallet] = await viem.getWalletClients();
const registry = await viem.deployContract("KmsRegistry", [adminWallet!.account.address, zeroAddress]);
const chainId = await publicClient.getChainId();
const E = LIVENESS_EPOCH_BLOCKS;

async function setup() {
  const k = newKms();
  await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
  return k;
}

/** What a live KMS answers to GetAppEnvEncryptPubKey(app_id = challenge): signature_v1 over message C. */
function kmsAnswer(k256PrivateKey: Uint8Array, challenge: `0x${string}`, timestamp: bigint) {
  const publicKey = new Uint8Array(32).fill(0x5a);
  const signature = signMessage(envEncryptMessageV1(hexToBytes(challenge), timestamp, publicKey), k256PrivateKey);
  return { publicKey: hex(publicKey), signature: hex(signature) };
}

async function now(): Promise<bigint> {
  return (await publicClient.getBlock()).timestamp;
}

/** Mines empty blocks (1 s apart) until the latest block is `target`: the next transaction lands in `target + 1`. */
async function mineTo(target: bigint): Promise<void> {
  const latest = await publicClient.getBlockNumber();
  expect(target >= latest, `cannot mine back to ${target} from ${latest}`).toBe(true);
  if (target > latest) await networkHelpers.mine(target - latest);
}

/** Mines to the first block of the next epoch (so an epoch's worth of blocks lies ahead); returns that epoch. */
async function startNextEpoch(): Promise<bigint> {
  const next = livenessEpochOf(await publicClient.getBlockNumber()) + 1n;
  await mineTo(next * E);
  return next;
}

async function anchorHash(epoch: bigint): Promise<Hex> {
  return (await publicClient.getBlock({ blockNumber: livenessAnchorBlock(epoch) })).hash;
}

describe("liveness: challenge and proof through the KMS's env-encrypt signature", () => {
  it("an epoch is 128 blocks; livenessEpoch() is block.number / 128 and turns over at the epoch's first block", async () => {
    expect(await registry.read.LIVENESS_EPOCH_BLOCKS()).toBe(E);
    expect(E).toBe(128n);
    const epoch = await startNextEpoch();
    expect(await registry.read.livenessEpoch()).toBe(epoch);
    await mineTo(epoch * E + E - 1n);
    expect(await registry.read.livenessEpoch()).toBe(epoch);
    await mineTo((epoch + 1n) * E);
    expect(await registry.read.livenessEpoch()).toBe(epoch + 1n);
    expect(livenessAnchorBlock(epoch)).toBe(epoch * E - 1n);
    expect(livenessAnchorBlock(0n)).toBe(0n);
  });

  it("the challenge is bytes20(keccak256(abi.encode(chainid, registry, kms, nonce, epoch, anchor block hash))) and changes with each proof", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    const expected = async (nonce: bigint, e: bigint = epoch) =>
      livenessChallengeFor({ chainId, registry: registry.address, kms: k.address, nonce, epoch: e, anchorHash: await anchorHash(e) });
    // the off-chain helper is the plain ABI encoding
    const manual = slice(
      viemKeccak(
        encodeAbiParameters(
          [{ type: "uint256" }, { type: "address" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }, { type: "bytes32" }],
          [BigInt(chainId), registry.address, getAddress(k.address), 0n, epoch, await anchorHash(epoch)],
        ),
      ),
      0,
      20,
    );
    expect(await expected(0n)).toBe(manual);
    expect(await registry.read.nonce([k.address])).toBe(0n);
    const c0 = await registry.read.livenessChallenge([k.address]);
    expect(c0).toBe(await expected(0n));
    expect(await registry.read.livenessChallengeAt([k.address, epoch])).toBe(c0);
    // the previous epoch's challenge is the same formula over the previous anchor
    expect(await registry.read.livenessChallengeAt([k.address, epoch - 1n])).toBe(await expected(0n, epoch - 1n));

    const ts = await now();
    const ans = kmsAnswer(k.k256PrivateKey, c0, ts);
    // anyone may submit the proof
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    const hash = await asOther.write.proveLiveness([k.address, epoch, ans.publicKey, ts, ans.signature]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const events = decodeRegistryLogs(receipt.logs);
    expect(events.map((e) => [e.eventName, e.args])).toEqual([["KmsLivenessProven", { kms: getAddress(k.address), timestamp: ts, nonce: 0n }]]);
    expect(await registry.read.nonce([k.address])).toBe(1n);
    expect((await registry.read.kmsInfo([k.address])).livenessNonce).toBe(1);
    const c1 = await registry.read.livenessChallenge([k.address]);
    expect(c1).toBe(await expected(1n));
    expect(c1).not.toBe(c0);

    // replaying the old answer (old nonce) is refused
    expect(await expectRevert(registry.write.proveLiveness([k.address, epoch, ans.publicKey, ts, ans.signature]), "InvalidLivenessSignature")).toEqual([
      getAddress(k.address),
    ]);
    // a fresh answer to the new challenge works
    const ans1 = kmsAnswer(k.k256PrivateKey, c1, ts);
    await registry.write.proveLiveness([k.address, epoch, ans1.publicKey, ts, ans1.signature]);
    expect(await registry.read.nonce([k.address])).toBe(2n);

    // re-attestation keeps the nonce, so answers to earlier challenges stay spent
    await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(await registry.read.nonce([k.address])).toBe(2n);
    expect(await registry.read.livenessChallenge([k.address])).toBe(await expected(2n));
    await expectRevert(registry.write.proveLiveness([k.address, epoch, ans.publicKey, ts, ans.signature]), "InvalidLivenessSignature");

    // same nonce, next epoch: a new challenge (over the new anchor)
    await mineTo((epoch + 1n) * E);
    const next = await registry.read.livenessChallenge([k.address]);
    expect(next).toBe(await expected(2n, epoch + 1n));
    expect(next).not.toBe(await expected(2n));
  });

  it("an answer for the current epoch lands, and one for the previous epoch still lands in the next epoch's last block", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    // current epoch: read, sign, submit
    const c = await registry.read.livenessChallengeAt([k.address, epoch]);
    const t0 = await now();
    const a = kmsAnswer(k.k256PrivateKey, c, t0);
    const r0 = await publicClient.waitForTransactionReceipt({ hash: await registry.write.proveLiveness([k.address, epoch, a.publicKey, t0, a.signature]) });
    expect(livenessEpochOf(r0.blockNumber)).toBe(epoch);

    // an answer made at the start of this epoch, submitted in the very last block of the next one: 256
    // blocks after the anchor, the furthest `blockhash` reaches
    const c1 = await registry.read.livenessChallenge([k.address]);
    const t1 = await now();
    const b = kmsAnswer(k.k256PrivateKey, c1, t1);
    await mineTo((epoch + 2n) * E - 2n);
    const r1 = await publicClient.waitForTransactionReceipt({ hash: await registry.write.proveLiveness([k.address, epoch, b.publicKey, t1, b.signature]) });
    expect(r1.blockNumber).toBe((epoch + 2n) * E - 1n);
    expect(r1.blockNumber - livenessAnchorBlock(epoch)).toBe(256n);
    expect(decodeRegistryLogs(r1.logs).map((e) => e.args)).toEqual([{ kms: getAddress(k.address), timestamp: t1, nonce: 1n }]);
    expect(await registry.read.nonce([k.address])).toBe(2n);
  });

  it("an answer for an epoch older than the previous one is refused, even inside the timestamp window", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    const c = await registry.read.livenessChallenge([k.address]);
    const t0 = await now();
    const a = kmsAnswer(k.k256PrivateKey, c, t0);
    // first block of epoch + 2: ~256 s later, so the timestamp alone would still pass
    await mineTo((epoch + 2n) * E - 1n);
    expect((await now()) - t0).toBeLessThan(BigInt(LIVENESS_MAX_AGE));
    expect(await expectRevert(registry.write.proveLiveness([k.address, epoch, a.publicKey, t0, a.signature]), "LivenessEpochTooOld")).toEqual([epoch, epoch + 2n]);
    // views run in the latest block (still epoch + 1): the challenge is readable until that block is mined
    expect(await registry.read.livenessChallengeAt([k.address, epoch])).toBe(c);
    await networkHelpers.mine();
    expect(await expectRevert(registry.read.livenessChallengeAt([k.address, epoch]), "LivenessEpochTooOld")).toEqual([epoch, epoch + 2n]);
    // relabelling it with a current epoch does not help: the challenge is another one
    await expectRevert(registry.write.proveLiveness([k.address, epoch + 2n, a.publicKey, t0, a.signature]), "InvalidLivenessSignature");
    expect(await registry.read.nonce([k.address])).toBe(0n);
  });

  it("an answer pre-computed for a future epoch is refused, before and after that epoch starts", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    // the attacker's best guess for epoch + 1: everything but its anchor is known, take the latest block hash
    const guess = livenessChallengeFor({ chainId, registry: registry.address, kms: k.address, nonce: 0n, epoch: epoch + 1n, anchorHash: (await publicClient.getBlock()).hash });
    const t0 = await now();
    const a = kmsAnswer(k.k256PrivateKey, guess, t0);
    expect(await expectRevert(registry.write.proveLiveness([k.address, epoch + 1n, a.publicKey, t0, a.signature]), "LivenessEpochInFuture")).toEqual([epoch + 1n, epoch]);
    expect(await expectRevert(registry.read.livenessChallengeAt([k.address, epoch + 1n]), "LivenessEpochInFuture")).toEqual([epoch + 1n, epoch]);
    await expectRevert(registry.write.proveLiveness([k.address, 2n ** 256n - 1n, a.publicKey, t0, a.signature]), "LivenessEpochInFuture");
    // once epoch + 1 has started, its anchor is a block mined after the guess
    await mineTo((epoch + 1n) * E);
    await expectRevert(registry.write.proveLiveness([k.address, epoch + 1n, a.publicKey, t0, a.signature]), "InvalidLivenessSignature");
    expect(await registry.read.livenessChallenge([k.address])).not.toBe(guess);
    expect(await registry.read.nonce([k.address])).toBe(0n);
  });

  it("answers collected ahead for the next nonces (KMS clock set forward) cannot be replayed once the KMS is gone", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    const anchor = await anchorHash(epoch);
    // while the KMS is up, collect answers for nonces 0, 1, 2 of this epoch, timestamped 10 minutes ahead
    const later = (await now()) + 600n;
    const answers = [0n, 1n, 2n].map((nonce) =>
      kmsAnswer(k.k256PrivateKey, livenessChallengeFor({ chainId, registry: registry.address, kms: k.address, nonce, epoch, anchorHash: anchor }), later),
    );
    // the KMS goes down; two epochs and 10 minutes later the answers' timestamps are fresh, their epoch is not
    await mineTo((epoch + 2n) * E - 1n);
    await networkHelpers.time.setNextBlockTimestamp(later);
    for (const a of answers) {
      await expectRevert(registry.write.proveLiveness([k.address, epoch, a.publicKey, later, a.signature]), "LivenessEpochTooOld");
      await expectRevert(registry.write.proveLiveness([k.address, epoch + 2n, a.publicKey, later, a.signature]), "InvalidLivenessSignature");
    }
    expect(await registry.read.nonce([k.address])).toBe(0n);
  });

  it("enforces the timestamp window [block - 300 s, block + 60 s]", async () => {
    expect(LIVENESS_MAX_AGE).toBe(Number(await registry.read.LIVENESS_MAX_AGE()));
    expect(LIVENESS_MAX_FUTURE).toBe(Number(await registry.read.LIVENESS_MAX_FUTURE()));
    const k = await setup();
    const epoch = await startNextEpoch();
    const c = await registry.read.livenessChallenge([k.address]);
    const t0 = await now();
    // the proof transaction is mined in the next block (t0 + 1 with automine), so pin it
    const stale = t0 - 400n;
    const a = kmsAnswer(k.k256PrivateKey, c, stale);
    await networkHelpers.time.setNextBlockTimestamp(t0 + 10n);
    const args = await expectRevert(registry.write.proveLiveness([k.address, epoch, a.publicKey, stale, a.signature]), "LivenessTimestampTooOld");
    expect(args[0]).toBe(stale);

    const future = t0 + 200n;
    const f = kmsAnswer(k.k256PrivateKey, c, future);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, f.publicKey, future, f.signature]), "LivenessTimestampInFuture");

    // edges: exactly 300 s old and exactly 60 s ahead are accepted
    const t1 = (await now()) + 100n;
    await networkHelpers.time.setNextBlockTimestamp(t1);
    const old = kmsAnswer(k.k256PrivateKey, c, t1 - 300n);
    await registry.write.proveLiveness([k.address, epoch, old.publicKey, t1 - 300n, old.signature]);
    const c1 = await registry.read.livenessChallenge([k.address]);
    const t2 = t1 + 10n;
    await networkHelpers.time.setNextBlockTimestamp(t2);
    const ahead = kmsAnswer(k.k256PrivateKey, c1, t2 + 60n);
    await registry.write.proveLiveness([k.address, epoch, ahead.publicKey, t2 + 60n, ahead.signature]);
    expect(await registry.read.nonce([k.address])).toBe(2n);
    // one second beyond each edge fails
    const c2 = await registry.read.livenessChallenge([k.address]);
    const t3 = t2 + 10n;
    await networkHelpers.time.setNextBlockTimestamp(t3);
    const tooOld = kmsAnswer(k.k256PrivateKey, c2, t3 - 301n);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, tooOld.publicKey, t3 - 301n, tooOld.signature]), "LivenessTimestampTooOld");
    await networkHelpers.time.setNextBlockTimestamp(t3 + 1n);
    const tooNew = kmsAnswer(k.k256PrivateKey, c2, t3 + 62n);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, tooNew.publicKey, t3 + 62n, tooNew.signature]), "LivenessTimestampInFuture");
    // u64 max does not overflow the window arithmetic
    await expectRevert(registry.write.proveLiveness([k.address, epoch, tooNew.publicKey, 2n ** 64n - 1n, tooNew.signature]), "LivenessTimestampInFuture");
  });

  it("refuses signatures by another key, tampered fields, unknown and revoked KMSs", async () => {
    const k = await setup();
    const epoch = await startNextEpoch();
    const c = await registry.read.livenessChallenge([k.address]);
    const ts = await now();
    const impostor = newKms();
    const bad = kmsAnswer(impostor.k256PrivateKey, c, ts);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, bad.publicKey, ts, bad.signature]), "InvalidLivenessSignature");
    const good = kmsAnswer(k.k256PrivateKey, c, ts);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, hex(new Uint8Array(32)), ts, good.signature]), "InvalidLivenessSignature");
    await expectRevert(registry.write.proveLiveness([k.address, epoch, good.publicKey, ts - 1n, good.signature]), "InvalidLivenessSignature");
    await expectRevert(registry.write.proveLiveness([k.address, epoch, good.publicKey, ts, "0x1234"]), "InvalidLivenessSignature");
    // the previous epoch is accepted, but its challenge is another one
    await expectRevert(registry.write.proveLiveness([k.address, epoch - 1n, good.publicKey, ts, good.signature]), "InvalidLivenessSignature");
    // a challenge for another KMS is not transferable
    expect(await expectRevert(registry.write.proveLiveness([impostor.address, epoch, bad.publicKey, ts, bad.signature]), "KmsNotRegistered")).toEqual([
      getAddress(impostor.address),
    ]);
    await registry.write.revoke([k.address, "gone"]);
    await expectRevert(registry.write.proveLiveness([k.address, epoch, good.publicKey, ts, good.signature]), "KmsIsRevoked");
    expect(await registry.read.nonce([k.address])).toBe(0n);
  });
});
