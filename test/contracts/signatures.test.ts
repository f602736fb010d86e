import { secp256k1 } from "@noble/curves/secp256k1.js";
import { network } from "hardhat";
import { getAddress, zeroAddress } from "viem";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, concatBytes, hexToBytes, type Hex } from "../../src/core/bytes.js";
import { deriveKey } from "../../src/dstack/kdf.js";
import {
  appKeyMessage,
  envEncryptMessageV1,
  keccak256,
  keyChainMessage,
  publicKeyFromPrivate,
  signMessage,
} from "../../src/dstack/signatures.js";
import { bindingReportData, hex, newKms, REAL_QUOTE, REAL_VECTOR, withReportData, type TestKms } from "./helpers.js";

const { viem } = await network.connect();
const [adminWallet] = await viem.getWalletClients();
const N = secp256k1.Point.CURVE().n;

const registry = await viem.deployContract("KmsRegistry", [adminWallet!.account.address, zeroAddress]);

async function register(k: { caPubkey: Uint8Array; k256Pubkey: Uint8Array }): Promise<void> {
  const quote = withReportData(REAL_QUOTE, bindingReportData(k.caPubkey, k.k256Pubkey));
  await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(quote)]);
}

/** Signature variants that must all be rejected, plus the v = 27/28 form that must be accepted. */
function variants(sig: Uint8Array): { v27: Uint8Array; wrongV: Uint8Array; badV: Uint8Array[]; highS: Uint8Array; malformed: Uint8Array[] } {
  const v = sig[64]!;
  const v27 = sig.slice();
  v27[64] = v + 27;
  const wrongV = sig.slice();
  wrongV[64] = v ^ 1;
  const badV = [2, 26, 29, 255].map((x) => {
    const b = sig.slice();
    b[64] = x;
    return b;
  });
  // (r, n - s, v ^ 1) recovers the same key: valid maths, rejected as malleable
  const s = BigInt(bytesToHex(sig.subarray(32, 64)));
  const highS = concatBytes(sig.subarray(0, 32), hexToBytes((N - s).toString(16).padStart(64, "0")), Uint8Array.of(v ^ 1));
  const zeroR = sig.slice();
  zeroR.fill(0, 0, 32);
  const rTooBig = sig.slice();
  rTooBig.fill(0xff, 0, 32);
  const malformed = [new Uint8Array(0), sig.subarray(0, 64), concatBytes(sig, Uint8Array.of(0)), zeroR, rTooBig, new Uint8Array(65)];
  return { v27, wrongV, badV, highS, malformed };
}

describe("verify* views: the real dstack KMS vector (docs/formats.md §7)", () => {
  beforeAll(async () => {
    await register({ caPubkey: REAL_VECTOR.caPubkey, k256Pubkey: REAL_VECTOR.kmsPubkey });
  });

  it("registers the real KMS key 0321529e…85b6 at 0xa7f6…aeaf", async () => {
    expect(await registry.read.kmsAddress([hex(REAL_VECTOR.kmsPubkey)])).toBe(getAddress(REAL_VECTOR.kmsAddress));
    expect(await registry.read.isRegistered([REAL_VECTOR.kmsAddress])).toBe(true);
  });

  it("verifyAppKey accepts the real k256_signature (v = 0 and v = 27) and rejects every tampered variant", async () => {
    const { kmsAddress: kms, appId, appPubkey, signature } = REAL_VECTOR;
    const check = (sig: Uint8Array, id: Hex = appId, pub: Uint8Array = appPubkey) => registry.read.verifyAppKey([kms, id, hex(pub), hex(sig)]);
    expect(await check(signature)).toBe(true);
    const v = variants(signature);
    expect(await check(v.v27)).toBe(true);
    expect(await check(v.wrongV)).toBe(false);
    expect(await check(v.highS)).toBe(false);
    for (const b of v.badV) expect(await check(b)).toBe(false);
    for (const m of v.malformed) expect(await check(m)).toBe(false);
    // other app id / other key / wrong pubkey length
    expect(await check(signature, "0x5bb4ff9a3837357f19dc176407a5709c62eb6c57")).toBe(false);
    const otherPub = publicKeyFromPrivate(new Uint8Array(32).fill(7));
    expect(await check(signature, appId, otherPub)).toBe(false);
    expect(await check(signature, appId, appPubkey.subarray(0, 32))).toBe(false);
    // another (unregistered) KMS address
    expect(await registry.read.verifyAppKey([getAddress("0x" + "12".repeat(20)), appId, hex(appPubkey), hex(signature)])).toBe(false);
  });

  it("verifySignature checks the raw digest of message A", async () => {
    const digest = bytesToHex(keccak256(appKeyMessage(hexToBytes(REAL_VECTOR.appId), REAL_VECTOR.appPubkey)));
    expect(await registry.read.verifySignature([REAL_VECTOR.kmsAddress, digest, hex(REAL_VECTOR.signature)])).toBe(true);
    const other = bytesToHex(keccak256(new Uint8Array([1])));
    expect(await registry.read.verifySignature([REAL_VECTOR.kmsAddress, other, hex(REAL_VECTOR.signature)])).toBe(false);
  });

  it("verifyKeyChain: a GetKey chain [D by the real app key, A by the real KMS] returns the derived key's address", async () => {
    const { kmsAddress: kms, appId, appPubkey, signature: appSig, appPrivateKey } = REAL_VECTOR;
    const key = deriveKey(appPrivateKey, "wallet/eth");
    const derivedPub = publicKeyFromPrivate(key);
    const dSig = signMessage(keyChainMessage("signing", derivedPub), appPrivateKey);
    const expected = getAddress(bytesToHex(keccak256(secp256k1.Point.fromBytes(derivedPub).toBytes(false).subarray(1)).subarray(12)));
    const chain = (over: Partial<{ purpose: string; derived: Uint8Array; dSig: Uint8Array; app: Uint8Array; aSig: Uint8Array; appId: Hex }> = {}) =>
      registry.read.verifyKeyChain([
        kms,
        over.appId ?? appId,
        over.purpose ?? "signing",
        hex(over.derived ?? derivedPub),
        hex(over.dSig ?? dSig),
        hex(over.app ?? appPubkey),
        hex(over.aSig ?? appSig),
      ]);
    expect(await chain()).toBe(expected);
    // the uncompressed derived key is a different message (hex of 65 bytes): not what dstack signs
    expect(await chain({ derived: secp256k1.Point.fromBytes(derivedPub).toBytes(false) })).toBe(zeroAddress);
    expect(await chain({ purpose: "encryption" })).toBe(zeroAddress);
    expect(await chain({ appId: "0x" + "00".repeat(20) as Hex })).toBe(zeroAddress);
    expect(await chain({ dSig: variants(dSig).highS })).toBe(zeroAddress);
    expect(await chain({ dSig: variants(dSig).wrongV })).toBe(zeroAddress);
    expect(await chain({ dSig: variants(dSig).v27 })).toBe(expected);
    expect(await chain({ aSig: variants(appSig).highS })).toBe(zeroAddress);
    expect(await chain({ aSig: dSig })).toBe(zeroAddress);
    expect(await chain({ app: derivedPub })).toBe(zeroAddress);
    expect(await chain({ derived: derivedPub.subarray(0, 32) })).toBe(zeroAddress);
    expect(await chain({ derived: concatBytes(Uint8Array.of(2), new Uint8Array(31), Uint8Array.of(5)) })).toBe(zeroAddress);
    for (const m of variants(dSig).malformed) expect(await chain({ dSig: m })).toBe(zeroAddress);
  });
});

describe("verify* views: the synthetic vectors (root key 11×32)", () => {
  const root = new Uint8Array(32).fill(0x11);
  const rootPub = publicKeyFromPrivate(root);
  const appId = new Uint8Array(20).fill(0x22);
  beforeAll(async () => {
    await register({ caPubkey: newKms().caPubkey, k256Pubkey: rootPub });
  });

  it("verifies the documented A, D and C signatures", async () => {
    const kms = "0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a" as Hex;
    const appPub = hexToBytes("028bc4c15736b15843298c901dcdcea95be0d47e3adb0c9e36c3c4543d8e46f6a3");
    const aSig = hexToBytes(
      "c503d703f5fa1802eb2dcee55ba0dc7fe9bb18c8fc3aff41076d674ee3b47f4600335b7d1bdb987ab27be8167267203a55c8de8910635db3f4d3f491698cd01e00",
    );
    const derived = hexToBytes("03b486715c926c892adad2e4676e747ce0aef1d1aa8070c2a68cdc1bd0bb4cb105");
    const dSig = hexToBytes(
      "20c830b263f2a83b7df526cd9305016f6b868140719ef94d420a3b2536d9448027f69993ef5af49ecfed588c2d98ffac4eaa09638cb9ab2ed2233cb0e9f2946c00",
    );
    expect(await registry.read.verifyAppKey([kms, hex(appId), hex(appPub), hex(aSig)])).toBe(true);
    const derivedAddr = await registry.read.verifyKeyChain([kms, hex(appId), "signing", hex(derived), hex(dSig), hex(appPub), hex(aSig)]);
    expect(derivedAddr).toBe(getAddress(bytesToHex(keccak256(secp256k1.Point.fromBytes(derived).toBytes(false).subarray(1)).subarray(12))));

    const x25519 = new Uint8Array(32).fill(0x33);
    const cSig = signMessage(envEncryptMessageV1(appId, 1700000000n, x25519), root);
    expect(bytesToHex(keccak256(envEncryptMessageV1(appId, 1700000000n, x25519)))).toBe(
      "0x764711b47097234c699e19aeb667f1ed42b05facf99b961c6eb981693a8153db",
    );
    const env = (ts: bigint, sig: Uint8Array, pub = x25519) => registry.read.verifyEnvEncryptPubkey([kms, hex(appId), hex(pub), ts, hex(sig)]);
    expect(await env(1700000000n, cSig)).toBe(true);
    expect(await env(1700000001n, cSig)).toBe(false);
    expect(await env(1700000000n, cSig, new Uint8Array(32).fill(0x34))).toBe(false);
    expect(await env(1700000000n, variants(cSig).highS)).toBe(false);
    expect(await env(1700000000n, variants(cSig).wrongV)).toBe(false);
    expect(await env(1700000000n, variants(cSig).v27)).toBe(true);
    expect(await env(2n ** 64n - 1n, signMessage(envEncryptMessageV1(appId, 2n ** 64n - 1n, x25519), root))).toBe(true);
  });
});

describe("verify* views: keys and signatures generated with @noble/curves", () => {
  let k: TestKms;
  beforeAll(async () => {
    k = newKms();
    await register(k);
  });

  it("accept signatures by the KMS and reject other signers, over many random messages", async () => {
    const other = secp256k1.utils.randomSecretKey();
    for (let i = 0; i < 20; i++) {
      const appId = secp256k1.utils.randomSecretKey().subarray(0, 20);
      const appPriv = deriveKey(k.k256PrivateKey, appId, "app-key");
      const appPub = publicKeyFromPrivate(appPriv);
      const sig = signMessage(appKeyMessage(appId, appPub), k.k256PrivateKey);
      expect(await registry.read.verifyAppKey([k.address, hex(appId), hex(appPub), hex(sig)])).toBe(true);
      const forged = signMessage(appKeyMessage(appId, appPub), other);
      expect(await registry.read.verifyAppKey([k.address, hex(appId), hex(appPub), hex(forged)])).toBe(false);
      const digest = keccak256(secp256k1.utils.randomSecretKey());
      const raw = secp256k1.sign(digest, k.k256PrivateKey, { prehash: false, lowS: true, format: "recovered" });
      const rsv = concatBytes(raw.subarray(1), raw.subarray(0, 1));
      expect(await registry.read.verifySignature([k.address, hex(digest), hex(rsv)])).toBe(true);
      expect(await registry.read.verifySignature([k.address, hex(digest), hex(variants(rsv).highS)])).toBe(false);
    }
  });

  it("count only while the KMS is registered and not revoked (all four views)", async () => {
    const k2 = newKms();
    const appId = new Uint8Array(20).fill(9);
    const appPub = publicKeyFromPrivate(deriveKey(k2.k256PrivateKey, appId, "app-key"));
    const sig = signMessage(appKeyMessage(appId, appPub), k2.k256PrivateKey);
    const appPriv = deriveKey(k2.k256PrivateKey, appId, "app-key");
    const derivedPub = publicKeyFromPrivate(deriveKey(appPriv, "wallet/eth"));
    const dSig = signMessage(keyChainMessage("signing", derivedPub), appPriv);
    const x25519 = new Uint8Array(32).fill(0x44);
    const envSig = signMessage(envEncryptMessageV1(appId, 1700000000n, x25519), k2.k256PrivateKey);
    const digest = keccak256(appKeyMessage(appId, appPub));
    const all = async (kms: Hex) => [
      await registry.read.verifyAppKey([kms, hex(appId), hex(appPub), hex(sig)]),
      await registry.read.verifySignature([kms, hex(digest), hex(sig)]),
      await registry.read.verifyEnvEncryptPubkey([kms, hex(appId), hex(x25519), 1700000000n, hex(envSig)]),
      (await registry.read.verifyKeyChain([kms, hex(appId), "signing", hex(derivedPub), hex(dSig), hex(appPub), hex(sig)])) !== zeroAddress,
    ];
    // the same signatures, checked against an address that was never registered: all false
    expect(await all(k2.address)).toEqual([false, false, false, false]);
    await register(k2);
    expect(await all(k2.address)).toEqual([true, true, true, true]);
    await registry.write.revoke([k2.address, "test"]);
    expect(await all(k2.address)).toEqual([false, false, false, false]);
  });
});
