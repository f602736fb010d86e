import { secp256k1 } from "@noble/curves/secp256k1.js";
import { network } from "hardhat";
import { getAddress, zeroAddress } from "viem";
import { publicKeyToAddress } from "viem/accounts";
import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { kmsAddressFromPubkey } from "../../src/registry/client.js";
import { expectRevert, hex } from "./helpers.js";

const { viem } = await network.connect();
const [adminWallet] = await viem.getWalletClients();
const registry = await viem.deployContract("KmsRegistry", [adminWallet!.account.address, zeroAddress]);

const KEYS = 2000;

describe("kmsAddress: on-chain decompression agrees with viem's publicKeyToAddress", () => {
  it(`for ${KEYS} random keys, compressed (modexp square root, both parities) and uncompressed`, async () => {
    const points = Array.from({ length: KEYS }, () => secp256k1.Point.fromBytes(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)));
    const parities = new Set<number>();
    const BATCH = 250;
    for (let i = 0; i < points.length; i += BATCH) {
      const chunk = points.slice(i, i + BATCH);
      const results = await Promise.all(
        chunk.flatMap((p) => {
          const c = p.toBytes(true);
          parities.add(c[0]!);
          return [registry.read.kmsAddress([hex(c)]), registry.read.kmsAddress([hex(p.toBytes(false))])];
        }),
      );
      chunk.forEach((p, j) => {
        const expected = publicKeyToAddress(bytesToHex(p.toBytes(false)));
        expect(results[2 * j]).toBe(expected);
        expect(results[2 * j + 1]).toBe(expected);
        expect(kmsAddressFromPubkey(p.toBytes(true))).toBe(expected);
      });
    }
    expect([...parities].sort()).toEqual([2, 3]);
  });

  it("edge keys: generator, -G, small and large x", async () => {
    const G = secp256k1.Point.BASE;
    for (const p of [G, G.negate(), G.multiply(2n), G.multiply(secp256k1.Point.CURVE().n - 1n)]) {
      expect(await registry.read.kmsAddress([hex(p.toBytes(true))])).toBe(publicKeyToAddress(bytesToHex(p.toBytes(false))));
    }
    // x = 1: 1 + 7 = 8 is a square mod p (smallest valid x)
    const x1 = secp256k1.Point.fromBytes(Uint8Array.from([2, ...new Uint8Array(31), 1]));
    expect(await registry.read.kmsAddress([hex(x1.toBytes(true))])).toBe(getAddress(kmsAddressFromPubkey(x1.toBytes(true))));
  });

  it("rejects keys that are not on the curve or have the wrong length", async () => {
    const p = secp256k1.Point.fromBytes(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false));
    const u = p.toBytes(false);
    const offCurve = u.slice();
    offCurve[64]! ^= 1;
    await expectRevert(registry.read.kmsAddress([hex(offCurve)]), "K256PubkeyNotOnCurve");
    const wrongPrefix = u.slice();
    wrongPrefix[0] = 2;
    await expectRevert(registry.read.kmsAddress([hex(wrongPrefix)]), "K256PubkeyNotOnCurve");
    expect(await expectRevert(registry.read.kmsAddress([hex(u.subarray(0, 64))]), "InvalidK256PubkeyLength")).toEqual([64n]);
    expect(await expectRevert(registry.read.kmsAddress(["0x"]), "InvalidK256PubkeyLength")).toEqual([0n]);
    // x with no square root: x = 5
    await expectRevert(registry.read.kmsAddress([hex(Uint8Array.from([3, ...new Uint8Array(31), 5]))]), "K256PubkeyNotOnCurve");
    // x = p (not reduced)
    const xp = Uint8Array.from([2, ...secp256k1.Point.CURVE().p.toString(16).match(/../g)!.map((h) => parseInt(h, 16))]);
    await expectRevert(registry.read.kmsAddress([hex(xp)]), "K256PubkeyNotOnCurve");
    expect(() => kmsAddressFromPubkey(u.subarray(0, 64))).toThrow(/33 \(compressed\) or 65/);
  });
});
