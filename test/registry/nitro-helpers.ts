/**
 * AWS Nitro Enclave registrations on a real `hardhat node`: a test Nitro world (a P-384 test root standing in for
 * AWS's Nitro Enclaves Root-G1, a regional CA) whose NSM-shaped documents bind fresh KMS keys in user_data,
 * registered through the registry's real `registerNitro`, and the test root as a PEM file for `--root-ca`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { getAddress } from "viem";

import { bytesToHex } from "../../src/core/bytes.js";
import { toPem } from "../../src/dcap/x509.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { createNitroWorld, makeNitroDocument, type NitroDocumentOptions, type NitroWorld } from "../../src/testing/platforms/nitro-world.js";
import { randomKms, type TestChain, type TestKms } from "./chain-helpers.js";

export interface NitroTestWorld {
  world: NitroWorld;
  /** The test root, PEM (for `--root-ca`). */
  rootFile: string;
}

export function nitroTestWorld(dir: string, now = Math.floor(Date.now() / 1000)): NitroTestWorld {
  const world = createNitroWorld({ now });
  const rootFile = path.join(dir, "test-nitro-root.pem");
  writeFileSync(rootFile, toPem(world.rootDer));
  return { world, rootFile };
}

export interface NitroRegistration {
  kms: `0x${string}`;
  identity: TestKms;
  document: Uint8Array;
  tx: `0x${string}`;
  block: bigint;
}

/** `registerNitro` of a fresh KMS whose NSM document (stamped `timestampMs`, default a minute ago) binds its keys. */
export async function registerNitroKms(chain: TestChain, w: NitroTestWorld, o: Partial<NitroDocumentOptions> = {}): Promise<NitroRegistration> {
  const identity = randomKms();
  const document = makeNitroDocument(w.world, { timestamp: Date.now() - 60_000, userData: expectedKmsReportData(identity.caPubkey, identity.k256Pubkey), ...o });
  const hash = await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "registerNitro", args: [bytesToHex(identity.caPubkey), bytesToHex(identity.k256Pubkey), bytesToHex(document)] });
  const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`registerNitro ${hash} reverted`);
  return { kms: getAddress(ethAddress(identity.k256Pubkey)) as `0x${string}`, identity, document, tx: hash, block: r.blockNumber };
}
