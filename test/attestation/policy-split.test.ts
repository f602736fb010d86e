/**
 * Intel's verdict (`verification`) apart from this verifier's policy (`policy`): a TD whose only fault
 * is a clear SEPT_VE_DISABLE passes Intel's rules and is refused by the policy alone; `allowSeptVe`
 * lets it pass; failures after the quote parsed still carry the report and the PCK identity.
 *
 * No real Intel-signed quote with SEPT_VE_DISABLE clear is available (every real TDX quote in
 * test/fixtures/dcap and the shared fixtures has it set), so that TD is forged, with correctly
 * signed collateral; the real fixtures cover the unchanged results and the failure reports.
 */
import { beforeAll, describe, expect, it } from "vitest";

import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { tdAttributeRules, tdAttributesProblem } from "../../src/dcap/tcb-policy.js";
import { checkQuote, QuoteVerificationError, verifyQuote } from "../../src/dcap/verify.js";
import { UsageError } from "../../src/core/errors.js";
import { bytesToPlainHex } from "../../src/core/bytes.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { eventLogToJson, replayEventLog } from "../../src/dstack/eventlog.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { generateK256, generateP256 } from "../../src/testing/pki.js";
import { SIMULATED_MR_TD, simulatedKmsEventLog } from "../../src/testing/simulator/index.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { publicKeyFromPrivate } from "../../src/dstack/signatures.js";
import { fixtureText, SGX_NOW, sgxCollateral, sgxQuote, TDX_NOW, TDX_WINDOW, tdxCollateral, tdxQuote } from "./real-fixtures.js";

const SEPT_VE_CLEAR = "0000000000000000";
const DCAP_STEPS = 20; // every step but report.policy

let world: ForgeWorld;
let septVeClear: Uint8Array;
beforeAll(async () => {
  world = await createForgeWorld({ seed: "policy-split" });
  septVeClear = await forgeQuote(world, { tdAttributes: SEPT_VE_CLEAR });
});

const forged = (extra: Record<string, unknown> = {}) => ({ collateral: world.collateral, now: world.now, rootCaDer: world.rootCaDer, ...extra });

function thrown(fn: () => unknown): QuoteVerificationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof QuoteVerificationError) return e;
    throw e;
  }
  throw new Error("expected a QuoteVerificationError, got a result");
}

describe("a TD with SEPT_VE_DISABLE clear: Intel's rules pass, the policy refuses", () => {
  it("verifyQuote throws TD_SEPT_VE_DISABLE_CLEAR carrying verification.ok, the failing rule, the report and the PCK", () => {
    const e = thrown(() => verifyQuote(septVeClear, forged()));
    expect(e.code).toBe("TD_SEPT_VE_DISABLE_CLEAR");
    expect(e.checks.at(-1)).toMatchObject({ name: "report.policy", ok: false });
    expect(e.verification).toMatchObject({ ok: true, status: "UpToDate", advisoryIds: [], genuine: false });
    expect(e.verification!.checks).toHaveLength(DCAP_STEPS);
    expect(e.verification!.checks.every((c) => c.ok && c.name !== "report.policy")).toBe(true);
    expect(e.policy).toEqual({
      ok: false,
      rules: [
        { name: "tcb.status", ok: true, detail: "UpToDate is one of the accepted statuses (UpToDate, SWHardeningNeeded)" },
        { name: "td.attributes.reserved", ok: true, detail: "no reserved bit set (attributes 0000000000000000)" },
        { name: "td.debug", ok: true, detail: "not DEBUG" },
        { name: "td.sept-ve-disable", ok: false, detail: "SEPT_VE_DISABLE (TD attributes bit 28) is not set" },
      ],
    });
    expect(e.report).toMatchObject({ type: "td10", tdAttributes: `0x${SEPT_VE_CLEAR}` });
    expect(e.pck).toMatchObject({ fmspc: "0xb0c06f000000", pceId: "0x0000", ca: "platform" });
  });

  it("checkQuote returns the same split instead of throwing", () => {
    const r = checkQuote(septVeClear, forged());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("TD_SEPT_VE_DISABLE_CLEAR");
    expect(r.verification).toMatchObject({ ok: true, status: "UpToDate" });
    expect(r.policy?.ok).toBe(false);
    expect(r.policy?.rules.filter((x) => !x.ok).map((x) => x.name)).toEqual(["td.sept-ve-disable"]);
    expect(r.report?.tdAttributes).toBe(`0x${SEPT_VE_CLEAR}`);
    expect(r.pck?.fmspc).toBe("0xb0c06f000000");
  });

  it("allowSeptVe lets it pass the policy, with a warning and the rule saying so", () => {
    const r = verifyQuote(septVeClear, forged({ allowSeptVe: true }));
    expect(r).toMatchObject({ status: "UpToDate", accepted: true, genuine: false });
    expect(r.verification).toMatchObject({ ok: true, status: "UpToDate", advisoryIds: [], genuine: false });
    expect(r.policy.ok).toBe(true);
    expect(r.policy.rules.find((x) => x.name === "td.sept-ve-disable")).toEqual({
      name: "td.sept-ve-disable",
      ok: true,
      detail: "SEPT_VE_DISABLE (TD attributes bit 28) is not set (allowed by option)",
    });
    expect(r.checks.at(-1)).toEqual({ name: "report.policy", ok: true, detail: "TD attributes 0000000000000000 acceptable (allowed by option: td.sept-ve-disable)" });
    expect(r.warnings).toContain("the TD's SEPT_VE_DISABLE attribute is clear (accepted by allowSeptVe): the TD may take #VE on EPT violations, not acceptable for a dstack KMS");
  });

  it("allowSeptVe relaxes only that rule: DEBUG and reserved bits are still refused", async () => {
    const debug = await forgeQuote(world, { tdAttributes: "0100000000000000" });
    const e = thrown(() => verifyQuote(debug, forged({ allowSeptVe: true })));
    expect(e.code).toBe("TD_DEBUG");
    expect(e.policy?.rules.filter((x) => !x.ok).map((x) => x.name)).toEqual(["td.debug"]);
    const reserved = await forgeQuote(world, { tdAttributes: "0000002000000000" });
    expect(thrown(() => verifyQuote(reserved, forged({ allowSeptVe: true }))).code).toBe("TD_ATTRIBUTES_RESERVED");
  });

  it("a TD 1.5 report: mr_service_td is its own rule and keeps its precedence over the attributes", async () => {
    const q = await forgeQuote(world, { version: 5, body: "td15", mrServiceTd: "01".repeat(48), tdAttributes: SEPT_VE_CLEAR });
    const e = thrown(() => verifyQuote(q, forged()));
    expect(e.code).toBe("TD_SERVICE_TD_INVALID");
    expect(e.verification?.ok).toBe(true);
    expect(e.policy?.rules.map((x) => [x.name, x.ok])).toEqual([
      ["tcb.status", true],
      ["td.mr-service-td", false],
      ["td.attributes.reserved", true],
      ["td.debug", true],
      ["td.sept-ve-disable", false],
    ]);
    const ok = verifyQuote(q, forged({ allowServiceTd: true, allowSeptVe: true }));
    expect(ok.policy.ok).toBe(true);
  });
});

describe("results keep every existing field and add the split", () => {
  it("the real tdx_quote: verification and policy both pass, the checks still end with report.policy", () => {
    const r = verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(r).toMatchObject({ status: "UpToDate", advisoryIds: [], genuine: true, accepted: true });
    expect(r.checks).toHaveLength(DCAP_STEPS + 1);
    expect(r.checks.at(-1)).toEqual({ name: "report.policy", ok: true, detail: "TD attributes 0000001000000000 acceptable" });
    expect(r.verification).toEqual({ ok: true, status: "UpToDate", advisoryIds: [], genuine: true, checks: r.checks.slice(0, -1) });
    expect(r.policy).toEqual({
      ok: true,
      rules: [
        { name: "tcb.status", ok: true, detail: "UpToDate is one of the accepted statuses (UpToDate, SWHardeningNeeded)" },
        { name: "td.attributes.reserved", ok: true, detail: "no reserved bit set (attributes 0000001000000000)" },
        { name: "td.debug", ok: true, detail: "not DEBUG" },
        { name: "td.sept-ve-disable", ok: true, detail: "SEPT_VE_DISABLE (TD attributes bit 28) is set" },
      ],
    });
    expect(r.pck.fmspc).toBe("0xb0c06f000000");
    expect(r.report.tdAttributes).toBe("0x0000001000000000");
  });

  it("the real sgx_quote: a status outside the accepted ones is a result with accepted:false, not an error", () => {
    const r = verifyQuote(sgxQuote(), { collateral: sgxCollateral(), now: SGX_NOW });
    expect(r).toMatchObject({ status: "ConfigurationAndSWHardeningNeeded", accepted: false });
    expect(r.verification).toMatchObject({ ok: true, status: "ConfigurationAndSWHardeningNeeded", advisoryIds: ["INTEL-SA-00289", "INTEL-SA-00615"], genuine: true });
    expect(r.policy).toEqual({
      ok: false,
      rules: [
        { name: "tcb.status", ok: false, detail: "ConfigurationAndSWHardeningNeeded is not one of the accepted statuses (UpToDate, SWHardeningNeeded)" },
        { name: "enclave.debug", ok: true, detail: "not DEBUG" },
      ],
    });
    const widened = verifyQuote(sgxQuote(), { collateral: sgxCollateral(), now: SGX_NOW, acceptStatuses: ["ConfigurationAndSWHardeningNeeded"] });
    expect(widened.accepted).toBe(true);
    expect(widened.policy.ok).toBe(true);
  });

  it("acceptStatuses that are not TCB statuses are a UsageError", () => {
    for (const bad of [["Fine"], "UpToDate", [1]]) {
      expect(() => verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_NOW, acceptStatuses: bad as never })).toThrow(UsageError);
    }
  });
});

describe("a verification failure after the quote parsed still reports what was attested", () => {
  it("PCK CRL expired (pck.chain fails): report and the PCK's FMSPC are there, verification failed, no policy", () => {
    const e = thrown(() => verifyQuote(tdxQuote(), { collateral: tdxCollateral(), now: TDX_WINDOW.to + 1 }));
    expect(e.code).toBe("PCK_CRL_EXPIRED");
    expect(e.report?.type).toBe("td10");
    expect(String(e.report?.mrTd)).toMatch(/^0x91eb2b44d141d4ec/);
    expect(e.pck).toMatchObject({ fmspc: "0xb0c06f000000", pceId: "0x0000", ca: "platform", pceSvn: 11 });
    expect(e.verification).toEqual({ ok: false, status: null, advisoryIds: [], genuine: true, checks: e.checks });
    expect(e.policy).toBeNull();
  });

  it("a flipped body byte (quote.signature fails): report and PCK are there", () => {
    const q = tdxQuote();
    q[100]! ^= 1;
    const r = checkQuote(q, { collateral: tdxCollateral(), now: TDX_NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("QUOTE_SIGNATURE_INVALID");
    expect(r.report?.type).toBe("td10");
    expect(r.pck?.fmspc).toBe("0xb0c06f000000");
    expect(r.verification?.ok).toBe(false);
    expect(r.policy).toBeNull();
  });

  it("collateral of another platform fails before pck.chain: the PCK is still read from the quote", () => {
    // the real SGX collateral (TCB info for FMSPC 00A067110000, QE identity "QE") with the TDX quote
    const r = checkQuote(tdxQuote(), { collateral: parseCollateralJson(fixtureText("sgx_quote_collateral.json")), now: SGX_NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.checks.some((c) => c.name === "pck.chain")).toBe(false);
    expect(r.report?.type).toBe("td10");
    expect(r.pck?.fmspc).toBe("0xb0c06f000000");
  });

  it("a Revoked TCB: Intel's verdict says Revoked", async () => {
    const w = await createForgeWorld({
      seed: "policy-split-revoked",
      tcbInfo: { tcbLevels: [{ sgx: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], pcesvn: 11, tdx: [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], tcbStatus: "Revoked" }] },
    });
    const q = await forgeQuote(w);
    const e = thrown(() => verifyQuote(q, { collateral: w.collateral, now: w.now, rootCaDer: w.rootCaDer }));
    expect(e.code).toBe("TCB_REVOKED");
    expect(e.verification).toMatchObject({ ok: false, status: "Revoked", genuine: false });
    expect(e.policy).toBeNull();
    expect(e.report?.type).toBe("td10");
  });

  it("no readable PCK leaf (certification data without a PEM chain): report only", async () => {
    const q = await forgeQuote(world, { innerCertType: 3 });
    const r = checkQuote(q, forged());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("PCK_CERT_TYPE_UNSUPPORTED");
    expect(r.report?.type).toBe("td10");
    expect(r.pck).toBeUndefined();
    expect(r.verification?.ok).toBe(false);
  });

  it("an undecodable quote carries no report and no verdicts", () => {
    const r = checkQuote(tdxQuote().subarray(0, 700), { collateral: tdxCollateral(), now: TDX_NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.checks).toEqual([expect.objectContaining({ name: "quote.parse", ok: false })]);
    expect(r).not.toHaveProperty("report");
    expect(r).not.toHaveProperty("verification");
  });
});

describe("tdAttributeRules", () => {
  it("one rule per attribute concern; tdAttributesProblem is the first refusing one", () => {
    expect(tdAttributeRules(new Uint8Array(8)).map((r) => [r.name, r.ok, r.code])).toEqual([
      ["td.attributes.reserved", true, undefined],
      ["td.debug", true, undefined],
      ["td.sept-ve-disable", false, "TD_SEPT_VE_DISABLE_CLEAR"],
    ]);
    expect(tdAttributesProblem(new Uint8Array(8), { allowSeptVe: true })).toBeUndefined();
    const debugClear = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
    expect(tdAttributesProblem(debugClear)?.code).toBe("TD_DEBUG");
    expect(tdAttributesProblem(debugClear, { allowSeptVe: true })?.code).toBe("TD_DEBUG");
    expect(tdAttributesProblem(debugClear, { allowDebug: true })?.code).toBe("TD_SEPT_VE_DISABLE_CLEAR");
    expect(tdAttributeRules(new Uint8Array(7))).toEqual([{ name: "td.attributes", ok: false, code: "TD_ATTRIBUTES_INVALID", detail: "TD attributes must be 8 bytes, got 7" }]);
  });
});

describe("verifyBootstrap (verify / publish) stays strict and shows the split", () => {
  it("a KMS TD with SEPT_VE_DISABLE clear is rejected: Intel's verification passed, the policy refused", async () => {
    const ca = (await generateP256()).spki;
    const k256 = publicKeyFromPrivate(generateK256());
    const events = simulatedKmsEventLog({ instanceId: new Uint8Array(20).fill(7) });
    const quote = await forgeQuote(world, { reportData: expectedKmsReportData(ca, k256), mrTd: SIMULATED_MR_TD, rtMrs: [...replayEventLog(events).rtmrs], tdAttributes: SEPT_VE_CLEAR });
    const info = parseBootstrapInfo({ ca_pubkey: bytesToPlainHex(ca), k256_pubkey: bytesToPlainHex(k256), quote: bytesToPlainHex(quote), eventlog: Buffer.from(JSON.stringify(eventLogToJson(events))).toString("hex") });
    const r = await verifyBootstrap(info, { collateral: world.collateral, rootCaDer: world.rootCaDer, now: world.now });
    expect(r.ok).toBe(false);
    expect(r.failed).toEqual(["quote.report.policy", "quote.verified"]);
    expect(r.quote?.error?.code).toBe("TD_SEPT_VE_DISABLE_CLEAR");
    expect(r.quote?.verification).toMatchObject({ ok: true, status: "UpToDate" });
    expect(r.quote?.policy?.rules.filter((x) => !x.ok).map((x) => x.name)).toEqual(["td.sept-ve-disable"]);
    expect(r.quote?.pck?.fmspc).toBe("0xb0c06f000000");
  });
});
