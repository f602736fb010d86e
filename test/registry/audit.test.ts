import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256 } from "viem";

import { bytesToHex } from "../../src/core/bytes.js";
import { auditRegistry } from "../../src/registry/audit.js";
import { checkRegistration, rebuildState } from "../../src/registry/audit-state.js";
import type { AuditEvent } from "../../src/registry/events.js";
import { accountFromEnv, connect, walletFor } from "../../src/registry/connect.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { publishKms } from "../../src/registry/publish.js";
import { envEncryptMessageV1, ethAddress, signMessage } from "../../src/dstack/signatures.js";
import { runCli } from "../helpers/cli.js";
import { randomKms, startChain, type TestChain, type TestKms } from "./chain-helpers.js";
import { startLogLimitProxy } from "./rpc-proxy.js";

let chain: TestChain;
const addr = (k: TestKms) => ethAddress(k.k256Pubkey);
let kA: TestKms, kB: TestKms, kC: TestKms, kD: TestKms;

async function mine(n: number) {
  await chain.conn.publicClient.request({ method: "hardhat_mine" as never, params: [`0x${n.toString(16)}`] as never });
}

async function wait(hash: `0x${string}`) {
  const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  expect(r.status).toBe("success");
}

beforeAll(async () => {
  chain = await startChain();
  const pc = chain.conn.publicClient;
  const pub = (k: TestKms, wallet = chain.wallet) =>
    publishKms({ publicClient: pc, walletClient: wallet, registry: chain.registry, identity: k, journalDir: `${chain.tmp}/state` });
  [kA, kB, kC, kD] = [randomKms(), randomKms(), randomKms(), randomKms()];
  await pub(kA);
  await mine(5000);
  await pub(kB);
  await mine(3000);
  await pub(kC);
  // re-attest A with another quote for the same keys
  const q2 = kA.quote.slice();
  q2[200] = q2[200]! ^ 1;
  await pub({ ...kA, quote: q2 });
  await mine(4000);
  // revoke B
  await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "revoke", args: [addr(kB), "key compromised"] }));
  // liveness for C, signed with C's root key
  const epoch = await pc.readContract({ address: chain.registry, abi, functionName: "livenessEpoch" });
  const challenge = await pc.readContract({ address: chain.registry, abi, functionName: "livenessChallengeAt", args: [addr(kC), epoch] });
  const ts = (await pc.getBlock()).timestamp;
  const x25519 = new Uint8Array(32).fill(7);
  const sig = signMessage(envEncryptMessageV1(Buffer.from(challenge.slice(2), "hex"), ts, x25519), kC.k256Secret);
  await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "proveLiveness", args: [addr(kC), epoch, bytesToHex(x25519), ts, bytesToHex(sig)] }));
  // a second registrar registers D, then loses the role
  const second = walletFor(chain.conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }));
  const role = await pc.readContract({ address: chain.registry, abi, functionName: "REGISTRAR_ROLE" });
  await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "grantRole", args: [role, second.account.address] }));
  await pub(kD, second);
  await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "revokeRole", args: [role, second.account.address] }));
}, 120_000);

afterAll(async () => {
  await chain?.node.stop();
});

function expectHistory(r: Awaited<ReturnType<typeof auditRegistry>>) {
  const by = (k: TestKms) => r.kms.find((x) => x.address.toLowerCase() === addr(k))!;
  expect(r.kms).toHaveLength(4);
  expect(by(kA).status).toBe("active");
  expect(by(kA).attestations).toHaveLength(2);
  expect(by(kB).status).toBe("revoked");
  expect(by(kB).revokedAt).toBeGreaterThan(by(kB).registeredAt);
  expect(by(kB).revocation?.reason).toBe("key compromised");
  expect(by(kC).livenessProofs).toHaveLength(1);
  expect(by(kC).livenessProofs[0]!.nonce).toBe("0");
  expect(by(kD).registrar).not.toBe(by(kA).registrar);
  for (const k of r.kms) for (const c of k.checks) expect(c.ok, `${k.address} ${c.name}: ${c.detail}`).toBe(true);
  expect(by(kA).checks.filter((c) => c.name === "binding")).toHaveLength(2);
  expect(r.anomalies.map((a) => a.kind)).toEqual(["registrar-lost-role"]);
  expect(r.anomalies[0]!.kms!.toLowerCase()).toBe(addr(kD));
}

describe("audit on a real node", () => {
  it("rebuilds register / re-attest / revoke / liveness and flags a registrar that lost its role", async () => {
    const r = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: BigInt(chain.record.block) });
    expect(r.events).toBe(7);
    expectHistory(r);
  });

  for (const mode of ["alchemy", "generic"] as const) {
    it(`adapts to an RPC that refuses wide eth_getLogs ranges (${mode} style errors)`, async () => {
      const proxy = await startLogLimitProxy(chain.node.url, { mode, maxRange: 1500 });
      try {
        const conn = await connect(proxy.url);
        const r = await auditRegistry({ publicClient: conn.publicClient, registry: chain.registry, fromBlock: 0n, initialRange: 10_000n });
        expectHistory(r);
        expect(proxy.stats.refused).toBeGreaterThan(0);
        expect(r.rpc.rangeErrors).toBe(proxy.stats.refused);
        expect(proxy.stats.maxServedSpan).toBeLessThanOrEqual(1500);
        expect(r.toBlock).toBeGreaterThan(12_000);
      } finally {
        await proxy.close();
      }
    });
  }

  it("adapts to an RPC that refuses too many results (infura style) and grows the range again after successes", async () => {
    // the deployment block holds four logs (two RoleGranted, two AcceptedStatusSet): the smallest limit it fits
    const proxy = await startLogLimitProxy(chain.node.url, { mode: "infura", maxResults: 4 });
    try {
      const conn = await connect(proxy.url);
      const r = await auditRegistry({ publicClient: conn.publicClient, registry: chain.registry, fromBlock: 0n, initialRange: 100_000n, maxRange: 100_000n });
      expectHistory(r);
      expect(proxy.stats.refused).toBeGreaterThan(0);
      expect(BigInt(r.rpc.finalRange)).toBeGreaterThan(1n);
    } finally {
      await proxy.close();
    }
  });

  it("CLI: audit --json through a range-limited RPC prints the documented shape; exit 1 because of the anomaly", async () => {
    const proxy = await startLogLimitProxy(chain.node.url, { mode: "alchemy", maxRange: 2000 });
    try {
      const res = await runCli(["audit", "--registry", chain.registry, "--rpc", proxy.url, "--from-block", "0", "--deployments", chain.tmp, "--json"]);
      expect(res.code, res.stderr).toBe(1);
      const j = JSON.parse(res.stdout) as Record<string, unknown> & { logs: { received: number }; kms: Record<string, unknown>[]; anomalies: Record<string, unknown>[] };
      expect(Object.keys(j)).toEqual(["registry", "chainId", "fromBlock", "toBlock", "logs", "kms", "anomalies"]);
      expect(j.logs).toEqual({ received: expect.any(Number) as unknown, used: j.logs.received, dropped: { foreign: 0, duplicate: 0, outOfRange: 0 } });
      expect(j.chainId).toBe(31337);
      expect(j.kms).toHaveLength(4);
      expect(Object.keys(j.kms[0]!)).toEqual(
        expect.arrayContaining(["address", "status", "attestations", "quoteHash", "caPubkey", "k256Pubkey", "registrar", "registeredAt", "revokedAt", "livenessProofs", "checks"]),
      );
      expect(j.anomalies).toEqual([expect.objectContaining({ kind: "registrar-lost-role" })]);
      const human = await runCli(["audit", "--registry", chain.registry, "--rpc", proxy.url, "--deployments", chain.tmp]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/4 KMS/);
      expect(human.stdout).toMatch(/revoked/);
      expect(human.stdout).toMatch(/registrar-lost-role/);
    } finally {
      await proxy.close();
    }
  });
});

describe("audit over part of the history", () => {
  it("--to-block before the revocation sees B still active, and isRegistered agrees at that block", async () => {
    const full = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: 0n });
    const b = full.kms.find((k) => k.address.toLowerCase() === addr(kB))!;
    const r = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: 0n, toBlock: BigInt(b.revokedAt! - 1) });
    expect(r.kms.find((k) => k.address.toLowerCase() === addr(kB))!.status).toBe("active");
    expect(r.anomalies.filter((a) => a.kind === "state-mismatch")).toEqual([]);
    // starting after A's first registration: its re-attestation has no earlier registration in range
    const a = full.kms.find((k) => k.address.toLowerCase() === addr(kA))!;
    const late = await auditRegistry({ publicClient: chain.conn.publicClient, registry: chain.registry, fromBlock: BigInt(a.registeredAt + 1) });
    expect(late.kms.find((k) => k.address.toLowerCase() === addr(kA))!.attestations).toHaveLength(1);
  });

  it("CLI: --to-block before --from-block is a usage error (exit 2, one line)", async () => {
    const r = await runCli(["audit", "--registry", chain.registry, "--rpc", chain.node.url, "--from-block", "10", "--to-block", "5"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/--to-block 5 is before --from-block 10/)]);
    const future = await runCli(["audit", "--registry", chain.registry, "--rpc", chain.node.url, "--from-block", "99999999", "--json"]);
    expect(future.code).toBe(2);
    expect(JSON.parse(future.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/--from-block 99999999 is past the chain head/) } });
    const bad = await runCli(["audit", "--registry", "0x1234", "--rpc", chain.node.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--registry must be a 20-byte 0x address/);
  });

  it("CLI: a missing or malformed --collateral file for --reverify is an input error before the scan, not an anomaly per quote", async () => {
    const base = ["audit", "--registry", chain.registry, "--rpc", chain.node.url, "--from-block", "0"];
    const missing = await runCli([...base, "--reverify", "--collateral", `${chain.tmp}/no-such-collateral.json`, "--json"]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/cannot read collateral file/) } });
    expect(missing.stderr).not.toMatch(/scanned blocks/);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(`${chain.tmp}/truncated-collateral.json`, '{"tcb_info": "');
    const truncated = await runCli([...base, "--reverify", "--collateral", `${chain.tmp}/truncated-collateral.json`]);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr.trim().split("\n")).toEqual([expect.stringMatching(/collateral: not valid JSON/)]);
    // verification options without --reverify would be silently ignored: refuse them
    const stray = await runCli([...base, "--collateral", `${chain.tmp}/truncated-collateral.json`, "--root-ca", "x.pem"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--collateral, --root-ca only apply with --reverify/);
  });
});

describe("rebuildState (pure) and anomaly detection", () => {
  let block = 100;
  const reg = (k: TestKms, over: Partial<Extract<AuditEvent, { kind: "registered" }>> = {}): AuditEvent => ({
    kind: "registered",
    kms: ethAddress(k.k256Pubkey),
    quoteHash: keccak256(k.quote),
    registrar: "0x00000000000000000000000000000000000000aa",
    caPubkey: bytesToHex(k.caPubkey),
    k256Pubkey: bytesToHex(k.k256Pubkey),
    quote: bytesToHex(k.quote),
    block: ++block,
    tx: `0x${"11".repeat(32)}`,
    logIndex: 0,
    ...over,
  });
  const revoke = (k: TestKms): AuditEvent => ({ kind: "revoked", kms: ethAddress(k.k256Pubkey), by: "0x00000000000000000000000000000000000000aa", reason: "r", block: ++block, tx: `0x${"22".repeat(32)}`, logIndex: 0 });
  const live = (k: TestKms): AuditEvent => ({ kind: "liveness", kms: ethAddress(k.k256Pubkey), timestamp: 1, nonce: "0", block: ++block, tx: `0x${"33".repeat(32)}`, logIndex: 0 });

  it("a clean history has no anomalies", () => {
    const k = randomKms();
    const { kms, anomalies } = rebuildState([reg(k), live(k), revoke(k)]);
    expect(anomalies).toEqual([]);
    expect(kms[0]!.status).toBe("revoked");
    expect(kms[0]!.livenessProofs).toHaveLength(1);
    expect(checkRegistration(reg(k) as never, 1).every((c) => c.ok)).toBe(true);
  });

  it("flags binding, quote-hash and address mismatches, and unparseable quotes", () => {
    const k = randomKms();
    const other = randomKms();
    const kinds = (evs: AuditEvent[]) => rebuildState(evs).anomalies.map((a) => a.kind);
    expect(kinds([reg(k, { quote: bytesToHex(other.quote), quoteHash: keccak256(other.quote) })])).toEqual(["binding-mismatch"]);
    expect(kinds([reg(k, { quoteHash: keccak256(other.quote) })])).toEqual(["quote-hash-mismatch"]);
    expect(kinds([reg(k, { kms: ethAddress(other.k256Pubkey) })])).toEqual(["kms-address-mismatch"]);
    const junk = new Uint8Array(100);
    expect(kinds([reg(k, { quote: bytesToHex(junk), quoteHash: keccak256(junk) })])).toEqual(["quote-unparseable", "binding-mismatch"]);
  });

  it("flags CA-key changes, registrations after revocation and events for unknown KMSes", () => {
    const k = randomKms();
    const other = randomKms();
    const kinds = (evs: AuditEvent[]) => rebuildState(evs).anomalies.map((a) => a.kind);
    // same k256 key, another CA key (the quote re-bound accordingly, so only the CA change is odd)
    const swapped = { ...other, k256Pubkey: k.k256Pubkey };
    expect(kinds([reg(k), reg(k, { caPubkey: bytesToHex(swapped.caPubkey) })])).toContain("ca-key-changed");
    expect(kinds([reg(k), revoke(k), reg(k)])).toEqual(["registered-after-revocation"]);
    expect(kinds([revoke(k)])).toEqual(["revoked-unknown-kms"]);
    expect(kinds([live(k)])).toEqual(["liveness-unknown-kms"]);
    expect(kinds([reg(k), revoke(k), live(k)])).toEqual(["liveness-after-revocation"]);
  });
});

