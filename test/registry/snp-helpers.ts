/**
 * SEV-SNP registrations on a real `hardhat node`: a test AMD world (test ARK/ASK, one VCEK) whose reports bind
 * fresh KMS keys, registered through the registry's real `registerSnp` (the report, the VCEK and the ASK/ARK chain
 * published in `KmsSnpEvidencePublished`), and the test ARK as a PEM file for `--root-ca`.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { getAddress } from "viem";

import { bytesToHex } from "../../src/core/bytes.js";
import { toPem } from "../../src/dcap/x509.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { createSnpWorld, issueVcek, makeSnpReport, type SnpReportOptions, type SnpVcek, type SnpWorld } from "../../src/testing/platforms/snp-world.js";
import { randomKms, type TestChain, type TestKms } from "./chain-helpers.js";

export interface SnpTestWorld {
  world: SnpWorld;
  vcek: SnpVcek;
  /** The test ARK, PEM (for `--root-ca`). */
  arkFile: string;
}

export const SNP_TCB = { bootloader: 4, tee: 0, snp: 22, microcode: 213 } as const;

export function snpTestWorld(dir: string, now = Math.floor(Date.now() / 1000)): SnpTestWorld {
  const world = createSnpWorld({ now });
  const vcek = issueVcek(world, { chipId: new Uint8Array(64).fill(0x5c), tcb: { ...SNP_TCB } });
  const arkFile = path.join(dir, "test-ark.pem");
  writeFileSync(arkFile, toPem(world.arkDer));
  return { world, vcek, arkFile };
}

export interface SnpRegistration {
  kms: `0x${string}`;
  identity: TestKms;
  report: Uint8Array;
  tx: `0x${string}`;
  block: bigint;
}

/** `registerSnp` of a fresh KMS whose report (signed by the world's VCEK) binds its keys. */
export async function registerSnpKms(chain: TestChain, w: SnpTestWorld, o: Partial<SnpReportOptions> = {}): Promise<SnpRegistration> {
  const identity = randomKms();
  const report = makeSnpReport(w.world, w.vcek, { reportData: expectedKmsReportData(identity.caPubkey, identity.k256Pubkey), ...o });
  const hash = await chain.wallet.writeContract({
    address: chain.registry,
    abi,
    functionName: "registerSnp",
    args: [bytesToHex(identity.caPubkey), bytesToHex(identity.k256Pubkey), bytesToHex(report), bytesToHex(w.vcek.der), bytesToHex(new TextEncoder().encode(w.world.certChainPem)), "0x"],
  });
  const r = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`registerSnp ${hash} reverted`);
  return { kms: getAddress(ethAddress(identity.k256Pubkey)) as `0x${string}`, identity, report, tx: hash, block: r.blockNumber };
}
