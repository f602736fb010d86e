/**
 * Re-checking a registration on chain with newer Intel collateral: the registered quote read back from the
 * registry's `KmsRegistered` event (its hash must be the record's), the collateral put in the verifier's
 * layout, `recheck(kms, quote, collateral)` simulated (its outcome: stale or not) and its gas estimated,
 * then, unless a dry run, sent and confirmed. `recheck` is permissionless: any funded account may send it.
 */
import { decodeEventLog, encodeFunctionData, keccak256, type Account, type Chain, type PublicClient, type TransactionReceipt, type Transport, type WalletClient } from "viem";

import { hexToBytes, type Hex } from "../core/bytes.js";
import { InputError, NetworkError, VerificationError } from "../core/errors.js";
import type { Collateral } from "../dcap/types.js";
import { readKms, readVerifiedOnChain, registryErrorAbi, revertReason, type KmsInfo } from "./client.js";
import { shortMessage } from "./connect.js";
import { decodeRegistryLog } from "./events.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { findRegistrations } from "./publish.js";
import { toOnChainCollateral } from "./verifier.js";

export type RecheckStage = "state" | "collateral" | "estimate" | "send" | "wait";

export interface RecheckOptions {
  publicClient: PublicClient<Transport, Chain>;
  /** The sender; needed unless `dryRun` (any account: recheck is permissionless). */
  walletClient?: WalletClient<Transport, Chain, Account>;
  /** The account the simulation runs as (default the wallet's). */
  from?: Hex;
  registry: Hex;
  kms: Hex;
  /** The collateral for the registered quote (a file, a PCCS). */
  loadCollateral: (quote: Uint8Array) => Promise<Collateral>;
  /** First block to look for the registration event (the deployment block). Default 0. */
  fromBlock?: bigint;
  confirmations?: number;
  dryRun?: boolean;
  onProgress?: (stage: RecheckStage, detail: string) => void;
}

/** The record's on-chain verification fields, before or after. */
export type RecheckRecord = Pick<KmsInfo, "path" | "tcbStatus" | "fmspc" | "stale" | "collateralExpiry" | "tcbEvaluationDataNumber" | "intelRoot"> & { isVerifiedOnChain: boolean };

export interface RecheckResult {
  registry: Hex;
  kms: Hex;
  quoteHash: Hex;
  /** The transaction that registered the quote (where it was read from). */
  registeredIn: Hex;
  /** The simulated outcome: the KMS would be (or stay) stale. */
  stale: boolean;
  estimatedGas: bigint;
  dryRun: boolean;
  txHash?: Hex;
  blockNumber?: bigint;
  gasUsed?: bigint;
  before: RecheckRecord;
  /** After the transaction (absent on a dry run). */
  after?: RecheckRecord;
}

async function record(publicClient: PublicClient<Transport, Chain>, registry: Hex, kms: Hex): Promise<RecheckRecord & { active: boolean; quoteHash: Hex }> {
  const k = await readKms(publicClient, registry, kms);
  return {
    active: k.active,
    quoteHash: k.quoteHash,
    path: k.path,
    tcbStatus: k.tcbStatus,
    fmspc: k.fmspc,
    stale: k.stale,
    collateralExpiry: k.collateralExpiry,
    tcbEvaluationDataNumber: k.tcbEvaluationDataNumber,
    intelRoot: k.intelRoot,
    isVerifiedOnChain: k.active ? await readVerifiedOnChain(publicClient, registry, kms) : false,
  };
}

/** Read the registered quote, estimate `recheck`, and (unless `dryRun`) send it; see the module comment. */
export async function recheckKms(opts: RecheckOptions): Promise<RecheckResult> {
  const { publicClient, registry, kms } = opts;
  const progress = opts.onProgress ?? (() => {});
  progress("state", `reading KMS ${kms} on ${registry}`);
  const { active, quoteHash, ...before } = await record(publicClient, registry, kms);
  if (!active) throw new InputError("KMS_NOT_REGISTERED", `KMS ${kms} is not registered (or is revoked) on ${registry}: nothing to recheck`);
  const logs = (await findRegistrations(publicClient, registry, kms, quoteHash, opts.fromBlock ?? 0n)).filter((l) => l.address.toLowerCase() === registry.toLowerCase());
  const ev = logs.map((l) => decodeRegistryLog(l)).findLast((e) => typeof e === "object" && e.kind === "registered");
  if (!ev || typeof ev !== "object" || ev.kind !== "registered") {
    throw new InputError("RECHECK_QUOTE_NOT_FOUND", `no KmsRegistered(${kms}, ${quoteHash}) event from block ${opts.fromBlock ?? 0n}: the registered quote cannot be read back`);
  }
  const quote = hexToBytes(ev.quote, "registered quote");
  if (keccak256(quote).toLowerCase() !== quoteHash.toLowerCase()) throw new VerificationError("RECHECK_QUOTE_NOT_FOUND", `the KmsRegistered event in ${ev.tx} carries a quote whose hash is not the record's ${quoteHash}`);
  progress("state", `registered quote ${quoteHash} read from ${ev.tx} (block ${ev.block}); record: ${before.path}, ${before.tcbStatus ?? "no status"}${before.stale ? ", stale" : ""}`);
  const collateral = await opts.loadCollateral(quote);
  const c = toOnChainCollateral(quote, collateral);
  progress("collateral", `TCB Info ${(c.tcbInfoJson.length - 2) / 2} bytes, QE Identity ${(c.qeIdentityJson.length - 2) / 2} bytes`);
  const account = opts.walletClient?.account ?? opts.from;
  const args = [kms, `0x${Buffer.from(quote).toString("hex")}`, c] as const;
  let stale: boolean;
  let gas: bigint;
  try {
    const sim = await publicClient.simulateContract({ address: registry, abi: registryErrorAbi, functionName: "recheck", args, ...(account ? { account } : {}) });
    stale = sim.result;
    gas = await publicClient.estimateContractGas({ address: registry, abi: registryErrorAbi, functionName: "recheck", args, ...(account ? { account } : {}) });
  } catch (e) {
    throw new VerificationError("RECHECK_REJECTED", `the registry would reject recheck(): ${revertReason(e)}`, { cause: e });
  }
  progress("estimate", `recheck() for ${kms} needs about ${gas} gas; the KMS would ${stale ? "be marked STALE" : "pass (not stale)"}`);
  const base = { registry, kms, quoteHash, registeredIn: ev.tx, stale, estimatedGas: gas, before };
  if (opts.dryRun) return { ...base, dryRun: true };
  const wallet = opts.walletClient;
  if (!wallet) throw new InputError("RECHECK_REJECTED", "recheck needs a signing account unless --dry-run");
  let txHash: Hex;
  try {
    txHash = await wallet.sendTransaction({ account: wallet.account, chain: publicClient.chain, to: registry, data: encodeFunctionData({ abi: kmsRegistryAbi, functionName: "recheck", args }), gas: (gas * 12n) / 10n });
  } catch (e) {
    throw new NetworkError("SEND_FAILED", `the RPC refused the transaction: ${shortMessage(e)}`, { cause: e });
  }
  progress("send", `sent ${txHash}`);
  let receipt: TransactionReceipt;
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash: txHash, confirmations: opts.confirmations ?? 1, pollingInterval: publicClient.pollingInterval });
  } catch (e) {
    throw new NetworkError("NOT_CONFIRMED", `sent ${txHash} but did not see it confirmed (${shortMessage(e)})`, { cause: e });
  }
  if (receipt.status !== "success") throw new VerificationError("RECHECK_REVERTED", `recheck() transaction ${txHash} reverted in block ${receipt.blockNumber}`);
  const event = receipt.logs
    .filter((l) => l.address.toLowerCase() === registry.toLowerCase())
    .map((l) => {
      try {
        return decodeEventLog({ abi: kmsRegistryAbi, data: l.data, topics: l.topics, strict: true });
      } catch {
        return undefined;
      }
    })
    .find((d) => d?.eventName === "KmsRechecked");
  if (!event) throw new VerificationError("RECHECK_REVERTED", `recheck() transaction ${txHash} emitted no KmsRechecked event`);
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  const { active: _a, quoteHash: _q, ...after } = await record(publicClient, registry, kms);
  return { ...base, stale: after.stale, dryRun: false, txHash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, after };
}
