/**
 * `verify-quote --on-chain [RPC_URL]`: the contract verifier run next to the TypeScript one by the built CLI,
 * on the embedded EDR chain (no URL) and through eth_call against verifiers deployed on a real `hardhat node`
 * (a URL). Real Intel quotes at their documented times and outside their windows, forged worlds under the
 * forge's root (accepted and rejected), a real disagreement (a forged quote against Intel's root on chain),
 * and bad option combinations.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { collateralToJson } from "../../src/dcap/collateral.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { connect, walletFor } from "../../src/registry/connect.js";
import { deployVerifier } from "../../src/registry/onchain-verify.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { runCli } from "../helpers/cli.js";
import { fixturePath, TDX_NOW, TDX_WINDOW } from "./real-fixtures.js";

const TDX = fixturePath("tdx_quote");
const TDX_COLL = fixturePath("tdx_quote_collateral.json");
const REAL = (n: string) => fixturePath(`real/${n}`);

const dir = mkdtempSync(join(tmpdir(), "kmsreg-onchain-"));
const tmp = (name: string, content: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

interface OnChainDoc {
  ok: boolean;
  status: string | null;
  advisoryIds: string[];
  fmspc?: string;
  gasUsed: number | null;
  step?: string;
  isIntelRoot?: boolean;
  verifier: string;
}
interface Doc {
  ok: boolean;
  status?: string;
  advisoryIds?: string[];
  pck?: { fmspc: string };
  error?: { code: string };
  checks: { name: string; ok: boolean }[];
  onChain: OnChainDoc;
  agree: boolean;
  differences?: string[];
}

function forgedFiles(w: ForgeWorld, name: string, quote: Uint8Array): string[] {
  return [tmp(`${name}.bin`, quote), "--collateral", tmp(`${name}.json`, collateralToJson(w.collateral)), "--root-ca", tmp(`${name}-root.der`, w.rootCaDer), "--at", String(w.now)];
}

let accepted: ForgeWorld;
let acceptedArgs: string[];
let revokedArgs: string[];
beforeAll(async () => {
  accepted = await createForgeWorld({ seed: "cli-onchain" });
  acceptedArgs = forgedFiles(accepted, "accepted", await forgeQuote(accepted));
  const revoked = await createForgeWorld({ seed: "cli-onchain-revoked", revoke: { pckLeaf: true } });
  revokedArgs = forgedFiles(revoked, "revoked", await forgeQuote(revoked));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// each case starts its own embedded chain (a child process): run them side by side
describe.concurrent("verify-quote --on-chain (embedded chain)", () => {
  it("the real tdx_quote at its time: both valid, UpToDate, same FMSPC, gas reported, exit 0", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--on-chain", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.ok).toBe(true);
    expect(j.agree).toBe(true);
    expect(j.onChain).toMatchObject({ ok: true, status: j.status, advisoryIds: j.advisoryIds, fmspc: j.pck!.fmspc, isIntelRoot: true });
    // eth_estimateGas of the whole verify transaction: below 2 M, above the calldata alone
    expect(j.onChain.gasUsed).toBeGreaterThan(300_000);
    expect(j.onChain.gasUsed).toBeLessThan(2_000_000);
  });

  it.each([
    ["gtg_v5_td15_2602", 1771980350],
  ])("the real %s at its time: the same verdict", async (name, at) => {
    const r = await runCli(["verify-quote", REAL(`${name}.quote`), "--collateral", REAL(`${name}.collateral.json`), "--at", String(at), "--on-chain", "--json"]);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.agree, JSON.stringify(j.differences)).toBe(true);
    expect(j.onChain.ok).toBe(j.ok);
    if (j.ok) expect(j.onChain.status).toBe(j.status);
  });

  it("the real tdx_quote after its collateral expired: both reject at the same step, exit 1", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_WINDOW.to + 1), "--on-chain", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.ok).toBe(false);
    expect(j.agree).toBe(true);
    expect(j.onChain.ok).toBe(false);
    expect(j.onChain.step).toBe(j.checks.at(-1)!.name);
    expect(j.onChain.gasUsed).toBeNull();
  });

  it("a forged world with a revoked PCK leaf (--root-ca): both reject at pck.chain, exit 1", async () => {
    const r = await runCli(["verify-quote", ...revokedArgs, "--on-chain", "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.error!.code).toBe("PCK_REVOKED");
    expect(j.onChain).toMatchObject({ ok: false, step: "pck.chain" });
    expect(j.agree).toBe(true);
  });

  it("an accepted forged world (human output): the verifier is deployed under --root-ca and says it is not Intel's root", async () => {
    const r = await runCli(["verify-quote", ...acceptedArgs, "--on-chain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^VALID \(NOT GENUINE: non-Intel root CA\): UpToDate/);
    expect(r.stdout).toMatch(/^ {2}TypeScript: valid: UpToDate, FMSPC [0-9A-F]{12}$/m);
    expect(r.stdout).toMatch(/^ {2}on chain: {3}valid: UpToDate, FMSPC [0-9A-F]{12} \(NOT GENUINE: the verifier's root is not Intel's\)$/m);
    expect(r.stdout).toMatch(/^ {2}gas: {8}\d{6,7} \(eth_estimateGas/m);
    expect(r.stdout).toMatch(/^ {2}AGREE: both verifiers reached the same verdict$/m);
  });
});

describe("verify-quote --on-chain RPC_URL (a real hardhat node)", () => {
  let node: DevNode;
  let intelVerifier: string;
  let forgedVerifier: string;
  beforeAll(async () => {
    node = await startDevNode();
    const conn = await connect(node.url, { pollingIntervalMs: 50 });
    const wallet = walletFor(conn, privateKeyToAccount(HARDHAT_DEV_ACCOUNT_0_KEY));
    intelVerifier = await deployVerifier(conn.publicClient, wallet, INTEL_SGX_ROOT_CA_DER);
    forgedVerifier = await deployVerifier(conn.publicClient, wallet, accepted.rootCaDer);
  }, 60_000);
  afterAll(async () => node?.stop());

  it("the real tdx_quote through eth_call: agree, gas, exit 0", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--on-chain", node.url, "--verifier", intelVerifier, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.agree).toBe(true);
    expect(j.onChain).toMatchObject({ ok: true, status: "UpToDate", isIntelRoot: true, verifier: intelVerifier });
    expect(j.onChain.gasUsed).toBeGreaterThan(300_000);
  });

  it("the URL may come before the quote", async () => {
    const r = await runCli(["verify-quote", "--on-chain", node.url, TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--verifier", intelVerifier]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/eth_call on http:\/\/127\.0\.0\.1:\d+\/? \(chain 31337\)/);
  });

  it("a forged world against the verifier under its root: agree", async () => {
    const r = await runCli(["verify-quote", ...acceptedArgs, "--on-chain", node.url, "--verifier", forgedVerifier, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Doc).agree).toBe(true);
  });

  it("a forged world (valid under --root-ca) against Intel's verifier: DISAGREE, exit 1 with ONCHAIN_DISAGREEMENT", async () => {
    const r = await runCli(["verify-quote", ...acceptedArgs, "--on-chain", node.url, "--verifier", intelVerifier, "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as Doc;
    expect(j.ok).toBe(true);
    expect(j.agree).toBe(false);
    expect(j.onChain.ok).toBe(false);
    expect(j.differences![0]).toMatch(/^verdict: TypeScript accepts, on chain rejects at /);
    expect(r.stderr).toMatch(/ONCHAIN_DISAGREEMENT: the on-chain verifier and the TypeScript verifier disagree: verdict:/);
    const h = await runCli(["verify-quote", ...acceptedArgs, "--on-chain", node.url, "--verifier", intelVerifier]);
    expect(h.code).toBe(1);
    expect(h.stdout).toMatch(/^ {2}DISAGREE: verdict: TypeScript accepts, on chain rejects at /m);
  });

  it("no contract at --verifier: VERIFIER_NO_CODE, exit 1", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--on-chain", node.url, "--verifier", "0x000000000000000000000000000000000000dEaD"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no contract code at the verifier address/);
  });
});

describe.concurrent("verify-quote --on-chain: bad option combinations (exit 2, nothing started)", () => {
  it.each([
    [["--on-chain", "http://127.0.0.1:1"], /--on-chain RPC_URL needs --verifier ADDR/],
    [["--on-chain", "--verifier", "0x000000000000000000000000000000000000dEaD"], /--verifier needs --on-chain RPC_URL/],
    [["--verifier", "0x000000000000000000000000000000000000dEaD"], /--verifier applies only with --on-chain RPC_URL/],
    [["extra"], /unexpected argument "extra"/],
    [["--on-chain", "not-a-url"], /--on-chain takes one RPC_URL/],
    [["--on-chain", "http://127.0.0.1:1", "--verifier", "0x12"], /--verifier must be a 20-byte 0x address/],
    [["--on-chain", "--allow-sept-ve"], /--allow-sept-ve cannot apply/],
  ])("%j", async (extra, message) => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("an SGX quote: --on-chain verifies TDX quotes only", async () => {
    const r = await runCli(["verify-quote", fixturePath("sgx_quote"), "--collateral", fixturePath("sgx_quote_collateral.json"), "--on-chain"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on-chain verifies TDX quotes only; the input is sgx/);
  });

  it("an unreachable RPC_URL: RPC_UNREACHABLE, exit 1", async () => {
    const r = await runCli(["verify-quote", TDX, "--collateral", TDX_COLL, "--at", String(TDX_NOW), "--on-chain", "http://127.0.0.1:1", "--verifier", "0x000000000000000000000000000000000000dEaD"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/did not answer eth_chainId/);
  });
});
