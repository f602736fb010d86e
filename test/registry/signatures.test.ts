import { secp256k1 } from "@noble/curves/secp256k1.js";
import { privateKeyToAddress } from "viem/accounts";
import { describe, expect, it } from "vitest";

import { bytesToHex, hexToBytes } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { deriveKey } from "../../src/dstack/kdf.js";
import {
  appKeyMessage,
  envEncryptMessage,
  envEncryptMessageV1,
  ethAddress,
  keccak256,
  keyChainMessage,
  publicKeyFromPrivate,
  recoverAddress,
  recoverPublicKey,
  signMessage,
  verifyKeyChainOffChain,
} from "../../src/dstack/signatures.js";

const h = (s: string) => hexToBytes(s);

describe("dstack signature formats (docs/formats.md §7)", () => {
  it("verifies the real KMS app-key signature from dstack's simulator", () => {
    const appId = h("5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    const appPub = h("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
    const sig = h(
      "9e618603e72d01fedb82deff6daf2d62a572becf0059eec3f89c1ab40e1f2e59" +
        "4d2a283f843f34e8f39e4cc49a612496ce67223a12ac923f8efe330346dfc6c5" +
        "00",
    );
    const kms = recoverPublicKey(appKeyMessage(appId, appPub), sig);
    expect(kms && bytesToHex(kms)).toBe("0x0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6");
    expect(ethAddress(kms!)).toBe("0xa7f6043c29f9cc1d9d6acf554c53e0c6792aaeaf");
    // and the app key in the same vector belongs to that app pubkey
    expect(bytesToHex(publicKeyFromPrivate(h("d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d")))).toBe(bytesToHex(appPub));
  });

  it("reproduces the synthetic vectors byte for byte (derivation, digests, RFC 6979 signatures)", () => {
    const root = new Uint8Array(32).fill(0x11);
    expect(bytesToHex(publicKeyFromPrivate(root))).toBe("0x034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa");
    expect(ethAddress(publicKeyFromPrivate(root))).toBe("0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a");
    const appId = new Uint8Array(20).fill(0x22);
    const appPriv = deriveKey(root, appId, "app-key");
    expect(bytesToHex(appPriv)).toBe("0x0c12f0ebe1e8a39031ea1e417388e2ba120d2125653f894b4db53359ebe681cb");
    const appPub = publicKeyFromPrivate(appPriv);
    expect(bytesToHex(appPub)).toBe("0x028bc4c15736b15843298c901dcdcea95be0d47e3adb0c9e36c3c4543d8e46f6a3");
    const a = appKeyMessage(appId, appPub);
    expect(a.length).toBe(71);
    expect(bytesToHex(keccak256(a))).toBe("0x638c895b75154cebff7b57c87f214b943cbb8b90e4cd7ef1328a2478a0e59406");
    const aSig = signMessage(a, root);
    expect(bytesToHex(aSig)).toBe(
      "0xc503d703f5fa1802eb2dcee55ba0dc7fe9bb18c8fc3aff41076d674ee3b47f4600335b7d1bdb987ab27be8167267203a55c8de8910635db3f4d3f491698cd01e00",
    );
    const key = deriveKey(appPriv, "wallet/eth");
    expect(bytesToHex(key)).toBe("0xde105aea8beb0ab474a689a43e90785de9011767285996fc6e90156d928cac6f");
    const derivedPub = publicKeyFromPrivate(key);
    const d = keyChainMessage("signing", derivedPub);
    expect(new TextDecoder().decode(d)).toBe("signing:03b486715c926c892adad2e4676e747ce0aef1d1aa8070c2a68cdc1bd0bb4cb105");
    expect(bytesToHex(keccak256(d))).toBe("0xe5b9ed194afcf7dc06c39ca5d8951e0c65f8a726a10de4a822b29bd7f3ddecca");
    const dSig = signMessage(d, appPriv);
    expect(bytesToHex(dSig)).toBe(
      "0x20c830b263f2a83b7df526cd9305016f6b868140719ef94d420a3b2536d9448027f69993ef5af49ecfed588c2d98ffac4eaa09638cb9ab2ed2233cb0e9f2946c00",
    );
    const chain = verifyKeyChainOffChain({ appId, purpose: "signing", derivedPubkey: derivedPub, derivedSignature: dSig, appSignature: aSig });
    expect(chain?.kmsAddress).toBe("0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a");
    const x = new Uint8Array(32).fill(0x33);
    expect(bytesToHex(keccak256(envEncryptMessage(appId, x)))).toBe("0xc84b959a946c65805c14030807b7c784d1a5694bccca16f80f07c0e41dfdaff6");
    expect(bytesToHex(keccak256(envEncryptMessageV1(appId, 1700000000, x)))).toBe(
      "0x764711b47097234c699e19aeb667f1ed42b05facf99b961c6eb981693a8153db",
    );
  });

  it("rejects high-s, bad v and malformed signatures without throwing; accepts v = 27/28", () => {
    const priv = secp256k1.utils.randomSecretKey();
    const msg = new TextEncoder().encode("hello");
    const sig = signMessage(msg, priv);
    const addr = privateKeyToAddress(bytesToHex(priv) as `0x${string}`).toLowerCase();
    expect(recoverAddress(msg, sig)).toBe(addr);
    const v27 = sig.slice();
    v27[64] = sig[64]! + 27;
    expect(recoverAddress(msg, v27)).toBe(addr);
    // high-s twin: s' = n - s, v flipped — a valid ECDSA signature we refuse on purpose
    const n = secp256k1.Point.CURVE().n;
    const s = BigInt(bytesToHex(sig.subarray(32, 64)));
    const hi = sig.slice();
    hi.set(hexToBytes((n - s).toString(16).padStart(64, "0")), 32);
    hi[64] = sig[64]! ^ 1;
    expect(recoverAddress(msg, hi)).toBeNull();
    const badV = sig.slice();
    badV[64] = 2;
    expect(recoverAddress(msg, badV)).toBeNull();
    expect(recoverAddress(msg, sig.subarray(0, 64))).toBeNull();
    expect(recoverAddress(msg, new Uint8Array(65))).toBeNull();
  });

  it("names wrong lengths in typed errors", () => {
    expect(() => appKeyMessage(new Uint8Array(19), new Uint8Array(33))).toThrow(/appId: expected 20 bytes, got 19/);
    expect(() => envEncryptMessageV1(new Uint8Array(20), -1, new Uint8Array(32))).toThrow(/timestamp out of u64 range/);
    expect(() => envEncryptMessageV1(new Uint8Array(20), 2n ** 64n, new Uint8Array(32))).toThrow(/timestamp out of u64 range/);
    for (const bad of [1.5, Number.NaN, Infinity, 2 ** 60]) {
      expect(() => envEncryptMessageV1(new Uint8Array(20), bad, new Uint8Array(32))).toThrow(InputError);
    }
    expect(() => envEncryptMessageV1(new Uint8Array(20), "1700000000" as unknown as number, new Uint8Array(32))).toThrow(InputError);
  });

  it("refuses private keys that are not secp256k1 scalars with a typed error that does not echo the key", () => {
    const n = secp256k1.Point.CURVE().n;
    for (const key of [new Uint8Array(32), hexToBytes(n.toString(16)), new Uint8Array(32).fill(0xff)]) {
      let error: unknown;
      try {
        signMessage(new Uint8Array([1]), key);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).code).toBe("BAD_PRIVATE_KEY");
      expect((error as Error).message).not.toContain(bytesToHex(key).slice(2, 10));
      expect(() => publicKeyFromPrivate(key)).toThrow(InputError);
    }
    expect(() => signMessage(new Uint8Array([1]), new Uint8Array(31))).toThrow(/privateKey: expected 32 bytes, got 31/);
  });
});
