/**
 * Audit of N (default 10,000) registrations on a real local JSON-RPC node (`hardhat node` as a child
 * process). Prints one JSON object.
 *
 *   npx tsx bench/audit.bench.ts            (N = 10000; set AUDIT_BENCH_N to change)
 *
 * Method:
 * - start `hardhat node`, deploy the registry with dev account #0;
 * - make N KMS identities (fresh P-256 CA key + secp256k1 root key) whose quote is the real 5006-byte
 *   `tdx_quote` with report_data re-bound to the keys; sign N `register` transactions locally with
 *   consecutive nonces, send them with automine off (parallel `eth_sendRawTransaction`), then `evm_mine`
 *   until the pool is empty;
 * - time `auditRegistry` (event scan in adaptive `eth_getLogs` ranges + decoding + per-event quote-hash,
 *   KMS-address, quote-parse and report_data binding checks + registrar role check), without and with the
 *   per-KMS `isRegistered` cross-check;
 * - `--reverify` per-quote cost on a sample: (a) the audit's reverify of registered quotes (re-bound, so
 *   Intel's signature no longer covers them and verification rejects them: the cost of a rejection),
 *   (b) full successful DCAP verification of the genuine `tdx_quote` with its collateral (shared cache, as
 *   the audit uses), which is the per-quote cost for a registry of genuine quotes.
 */
import { readFileSync } from "node:fs";

import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { encodeFunctionData, type Hex } from "viem";

import { expectedKmsReportData } from "../src/dstack/binding.js";
import { P256_SPKI_PREFIX } from "../src/dcap/p256.js";
import { parseCollateralJson } from "../src/dcap/collateral.js";
import { parseQuote } from "../src/dcap/quote.js";
import { createVerificationCache } from "../src/dcap/cache.js";
import { checkQuote } from "../src/dcap/verify.js";
import { bytesToHex, concatBytes } from "../src/core/bytes.js";
import { auditRegistry } from "../src/registry/audit.js";
import { accountFromEnv, connect, walletFor } from "../src/registry/connect.js";
import { deployRegistry } from "../src/registry/deploy.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode } from "../src/testing/devnode.js";
import { kmsRegistryAbi } from "../src/registry/generated/abi.js";

const N = Number(process.env.AUDIT_BENCH_N ?? 10_000);
const FIX = new URL("../test/fixtures/dcap/", import.meta.url);
const QUOTE = new Uint8Array(readFileSync(new URL("tdx_quote", FIX)));
const COLLATERAL = parseCollateralJson(readFileSync(new URL("tdx_quote_collateral.json", FIX), "utf8"));
const NOW = 1752919234;
const log = (m: string) => process.stderr.write(`[audit.bench] ${m}\n`);

async function main() {
  const node = await startDevNode();
  try {
    const conn = await connect(node.url, { timeoutMs: 300_000 });
    const account = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY });
    const wallet = walletFor(conn, account);
    const dep = await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, toolVersion: "bench" });
    const rdOffset = parseQuote(QUOTE).bodyOffset + 520;
    const rpc = (method: string, params: unknown[] = []) => conn.publicClient.request({ method: method as never, params: params as never });

    let t = performance.now();
    const nonce0 = await conn.publicClient.getTransactionCount({ address: account.address });
    const fees = await conn.publicClient.estimateFeesPerGas();
    const raws: Hex[] = [];
    for (let i = 0; i < N; i++) {
      const ca = concatBytes(P256_SPKI_PREFIX, p256.getPublicKey(p256.utils.randomSecretKey(), false));
      const k256 = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
      const quote = QUOTE.slice();
      quote.set(expectedKmsReportData(ca, k256), rdOffset);
      const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: "register", args: [bytesToHex(ca), bytesToHex(k256), bytesToHex(quote)] });
      raws.push(
        await account.signTransaction!({
          chainId: conn.chainId,
          type: "eip1559",
          to: dep.address,
          data,
          nonce: nonce0 + i,
          gas: 400_000n,
          maxFeePerGas: fees.maxFeePerGas! * 2n,
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas!,
        }),
      );
    }
    const prepareMs = performance.now() - t;
    log(`prepared ${N} signed register() transactions in ${(prepareMs / 1000).toFixed(1)} s`);

    t = performance.now();
    await rpc("evm_setAutomine", [false]);
    const CONC = 16;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (next < raws.length) {
          const i = next++;
          await rpc("eth_sendRawTransaction", [raws[i]!]);
        }
      }),
    );
    let blocks = 0;
    for (;;) {
      await rpc("evm_mine");
      blocks++;
      const pending = (await rpc("eth_getBlockTransactionCountByNumber", ["pending"])) as string | null;
      const mined = await conn.publicClient.getTransactionCount({ address: account.address, blockTag: "latest" });
      if (mined >= nonce0 + N) break;
      if (blocks % 20 === 0) log(`mined ${blocks} blocks, ${mined - nonce0}/${N} registered (pending ${pending})`);
    }
    await rpc("evm_setAutomine", [true]);
    const registerMs = performance.now() - t;
    const toBlock = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
    log(`registered ${N} KMS identities in ${blocks} blocks, ${(registerMs / 1000).toFixed(1)} s`);

    t = performance.now();
    const a = await auditRegistry({ publicClient: conn.publicClient, registry: dep.address, fromBlock: BigInt(dep.block), toBlock, crossCheckState: false });
    const scanMs = performance.now() - t;
    const failed = a.kms.reduce((n, k) => n + k.checks.filter((c) => !c.ok).length, 0);
    log(`audit (scan + binding checks): ${(scanMs / 1000).toFixed(2)} s, ${a.events} events, ${a.anomalies.length} anomalies`);

    t = performance.now();
    const b = await auditRegistry({ publicClient: conn.publicClient, registry: dep.address, fromBlock: BigInt(dep.block), toBlock, crossCheckState: true, concurrency: 16 });
    const fullMs = performance.now() - t;
    log(`audit with isRegistered cross-check: ${(fullMs / 1000).toFixed(2)} s`);

    // --reverify per-quote cost on a sample
    const SAMPLE = Math.min(50, N);
    const cache = createVerificationCache();
    t = performance.now();
    let rejected = 0;
    const logs = await auditRegistry({
      publicClient: conn.publicClient,
      registry: dep.address,
      fromBlock: BigInt(dep.block),
      toBlock: BigInt(dep.block) + 3n,
      crossCheckState: false,
      reverify: async (q) => {
        const out = checkQuote(q, { collateral: COLLATERAL, now: NOW, cache });
        if (!out.ok) rejected++;
        return out.ok ? { ok: true, detail: out.result.status } : { ok: false, detail: out.error.code };
      },
    });
    const reverifyAuditMs = performance.now() - t;
    const reverifiedInAudit = logs.kms.reduce((n, k) => n + k.checks.filter((c) => c.name === "reverify").length, 0);
    t = performance.now();
    let genuineOk = 0;
    for (let i = 0; i < SAMPLE; i++) if (checkQuote(QUOTE, { collateral: COLLATERAL, now: NOW, cache }).ok) genuineOk++;
    const genuineMs = performance.now() - t;
    const coldCache = createVerificationCache();
    t = performance.now();
    const cold = checkQuote(QUOTE, { collateral: COLLATERAL, now: NOW, cache: coldCache });
    const coldMs = performance.now() - t;

    const out = {
      bench: "audit",
      registrations: N,
      events: a.events,
      blocksScanned: Number(toBlock) - dep.block + 1,
      quoteBytes: QUOTE.length,
      node: "hardhat node (EDR) over HTTP JSON-RPC on 127.0.0.1",
      scanAndBindingChecks: {
        seconds: +(scanMs / 1000).toFixed(2),
        targetSeconds: 60,
        withinTarget: scanMs < 60_000,
        perEventMs: +(scanMs / a.events).toFixed(3),
        getLogsRequests: a.rpc.requests,
        failedChecks: failed,
        anomalies: a.anomalies.length,
      },
      withIsRegisteredCrossCheck: { seconds: +(fullMs / 1000).toFixed(2), anomalies: b.anomalies.length },
      reverifyPerQuote: {
        sample: SAMPLE,
        reboundQuotesInAudit: { quotes: reverifiedInAudit, rejected, msPerQuote: reverifiedInAudit ? +(reverifyAuditMs / reverifiedInAudit).toFixed(2) : null, note: "report_data re-bound, so Intel's signature fails: cost of a rejection, includes the event scan of a few blocks" },
        genuineQuoteWarmCache: { verified: genuineOk, msPerQuote: +(genuineMs / SAMPLE).toFixed(2) },
        genuineQuoteColdCache: { ok: cold.ok, ms: +coldMs.toFixed(2) },
      },
      setup: { prepareSeconds: +(prepareMs / 1000).toFixed(1), registerSeconds: +(registerMs / 1000).toFixed(1), blocksMined: blocks },
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  } finally {
    await node.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`audit.bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});

