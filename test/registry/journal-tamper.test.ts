/**
 * A publish journal on disk is trusted only when it is this publish's: tampered, foreign or stale journals are
 * refused with a typed error and kept; and success needs `isRegistered(kms)` afterwards. All on a real node.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { createWalletClient, encodeFunctionData, http, keccak256, type LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, type Hex } from "../../src/core/bytes.js";
import { InputError, KmsRegistryError, NetworkError, VerificationError } from "../../src/core/errors.js";
import { kmsAddressFromPubkey, REGISTRAR_ROLE } from "../../src/registry/client.js";
import { accountFromEnv } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { publishKms, type KmsIdentity } from "../../src/registry/publish.js";
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
const stateDir = () => path.join(chain.tmp, "state");
const account0 = () => chain.wallet.account as LocalAccount;
const registerArgs = (id: KmsIdentity) => [bytesToHex(id.caPubkey), bytesToHex(id.k256Pubkey), bytesToHex(id.quote)] as const;
const registerData = (id: KmsIdentity) => encodeFunctionData({ abi: kmsRegistryAbi, functionName: "register", args: registerArgs(id) });

function opts(identity: KmsIdentity, extra: Partial<Parameters<typeof publishKms>[0]> = {}) {
  return { publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity, journalDir: stateDir(), ...extra };
}

const isRegistered = (kms: Hex, registry: Hex = chain.registry) =>
  chain.conn.publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] });
const nonceOf = (address: Hex, blockTag: "latest" | "pending" = "pending") => chain.conn.publicClient.getTransactionCount({ address, blockTag });

/** Sign (not send) a transaction from `account` with explicit fields. */
async function sign(account: LocalAccount, tx: { to: Hex; data: Hex; nonce: number; chainId?: number }): Promise<Hex> {
  const fees = await chain.conn.publicClient.estimateFeesPerGas();
  return account.signTransaction({
    type: "eip1559",
    chainId: tx.chainId ?? chain.conn.chainId,
    to: tx.to,
    data: tx.data,
    nonce: tx.nonce,
    gas: 3_000_000n,
    maxFeePerGas: fees.maxFeePerGas * 2n,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
  });
}

/** Sign, send and mine a transaction; it must succeed. Returns its raw bytes, hash and nonce. */
async function sendOk(account: LocalAccount, to: Hex, data: Hex): Promise<{ rawTx: Hex; txHash: Hex; nonce: number }> {
  const nonce = await nonceOf(account.address);
  const rawTx = await sign(account, { to, data, nonce });
  const txHash = await chain.conn.publicClient.sendRawTransaction({ serializedTransaction: rawTx });
  const receipt = await chain.conn.publicClient.waitForTransactionReceipt({ hash: txHash });
  expect(receipt.status).toBe("success");
  return { rawTx, txHash, nonce };
}

/** Write the journal a run publishing `id` to `registry` would read, with the given transaction fields. */
function writeJournal(id: KmsIdentity, fields: { from?: Hex; nonce: number; txHash?: Hex; rawTx?: Hex; kms?: Hex }, registry: Hex = chain.registry): string {
  const quoteHash = keccak256(id.quote);
  const file = journalPath(stateDir(), chain.conn.chainId, registry, quoteHash);
  mkdirSync(path.dirname(file), { recursive: true });
  const journal = {
    format: "dstack-kms-registry/publish-journal@1",
    chainId: chain.conn.chainId,
    registry,
    kms: fields.kms ?? kmsAddressFromPubkey(id.k256Pubkey),
    quoteHash,
    from: fields.from ?? account0().address,
    nonce: fields.nonce,
    ...(fields.txHash ? { txHash: fields.txHash } : {}),
    ...(fields.rawTx ? { rawTx: fields.rawTx } : {}),
    sentAt: new Date().toISOString(),
  };
  writeFileSync(file, JSON.stringify(journal, null, 2));
  return file;
}

/** The publish must fail with `code`, name the journal file, keep it, and send nothing. */
async function expectRefused(run: () => Promise<unknown>, code: string, file: string, cls: typeof KmsRegistryError = InputError): Promise<KmsRegistryError> {
  const nonceBefore = await nonceOf(account0().address);
  const err = await run().then(
    (r) => new Error(`expected ${code}, publish reported success: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  expect((err as KmsRegistryError).code).toBe(code);
  expect((err as Error).message).toContain(file);
  expect((err as Error).message).toMatch(/inspect it .*remove it to publish afresh/i);
  expect(existsSync(file)).toBe(true);
  expect(await nonceOf(account0().address)).toBe(nonceBefore);
  return err as KmsRegistryError;
}

describe("publish journal checks", () => {
  it("a signed transaction whose hash is not the recorded hash (pointing at an unrelated successful transaction) is JOURNAL_TAMPERED", async () => {
    const kms = randomKms();
    // An unrelated transaction that succeeded: its receipt is what a hash-only lookup would find.
    const unrelated = await sendOk(account0(), chain.registry, encodeFunctionData({ abi: kmsRegistryAbi, functionName: "isRegistered", args: [account0().address] }));
    // This run's exact register() call, signed but never sent.
    const nonce = await nonceOf(account0().address);
    const rawTx = await sign(account0(), { to: chain.registry, data: registerData(kms), nonce });
    const file = writeJournal(kms, { nonce, rawTx, txHash: unrelated.txHash });
    const err = await expectRefused(() => publishKms(opts(kms)), "JOURNAL_TAMPERED", file);
    expect(err.message).toMatch(new RegExp(`hashes to ${keccak256(rawTx)}, not to the recorded ${unrelated.txHash}`));
    expect(await isRegistered(kmsAddressFromPubkey(kms.k256Pubkey))).toBe(false);
    // a signed transaction without any recorded hash is refused the same way
    writeJournal(kms, { nonce, rawTx });
    await expectRefused(() => publishKms(opts(kms)), "JOURNAL_TAMPERED", file);
    // bytes that are not a signed transaction at all
    writeJournal(kms, { nonce, rawTx: "0x01020304", txHash: keccak256("0x01020304") });
    const bad = await expectRefused(() => publishKms(opts(kms)), "JOURNAL_TAMPERED", file);
    expect(bad.message).toMatch(/does not decode/);
  });

  it("a valid, successful transaction of another call, registry, keys, quote, account or chain is JOURNAL_MISMATCH", async () => {
    const outsider = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }) as LocalAccount;
    await chain.wallet.writeContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "grantRole", args: [REGISTRAR_ROLE, outsider.address] }).then((hash) =>
      chain.conn.publicClient.waitForTransactionReceipt({ hash }),
    );
    const other = await deployRegistry({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, toolVersion: "test" });

    const cases: { name: string; make: (kms: KmsIdentity) => Promise<{ rawTx: Hex; txHash: Hex; nonce: number }>; why: RegExp }[] = [
      {
        name: "another call (isRegistered as a transaction)",
        make: (kms) => sendOk(account0(), chain.registry, encodeFunctionData({ abi: kmsRegistryAbi, functionName: "isRegistered", args: [kmsAddressFromPubkey(kms.k256Pubkey)] })),
        why: /calls isRegistered\(\), not register\(\)/,
      },
      { name: "another registry", make: (kms) => sendOk(account0(), other.address, registerData(kms)), why: /is sent to 0x[0-9a-fA-F]{40}, not to the registry/ },
      { name: "other keys", make: () => sendOk(account0(), chain.registry, registerData(randomKms())), why: /registers another k256 key/ },
      {
        name: "another quote for the same keys",
        make: (kms) => {
          const quote2 = kms.quote.slice();
          quote2[100] = quote2[100]! ^ 0xff;
          return sendOk(account0(), chain.registry, registerData({ ...kms, quote: quote2 }));
        },
        why: /registers another quote/,
      },
      { name: "another (registrar) account", make: (kms) => sendOk(outsider, chain.registry, registerData(kms)), why: /is signed by 0x[0-9a-fA-F]{40}, not by the configured account/ },
      {
        name: "another chain",
        make: async (kms) => {
          const nonce = await nonceOf(account0().address);
          const rawTx = await sign(account0(), { to: chain.registry, data: registerData(kms), nonce, chainId: 1 });
          return { rawTx, txHash: keccak256(rawTx), nonce };
        },
        why: /is for chain 1, not for chain 31337/,
      },
    ];
    for (const c of cases) {
      const kms = randomKms();
      const tx = await c.make(kms);
      const file = writeJournal(kms, tx);
      const err = await expectRefused(() => publishKms(opts(kms)), "JOURNAL_MISMATCH", file);
      expect(err.message, c.name).toMatch(c.why);
      expect(err.message).toMatch(/nothing was sent/);
    }

    // the journal's own fields: another account or another KMS than this run's
    const kms = randomKms();
    const nonce = await nonceOf(account0().address);
    const f1 = writeJournal(kms, { nonce: await nonceOf(outsider.address), from: outsider.address });
    expect((await expectRefused(() => publishKms(opts(kms)), "JOURNAL_MISMATCH", f1)).message).toMatch(/names account .* not the configured account/);
    const f2 = writeJournal(kms, { nonce, kms: kmsAddressFromPubkey(randomKms().k256Pubkey) });
    expect((await expectRefused(() => publishKms(opts(kms)), "JOURNAL_MISMATCH", f2)).message).toMatch(/names KMS .* not 0x/);
  });

  it("a node-managed account's journal naming another successful transaction is JOURNAL_MISMATCH", async () => {
    const rpcWallet = createWalletClient({ chain: chain.conn.chain, transport: http(chain.node.url), account: chain.wallet.account.address });
    const kms = randomKms();
    const otherKeys = randomKms();
    const nonce = await nonceOf(account0().address);
    const hash = await rpcWallet.writeContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "register", args: registerArgs(otherKeys), nonce });
    expect((await chain.conn.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    const file = writeJournal(kms, { nonce, txHash: hash });
    const err = await expectRefused(() => publishKms(opts(kms, { walletClient: rpcWallet as never })), "JOURNAL_MISMATCH", file);
    expect(err.message).toMatch(new RegExp(`the transaction ${hash} it names registers another k256 key`));
    expect(await isRegistered(kmsAddressFromPubkey(kms.k256Pubkey))).toBe(false);
  });

  it("a journalled register() whose successful receipt carries no KmsRegistered from the registry is JOURNAL_RECEIPT_NO_EVENT", async () => {
    // A contract that answers every call (a single STOP): register() succeeds there and emits nothing.
    const silent = "0x000000000000000000000000000000000000c0de" as Hex;
    await rpc("hardhat_setCode", [silent, "0x00"]);
    const kms = randomKms();
    const tx = await sendOk(account0(), silent, registerData(kms));
    const receipt = await chain.conn.publicClient.getTransactionReceipt({ hash: tx.txHash });
    expect(receipt.logs).toHaveLength(0);
    const file = writeJournal(kms, tx, silent);
    const err = await expectRefused(() => publishKms(opts(kms, { registry: silent })), "JOURNAL_RECEIPT_NO_EVENT", file, VerificationError);
    expect(err.message).toMatch(new RegExp(`${tx.txHash} journalled in .* succeeded but emitted no KmsRegistered`));
    expect(err.message).toMatch(/the journal is kept/);
  });

  it("an honest journal is still recovered and removed (control)", async () => {
    const kms = randomKms();
    const tx = await sendOk(account0(), chain.registry, registerData(kms));
    const file = writeJournal(kms, tx);
    const r = await publishKms(opts(kms));
    expect(r).toMatchObject({ status: "recovered", txHash: tx.txHash });
    expect(existsSync(file)).toBe(false);
    expect(await isRegistered(r.kms)).toBe(true);
  });
});

describe("publish succeeds only when isRegistered(kms) holds afterwards", () => {
  const revoke = (kms: Hex, extra: { nonce?: number; gas?: bigint } = {}) =>
    chain.wallet.writeContract({ address: chain.registry, abi: kmsRegistryAbi, functionName: "revoke", args: [kms, "compromised"], ...extra });

  it("already registered, but since revoked: NOT_REGISTERED_AFTER_PUBLISH, not 'already-registered'", async () => {
    const kms = randomKms();
    const first = await publishKms(opts(kms));
    expect(first.status).toBe("registered");
    await chain.conn.publicClient.waitForTransactionReceipt({ hash: await revoke(first.kms) });
    const err = await publishKms(opts(kms)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe("NOT_REGISTERED_AFTER_PUBLISH");
    expect((err as Error).message).toMatch(/isRegistered\(0x[0-9a-fA-F]{40}\) is false .*revoked/);
  });

  it("a recovered transaction followed in the same block by a revocation: NOT_REGISTERED_AFTER_PUBLISH, not 'recovered'", async () => {
    const kms = randomKms();
    await rpc("evm_setAutomine", [false]);
    try {
      const first = await publishKms(opts(kms, { receiptTimeoutMs: 300 })).catch((e: unknown) => e);
      expect((first as NetworkError).code).toBe("NOT_CONFIRMED");
      // The next nonce revokes the KMS; both are mined in one block, register first.
      await revoke(kmsAddressFromPubkey(kms.k256Pubkey), { nonce: await nonceOf(account0().address), gas: 200_000n });
      await rpc("evm_mine");
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    const err = await publishKms(opts(kms)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).code).toBe("NOT_REGISTERED_AFTER_PUBLISH");
  });

  it("a fresh registration revoked in the same block: NOT_REGISTERED_AFTER_PUBLISH, not 'registered'", async () => {
    const kms = randomKms();
    const kmsAddr = kmsAddressFromPubkey(kms.k256Pubkey);
    await rpc("evm_setAutomine", [false]);
    try {
      let sent!: () => void;
      const wasSent = new Promise<void>((r) => (sent = r));
      const run = publishKms(opts(kms, { onProgress: (s, d) => s === "send" && d.startsWith("sent") && sent() })).catch((e: unknown) => e);
      await wasSent;
      await revoke(kmsAddr, { nonce: await nonceOf(account0().address), gas: 200_000n });
      await rpc("evm_mine");
      const err = await run;
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).code).toBe("NOT_REGISTERED_AFTER_PUBLISH");
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    expect(await isRegistered(kmsAddr)).toBe(false);
  });
});
