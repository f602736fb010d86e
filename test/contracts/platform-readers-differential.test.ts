/**
 * The registry's on-chain platform readers equal the off-chain ones, on Hardhat's in-process network:
 * `nitroDocumentFields` (NitroDocument.sol) against `nitroRegistryFields` (decodeNitroDocument and the
 * registry's rules) over seeded mutations of dstack's real NSM document and of test-world documents, and
 * `snpReportFields` (SnpReport.sol) against `parseSnpReport` over real SNP reports and their mutations:
 * both accept with equal fields (user_data / report_data halves, the image measurement, the timestamp), or
 * both refuse, the off-chain one with a typed error and the on-chain one with one of the reader's errors.
 * The longer run is bench/platform-readers-differential.bench.ts.
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { zeroAddress } from "viem";
import { beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { registryRevert } from "../../src/registry/client.js";
import { createSnpWorld, issueVcek, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { nitroCases, nitroHeadSweep, nitroOffChain, onChainReadings, runAll, snpCases, snpOffChain, tally, type BatchRead, type NitroCase, type Reading, type SnpCase } from "./platform-readers-lib.js";

const { viem } = await network.connect();
const [adminWallet] = await viem.getWalletClients();
let nitroBatch: BatchRead;
let snpBatch: BatchRead;
let direct: (doc: Uint8Array) => Promise<Reading>;

beforeAll(async () => {
  const registry = await viem.deployContract("KmsRegistry", [adminWallet!.account.address, zeroAddress]);
  // each input is its own static call of the registry's reader; one JSON-RPC call reads a batch
  const batch = await viem.deployContract("ReaderBatch");
  nitroBatch = (docs) => batch.read.nitro([registry.address, docs]);
  snpBatch = (reports) => batch.read.snp([registry.address, reports]);
  direct = (doc) =>
    registry.read.nitroDocumentFields([bytesToHex(doc)]).then(
      ([high, low, image, ts]): Reading => ({ ok: true, fields: { high: high.toLowerCase(), low: low.toLowerCase(), image: image.toLowerCase(), timestamp: String(ts) } }),
      (e: unknown): Reading => ({ ok: false, error: registryRevert(e)?.name ?? "?" }),
    );
});

const onChainNitro = (cs: NitroCase[]) => onChainReadings(nitroBatch, "nitroDocumentFields", cs.map((c) => c.doc));
const onChainSnp = (cs: SnpCase[]) => onChainReadings(snpBatch, "snpReportFields", cs.map((c) => c.report));

const NITRO_CASES = Number(process.env.NITRO_DIFF_CASES ?? 5000);
const SNP_CASES = Number(process.env.SNP_DIFF_CASES ?? 2000);

describe("the Nitro readers agree", () => {
  it(`${NITRO_CASES} seeded documents: both accept with equal fields or both refuse`, { timeout: 25_000 }, async () => {
    const cases = nitroCases(NITRO_CASES, 12);
    const results = await runAll(cases, (c) => nitroOffChain(c.doc), onChainNitro);
    const t = tally(results);
    console.log(JSON.stringify({ nitro: t }));
    expect(results.filter((r) => !r.agree).slice(0, 3)).toEqual([]);
    // the real document and the test-world ones are read; the mutations reach both outcomes and every on-chain error
    expect(results.slice(0, 5).every((r) => r.offChain.ok)).toBe(true);
    expect(t.bothAccepted).toBeGreaterThan(NITRO_CASES / 20);
    expect(t.bothRefused).toBeGreaterThan(NITRO_CASES / 2);
    expect(Object.keys(t.byOnChainError).sort()).toEqual(["CborTruncated", "CborUnsupported", "NitroDocumentMalformed", "NitroFieldMissing", "NitroUserDataLengthMismatch"]);
    // the batch reads what a direct call of the registry reads (its first 40 cases, accepted and refused)
    for (const [i, c] of cases.slice(0, 40).entries()) expect(await direct(c.doc)).toEqual(results[i]!.onChain);
  });

  it("every item head of dstack's real document and of the NSM-shaped models, replaced by every interesting head byte", { timeout: 25_000 }, async () => {
    const cases = nitroHeadSweep();
    const results = await runAll(cases, (c) => nitroOffChain(c.doc), onChainNitro);
    const t = tally(results);
    console.log(JSON.stringify({ nitroHeadSweep: t }));
    expect(results.filter((r) => !r.agree).slice(0, 3)).toEqual([]);
    expect(cases.length).toBeGreaterThan(3000);
    // a head in another length form can still read the same: some replacements are accepted by both
    expect(t.bothAccepted).toBeGreaterThan(0);
  });
});

describe("the SEV-SNP readers agree", () => {
  it(`${SNP_CASES} real and mutated reports: versions, lengths, signature algorithm, report_data and measurement`, { timeout: 20_000 }, async () => {
    const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/sev-snp/${name}`, import.meta.url)));
    const world = createSnpWorld({ now: 1_767_000_000 });
    const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(0xc1), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
    const bases = [
      { name: "go-sev-guest v2 Milan", report: fixture("go-sev-guest-report-v2-milan.bin") },
      { name: "dstack v3 Milan", report: decodeDstackAttestation(fixture("dstack-sev-snp-attestation-v0.bin")).evidence },
      { name: "test world v5", report: makeSnpReport(world, vcek, { reportData: new Uint8Array(64).fill(3), version: 5 }) },
    ];
    const results = await runAll(snpCases(bases, SNP_CASES, 5), (c) => snpOffChain(c.report), onChainSnp);
    const t = tally(results);
    console.log(JSON.stringify({ snp: t }));
    expect(results.filter((r) => !r.agree).slice(0, 3)).toEqual([]);
    expect(results.slice(0, 3).every((r) => r.offChain.ok)).toBe(true);
    expect(t.bothAccepted).toBeGreaterThan(SNP_CASES / 10);
    expect(Object.keys(t.byOnChainError).sort()).toEqual(["SnpReportLengthMismatch", "UnsupportedSnpReportVersion", "UnsupportedSnpSignatureAlgorithm"]);
  });
});
