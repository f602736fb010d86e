/**
 * The package entry point exposes the whole attestation API, including online collateral; the test worlds
 * (forge, simulated KMS, test PKI, dev node with its keys) come only from `dstack-kms-registry/testing`.
 */
import { describe, expect, it } from "vitest";

import * as pkg from "../../src/index.js";
import * as testing from "../../src/testing/index.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { fixtureText, TDX_NOW, tdxQuote } from "./real-fixtures.js";

describe("package exports (src/index.ts)", () => {
  it("parse, verify, collateral (file and PCCS) and the forge are importable from the package root", async () => {
    for (const name of [
      "parseQuote",
      "verifyQuote",
      "checkQuote",
      "verifyQuoteSignatures",
      "createVerificationCache",
      "parseCollateralJson",
      "collateralToJson",
      "fetchCollateral",
      "collateralRequestInfo",
      "normalizePccsBase",
      "defaultCollateralCacheDir",
    ]) {
      expect(typeof (pkg as Record<string, unknown>)[name], name).toBe("function");
    }
    expect(pkg.INTEL_PCS_URL).toBe("https://api.trustedservices.intel.com");
    expect(pkg.collateralRequestInfo(tdxQuote())).toEqual({ tee: "tdx", fmspc: "B0C06F000000", ca: "platform" });
    expect(pkg.verifyQuote(tdxQuote(), { collateral: parseCollateralJson(fixtureText("tdx_quote_collateral.json")), now: TDX_NOW }).status).toBe("UpToDate");
  });

  it("the root exports no test world; dstack-kms-registry/testing has the forge, the simulator, the test PKI and the dev node", async () => {
    const root = pkg as Record<string, unknown>;
    for (const name of ["createForgeWorld", "forgeQuote", "startSimulatedKms", "generateKmsKeys", "createSelfSignedCa", "startDevNode", "HARDHAT_DEV_ACCOUNT_0_KEY"]) {
      expect(root[name], `root exports ${name}`).toBeUndefined();
      expect(testing[name as keyof typeof testing], `testing exports ${name}`).toBeDefined();
    }
    const world = await testing.createForgeWorld({ seed: "exports" });
    const r = pkg.verifyQuote(await testing.forgeQuote(world), { collateral: world.collateral, now: world.now, rootCaDer: world.rootCaDer });
    expect(r).toMatchObject({ status: "UpToDate", genuine: false });
  });
});
