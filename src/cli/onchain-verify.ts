/**
 * `verify-quote --on-chain [RPC_URL]`: the on-chain DCAP verifier run next to the TypeScript one. Without a URL
 * on an embedded EDR chain (hardfork osaka) with a DcapVerifier deployed under the root the TypeScript
 * verification used; with a URL through `eth_call` against the verifier at `--verifier`. The verdicts are
 * compared in their shared terms (accept/reject, status, advisory IDs, FMSPC, failing step).
 */
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { UsageError } from "../core/errors.js";
import { redactUrl, sanitizeForTerminal } from "../core/sanitize.js";
import { INTEL_SGX_ROOT_CA_DER } from "../dcap/intel-root.js";
import type { Collateral } from "../dcap/types.js";
import { connect, parseAddress, parseRpcUrl, walletFor } from "../registry/connect.js";
import { deployVerifier, onChainOutcome, outcomeDifferences, verifyOnChain, type OnChainVerdict, type VerifierOutcome } from "../registry/onchain-verify.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY } from "../testing/devnode.js";
import { startEmbeddedNode } from "../testing/embedded-node.js";
import { optFlag, optString, type CommandContext, type OptionSpec } from "./framework.js";

export const ON_CHAIN_OPTIONS: Record<string, OptionSpec> = {
  "on-chain": { type: "boolean", description: "also run the on-chain verifier (embedded chain, or the RPC_URL positional through eth_call) and compare" },
  verifier: { type: "string", valueName: "ADDR", description: "with --on-chain RPC_URL: the deployed DcapVerifier" },
};

/** Where the on-chain verifier runs: the embedded chain, or a URL with a deployed verifier. */
export type OnChainTarget = { kind: "embedded" } | { kind: "rpc"; url: string; verifier: Address };

/**
 * `--on-chain [RPC_URL] [--verifier ADDR]` read from the options and positionals: the quote positional and the
 * target (undefined without --on-chain). The URL is the positional that is an http(s) URL.
 */
export function onChainOptions(ctx: CommandContext): { quotePath: string; target: OnChainTarget | undefined } {
  const onChain = optFlag(ctx, "on-chain");
  const verifierOpt = optString(ctx, "verifier");
  const pos = ctx.positionals;
  if (!onChain) {
    if (pos.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(pos[1])}`);
    if (verifierOpt !== undefined) throw new UsageError("--verifier applies only with --on-chain RPC_URL");
    return { quotePath: pos[0]!, target: undefined };
  }
  if (pos.length === 1) {
    if (verifierOpt !== undefined) throw new UsageError("--verifier needs --on-chain RPC_URL (without a URL the verifier is deployed on an embedded chain)");
    return { quotePath: pos[0]!, target: { kind: "embedded" } };
  }
  const isUrl = (s: string) => /^https?:\/\//i.test(s);
  const urls = pos.filter(isUrl);
  if (urls.length !== 1) throw new UsageError("--on-chain takes one RPC_URL (http or https) beside the quote file");
  const url = parseRpcUrl(urls[0]!);
  if (verifierOpt === undefined) throw new UsageError("--on-chain RPC_URL needs --verifier ADDR (the deployed DcapVerifier)");
  return { quotePath: pos.find((p) => !isUrl(p))!, target: { kind: "rpc", url, verifier: parseAddress(verifierOpt, "--verifier") } };
}

/** Both verdicts, whether they agree, and where the on-chain one ran. */
export interface OnChainComparison {
  verdict: OnChainVerdict;
  agree: boolean;
  differences: string[];
  where: string;
  verifier: Address;
  intelRoot: boolean | null;
}

/** Runs the on-chain verifier at `target` on the quote and collateral the TypeScript verifier used. */
export async function runOnChain(target: OnChainTarget, ts: VerifierOutcome, quote: Uint8Array, collateral: Collateral, now: number, rootCaDer: Uint8Array | undefined): Promise<OnChainComparison> {
  let verdict: OnChainVerdict;
  let verifier: Address;
  let where: string;
  if (target.kind === "rpc") {
    const conn = await connect(target.url);
    verifier = target.verifier;
    where = `eth_call on ${redactUrl(target.url)} (chain ${conn.chainId})`;
    verdict = await verifyOnChain(conn.publicClient, verifier, quote, collateral, now);
  } else {
    const node = await startEmbeddedNode();
    try {
      const conn = await connect(node.url, { pollingIntervalMs: 50 });
      // Hardhat's public dev account #0 of the embedded chain (never a user's key)
      verifier = await deployVerifier(conn.publicClient, walletFor(conn, privateKeyToAccount(HARDHAT_DEV_ACCOUNT_0_KEY)), rootCaDer ?? INTEL_SGX_ROOT_CA_DER);
      where = "embedded EDR chain (hardfork osaka)";
      verdict = await verifyOnChain(conn.publicClient, verifier, quote, collateral, now);
    } finally {
      await node.stop();
    }
  }
  const differences = outcomeDifferences(ts, onChainOutcome(verdict));
  return { verdict, agree: differences.length === 0, differences, where, verifier, intelRoot: verdict.ok ? verdict.result.isIntelRoot : null };
}

/** The `--json` members: `onChain` and `agree`. */
export function onChainJson(c: OnChainComparison): Record<string, unknown> {
  const v = c.verdict;
  return {
    onChain: v.ok
      ? { ok: true, status: v.status, advisoryIds: v.advisoryIds, fmspc: `0x${v.fmspc}`, gasUsed: Number(v.gasUsed), isIntelRoot: v.result.isIntelRoot, verifier: c.verifier, where: c.where }
      : { ok: false, status: null, advisoryIds: [], gasUsed: null, step: v.step, error: v.error, ...(v.reason ? { reason: v.reason } : {}), verifier: c.verifier, where: c.where },
    agree: c.agree,
    ...(c.agree ? {} : { differences: c.differences }),
  };
}

/** The human-readable lines: the on-chain verdict, its gas, and the agreement. */
export function onChainHuman(c: OnChainComparison, ts: VerifierOutcome): string {
  const v = c.verdict;
  const tsLine = ts.ok ? `valid: ${ts.status}${ts.advisoryIds.length ? ` [${ts.advisoryIds.join(", ")}]` : ""}, FMSPC ${ts.fmspc.replace(/^0x/, "").toUpperCase()}` : `rejected at ${ts.step}`;
  const chainLine = v.ok
    ? `valid: ${v.status}${v.advisoryIds.length ? ` [${v.advisoryIds.join(", ")}]` : ""}, FMSPC ${v.fmspc.toUpperCase()}${v.result.isIntelRoot ? "" : " (NOT GENUINE: the verifier's root is not Intel's)"}`
    : `rejected at ${v.step} (${v.error}${v.reason ? `: ${v.reason}` : ""})`;
  const lines = [
    "",
    `on-chain verifier ${c.verifier} — ${c.where}`,
    `  TypeScript: ${tsLine}`,
    `  on chain:   ${sanitizeForTerminal(chainLine)}`,
    `  gas:        ${v.ok ? `${v.gasUsed} (eth_estimateGas of a verify transaction: execution + intrinsic + calldata)` : "— (the call reverts)"}`,
    c.agree ? "  AGREE: both verifiers reached the same verdict" : `  DISAGREE: ${c.differences.join("; ")}`,
  ];
  return lines.join("\n") + "\n";
}
