/** The package entry point exposes the whole attestation API, including online collateral and the forge. */
import { describe, expect, it } from "vitest";

import * as pkg from "../../src/index.js";
import { parseCollateralJson } from "../../src/attestation/collateral.js";
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
      "createForgeWorld",
      "forgeQuote",
    ]) {
      expect(typeof (pkg as Record<string, unknown>)[name], name).toBe("function");
    }
    expect(pkg.INTEL_PCS_URL).toBe("https://api.trustedservices.intel.com");
    expect(pkg.collateralRequestInfo(tdxQuote())).toEqual({ tee: "tdx", fmspc: "B0C06F000000", ca: "platform" });
    expect(pkg.verifyQuote(tdxQuote(), { collateral: parseCollateralJson(fixtureText("tdx_quote_collateral.json")), now: TDX_NOW }).status).toBe("UpToDate");
    const world = await pkg.createForgeWorld({ seed: "exports" });
    const r = pkg.verifyQuote(await pkg.forgeQuote(world), { collateral: world.collateral, now: world.now, rootCaDer: world.rootCaDer });
    expect(r).toMatchObject({ status: "UpToDate", genuine: false });
  });
});
