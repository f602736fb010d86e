/**
 * Bootstrap of the simulated KMS: generate real keys and certificates for the domain, forge the CVM's
 * quotes in a world under a simulated DCAP root — one binding the KMS keys (the Bootstrap response), one
 * inside the RPC certificate binding its key (RA-TLS) — then write the forged root and collateral and
 * the saved response to the sim dir and the 8 files to the certs dir. On SEV-SNP: a report of a test SNP
 * world (test ARK → ASK → VCEK of the CVM's chip) whose report_data binds the KMS keys like TDX, carried
 * with its cert_chain [VCEK, ASK, ARK] in a V0 or V1 attestation; the test ARK and its CRL go to the sim dir.
 * On AWS Nitro: an NSM document of a test Nitro world (a test root standing in for AWS's, a regional CA, a
 * per-document signing certificate) whose user_data is the report_data binding the KMS keys, its PCR0–2 named by
 * the config's os_image_hash; the test root goes to the sim dir. On GCP TDX: the TDX world's quote with a TPM
 * quote beside it that is a stand-in of the simulator's making (no TPM signed it; it is only reported).
 */
import { mkdir, writeFile } from "node:fs/promises";

import { sha256 } from "@noble/hashes/sha2.js";

import { bytesToPlainHex, utf8 } from "../../core/bytes.js";
import { collateralToJson } from "../../dcap/collateral.js";
import { toPem } from "../../dcap/x509.js";
import { encodeDstackAttestationV1, encodeVersionedAttestationV0, type AttestationV1Input, type TpmQuote } from "../../dstack/attestation.js";
import { RUNTIME_EVENT_TYPE } from "../../dstack/eventlog.js";
import { expectedKmsReportData } from "../../dstack/binding.js";
import { OID_EVENT_LOG, OID_TDX_QUOTE, ratlsReportData } from "../../dstack/ratls.js";
import { createForgeWorld, type ForgeWorld } from "../forge/index.js";
import { generateKmsKeys, writeCertsDir, type KmsKeyMaterial } from "../generate.js";
import { createNitroWorld, debugPcrs, makeNitroDocument } from "../platforms/nitro-world.js";
import { createSnpWorld, issueVcek, makeArkCrl, makeSnpReport } from "../platforms/snp-world.js";
import { snpHostDataOf } from "../../dstack/platforms/mr-config.js";
import { cvmQuote, SIMULATED_NITRO_PCRS, SIMULATED_SNP_MEASUREMENT, simulatedNitroImageHash, simulatedSnpMrConfig, simulatedVmConfig, type SimulatedCvm } from "./cvm.js";

import type { KmsKeys } from "./keys.js";
import type { SimulatorConfig } from "./options.js";

/** Bootstrap for `domain` (already validated): make and write everything, return the KMS's keys. */
export async function bootstrapKms(config: SimulatorConfig, cvm: SimulatedCvm, domain: string): Promise<KmsKeys> {
  const now = config.clock();
  if (config.platform === "sev-snp") return bootstrapSnpKms(config, cvm, domain, now);
  if (config.platform === "nitro-enclave") return bootstrapNitroKms(config, cvm, domain, now);
  const world = await createForgeWorld({ now, ppid: cvm.ppid, ...(config.forgeSeed ? { seed: config.forgeSeed } : {}) });
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
  return keysOf(domain, m, response, config);
}

function keysOf(domain: string, m: KmsKeyMaterial, response: Record<string, string>, config: SimulatorConfig): KmsKeys {
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

/** The runtime events of the CVM's event log (RTMR3), as an attestation's stack carries them. */
function runtimeEventsOf(cvm: SimulatedCvm): { event: string; payload: Uint8Array }[] {
  return cvm.eventLog.filter((e) => e.eventType === RUNTIME_EVENT_TYPE).map((e) => ({ event: e.event, payload: e.payload }));
}

/** The attestation in the configured format (V0 SCALE or V1 msgpack). */
function encodeAttestation(config: SimulatorConfig, a: AttestationV1Input): Uint8Array {
  return config.format === "attestation-v1" ? encodeDstackAttestationV1(a) : encodeVersionedAttestationV0(a);
}

/** The BootstrapResponse: the KMS public keys and a quote binding them, with the event log or as one V0/V1 attestation. */
async function bootstrapResponse(config: SimulatorConfig, cvm: SimulatedCvm, world: ForgeWorld, m: KmsKeyMaterial): Promise<Record<string, string>> {
  const reportData = expectedKmsReportData(m.caPubkey, m.k256Pubkey);
  const quote = await cvmQuote(cvm, world, reportData);
  const keys = { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey) };
  if (config.format !== "legacy") {
    const gcp = config.platform === "gcp-tdx" ? { platform: "gcp-tdx" as const, tpmQuote: simulatedTpmQuote(reportData) } : { platform: "tdx" as const };
    const attestation = encodeAttestation(config, { ...gcp, quote, eventLog: cvm.eventLog, stack: { reportData, runtimeEvents: runtimeEventsOf(cvm), config: simulatedVmConfig() } });
    return { ...keys, attestation: bytesToPlainHex(attestation) };
  }
  return { ...keys, quote: bytesToPlainHex(quote), eventlog: bytesToPlainHex(utf8(cvm.eventLogText)) };
}

/** SEV-SNP: the report of a test SNP world binding the KMS keys, in an attestation with its cert_chain and MrConfig. */
async function bootstrapSnpKms(config: SimulatorConfig, cvm: SimulatedCvm, domain: string, now: number): Promise<KmsKeys> {
  const world = createSnpWorld({ now });
  const vcek = issueVcek(world, { chipId: cvm.chipId, tcb: { bootloader: 4, tee: 0, snp: 22, microcode: 213 } });
  const m = await generateKmsKeys({ domain, now });
  const reportData = expectedKmsReportData(m.caPubkey, m.k256Pubkey);
  const mrConfig = simulatedSnpMrConfig(cvm);
  const report = makeSnpReport(world, vcek, { reportData, measurement: SIMULATED_SNP_MEASUREMENT, hostData: snpHostDataOf(mrConfig) });
  const attestation = encodeAttestation(config, {
    platform: "sev-snp",
    evidence: report,
    snp: { certChain: [vcek.der, world.askDer, world.arkDer], mrConfig },
    stack: { reportData, runtimeEvents: runtimeEventsOf(cvm), config: simulatedVmConfig() },
  });
  const response = { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey), attestation: bytesToPlainHex(attestation) };
  await mkdir(config.simDir, { recursive: true, mode: 0o755 });
  await writeFile(config.simArkPath, toPem(world.arkDer));
  await writeFile(config.simAmdCrlPath, makeArkCrl(world, { thisUpdate: now - 3600, nextUpdate: now + 30 * 86_400 }));
  await writeFile(config.savedResponsePath, JSON.stringify(response));
  await writeCertsDir(config.certsDir, m, config.omitBootstrapInfo ? null : response);
  return keysOf(domain, m, response, config);
}

/**
 * GCP TDX's TPM quote, as a stand-in: the simulator has no TPM, so the message says what it is, the signature and
 * the AK certificate are marker bytes, PCRs 0–2 are zero and the qualifying data is SHA-256 of the report_data.
 * Nothing verifies a TPM quote (it is only reported), so nothing is pretended.
 */
export function simulatedTpmQuote(reportData: Uint8Array): TpmQuote {
  return {
    message: utf8("dstack-kms-simulator: NOT a TPM quote (no TPMS_ATTEST; made by the simulator)"),
    signature: utf8("simulator: not signed by any TPM attestation key"),
    pcrValues: [0, 1, 2].map((index) => ({ index, value: new Uint8Array(32) })),
    qualifyingData: sha256(reportData),
    akCert: utf8("simulator: no AK certificate"),
  };
}

/** AWS Nitro: an NSM document of a test Nitro world binding the KMS keys in user_data, in an attestation whose config names its image. */
async function bootstrapNitroKms(config: SimulatorConfig, cvm: SimulatedCvm, domain: string, now: number): Promise<KmsKeys> {
  const world = createNitroWorld({ now });
  const m = await generateKmsKeys({ domain, now });
  const reportData = expectedKmsReportData(m.caPubkey, m.k256Pubkey);
  const pcrs = debugPcrs();
  SIMULATED_NITRO_PCRS.forEach((v, i) => pcrs.set(i, v));
  const document = makeNitroDocument(world, { timestamp: now * 1000, userData: reportData, pcrs });
  // dstack's os_image_hash of a Nitro enclave: SHA-256(PCR0 ‖ PCR1 ‖ PCR2)
  const vmConfig = JSON.stringify({ os_image_hash: bytesToPlainHex(simulatedNitroImageHash()) });
  const attestation = encodeAttestation(config, { platform: "nitro-enclave", evidence: document, stack: { reportData, runtimeEvents: runtimeEventsOf(cvm), config: vmConfig } });
  const response = { ca_pubkey: bytesToPlainHex(m.caPubkey), k256_pubkey: bytesToPlainHex(m.k256Pubkey), attestation: bytesToPlainHex(attestation) };
  await mkdir(config.simDir, { recursive: true, mode: 0o755 });
  await writeFile(config.simNitroRootPath, toPem(world.rootDer));
  await writeFile(config.savedResponsePath, JSON.stringify(response));
  await writeCertsDir(config.certsDir, m, config.omitBootstrapInfo ? null : response);
  return keysOf(domain, m, response, config);
}

async function writeSimDir(config: SimulatorConfig, world: ForgeWorld, response: Record<string, string>): Promise<void> {
  await mkdir(config.simDir, { recursive: true, mode: 0o755 });
  await writeFile(config.simRootCaPath, world.rootCaPem.endsWith("\n") ? world.rootCaPem : `${world.rootCaPem}\n`);
  await writeFile(config.simCollateralPath, collateralToJson(world.collateral));
  await writeFile(config.savedResponsePath, JSON.stringify(response));
}
