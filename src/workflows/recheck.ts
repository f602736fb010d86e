/**
 * Rechecking a registered KMS on chain: the registry's `recheck(kms, quote, collateral)` with Intel's current
 * collateral for the quote the KMS registered. The quote comes from the KMS's `KmsRegistered` event whose
 * quote hash is the record's; the collateral from the caller (a file, a PCCS). The call is simulated first —
 * a revert (junk or expired collateral, a rollback, no verifier) is reported with its decoded reason and
 * nothing is sent — then sent (unless `dryRun`) and its `KmsRechecked` result read back.
 */
import { decodeEventLog, encodeEventTopics, getAddress, hexToBytes, keccak256, pad, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { KmsRegistryError, NetworkError } from "../core/errors.js";
import type { Collateral } from "../dcap/types.js";
import { TCB_STATUSES } from "../dcap/types.js";
import { readKms, registryErrorAbi, revertReason } from "../registry/client.js";
import { kmsRegistryAbi } from "../registry/generated/abi.js";
import { scanLogs } from "../registry/logs.js";
import { toOnChainCollateral } from "../registry/verifier.js";

export interface RecheckParameters {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  registry: Hex;
  kms: Hex;
  /** Where to start looking for the KMS's registration (the registry's deployment block). */
  fromBlock?: bigint;
  loadCollateral: (quote: Uint8Array) => Promise<Collateral>;
  dryRun?: boolean;
  confirmations?: number;
  onProgress?: (stage: "state" | "collateral" | "simulate" | "send" | "wait", detail: string) => void;
}

export interface RecheckResult {
  kms: Hex;
  quoteHash: Hex;
  /** What the recheck concludes (from the simulation, and from the event when sent). */
  stale: boolean;
  tcbStatus: string | null;
  collateralExpiry: number;
  dryRun: boolean;
  txHash?: Hex;
  block?: number;
  gasUsed?: bigint;
  /** The KMS was stale before the recheck. */
  wasStale: boolean;
}

export async function recheckKms(p: RecheckParameters): Promise<RecheckResult> {
  const progress = p.onProgress ?? (() => {});
  const kms = getAddress(p.kms) as Hex;
  const info = await readKms(p.publicClient, p.registry, kms);
  if (!info.active) {
    throw new KmsRegistryError("KMS_NOT_REGISTERED", `KMS ${kms} is ${info.revoked ? "revoked" : "not registered"} on registry ${p.registry}; there is nothing to recheck`);
  }
  progress("state", `KMS ${kms}: ${info.path} path, quote hash ${info.quoteHash}${info.stale ? ", STALE" : ""}`);
  const quote = await registeredQuote(p, kms, info.quoteHash as Hex);
  progress("collateral", `for quote ${info.quoteHash}`);
  const collateral = toOnChainCollateral(quote, await p.loadCollateral(quote));
  const args = [kms, bytesHex(quote), collateral] as const;
  const account = p.walletClient.account;
  let simulated: boolean;
  try {
    ({ result: simulated } = await p.publicClient.simulateContract({ address: p.registry, abi: registryErrorAbi, functionName: "recheck", args, account }));
  } catch (e) {
    throw new KmsRegistryError("RECHECK_REVERTED", `recheck of KMS ${kms} would revert: ${revertReason(e)}; nothing was sent`, { cause: e });
  }
  progress("simulate", `the recheck would leave the KMS ${simulated ? "STALE" : "not stale"}`);
  if (p.dryRun) {
    const after = { stale: simulated, tcbStatus: info.tcbStatus, collateralExpiry: info.collateralExpiry };
    return { kms, quoteHash: info.quoteHash as Hex, ...after, dryRun: true, wasStale: info.stale };
  }
  let hash: Hex;
  try {
    hash = await p.walletClient.writeContract({ address: p.registry, abi: registryErrorAbi, functionName: "recheck", args, chain: p.walletClient.chain, account });
  } catch (e) {
    throw new NetworkError("RECHECK_REVERTED", `the recheck transaction was not accepted: ${revertReason(e)}`, { cause: e });
  }
  progress("send", `sent ${hash}`);
  const receipt = await p.publicClient.waitForTransactionReceipt({ hash, confirmations: p.confirmations ?? 1, timeout: 600_000 });
  if (receipt.status !== "success") throw new NetworkError("RECHECK_REVERTED", `recheck transaction ${hash} reverted in block ${receipt.blockNumber}`);
  progress("wait", `mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== p.registry.toLowerCase()) continue;
    try {
      const d = decodeEventLog({ abi: kmsRegistryAbi, data: log.data, topics: log.topics });
      if (d.eventName === "KmsRechecked") {
        return {
          kms,
          quoteHash: info.quoteHash as Hex,
          stale: d.args.stale,
          tcbStatus: TCB_STATUSES[d.args.tcbStatus] ?? null,
          collateralExpiry: Number(d.args.collateralExpiry),
          dryRun: false,
          txHash: hash,
          block: Number(receipt.blockNumber),
          gasUsed: receipt.gasUsed,
          wasStale: info.stale,
        };
      }
    } catch {
      // another event
    }
  }
  throw new NetworkError("RECHECK_REVERTED", `recheck transaction ${hash} was mined without a KmsRechecked event`);
}

const bytesHex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;

/** The quote of the KMS's `KmsRegistered` event whose hash is the record's. */
async function registeredQuote(p: RecheckParameters, kms: Hex, quoteHash: Hex): Promise<Uint8Array> {
  const topics = encodeEventTopics({ abi: kmsRegistryAbi, eventName: "KmsRegistered", args: { kms } as never }) as Hex[];
  let found: Uint8Array | undefined;
  await scanLogs({
    request: p.publicClient.request as never,
    address: p.registry,
    topics: [topics[0]!, pad(kms.toLowerCase() as Hex, { size: 32 }), quoteHash.toLowerCase() as Hex],
    fromBlock: p.fromBlock ?? 0n,
    toBlock: await p.publicClient.getBlockNumber({ cacheTime: 0 }),
    onLogs: (logs) => {
      for (const l of logs) {
        try {
          const d = decodeEventLog({ abi: kmsRegistryAbi, data: l.data, topics: l.topics as [Hex, ...Hex[]] });
          if (d.eventName !== "KmsRegistered") continue;
          const q = hexToBytes(d.args.quote);
          if (keccak256(q).toLowerCase() === quoteHash.toLowerCase()) found = q;
        } catch {
          // not a registration
        }
      }
    },
  });
  if (!found) throw new KmsRegistryError("KMS_NOT_REGISTERED", `no KmsRegistered event of KMS ${kms} with quote hash ${quoteHash} on registry ${p.registry} since block ${p.fromBlock ?? 0n}`);
  return found;
}
