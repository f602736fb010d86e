/**
 * Publishing a verified KMS identity: `register(caPubkey, k256Pubkey, quote)` on the KmsRegistry.
 *
 * Idempotent and safe to interrupt: before sending, the signed raw transaction is written to a journal
 * file (write-ahead); the journal is removed once the transaction is confirmed. A re-run first settles a
 * journalled transaction (waits for it if pending, re-broadcasts the same signed bytes if the node forgot
 * it, so the hash never changes), then looks for a `KmsRegistered(kms, quoteHash)` event: the same quote
 * already registered means no new transaction.
 *
 * A journal is trusted only when it describes this very publish: its chain, registry, KMS, quote hash and
 * account are this run's, its signed transaction hashes to the recorded hash and is a `register` call of
 * this registry, on this chain, from the configured account, with exactly this run's keys and quote (a
 * node-managed account's transaction is checked the same way as the node returns it), and its receipt
 * carries this registry's `KmsRegistered(kms, quoteHash)`. Anything else is an error that keeps the journal.
 * Every successful outcome ends with `isRegistered(kms)` read back from the registry.
 *
 * Verification of the quote happens before this module is called (the CLI and the Hardhat script run the
 * full `verify` and refuse to publish when it fails).
 */
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import {
  BaseError,
  ContractFunctionRevertedError,
  decodeFunctionData,
  encodeEventTopics,
  encodeFunctionData,
  getAddress,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
  type Abi,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";

import { bytesToHex, type Hex } from "../core/bytes.js";
import { InputError, NetworkError, UsageError, VerificationError } from "../core/errors.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { readKms, registryRevert } from "./client.js";
import { shortMessage } from "./connect.js";
import { ensureWritableDir } from "./deployments.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { scanLogs, type RawLog } from "./logs.js";
import { ethAddress } from "../dstack/signatures.js";

export interface KmsIdentity {
  caPubkey: Uint8Array;
  k256Pubkey: Uint8Array;
  quote: Uint8Array;
}

export type PublishStage = "state" | "estimate" | "send" | "wait" | "recover";

export type PublishStatus = "registered" | "re-attested" | "already-registered" | "recovered" | "dry-run";

export interface PublishResult {
  status: PublishStatus;
  registry: Hex;
  chainId: number;
  kms: Hex;
  quoteHash: Hex;
  txHash?: Hex;
  blockNumber?: bigint;
  gasUsed?: bigint;
  estimatedGas?: bigint;
  /** Human sentence describing what happened (for the CLI). */
  message: string;
}

export interface PublishOptions {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  registry: Hex;
  identity: KmsIdentity;
  /** First block to look for earlier registrations (the deployment block). Default 0. */
  fromBlock?: bigint;
  confirmations?: number;
  /** Directory of the send journal. Default `defaultStateDir()`. */
  journalDir?: string;
  dryRun?: boolean;
  /** Extra ABI items (the artifact's custom errors) used to name reverts. */
  errorAbi?: Abi;
  /** How long to wait for a receipt (ms). Default 10 minutes. */
  receiptTimeoutMs?: number;
  onProgress?: (stage: PublishStage, detail: string) => void;
}

/** Where journals live: `$KMS_REGISTRY_STATE_DIR`, else `$XDG_STATE_HOME/kms-registry`, else `~/.local/state/kms-registry`. */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.KMS_REGISTRY_STATE_DIR) return env.KMS_REGISTRY_STATE_DIR;
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(base, "kms-registry");
}

interface Journal {
  format: "dstack-kms-registry/publish-journal@1";
  chainId: number;
  registry: Hex;
  kms: Hex;
  quoteHash: Hex;
  from: Hex;
  nonce: number;
  /** Unknown only for a node-managed account killed between the send and the node's answer. */
  txHash?: Hex;
  /** Local accounts: the signed transaction (public data), re-broadcast if the node dropped it. */
  rawTx?: Hex;
  sentAt: string;
}

export function journalPath(dir: string, chainId: number, registry: string, quoteHash: string): string {
  return path.join(dir, "publish", `${chainId}-${registry.toLowerCase()}-${quoteHash.toLowerCase()}.json`);
}

async function readJournal(file: string): Promise<Journal | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    const j = JSON.parse(new TextDecoder().decode(await readInput(file, INPUT_KINDS.journal))) as Journal;
    const hex = (v: unknown, chars?: number) => typeof v === "string" && (chars === undefined ? /^0x(?:[0-9a-fA-F]{2})*$/ : new RegExp(`^0x[0-9a-fA-F]{${chars}}$`)).test(v);
    if (
      j.format !== "dstack-kms-registry/publish-journal@1" ||
      !Number.isSafeInteger(j.chainId) ||
      !Number.isSafeInteger(j.nonce) ||
      !hex(j.registry, 40) ||
      !hex(j.kms, 40) ||
      !hex(j.from, 40) ||
      !hex(j.quoteHash, 64) ||
      (j.txHash !== undefined && !/^0x[0-9a-f]{64}$/.test(j.txHash)) ||
      (j.rawTx !== undefined && !hex(j.rawTx))
    ) {
      throw new Error("bad");
    }
    return j;
  } catch {
    throw new InputError("BAD_JOURNAL", `publish journal ${file} is unreadable; inspect it (it holds the last sent transaction) and remove it to continue`);
  }
}

/** What a journal must describe to be settled by this run. */
interface JournalExpectation {
  file: string;
  chainId: number;
  registry: Hex;
  kms: Hex;
  quoteHash: Hex;
  /** The configured account. */
  from: Hex;
  /** This run's `register(caPubkey, k256Pubkey, quote)` arguments. */
  args: readonly [Hex, Hex, Hex];
}

const sameHex = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function journalMismatch(file: string, what: string): InputError {
  return new InputError(
    "JOURNAL_MISMATCH",
    `publish journal ${file} does not belong to this publish: ${what}; nothing was sent. Inspect it (it names a transaction an earlier run sent) and remove it to publish afresh`,
    { details: { journal: file } },
  );
}

function journalTampered(file: string, what: string): InputError {
  return new InputError("JOURNAL_TAMPERED", `publish journal ${file} is inconsistent: ${what}; nothing was sent. Inspect it and remove it to publish afresh`, {
    details: { journal: file },
  });
}

/** A transaction (as signed in the journal, or as the node returns it) must be this run's `register` call. */
function checkRegisterTx(
  want: JournalExpectation,
  tx: { to?: string | null; from: string; chainId?: number; nonce?: number; input?: Hex },
  journalNonce: number,
  what: string,
): void {
  const fail = (why: string) => journalMismatch(want.file, `${what} ${why}`);
  if (tx.chainId !== want.chainId) throw fail(`is for chain ${tx.chainId ?? "(none)"}, not for chain ${want.chainId}`);
  if (!tx.to || !sameHex(tx.to, want.registry)) throw fail(`is sent to ${tx.to ?? "(contract creation)"}, not to the registry ${want.registry}`);
  if (!sameHex(tx.from, want.from)) throw fail(`is signed by ${tx.from}, not by the configured account ${want.from}`);
  if (tx.nonce !== journalNonce) throw fail(`has nonce ${tx.nonce ?? "(none)"}, the journal says ${journalNonce}`);
  let call: ReturnType<typeof decodeFunctionData<typeof kmsRegistryAbi>>;
  try {
    call = decodeFunctionData({ abi: kmsRegistryAbi, data: tx.input ?? "0x" });
  } catch {
    throw fail("is not a call of a registry function");
  }
  if (call.functionName !== "register") throw fail(`calls ${call.functionName}(), not register()`);
  const [caPubkey, k256Pubkey, quote] = call.args;
  if (!sameHex(k256Pubkey, want.args[1])) throw fail(`registers another k256 key, not KMS ${want.kms}`);
  if (!sameHex(caPubkey, want.args[0])) throw fail("registers another CA key");
  if (!sameHex(quote, want.args[2])) throw fail(`registers another quote (hash ${keccak256(quote)}), not ${want.quoteHash}`);
}

/** The journal's fields and its signed transaction against this run (`JOURNAL_MISMATCH` / `JOURNAL_TAMPERED`). */
async function checkJournal(j: Journal, want: JournalExpectation): Promise<void> {
  const { file } = want;
  if (j.chainId !== want.chainId) throw journalMismatch(file, `it names chain ${j.chainId}, the RPC serves chain ${want.chainId}`);
  if (!sameHex(j.registry, want.registry)) throw journalMismatch(file, `it names registry ${j.registry}, not ${want.registry}`);
  if (!sameHex(j.quoteHash, want.quoteHash)) throw journalMismatch(file, `it names quote hash ${j.quoteHash}, not this quote's ${want.quoteHash}`);
  if (!sameHex(j.kms, want.kms)) throw journalMismatch(file, `it names KMS ${j.kms}, not ${want.kms}`);
  if (!sameHex(j.from, want.from)) throw journalMismatch(file, `it names account ${j.from}, not the configured account ${want.from}`);
  if (j.rawTx === undefined) return;
  if (j.txHash === undefined) throw journalTampered(file, "it holds a signed transaction but no transaction hash");
  const rawHash = keccak256(j.rawTx);
  if (rawHash !== j.txHash) throw journalTampered(file, `its signed transaction hashes to ${rawHash}, not to the recorded ${j.txHash}`);
  let tx: ReturnType<typeof parseTransaction>;
  let signer: Hex;
  try {
    tx = parseTransaction(j.rawTx);
    signer = await recoverTransactionAddress({ serializedTransaction: j.rawTx as Parameters<typeof recoverTransactionAddress>[0]["serializedTransaction"] });
  } catch (e) {
    throw journalTampered(file, `its signed transaction does not decode (${shortMessage(e)})`);
  }
  checkRegisterTx(want, { to: tx.to, from: signer, chainId: tx.chainId, nonce: tx.nonce, input: tx.data }, j.nonce, "its signed transaction");
}

/** `KmsRegistered(kms, quoteHash, …)` emitted by `registry`: its address, the event's signature and the kms and quoteHash topics. */
function isRegistrationLog(log: { address: string; topics: readonly (string | null)[]; removed?: boolean }, registry: Hex, kms: Hex, quoteHash: Hex): boolean {
  const want = encodeEventTopics({ abi: kmsRegistryAbi, eventName: "KmsRegistered", args: { kms, quoteHash } }) as (Hex | null)[];
  return (
    log.removed !== true &&
    sameHex(log.address, registry) &&
    log.topics.length === want.length &&
    want.every((t, i) => t === null || (typeof log.topics[i] === "string" && sameHex(log.topics[i]!, t)))
  );
}

/** Success needs the KMS active on the registry afterwards: `isRegistered(kms)`, else `NOT_REGISTERED_AFTER_PUBLISH`. */
async function requireRegistered(publicClient: PublicClient<Transport, Chain>, registry: Hex, kms: Hex, txHash: Hex): Promise<void> {
  const active = (await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] })) as boolean;
  if (active) return;
  const { revoked } = await readKms(publicClient, registry, kms);
  throw new VerificationError(
    "NOT_REGISTERED_AFTER_PUBLISH",
    `this quote's KmsRegistered event for KMS ${kms} is on chain (tx ${txHash}) but isRegistered(${kms}) is false on ${registry}${revoked ? ": the KMS has been revoked, and a revoked KMS cannot be registered again" : ""}; not published`,
  );
}

async function writeJournal(file: string, j: Journal): Promise<void> {
  await ensureWritableDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(j, null, 2) + "\n");
  await rename(tmp, file);
}

/** Name a contract revert (`ReportDataMismatch(...)`) from a viem error, or give its short message. */
export function revertReason(e: unknown): string {
  const custom = registryRevert(e);
  if (custom) return `${custom.name}(${custom.args.map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ")})`;
  if (e instanceof BaseError) {
    const r = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (r instanceof ContractFunctionRevertedError) {
      if (r.reason) return r.reason;
      if (r.signature) return `unknown custom error ${r.signature}`;
    }
  }
  return shortMessage(e);
}

/** Find `KmsRegistered(kms, quoteHash)` events (both indexed) from `fromBlock` to the latest block. */
export async function findRegistrations(
  publicClient: PublicClient<Transport, Chain>,
  registry: Hex,
  kms: Hex,
  quoteHash: Hex | null,
  fromBlock: bigint,
  toBlock?: bigint,
): Promise<RawLog[]> {
  const topics = encodeEventTopics({ abi: kmsRegistryAbi, eventName: "KmsRegistered", args: { kms, ...(quoteHash ? { quoteHash } : {}) } });
  const latest = toBlock ?? (await publicClient.getBlockNumber({ cacheTime: 0 }));
  if (fromBlock > latest) return [];
  const { logs } = await scanLogs({
    request: publicClient.request as never,
    address: registry,
    topics: topics as Hex[],
    fromBlock,
    toBlock: latest,
    initialRange: 50_000n,
    maxRange: 1_000_000n,
  });
  return logs;
}

/** Register (or re-attest) a KMS identity; see the module comment for idempotency and recovery. */
export async function publishKms(opts: PublishOptions): Promise<PublishResult> {
  const { publicClient, walletClient, registry, identity } = opts;
  const progress = opts.onProgress ?? (() => {});
  const chainId = publicClient.chain.id;
  const account = walletClient.account;
  const kms = getAddress(ethAddress(identity.k256Pubkey)) as Hex;
  const quoteHash = keccak256(identity.quote);
  const base = { registry, chainId, kms, quoteHash };
  const confirmations = opts.confirmations ?? 1;
  const timeout = opts.receiptTimeoutMs ?? 600_000;
  const fromBlock = opts.fromBlock ?? 0n;
  const abi = [...kmsRegistryAbi, ...(opts.errorAbi ?? []).filter((x) => x.type === "error")] as Abi;
  const journalFile = journalPath(opts.journalDir ?? defaultStateDir(), chainId, registry, quoteHash);

  const args = [bytesToHex(identity.caPubkey), bytesToHex(identity.k256Pubkey), bytesToHex(identity.quote)] as const;

  // 1. Settle a transaction a previous run sent but did not see confirmed, once the journal proves to be this publish's.
  const journal = await readJournal(journalFile);
  if (journal) {
    const want: JournalExpectation = { file: journalFile, chainId, registry, kms, quoteHash, from: account.address as Hex, args };
    await checkJournal(journal, want);
    progress("recover", `found an unconfirmed transaction ${journal.txHash ?? "(hash not recorded)"} from an earlier run (nonce ${journal.nonce})`);
    const settled = await settleJournal(publicClient, journal, want, confirmations, timeout, progress);
    if (settled.kind === "mined" && settled.receipt.status === "success") {
      const hash = settled.receipt.transactionHash;
      if (!settled.receipt.logs.some((l) => isRegistrationLog(l, registry, kms, quoteHash))) {
        throw new VerificationError(
          "JOURNAL_RECEIPT_NO_EVENT",
          `the transaction ${hash} journalled in ${journalFile} succeeded but emitted no KmsRegistered(${kms}, ${quoteHash}) from ${registry}; the journal is kept: inspect it and remove it to publish afresh`,
          { details: { journal: journalFile } },
        );
      }
      await rm(journalFile, { force: true });
      await requireRegistered(publicClient, registry, kms, hash);
      return {
        ...base,
        status: "recovered",
        txHash: settled.receipt.transactionHash,
        blockNumber: settled.receipt.blockNumber,
        gasUsed: settled.receipt.gasUsed,
        message: `the transaction sent by an earlier run was mined: ${settled.receipt.transactionHash} in block ${settled.receipt.blockNumber}`,
      };
    }
    await rm(journalFile, { force: true });
    if (settled.kind === "mined") progress("recover", `the earlier transaction ${journal.txHash} reverted; starting over`);
    else if (settled.kind === "nonce-used") progress("recover", `nonce ${journal.nonce} of ${journal.from} is used; checking the registry's events`);
    else progress("recover", `the earlier transaction never reached the node; starting over`);
  }

  // 2. Read state: is this exact quote already registered for this KMS?
  progress("state", `looking for KmsRegistered(${kms}, ${quoteHash}) from block ${fromBlock}`);
  const existing = (await findRegistrations(publicClient, registry, kms, quoteHash, fromBlock)).filter((l) => isRegistrationLog(l, registry, kms, quoteHash));
  const active = (await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] })) as boolean;
  if (existing.length > 0) {
    const last = existing[existing.length - 1]!;
    if (!active) await requireRegistered(publicClient, registry, kms, last.transactionHash);
    return {
      ...base,
      status: "already-registered",
      txHash: last.transactionHash,
      blockNumber: BigInt(last.blockNumber),
      message: `this quote is already registered for KMS ${kms} (tx ${last.transactionHash}, block ${BigInt(last.blockNumber)}); no transaction sent`,
    };
  }
  const role = (await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "REGISTRAR_ROLE" })) as Hex;
  const hasRole = (await publicClient.readContract({
    address: registry,
    abi: kmsRegistryAbi,
    functionName: "hasRole",
    args: [role, account.address],
  })) as boolean;
  if (!hasRole) throw new VerificationError("NOT_REGISTRAR", `account ${account.address} does not hold REGISTRAR_ROLE on ${registry}; ask the registry admin to grant it`);

  // 3. Estimate (simulating names any custom error before anything is signed).
  let gas: bigint;
  try {
    await publicClient.simulateContract({ address: registry, abi, functionName: "register", args, account });
    gas = await publicClient.estimateContractGas({ address: registry, abi, functionName: "register", args, account });
  } catch (e) {
    throw new VerificationError("REGISTER_REJECTED", `the registry would reject register(): ${revertReason(e)}`, { cause: e });
  }
  progress("estimate", `register() for ${kms} (${active ? "re-attestation" : "new registration"}) needs about ${gas} gas`);
  if (opts.dryRun) {
    return { ...base, status: "dry-run", estimatedGas: gas, message: `dry run: would ${active ? "re-attest" : "register"} KMS ${kms} (about ${gas} gas); nothing sent` };
  }

  // 4. Sign, journal, send.
  const pendingNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const minedNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "latest" });
  if (pendingNonce > minedNonce) {
    progress("send", `note: ${account.address} has ${pendingNonce - minedNonce} pending transaction(s) not sent by this journal`);
  }
  const request = await walletClient.prepareTransactionRequest({
    account,
    to: registry,
    data: encodeFunctionData({ abi: kmsRegistryAbi, functionName: "register", args }),
    gas: (gas * 12n) / 10n,
    nonce: pendingNonce,
    chain: publicClient.chain,
  });
  const journalBase = {
    format: "dstack-kms-registry/publish-journal@1" as const,
    chainId,
    registry,
    kms,
    quoteHash,
    from: account.address as Hex,
    nonce: pendingNonce,
    sentAt: new Date().toISOString(),
  };
  let txHash: Hex;
  if (account.type === "local") {
    // Sign locally, journal the signed bytes, then send: a re-run can always find or re-broadcast it.
    const rawTx = (await walletClient.signTransaction(request as never)) as Hex;
    txHash = keccak256(rawTx);
    await writeJournal(journalFile, { ...journalBase, txHash, rawTx });
    try {
      await publicClient.sendRawTransaction({ serializedTransaction: rawTx });
    } catch (e) {
      // The node did not take it: nothing is pending, so the journal must not claim otherwise.
      await rm(journalFile, { force: true });
      throw new NetworkError("SEND_FAILED", `the RPC refused the transaction: ${shortMessage(e)}`, { cause: e });
    }
  } else {
    // A node-managed account (e.g. Hardhat's): journal the nonce first, the hash once the node answers.
    await writeJournal(journalFile, journalBase);
    try {
      txHash = await walletClient.sendTransaction(request as never);
    } catch (e) {
      await rm(journalFile, { force: true });
      throw new NetworkError("SEND_FAILED", `the RPC refused the transaction: ${shortMessage(e)}`, { cause: e });
    }
    await writeJournal(journalFile, { ...journalBase, txHash });
  }
  progress("send", `sent ${txHash} (nonce ${pendingNonce})`);

  // 5. Wait for confirmations.
  progress("wait", `waiting for ${confirmations} confirmation(s)`);
  let receipt: Receipt;
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash: txHash, confirmations, timeout, pollingInterval: publicClient.pollingInterval });
  } catch (e) {
    // Timed out or lost the RPC while waiting: the transaction may still be mined. The journal stays, so a
    // re-run settles this very transaction instead of sending another.
    throw new NetworkError(
      "NOT_CONFIRMED",
      `sent ${txHash} but did not see it confirmed (${shortMessage(e)}); it is journalled in ${journalFile}: re-run the same publish to pick it up (no second transaction is sent)`,
      { cause: e },
    );
  }
  await rm(journalFile, { force: true });
  if (receipt.status !== "success") {
    throw new VerificationError("REGISTER_REVERTED", `register() transaction ${txHash} reverted in block ${receipt.blockNumber}`);
  }
  if (!receipt.logs.some((l) => isRegistrationLog(l, registry, kms, quoteHash))) {
    throw new VerificationError("NO_EVENT", `transaction ${txHash} succeeded but emitted no KmsRegistered(${kms}, ${quoteHash}) from ${registry}`);
  }
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  await requireRegistered(publicClient, registry, kms, txHash);
  return {
    ...base,
    status: active ? "re-attested" : "registered",
    txHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    message: `${active ? "re-attested" : "registered"} KMS ${kms}: tx ${txHash} in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`,
  };
}

type Receipt = Awaited<ReturnType<PublicClient["getTransactionReceipt"]>>;
type Settled = { kind: "mined"; receipt: Receipt } | { kind: "nonce-used" } | { kind: "never-sent" };

async function settleJournal(
  publicClient: PublicClient<Transport, Chain>,
  j: Journal,
  want: JournalExpectation,
  confirmations: number,
  timeout: number,
  progress: (stage: PublishStage, detail: string) => void,
): Promise<Settled> {
  const nonceAt = (blockTag: "latest" | "pending") => publicClient.getTransactionCount({ address: j.from, blockTag });
  if (!j.txHash) {
    // Hash unknown: settle by nonce. Wait while something is pending at that nonce, then let the event check decide.
    const deadline = Date.now() + timeout;
    while ((await nonceAt("latest")) <= j.nonce) {
      if ((await nonceAt("pending")) <= j.nonce) return { kind: "never-sent" };
      if (Date.now() > deadline) throw new NetworkError("RECOVER_TIMEOUT", `a transaction with nonce ${j.nonce} from ${j.from} is still pending; re-run later`);
      progress("recover", `a transaction with nonce ${j.nonce} is pending; waiting for it`);
      await new Promise((r) => setTimeout(r, publicClient.pollingInterval));
    }
    return { kind: "nonce-used" };
  }
  const hash = j.txHash;
  const pending = await publicClient.getTransaction({ hash }).catch(() => undefined);
  // A signed transaction in the journal was checked already; a node-managed account's is checked as the node returns it.
  if (pending && !j.rawTx) {
    checkRegisterTx(want, { to: pending.to, from: pending.from, chainId: pending.chainId ?? want.chainId, nonce: pending.nonce, input: pending.input }, j.nonce, `the transaction ${hash} it names`);
  }
  const receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
  if (receipt) {
    if (!pending && !j.rawTx) throw new NetworkError("RECOVER_FAILED", `the RPC has a receipt for ${hash} but does not return the transaction to check against ${want.file}; re-run later`);
    if (confirmations > 1) await publicClient.waitForTransactionReceipt({ hash, confirmations, timeout });
    return { kind: "mined", receipt };
  }
  if (!pending) {
    if ((await nonceAt("latest")) > j.nonce) return { kind: "nonce-used" };
    if (!j.rawTx) {
      if ((await nonceAt("pending")) <= j.nonce) return { kind: "never-sent" };
    } else {
      progress("recover", `the node does not know ${hash}; re-broadcasting the same signed transaction`);
      try {
        await publicClient.sendRawTransaction({ serializedTransaction: j.rawTx });
      } catch (e) {
        if ((await nonceAt("latest")) > j.nonce) return { kind: "nonce-used" };
        if (!/known|already/i.test(shortMessage(e))) {
          throw new NetworkError("SEND_FAILED", `re-broadcasting ${hash} failed: ${shortMessage(e)}`, { cause: e });
        }
      }
    }
  } else {
    progress("recover", `${hash} is still pending; waiting for it`);
  }
  progress("wait", `waiting for ${confirmations} confirmation(s) of ${hash}`);
  const r = await publicClient.waitForTransactionReceipt({ hash, confirmations, timeout, pollingInterval: publicClient.pollingInterval });
  return { kind: "mined", receipt: r };
}

/** Validate the shapes of an identity before anything touches the network (`InputError`). */
export function checkIdentityShape(id: KmsIdentity): void {
  if (id.caPubkey.length !== 91) throw new InputError("BAD_CA_PUBKEY", `ca_pubkey must be a 91-byte P-256 SubjectPublicKeyInfo, got ${id.caPubkey.length} bytes`);
  if (id.k256Pubkey.length !== 33) throw new InputError("BAD_K256_PUBKEY", `k256_pubkey must be 33 bytes (compressed), got ${id.k256Pubkey.length}`);
  if (id.quote.length < 48) throw new InputError("BAD_QUOTE", `quote is ${id.quote.length} bytes, too short to be a TDX quote`);
  if (!(id.k256Pubkey[0] === 2 || id.k256Pubkey[0] === 3)) throw new UsageError("k256_pubkey must start with 02 or 03");
}
