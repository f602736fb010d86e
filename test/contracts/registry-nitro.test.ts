/**
 * KmsRegistry.registerNitro on the Hardhat network: the NSM attestation document read on chain (COSE_Sign1, the
 * payload's user_data, PCR0–2 and timestamp), the key binding against user_data, the role, the allowlist with
 * sha256(PCR0 ‖ PCR1 ‖ PCR2) (dstack's os_image_hash), platformOf and the events. Documents come from a test Nitro
 * world binding freshly generated keys, and from dstack's real V0 Nitro attestation (signed under AWS's root,
 * binding keys we do not have), whose fields read on chain must equal the ones decoded off chain. Also the
 * SEV-SNP CRL published by registerSnp.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { getAddress, keccak256, stringToHex, zeroAddress } from "viem";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, type Hex } from "../../src/core/bytes.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { decodeNitroDocument } from "../../src/dstack/platforms/nitro.js";
import { nitroOsImageHash, verifyNitroDocument } from "../../src/dstack/platforms/nitro-verify.js";
import { decodeRegistryLogs, encodeRegisterNitro, readKms, readPlatform } from "../../src/registry/client.js";
import { decodeRegistryLog } from "../../src/registry/events.js";
import { encodeCbor } from "../../src/testing/platforms/cbor-encode.js";
import { createNitroWorld, makeNitroDocument, type NitroWorld } from "../../src/testing/platforms/nitro-world.js";
import { createSnpWorld, issueVcek, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { bindingReportData, expectRevert, hex, newKms, type TestKms } from "./helpers.js";

const { viem } = await network.connect();
const publicClient = await viem.getPublicClient();
const [adminWallet, otherWallet] = await viem.getWalletClients();
const admin = adminWallet!.account.address;
const other = otherWallet!.account.address;

const NOW = Math.floor(Date.now() / 1000);
let world: NitroWorld;

beforeAll(() => {
  world = createNitroWorld({ now: NOW });
});

async function deploy() {
  return viem.deployContract("KmsRegistry", [admin, zeroAddress]);
}

/** The field name of a Nitro reader error, as the contract left-aligns it in a bytes32. */
const field = (name: string): Hex => stringToHex(name, { size: 32 });

/** dstack's os_image_hash of the world's default enclave image (PCR0–2 of 0x11, 0x22, 0x33). */
const DEFAULT_IMAGE = `0x${createHash("sha256").update(Buffer.concat([0x11, 0x22, 0x33].map((b) => Buffer.alloc(48, b)))).digest("hex")}` as Hex;

/** A KMS identity with an NSM document whose user_data binds its keys. */
function nitroKms(o: { tagged?: boolean; userData?: Uint8Array | null } = {}): TestKms & { document: Uint8Array } {
  const k = newKms();
  const document = makeNitroDocument(world, { timestamp: NOW * 1000, userData: o.userData === undefined ? bindingReportData(k.caPubkey, k.k256Pubkey) : o.userData, ...(o.tagged ? { tagged: true } : {}) });
  return { ...k, document };
}

const nitroArgs = (k: TestKms & { document: Uint8Array }) => [hex(k.caPubkey), hex(k.k256Pubkey), hex(k.document)] as const;

describe("KmsRegistry.registerNitro", () => {
  it("registers a Nitro KMS whose user_data binds its keys: the record (image = os_image_hash), platformOf = 2, KmsRegistered carrying the whole document", async () => {
    const registry = await deploy();
    const k = nitroKms();
    // the document verifies off chain under the world's root (not AWS's), and binds the keys
    expect(verifyNitroDocument(k.document, { rootDer: world.rootDer, expectedUserData: bindingReportData(k.caPubkey, k.k256Pubkey) }).ok).toBe(true);
    const hash = await registry.write.registerNitro(nitroArgs(k));
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    expect(await registry.read.isRegistered([k.address])).toBe(true);
    const info = await readKms(publicClient, registry.address, k.address);
    expect(info).toMatchObject({ quoteHash: keccak256(k.document), caKeyHash: keccak256(k.caPubkey), imageMeasurement: DEFAULT_IMAGE, path: "registrar", registrar: getAddress(admin) });
    expect(info.imageMeasurement).toBe(`0x${nitroOsImageHash(decodeNitroDocument(k.document))}`);
    expect(await registry.read.platformOf([k.address])).toBe(2);
    expect(await readPlatform(publicClient, registry.address, k.address)).toBe("nitro-enclave");

    const logs = decodeRegistryLogs(receipt.logs);
    expect(logs.map((l) => l.eventName)).toEqual(["KmsRegistered"]);
    const raw = receipt.logs[0]!;
    const decoded = decodeRegistryLog({ ...raw, blockNumber: `0x${raw.blockNumber.toString(16)}`, logIndex: `0x${raw.logIndex.toString(16)}` } as never);
    expect(decoded).toMatchObject({ kind: "registered", kms: getAddress(k.address), quoteHash: keccak256(k.document), quote: hex(k.document).toLowerCase() });
  });

  it("reads a tagged (COSE tag 18) document the same way; encodeRegisterNitro round-trips", async () => {
    const registry = await deploy();
    const k = nitroKms({ tagged: true });
    expect(k.document[0]).toBe(0xd2);
    const [high, low, image, ts] = await registry.read.nitroDocumentFields([hex(k.document)]);
    expect(`${high}${low.slice(2)}`).toBe(bytesToHex(bindingReportData(k.caPubkey, k.k256Pubkey)));
    expect(image).toBe(DEFAULT_IMAGE);
    expect(ts).toBe(BigInt(NOW * 1000));
    const data = encodeRegisterNitro({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, document: k.document });
    const hash = await adminWallet!.sendTransaction({ to: registry.address, data });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    expect(await registry.read.platformOf([k.address])).toBe(2);
  });

  it("refuses a document whose user_data binds other keys (ReportDataMismatch) or has a non-zero second half", async () => {
    const registry = await deploy();
    const k = nitroKms();
    const stranger = newKms();
    const e = await expectRevert(registry.write.registerNitro([hex(stranger.caPubkey), hex(stranger.k256Pubkey), hex(k.document)]), "ReportDataMismatch");
    expect(e[0]).toBe(await registry.read.reportDataHash([hex(stranger.caPubkey), hex(stranger.k256Pubkey)]));
    expect(e[1]).toBe(bytesToHex(bindingReportData(k.caPubkey, k.k256Pubkey).subarray(0, 32)));
    const rd = bindingReportData(k.caPubkey, k.k256Pubkey);
    rd[63] = 7;
    const low = nitroKms({ userData: rd });
    const e2 = await expectRevert(registry.write.registerNitro([hex(k.caPubkey), hex(k.k256Pubkey), hex(low.document)]), "ReportDataMismatch");
    expect(e2[2]).toBe(bytesToHex(rd.subarray(32)));
    expect(await registry.read.isRegistered([k.address])).toBe(false);
  });

  it("refuses truncated and hostile documents with the reader's typed errors", async () => {
    const registry = await deploy();
    const k = nitroKms();
    const [ca, k256] = nitroArgs(k);
    const reg = (doc: Uint8Array) => registry.write.registerNitro([ca, k256, hex(doc)]);
    // every 97th prefix (and the empty one): CborTruncated, or a malformed structure where a prefix happens to end an item
    for (let n = 0; n < k.document.length; n += 97) {
      const e = await registry.read.nitroDocumentFields([hex(k.document.subarray(0, n))]).then(
        () => "accepted",
        (x: unknown) => String(x),
      );
      expect(e).toMatch(/CborTruncated|NitroDocumentMalformed/);
    }
    expect(await expectRevert(reg(k.document.subarray(0, k.document.length - 1)), "CborTruncated")).toHaveLength(1);
    // a byte after the document
    expect(await expectRevert(reg(new Uint8Array([...k.document, 0])), "NitroDocumentMalformed")).toEqual([field("COSE_Sign1")]);
    // another tag, a map instead of the array
    expect(await expectRevert(reg(new Uint8Array([0xd1, ...k.document])), "NitroDocumentMalformed")).toEqual([field("COSE_Sign1")]);
    expect(await expectRevert(reg(encodeCbor(new Map([[1, 2]]))), "NitroDocumentMalformed")).toEqual([field("COSE_Sign1")]);
    // no user_data (null, as the NSM writes an absent field), a 32-byte user_data
    expect(await expectRevert(reg(nitroKms({ userData: null }).document), "NitroFieldMissing")).toEqual([field("user_data")]);
    expect(await expectRevert(reg(nitroKms({ userData: new Uint8Array(32) }).document), "NitroUserDataLengthMismatch")).toEqual([32n, 64n]);
    // an AWS Nitro TPM document (its PCRs under nitrotpm_pcrs, a key the NSM does not write)
    const tpm = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), tpm: true });
    expect(await expectRevert(reg(tpm), "NitroDocumentMalformed")).toEqual([field("payload")]);
    // another algorithm than ES384 in the protected header; a digest other than SHA384
    expect(await expectRevert(reg(makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), alg: -7 })), "NitroDocumentMalformed")).toEqual([field("protected header")]);
    expect(await expectRevert(reg(makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), digest: "SHA256" })), "NitroDocumentMalformed")).toEqual([field("digest")]);
    // a 47-byte PCR1
    const pcrs = new Map<number, Uint8Array>([[0, new Uint8Array(48)], [1, new Uint8Array(47)], [2, new Uint8Array(48)]]);
    expect(await expectRevert(reg(makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey), pcrs })), "NitroDocumentMalformed")).toEqual([field("pcrs")]);
    // a protected header other than {1: -35}; reserved additional information (0x1c) where the payload should be
    expect(await expectRevert(reg(Uint8Array.of(0x84, 0x40, 0xa0, 0x40)), "NitroDocumentMalformed")).toEqual([field("protected header")]);
    expect(await expectRevert(reg(Uint8Array.of(0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x5c, 0x00)), "CborUnsupported")).toEqual([7n]);
    expect(await registry.read.isRegistered([k.address])).toBe(false);
  });

  it("needs REGISTRAR_ROLE, checks the keys like register, enforces the allowlist with os_image_hash and the revocation", async () => {
    const registry = await deploy();
    const k = nitroKms();
    const asOther = await viem.getContractAt("KmsRegistry", registry.address, { client: { wallet: otherWallet! } });
    const e = await expectRevert(asOther.write.registerNitro(nitroArgs(k)), "AccessControlUnauthorizedAccount");
    expect(e).toEqual([getAddress(other), await registry.read.REGISTRAR_ROLE()]);
    const [ca, k256, doc] = nitroArgs(k);
    await expectRevert(registry.write.registerNitro([hex(k.caPubkey.subarray(1)), k256, doc]), "InvalidCaPubkeyLength");
    await expectRevert(registry.write.registerNitro([ca, hex(k.k256Pubkey.subarray(1)), doc]), "InvalidK256PubkeyLength");
    await registry.write.setImageAllowlistEnabled([true]);
    expect(await expectRevert(registry.write.registerNitro(nitroArgs(k)), "ImageNotAllowed")).toEqual([DEFAULT_IMAGE]);
    await registry.write.setImageAllowed([DEFAULT_IMAGE, true]);
    await registry.write.registerNitro(nitroArgs(k));
    await registry.write.revoke([k.address, "test"]);
    await expectRevert(registry.write.registerNitro(nitroArgs(k)), "KmsIsRevoked");
  });
});

describe("KmsRegistry.nitroDocumentFields on dstack's real Nitro attestation", () => {
  it("reads the real NSM document as the off-chain decoder does: user_data (64 zero bytes), sha256(PCR0 ‖ PCR1 ‖ PCR2), the timestamp; registerNitro refuses it for our keys", async () => {
    const registry = await deploy();
    const att = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url))));
    expect(att.platform).toBe("nitro-enclave");
    const doc = decodeNitroDocument(att.evidence);
    // the real document's payload is an indefinite-length map, as the NSM writes it
    expect(doc.payload[0]).toBe(0xbf);
    const [high, low, image, ts] = await registry.read.nitroDocumentFields([hex(att.evidence)]);
    expect(`${high}${low.slice(2)}`).toBe(bytesToHex(doc.userData!));
    expect(image).toBe(`0x${nitroOsImageHash(doc)}`);
    expect(ts).toBe(BigInt(doc.timestamp));
    // its user_data binds keys we do not have (report_data = zeros): the binding check refuses it
    const k = newKms();
    const e = await expectRevert(registry.write.registerNitro([hex(k.caPubkey), hex(k.k256Pubkey), hex(att.evidence)]), "ReportDataMismatch");
    expect(e[1]).toBe(high);
  });
});

describe("KmsRegistry.registerSnp with an AMD CRL", () => {
  it("publishes the CRL in KmsSnpCrlPublished after KmsSnpEvidencePublished; without one, no CRL event", async () => {
    const registry = await deploy();
    const snp = createSnpWorld({ now: NOW });
    const vcek = issueVcek(snp, { chipId: new Uint8Array(64).fill(0xc2), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
    const crl = makeArkCrl(snp, { thisUpdate: NOW - 3600, nextUpdate: NOW + 86_400 });
    const amdChain = bytesToHex(new TextEncoder().encode(snp.certChainPem));
    const k = newKms();
    const report = makeSnpReport(snp, vcek, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    const hash = await registry.write.registerSnp([hex(k.caPubkey), hex(k.k256Pubkey), hex(report), hex(vcek.der), amdChain, hex(crl)]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(decodeRegistryLogs(receipt.logs).map((l) => l.eventName)).toEqual(["KmsRegistered", "KmsSnpEvidencePublished", "KmsSnpCrlPublished"]);
    const raw = receipt.logs[2]!;
    expect(decodeRegistryLog({ ...raw, blockNumber: `0x${raw.blockNumber.toString(16)}`, logIndex: `0x${raw.logIndex.toString(16)}` } as never)).toMatchObject({ kind: "snp-crl", kms: getAddress(k.address), quoteHash: keccak256(report), crl: hex(crl).toLowerCase() });

    const k2 = newKms();
    const report2 = makeSnpReport(snp, vcek, { reportData: bindingReportData(k2.caPubkey, k2.k256Pubkey) });
    const h2 = await registry.write.registerSnp([hex(k2.caPubkey), hex(k2.k256Pubkey), hex(report2), hex(vcek.der), amdChain, "0x"]);
    expect(decodeRegistryLogs((await publicClient.waitForTransactionReceipt({ hash: h2 })).logs).map((l) => l.eventName)).toEqual(["KmsRegistered", "KmsSnpEvidencePublished"]);
  });
});
