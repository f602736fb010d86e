/**
 * Publishing an AWS Nitro Enclave KMS, short of the chain: the publish journal of a `registerNitro` call (its
 * signed transaction must be this run's keys and document, else JOURNAL_MISMATCH; transactions really signed by a
 * viem local account, no node), and `publish`'s gate on a bootstrap file carrying an NSM document of a test Nitro
 * world: a debug-mode enclave refused unless --allow-debug, user_data binding other keys refused, both before any
 * chain access (the RPC is a closed port).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";

import { bytesToHex, bytesToPlainHex, type Hex } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { toPem } from "../../src/dcap/x509.js";
import { encodeDstackAttestationV1 } from "../../src/dstack/attestation.js";
import { encodeRegister, encodeRegisterNitro, kmsAddressFromPubkey } from "../../src/registry/client.js";
import { checkJournal, JOURNAL_FORMAT, type Journal, type JournalExpectation } from "../../src/registry/publish-journal.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { createNitroWorld, debugPcrs, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";
import { bindingReportData, newKms } from "../contracts/helpers.js";
import { runCli } from "../helpers/cli.js";

const account = privateKeyToAccount(HARDHAT_DEV_ACCOUNT_1_KEY);
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Hex;
const CHAIN = 31337;
const NOW = Math.floor(Date.now() / 1000);
const world = createNitroWorld({ now: NOW });
const k = newKms();
const document = makeNitroDocument(world, { timestamp: NOW * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey) });
const args = [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(document)] as const;

async function journalFor(data: Hex): Promise<Journal> {
  const rawTx = await account.signTransaction({ type: "eip1559", chainId: CHAIN, to: REGISTRY, data, nonce: 3, gas: 3_000_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1_000_000n });
  return { format: JOURNAL_FORMAT, chainId: CHAIN, registry: REGISTRY, kms: kmsAddressFromPubkey(k.k256Pubkey) as Hex, quoteHash: keccak256(document), from: account.address, nonce: 3, txHash: keccak256(rawTx), rawTx, sentAt: new Date().toISOString() };
}

const want = (extra: Partial<JournalExpectation> = {}): JournalExpectation => ({
  file: "/tmp/journal.json",
  chainId: CHAIN,
  registry: REGISTRY,
  kms: kmsAddressFromPubkey(k.k256Pubkey) as Hex,
  quoteHash: keccak256(document),
  from: account.address,
  args,
  functionName: "registerNitro",
  ...extra,
});

async function mismatch(p: Promise<void>): Promise<string> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(InputError);
  expect((e as InputError).code).toBe("JOURNAL_MISMATCH");
  return (e as Error).message;
}

describe("publish journal of registerNitro", () => {
  it("accepts this run's signed registerNitro call; refuses another document, a register call of the same bytes, or another function expected", async () => {
    await expect(checkJournal(await journalFor(encodeRegisterNitro({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, document })), want())).resolves.toBeUndefined();
    const other = makeNitroDocument(world, { timestamp: NOW * 1000 + 1, userData: bindingReportData(k.caPubkey, k.k256Pubkey) });
    expect(await mismatch(checkJournal(await journalFor(encodeRegisterNitro({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, document: other })), want()))).toMatch(/registers another quote/);
    expect(await mismatch(checkJournal(await journalFor(encodeRegister({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, quote: document })), want()))).toMatch(/calls register\(\), not registerNitro\(\)/);
    expect(await mismatch(checkJournal(await journalFor(encodeRegisterNitro({ caPubkey: k.caPubkey, k256Pubkey: k.k256Pubkey, document })), want({ functionName: "registerSnp" })))).toMatch(/calls registerNitro\(\), not registerSnp\(\)/);
  });
});

describe("publish's gate on a Nitro KMS (before any chain access)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "nitro-publish-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const rootFile = join(tmp, "root.pem");
  writeFileSync(rootFile, toPem(world.rootDer));
  const stack = (reportData: Uint8Array) => ({ reportData, runtimeEvents: [], config: "{}" });
  const bootstrapFile = (name: string, doc: Uint8Array, reportData: Uint8Array) => {
    const f = join(tmp, name);
    const attestation = encodeDstackAttestationV1({ platform: "nitro-enclave", evidence: doc, stack: stack(reportData) });
    writeFileSync(f, JSON.stringify({ ca_pubkey: bytesToPlainHex(k.caPubkey), k256_pubkey: bytesToPlainHex(k.k256Pubkey), attestation: bytesToPlainHex(attestation) }));
    return f;
  };
  const publish = (file: string, extra: string[] = []) =>
    runCli(["publish", "--registry", REGISTRY, "--rpc", "http://127.0.0.1:1", "--file", file, "--root-ca", rootFile, "--allow-simulated-root", ...extra], { env: { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY } });

  it("a debug-mode enclave (PCR0–2 zero) is refused; --allow-debug lets it through the gate (then the closed RPC fails)", async () => {
    const rd = bindingReportData(k.caPubkey, k.k256Pubkey);
    const f = bootstrapFile("debug.json", makeNitroDocument(world, { timestamp: NOW * 1000, userData: rd, pcrs: debugPcrs() }), rd);
    const refused = await publish(f);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing to publish: platform\.enclave\.debug: PCR0, PCR1 and PCR2 are all zero/);
    const allowed = await publish(f, ["--allow-debug"]);
    expect(allowed.stderr).not.toMatch(/refusing to publish/);
    expect(allowed.stderr).toMatch(/WARNING: NOT GENUINE — this Nitro attestation document/);
    expect(allowed.code).not.toBe(0);
    expect(allowed.stderr).toMatch(/\[publish\] verify: ok: nitro-enclave evidence verified \(NOT GENUINE\)/);
    expect(allowed.stderr).toMatch(/127\.0\.0\.1:1|RPC|connect/i);
  });

  it("a document whose user_data binds other keys is refused (binding.report-data)", async () => {
    const stranger = newKms();
    const rd = bindingReportData(stranger.caPubkey, stranger.k256Pubkey);
    const f = bootstrapFile("stranger.json", makeNitroDocument(world, { timestamp: NOW * 1000, userData: rd }), rd);
    const r = await publish(f);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to publish: binding\.report-data: the document's user_data: report_data does not bind these keys/);
  });
});
