import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { replayEventLog } from "../../src/dstack/eventlog.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { utf8 } from "../../src/core/bytes.js";
import { generateKmsKeys } from "../../src/testing/generate.js";
import { OID_EVENT_LOG, OID_TDX_QUOTE } from "../../src/dstack/ratls.js";
import { pullBootstrap } from "../../src/kms/pull.js";
import { checkRpcCertAttestation, ratlsReportData, rpcCertAttestation } from "../../src/dstack/ratls.js";
import { SIMULATED_MR_TD, simulatedKmsEventLog, startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { verifyBootstrap } from "../../src/kms/verify.js";
import { parseCollateralJson } from "../../src/dcap/collateral.js";
import { certificateDerFromFile } from "../../src/dcap/x509.js";
import { readFileSync } from "node:fs";

const NOW = 1_767_225_600;
const tmp = mkdtempSync(join(tmpdir(), "kms-ratls-"));
let world: ForgeWorld;
let kms: SimulatedKms;
beforeAll(async () => {
  world = await createForgeWorld({ now: NOW, seed: "ratls" });
  kms = await startSimulatedKms({ certsDir: join(tmp, "c"), port: 0, autoBootstrapDomain: "kms.ratls.example", https: true });
});
afterAll(async () => {
  await kms.close();
  rmSync(tmp, { recursive: true, force: true });
});
const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

describe("RA-TLS attestation in the RPC certificate", () => {
  it("the simulator's RPC certificate carries a quote bound to its key and the event log; verify checks it over https", async () => {
    const now = Math.floor(Date.now() / 1000);
    const pulled = await pullBootstrap({ kms: kms.url }, { now });
    expect(pulled.tlsLeaf).toBeDefined();
    const att = rpcCertAttestation(pulled.tlsLeaf!)!;
    expect(att.kind).toBe("quote+eventlog");
    expect(att.eventLog!.length).toBeGreaterThan(10);
    const r = await verifyBootstrap(pulled.info, {
      collateral: parseCollateralJson(readFileSync(kms.simCollateralPath, "utf8")),
      rootCaDer: certificateDerFromFile(new Uint8Array(readFileSync(kms.simRootCaPath)), "root"),
      now,
      rpcCertDer: pulled.tlsLeaf!,
    });
    expect(r.failed).toEqual([]);
    expect(r.checks.filter((c) => c.name.startsWith("rpc-cert.")).map((c) => c.name)).toEqual([
      "rpc-cert.attestation",
      "rpc-cert.quote",
      "rpc-cert.report-data",
      "rpc-cert.eventlog",
      "rpc-cert.same-image",
    ]);
  });

  it("a certificate whose quote binds another key, or another TD image, is caught; no extension is not an error", async () => {
    const events = simulatedKmsEventLog({ instanceId: new Uint8Array(20) });
    const rt = [...replayEventLog(events).rtmrs];
    const wrongKey = await generateKmsKeys({
      domain: "x.example",
      rpcExtensions: async () => ({ [OID_TDX_QUOTE]: await forgeQuote(world, { reportData: ratlsReportData(new Uint8Array(91)), mrTd: SIMULATED_MR_TD, rtMrs: rt }) }),
    });
    const c1 = await checkRpcCertAttestation(der(wrongKey.rpcPem), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW });
    expect(c1.filter((c) => !c.ok).map((c) => c.name)).toEqual(["rpc-cert.report-data"]);

    const bootQuote = await forgeQuote(world, { mrTd: SIMULATED_MR_TD, rtMrs: rt });
    const otherImage = await generateKmsKeys({
      domain: "x.example",
      rpcExtensions: async (spki) => ({
        [OID_TDX_QUOTE]: await forgeQuote(world, { reportData: ratlsReportData(spki), mrTd: new Uint8Array(48).fill(1), rtMrs: rt }),
        [OID_EVENT_LOG]: utf8("[]"),
      }),
    });
    const c2 = await checkRpcCertAttestation(der(otherImage.rpcPem), { collateral: world.collateral, rootCaDer: world.rootCaDer, now: NOW, bootstrapQuote: bootQuote });
    expect(c2.filter((c) => !c.ok).map((c) => c.name).sort()).toEqual(["rpc-cert.eventlog", "rpc-cert.same-image"]);

    const plain = await generateKmsKeys({ domain: "x.example" });
    expect(rpcCertAttestation(der(plain.rpcPem))).toBeNull();
    const c3 = await checkRpcCertAttestation(der(plain.rpcPem), { collateral: null, now: NOW });
    expect(c3[0]!.detail).toMatch(/carries no attestation/);
    expect((await checkRpcCertAttestation(Uint8Array.of(1, 2, 3), { collateral: null, now: NOW }))[0]!.ok).toBe(false);
  });
});
