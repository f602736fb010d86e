/**
 * `kms-registry watch` against a real `hardhat node`: the findings of a history (a registration whose quote
 * re-verifies under a forged DCAP root, one whose quote does not, a liveness proof, a hostile revocation), the
 * warnings before trouble (collateral expiring, liveness overdue after chain time moves on), the JSON-line
 * schema, the webhook with credentials that are never printed, SIGTERM (state flushed, exit 0), and bad input
 * (typed errors, exit 2).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parseWatchState } from "../../src/watch/state.js";
import { FINDING_SCHEMA, type Finding } from "../../src/watch/finding.js";
import { runCli, type RunResult } from "../helpers/cli.js";
import { randomKms, startChain, type TestChain, type TestKms } from "../registry/chain-helpers.js";
import { duplicateIds, forgedKms, forgedWorld, kmsAddr, mine, proveLive, publish, revoke, rpc, startReceiver, startWatch } from "./helpers.js";

let chain: TestChain;
let good: TestKms;
let bad: TestKms;
let files: { rootCa: string; collateral: string };
const HOSTILE = "compromised\u001b[2J\nkms-registry: all clear";

beforeAll(async () => {
  chain = await startChain();
  const w = await forgedWorld(chain.tmp);
  files = w;
  good = await forgedKms(w.world);
  bad = randomKms();
  await publish(chain, good);
  await publish(chain, bad);
  await proveLive(chain, good);
  await revoke(chain, bad, HOSTILE);
}, 60_000);

afterAll(async () => {
  await chain?.node.stop();
});

const of = (fs: Finding[], kind: string, k?: TestKms) => fs.filter((f) => f.kind === kind && (!k || f.kms?.toLowerCase() === kmsAddr(k)));

describe("watch: findings of a real history", () => {
  it("raises registrations, re-verification results, anomalies, liveness, revocation and warnings; POSTs each with the URL's credentials, never printed", async () => {
    const receiver = await startReceiver();
    const hook = receiver.url.replace("http://", "http://watcher:s3cr3t-pass@") + "?token=tok-XYZ-123";
    const state = `${chain.tmp}/basic.state.json`;
    const w = startWatch([
      ...["--registry", chain.registry, "--rpc", chain.node.url, "--deployments", chain.tmp, "--interval", "0.2", "--state", state],
      ...["--collateral", files.collateral, "--root-ca", files.rootCa, "--collateral-warn-days", "31", "--liveness-max-age", "3600", "--webhook", hook],
    ]);
    try {
      const fs = await w.until((f) => of(f, "revoked").length === 1 && of(f, "collateral-expiring").length === 1, "the history's findings");
      expect(of(fs, "registered").map((f) => f.kms!.toLowerCase())).toEqual([kmsAddr(good), kmsAddr(bad)]);
      expect(of(fs, "registered", good)[0]!.message).toMatch(/key binding ok; re-verified: verified: UpToDate \(NOT GENUINE/);
      expect(of(fs, "registered", good)[0]!.severity).toBe("info");
      // the real Intel quote re-bound to other keys: its signature no longer verifies
      expect(of(fs, "quote-not-verifiable", bad)).toEqual([expect.objectContaining({ severity: "critical", message: expect.stringMatching(/attestation #1 .*: [A-Z_]+: /) as unknown })]);
      expect(of(fs, "quote-not-verifiable", good)).toEqual([]);
      expect(of(fs, "liveness", good)).toHaveLength(1);
      const rev = of(fs, "revoked", bad)[0]!;
      expect(rev.severity).toBe("warning");
      // eslint-disable-next-line no-control-regex -- the point: no control character left
      expect(rev.message).not.toMatch(/[\u0000-\u001f]/);
      expect(rev.message).toContain("compromised");
      expect(of(fs, "collateral-expiring", good)[0]!.message).toMatch(/in (29|30)\.\d days \(warning at 31 days; the collateral it was re-verified with\)/);
      expect(of(fs, "liveness-overdue")).toEqual([]);
      // the schema: stable keys in a stable order, ids unique
      for (const f of fs) {
        expect(Object.keys(f)).toEqual(["schema", "id", "kind", "severity", "kms", "block", "blockHash", "tx", "message", "registry", "chainId"]);
        expect(f.schema).toBe(FINDING_SCHEMA);
        expect(f.id).toMatch(/^[0-9a-f]{32}$/);
        expect(f.chainId).toBe(31337);
      }
      expect(rev.tx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(duplicateIds(fs)).toEqual([]);
      // one human line per finding on stderr, the revoke reason unable to forge a line of its own
      const human = () => w.stderr().split("\n").filter((l) => l.startsWith("[watch] ") && / @\d+: /.test(l));
      await w.until(() => human().length >= fs.length, "the human lines");
      expect(human().length).toBe(fs.length);
      expect(human().find((l) => l.includes(" revoked "))).toMatch(/^\[watch\] WARNING revoked 0x[0-9a-fA-F]{40} @\d+: revoked by 0x/);
      expect(w.stderr()).not.toMatch(/^kms-registry: all clear/m);
      expect(w.stderr()).not.toContain("\u001b");

      // chain time moves on past the liveness max age: a warning, once
      await rpc(chain, "evm_increaseTime", [7200]);
      await mine(chain, 2);
      await w.until((f) => of(f, "liveness-overdue").length === 1, "liveness-overdue");
      await mine(chain, 3);
      await new Promise((r) => setTimeout(r, 600));
      expect(of(w.findings, "liveness-overdue")).toHaveLength(1);
      expect(of(w.findings, "liveness-overdue")[0]!.message).toMatch(/no liveness proof for \d+ s \(max 3600 s\): last proof in block \d+/);

      // the webhook got every finding, in order, with Basic auth from the URL's credentials
      await w.until(() => receiver.received.length === w.findings.length, "webhook deliveries");
      expect(receiver.received.map((r) => r.finding.id)).toEqual(w.findings.map((f) => f.id));
      expect(receiver.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from("watcher:s3cr3t-pass").toString("base64")}`);
      expect(receiver.received[0]!.headers["x-kms-registry-finding-id"]).toBe(w.findings[0]!.id);

      const code = await w.stop("SIGTERM");
      expect(code).toBe(0);
      const all = w.stderr() + JSON.stringify(w.findings);
      for (const secret of ["s3cr3t-pass", "tok-XYZ-123", "watcher:"]) expect(all).not.toContain(secret);
      expect(w.stderr()).toMatch(/webhook http:\/\/127\.0\.0\.1:\d+\/\*\*\*/);
      expect(w.stderr()).toMatch(/\[watch\] stopping: saving the state/);
      const s = parseWatchState(readFileSync(state, "utf8"), state);
      const head = Number(await chain.conn.publicClient.getBlockNumber({ cacheTime: 0 }));
      expect(s.nextBlock).toBe(head + 1);
      expect(s.webhook.queue).toEqual([]);
      expect(readFileSync(state, "utf8")).not.toContain("s3cr3t");
    } finally {
      await w.stop("SIGKILL");
      await receiver.stop();
    }
  });
});

describe("watch: bad input is a typed error, exit 2", () => {
  const base = () => ["watch", "--registry", chain.registry, "--rpc", chain.node.url, "--deployments", chain.tmp, "--interval", "0.2"];

  it("bad URLs and options", async () => {
    const [rpcBad, hook, interval, stray] = await Promise.all([
      runCli(["watch", "--registry", chain.registry, "--rpc", "ftp://example.org"]),
      runCli([...base(), "--webhook", "not a url user:pw@"]),
      runCli([...base(), "--interval", "soon"]),
      // (--root-ca alone is meaningful: the test ARK SEV-SNP registrations are re-verified under)
      runCli([...base(), "--accept", "UpToDate"]),
    ]);
    expect(rpcBad.code).toBe(2);
    expect(rpcBad.stderr).toMatch(/--rpc must be an http\(s\) URL/);
    expect(hook.code).toBe(2);
    expect(hook.stderr.trim().split("\n")).toEqual([expect.stringMatching(/--webhook must be an http\(s\) URL \(value not shown/)]);
    expect(interval.code).toBe(2);
    expect(interval.stderr).toMatch(/--interval must be a number of seconds/);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--accept only applies with --collateral or --pccs/);
  });

  it("a corrupt, unreadable or foreign state file", async () => {
    const dir = `${chain.tmp}/states`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/truncated.json`, '{"schema": "kms-registry.watch.state/1", "regis');
    writeFileSync(`${dir}/wrong.json`, JSON.stringify({ schema: "kms-registry.watch.state/1", registry: chain.registry, chainId: 31337, nextBlock: -4 }));
    const otherRegistry = JSON.parse(readFileSync(`${chain.tmp}/basic.state.json`, "utf8")) as Record<string, unknown>;
    writeFileSync(`${dir}/other.json`, JSON.stringify({ ...otherRegistry, registry: "0x000000000000000000000000000000000000dEaD" }));
    const [truncated, wrong, notFile, other, unwritable] = (await Promise.all(
      [`${dir}/truncated.json`, `${dir}/wrong.json`, dir, `${dir}/other.json`, `${dir}/no-such-dir/state.json`].map((f) => runCli([...base(), "--state", f])),
    )) as [RunResult, RunResult, RunResult, RunResult, RunResult];
    expect(truncated.code).toBe(2);
    expect(truncated.stderr.trim().split("\n")).toEqual([expect.stringMatching(/watch state ".*truncated\.json" is not valid JSON/)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/is corrupt: bad nextBlock/);
    expect(notFile.code).toBe(2);
    expect(notFile.stderr).toMatch(/cannot read watch state .*not a regular file \(a directory\)/);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/is of registry 0x000000000000000000000000000000000000dEaD on chain 31337, not 0x/);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/cannot write \(ENOENT\)/);
  });
});
