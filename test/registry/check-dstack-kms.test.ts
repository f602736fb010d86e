/**
 * `check-dstack-kms` against a real `hardhat node`: the test double of dstack's DstackKms (same ABI and storage
 * semantics) deployed behind its ERC-1967 proxy, its record written from simulated KMSs (their forged quotes
 * under their simulated roots, with their collateral) and from real dstack / Intel fixtures, its allow-lists
 * set and changed, its evidence replaced silently with setKmsQuote / setKmsEventlog.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";
import { encodeFunctionData, getAddress, parseAbi, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parseQuote, type TdReport10 } from "../../src/dcap/quote.js";
import { dstackKmsAbi } from "../../src/dstack/dstack-kms-abi.js";
import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { startSimulatedKms } from "../../src/testing/simulator/index.js";
import { checkDstackKms, type DstackKmsReport } from "../../src/workflows/check-dstack-kms.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { runCli } from "../helpers/cli.js";

const DCAP = new URL("../fixtures/dcap/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, DCAP)));
const hx = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;
const NEAR_CA = "0x3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
const NEAR_K256 = "0x022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";
const TDX_NOW = 1752919234;

const artifact = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../artifacts/contracts/test/dstack/${name}.sol/${name}.json`, import.meta.url), "utf8")) as { abi: unknown[]; bytecode: Hex };

interface Sim {
  info: { k256Pubkey: Hex; caPubkey: Hex; quote: Hex; eventlog: Hex };
  collateral: string;
  rootCa: string;
}

let node: DevNode;
let conn: Connection;
let wallet: ReturnType<typeof walletFor>;
let owner: Hex;
let tmp: string;
let legacy: Sim;
let att: Sim;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "check-dstack-kms-"));
  const [n, l, a] = await Promise.all([
    startDevNode(),
    startSimulatedKms({ certsDir: join(tmp, "legacy"), port: 0, autoBootstrapDomain: "kms.dstack-kms.example" }),
    startSimulatedKms({ certsDir: join(tmp, "att"), port: 0, autoBootstrapDomain: "kms.dstack-kms.example", format: "attestation" }),
  ]);
  node = n;
  const sim = async (k: typeof l): Promise<Sim> => {
    const r = JSON.parse(readFileSync(join(k.simDir, "bootstrap-response.json"), "utf8")) as Record<string, string>;
    await k.close();
    return {
      info: { k256Pubkey: `0x${r.k256_pubkey!}`, caPubkey: `0x${r.ca_pubkey!}`, quote: `0x${r.quote ?? r.attestation!}`, eventlog: `0x${r.eventlog ?? ""}` },
      collateral: k.simCollateralPath,
      rootCa: k.simRootCaPath,
    };
  };
  [legacy, att] = await Promise.all([sim(l), sim(a)]);
  conn = await connect(node.url);
  const account = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY });
  owner = getAddress(account.address) as Hex;
  wallet = walletFor(conn, account);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function send(to: Hex, data: Hex): Promise<Hex> {
  const hash = await wallet.sendTransaction({ to, data });
  const r = await conn.publicClient.waitForTransactionReceipt({ hash });
  expect(r.status).toBe("success");
  return hash;
}

/** A fresh DstackKms proxy owned by dev account #0. */
async function deployKms(): Promise<Hex> {
  const impl = artifact("DstackKms");
  const proxy = artifact("DstackKmsProxy");
  const deploy = async (a: typeof impl, args: unknown[]) => {
    const hash = await wallet.deployContract({ abi: a.abi as never, bytecode: a.bytecode, args: args as never });
    return (await conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress! as Hex;
  };
  const implAddr = await deploy(impl, []);
  const init = encodeFunctionData({ abi: parseAbi(["function initialize(address initialOwner, address appImplementation)"]), functionName: "initialize", args: [owner, "0x0000000000000000000000000000000000000000"] });
  return deploy(proxy, [implAddr, init]);
}

const call = (fn: string, args: unknown[]) => encodeFunctionData({ abi: dstackKmsAbi, functionName: fn as never, args: args as never });
const setInfo = (kms: Hex, info: Sim["info"]) => send(kms, call("setKmsInfo", [info]));

/** dstack's mr_aggregated from the quote's own registers (RTMR3 as quoted: the event log is checked to replay to it). */
function mrAggregatedOf(quote: Uint8Array): Hex {
  const td = parseQuote(quote).body as TdReport10;
  const parts = [td.mrTd, td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3];
  if ([td.mrConfigId, td.mrOwner, td.mrOwnerConfig].some((r) => r.some((b) => b !== 0))) parts.push(td.mrConfigId, td.mrOwner, td.mrOwnerConfig);
  return hx(sha256(Buffer.concat(parts)));
}

/** The os-image-hash runtime event's payload in a JSON event log. */
function osImageHashOf(eventlogJson: string): Hex {
  const ev = (JSON.parse(eventlogJson) as { event?: string; event_payload?: string }[]).find((e) => e.event === "os-image-hash");
  return `0x${ev!.event_payload!}`;
}

async function check(kms: Hex, sim: Sim | null, extra: Partial<Parameters<typeof checkDstackKms>[0]["verify"]> = {}): Promise<DstackKmsReport> {
  const verify = sim
    ? { collateral: parseCollateralJson(readFileSync(sim.collateral, "utf8")), rootCaDer: certificateDerFromFile(readFileSync(sim.rootCa), "root"), now: Math.floor(Date.now() / 1000) }
    : { collateral: parseCollateralJson(readFileSync(new URL("tdx_quote_collateral.json", DCAP), "utf8")), now: TDX_NOW };
  return checkDstackKms({ publicClient: conn.publicClient, contract: kms, verify: { ...verify, ...extra } });
}

const failedOf = (r: DstackKmsReport) => [...r.failed].sort();
const findingCodes = (r: DstackKmsReport) => r.findings.map((f) => f.code);

describe("check-dstack-kms on a simulated KMS's record", () => {
  let kms: Hex;
  let mr: Hex;
  let os: Hex;
  let device: Hex;

  it("verifies the record as verify does and fails only on the contract's empty allow-lists; then passes once they allow this KMS (CLI, --json)", async () => {
    kms = await deployKms();
    const empty = await check(kms, legacy);
    expect(failedOf(empty)).toEqual(["kmsinfo.present", "onchain.allowedOsImages", "onchain.kmsAllowedAggregatedMrs", "onchain.kmsAllowedDeviceIds"]);
    expect(empty.verification).toBeNull();

    await setInfo(kms, legacy.info);
    const r = await check(kms, legacy);
    expect(failedOf(r)).toEqual(["onchain.allowedOsImages", "onchain.isKmsAllowed", "onchain.kmsAllowedAggregatedMrs", "onchain.kmsAllowedDeviceIds"]);
    expect(r.verification!.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.record.quoteKind).toBe("tdx-quote");
    expect(r.isKmsAllowed).toEqual({ allowed: false, reason: "OS image is not allowed" });
    // the values looked up are dstack's, computed independently here
    const quote = Buffer.from(legacy.info.quote.slice(2), "hex");
    mr = mrAggregatedOf(quote);
    os = osImageHashOf(Buffer.from(legacy.info.eventlog.slice(2), "hex").toString("utf8"));
    device = hx(sha256(Buffer.from(r.verification!.quote!.pck!.ppid!.slice(2), "hex")));
    expect(r.allowLists.map((a) => [a.list, a.value, a.allowed])).toEqual([
      ["kmsAllowedAggregatedMrs", mr, false],
      ["allowedOsImages", os, false],
      ["kmsAllowedDeviceIds", device, false],
    ]);
    expect(r.implementation).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(r.owner).toBe(owner);
    expect(findingCodes(r)).toEqual(["SILENT_EVIDENCE_SETTERS"]);

    await send(kms, call("addKmsAggregatedMr", [mr]));
    await send(kms, call("addOsImageHash", [os]));
    await send(kms, call("addKmsDevice", [device]));
    const cli = await runCli(["check-dstack-kms", "--contract", kms, "--rpc", node.url, "--collateral", legacy.collateral, "--root-ca", legacy.rootCa, "--json"]);
    expect(cli.stderr).toMatch(/NOT GENUINE/);
    expect(cli.code).toBe(0);
    const j = JSON.parse(cli.stdout) as DstackKmsReport;
    expect(j).toMatchObject({ kind: "dstack-kms-check", ok: true, verdict: "PASS", genuine: false, contract: getAddress(kms), isKmsAllowed: { allowed: true, reason: "" } });
    expect(j.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["quote.verified", "binding.report-data", "eventlog.rtmr3", "onchain.kmsAllowedAggregatedMrs", "onchain.allowedOsImages", "onchain.kmsAllowedDeviceIds", "onchain.isKmsAllowed", "history.root-key", "history.keys-announced"]));
    // the history: who wrote what, when
    expect(j.history.events.map((e) => e.event)).toEqual(["Upgraded", "OwnershipTransferred", "Initialized", "KmsInfoSet", "KmsAggregatedMrAdded", "OsImageHashAdded", "KmsDeviceAdded"]);
    for (const e of j.history.events) expect(e).toMatchObject({ from: owner, tx: expect.stringMatching(/^0x[0-9a-f]{64}$/) as string, timestamp: expect.any(Number) as number });
    expect(j.history.events[3]!.args).toEqual({ k256Pubkey: legacy.info.k256Pubkey });
    expect(j.history.announcedFrom).toBe("calldata");
    expect(j.allowLists.map((a) => a.lastChange?.event)).toEqual(["KmsAggregatedMrAdded", "OsImageHashAdded", "KmsDeviceAdded"]);
  });

  it("a removed device fails the allow-list and the contract's own isKmsAllowed, and says who removed it (human output, chain text sanitized)", async () => {
    await send(kms, call("setGatewayAppId", ["gw\u001b[2J\u001b]0;owned\u0007\nFAKE ✓ line\u202e"]));
    const removed = await send(kms, call("removeKmsDevice", [device]));
    const cli = await runCli(["check-dstack-kms", "--contract", kms, "--rpc", node.url, "--collateral", legacy.collateral, "--root-ca", legacy.rootCa]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^FAIL/);
    expect(cli.stdout).toMatch(/✗\s+onchain\.kmsAllowedDeviceIds\s+kmsAllowedDeviceIds\[0x[0-9a-f]{64}\] is false \(tdx device_id = sha256\(PPID of the quote.s PCK certificate\)\); KmsDeviceRemoved at block \d+ by 0x/);
    expect(cli.stdout).toMatch(/✗\s+onchain\.isKmsAllowed .*"KMS is not allowed to boot on this device"/);
    expect(cli.stdout).toContain(removed);
    expect(cli.stdout).toMatch(/GatewayAppIdSet\s+gatewayAppId=gw FAKE ✓ line\s/);
    for (const c of ["\u001b", "\u0007", "\u202e"]) expect(cli.stdout).not.toContain(c);
    expect(cli.stdout).not.toMatch(/^FAKE/m);
    expect(cli.stderr).toMatch(/FAIL: failed onchain\.kmsAllowedDeviceIds, onchain\.isKmsAllowed/);
    await send(kms, call("addKmsDevice", [device]));
    expect((await check(kms, legacy)).ok).toBe(true);
  });

  it("setKmsQuote / setKmsEventlog change the evidence without any event: EVIDENCE_CHANGED_WITHOUT_EVENT, located with its sender", async () => {
    const before = await conn.publicClient.getBlockNumber();
    const tx = await send(kms, call("setKmsQuote", [hx(fixture("tdx_quote"))]));
    const block = Number((await conn.publicClient.getTransactionReceipt({ hash: tx })).blockNumber);
    const r = await check(kms, legacy);
    expect(r.history.events.filter((e) => BigInt(e.block) > before)).toEqual([]); // nothing announced it
    const f = r.findings.find((x) => x.code === "EVIDENCE_CHANGED_WITHOUT_EVENT")!;
    expect(f).toMatchObject({ severity: "warning", block, tx, from: owner });
    expect(f.detail).toMatch(/quote differs from what the last KmsInfoSet \(block \d+\) wrote, changed without any event: first different at block \d+ \(quote\) by setKmsQuote/);
    expect(r.history.silentChange).toEqual({ first: { block, timestamp: expect.any(Number) as number, fields: ["quote"], txs: [{ tx, from: owner, function: "setKmsQuote" }] }, latest: null });
    // the current (swapped) evidence is what is verified: the real Intel quote binds other keys, under another root
    expect(r.failed).toEqual(expect.arrayContaining(["binding.report-data", "quote.verified", "eventlog.rtmr3", "onchain.kmsAllowedAggregatedMrs"]));
    expect(r.failed).not.toContain("history.keys-announced");

    // restoring the quote but replacing the event log: the change is the event log's
    await send(kms, call("setKmsQuote", [legacy.info.quote]));
    const elTx = await send(kms, call("setKmsEventlog", [hx(Buffer.from("[]"))]));
    const e = await check(kms, legacy);
    // the first silent change was the quote's (since undone), the current event log's is the latest
    expect(e.findings.find((x) => x.code === "EVIDENCE_CHANGED_WITHOUT_EVENT")).toMatchObject({ tx: elTx, from: owner });
    expect(e.history.silentChange!.first).toMatchObject({ block, fields: ["quote"] });
    expect(e.history.silentChange!.latest).toMatchObject({ fields: ["eventlog"], txs: [{ tx: elTx, function: "setKmsEventlog" }] });
    expect(e.failed).toContain("eventlog.rtmr3"); // an empty log replays to nothing
    await send(kms, call("setKmsEventlog", [legacy.info.eventlog]));
  });

  it("a new record with a dstack attestation in its quote field: verified with the attestation's own event log, the root key replacement reported", async () => {
    await setInfo(kms, { ...att.info, eventlog: legacy.info.eventlog });
    const r = await check(kms, att);
    expect(r.record.quoteKind).toBe("dstack-attestation");
    expect(r.verification!.kms.format).toBe("attestation");
    expect(r.verification!.checks.filter((c) => !c.ok)).toEqual([]);
    expect(findingCodes(r)).toEqual(expect.arrayContaining(["ATTESTATION_EVENTLOG_IGNORED", "ROOT_KEY_REPLACED"]));
    expect(findingCodes(r)).not.toContain("EVIDENCE_CHANGED_WITHOUT_EVENT");
    // another simulated KMS: another instance (RTMR3, so mr_aggregated) on another forged platform (PPID); same image
    expect(failedOf(r)).toEqual(["onchain.isKmsAllowed", "onchain.kmsAllowedAggregatedMrs", "onchain.kmsAllowedDeviceIds"]);
    expect(r.allowLists[1]).toMatchObject({ value: os, allowed: true });
  });

  it("--expect applies the measurement policy as verify does", async () => {
    const r = await check(kms, att, { policy: { osImageHash: [os], mrTd: [`0x${"11".repeat(48)}`] } });
    expect(r.checks.filter((c) => c.name.startsWith("expect."))).toEqual([
      expect.objectContaining({ name: "expect.mrTd", ok: false }),
      expect.objectContaining({ name: "expect.osImageHash", ok: true }),
    ]);
  });
});

describe("check-dstack-kms history findings", () => {
  it("an upgrade of the proxy is CONTRACT_UPGRADED with its sender; a --from-block past the last KmsInfoSet leaves the record unannounced", async () => {
    const kms = await deployKms();
    await setInfo(kms, legacy.info);
    const impl = artifact("DstackKms");
    const hash = await wallet.deployContract({ abi: impl.abi as never, bytecode: impl.bytecode });
    const next = getAddress((await conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress!) as Hex;
    const up = await send(kms, call("upgradeToAndCall", [next, "0x"]));
    const r = await check(kms, legacy);
    expect(r.implementation).toBe(next);
    expect(r.findings.find((f) => f.code === "CONTRACT_UPGRADED")).toMatchObject({ tx: up, from: owner, severity: "warning" });
    expect(r.verification!.checks.filter((c) => !c.ok)).toEqual([]); // the record survives the upgrade

    const later = await conn.publicClient.getBlockNumber();
    const p = await checkDstackKms({ publicClient: conn.publicClient, contract: kms, fromBlock: later, verify: { collateral: null, now: Math.floor(Date.now() / 1000) } });
    expect(p.history.fromBlock).toBe(Number(later));
    expect(findingCodes(p)).toContain("KMSINFO_NOT_ANNOUNCED");
    expect(p.checks.map((c) => c.name)).not.toContain("history.root-key");
    expect(p.failed).toContain("quote.verified"); // no collateral: verified as verify does, NO_COLLATERAL
  });
});

describe("check-dstack-kms on real dstack and Intel evidence", () => {
  it("the genuine Intel tdx_quote: genuine and verified, but it binds none of the record's keys and has no event log", async () => {
    const kms = await deployKms();
    await setInfo(kms, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(fixture("tdx_quote")), eventlog: "0x" });
    const r = await check(kms, null);
    expect(r.genuine).toBe(true);
    expect(r.verification!.quote).toMatchObject({ verified: true, status: "UpToDate" });
    expect(failedOf(r)).toEqual(["binding.report-data", "bootstrap.eventlog", "eventlog.present", "onchain.allowedOsImages", "onchain.isKmsAllowed", "onchain.kmsAllowedAggregatedMrs", "onchain.kmsAllowedDeviceIds"]);
    expect(r.allowLists[0]!.value).toBeNull(); // no event log: no mr_aggregated
    expect(r.allowLists[2]!.value).toMatch(/^0x[0-9a-f]{64}$/); // the verified PCK certificate's PPID
  });

  it("dstack's tdx-lite quote and event log: the log replays, dstack's mr_aggregated is found in the contract's list", async () => {
    const lite = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", DCAP), "utf8")) as { quote: string; event_log: string };
    const kms = await deployKms();
    const mr = "0xc758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee";
    expect(mrAggregatedOf(Buffer.from(lite.quote, "hex"))).toBe(mr);
    await setInfo(kms, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: `0x${lite.quote}`, eventlog: hx(Buffer.from(lite.event_log)) });
    await send(kms, call("addKmsAggregatedMr", [mr]));
    const r = await check(kms, null);
    expect(r.verification!.checks.filter((c) => c.name.startsWith("eventlog.rtmr")).every((c) => c.ok)).toBe(true);
    expect(r.allowLists[0]).toMatchObject({ value: mr, allowed: true, lastChange: { event: "KmsAggregatedMrAdded", from: owner } });
    expect(r.checks.find((c) => c.name === "onchain.kmsAllowedAggregatedMrs")!.ok).toBe(true);
    // no offline collateral for this quote (its PCK certificate postdates the committed collateral); its device id is read from the unverified certificate
    expect(r.failed).toEqual(expect.arrayContaining(["binding.report-data", "quote.verified"]));
    expect(r.allowLists[2]!.source).toMatch(/NOT verified/);
  });

  it("dstack's V0 attestation in the quote field is detected and its own event log replayed", async () => {
    const kms = await deployKms();
    await setInfo(kms, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(fixture("dstack-attestation-v0.bin")), eventlog: "0x" });
    const r = await check(kms, null);
    expect(r.record.quoteKind).toBe("dstack-attestation");
    expect(r.verification!.eventlog!.registers.every((x) => x.coverage === "replayed-matches")).toBe(true);
    expect(r.allowLists[0]!.value).toMatch(/^0x[0-9a-f]{64}$/);
  });
});

describe("check-dstack-kms on another platform's record", () => {
  it("dstack's real SEV-SNP V0 attestation in the quote field: decoded and verified as SEV-SNP, which needs the chip's VCEK it does not carry (a failed check, not a parse error)", async () => {
    const kms = await deployKms();
    const snp = new Uint8Array(readFileSync(new URL("../fixtures/dstack/dstack-sev-snp-attestation-v0.bin", import.meta.url)));
    await setInfo(kms, { k256Pubkey: NEAR_K256, caPubkey: NEAR_CA, quote: hx(snp), eventlog: "0x" });
    const r = await check(kms, null);
    expect(r.record.quoteKind).toBe("dstack-attestation");
    const c = r.checks.find((x) => x.name === "platform.vcek")!;
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(/^SNP_VCEK_REQUIRED: the attestation's cert_chain carries no VCEK/);
    expect(r.verdict).toBe("FAIL");
  });
});

describe("check-dstack-kms bad input", () => {
  it("exit 2 for a bad address, an address without code, a contract that is not a DstackKms; RPC credentials never printed", async () => {
    const col = ["--collateral", join(new URL("tdx_quote_collateral.json", DCAP).pathname)];
    const bad = await runCli(["check-dstack-kms", "--contract", "0x1234", "--rpc", node.url, ...col]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--contract must be a 20-byte 0x address/);
    const eoa = await runCli(["check-dstack-kms", "--contract", owner, "--rpc", node.url, ...col, "--json"]);
    expect(eoa.code).toBe(2);
    expect((JSON.parse(eoa.stdout) as { error: { code: string } }).error.code).toBe("DSTACK_KMS_NO_CODE");
    // the proxy's implementation slot is no DstackKms record: a plain ERC-1967 proxy pointing at a contract without kmsInfo()
    const notKms = (await conn.publicClient.waitForTransactionReceipt({ hash: await wallet.deployContract({ abi: [], bytecode: "0x6001600c60003960016000f300" }) })).contractAddress!;
    const secretUrl = node.url.replace("http://", "http://alice:s3cr3tpw@") + "/v2/APIKEY0123456789";
    const nk = await runCli(["check-dstack-kms", "--contract", notKms, "--rpc", secretUrl, ...col, "--json"]);
    expect(nk.code).toBe(2);
    expect((JSON.parse(nk.stdout) as { error: { code: string } }).error.code).toBe("DSTACK_KMS_CALL_FAILED");
    const down = await runCli(["check-dstack-kms", "--contract", notKms, "--rpc", "http://bob:hunter22@127.0.0.1:1/key/APIKEY0123456789", ...col]);
    expect(down.code).not.toBe(0);
    for (const out of [nk.stdout, nk.stderr, down.stdout, down.stderr]) {
      expect(out).not.toMatch(/s3cr3tpw|hunter22|APIKEY0123456789/);
    }
    // collateral is no longer required up front (an SEV-SNP or Nitro record needs none): the contract is still checked first
    const noCol = await runCli(["check-dstack-kms", "--contract", notKms, "--rpc", node.url, "--json"]);
    expect(noCol.code).toBe(2);
    expect((JSON.parse(noCol.stdout) as { error: { code: string } }).error.code).toBe("DSTACK_KMS_CALL_FAILED");
    const future = await runCli(["check-dstack-kms", "--contract", notKms, "--rpc", node.url, ...col, "--from-block", "999999"]);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/past the chain head/);
  });
});

