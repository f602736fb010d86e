import { network } from "hardhat";
import { BaseError, encodeAbiParameters, getAddress, keccak256, numberToHex, zeroAddress, zeroHash } from "viem";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, concatBytes, hexToBytes, type Hex } from "../../src/core/bytes.js";
import { decodeRegistryLogs, encodeRegister, REGISTRAR_ROLE, readKms, registryContract, registryRevert } from "../../src/registry/client.js";
import {
  bindingReportData,
  expectRevert,
  hex,
  imageMeasurement,
  NEAR,
  newKms,
  REAL_QUOTE,
  toV5,
  withReportData,
} from "./helpers.js";

const { viem } = await network.connect();
const publicClient = await viem.getPublicClient();
const [adminWallet, otherWallet, thirdWallet] = await viem.getWalletClients();
const admin = adminWallet!.account.address;
const other = otherWallet!.account.address;

async function deploy() {
  return viem.deployContract("KmsRegistry", [admin, zeroAddress]);
}
type Registry = Awaited<ReturnType<typeof deploy>>;

async function registerKms(registry: Registry, k = newKms()) {
  const hash = await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return { k, receipt };
}

describe("KmsRegistry: deployment and roles", () => {
  it("gives the admin DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE", async () => {
    const registry = await deploy();
    expect(await registry.read.REGISTRAR_ROLE()).toBe(REGISTRAR_ROLE);
    expect(await registry.read.hasRole([zeroHash, admin])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, admin])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, other])).toBe(false);
    expect(await registry.read.LIVENESS_MAX_AGE()).toBe(300n);
    expect(await registry.read.LIVENESS_MAX_FUTURE()).toBe(60n);
  });

  it("roles can be renounced only by their holder (AccessControlBadConfirmation)", async () => {
    const registry = await deploy();
    await registry.write.grantRole([REGISTRAR_ROLE, other]);
    await expectRevert(registry.write.renounceRole([REGISTRAR_ROLE, other]), "AccessControlBadConfirmation");
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    await asOther.write.renounceRole([REGISTRAR_ROLE, other]);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, other])).toBe(false);
    await registry.write.revokeRole([REGISTRAR_ROLE, admin]);
    const k = newKms();
    await expectRevert(registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]), "AccessControlUnauthorizedAccount");
  });

  it("refuses the zero admin (ZeroAdmin)", async () => {
    await expectRevert(viem.deployContract("KmsRegistry", [zeroAddress, zeroAddress]), "ZeroAdmin");
  });

  it("only REGISTRAR_ROLE registers and revokes; the admin can grant the role", async () => {
    const registry = await deploy();
    const k = newKms();
    const args = [hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)] as const;
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    const errArgs = await expectRevert(asOther.write.register(args), "AccessControlUnauthorizedAccount");
    expect(errArgs).toEqual([getAddress(other), REGISTRAR_ROLE]);

    await registry.write.grantRole([REGISTRAR_ROLE, other]);
    await asOther.write.register(args);
    expect(await registry.read.isRegistered([k.address])).toBe(true);
    const info = await readKms(publicClient, registry.address, k.address);
    expect(info.registrar).toBe(getAddress(other));

    const asThird = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: thirdWallet! } });
    await expectRevert(asThird.write.revoke([k.address, "no"]), "AccessControlUnauthorizedAccount");
    await expectRevert(asThird.write.setImageAllowlistEnabled([true]), "AccessControlUnauthorizedAccount");
    await expectRevert(asOther.write.setImageAllowed([zeroHash, true]), "AccessControlUnauthorizedAccount");
    await asOther.write.revoke([k.address, "key leaked"]);
    expect(await registry.read.isRegistered([k.address])).toBe(false);

    // a registrar is not an admin: it cannot hand out roles; REGISTRAR_ROLE is administered by DEFAULT_ADMIN_ROLE
    expect(await registry.read.getRoleAdmin([REGISTRAR_ROLE])).toBe(zeroHash);
    const third = thirdWallet!.account.address;
    expect(await expectRevert(asOther.write.grantRole([REGISTRAR_ROLE, third]), "AccessControlUnauthorizedAccount")).toEqual([
      getAddress(other),
      zeroHash,
    ]);
    // the admin can take the role away again
    await registry.write.revokeRole([REGISTRAR_ROLE, other]);
    const k2 = newKms();
    await expectRevert(asOther.write.register([hex(k2.caPubkey), hex(k2.k256Pubkey), hex(k2.quote)]), "AccessControlUnauthorizedAccount");
  });
});

describe("KmsRegistry: register", () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await deploy();
  });

  it("registers a KMS with the real 5006-byte quote re-bound to fresh keys; stores the packed record; emits the whole quote", async () => {
    const { k, receipt } = await registerKms(registry);
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber });
    expect(await registry.read.isRegistered([k.address])).toBe(true);

    const info = await registryContract(registry.address, { publicClient }).readKms(k.address);
    expect(info).toEqual({
      kms: getAddress(k.address),
      registered: true,
      active: true,
      revoked: false,
      caKeyHash: keccak256(k.caPubkey),
      quoteHash: keccak256(k.quote),
      imageMeasurement: imageMeasurement(k.quote),
      registrar: getAddress(admin),
      attestedAt: Number(block.timestamp),
      livenessNonce: 0n,
      // the registrar path: no on-chain verification fields
      path: "registrar",
      intelRoot: false,
      stale: false,
      tcbStatus: null,
      fmspc: "",
      collateralExpiry: 0,
      tcbEvaluationDataNumber: 0,
      pckLeafHash: zeroHash,
    });

    const events = decodeRegistryLogs(receipt.logs);
    const reg = events.filter((e) => e.eventName === "KmsRegistered");
    expect(reg).toHaveLength(1);
    const ev = reg[0]!;
    if (ev.eventName !== "KmsRegistered") throw new Error("unreachable");
    expect(ev.args.kms).toBe(getAddress(k.address));
    expect(ev.args.quoteHash).toBe(keccak256(k.quote));
    expect(ev.args.registrar).toBe(getAddress(admin));
    expect(ev.args.caPubkey).toBe(hex(k.caPubkey));
    expect(ev.args.k256Pubkey).toBe(hex(k.k256Pubkey));
    expect(ev.args.quote).toBe(hex(k.quote));
    expect(hexToBytes(ev.args.quote!).length).toBe(5006);
  });

  it("packs the record into four storage slots: caKeyHash, quoteHash, imageMeasurement, registrar|attestedAt|revoked|nonce", async () => {
    const { k, receipt } = await registerKms(registry);
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber });
    await registry.write.revoke([k.address, "storage layout"]);
    // `_records` is the mapping at slot 1 (after AccessControl's `_roles`)
    const base = BigInt(keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [getAddress(k.address), 1n])));
    const slot = (i: bigint) => publicClient.getStorageAt({ address: registry.address, slot: numberToHex(base + i, { size: 32 }) });
    expect(await slot(0n)).toBe(keccak256(k.caPubkey));
    expect(await slot(1n)).toBe(keccak256(k.quote));
    expect(await slot(2n)).toBe(imageMeasurement(k.quote));
    const packed = BigInt((await slot(3n))!);
    expect(getAddress(numberToHex(packed & ((1n << 160n) - 1n), { size: 20 }))).toBe(getAddress(admin));
    expect((packed >> 160n) & ((1n << 40n) - 1n)).toBe(block.timestamp);
    expect((packed >> 200n) & 0xffn).toBe(1n); // revoked
    expect(packed >> 208n).toBe(0n); // liveness nonce
    expect(BigInt((await slot(4n)) ?? "0x0")).toBe(0n);
  });

  it("returns the KMS address from register (simulate)", async () => {
    const k = newKms();
    const sim = await registry.simulate.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(sim.result).toBe(getAddress(k.address));
  });

  it("accepts the NEAR AI production binding vector (docs/formats.md §2) with a quote carrying its report_data", async () => {
    const rd = await registry.read.reportDataHash([hex(NEAR.caPubkey), hex(NEAR.k256Pubkey)]);
    expect(rd).toBe(NEAR.reportDataHash);
    const quote = withReportData(REAL_QUOTE, concatBytes(hexToBytes(NEAR.reportDataHash), new Uint8Array(32)));
    await registry.write.register([hex(NEAR.caPubkey), hex(NEAR.k256Pubkey), hex(quote)]);
    expect(await registry.read.isRegistered([NEAR.address])).toBe(true);
    expect(await registry.read.kmsAddress([hex(NEAR.k256Pubkey)])).toBe(getAddress(NEAR.address));
  });

  it("accepts TDX v5 quotes with TD10 (type 2) and TD15 (type 3) bodies", async () => {
    for (const bodyType of [2, 3] as const) {
      const k = newKms();
      const quote = withReportData(toV5(REAL_QUOTE, bodyType), bindingReportData(k.caPubkey, k.k256Pubkey));
      const fields = await registry.read.quoteFields([hex(quote)]);
      expect(fields[0]).toBe(bytesToHex(bindingReportData(k.caPubkey, k.k256Pubkey).subarray(0, 32)));
      expect(fields[1]).toBe(zeroHash);
      // same measurements as the v4 original
      expect(fields[2]).toBe(imageMeasurement(REAL_QUOTE));
      await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(quote)]);
      expect((await readKms(publicClient, registry.address, k.address)).quoteHash).toBe(keccak256(quote));
    }
  });

  it("re-attestation: same CA key and a new quote updates the record and emits again", async () => {
    const { k } = await registerKms(registry);
    const first = await readKms(publicClient, registry.address, k.address);
    const quote2 = toV5(k.quote, 2);
    const rebound = withReportData(quote2, bindingReportData(k.caPubkey, k.k256Pubkey));
    const hash = await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(rebound)]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const second = await readKms(publicClient, registry.address, k.address);
    expect(second.quoteHash).toBe(keccak256(rebound));
    expect(second.quoteHash).not.toBe(first.quoteHash);
    expect(second.caKeyHash).toBe(first.caKeyHash);
    expect(second.attestedAt).toBeGreaterThanOrEqual(first.attestedAt);
    expect(decodeRegistryLogs(receipt.logs).map((e) => e.eventName)).toEqual(["KmsRegistered"]);
    const all = await registry.getEvents.KmsRegistered({ kms: k.address }, { fromBlock: 0n });
    expect(all).toHaveLength(2);
  });

  it("refuses a different CA key for the same k256 key (CaKeyMismatch)", async () => {
    const { k } = await registerKms(registry);
    const other = newKms(k.k256PrivateKey);
    expect(other.address).toBe(k.address);
    const args = await expectRevert(
      registry.write.register([hex(other.caPubkey), hex(other.k256Pubkey), hex(other.quote)]),
      "CaKeyMismatch",
    );
    expect(args).toEqual([getAddress(k.address), keccak256(k.caPubkey), keccak256(other.caPubkey)]);
  });

  it("revoke: record kept, flag set, event emitted; revoked KMS cannot re-register, be revoked again", async () => {
    const { k } = await registerKms(registry);
    const hash = await registry.write.revoke([k.address, "operator lost the CVM"]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const ev = decodeRegistryLogs(receipt.logs);
    expect(ev).toHaveLength(1);
    expect(ev[0]!.eventName).toBe("KmsRevoked");
    expect(ev[0]!.args).toEqual({ kms: getAddress(k.address), by: getAddress(admin), reason: "operator lost the CVM" });
    const info = await readKms(publicClient, registry.address, k.address);
    expect(info).toMatchObject({ registered: true, active: false, revoked: true, quoteHash: keccak256(k.quote) });
    expect(await registry.read.isRegistered([k.address])).toBe(false);
    expect(await expectRevert(registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]), "KmsIsRevoked")).toEqual([
      getAddress(k.address),
    ]);
    await expectRevert(registry.write.revoke([k.address, "again"]), "KmsIsRevoked");
  });

  it("revoking an unknown KMS fails (KmsNotRegistered)", async () => {
    expect(await expectRevert(registry.write.revoke([other, "?"]), "KmsNotRegistered")).toEqual([getAddress(other)]);
  });

  it("rejects malformed CA keys (InvalidCaPubkeyLength, InvalidCaPubkeyPrefix)", async () => {
    const k = newKms();
    expect(
      await expectRevert(registry.write.register([hex(k.caPubkey.subarray(0, 90)), hex(k.k256Pubkey), hex(k.quote)]), "InvalidCaPubkeyLength"),
    ).toEqual([90n]);
    for (const i of [0, 10, 25, 26]) {
      const bad = k.caPubkey.slice();
      bad[i]! ^= 1;
      const quote = withReportData(REAL_QUOTE, bindingReportData(bad, k.k256Pubkey));
      await expectRevert(registry.write.register([hex(bad), hex(k.k256Pubkey), hex(quote)]), "InvalidCaPubkeyPrefix");
    }
  });

  it("rejects malformed k256 keys (InvalidK256PubkeyLength, K256PubkeyNotOnCurve)", async () => {
    const k = newKms();
    const uncompressed = hexToBytes("04" + "00".repeat(64));
    expect(await expectRevert(registry.write.register([hex(k.caPubkey), hex(uncompressed), hex(k.quote)]), "InvalidK256PubkeyLength")).toEqual([
      65n,
    ]);
    // x = 5: 5³ + 7 = 132 is not a square mod p (no point with that x)
    const offCurve = concatBytes(Uint8Array.of(2), new Uint8Array(31), Uint8Array.of(5));
    await expectRevert(registry.write.register([hex(k.caPubkey), hex(offCurve), hex(k.quote)]), "K256PubkeyNotOnCurve");
    const badPrefix = k.k256Pubkey.slice();
    badPrefix[0] = 4;
    await expectRevert(registry.write.register([hex(k.caPubkey), hex(badPrefix), hex(k.quote)]), "K256PubkeyNotOnCurve");
    const xTooBig = concatBytes(Uint8Array.of(3), new Uint8Array(32).fill(0xff));
    await expectRevert(registry.write.register([hex(k.caPubkey), hex(xTooBig), hex(k.quote)]), "K256PubkeyNotOnCurve");
  });

  it("rejects quotes that are not TDX v4/v5 or are truncated", async () => {
    const k = newKms();
    const reg = (q: Uint8Array) => registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(q)]);
    expect(await expectRevert(reg(k.quote.subarray(0, 40)), "QuoteTooShort")).toEqual([40n, 54n]);
    expect(await expectRevert(reg(k.quote.subarray(0, 631)), "QuoteTooShort")).toEqual([631n, 632n]);
    const v3 = k.quote.slice();
    v3[0] = 3;
    expect(await expectRevert(reg(v3), "UnsupportedQuoteVersion")).toEqual([3]);
    const sgx = k.quote.slice();
    sgx[4] = 0;
    expect(await expectRevert(reg(sgx), "UnsupportedTeeType")).toEqual([0]);
    const v5sgx = toV5(k.quote, 2);
    v5sgx[4] = 0;
    await expectRevert(reg(v5sgx), "UnsupportedTeeType");
    const v5 = toV5(k.quote, 2);
    const v5type1 = v5.slice();
    v5type1[48] = 1;
    expect(await expectRevert(reg(v5type1), "UnsupportedQuoteBodyType")).toEqual([1]);
    expect(await expectRevert(reg(toV5(k.quote, 2, 648)), "QuoteBodySizeMismatch")).toEqual([2, 648]);
    expect(await expectRevert(reg(toV5(k.quote, 3, 584)), "QuoteBodySizeMismatch")).toEqual([3, 584]);
    const td15 = withReportData(toV5(k.quote, 3), bindingReportData(k.caPubkey, k.k256Pubkey));
    expect(await expectRevert(reg(td15.subarray(0, 701)), "QuoteTooShort")).toEqual([701n, 702n]);
    // exactly the signed region is enough
    await reg(td15.subarray(0, 702));
  });

  it("rejects a quote bound to other keys, or with non-zero report_data[32:64] (ReportDataMismatch)", async () => {
    const k = newKms();
    const expected = bytesToHex(bindingReportData(k.caPubkey, k.k256Pubkey).subarray(0, 32));
    const args = await expectRevert(registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(REAL_QUOTE)]), "ReportDataMismatch");
    expect(args[0]).toBe(expected);
    expect(args[1]).toBe(bytesToHex(REAL_QUOTE.subarray(568, 600)));
    const rd = bindingReportData(k.caPubkey, k.k256Pubkey);
    rd[63] = 1;
    const args2 = await expectRevert(
      registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(withReportData(REAL_QUOTE, rd))]),
      "ReportDataMismatch",
    );
    expect(args2).toEqual([expected, expected, bytesToHex(rd.subarray(32))]);
    // keys swapped between two KMSs
    const k2 = newKms();
    await expectRevert(registry.write.register([hex(k.caPubkey), hex(k2.k256Pubkey), hex(k.quote)]), "ReportDataMismatch");
  });
});

describe("KmsRegistry: image allowlist", () => {
  it("is off by default; when on, only allowed measurements register; can be toggled and edited", async () => {
    const registry = await deploy();
    const image = imageMeasurement(REAL_QUOTE);
    expect(await registry.read.imageAllowlistEnabled()).toBe(false);
    await registerKms(registry);

    let receipt = await publicClient.waitForTransactionReceipt({ hash: await registry.write.setImageAllowlistEnabled([true]) });
    expect(decodeRegistryLogs(receipt.logs).map((e) => [e.eventName, e.args])).toEqual([["ImageAllowlistToggled", { enabled: true }]]);
    expect(await registry.read.imageAllowlistEnabled()).toBe(true);
    const k = newKms();
    expect(await expectRevert(registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]), "ImageNotAllowed")).toEqual([image]);

    receipt = await publicClient.waitForTransactionReceipt({ hash: await registry.write.setImageAllowed([image, true]) });
    expect(decodeRegistryLogs(receipt.logs).map((e) => [e.eventName, e.args])).toEqual([
      ["ImageMeasurementSet", { imageMeasurement: image, allowed: true }],
    ]);
    expect(await registry.read.isImageAllowed([image])).toBe(true);
    await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);

    // a different image (rtmr2 changed) is still refused
    const k2 = newKms();
    const q2 = k2.quote.slice();
    q2[48 + 430]! ^= 0xff;
    const image2 = imageMeasurement(q2);
    expect(image2).not.toBe(image);
    expect(await expectRevert(registry.write.register([hex(k2.caPubkey), hex(k2.k256Pubkey), hex(q2)]), "ImageNotAllowed")).toEqual([image2]);

    await registry.write.setImageAllowed([image, false]);
    expect(await registry.read.isImageAllowed([image])).toBe(false);
    const k3 = newKms();
    await expectRevert(registry.write.register([hex(k3.caPubkey), hex(k3.k256Pubkey), hex(k3.quote)]), "ImageNotAllowed");

    await registry.write.setImageAllowlistEnabled([false]);
    await registry.write.register([hex(k2.caPubkey), hex(k2.k256Pubkey), hex(q2)]);
    expect(await registry.read.isRegistered([k2.address])).toBe(true);
  });
});

describe("KmsRegistry: hostile calldata", () => {
  /** register(bytes,bytes,bytes) calldata with the quote's length word replaced. */
  function withQuoteLength(data: Hex, length: bigint): Hex {
    const bytes = hexToBytes(data);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const quoteOffset = 4 + Number(view.getBigUint64(4 + 64 + 24)); // third head word (low 8 bytes)
    bytes.set(hexToBytes(length.toString(16).padStart(64, "0")), quoteOffset);
    return bytesToHex(bytes);
  }

  it("a quote whose length or offset points past the calldata is refused by the ABI decoder, nothing stored", async () => {
    const registry = await deploy();
    const k = newKms();
    const good = encodeRegister(k);
    const call = (data: Hex) => publicClient.call({ to: registry.address, data, account: admin });
    // sanity: the untampered calldata registers (simulated)
    expect((await call(good)).data).toBe(encodeAbiParameters([{ type: "address" }], [getAddress(k.address)]));
    // the ABI pads the 5006-byte quote to 5024 bytes, the end of the calldata: 5025 is one byte too many
    for (const len of [5025n, 6000n, 1n << 32n, (1n << 256n) - 1n]) {
      let error: unknown;
      try {
        await call(withQuoteLength(good, len));
      } catch (e) {
        error = e;
      }
      expect(error, `length ${len}`).toBeInstanceOf(BaseError);
      // not one of the registry's custom errors: the call never reached the checks
      expect(registryRevert(error)).toBeNull();
    }
    // a head offset beyond the calldata
    const badOffset = hexToBytes(good);
    badOffset.set(hexToBytes("ff".repeat(8)), 4 + 64 + 24);
    await expect(call(bytesToHex(badOffset))).rejects.toBeInstanceOf(BaseError);
    // calldata cut short inside the quote
    await expect(call(good.slice(0, good.length - 200) as Hex)).rejects.toBeInstanceOf(BaseError);
    expect(await registry.read.isRegistered([k.address])).toBe(false);
  });

  it("a huge but well-formed quote is bounded by gas only: 64 KiB of trailing data still registers", async () => {
    const registry = await deploy();
    const k = newKms();
    const big = concatBytes(k.quote, new Uint8Array(64 * 1024).fill(0xab));
    const { result } = await registry.simulate.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(big)]);
    expect(result).toBe(getAddress(k.address));
  });
});
