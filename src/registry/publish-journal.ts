/**
 * The publish journal: before a `register` transaction is sent, what it is (chain, registry, KMS, quote
 * hash, account, nonce and, for a local account, the signed bytes) is written to a file; the file is removed
 * once the transaction is confirmed. A later run settles a journalled transaction instead of sending another:
 * it waits for it if pending, re-broadcasts the same signed bytes if the node forgot it (so the hash never
 * changes), or learns that its nonce was used.
 *
 * A journal is trusted only when it describes this very publish: its chain, registry, KMS, quote hash and
 * account are this run's, its signed transaction hashes to the recorded hash and is a `register` (or
 * `registerVerified`, `registerSnp`) call of this registry, on this chain, from the configured account, with
 * exactly this run's keys and quote (and, for `registerSnp`, its VCEK, AMD chain and CRL) (a
 * node-managed account's transaction is checked the same way as the node returns it). Anything else is an
 * error that keeps the journal (`JOURNAL_MISMATCH`, `JOURNAL_TAMPERED`, `BAD_JOURNAL`).
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";

import { decodeFunctionData, keccak256, parseTransaction, recoverTransactionAddress, type Chain, type PublicClient, type TransactionReceipt, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, NetworkError } from "../core/errors.js";
import { INPUT_KINDS, readInput, writeFileAtomic } from "../core/files.js";
import { shortMessage } from "./connect.js";
import { ensureWritableDir } from "./deployments.js";
import { kmsRegistryAbi } from "./generated/abi.js";

export const JOURNAL_FORMAT = "dstack-kms-registry/publish-journal@1";

export interface Journal {
  format: typeof JOURNAL_FORMAT;
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

/** What a journal must describe to be settled by this run. */
export interface JournalExpectation {
  file: string;
  chainId: number;
  registry: Hex;
  kms: Hex;
  quoteHash: Hex;
  /** The configured account. */
  from: Hex;
  /** This run's `register(caPubkey, k256Pubkey, quote)` arguments. */
  args: readonly [Hex, Hex, Hex];
  /** The registering function (default `register`; `registerVerified` for an on-chain-verified publish, `registerSnp` for an SEV-SNP KMS). */
  functionName?: "register" | "registerVerified" | "registerSnp" | "registerNitro";
  /** `registerSnp`: this run's VCEK, AMD chain and CRL arguments. */
  snpArgs?: readonly [Hex, Hex, Hex];
}

export function journalPath(dir: string, chainId: number, registry: string, quoteHash: string): string {
  return path.join(dir, "publish", `${chainId}-${registry.toLowerCase()}-${quoteHash.toLowerCase()}.json`);
}

const sameHex = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The journal at `file`, `undefined` when there is none; `BAD_JOURNAL` when it does not have the journal's shape. */
export async function readJournal(file: string): Promise<Journal | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    const j = JSON.parse(new TextDecoder().decode(await readInput(file, INPUT_KINDS.journal))) as Journal;
    if (!hasJournalShape(j)) throw new Error("not a publish journal");
    return j;
  } catch {
    throw new InputError("BAD_JOURNAL", `publish journal ${file} is unreadable; inspect it (it holds the last sent transaction) and remove it to continue`);
  }
}

function hasJournalShape(j: Journal): boolean {
  const hex = (v: unknown, chars?: number) => typeof v === "string" && (chars === undefined ? /^0x(?:[0-9a-fA-F]{2})*$/ : new RegExp(`^0x[0-9a-fA-F]{${chars}}$`)).test(v);
  return (
    j.format === JOURNAL_FORMAT &&
    Number.isSafeInteger(j.chainId) &&
    Number.isSafeInteger(j.nonce) &&
    hex(j.registry, 40) &&
    hex(j.kms, 40) &&
    hex(j.from, 40) &&
    hex(j.quoteHash, 64) &&
    (j.txHash === undefined || /^0x[0-9a-f]{64}$/.test(j.txHash)) &&
    (j.rawTx === undefined || hex(j.rawTx))
  );
}

export async function writeJournal(file: string, j: Journal): Promise<void> {
  await ensureWritableDir(path.dirname(file));
  await writeFileAtomic(file, JSON.stringify(j, null, 2) + "\n");
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
}

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
  const fn = want.functionName ?? "register";
  if (call.functionName !== fn) throw fail(`calls ${call.functionName}(), not ${fn}()`);
  const [caPubkey, k256Pubkey, quote] = call.args as unknown as readonly [Hex, Hex, Hex];
  if (!sameHex(k256Pubkey, want.args[1])) throw fail(`registers another k256 key, not KMS ${want.kms}`);
  if (!sameHex(caPubkey, want.args[0])) throw fail("registers another CA key");
  if (!sameHex(quote, want.args[2])) throw fail(`registers another quote (hash ${keccak256(quote)}), not ${want.quoteHash}`);
  if (fn === "registerSnp") {
    const [, , , vcek, amdChain, crl] = call.args as unknown as readonly [Hex, Hex, Hex, Hex, Hex, Hex];
    if (!want.snpArgs || !sameHex(vcek, want.snpArgs[0])) throw fail("publishes another VCEK");
    if (!sameHex(amdChain, want.snpArgs[1])) throw fail("publishes another AMD chain");
    if (!sameHex(crl, want.snpArgs[2])) throw fail("publishes another AMD CRL");
  }
}

/** The journal's fields and its signed transaction against this run (`JOURNAL_MISMATCH` / `JOURNAL_TAMPERED`). */
export async function checkJournal(j: Journal, want: JournalExpectation): Promise<void> {
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

/** What became of a journalled transaction. */
export type Settled = { kind: "mined"; receipt: TransactionReceipt } | { kind: "nonce-used" } | { kind: "never-sent" };

export interface SettleOptions {
  confirmations: number;
  /** How long to wait for a pending transaction (ms). */
  timeout: number;
  progress: (stage: "recover" | "wait", detail: string) => void;
}

/** Find out what became of the journalled transaction, waiting for it while it is pending. */
export async function settleJournal(publicClient: PublicClient<Transport, Chain>, j: Journal, want: JournalExpectation, opts: SettleOptions): Promise<Settled> {
  if (!j.txHash) return settleByNonce(publicClient, j, opts);
  const hash = j.txHash;
  const pending = await publicClient.getTransaction({ hash }).catch(() => undefined);
  // A signed transaction in the journal was checked already; a node-managed account's is checked as the node returns it.
  if (pending && !j.rawTx) {
    checkRegisterTx(want, { to: pending.to, from: pending.from, chainId: pending.chainId ?? want.chainId, nonce: pending.nonce, input: pending.input }, j.nonce, `the transaction ${hash} it names`);
  }
  const receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
  if (receipt) {
    if (!pending && !j.rawTx) throw new NetworkError("RECOVER_FAILED", `the RPC has a receipt for ${hash} but does not return the transaction to check against ${want.file}; re-run later`);
    if (opts.confirmations > 1) await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations, timeout: opts.timeout });
    return { kind: "mined", receipt };
  }
  if (pending) opts.progress("recover", `${hash} is still pending; waiting for it`);
  else {
    const lost = await settleUnknownToNode(publicClient, j, hash, opts);
    if (lost) return lost;
  }
  opts.progress("wait", `waiting for ${opts.confirmations} confirmation(s) of ${hash}`);
  const r = await publicClient.waitForTransactionReceipt({ hash, confirmations: opts.confirmations, timeout: opts.timeout, pollingInterval: publicClient.pollingInterval });
  return { kind: "mined", receipt: r };
}

const nonceAt = (publicClient: PublicClient<Transport, Chain>, from: Hex, blockTag: "latest" | "pending") => publicClient.getTransactionCount({ address: from, blockTag });

/** Hash unknown: wait while something is pending at the journalled nonce, then let the event check decide. */
async function settleByNonce(publicClient: PublicClient<Transport, Chain>, j: Journal, opts: SettleOptions): Promise<Settled> {
  const deadline = Date.now() + opts.timeout;
  while ((await nonceAt(publicClient, j.from, "latest")) <= j.nonce) {
    if ((await nonceAt(publicClient, j.from, "pending")) <= j.nonce) return { kind: "never-sent" };
    if (Date.now() > deadline) throw new NetworkError("RECOVER_TIMEOUT", `a transaction with nonce ${j.nonce} from ${j.from} is still pending; re-run later`);
    opts.progress("recover", `a transaction with nonce ${j.nonce} is pending; waiting for it`);
    await new Promise((r) => setTimeout(r, publicClient.pollingInterval));
  }
  return { kind: "nonce-used" };
}

/**
 * The node knows neither the transaction nor its receipt: its nonce was used by another one, or it never
 * reached the node (a node-managed account), or it is re-broadcast from the journal's signed bytes (a local
 * account; `undefined` then: wait for it).
 */
async function settleUnknownToNode(publicClient: PublicClient<Transport, Chain>, j: Journal, hash: Hex, opts: SettleOptions): Promise<Settled | undefined> {
  if ((await nonceAt(publicClient, j.from, "latest")) > j.nonce) return { kind: "nonce-used" };
  if (!j.rawTx) return (await nonceAt(publicClient, j.from, "pending")) <= j.nonce ? { kind: "never-sent" } : undefined;
  opts.progress("recover", `the node does not know ${hash}; re-broadcasting the same signed transaction`);
  try {
    await publicClient.sendRawTransaction({ serializedTransaction: j.rawTx });
  } catch (e) {
    if ((await nonceAt(publicClient, j.from, "latest")) > j.nonce) return { kind: "nonce-used" };
    if (!/known|already/i.test(shortMessage(e))) {
      throw new NetworkError("SEND_FAILED", `re-broadcasting ${hash} failed: ${shortMessage(e)}`, { cause: e });
    }
  }
  return undefined;
}
