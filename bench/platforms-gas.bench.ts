/**
 * Gas of the registry's non-TDX registrations on Hardhat's in-process EDR network (cancun). Prints one JSON object.
 *
 *   npx tsx bench/platforms-gas.bench.ts
 *
 * - registerNitro: `gasUsed` of the receipt (21,000 + calldata + execution) with an NSM-shaped document of a test
 *   Nitro world (the size of a real one with a 2-certificate cabundle) binding fresh keys; first registration.
 * - nitroDocumentFields: execution gas of the reader alone on dstack's real 4.5 KB Nitro document (a transaction
 *   to the view, minus its intrinsic cost), its payload an indefinite-length map with a 4-certificate cabundle.
 * - registerSnp: with and without the AMD CRL (KmsSnpCrlPublished), first registration each.
 */
import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { encodeFunctionData, zeroAddress, type Hex } from "viem";

import { bytesToHex, hexToBytes } from "../src/core/bytes.js";
import { decodeDstackAttestation } from "../src/dstack/attestation.js";
import { createNitroWorld, makeNitroDocument } from "../src/testing/platforms/nitro-world.js";
import { createSnpWorld, issueVcek, makeArkCrl, makeSnpReport } from "../src/testing/platforms/snp-world.js";
import { bindingReportData, newKms } from "../test/contracts/helpers.js";

function calldataCost(data: Hex): number {
  let g = 0;
  for (const b of hexToBytes(data)) g += b === 0 ? 4 : 16;
  return g;
}

const now = Math.floor(Date.now() / 1000);
// cancun, the EVM the contracts target: no EIP-7623 calldata floor hides the execution gas
const { viem } = await network.connect({ override: { hardfork: "cancun" } });
const publicClient = await viem.getPublicClient();
const [wallet] = await viem.getWalletClients();
const registry = await viem.deployContract("KmsRegistry", [wallet!.account.address, zeroAddress]);
const gasOf = async (hash: Hex) => Number((await publicClient.waitForTransactionReceipt({ hash })).gasUsed);

const world = createNitroWorld({ now });
const k = newKms();
const document = makeNitroDocument(world, { timestamp: now * 1000, userData: bindingReportData(k.caPubkey, k.k256Pubkey) });
const registerNitro = await gasOf(await registry.write.registerNitro([bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(document)]));

const real = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../test/fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url)))).evidence;
const data = encodeFunctionData({ abi: registry.abi, functionName: "nitroDocumentFields", args: [bytesToHex(real)] });
const readerTx = await gasOf(await wallet!.sendTransaction({ to: registry.address, data }));

const snp = createSnpWorld({ now });
const vcek = issueVcek(snp, { chipId: new Uint8Array(64).fill(3), tcb: { bootloader: 4, tee: 0, snp: 23, microcode: 213 } });
const crl = makeArkCrl(snp, { thisUpdate: now - 3600, nextUpdate: now + 86_400 });
const amdChain = bytesToHex(new TextEncoder().encode(snp.certChainPem));
async function snpGas(withCrl: boolean) {
  const s = newKms();
  const report = makeSnpReport(snp, vcek, { reportData: bindingReportData(s.caPubkey, s.k256Pubkey) });
  return gasOf(await registry.write.registerSnp([bytesToHex(s.caPubkey), bytesToHex(s.k256Pubkey), bytesToHex(report), bytesToHex(vcek.der), amdChain, withCrl ? bytesToHex(crl) : "0x"]));
}

const art = JSON.parse(readFileSync(new URL("../artifacts/contracts/KmsRegistry.sol/KmsRegistry.json", import.meta.url), "utf8")) as { deployedBytecode: string };
process.stdout.write(
  JSON.stringify({
    registerNitro: { gasUsed: registerNitro, documentBytes: document.length },
    nitroDocumentFieldsRealDocument: { execution: readerTx - 21_000 - calldataCost(data), documentBytes: real.length },
    registerSnp: { withoutCrl: await snpGas(false), withCrl: await snpGas(true), crlBytes: crl.length },
    kmsRegistryRuntimeBytes: (art.deployedBytecode.length - 2) / 2,
  }) + "\n",
);
