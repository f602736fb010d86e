import { createRequire } from "node:module";
import path from "node:path";

import hardhatToolboxViemPlugin from "@nomicfoundation/hardhat-toolbox-viem";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

/**
 * The Solidity compiler comes from the npm `solc` package (its `soljson.js` WASM build), so a
 * build never downloads a compiler. `SOLC_VERSION` must equal that package's version: Hardhat
 * treats a non-binary `path` as a WASM build of exactly `version`.
 */
export const SOLC_VERSION = "0.8.37";
const solcPackageVersion = (require("solc/package.json") as { version: string }).version;
if (solcPackageVersion !== SOLC_VERSION) {
  throw new Error(`hardhat.config.ts names solc ${SOLC_VERSION} but node_modules/solc is ${solcPackageVersion}`);
}
const soljson = path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js");

/**
 * EVM version: "cancun". Ethereum mainnet and every major L2 (OP Stack chains such as Base and
 * Optimism, Arbitrum One, Scroll, Linea, zkSync's EVM interpreter aside) execute Cancun opcodes
 * (PUSH0, MCOPY, transient storage). Prague is not yet live on all of them, so we do not emit
 * anything newer. See README "Compiler settings".
 */
export const SOLIDITY_SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 10_000 },
  metadata: { bytecodeHash: "none" },
} as const;

export default defineConfig({
  plugins: [hardhatToolboxViemPlugin],
  solidity: {
    // "production" (what `hardhat verify` builds its minimal input with, and `--build-profile production`) is the
    // same build as "default": Hardhat would otherwise derive it with its own optimizer settings.
    profiles: {
      default: { version: SOLC_VERSION, path: soljson, settings: SOLIDITY_SETTINGS },
      production: { version: SOLC_VERSION, path: soljson, settings: SOLIDITY_SETTINGS },
    },
  },
  paths: {
    tests: { solidity: "contracts" },
  },
  /**
   * `npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network <name> --strategy create2` deploys
   * through CreateX with this salt: 20 zero bytes and a 0x00 flag byte, so the addresses depend only on the
   * salt and the init code — the same on every chain. It is src/registry/createx.ts's IGNITION_CREATE2_SALT
   * (this file imports nothing from src/: Hardhat loads it with Node's own TypeScript support).
   */
  ignition: { strategyConfig: { create2: { salt: "0x000000000000000000000000000000000000000000645b36ed7ff81c0195a874" } } },
  /** Explorer verification (`kms-registry:deploy --verify`, `npx hardhat verify …`); the key is optional. */
  verify: { etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") } },
  networks: {
    /** Any chain by URL: KMS_REGISTRY_RPC_URL=https://… npx hardhat <task> --network rpc */
    rpc: {
      type: "http",
      url: configVariable("KMS_REGISTRY_RPC_URL"),
      accounts: [configVariable("KMS_REGISTRY_PRIVATE_KEY")],
    },
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    // The JSON-RPC node of the demo and the end-to-end tests (`hardhat --network devnode node`, see
    // src/testing/devnode.ts): Osaka for the P-256 precompile the on-chain DCAP verifier calls.
    devnode: { type: "edr-simulated", chainType: "l1", hardfork: "osaka" },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("KMS_REGISTRY_PRIVATE_KEY")],
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("KMS_REGISTRY_PRIVATE_KEY")],
    },
  },
});
