import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { encode } from "@msgpack/msgpack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesToHex, hexToBytes } from "../../src/core/bytes.js";
import { decodeDstackAttestation, type DstackAttestation } from "../../src/dstack/attestation.js";
import { eventLogToJson } from "../../src/dstack/eventlog.js";
import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { runCli } from "../helpers/cli.js";

const fixture = (name: string) => new URL(`../fixtures/dstack/${name}`, import.meta.url).pathname;
const COLL = new URL("../fixtures/dcap/tdx_quote_collateral.json", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "kms-platforms-"));
let kms: SimulatedKms;
beforeAll(async () => {
  kms = await startSimulatedKms({ certsDir: join(tmp, "att"), port: 0, autoBootstrapDomain: "kms.platforms.example", format: "attestation" });
});
afterAll(async () => {
  await kms.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The V1 msgpack form (byte fields as integer arrays, as serde writes `Vec<u8>`) of a decoded V0 attestation. */
function asV1(a: DstackAttestation): Uint8Array {
  const arr = (b: Uint8Array) => Array.from(b);
  const data =
    a.platform === "tdx"
      ? { quote: arr(a.quote!), event_log: eventLogToJson(a.eventLog!).map((e) => ({ imr: e.imr, event_type: e.event_type, digest: arr(hexToBytes(e.digest as string)), event: e.event, event_payload: arr(hexToBytes(e.event_payload as string)) })) }
      : a.platform === "sev-snp"
        ? { report: arr(a.evidence), cert_chain: [], mr_config: a.snp!.mrConfig }
        : { nsm_quote: arr(a.evidence) };
  return encode({
    version: 1,
    platform: { kind: a.platform, data },
    stack: { kind: "dstack", data: { report_data: arr(a.reportData!), runtime_events: a.runtimeEvents.map((e) => ({ event: e.event, payload: arr(e.payload) })), config: a.config } },
  });
}

const write = (name: string, b: Uint8Array | string) => {
  const p = join(tmp, name);
  writeFileSync(p, b);
  return p;
};

interface Out {
  ok: boolean;
  platform: string;
  error?: { code: string; message: string };
  attestation?: { format: string; version: number; platform: string; stack?: { kind: string; reportData: string } };
  report?: Record<string, unknown>;
}

describe("verify-quote: every platform's evidence is recognised", () => {
  it("a V1 TDX attestation verifies like the V0 one (platform tdx)", async () => {
    const resp = JSON.parse(readFileSync(join(kms.simDir, "bootstrap-response.json"), "utf8")) as { attestation: string };
    const v1 = write("tdx-v1.bin", asV1(decodeDstackAttestation(hexToBytes(resp.attestation))));
    const r = await runCli(["verify-quote", v1, "--collateral", kms.simCollateralPath, "--root-ca", kms.simRootCaPath, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Out & { eventlog: { rtmrsMatch: boolean; source: string } };
    expect(j.platform).toBe("tdx");
    expect(j.attestation).toMatchObject({ format: "v1-msgpack", version: 1, platform: "tdx", stack: { kind: "dstack" } });
    expect(j.eventlog).toMatchObject({ rtmrsMatch: true, source: "attestation" });
  });

  const cases: [string, () => string, string, string | null, string][] = [
    ["V0 SEV-SNP attestation", () => fixture("dstack-sev-snp-attestation-v0.bin"), "sev-snp", "v0-scale", `0x${Buffer.from("attest-test-fixture-2026").toString("hex").padEnd(128, "0")}`],
    ["V1 SEV-SNP attestation (hex text)", () => write("snp-v1.hex", Buffer.from(asV1(decodeDstackAttestation(readFileSync(fixture("dstack-sev-snp-attestation-v0.bin"))))).toString("hex")), "sev-snp", "v1-msgpack", `0x${Buffer.from("attest-test-fixture-2026").toString("hex").padEnd(128, "0")}`],
    ["raw SEV-SNP report", () => fixture("go-sev-guest-report-v2-milan.bin"), "sev-snp", null, `0x0102030405${"00".repeat(59)}`],
  ];
  for (const [what, file, platform, format, reportData] of cases) {
    // SEV-SNP is verified with its VCEK; without one it is the named SNP_VCEK_REQUIRED, with the same shape
    const code = platform === "sev-snp" ? "SNP_VCEK_REQUIRED" : "PLATFORM_NOT_SUPPORTED";
    it(`${what} → exit 1, ${code}, platform ${platform}, its report with reportData`, async () => {
      const r = await runCli(["verify-quote", file(), "--collateral", COLL, "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout) as Out;
      expect(Object.keys(j)).toEqual(["ok", "platform", "error", "checks", ...(format ? ["attestation"] : []), "report"]);
      expect(j).toMatchObject({ ok: false, platform, error: { code } });
      expect(j.error!.message).toContain(platform === "sev-snp" ? "verifying it offline needs --vcek FILE" : `verifying ${platform} is not supported yet`);
      if (format) expect(j.attestation).toMatchObject({ format, platform });
      expect(j.report!.reportData).toBe(reportData);
      expect(r.stderr).toBe(`kms-registry: verify-quote: ${j.error!.message}\n`);
    });
  }

  it("an unknown V1 platform kind is named, not a parse error; the human output says what it is", async () => {
    const doc = encode({ version: 1, platform: { kind: "tdx-next", data: {} }, stack: { kind: "dstack", data: { report_data: new Uint8Array(64).fill(0xab), runtime_events: [], config: "{}" } } });
    const r = await runCli(["verify-quote", write("unknown.bin", doc), "--collateral", COLL]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe("NOT VERIFIED: PLATFORM_NOT_SUPPORTED — the input (V1 msgpack attestation) is a tdx-next attestation; verifying tdx-next is not supported yet (only TDX quotes are verified)");
    expect(r.stdout).toMatch(/^platform\s+tdx-next$/m);
    expect(r.stdout).toMatch(new RegExp(`^reportData\\s+0x${"ab".repeat(64)}$`, "m"));
  });
});

describe("bootstrap info whose attestation is V1", () => {
  it("V1 TDX gives the same quote and event log as V0; V1 SEV-SNP decodes without a problem, its evidence kept for verify", () => {
    const resp = JSON.parse(readFileSync(join(kms.simDir, "bootstrap-response.json"), "utf8")) as { ca_pubkey: string; k256_pubkey: string; attestation: string };
    const v0 = parseBootstrapInfo(resp);
    const v1 = parseBootstrapInfo({ ...resp, attestation: Buffer.from(asV1(v0.decodedAttestation!)).toString("hex") });
    expect(v1.problems).toEqual([]);
    expect(bytesToHex(v1.quote!)).toBe(bytesToHex(v0.quote!));
    expect(eventLogToJson(v1.eventLog!)).toEqual(eventLogToJson(v0.eventLog!));
    const snp = asV1(decodeDstackAttestation(readFileSync(fixture("dstack-sev-snp-attestation-v0.bin"))));
    const s = parseBootstrapInfo({ ...resp, attestation: Buffer.from(snp).toString("hex") });
    expect(s.quote).toBeNull();
    expect(s.decodedAttestation?.platform).toBe("sev-snp");
    expect(s.problems).toEqual([]);
    expect(s.decodedAttestation?.evidence.length).toBe(1184);
  });
});
