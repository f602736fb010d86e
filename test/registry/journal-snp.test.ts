/**
 * The publish journal of an SEV-SNP publish: its signed transaction must be this run's `registerSnp` call (keys,
 * report, VCEK and AMD chain), else JOURNAL_MISMATCH. Transactions really signed (viem local account), no node.
 */
import { keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";

import { bytesToHex, type Hex } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { encodeRegister, encodeRegisterSnp, kmsAddressFromPubkey } from "../../src/registry/client.js";
import { checkJournal, JOURNAL_FORMAT, type Journal, type JournalExpectation } from "../../src/registry/publish-journal.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { createSnpWorld, issueVcek, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { bindingReportData, newKms } from "../contracts/helpers.js";

const account = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY);
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Hex;
const CHAIN = 31337;

const world = createSnpWorld({ now: Math.floor(Date.now() / 1000) });
const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(7), tcb: { bootloader: 4, tee: 0, snp: 22, microcode: 213 } });
const k = newKms();
const report = makeSnpReport(world, vcek, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey) });
const amdChain = new TextEncoder().encode(world.certChainPem);
const args = [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(report)] as const;
const crl = makeArkCrl(world, { thisUpdate: Math.floor(Date.now() / 1000) - 3600, nextUpdate: Math.floor(Date.now() / 1000) + 86_400 });
const snpArgs = [bytesToHex(vcek.der), bytesToHex(amdChain), bytesToHex(crl)] as const;

async function journalFor(data: Hex): Promise<Journal> {
  const rawTx = await account.signTransaction({ type: "eip1559", chainId: CHAIN, to: REGISTRY, data, nonce: 3, gas: 3_000_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1_000_000n });
  return { format: JOURNAL_FORMAT, chainId: CHAIN, registry: REGISTRY, kms: kmsAddressFromPubkey(k.k256Pubkey) as Hex, quoteHash: keccak256(report), from: account.address, nonce: 3, txHash: keccak256(rawTx), rawTx, sentAt: new Date().toISOString() };
}

const want = (extra: Partial<JournalExpectation> = {}): JournalExpectation => ({
  file: "/tmp/journal.json",
  chainId: CHAIN,
  registry: REGISTRY,
  kms: kmsAddressFromPubkey(k.k256Pubkey) as Hex,
  quoteHash: keccak256(report),
  from: account.address,
  args,
  functionName: "registerSnp",
  snpArgs,
  ...extra,
});

const snpData = (o: { vcek?: Uint8Array; amdChain?: Uint8Array; crl?: Uint8Array } = {}) => encodeRegisterSnp({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, report, vcek: o.vcek ?? vcek.der, amdChain: o.amdChain ?? amdChain, crl: o.crl ?? crl });

async function mismatch(p: Promise<void>): Promise<string> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(InputError);
  expect((e as InputError).code).toBe("JOURNAL_MISMATCH");
  return (e as Error).message;
}

describe("publish journal of registerSnp", () => {
  it("accepts this run's signed registerSnp call", async () => {
    await expect(checkJournal(await journalFor(snpData()), want())).resolves.toBeUndefined();
  });

  it("refuses another AMD CRL, or none where this run publishes one", async () => {
    expect(await mismatch(checkJournal(await journalFor(snpData({ crl: Uint8Array.of(1, 2, 3) })), want()))).toMatch(/publishes another AMD CRL/);
    const noCrl = encodeRegisterSnp({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, report, vcek: vcek.der, amdChain });
    expect(await mismatch(checkJournal(await journalFor(noCrl), want()))).toMatch(/publishes another AMD CRL/);
  });

  it("refuses another VCEK, another AMD chain, another report, a register call or an expectation without the evidence", async () => {
    expect(await mismatch(checkJournal(await journalFor(snpData({ vcek: issueVcek(world, { chipId: new Uint8Array(64).fill(8), tcb: vcek.tcb }).der })), want()))).toMatch(/publishes another VCEK/);
    expect(await mismatch(checkJournal(await journalFor(snpData({ amdChain: new TextEncoder().encode(world.certChainPem + "\n") })), want()))).toMatch(/publishes another AMD chain/);
    const other = makeSnpReport(world, vcek, { reportData: bindingReportData(k.caPubkey, k.k256Pubkey), measurement: new Uint8Array(48).fill(1) });
    const otherData = encodeRegisterSnp({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, report: other, vcek: vcek.der, amdChain, crl });
    expect(await mismatch(checkJournal(await journalFor(otherData), want()))).toMatch(/registers another quote/);
    expect(await mismatch(checkJournal(await journalFor(encodeRegister({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, quote: report })), want()))).toMatch(/calls register\(\), not registerSnp\(\)/);
    expect(await mismatch(checkJournal(await journalFor(snpData()), want({ functionName: "register" })))).toMatch(/calls registerSnp\(\), not register\(\)/);
    const { snpArgs: _omit, ...noEvidence } = want();
    expect(await mismatch(checkJournal(await journalFor(snpData()), noEvidence))).toMatch(/publishes another VCEK/);
  });
});
