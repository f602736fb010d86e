/**
 * The Hardhat config of the `hardhat node` that runs the on-chain verifier in the watch tests: the Osaka
 * hardfork (the P-256 precompile the verifier uses) and no contract size limit (the DcapVerifier's runtime is
 * over EIP-170 until it is split).
 */
import { defineConfig } from "hardhat/config";

export default defineConfig({
  networks: { node: { type: "edr-simulated", hardfork: "osaka", allowUnlimitedContractSize: true } },
});
