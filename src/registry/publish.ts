/**
 * Publishing a verified KMS identity: `register(caPubkey, k256Pubkey, quote)` on the KmsRegistry (REGISTRAR_ROLE),
 * or with `onChain` the permissionless `registerVerified(caPubkey, k256Pubkey, quote, collateral)`, which
 * verifies the quote on chain at the block's time (no role needed); an AMD SEV-SNP KMS (`identity.snp`) through
 * `registerSnp(caPubkey, k256Pubkey, report, vcek, amdChain, crl)` (REGISTRAR_ROLE); an AWS Nitro Enclave KMS
 * (`identity.nitro`) through `registerNitro(caPubkey, k256Pubkey, document)` (REGISTRAR_ROLE).
 *
 * Idempotent and safe to interrupt: before sending, the transaction is written to a journal file
 * (write-ahead, see `publish-journal.ts`); the journal is removed once the transaction is confirmed. A re-run
 * first settles a journalled transaction, then looks for a `KmsRegistered(kms, quoteHash)` event: the same
 * quote already registered means no new transaction. A settled journal counts only when its receipt carries
 * this registry's `KmsRegistered(kms, quoteHash)`. Every successful outcome ends with `isRegistered(kms)` read
 * back from the registry.
 *
 * Verification of the quote happens before this module is called (`publishKmsWorkflow` runs the full
 * verification and refuses to publish when it fails).
 */
import os from "node:os";
import path from "node:path";

import {
  encodeEventTopics,
  encodeFunctionData,
  getAddress,
  keccak256,
  type Abi,
  type Account,
  type Chain,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";

import { bytesToHex, type Hex } from "../core/bytes.js";
import { InputError, NetworkError, UsageError, VerificationError } from "../core/errors.js";
import { ethAddress } from "../dstack/signatures.js";
import { readKms, registryErrorAbi, revertReason } from "./client.js";
import { shortMessage } from "./connect.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { scanLogs, type RawLog } from "./logs.js";
import type { OnChainCollateral } from "./verifier.js";
import {
  JOURNAL_FORMAT,
  checkJournal,
  journalPath,
  readJournal,
  removeJournal,
  settleJournal,
  writeJournal,
  type Journal,
  type JournalExpectation,
} from "./publish-journal.js";

export interface KmsIdentity {
  caPubkey: Uint8Array;
  k256Pubkey: Uint8Array;
  /** The TDX quote, the raw SEV-SNP report when `snp` is given, the NSM attestation document when `nitro` is. */
  quote: Uint8Array;
  /**
   * An AMD SEV-SNP KMS: published through `registerSnp` with the VCEK (DER) and the ASK and ARK (PEM) its report was
   * verified with, and the AMD CRL (DER) its chain was checked against when there was one.
   */
  snp?: { vcek: Uint8Array; amdChain: Uint8Array; crl?: Uint8Array };
  /** An AWS Nitro Enclave KMS: published through `registerNitro` with its attestation document (`quote`). */
  nitro?: true;
}

export type PublishStage = "state" | "estimate" | "send" | "wait" | "recover";

/** The registry functions a publish calls. */
export type RegisterFunction = "register" | "registerVerified" | "registerSnp" | "registerNitro";

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
  /** Register through `registerVerified` with this collateral (the contract's layout): verified on chain, permissionless. */
  onChain?: { collateral: OnChainCollateral };
  onProgress?: (stage: PublishStage, detail: string) => void;
}

/** Where journals live: `$KMS_REGISTRY_STATE_DIR`, else `$XDG_STATE_HOME/kms-registry`, else `~/.local/state/kms-registry`. */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.KMS_REGISTRY_STATE_DIR) return env.KMS_REGISTRY_STATE_DIR;
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(base, "kms-registry");
}

const sameHex = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

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

/** One publish: its inputs and what is derived from them once. */
interface PublishRun {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  account: Account;
  registry: Hex;
  chainId: number;
  kms: Hex;
  quoteHash: Hex;
  /** `register(caPubkey, k256Pubkey, quote)` arguments. */
  args: readonly [Hex, Hex, Hex];
  /**
   * `register`, `registerVerified` (the same arguments and the collateral), `registerSnp` (the same arguments, the
   * VCEK, the AMD chain and the CRL) or `registerNitro` (the same arguments, the document as the quote).
   */
  functionName: RegisterFunction;
  /** `registerSnp`'s VCEK, AMD chain and CRL (`0x`: none) arguments. */
  snpArgs?: readonly [Hex, Hex, Hex];
  /** The arguments of `functionName`. */
  callArgs: readonly unknown[];
  /** The registry ABI plus the caller's custom errors. */
  abi: Abi;
  fromBlock: bigint;
  confirmations: number;
  timeout: number;
  journalFile: string;
  dryRun: boolean;
  progress: (stage: PublishStage, detail: string) => void;
  /** The fields every result carries. */
  base: Pick<PublishResult, "registry" | "chainId" | "kms" | "quoteHash">;
}

function publishRun(opts: PublishOptions): PublishRun {
  const { publicClient, walletClient, registry, identity } = opts;
  const chainId = publicClient.chain.id;
  const kms = getAddress(ethAddress(identity.k256Pubkey)) as Hex;
  const quoteHash = keccak256(identity.quote);
  const args = [bytesToHex(identity.caPubkey), bytesToHex(identity.k256Pubkey), bytesToHex(identity.quote)] as const;
  if (identity.snp && opts.onChain) throw new UsageError("an SEV-SNP KMS is published through registerSnp; registerVerified (on chain) verifies TDX quotes only");
  if (identity.nitro && opts.onChain) throw new UsageError("an AWS Nitro Enclave KMS is published through registerNitro; registerVerified (on chain) verifies TDX quotes only");
  const snpArgs = identity.snp ? ([bytesToHex(identity.snp.vcek), bytesToHex(identity.snp.amdChain), identity.snp.crl ? bytesToHex(identity.snp.crl) : "0x"] as const) : undefined;
  return {
    publicClient,
    walletClient,
    account: walletClient.account,
    registry,
    chainId,
    kms,
    quoteHash,
    args,
    functionName: snpArgs ? "registerSnp" : identity.nitro ? "registerNitro" : opts.onChain ? "registerVerified" : "register",
    ...(snpArgs ? { snpArgs } : {}),
    callArgs: snpArgs ? [...args, ...snpArgs] : opts.onChain ? [...args, opts.onChain.collateral] : args,
    abi: [...kmsRegistryAbi, ...(opts.onChain ? registryErrorAbi : []), ...(opts.errorAbi ?? []).filter((x) => x.type === "error")] as Abi,
    fromBlock: opts.fromBlock ?? 0n,
    confirmations: opts.confirmations ?? 1,
    timeout: opts.receiptTimeoutMs ?? 600_000,
    journalFile: journalPath(opts.journalDir ?? defaultStateDir(), chainId, registry, quoteHash),
    dryRun: opts.dryRun === true,
    progress: opts.onProgress ?? (() => {}),
    base: { registry, chainId, kms, quoteHash },
  };
}

/**
 * Register (or re-attest) a KMS identity: settle a journalled transaction of an earlier run, find an
 * existing registration of this quote, check the registrar role, estimate, send (journalled), confirm.
 */
export async function publishKms(opts: PublishOptions): Promise<PublishResult> {
  const run = publishRun(opts);
  const recovered = await recoverJournalled(run);
  if (recovered) return recovered;
  const state = await readRegistrationState(run);
  if (state.existing) return state.existing;
  // registerVerified is permissionless: the chain verifies the quote instead of trusting the registrar
  if (run.functionName !== "registerVerified") await requireRegistrar(run);
  const gas = await estimateRegister(run, state.active);
  if (run.dryRun) {
    return {
      ...run.base,
      status: "dry-run",
      estimatedGas: gas,
      message: `dry run: would ${state.active ? "re-attest" : "register"} KMS ${run.kms} through ${run.functionName}() (about ${gas} gas); nothing sent`,
    };
  }
  const txHash = await sendRegister(run, gas);
  const receipt = await confirmRegister(run, txHash);
  const status = state.active ? "re-attested" : "registered";
  return {
    ...run.base,
    status,
    txHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    message: `${status} KMS ${run.kms}: tx ${txHash} in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`,
  };
}

/** Settle a transaction a previous run sent but did not see confirmed, once the journal proves to be this publish's. */
async function recoverJournalled(run: PublishRun): Promise<PublishResult | undefined> {
  const { journalFile, kms, quoteHash, registry, progress } = run;
  const journal = await readJournal(journalFile);
  if (!journal) return undefined;
  const want: JournalExpectation = { file: journalFile, chainId: run.chainId, registry, kms, quoteHash, from: run.account.address as Hex, args: run.args, functionName: run.functionName, ...(run.snpArgs ? { snpArgs: run.snpArgs } : {}) };
  await checkJournal(journal, want);
  progress("recover", `found an unconfirmed transaction ${journal.txHash ?? "(hash not recorded)"} from an earlier run (nonce ${journal.nonce})`);
  const settled = await settleJournal(run.publicClient, journal, want, { confirmations: run.confirmations, timeout: run.timeout, progress });
  if (settled.kind === "mined" && settled.receipt.status === "success") {
    const { receipt } = settled;
    const hash = receipt.transactionHash;
    if (!receipt.logs.some((l) => isRegistrationLog(l, registry, kms, quoteHash))) {
      throw new VerificationError(
        "JOURNAL_RECEIPT_NO_EVENT",
        `the transaction ${hash} journalled in ${journalFile} succeeded but emitted no KmsRegistered(${kms}, ${quoteHash}) from ${registry}; the journal is kept: inspect it and remove it to publish afresh`,
        { details: { journal: journalFile } },
      );
    }
    await removeJournal(journalFile);
    await requireRegistered(run, hash);
    return {
      ...run.base,
      status: "recovered",
      txHash: hash,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      message: `the transaction sent by an earlier run was mined: ${hash} in block ${receipt.blockNumber}`,
    };
  }
  await removeJournal(journalFile);
  if (settled.kind === "mined") progress("recover", `the earlier transaction ${journal.txHash} reverted; starting over`);
  else if (settled.kind === "nonce-used") progress("recover", `nonce ${journal.nonce} of ${journal.from} is used; checking the registry's events`);
  else progress("recover", `the earlier transaction never reached the node; starting over`);
  return undefined;
}

/** Is this exact quote already registered for this KMS (`existing`), and is the KMS active (a re-attestation)? */
async function readRegistrationState(run: PublishRun): Promise<{ active: boolean; existing?: PublishResult }> {
  const { publicClient, registry, kms, quoteHash, fromBlock } = run;
  run.progress("state", `looking for KmsRegistered(${kms}, ${quoteHash}) from block ${fromBlock}`);
  const existing = (await findRegistrations(publicClient, registry, kms, quoteHash, fromBlock)).filter((l) => isRegistrationLog(l, registry, kms, quoteHash));
  const active = await isRegistered(run);
  const last = existing.at(-1);
  if (!last) return { active };
  if (!active) await requireRegistered(run, last.transactionHash);
  const block = BigInt(last.blockNumber);
  return {
    active,
    existing: {
      ...run.base,
      status: "already-registered",
      txHash: last.transactionHash,
      blockNumber: block,
      message: `this quote is already registered for KMS ${kms} (tx ${last.transactionHash}, block ${block}); no transaction sent`,
    },
  };
}

async function isRegistered(run: PublishRun): Promise<boolean> {
  return (await run.publicClient.readContract({ address: run.registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [run.kms] })) as boolean;
}

/** Success needs the KMS active on the registry afterwards: `isRegistered(kms)`, else `NOT_REGISTERED_AFTER_PUBLISH`. */
async function requireRegistered(run: PublishRun, txHash: Hex): Promise<void> {
  if (await isRegistered(run)) return;
  const { registry, kms } = run;
  const { revoked } = await readKms(run.publicClient, registry, kms);
  throw new VerificationError(
    "NOT_REGISTERED_AFTER_PUBLISH",
    `this quote's KmsRegistered event for KMS ${kms} is on chain (tx ${txHash}) but isRegistered(${kms}) is false on ${registry}${revoked ? ": the KMS has been revoked, and a revoked KMS cannot be registered again" : ""}; not published`,
  );
}

async function requireRegistrar(run: PublishRun): Promise<void> {
  const { publicClient, registry, account } = run;
  const role = (await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "REGISTRAR_ROLE" })) as Hex;
  const hasRole = (await publicClient.readContract({ address: registry, abi: kmsRegistryAbi, functionName: "hasRole", args: [role, account.address] })) as boolean;
  if (!hasRole) throw new VerificationError("NOT_REGISTRAR", `account ${account.address} does not hold REGISTRAR_ROLE on ${registry}; ask the registry admin to grant it`);
}

/** Simulate and estimate the registering call: simulating names any custom error before anything is signed (`REGISTER_REJECTED`). */
async function estimateRegister(run: PublishRun, active: boolean): Promise<bigint> {
  const { publicClient, registry, abi, callArgs, account, functionName } = run;
  let gas: bigint;
  try {
    await publicClient.simulateContract({ address: registry, abi, functionName, args: callArgs, account } as never);
    gas = await publicClient.estimateContractGas({ address: registry, abi, functionName, args: callArgs, account } as never);
  } catch (e) {
    throw new VerificationError("REGISTER_REJECTED", `the registry would reject ${functionName}(): ${revertReason(e)}`, { cause: e });
  }
  run.progress("estimate", `${functionName}() for ${run.kms} (${active ? "re-attestation" : "new registration"}) needs about ${gas} gas`);
  return gas;
}

/** Prepare, journal and send the `register()` transaction; returns its hash. */
async function sendRegister(run: PublishRun, gas: bigint): Promise<Hex> {
  const { publicClient, walletClient, account, journalFile } = run;
  const pendingNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  const minedNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "latest" });
  if (pendingNonce > minedNonce) {
    run.progress("send", `note: ${account.address} has ${pendingNonce - minedNonce} pending transaction(s) not sent by this journal`);
  }
  const request = await walletClient.prepareTransactionRequest({
    account,
    to: run.registry,
    data: encodeFunctionData({ abi: kmsRegistryAbi, functionName: run.functionName, args: run.callArgs } as never),
    gas: (gas * 12n) / 10n,
    nonce: pendingNonce,
    chain: publicClient.chain,
  });
  const journal: Journal = {
    format: JOURNAL_FORMAT,
    chainId: run.chainId,
    registry: run.registry,
    kms: run.kms,
    quoteHash: run.quoteHash,
    from: account.address as Hex,
    nonce: pendingNonce,
    sentAt: new Date().toISOString(),
  };
  const refused = async (e: unknown): Promise<never> => {
    // The node did not take it: nothing is pending, so the journal must not claim otherwise.
    await removeJournal(journalFile);
    throw new NetworkError("SEND_FAILED", `the RPC refused the transaction: ${shortMessage(e)}`, { cause: e });
  };
  let txHash: Hex;
  if (account.type === "local") {
    // Sign locally, journal the signed bytes, then send: a re-run can always find or re-broadcast it.
    const rawTx = (await walletClient.signTransaction(request as never)) as Hex;
    txHash = keccak256(rawTx);
    await writeJournal(journalFile, { ...journal, txHash, rawTx });
    await publicClient.sendRawTransaction({ serializedTransaction: rawTx }).catch(refused);
  } else {
    // A node-managed account (e.g. Hardhat's): journal the nonce first, the hash once the node answers.
    await writeJournal(journalFile, journal);
    txHash = await walletClient.sendTransaction(request as never).catch(refused);
    await writeJournal(journalFile, { ...journal, txHash });
  }
  run.progress("send", `sent ${txHash} (nonce ${pendingNonce})`);
  return txHash;
}

/** Wait for the confirmations; the receipt must be a success carrying this registry's `KmsRegistered(kms, quoteHash)`. */
async function confirmRegister(run: PublishRun, txHash: Hex): Promise<TransactionReceipt> {
  const { publicClient, confirmations, journalFile, registry, kms, quoteHash } = run;
  run.progress("wait", `waiting for ${confirmations} confirmation(s)`);
  let receipt: TransactionReceipt;
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash: txHash, confirmations, timeout: run.timeout, pollingInterval: publicClient.pollingInterval });
  } catch (e) {
    // Timed out or lost the RPC while waiting: the transaction may still be mined. The journal stays, so a
    // re-run settles this very transaction instead of sending another.
    throw new NetworkError(
      "NOT_CONFIRMED",
      `sent ${txHash} but did not see it confirmed (${shortMessage(e)}); it is journalled in ${journalFile}: re-run the same publish to pick it up (no second transaction is sent)`,
      { cause: e },
    );
  }
  await removeJournal(journalFile);
  if (receipt.status !== "success") {
    throw new VerificationError("REGISTER_REVERTED", `${run.functionName}() transaction ${txHash} reverted in block ${receipt.blockNumber}`);
  }
  if (!receipt.logs.some((l) => isRegistrationLog(l, registry, kms, quoteHash))) {
    throw new VerificationError("NO_EVENT", `transaction ${txHash} succeeded but emitted no KmsRegistered(${kms}, ${quoteHash}) from ${registry}`);
  }
  run.progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  await requireRegistered(run, txHash);
  return receipt;
}

/** Validate the shapes of an identity before anything touches the network (`InputError`). */
export function checkIdentityShape(id: KmsIdentity): void {
  if (id.caPubkey.length !== 91) throw new InputError("BAD_CA_PUBKEY", `ca_pubkey must be a 91-byte P-256 SubjectPublicKeyInfo, got ${id.caPubkey.length} bytes`);
  if (id.k256Pubkey.length !== 33) throw new InputError("BAD_K256_PUBKEY", `k256_pubkey must be 33 bytes (compressed), got ${id.k256Pubkey.length}`);
  if (id.quote.length < 48) throw new InputError("BAD_QUOTE", `quote is ${id.quote.length} bytes, too short to be a TDX quote`);
  if (!(id.k256Pubkey[0] === 2 || id.k256Pubkey[0] === 3)) throw new UsageError("k256_pubkey must start with 02 or 03");
}
