/**
 * The history a platform's watch test reads: on a real `hardhat node`, a sound registration and a debug one of
 * the platform (registered by the caller), then a TDX registration without collateral, always last (so a watch
 * that has reported it has reported the three).
 */
import { afterAll, beforeAll } from "vitest";

import { publishKms } from "../../src/registry/publish.js";
import type { Finding } from "../../src/watch/finding.js";
import { randomKms, startChain, type TestChain } from "../registry/chain-helpers.js";
import { kmsAddr } from "./helpers.js";

export interface PlatformHistory<R> {
  chain: TestChain;
  good: R;
  debug: R;
  /** The TDX KMS registered last. */
  tdx: string;
}

/** Writes the history before the file's tests (`ready` receives it), stops the node after them. */
export function usePlatformHistory<R>(register: (chain: TestChain) => Promise<{ good: R; debug: R }>, ready: (h: PlatformHistory<R>) => void): void {
  let chain: TestChain | undefined;
  beforeAll(async () => {
    chain = await startChain();
    const { good, debug } = await register(chain);
    const t = randomKms();
    await publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: t, journalDir: `${chain.tmp}/state` });
    ready({ chain, good, debug, tdx: kmsAddr(t) });
  }, 60_000);
  afterAll(async () => {
    await chain?.node.stop();
  });
}

/** The findings of `kind` about `kms`. */
export const findingsOf = (fs: Finding[], kind: string, kms: string): Finding[] => fs.filter((f) => f.kind === kind && f.kms?.toLowerCase() === kms.toLowerCase());

/** The watch options of a test chain's registry, polled every 0.2 s. */
export const watchBase = (chain: TestChain): string[] => ["--registry", chain.registry, "--rpc", chain.node.url, "--deployments", chain.tmp, "--interval", "0.2"];
