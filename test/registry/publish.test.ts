import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { createWalletClient, http, keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { NetworkError, VerificationError } from "../../src/core/errors.js";
import { kmsAddressFromPubkey } from "../../src/registry/client.js";
import { accountFromEnv, walletFor } from "../../src/registry/connect.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { findRegistrations, publishKms } from "../../src/registry/publish.js";
import { journalPath } from "../../src/registry/publish-journal.js";
import { randomKms, startChain, type TestChain } from "./chain-helpers.js";

let chain: TestChain;
beforeAll(async () => {
  chain = await startChain();
});
afterAll(async () => {
  await chain?.node.stop();
});

const rpc = (method: string, params: unknown[] = []) => chain.conn.publicClient.request({ method: method as never, params: params as never });

function opts(identity: ReturnType<typeof randomKms>, extra: Partial<Parameters<typeof publishKms>[0]> = {}) {
  return {
    publicClient: chain.conn.publicClient,
    walletClient: chain.wallet,
    registry: chain.registry,
    identity,
    fromBlock: BigInt(chain.record.block),
    journalDir: path.join(chain.tmp, "state"),
    ...extra,
  };
}

describe("publishKms on a real JSON-RPC node", () => {
  it("registers, then is idempotent for the same quote, then re-attests with a new quote", async () => {
    const kms = randomKms();
    const stages: string[] = [];
    const first = await publishKms(opts(kms, { onProgress: (s) => stages.push(s) }));
    expect(first.status).toBe("registered");
    expect(first.gasUsed).toBeGreaterThan(0n);
    expect(first.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(stages).toEqual(expect.arrayContaining(["state", "estimate", "send", "wait"]));
    expect(await chain.conn.publicClient.readContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [first.kms] })).toBe(true);

    const again = await publishKms(opts(kms));
    expect(again.status).toBe("already-registered");
    expect(again.txHash).toBe(first.txHash);
    expect(again.gasUsed).toBeUndefined();

    // A new quote for the same keys (another byte of the signed area differs) is a re-attestation.
    const quote2 = kms.quote.slice();
    quote2[100] = quote2[100]! ^ 0xff;
    const re = await publishKms(opts({ ...kms, quote: quote2 }));
    expect(re.status).toBe("re-attested");
    const regs = await findRegistrations(chain.conn.publicClient, chain.registry, first.kms, null, 0n);
    expect(regs).toHaveLength(2);
  });

  it("dry run estimates and sends nothing", async () => {
    const kms = randomKms();
    const before = await chain.conn.publicClient.getTransactionCount({ address: chain.wallet.account.address });
    const r = await publishKms(opts(kms, { dryRun: true }));
    expect(r.status).toBe("dry-run");
    expect(r.estimatedGas).toBeGreaterThan(100_000n);
    expect(await chain.conn.publicClient.getTransactionCount({ address: chain.wallet.account.address })).toBe(before);
  });

  it("refuses a quote that does not bind the keys, naming the contract's custom error", async () => {
    const kms = randomKms();
    const other = randomKms();
    await expect(publishKms(opts({ ...kms, quote: other.quote }))).rejects.toThrow(/register\(\).*ReportDataMismatch/);
  });

  it("refuses an account without REGISTRAR_ROLE before sending", async () => {
    const outsider = walletFor(chain.conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }));
    const err = await publishKms(opts(randomKms(), { walletClient: outsider })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe("NOT_REGISTRAR");
  });

  it("survives an interruption between send and confirmation: the re-run waits for the same transaction", async () => {
    const kms = randomKms();
    await rpc("evm_setAutomine", [false]);
    try {
      // The first run sends, then gives up waiting (as if killed): the journal keeps the signed transaction.
      const sent: string[] = [];
      const first = await publishKms(opts(kms, { receiptTimeoutMs: 400, onProgress: (s, d) => s === "send" && d.startsWith("sent") && sent.push(d) })).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(NetworkError);
      expect((first as NetworkError).code).toBe("NOT_CONFIRMED");
      expect((first as Error).message).toMatch(/re-run the same publish to pick it up/);
      expect(sent).toHaveLength(1);
      const journals = readdirSync(path.join(chain.tmp, "state", "publish"));
      expect(journals).toHaveLength(1);
      const pendingHash = sent[0]!.split(" ")[1]!;
      // Re-run while the transaction is still pending; mine a block shortly after.
      const rerun = publishKms(opts(kms));
      setTimeout(() => void rpc("evm_mine"), 500);
      const r = await rerun;
      expect(r.status).toBe("recovered");
      expect(r.txHash).toBe(pendingHash);
      expect(r.gasUsed).toBeGreaterThan(0n);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    expect(readdirSync(path.join(chain.tmp, "state", "publish"))).toHaveLength(0);
    const regs = await findRegistrations(chain.conn.publicClient, chain.registry, (await publishKms(opts(kms))).kms, null, 0n);
    expect(regs).toHaveLength(1);
  });

  it("re-broadcasts the same signed transaction when the node dropped it (no duplicate, same hash)", async () => {
    const kms = randomKms();
    await rpc("evm_setAutomine", [false]);
    let hash = "";
    try {
      await publishKms(opts(kms, { receiptTimeoutMs: 300, onProgress: (s, d) => s === "send" && d.startsWith("sent") && (hash = d.split(" ")[1]!) })).catch(() => {});
      expect(hash).toMatch(/^0x/);
      await rpc("hardhat_dropTransaction", [hash]);
      expect(await chain.conn.publicClient.getTransaction({ hash: hash as `0x${string}` }).catch(() => null)).toBeNull();
      await rpc("evm_setAutomine", [true]);
      const r = await publishKms(opts(kms));
      expect(r.status).toBe("recovered");
      expect(r.txHash).toBe(hash);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    const regs = await findRegistrations(chain.conn.publicClient, chain.registry, (await publishKms(opts(kms))).kms, null, 0n);
    expect(regs).toHaveLength(1);
    expect(bytesToHex(kms.quote)).toMatch(/^0x04/);
  });

  it("names the journal by chain, registry and quote hash", () => {
    const p = journalPath("/s", 31337, "0xABCDEF0000000000000000000000000000000001", "0xAB");
    expect(p).toBe(path.join("/s", "publish", "31337-0xabcdef0000000000000000000000000000000001-0xab.json"));
    expect(existsSync(p)).toBe(false);
  });

  it("node-managed (JSON-RPC) accounts: interrupted sends are journalled by hash, or by nonce when the hash never came back", async () => {
    // Hardhat's node unlocks its dev accounts: eth_sendTransaction, no local key
    const rpcWallet = createWalletClient({ chain: chain.conn.chain, transport: http(chain.node.url), account: chain.wallet.account.address });
    const kms = randomKms();
    await rpc("evm_setAutomine", [false]);
    let hash = "";
    try {
      await publishKms(opts(kms, { walletClient: rpcWallet as never, receiptTimeoutMs: 300, onProgress: (st, d) => st === "send" && d.startsWith("sent") && (hash = d.split(" ")[1]!) })).catch(() => {});
      expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
      const rerun = publishKms(opts(kms, { walletClient: rpcWallet as never }));
      setTimeout(() => void rpc("evm_mine"), 400);
      const r = await rerun;
      expect(r).toMatchObject({ status: "recovered", txHash: hash });
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    // a run killed after journalling the nonce but before the node answered with the hash:
    // the transaction did reach the node and was mined; the re-run settles by nonce and finds the event
    const kms2 = randomKms();
    const from = chain.wallet.account.address;
    const nonce = await chain.conn.publicClient.getTransactionCount({ address: from, blockTag: "pending" });
    const quoteHash = keccak256(kms2.quote);
    const file = journalPath(path.join(chain.tmp, "state"), chain.conn.chainId, chain.registry, quoteHash);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ format: "dstack-kms-registry/publish-journal@1", chainId: chain.conn.chainId, registry: chain.registry, kms: kmsAddressFromPubkey(kms2.k256Pubkey), quoteHash, from, nonce, sentAt: "" }));
    const sent = await rpcWallet.writeContract({
      address: chain.registry,
      abi: kmsRegistryAbi,
      functionName: "register",
      args: [bytesToHex(kms2.caPubkey), bytesToHex(kms2.k256Pubkey), bytesToHex(kms2.quote)],
      nonce,
    });
    const r2 = await publishKms(opts(kms2, { walletClient: rpcWallet as never }));
    expect(r2).toMatchObject({ status: "already-registered", txHash: sent });
    expect(existsSync(file)).toBe(false);
    // …and when nothing was ever sent at that nonce, the re-run sends normally
    const kms3 = randomKms();
    const q3 = keccak256(kms3.quote);
    const n3 = await chain.conn.publicClient.getTransactionCount({ address: from, blockTag: "pending" });
    const f3 = journalPath(path.join(chain.tmp, "state"), chain.conn.chainId, chain.registry, q3);
    writeFileSync(f3, JSON.stringify({ format: "dstack-kms-registry/publish-journal@1", chainId: chain.conn.chainId, registry: chain.registry, kms: kmsAddressFromPubkey(kms3.k256Pubkey), quoteHash: q3, from, nonce: n3, sentAt: "" }));
    const r3 = await publishKms(opts(kms3, { walletClient: rpcWallet as never }));
    expect(r3.status).toBe("registered");
  });
});
