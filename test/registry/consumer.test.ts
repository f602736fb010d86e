/**
 * The README's dapp snippets, run for real: the Solidity consumer (test/fixtures/KmsGatedConsumer.sol.txt,
 * compiled here with the project's solc) deployed next to the registry on a JSON-RPC node, and the viem
 * off-chain check (test/fixtures/kms-gated-offchain.ts), on a key chain made the way dstack makes it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAddress, type Abi, type Hex } from "viem";

import { bytesToHex, utf8 } from "../../src/core/bytes.js";
import { kmsRegistryAbi as registryAbi } from "../../src/registry/generated/abi.js";
import { publishKms } from "../../src/registry/publish.js";
import { deriveKey } from "../../src/dstack/kdf.js";
import { appKeyMessage, ethAddress, keyChainMessage, publicKeyFromPrivate, signMessage } from "../../src/dstack/signatures.js";
import { acceptMessage } from "../fixtures/kms-gated-offchain.js";
import { randomKms, startChain, type TestChain, type TestKms } from "./chain-helpers.js";

const require = createRequire(import.meta.url);
const solc = require("solc") as { compile: (input: string) => string };

function compileConsumer(source = readFileSync(new URL("../fixtures/KmsGatedConsumer.sol.txt", import.meta.url), "utf8")): { abi: Abi; bytecode: Hex } {
  const input = {
    language: "Solidity",
    sources: { "KmsGatedConsumer.sol": { content: source } },
    settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 }, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts["KmsGatedConsumer.sol"]!.KmsGatedConsumer!;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

/** What an app CVM gets from its guest agent: a derived key (private) and signature_chain [D, A]. */
function getKey(kms: TestKms, appId: Uint8Array, path: string, purpose: string) {
  const appPriv = deriveKey(kms.k256Secret, appId, "app-key");
  const appPub = publicKeyFromPrivate(appPriv);
  const key = deriveKey(appPriv, path);
  const derivedPub = publicKeyFromPrivate(key);
  return {
    key,
    appPub,
    derivedPub,
    chain: [signMessage(keyChainMessage(purpose, derivedPub), appPriv), signMessage(appKeyMessage(appId, appPub), kms.k256Secret)] as const,
  };
}

let chain: TestChain;
let consumer: Hex;
let abi: Abi;
let kms: TestKms;
const appId = new Uint8Array(20).fill(0x5b);

beforeAll(async () => {
  chain = await startChain();
  kms = randomKms();
  await publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: kms, journalDir: `${chain.tmp}/s` });
  const c = compileConsumer();
  abi = c.abi;
  const hash = await chain.wallet.deployContract({ abi, bytecode: c.bytecode, args: [chain.registry, bytesToHex(appId)] });
  consumer = (await chain.conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress!;
}, 120_000);
afterAll(async () => {
  await chain?.node.stop();
});

async function post(message: Uint8Array, signature: Uint8Array, g: ReturnType<typeof getKey>, kmsAddr: Hex) {
  return chain.conn.publicClient.simulateContract({
    address: consumer,
    abi,
    functionName: "post",
    args: [bytesToHex(message), bytesToHex(signature), { kms: kmsAddr, derivedPubkey: bytesToHex(g.derivedPub), derivedSignature: bytesToHex(g.chain[0]), appPubkey: bytesToHex(g.appPub), appSignature: bytesToHex(g.chain[1]) }],
    account: chain.wallet.account,
  });
}

describe("README dapp snippets", () => {
  const message = utf8("transfer 10 to alice");

  it("Solidity consumer accepts a message signed by a key derived from an app key a registered KMS issued", async () => {
    const g = getKey(kms, appId, "wallet/eth", "signing");
    const kmsAddr = getAddress(ethAddress(kms.k256Pubkey)) as Hex;
    const { request } = await post(message, signMessage(message, g.key), g, kmsAddr);
    const hash = await chain.wallet.writeContract(request);
    const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
    expect(r.status).toBe("success");
    expect(r.logs).toHaveLength(1);
  });

  it("Solidity consumer refuses: wrong message signer, other app, other purpose, unregistered or revoked KMS", async () => {
    const kmsAddr = getAddress(ethAddress(kms.k256Pubkey)) as Hex;
    const g = getKey(kms, appId, "wallet/eth", "signing");
    const other = secp256k1.utils.randomSecretKey();
    await expect(post(message, signMessage(message, other), g, kmsAddr)).rejects.toThrow(/BadMessageSignature/);
    await expect(post(message, signMessage(message, g.key), getKey(kms, new Uint8Array(20).fill(1), "wallet/eth", "signing"), kmsAddr)).rejects.toThrow(/NotIssuedByRegisteredKms/);
    const enc = getKey(kms, appId, "wallet/eth", "encryption");
    await expect(post(message, signMessage(message, enc.key), enc, kmsAddr)).rejects.toThrow(/NotIssuedByRegisteredKms/);
    const stranger = randomKms();
    const s = getKey(stranger, appId, "wallet/eth", "signing");
    await expect(post(message, signMessage(message, s.key), s, getAddress(ethAddress(stranger.k256Pubkey)) as Hex)).rejects.toThrow(/NotIssuedByRegisteredKms/);
  });

  it("viem off-chain check agrees, including after revocation", async () => {
    const g = getKey(kms, appId, "wallet/eth", "signing");
    const key = { appId: bytesToHex(appId), purpose: "signing", derivedPubkey: bytesToHex(g.derivedPub), signatureChain: [bytesToHex(g.chain[0]), bytesToHex(g.chain[1])] as const };
    const pc = chain.conn.publicClient as never;
    const kmsAddr = getAddress(ethAddress(kms.k256Pubkey));
    expect(await acceptMessage(pc, chain.registry, key, bytesToHex(message), bytesToHex(signMessage(message, g.key)))).toBe(kmsAddr);
    expect(await acceptMessage(pc, chain.registry, key, bytesToHex(utf8("other")), bytesToHex(signMessage(message, g.key)))).toBeNull();
    expect(await acceptMessage(pc, chain.registry, { ...key, purpose: "encryption" }, bytesToHex(message), bytesToHex(signMessage(message, g.key)))).toBeNull();
    const hash = await chain.wallet.writeContract({ address: chain.registry, abi: registryAbi, functionName: "revoke", args: [kmsAddr as Hex, "test"] });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash });
    expect(await acceptMessage(pc, chain.registry, key, bytesToHex(message), bytesToHex(signMessage(message, g.key)))).toBeNull();
    await expect(post(message, signMessage(message, g.key), g, kmsAddr as Hex)).rejects.toThrow(/NotIssuedByRegisteredKms/);
  });

  it("the README's Solidity snippet compiles as printed", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## For dapp developers"));
    const m = /```solidity\n([\s\S]*?)```/.exec(section);
    expect(m).not.toBeNull();
    const c = compileConsumer(`// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.24;\n${m![1]!}`);
    expect(c.bytecode.length).toBeGreaterThan(100);
    expect(c.abi.some((x) => x.type === "function" && x.name === "post")).toBe(true);
  });

  it("the README's viem snippet is the tested fixture, verbatim", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## For dapp developers"));
    const m = /```ts\n([\s\S]*?)```/.exec(section);
    const fixture = readFileSync(new URL("../fixtures/kms-gated-offchain.ts", import.meta.url), "utf8");
    expect(m![1]).toBe(fixture.slice(fixture.indexOf("\n") + 1));
  });
});
