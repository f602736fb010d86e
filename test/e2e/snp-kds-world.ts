/**
 * An AMD SEV-SNP KMS as dstack emits it when the kernel exposes no certificate table (a V1 attestation with an
 * empty cert_chain), under a test AMD world, with a real local KDS serving that world's VCEK, ASK/ARK and CRL in
 * AMD's layout: what `publish --kds-url` needs to fetch. Writes the saved Bootstrap answer and the test ARK.
 */
import { writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";

import { bytesToPlainHex } from "../../src/core/bytes.js";
import { toPem } from "../../src/dcap/x509.js";
import { encodeDstackAttestationV1 } from "../../src/dstack/attestation.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { snpHostDataOf } from "../../src/dstack/platforms/mr-config.js";
import { createSnpWorld, issueVcek, kdsAnswers, makeArkCrl, makeSnpReport } from "../../src/testing/platforms/snp-world.js";
import { startPccs, type Handler, type Pccs } from "../helpers/pccs-server.js";
import { randomKms } from "../registry/chain-helpers.js";

export interface SnpKdsWorld {
  world: ReturnType<typeof createSnpWorld>;
  vcek: ReturnType<typeof issueVcek>;
  /** The saved Bootstrap answer (`--file`). */
  bootstrapFile: string;
  /** The test ARK (`--root-ca`). */
  arkFile: string;
}

/** The world, its KMS's Bootstrap answer and ARK written under `dir`. */
export function makeSnpKdsWorld(dir: string, now = Math.floor(Date.now() / 1000)): SnpKdsWorld & { crl: Uint8Array } {
  const world = createSnpWorld({ now });
  const vcek = issueVcek(world, { chipId: new Uint8Array(64).map((_, i) => (i * 11 + 5) & 0xff), tcb: { bootloader: 4, tee: 0, snp: 22, microcode: 213 } });
  const crl = makeArkCrl(world, { thisUpdate: now - 3600, nextUpdate: now + 7 * 86_400 });
  const kmsKeys = randomKms();
  const mrConfig = JSON.stringify({ app_id: "11".repeat(20), compose_hash: "22".repeat(32), instance_id: "44".repeat(20), key_provider: "kms", key_provider_id: "33".repeat(32), version: 3 });
  const reportData = expectedKmsReportData(kmsKeys.caPubkey, kmsKeys.k256Pubkey);
  const report = makeSnpReport(world, vcek, { reportData, hostData: snpHostDataOf(mrConfig) });
  const attestation = encodeDstackAttestationV1({ platform: "sev-snp", evidence: report, snp: { certChain: [], mrConfig }, stack: { reportData, runtimeEvents: [], config: "{}" } });
  const bootstrapFile = join(dir, "snp-bootstrap.json");
  const arkFile = join(dir, "snp-test-ark.pem");
  writeFileSync(bootstrapFile, JSON.stringify({ ca_pubkey: bytesToPlainHex(kmsKeys.caPubkey), k256_pubkey: bytesToPlainHex(kmsKeys.k256Pubkey), attestation: bytesToPlainHex(attestation) }));
  writeFileSync(arkFile, toPem(world.arkDer));
  return { world, vcek, crl, bootstrapFile, arkFile };
}

/** A real local KDS serving `w`'s VCEK, ASK/ARK and CRL. */
export function startKds(w: SnpKdsWorld & { crl: Uint8Array }): Promise<Pccs> {
  const routes = new Map<string, Handler>();
  for (const [p, a] of kdsAnswers(w.world, [w.vcek], w.crl)) {
    routes.set(p, (_req, res: ServerResponse) => {
      res.writeHead(200, { "Content-Type": a.contentType });
      res.end(typeof a.body === "string" ? a.body : Buffer.from(a.body));
    });
  }
  return startPccs(routes);
}
