/**
 * KmsRegistry.registerSnp on the Hardhat network: the SEV-SNP report layout read on chain (length, version,
 * report_data at 0x50, measurement at 0x90), the key binding, the role, the allowlist, platformOf and the
 * events. Reports come from a test SNP world (signed by a VCEK of a test ARK) and from real AMD-signed
 * reports (dstack's and go-sev-guest's fixtures), whose report_data read on chain must equal the one parsed
 * off chain.
 */
import { readFileSync } from "node:fs";

import { keccak_256 } from "@noble/hashes/sha3.js";
import { network } from "hardhat";
import { decodeFunctionData, getAddress, keccak256, zeroAddress } from "viem";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, hexToBytes, type Hex } from "../../src/core/bytes.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { parseSnpReport } from "../../src/dstack/platforms/sev-snp.js";
import { decodeRegistryLogs, encodeRegisterSnp, readKms, readPlatform } from "../../src/registry/client.js";
import { decodeRegistryLog } from "../../src/registry/events.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { createSnpWorld, issueVcek, makeSnpReport, type SnpVcek, type SnpWorld } from "../../src/testing/platforms/snp-world.js";
import { bindingReportData, expectRevert, hex, newKms, REAL_QUOTE, withReportData, type TestKms } from "./helpers.js";

const { viem } = await network.connect();
const publicClient = await viem.getPublicClient();
const [adminWallet, otherWallet] = await viem.getWalletClients();
const admin = adminWallet!.account.address;
const other = otherWallet!.account.address;

const fixture = (dir: string, name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url)));

let world: SnpWorld;
let vcek: SnpVcek;
const MEASUREMENT = new Uint8Array(48).map((_, i) => 0x30 + i);

beforeAll(() => {
  world = createSnpWorld({ now: Math.floor(Date.now() / 1000) });
  vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(0xc1), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
});

async function deploy() {
  return viem.deployContract("KmsRegistry", [admin, zeroAddress]);
}

/** A KMS identity with an SNP report binding its keys. */
function snpKms(o: { version?: number; measurement?: Uint8Array } = {}): TestKms & { report: Uint8Array } {
  const k = newKms();
  const report = makeSnpReport(world, vcek, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey), measurement: o.measurement ?? MEASUREMENT, ...(o.version ? { version: o.version } : {}) });
  return { ...k, report };
}

const snpArgs = (k: TestKms & { report: Uint8Array }) => [hex(k.caPubkey), hex(k.k256Pubkey), hex(k.report), hex(vcek.der), bytesToHex(new TextEncoder().encode(world.certChainPem)), "0x"] as const;

describe("KmsRegistry.registerSnp", () => {
  it("registers an SNP KMS whose report_data binds its keys: the record, platformOf = 1, KmsRegistered with the raw report, KmsSnpEvidencePublished with the VCEK and AMD chain", async () => {
    const registry = await deploy();
    const k = snpKms();
    const args = snpArgs(k);
    const hash = await registry.write.registerSnp(args);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    expect(await registry.read.isRegistered([k.address])).toBe(true);
    const info = await readKms(publicClient, registry.address, k.address);
    expect(info.quoteHash).toBe(keccak256(k.report));
    expect(info.caKeyHash).toBe(keccak256(k.caPubkey));
    expect(info.imageMeasurement).toBe(bytesToHex(keccak_256(MEASUREMENT)));
    expect(info.path).toBe("registrar");
    expect(info.registrar).toBe(getAddress(admin));
    expect(await registry.read.platformOf([k.address])).toBe(1);
    expect(await readPlatform(publicClient, registry.address, k.address)).toBe("sev-snp");

    const logs = decodeRegistryLogs(receipt.logs);
    expect(logs.map((l) => l.eventName)).toEqual(["KmsRegistered", "KmsSnpEvidencePublished"]);
    const [reg, ev] = logs as unknown as [{ args: Record<string, unknown> }, { args: Record<string, unknown> }];
    expect(reg.args).toEqual({ kms: getAddress(k.address), quoteHash: keccak256(k.report), registrar: getAddress(admin), caPubkey: args[0], k256Pubkey: args[1], quote: args[2] });
    expect(ev.args).toEqual({ kms: getAddress(k.address), quoteHash: keccak256(k.report), vcek: args[3], amdChain: args[4] });
    // the audit's decoder
    const raw = receipt.logs[1]!;
    const decoded = decodeRegistryLog({ ...raw, blockNumber: `0x${raw.blockNumber.toString(16)}`, logIndex: `0x${raw.logIndex.toString(16)}` } as never);
    expect(decoded).toMatchObject({ kind: "snp-evidence", kms: getAddress(k.address), quoteHash: keccak256(k.report), vcek: args[3].toLowerCase(), amdChain: args[4].toLowerCase() });
  });

  it("encodeRegisterSnp round-trips through the ABI", () => {
    const k = snpKms();
    const args = snpArgs(k);
    const data = encodeRegisterSnp({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, report: k.report, vcek: vcek.der, amdChain: args[4] });
    const d = decodeFunctionData({ abi: kmsRegistryAbi, data });
    expect(d.functionName).toBe("registerSnp");
    expect(d.args).toEqual([...args]);
  });

  it("refuses a report whose report_data does not bind the submitted keys (ReportDataMismatch), and a non-zero second half", async () => {
    const registry = await deploy();
    const k = snpKms();
    const stranger = newKms();
    const args = snpArgs(k);
    const errArgs = await expectRevert(registry.write.registerSnp([hex(stranger.caPubkey), hex(stranger.k256Pubkey), args[2], args[3], args[4], "0x"]), "ReportDataMismatch");
    expect(errArgs[0]).toBe(await registry.read.reportDataHash([hex(stranger.caPubkey), hex(stranger.k256Pubkey)]));
    expect(errArgs[1]).toBe(bytesToHex(bindingReportData(k.caPubkey, k.k256Pubkey).subarray(0, 32)));
    const rd = bindingReportData(k.caPubkey, k.k256Pubkey);
    rd[63] = 1;
    const low = makeSnpReport(world, vcek, { reportData: rd });
    const e2 = await expectRevert(registry.write.registerSnp([args[0], args[1], hex(low), args[3], args[4], "0x"]), "ReportDataMismatch");
    expect(e2[2]).toBe(bytesToHex(rd.subarray(32)));
    expect(await registry.read.isRegistered([k.address])).toBe(false);
  });

  it("refuses a truncated or oversized report (SnpReportLengthMismatch) versions outside 2–5 (UnsupportedSnpReportVersion) and signature algorithms other than 1 (UnsupportedSnpSignatureAlgorithm); reads versions 2 and 5", async () => {
    const registry = await deploy();
    const k = snpKms();
    const args = snpArgs(k);
    for (const bad of [k.report.subarray(0, 1183), new Uint8Array([...k.report, 0]), new Uint8Array(0), k.report.subarray(0, 0x50)]) {
      const e = await expectRevert(registry.write.registerSnp([args[0], args[1], hex(bad), args[3], args[4], "0x"]), "SnpReportLengthMismatch");
      expect(e).toEqual([BigInt(bad.length), 1184n]);
    }
    for (const version of [0, 1, 6, 0x01000002]) {
      const r = k.report.slice();
      new DataView(r.buffer).setUint32(0, version, true);
      const e = await expectRevert(registry.write.registerSnp([args[0], args[1], hex(r), args[3], args[4], "0x"]), "UnsupportedSnpReportVersion");
      expect(e).toEqual([version]);
      await expectRevert(registry.read.snpReportFields([hex(r)]), "UnsupportedSnpReportVersion");
    }
    // a signature algorithm other than 1 (ECDSA P-384 with SHA-384)
    for (const algorithm of [0, 2, 0x01000001]) {
      const r = k.report.slice();
      new DataView(r.buffer).setUint32(0x34, algorithm, true);
      expect(await expectRevert(registry.write.registerSnp([args[0], args[1], hex(r), args[3], args[4], "0x"]), "UnsupportedSnpSignatureAlgorithm")).toEqual([algorithm]);
    }
    for (const version of [2, 5]) {
      const v = snpKms({ version });
      const [high, low, image] = await registry.read.snpReportFields([hex(v.report)]);
      expect(high).toBe(bytesToHex(v.report.subarray(0x50, 0x70)));
      expect(low).toBe(bytesToHex(v.report.subarray(0x70, 0x90)));
      expect(image).toBe(bytesToHex(keccak_256(v.report.subarray(0x90, 0xc0))));
      await registry.write.registerSnp(snpArgs(v));
      expect(await registry.read.isRegistered([v.address])).toBe(true);
    }
  });

  it("needs REGISTRAR_ROLE (AccessControlUnauthorizedAccount) and checks the keys like register", async () => {
    const registry = await deploy();
    const k = snpKms();
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    const e = await expectRevert(asOther.write.registerSnp(snpArgs(k)), "AccessControlUnauthorizedAccount");
    expect(e).toEqual([getAddress(other), await registry.read.REGISTRAR_ROLE()]);
    const args = snpArgs(k);
    await expectRevert(registry.write.registerSnp([hex(k.caPubkey.subarray(1)), args[1], args[2], args[3], args[4], "0x"]), "InvalidCaPubkeyLength");
    await expectRevert(registry.write.registerSnp([args[0], hex(k.k256Pubkey.subarray(1)), args[2], args[3], args[4], "0x"]), "InvalidK256PubkeyLength");
  });

  it("enforces the image allowlist with keccak256(measurement) (ImageNotAllowed) and the revocation", async () => {
    const registry = await deploy();
    const k = snpKms();
    const image = bytesToHex(keccak_256(MEASUREMENT));
    await registry.write.setImageAllowlistEnabled([true]);
    expect(await expectRevert(registry.write.registerSnp(snpArgs(k)), "ImageNotAllowed")).toEqual([image]);
    await registry.write.setImageAllowed([image, true]);
    await registry.write.registerSnp(snpArgs(k));
    await registry.write.revoke([k.address, "test"]);
    await expectRevert(registry.write.registerSnp(snpArgs(k)), "KmsIsRevoked");
  });

  it("platformOf follows the latest attestation: 0 for TDX and unknown KMSs, 1 after registerSnp, 0 again after a TDX re-attestation with the same keys", async () => {
    const registry = await deploy();
    const tdx = newKms();
    await registry.write.register([hex(tdx.caPubkey), hex(tdx.k256Pubkey), hex(tdx.quote)]);
    expect(await registry.read.platformOf([tdx.address])).toBe(0);
    expect(await registry.read.platformOf([newKms().address])).toBe(0);
    const k = snpKms();
    await registry.write.registerSnp(snpArgs(k));
    expect(await registry.read.platformOf([k.address])).toBe(1);
    // the same keys in a TDX quote
    const quote = withReportData(REAL_QUOTE, bindingReportData(k.caPubkey, k.k256Pubkey));
    await registry.write.register([hex(k.caPubkey), hex(k.k256Pubkey), hex(quote)]);
    expect(await registry.read.platformOf([k.address])).toBe(0);
    expect(await readPlatform(publicClient, registry.address, k.address)).toBe("tdx");
    await registry.write.registerSnp(snpArgs(k));
    expect(await registry.read.platformOf([k.address])).toBe(1);
  });
});

describe("KmsRegistry.snpReportFields on real AMD-signed reports", () => {
  it("dstack's SEV-SNP attestation (version 3, Milan): report_data and measurement read on chain equal the off-chain parse", async () => {
    const registry = await deploy();
    const att = decodeDstackAttestation(fixture("dstack", "dstack-sev-snp-attestation-v0.bin"));
    expect(att.platform).toBe("sev-snp");
    const parsed = parseSnpReport(att.evidence);
    expect(parsed.version).toBe(3);
    const [high, low, image] = await registry.read.snpReportFields([hex(att.evidence)]);
    expect(`${high}${low.slice(2)}`).toBe(bytesToHex(parsed.reportData));
    expect(Buffer.from(hexToBytes(high)).subarray(0, 24).toString()).toBe("attest-test-fixture-2026");
    expect(image).toBe(bytesToHex(keccak_256(hexToBytes(parsed.measurement))));
    // its report_data binds no KMS keys: registerSnp refuses it
    const k = newKms();
    const e = await expectRevert(registry.write.registerSnp([hex(k.caPubkey), hex(k.k256Pubkey), hex(att.evidence), "0x", "0x", "0x"]), "ReportDataMismatch");
    expect(e[1]).toBe(high);
  });

  it("go-sev-guest's version 2 Milan report: report_data 0102030405 then zeros", async () => {
    const registry = await deploy();
    const report = fixture("sev-snp", "go-sev-guest-report-v2-milan.bin");
    const [high, low, image] = await registry.read.snpReportFields([hex(report)]);
    expect(high).toBe(`0x0102030405${"0".repeat(54)}` as Hex);
    expect(low).toBe(`0x${"0".repeat(64)}`);
    expect(`${high}${low.slice(2)}`).toBe(bytesToHex(parseSnpReport(report).reportData));
    expect(image).toBe(bytesToHex(keccak_256(hexToBytes(parseSnpReport(report).measurement))));
  });
});
