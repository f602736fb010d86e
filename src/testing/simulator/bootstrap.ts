/**
 * Bootstrap of the simulated KMS: generate real keys and certificates for the domain, forge the CVM's
 * quotes in a world under a simulated DCAP root — one binding the KMS keys (the Bootstrap response), one
 * inside the RPC certificate binding its key (RA-TLS) — then write the forged root and collateral and
 * the saved response to the sim dir and the 8 files to the certs dir.
 */
import { mkdir, writeFile } from "node:fs/promises";

import { bytesToPlainHex, utf8 } from "../../core/bytes.js";
import { collateralToJson } from "../../dcap/collateral.js";
import { encodeDstackAttestationV0 } from "../../dstack/attestation.js";
import { expectedKmsReportData } from "../../dstack/binding.js";
import { OID_EVENT_LOG, OID_TDX_QUOTE, ratlsReportData } from "../../dstack/ratls.js";
import { createForgeWorld, type ForgeWorld } from "../forge/index.js";
import { generateKmsKeys, writeCertsDir, type KmsKeyMaterial } from "../generate.js";
import { cvmQuote, type SimulatedCvm } from "./cvm.js";
import type { KmsKeys } from "./keys.js";
import type { SimulatorConfig } from "./options.js";

/** Bootstrap for `domain` (already validated): make and write everything, return the KMS's keys. */
export async function bootstrapKms(config: SimulatorConfig, cvm: SimulatedCvm, domain: string): Promise<KmsKeys> {
  const now = config.clock();
  const world = await createForgeWorld({ now, ...(config.forgeSeed ? { seed: config.forgeSeed } : {}) });
  // RA-TLS as dstack made it up to v0.5.8: the RPC certificate carries its own quote (report data
  // SHA-512("ratls-cert:" ‖ SPKI)) and the event log.
  const m = await generateKmsKeys({
    domain,
    now,
    rpcExtensions: async (spki) => ({
      [OID_TDX_QUOTE]: await cvmQuote(cvm, world, ratlsReportData(spki)),
      [OID_EVENT_LOG]: utf8(cvm.eventLogText),
    }),
  });
  const response = await bootstrapResponse(config, cvm, world, m);
  await writeSimDir(config, world, response);
  await writeCertsDir(config.certsDir, m, config.omitBootstrapInfo ? null : response);
  return {
    domain,
    k256: m.k256,
    k256Pubkey: m.k256Pubkey,
    caCertPem: m.rootCaPem,
    rpcCertPem: m.rpcPem,
    rpcKeyPem: m.rpc.privatePem,
    bootstrapResponse: response,
    infoWritten: !config.omitBootstrapInfo,
  };
}

/** The BootstrapResponse: the KMS public keys and a quote binding them, with the event log or as one V0 attestation. */
async function bootstrapResponse(config: SimulatorConfig, cvm: SimulatedCvm, world: ForgeWorld, m: KmsKeyMaterial): Promise<Record<string, string>> {
  const reportData = expectedKmsReportData(m.caPubkey, m.k256Pubkey);
  const quote = await cvmQuote(cvm, world, reportData);
  const keys = { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey) };
  if (config.format === "attestation") {
    const attestation = encodeDstackAttestationV0({ quote, eventLog: cvm.eventLog, reportData, config: JSON.stringify({ simulator: true }) });
    return { ...keys, attestation: bytesToPlainHex(attestation) };
  }
  return { ...keys, quote: bytesToPlainHex(quote), eventlog: bytesToPlainHex(utf8(cvm.eventLogText)) };
}

async function writeSimDir(config: SimulatorConfig, world: ForgeWorld, response: Record<string, string>): Promise<void> {
  await mkdir(config.simDir, { recursive: true, mode: 0o755 });
  await writeFile(config.simRootCaPath, world.rootCaPem.endsWith("\n") ? world.rootCaPem : `${world.rootCaPem}\n`);
  await writeFile(config.simCollateralPath, collateralToJson(world.collateral));
  await writeFile(config.savedResponsePath, JSON.stringify(response));
}
