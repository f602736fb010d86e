/**
 * Helpers for tests that need a real JSON-RPC node: start `hardhat node`, deploy the registry, and make
 * KMS identities whose quote is the real Intel-signed `tdx_quote` with report_data re-bound to freshly
 * generated keys (what the contract checks on chain; the Intel signature no longer covers it).
 */
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";

import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { P256_SPKI_PREFIX } from "../../src/dcap/p256.js";
import { parseQuote } from "../../src/dcap/quote.js";
import { concatBytes } from "../../src/core/bytes.js";
import { accountFromEnv, connect, walletFor, type Connection } from "../../src/registry/connect.js";
import { deployRegistry, recordOf } from "../../src/registry/deploy.js";
import type { DeploymentRecord } from "../../src/registry/deployments.js";
import { HARDHAT_DEV_ACCOUNT_0_KEY, startDevNode, type DevNode } from "../../src/testing/devnode.js";
import type { KmsIdentity } from "../../src/registry/publish.js";

export const FIXTURES = new URL("../fixtures/dcap/", import.meta.url);
export const REAL_TDX_QUOTE = new Uint8Array(readFileSync(new URL("tdx_quote", FIXTURES)));

/** A copy of `quote` whose report_data binds (caPubkey, k256Pubkey). */
export function rebindQuote(quote: Uint8Array, caPubkey: Uint8Array, k256Pubkey: Uint8Array): Uint8Array {
  const q = parseQuote(quote);
  const out = quote.slice();
  out.set(expectedKmsReportData(caPubkey, k256Pubkey), q.bodyOffset + 520);
  return out;
}

export interface TestKms extends KmsIdentity {
  k256Secret: Uint8Array;
}

/** Fresh P-256 CA key (91-byte SPKI) and secp256k1 root key, with the real quote re-bound to them. */
export function randomKms(base = REAL_TDX_QUOTE): TestKms {
  const caPubkey = concatBytes(P256_SPKI_PREFIX, p256.getPublicKey(p256.utils.randomSecretKey(), false));
  const k256Secret = secp256k1.utils.randomSecretKey();
  const k256Pubkey = secp256k1.getPublicKey(k256Secret, true);
  return { caPubkey, k256Pubkey, k256Secret, quote: rebindQuote(base, caPubkey, k256Pubkey) };
}

export interface TestChain {
  node: DevNode;
  conn: Connection;
  wallet: ReturnType<typeof walletFor>;
  registry: `0x${string}`;
  record: DeploymentRecord;
  tmp: string;
}

export const DEV_ENV = { KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_0_KEY };

/** Start a node and deploy a registry administered by dev account #0. */
export async function startChain(): Promise<TestChain> {
  const node = await startDevNode();
  try {
    const conn = await connect(node.url);
    const wallet = walletFor(conn, accountFromEnv(DEV_ENV));
    const rec = await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, toolVersion: "test" });
    const tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-test-"));
    return { node, conn, wallet, registry: rec.address, record: recordOf(rec), tmp };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
