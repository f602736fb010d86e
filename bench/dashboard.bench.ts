/**
 * The dashboard on N (default 1,000) registrations on a real `hardhat node`. Prints one JSON object.
 *
 *   npx tsx bench/dashboard.bench.ts            (DASHBOARD_BENCH_N changes N)
 *
 * Method: N `register` transactions of the real 5006-byte `tdx_quote` re-bound to fresh keys (signed locally,
 * sent with automine off, mined until the pool is empty); then time (a) the first snapshot (the audit's scan
 * and checks, a `kmsInfo` + `isImageAllowed` read per KMS, the on-chain events' scan, block times, each quote's
 * collateral-free checks), (b) a poll after 5 blocks without registry logs (no rebuild), (c) the rebuild after
 * one more registration (quote results cached), (d) the audit alone over the same blocks (for comparison),
 * (e) rendering the overview and one KMS page, and the size of the overview and of `/api/snapshot`.
 */
import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { encodeFunctionData, type Hex } from "viem";

import { bytesToHex, concatBytes } from "../src/core/bytes.js";
import { LiveRegistry } from "../src/dashboard/live.js";
import { auditRegistry } from "../src/registry/audit.js";
import { renderKms, renderOverview } from "../src/dashboard/render.js";
import { apiJson } from "../src/dashboard/server.js";
import { P256_SPKI_PREFIX } from "../src/dcap/p256.js";
import { parseQuote } from "../src/dcap/quote.js";
import { expectedKmsReportData } from "../src/dstack/binding.js";
import { accountFromEnv, connect, walletFor } from "../src/registry/connect.js";
import { deployRegistry } from "../src/registry/deploy.js";
import { kmsRegistryAbi } from "../src/registry/generated/abi.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode } from "../src/testing/devnode.js";
import { REAL_TDX_QUOTE as QUOTE } from "../test/registry/chain-helpers.js";

const N = Number(process.env.DASHBOARD_BENCH_N ?? 1000);
const log = (m: string) => process.stderr.write(`[dashboard.bench] ${m}\n`);

async function main() {
  const node = await startDevNode();
  try {
    const conn = await connect(node.url, { timeoutMs: 300_000 });
    const account = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY });
    const wallet = walletFor(conn, account);
    const dep = await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, toolVersion: "bench" });
    const rdOffset = parseQuote(QUOTE).bodyOffset + 520;
    const rpc = (method: string, params: unknown[] = []) => conn.publicClient.request({ method: method as never, params: params as never });
    const tx = (i: number, nonce: number, fees: { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint }) => {
      const ca = concatBytes(P256_SPKI_PREFIX, p256.getPublicKey(p256.utils.randomSecretKey(), false));
      const k256 = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
      const quote = QUOTE.slice();
      quote.set(expectedKmsReportData(ca, k256), rdOffset);
      const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: "register", args: [bytesToHex(ca), bytesToHex(k256), bytesToHex(quote)] });
      void i;
      return account.signTransaction!({ chainId: conn.chainId, type: "eip1559", to: dep.address, data, nonce, gas: 400_000n, maxFeePerGas: fees.maxFeePerGas! * 2n, maxPriorityFeePerGas: fees.maxPriorityFeePerGas! });
    };
    const nonce0 = await conn.publicClient.getTransactionCount({ address: account.address });
    const fees = await conn.publicClient.estimateFeesPerGas();
    const raws: Hex[] = [];
    for (let i = 0; i < N; i++) raws.push(await tx(i, nonce0 + i, fees));
    await rpc("evm_setAutomine", [false]);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < raws.length) await rpc("eth_sendRawTransaction", [raws[next++]!]);
    }));
    for (;;) {
      await rpc("evm_mine");
      if ((await conn.publicClient.getTransactionCount({ address: account.address, blockTag: "latest" })) >= nonce0 + N) break;
    }
    await rpc("evm_setAutomine", [true]);
    log(`registered ${N} KMS identities`);

    const live = new LiveRegistry({ publicClient: conn.publicClient, registry: dep.address, fromBlock: BigInt(dep.block), deploymentSource: "deployment record", intervalMs: 3_600_000 });
    let t = performance.now();
    await live.start();
    const firstMs = performance.now() - t;
    log(`first snapshot: ${(firstMs / 1000).toFixed(2)} s`);

    await rpc("hardhat_mine", ["0x5"]);
    t = performance.now();
    await live.tick();
    const quietMs = performance.now() - t;
    const quietRebuilds = live.rebuilds - 1;

    const n1 = await conn.publicClient.getTransactionCount({ address: account.address });
    await rpc("eth_sendRawTransaction", [await tx(N, n1, await conn.publicClient.estimateFeesPerGas())]);
    t = performance.now();
    await live.tick();
    const rebuildMs = performance.now() - t;

    // the audit alone (what `kms-registry audit` does), for comparison with a rebuild
    t = performance.now();
    await auditRegistry({ publicClient: conn.publicClient, registry: dep.address, fromBlock: BigInt(dep.block), concurrency: 16 });
    const auditMs = performance.now() - t;

    const snap = live.snapshot;
    t = performance.now();
    const overview = renderOverview(snap);
    const overviewMs = performance.now() - t;
    t = performance.now();
    renderKms(snap, snap.kms[0]!);
    const kmsPageMs = performance.now() - t;
    const snapshotJson = apiJson(snap);
    await live.stop();
    const r = (x: number) => Math.round(x * 10) / 10;
    process.stdout.write(
      JSON.stringify({
        bench: "dashboard",
        kms: snap.kms.length,
        events: snap.events,
        firstSnapshotMs: r(firstMs),
        quietPollMs: r(quietMs),
        quietPollRebuilds: quietRebuilds,
        rebuildAfterOneRegistrationMs: r(rebuildMs),
        auditAloneMs: r(auditMs),
        renderOverviewMs: r(overviewMs),
        renderKmsPageMs: r(kmsPageMs),
        overviewBytes: Buffer.byteLength(overview),
        snapshotJsonBytes: Buffer.byteLength(snapshotJson),
        cpu: "2 cores shared with other work",
      }) + "\n",
    );
  } finally {
    await node.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
