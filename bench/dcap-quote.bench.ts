/**
 * Gas of the on-chain TDX quote parser and its signature steps (contracts/dcap/TdxQuote.sol,
 * QuoteSignatures.sol) for the real 5006-byte `tdx_quote`. Prints one JSON object.
 *
 *   npx tsx bench/dcap-quote.bench.ts
 *
 * Method: TdxQuoteHarness.measure returns `gasleft()` differences around `TdxQuote.parse` and around parse +
 * QE report signature (PCK key from the quote's own chain) + QE report binding + quote signature: execution
 * gas of the libraries alone, without calldata or ABI decoding. `txGasUsed` is the receipt of a transaction
 * calling `verify` (21,000 + calldata, with the EIP-7623 calldata floor on Osaka, + execution). Measured on
 * Osaka (P-256 precompile at 0x100) and Cancun (no precompile: OpenZeppelin's Solidity P-256).
 */
import { network } from "hardhat";
import { encodeFunctionData } from "viem";

import { bytesToHex } from "../src/core/bytes.js";
import { pckLeaf } from "../test/contracts/dcap-quote-helpers.js";
import { REAL_QUOTE } from "../test/contracts/helpers.js";

const TARGET_WHOLE_VERIFIER_OSAKA = 1_200_000;

async function measure(hardfork: "osaka" | "cancun") {
  const { viem } = await network.connect({ override: { hardfork } });
  const publicClient = await viem.getPublicClient();
  const [wallet] = await viem.getWalletClients();
  const harness = await viem.deployContract("TdxQuoteHarness");
  const { x, y } = pckLeaf(REAL_QUOTE);
  const q = bytesToHex(REAL_QUOTE);
  const [parseGas, verifyGas] = await harness.read.measure([q, x, y]);
  const data = encodeFunctionData({ abi: harness.abi, functionName: "verify", args: [q, x, y] });
  const hash = await wallet!.sendTransaction({ to: harness.address, data });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`verify failed on ${hardfork}`);
  return { parse: Number(parseGas), parseAndSignatures: Number(verifyGas), txGasUsed: Number(receipt.gasUsed) };
}

const osaka = await measure("osaka");
const cancun = await measure("cancun");
process.stdout.write(
  JSON.stringify(
    {
      bench: "TdxQuote + QuoteSignatures gas",
      quoteBytes: REAL_QUOTE.length,
      method: "execution gas by gasleft() around the library calls; txGasUsed = receipt of a verify transaction",
      osaka,
      cancun,
      wholeVerifierTargetOsaka: TARGET_WHOLE_VERIFIER_OSAKA,
      shareOfTargetOsaka: `${((osaka.parseAndSignatures / TARGET_WHOLE_VERIFIER_OSAKA) * 100).toFixed(1)}%`,
    },
    null,
    2,
  ) + "\n",
);
