/**
 * Running the on-chain DCAP verifier (`contracts/dcap/DcapVerifier.sol`) next to the TypeScript one: deploying
 * it under a trust root, calling `verify` through `eth_call`, its gas through `eth_estimateGas`, and the two
 * verdicts compared (accept/reject, TCB status, advisory IDs, FMSPC, the failing step).
 */
import { decodeFunctionResult, encodeDeployData, encodeFunctionData, getAddress, type Account, type Address, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import { bytesToHex, type Hex } from "../core/bytes.js";
import { NetworkError } from "../core/errors.js";
import { parseQuote } from "../dcap/quote.js";
import type { Collateral } from "../dcap/types.js";
import { shortMessage } from "./connect.js";
import { loadVerifierArtifact } from "./deploy.js";
import { dcapVerifierAbi } from "./generated/dcap-verifier-abi.js";
import { decodeVerifierRevert, fromOnChainResult, toOnChainCollateral, verifierRootArgs, type OnChainResult } from "./verifier.js";

/** One verifier's verdict in the terms both verifiers share. */
export type VerifierOutcome = { ok: true; status: string; advisoryIds: string[]; fmspc: string } | { ok: false; step: string };

/** The on-chain verifier's verdict: the shared terms, the gas of the call, and the full result or the revert. */
export type OnChainVerdict =
  | { ok: true; status: string; advisoryIds: string[]; fmspc: string; gasUsed: bigint; result: OnChainResult }
  | { ok: false; step: string; error: string; reason?: string; gasUsed: null };

/** Deploys a DcapVerifier whose trust root is the certificate `rootDer`; resolves to its address. */
export async function deployVerifier(publicClient: PublicClient, wallet: WalletClient<Transport, Chain | undefined, Account>, rootDer: Uint8Array): Promise<Address> {
  const { abi, bytecode } = loadVerifierArtifact();
  const data = encodeDeployData({ abi, bytecode, args: verifierRootArgs(rootDer) });
  let hash: Hex;
  try {
    hash = await wallet.sendTransaction({ account: wallet.account, chain: wallet.chain, data });
  } catch (e) {
    throw new NetworkError("DEPLOY_FAILED", `the DcapVerifier deployment was not accepted: ${shortMessage(e)}`, { cause: e });
  }
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new NetworkError("DEPLOY_REVERTED", `the DcapVerifier deployment reverted (tx ${hash})`);
  return getAddress(receipt.contractAddress);
}

/** Revert data of a failed call, searched through viem's error causes. */
export function revertDataOf(e: unknown): Hex | undefined {
  for (let x = e as { data?: unknown; raw?: unknown; cause?: unknown } | undefined; x; x = x.cause as typeof x) {
    if (typeof x.data === "string" && x.data.startsWith("0x")) return x.data as Hex;
    if (typeof x.raw === "string" && x.raw.startsWith("0x")) return x.raw as Hex;
    const inner = x.data as { data?: unknown } | undefined;
    if (inner && typeof inner === "object" && typeof inner.data === "string") return inner.data as Hex;
  }
  return undefined;
}

/**
 * `verify(quote, collateral, now)` of the verifier at `verifier` through `eth_call`, and on success its gas through
 * `eth_estimateGas` (the whole transaction: execution, intrinsic and calldata gas). A verifier revert is a
 * rejection naming its step; no code at the address or a call failing without revert data is a `NetworkError`.
 */
export async function verifyOnChain(publicClient: PublicClient, verifier: Address, quote: Uint8Array, collateral: Collateral, now: number): Promise<OnChainVerdict> {
  let code: Hex | undefined;
  try {
    code = await publicClient.getCode({ address: verifier });
  } catch (e) {
    throw new NetworkError("RPC_UNREACHABLE", `eth_getCode of the verifier failed: ${shortMessage(e)}`, { cause: e });
  }
  if (!code || code === "0x") throw new NetworkError("VERIFIER_NO_CODE", `no contract code at the verifier address ${verifier}`);
  let onChainCollateral;
  try {
    onChainCollateral = toOnChainCollateral(quote, collateral);
  } catch (e) {
    // nothing to send: an unparseable quote without a PCK chain in the collateral fails quote.parse, a
    // PCK chain or signing certificate that cannot be read fails pck.chain (the TypeScript verifier's steps)
    return { ok: false, step: parses(quote) ? "pck.chain" : "quote.parse", error: `not sent: the collateral cannot be put in the verifier's layout: ${shortMessage(e)}`, gasUsed: null };
  }
  const data = encodeFunctionData({ abi: dcapVerifierAbi, functionName: "verify", args: [bytesToHex(quote), onChainCollateral, BigInt(now)] });
  let ret: Hex | undefined;
  try {
    ret = (await publicClient.call({ to: verifier, data })).data;
  } catch (e) {
    const rd = revertDataOf(e);
    if (rd === undefined || rd === "0x") throw new NetworkError("VERIFIER_CALL_FAILED", `eth_call of the verifier failed without a verifier revert: ${shortMessage(e)}`, { cause: e });
    const r = decodeVerifierRevert(rd, { tcbInfo: collateral.tcbInfo });
    return { ok: false, step: r.step, error: r.error, ...(r.reason ? { reason: r.reason } : {}), gasUsed: null };
  }
  if (!ret || ret === "0x") throw new NetworkError("VERIFIER_CALL_FAILED", `the contract at ${verifier} returned nothing from verify (not a DcapVerifier?)`);
  let result: OnChainResult;
  try {
    result = fromOnChainResult(decodeFunctionResult({ abi: dcapVerifierAbi, functionName: "verify", data: ret }));
  } catch (e) {
    throw new NetworkError("VERIFIER_CALL_FAILED", `the contract at ${verifier} returned an undecodable result (not a DcapVerifier?): ${shortMessage(e)}`, { cause: e });
  }
  let gasUsed: bigint;
  try {
    gasUsed = await publicClient.estimateGas({ to: verifier, data });
  } catch (e) {
    throw new NetworkError("VERIFIER_CALL_FAILED", `eth_estimateGas of the verifier failed: ${shortMessage(e)}`, { cause: e });
  }
  return { ok: true, status: result.status, advisoryIds: result.advisoryIds, fmspc: result.fmspc, gasUsed, result };
}

function parses(quote: Uint8Array): boolean {
  try {
    parseQuote(quote);
    return true;
  } catch {
    return false;
  }
}

/** The fields in which two outcomes differ (empty: they agree). FMSPC compared as lower-case hex without 0x. */
export function outcomeDifferences(ts: VerifierOutcome, chain: VerifierOutcome): string[] {
  if (ts.ok !== chain.ok) return [`verdict: TypeScript ${ts.ok ? "accepts" : `rejects at ${ts.step}`}, on chain ${chain.ok ? "accepts" : `rejects at ${chain.step}`}`];
  if (!ts.ok || !chain.ok) {
    const a = ts as { step: string };
    const b = chain as { step: string };
    return a.step === b.step ? [] : [`failing step: TypeScript ${a.step}, on chain ${b.step}`];
  }
  const out: string[] = [];
  if (ts.status !== chain.status) out.push(`status: TypeScript ${ts.status}, on chain ${chain.status}`);
  const adv = (x: string[]) => x.join(",");
  if (adv(ts.advisoryIds) !== adv(chain.advisoryIds)) out.push(`advisory IDs: TypeScript [${ts.advisoryIds.join(", ")}], on chain [${chain.advisoryIds.join(", ")}]`);
  const fm = (x: string) => x.toLowerCase().replace(/^0x/, "");
  if (fm(ts.fmspc) !== fm(chain.fmspc)) out.push(`FMSPC: TypeScript ${fm(ts.fmspc)}, on chain ${fm(chain.fmspc)}`);
  return out;
}

/** The shared terms of an on-chain verdict. */
export function onChainOutcome(v: OnChainVerdict): VerifierOutcome {
  return v.ok ? { ok: true, status: v.status, advisoryIds: v.advisoryIds, fmspc: v.fmspc } : { ok: false, step: v.step };
}
