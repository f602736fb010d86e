/**
 * The on-chain path end to end on a real `hardhat node`: a registry deployed with a DcapVerifier (under a
 * forge's root), registrations on both paths — `registerVerified` by an account without any role,
 * `registerWithCollateral` and plain `register` by the registrar — a recheck that makes a KMS stale, and
 * `audit --reverify` re-verifying every registration from the collateral published on chain alone, at each
 * registration's block time, saying so when a registration published none.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { getAddress, keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, concatBytes, type Hex } from "../../src/core/bytes.js";
import { collateralToJson } from "../../src/dcap/collateral.js";
import { toPem } from "../../src/dcap/x509.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { auditRegistry } from "../../src/registry/audit.js";
import {
  encodeRecheck,
  encodeRegister,
  encodeRegisterVerified,
  encodeRegisterWithCollateral,
  readKms,
  readVerifiedOnChain,
} from "../../src/registry/client.js";
import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { deployRegistry } from "../../src/registry/deploy.js";
import { decodeRegistryLog } from "../../src/registry/events.js";
import { scanLogs, type RawLog } from "../../src/registry/logs.js";
import { fromOnChainCollateral, toOnChainCollateral } from "../../src/registry/verifier.js";
import { checkQuote } from "../../src/dcap/verify.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, HARDHAT_DEV_ACCOUNT_1_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";

const SPKI_P256_PREFIX = Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"));

type Kms = { caPubkey: Uint8Array; k256Pubkey: Uint8Array; address: Hex; quote: Uint8Array };

async function kmsIn(w: ForgeWorld): Promise<Kms> {
  const caPubkey = concatBytes(SPKI_P256_PREFIX, p256.getPublicKey(p256.utils.randomSecretKey(), false));
  const k256Pubkey = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
  const binding = keccak256(new TextEncoder().encode(`dstack-kms-genereted-keys-v1:${Buffer.from(caPubkey).toString("hex")};${Buffer.from(k256Pubkey).toString("hex")};`));
  const reportData = concatBytes(Buffer.from(binding.slice(2), "hex"), new Uint8Array(32));
  return { caPubkey, k256Pubkey, address: getAddress(ethAddress(k256Pubkey)) as Hex, quote: await forgeQuote(w, { reportData }) };
}

let node: DevNode;
let conn: Connection;
let registry: Hex;
let world: ForgeWorld;
let tmp: string;
let rootFile: string;
let onChain: Kms, withCollateral: Kms, plain: Kms;

beforeAll(async () => {
  node = await startDevNode();
  conn = await connect(node.url);
  tmp = mkdtempSync(path.join(os.tmpdir(), "onchain-audit-"));
  const now = Number((await conn.publicClient.getBlock()).timestamp);
  world = await createForgeWorld({ seed: "onchain-audit", now });
  rootFile = path.join(tmp, "root.pem");
  writeFileSync(rootFile, toPem(world.rootCaDer));
  const registrar = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY }));
  const anyone = walletFor(conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }));
  registry = (await deployRegistry({ publicClient: conn.publicClient, walletClient: registrar, verifier: { rootDer: world.rootCaDer }, toolVersion: "test" })).address;
  const send = async (wallet: typeof registrar, data: Hex) => {
    const hash = await wallet.sendTransaction({ to: registry, data, gas: 15_000_000n });
    const r = await conn.publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
  };
  [onChain, withCollateral, plain] = await Promise.all([kmsIn(world), kmsIn(world), kmsIn(world)]);
  await send(anyone, encodeRegisterVerified({ ...onChain, collateral: toOnChainCollateral(onChain.quote, world.collateral) }));
  await send(registrar, encodeRegisterWithCollateral({ ...withCollateral, collateral: toOnChainCollateral(withCollateral.quote, world.collateral) }));
  await send(registrar, encodeRegister(plain));
  // Intel's (here: the forge's) newer TCB Info grades the platform OutOfDate: anyone's recheck makes the KMS stale
  const newer = await createForgeWorld({
    seed: "onchain-audit",
    now,
    tcbInfo: {
      tcbEvaluationDataNumber: 18,
      edit: (t) => {
        (t.tcbLevels as { tcbStatus: string }[])[0]!.tcbStatus = "OutOfDate";
      },
    },
  });
  await send(anyone, encodeRecheck({ kms: onChain.address, quote: onChain.quote, collateral: toOnChainCollateral(onChain.quote, newer.collateral) }));
}, 120_000);
afterAll(async () => {
  await node?.stop();
});

describe("registrations on both paths, a recheck, on a real node", () => {
  it("the records: on-chain (stale after the recheck, not Intel's root) and registrar paths", async () => {
    const a = await readKms(conn.publicClient, registry, onChain.address);
    expect(a).toMatchObject({ active: true, path: "on-chain", intelRoot: false, stale: true, tcbStatus: "OutOfDate", tcbEvaluationDataNumber: 18 });
    expect(a.registrar).toBe(accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }).address);
    expect(await readKms(conn.publicClient, registry, withCollateral.address)).toMatchObject({ active: true, path: "registrar", tcbStatus: null });
    for (const k of [onChain, withCollateral, plain]) expect(await readVerifiedOnChain(conn.publicClient, registry, k.address)).toBe(false);
  });

  it("the events decode: KmsVerifiedOnChain, KmsCollateralPublished (both paths), KmsRechecked; the published collateral turns back into Intel's documents", async () => {
    const logs: RawLog[] = [];
    await scanLogs({ request: conn.publicClient.request as never, address: registry, fromBlock: 0n, toBlock: await conn.publicClient.getBlockNumber(), onLogs: (l) => void logs.push(...l) });
    const events = logs.map(decodeRegistryLog).filter((e) => e && e !== "undecodable");
    const kinds = events.map((e) => (e as { kind: string }).kind);
    expect(kinds).toEqual(["registered", "verified", "collateral", "registered", "collateral", "registered", "rechecked"]);
    const verified = events[1] as Extract<(typeof events)[number], { kind: "verified" }>;
    expect(verified).toMatchObject({ kms: onChain.address, quoteHash: keccak256(onChain.quote), tcbStatus: "UpToDate", fmspc: bytesToHex(world.pck.fmspc).slice(2), intelRoot: false });
    const published = events[2] as Extract<(typeof events)[number], { kind: "collateral" }>;
    expect(published.collateral).toEqual(toOnChainCollateral(onChain.quote, world.collateral));
    const rechecked = events[6] as Extract<(typeof events)[number], { kind: "rechecked" }>;
    expect(rechecked).toMatchObject({ kms: onChain.address, tcbStatus: "OutOfDate", stale: true });
    // the reverse conversion needs only the root: the TypeScript verifier accepts the published collateral
    const back = fromOnChainCollateral(published.collateral, world.rootCaDer);
    const r = checkQuote(onChain.quote, { collateral: back, now: world.now, rootCaDer: world.rootCaDer });
    expect(r.ok && r.result.status).toBe("UpToDate");
    // and refuses it under Intel's root (the forge's certificates are not Intel's)
    expect(checkQuote(onChain.quote, { collateral: fromOnChainCollateral(published.collateral, world.rootCaDer), now: world.now }).ok).toBe(false);
  });

  it("auditRegistry rebuilds path, status, FMSPC, expiry, stale and the recheck history, and agrees with kmsInfo", async () => {
    const report = await auditRegistry({ publicClient: conn.publicClient, registry, fromBlock: 0n });
    const a = report.kms.find((k) => k.address === onChain.address)!;
    expect(a).toMatchObject({ path: "on-chain", intelRoot: false, stale: true, tcbStatus: "OutOfDate", fmspc: bytesToHex(world.pck.fmspc).slice(2) });
    expect(a.attestations[0]).toMatchObject({ path: "on-chain", verified: { tcbStatus: "UpToDate", intelRoot: false } });
    expect(a.attestations[0]!.collateral).toBeDefined();
    expect(a.rechecks).toHaveLength(1);
    expect(a.rechecks[0]).toMatchObject({ tcbStatus: "OutOfDate", stale: true });
    const b = report.kms.find((k) => k.address === withCollateral.address)!;
    expect(b).toMatchObject({ path: "registrar", stale: false, tcbStatus: null });
    expect(b.attestations[0]!.collateral).toBeDefined();
    expect(report.kms.find((k) => k.address === plain.address)!.attestations[0]!.collateral).toBeUndefined();
    expect(report.anomalies).toEqual([]);
  });

  it("CLI audit --reverify needs nothing but the chain (and the root) for registrations that published collateral, and says so for the one that did not", async () => {
    const base = ["audit", "--registry", registry, "--rpc", node.url, "--from-block", "0", "--reverify", "--root-ca", rootFile];
    const r = await runCli([...base, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { kms: { address: string; checks: { name: string; ok: boolean; detail: string }[] }[]; anomalies: { kind: string; kms: string; detail: string }[] };
    const checks = (k: Kms) => doc.kms.find((x) => x.address === k.address)!.checks;
    for (const k of [onChain, withCollateral]) {
      const reverify = checks(k).find((c) => c.name === "reverify")!;
      expect(reverify.ok, reverify.detail).toBe(true);
      expect(reverify.detail).toMatch(/verified: UpToDate .*collateral published on chain, at the registration's block time/);
    }
    expect(checks(onChain).find((c) => c.name === "on-chain-verdict")).toMatchObject({ ok: true });
    const missing = checks(plain).find((c) => c.name === "reverify")!;
    expect(missing.ok).toBe(false);
    expect(missing.detail).toContain("no collateral was published on chain for this registration");
    expect(doc.anomalies).toEqual([expect.objectContaining({ kind: "quote-not-verifiable", kms: plain.address })]);
    // the human report shows the paths
    const human = await runCli(base);
    expect(human.stdout).toMatch(/on-chain OutOfDate NOT GENUINE STALE/);
    expect(human.stdout).toContain("registrar");
  }, 60_000);

  it("CLI audit --reverify falls back to --collateral FILE for a registration without published collateral, and says so", async () => {
    const file = path.join(tmp, "collateral.json");
    writeFileSync(file, collateralToJson(world.collateral));
    const r = await runCli(["audit", "--registry", registry, "--rpc", node.url, "--from-block", "0", "--reverify", "--root-ca", rootFile, "--collateral", file, "--at", String(world.now), "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { kms: { address: string; checks: { name: string; ok: boolean; detail: string }[] }[] };
    const plainCheck = doc.kms.find((x) => x.address === plain.address)!.checks.find((c) => c.name === "reverify")!;
    expect(plainCheck.ok).toBe(true);
    expect(plainCheck.detail).toMatch(/no collateral was published on chain .*; with --collateral, at/);
    // the registrations that published collateral still use theirs
    const onChainCheck = doc.kms.find((x) => x.address === onChain.address)!.checks.find((c) => c.name === "reverify")!;
    expect(onChainCheck.detail).toContain("collateral published on chain");
  }, 60_000);
});
