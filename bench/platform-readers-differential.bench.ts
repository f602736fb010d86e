/**
 * The long differential run of the registry's platform readers: the on-chain `nitroDocumentFields`
 * (contracts/lib/NitroDocument.sol) against `nitroRegistryFields` (src/dstack/platforms/nitro.ts) over seeded
 * mutations of dstack's real NSM document and of test-world documents, and the on-chain `snpReportFields`
 * (contracts/lib/SnpReport.sol) against `parseSnpReport` over real SEV-SNP reports and their mutations. Prints
 * one JSON object: counts (both accepted with equal fields, both refused, disagreed), the on-chain errors, and
 * the first disagreements with their case names and both readings. The Nitro cases are the head sweep (every item
 * head of the real document and the NSM-shaped models replaced by every interesting head byte) and N seeded ones.
 *
 *   npx tsx bench/platform-readers-differential.bench.ts                 # the sweep, 50,000 Nitro and 20,000 SNP cases, seed 1
 *   NITRO_DIFF_CASES=100000 SNP_DIFF_CASES=20000 DIFF_SEED=7 npx tsx bench/platform-readers-differential.bench.ts
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { zeroAddress } from "viem";

import { bytesToHex } from "../src/core/bytes.js";
import { decodeDstackAttestation } from "../src/dstack/attestation.js";
import { createSnpWorld, issueVcek, makeSnpReport } from "../src/testing/platforms/snp-world.js";
import { nitroCases, nitroHeadSweep, nitroOffChain, onChainReadings, runAll, snpCases, snpOffChain, tally, type DiffOutcome, type NitroCase, type SnpCase } from "../test/contracts/platform-readers-lib.js";

const NITRO = Number(process.env.NITRO_DIFF_CASES ?? 50_000);
const SNP = Number(process.env.SNP_DIFF_CASES ?? 20_000);
const SEED = Number(process.env.DIFF_SEED ?? 1);

const { viem } = await network.connect();
const [admin] = await viem.getWalletClients();
const registry = await viem.deployContract("KmsRegistry", [admin!.account.address, zeroAddress]);
const batch = await viem.deployContract("ReaderBatch");
const onChainNitro = (cs: NitroCase[]) => onChainReadings((d) => batch.read.nitro([registry.address, d]), "nitroDocumentFields", cs.map((c) => c.doc));
const onChainSnp = (cs: SnpCase[]) => onChainReadings((r) => batch.read.snp([registry.address, r]), "snpReportFields", cs.map((c) => c.report));

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../test/fixtures/sev-snp/${name}`, import.meta.url)));
const world = createSnpWorld({ now: 1_767_000_000 });
const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(0xc1), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
const snpBases = [
  { name: "go-sev-guest v2 Milan", report: fixture("go-sev-guest-report-v2-milan.bin") },
  { name: "dstack v3 Milan", report: decodeDstackAttestation(fixture("dstack-sev-snp-attestation-v0.bin")).evidence },
  { name: "test world v5", report: makeSnpReport(world, vcek, { reportData: new Uint8Array(64).fill(3), version: 5 }) },
];

const started = Date.now();
const nitroList = [...nitroHeadSweep(), ...nitroCases(NITRO, SEED)];
const nitro = await runAll(nitroList, (c) => nitroOffChain(c.doc), onChainNitro);
const nitroMs = Date.now() - started;
const snpList = snpCases(snpBases, SNP, SEED);
const snp = await runAll(snpList, (c) => snpOffChain(c.report), onChainSnp);

const disagreements = (rs: DiffOutcome[], bytesOf: (i: number) => Uint8Array) =>
  rs.flatMap((r, i) => (r.agree ? [] : [{ index: i, name: r.name, offChain: r.offChain, onChain: r.onChain, input: bytesToHex(bytesOf(i)).slice(0, 2 + 2 * 512) }])).slice(0, 20);

process.stdout.write(
  JSON.stringify(
    {
      seed: SEED,
      nitro: { ...tally(nitro), ms: nitroMs, disagreements: disagreements(nitro, (i) => nitroList[i]!.doc) },
      snp: { ...tally(snp), ms: Date.now() - started - nitroMs, disagreements: disagreements(snp, (i) => snpList[i]!.report) },
    },
    null,
    2,
  ) + "\n",
);
