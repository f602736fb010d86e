/**
 * Gas of the on-chain TDX quote verifier (contracts/dcap/DcapVerifier.sol) for the real 5006-byte
 * `tdx_quote` with its collateral at 1752919234, on Osaka (P-256 precompile at 0x100). Prints one JSON
 * object.
 *
 *   npx tsx bench/dcap-verifier.bench.ts
 *
 * Method: DcapVerifierHarness.measure returns the `gasleft()` difference around the external
 * `verify` call (the call, the verifier's ABI decoding and every step), without the transaction's
 * intrinsic and calldata cost. The verifier's runtime code is larger than the 24 KiB deployment limit,
 * so the simulated network allows unlimited code size.
 */
import { network } from "hardhat";

import { bytesToHex } from "../src/core/bytes.js";
import { INTEL_SGX_ROOT_CA_DER } from "../src/dcap/intel-root.js";
import { chainCollateral, readCollateral, rootArgs, TCB_STATUS_NAMES } from "../test/contracts/dcap-verifier-lib.js";
import { REAL_QUOTE } from "../test/contracts/helpers.js";

const NOW = 1752919234n;
const TARGET_OSAKA = 1_200_000;

const { viem } = await network.connect({ override: { hardfork: "osaka" } });
const verifier = await viem.deployContract("DcapVerifier", rootArgs(INTEL_SGX_ROOT_CA_DER));
const harness = await viem.deployContract("DcapVerifierHarness");
const collateral = readCollateral(new URL("../test/fixtures/dcap/tdx_quote_collateral.json", import.meta.url));
const c = chainCollateral(REAL_QUOTE, collateral);
const [gasUsed, status] = await harness.read.measure([verifier.address, bytesToHex(REAL_QUOTE), c, NOW]);
const publicClient = await viem.getPublicClient();
const code = await publicClient.getCode({ address: verifier.address });

process.stdout.write(
  JSON.stringify(
    {
      bench: "DcapVerifier.verify gas",
      hardfork: "osaka",
      quoteBytes: REAL_QUOTE.length,
      tcbInfoBytes: (c.tcbInfoJson.length - 2) / 2,
      qeIdentityBytes: (c.qeIdentityJson.length - 2) / 2,
      status: TCB_STATUS_NAMES[Number(status)],
      method: "gasleft() difference around the external verify call (call + ABI decoding + all steps)",
      verifyGas: Number(gasUsed),
      targetOsaka: TARGET_OSAKA,
      shareOfTarget: `${((Number(gasUsed) / TARGET_OSAKA) * 100).toFixed(1)}%`,
      runtimeCodeBytes: code ? (code.length - 2) / 2 : 0,
    },
    null,
    2,
  ) + "\n",
);
