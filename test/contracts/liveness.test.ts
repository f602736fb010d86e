import { network } from "hardhat";
import { encodeAbiParameters, getAddress, keccak256 as viemKeccak, slice } from "viem";
import { describe, expect, it } from "vitest";

import { hexToBytes } from "../../src/encoding/index.js";
import { decodeRegistryLogs, LIVENESS_MAX_AGE, LIVENESS_MAX_FUTURE } from "../../src/registry/client.js";
import { envEncryptMessageV1, signMessage } from "../../src/registry/signatures.js";
import { expectRevert, hex, newKms } from "./helpers.js";

const { viem, networkHelpers } = await network.connect();
const publicClient = await viem.getPublicClient();
const [adminWallet, otherWallet] = await viem.getWalletClients();
const registry = await viem.deployContract("KmsRegistry", [adminWallet!.account.address]);
const chainId = await publicClient.getChainId();

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

describe("liveness: challenge and proof through the KMS's env-encrypt signature", () => {
  it("the challenge is bytes20(keccak256(abi.encode(chainid, registry, kms, nonce))) and changes with each proof", async () => {
    const k = await setup();
    const expected = (n: bigint) =>
      slice(
        viemKeccak(
          encodeAbiParameters(
            [{ type: "uint256" }, { type: "address" }, { type: "address" }, { type: "uint256" }],
            [BigInt(chainId), registry.address, getAddress(k.address), n],
          ),
        ),
        0,
        20,
      );
    expect(await registry.read.nonce([k.address])).toBe(0n);
    const c0 = await registry.read.livenessChallenge([k.address]);
    expect(c0).toBe(expected(0n));

    const ts = await now();
    const ans = kmsAnswer(k.k256PrivateKey, c0, ts);
    // anyone may submit the proof
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    const hash = await asOther.write.proveLiveness([k.address, ans.publicKey, ts, ans.signature]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const events = decodeRegistryLogs(receipt.logs);
    expect(events.map((e) => [e.eventName, e.args])).toEqual([["KmsLivenessProven", { kms: getAddress(k.address), timestamp: ts, nonce: 0n }]]);
    expect(await registry.read.nonce([k.address])).toBe(1n);
    expect((await registry.read.kmsInfo([k.address])).livenessNonce).toBe(1);
    const c1 = await registry.read.livenessChallenge([k.address]);
    expect(c1).toBe(expected(1n));
    expect(c1).not.toBe(c0);

    // replaying the old answer (old nonce) is refused
    expect(await expectRevert(registry.write.proveLiveness([k.address, ans.publicKey, ts, ans.signature]), "InvalidLivenessSignature")).toEqual([
      getAddress(k.address),
    ]);
    // a fresh answer to the new challenge works
    const ans1 = kmsAnswer(k.k256PrivateKey, c1, ts);
    await registry.write.proveLiveness([k.address, ans1.publicKey, ts, ans1.signature]);
    expect(await registry.read.nonce([k.address])).toBe(2n);

    // re-attestation keeps the nonce, so answers to earlier challenges stay spent
    await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(await registry.read.nonce([k.address])).toBe(2n);
    expect(await registry.read.livenessChallenge([k.address])).toBe(expected(2n));
    await expectRevert(registry.write.proveLiveness([k.address, ans.publicKey, ts, ans.signature]), "InvalidLivenessSignature");
  });

  it("enforces the timestamp window [block - 300 s, block + 60 s]", async () => {
    expect(LIVENESS_MAX_AGE).toBe(Number(await registry.read.LIVENESS_MAX_AGE()));
    expect(LIVENESS_MAX_FUTURE).toBe(Number(await registry.read.LIVENESS_MAX_FUTURE()));
    const k = await setup();
    const c = await registry.read.livenessChallenge([k.address]);
    const t0 = await now();
    // the proof transaction is mined in the next block (t0 + 1 with automine), so pin it
    const stale = t0 - 400n;
    const a = kmsAnswer(k.k256PrivateKey, c, stale);
    await networkHelpers.time.setNextBlockTimestamp(t0 + 10n);
    const args = await expectRevert(registry.write.proveLiveness([k.address, a.publicKey, stale, a.signature]), "LivenessTimestampTooOld");
    expect(args[0]).toBe(stale);

    const future = t0 + 200n;
    const f = kmsAnswer(k.k256PrivateKey, c, future);
    await expectRevert(registry.write.proveLiveness([k.address, f.publicKey, future, f.signature]), "LivenessTimestampInFuture");

    // edges: exactly 300 s old and exactly 60 s ahead are accepted
    const t1 = (await now()) + 100n;
    await networkHelpers.time.setNextBlockTimestamp(t1);
    const old = kmsAnswer(k.k256PrivateKey, c, t1 - 300n);
    await registry.write.proveLiveness([k.address, old.publicKey, t1 - 300n, old.signature]);
    const c1 = await registry.read.livenessChallenge([k.address]);
    const t2 = t1 + 10n;
    await networkHelpers.time.setNextBlockTimestamp(t2);
    const ahead = kmsAnswer(k.k256PrivateKey, c1, t2 + 60n);
    await registry.write.proveLiveness([k.address, ahead.publicKey, t2 + 60n, ahead.signature]);
    expect(await registry.read.nonce([k.address])).toBe(2n);
    // one second beyond each edge fails
    const c2 = await registry.read.livenessChallenge([k.address]);
    const t3 = t2 + 10n;
    await networkHelpers.time.setNextBlockTimestamp(t3);
    const tooOld = kmsAnswer(k.k256PrivateKey, c2, t3 - 301n);
    await expectRevert(registry.write.proveLiveness([k.address, tooOld.publicKey, t3 - 301n, tooOld.signature]), "LivenessTimestampTooOld");
    await networkHelpers.time.setNextBlockTimestamp(t3 + 1n);
    const tooNew = kmsAnswer(k.k256PrivateKey, c2, t3 + 62n);
    await expectRevert(registry.write.proveLiveness([k.address, tooNew.publicKey, t3 + 62n, tooNew.signature]), "LivenessTimestampInFuture");
    // u64 max does not overflow the window arithmetic
    await expectRevert(registry.write.proveLiveness([k.address, tooNew.publicKey, 2n ** 64n - 1n, tooNew.signature]), "LivenessTimestampInFuture");
  });

  it("refuses signatures by another key, tampered fields, unknown and revoked KMSs", async () => {
    const k = await setup();
    const c = await registry.read.livenessChallenge([k.address]);
    const ts = await now();
    const impostor = newKms();
    const bad = kmsAnswer(impostor.k256PrivateKey, c, ts);
    await expectRevert(registry.write.proveLiveness([k.address, bad.publicKey, ts, bad.signature]), "InvalidLivenessSignature");
    const good = kmsAnswer(k.k256PrivateKey, c, ts);
    await expectRevert(registry.write.proveLiveness([k.address, hex(new Uint8Array(32)), ts, good.signature]), "InvalidLivenessSignature");
    await expectRevert(registry.write.proveLiveness([k.address, good.publicKey, ts - 1n, good.signature]), "InvalidLivenessSignature");
    await expectRevert(registry.write.proveLiveness([k.address, good.publicKey, ts, "0x1234"]), "InvalidLivenessSignature");
    // a challenge for another KMS is not transferable
    expect(await expectRevert(registry.write.proveLiveness([impostor.address, bad.publicKey, ts, bad.signature]), "KmsNotRegistered")).toEqual([
      getAddress(impostor.address),
    ]);
    await registry.write.revoke([k.address, "gone"]);
    await expectRevert(registry.write.proveLiveness([k.address, good.publicKey, ts, good.signature]), "KmsIsRevoked");
    expect(await registry.read.nonce([k.address])).toBe(0n);
  });
});
