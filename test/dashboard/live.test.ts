/**
 * The dashboard's live loop through an RPC outage, on a real `hardhat node` behind a real HTTP proxy that
 * can be switched off: a failed refresh keeps the last good snapshot, records a redacted one-line error (the
 * RPC URL's secret path never shows) and the page shows it; once the RPC is back the next poll rebuilds the
 * state and announces the events written meanwhile, each with its block, once. Blocks without registry logs
 * only move the head.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { secretRedactor } from "../../src/core/sanitize.js";
import { LiveRegistry, type LiveUpdate } from "../../src/dashboard/live.js";
import { renderOverview } from "../../src/dashboard/render.js";
import { connect } from "../../src/registry/connect.js";
import { publishKms } from "../../src/registry/publish.js";
import { randomKms, startChain, type TestChain } from "../registry/chain-helpers.js";

let chain: TestChain;
let proxy: http.Server;
let down = false;
const SECRET = "s3cr3t-api-key-0123456789";

beforeAll(async () => {
  chain = await startChain();
  const target = new URL(chain.node.url);
  proxy = http.createServer((req, res) => {
    if (down || req.url !== `/${SECRET}`) {
      res.writeHead(502, { "content-type": "text/plain" }).end("bad gateway");
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: "/", headers: { "content-type": "application/json" } }, (r) => {
      res.writeHead(r.statusCode ?? 502, { "content-type": "application/json" });
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
}, 60_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await chain?.node.stop();
});

const publish = () => publishKms({ publicClient: chain.conn.publicClient, walletClient: chain.wallet, registry: chain.registry, identity: randomKms(), journalDir: `${chain.tmp}/state` });

describe("dashboard live loop", () => {
  it("keeps the last snapshot through an RPC outage, shows a redacted error, and catches up once it is back", async () => {
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/${SECRET}`;
    const conn = await connect(url, { timeoutMs: 2000 });
    await publish();
    const updates: LiveUpdate[] = [];
    const errors: string[] = [];
    const live = new LiveRegistry({
      publicClient: conn.publicClient,
      registry: chain.registry,
      fromBlock: BigInt(chain.record.block),
      deploymentSource: "--from-block",
      intervalMs: 3_600_000, // polled by hand below
      redact: secretRedactor([url]),
      onError: (m) => errors.push(m),
      onUpdate: (u) => updates.push(u),
    });
    await live.start();
    const heard: LiveUpdate[] = [];
    live.subscribe((u) => heard.push(u));
    try {
      expect(live.snapshot.kms).toHaveLength(1);
      down = true;
      const written = await publish();
      await live.tick();
      expect(errors).toHaveLength(1);
      expect(live.snapshot.error).toBe(errors[0]);
      expect(live.snapshot.error).not.toContain(SECRET);
      expect(live.snapshot.error).not.toContain("\n");
      expect(live.snapshot.kms).toHaveLength(1); // the last good data
      await live.tick(); // still down, same error: said once
      expect(errors).toHaveLength(1);
      expect(heard).toEqual([{ head: live.snapshot.registry.head, events: [], error: errors[0] }]);
      const page = renderOverview(live.snapshot);
      expect(page).toContain("The last refresh failed");
      expect(page).not.toContain(SECRET);
      down = false;
      await live.tick();
      expect(live.snapshot.error).toBeNull();
      expect(live.snapshot.kms).toHaveLength(2);
      expect(updates).toHaveLength(1);
      expect(heard.at(-1)).toMatchObject({ error: null });
      expect(updates[0]!.events).toEqual([expect.objectContaining({ kind: "registered", block: Number(written.blockNumber), kms: written.kms })]);
      // nothing new: no refresh, no announcement
      await live.tick();
      expect(updates).toHaveLength(1);
      // blocks without registry logs move the head without a rebuild; a block with one rebuilds
      const builds = live.rebuilds;
      await chain.conn.publicClient.request({ method: "hardhat_mine" as never, params: ["0x5"] as never });
      await live.tick();
      expect(live.rebuilds).toBe(builds);
      expect(live.snapshot.registry.head).toBe(Number(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 })));
      expect(heard.at(-1)).toEqual({ head: live.snapshot.registry.head, events: [], error: null });
      const third = await publish();
      await live.tick();
      expect(live.rebuilds).toBe(builds + 1);
      expect(live.snapshot.kms).toHaveLength(3);
      expect(updates.at(-1)!.events).toEqual([expect.objectContaining({ block: Number(third.blockNumber) })]);
    } finally {
      await live.stop();
    }
  });
});
