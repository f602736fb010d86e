/**
 * The simulated CVM the KMS runs in: a fixed MRTD, a plausible event log (synthetic firmware events in
 * RTMR0–2, dstack's runtime events in RTMR3, of event-log v1 or v2) fixed at boot with a fresh instance id,
 * the RTMRs it replays to, the hardware identity of its platform (a TDX PPID, an SEV-SNP chip id) and the
 * attestation info dstack shows before Bootstrap (device_id = SHA-256 of that identity, as dstack's
 * `GetAttestationInfo` computes it).
 */
import { randomBytes } from "node:crypto";

import { sha256, sha384 } from "@noble/hashes/sha2.js";

import { bytesToPlainHex, utf8 } from "../../core/bytes.js";
import { eventLogToJson, makeRuntimeEvent, replayEventLog, type EventLogEntry } from "../../dstack/eventlog.js";
import { dstackMrAggregated } from "../../dstack/measurement.js";
import { snpHostDataOf, snpMrAggregated } from "../../dstack/platforms/mr-config.js";
import { forgeQuote, type ForgeWorld } from "../forge/index.js";
import type { SimulatorPlatform } from "./options.js";

export const SIMULATED_MR_TD = sha384(utf8("dstack-kms-registry simulator MRTD"));

/** The os image hash the simulated CVM's `os-image-hash` event and its vm_config state. */
export const SIMULATED_OS_IMAGE_HASH = sha256(utf8("dstack-kms-simulator os image"));
const OS_IMAGE_HASH = SIMULATED_OS_IMAGE_HASH;
/** The SEV-SNP launch measurement of the simulated guest. */
export const SIMULATED_SNP_MEASUREMENT = sha384(utf8("dstack-kms-registry simulator SNP measurement"));

/** A plausible KMS CVM event log: synthetic firmware events for RTMR0–2, dstack's runtime events in RTMR3 (event-log v1 or v2). */
export function simulatedKmsEventLog(opts: { instanceId: Uint8Array; version?: 1 | 2 }): EventLogEntry[] {
  const rt = (name: string, payload: Uint8Array) => makeRuntimeEvent(name, payload, opts.version ?? 1);
  const boot = (imr: number, eventType: number, label: string): EventLogEntry => ({
    imr,
    eventType,
    digest: sha384(utf8(`dstack-kms-registry simulator: ${label}`)),
    event: "",
    payload: new Uint8Array(0),
    version: 1,
  });
  const events: EventLogEntry[] = [
    boot(0, 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot"),
    boot(0, 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG PK"),
    boot(0, 0x0000000a, "EV_PLATFORM_CONFIG_FLAGS acpi"),
    boot(1, 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION kernel"),
    boot(1, 0x00000004, "EV_SEPARATOR"),
    boot(2, 0x00000006, "EV_EVENT_TAG cmdline"),
    boot(2, 0x00000006, "EV_EVENT_TAG initrd"),
  ];
  const compose = utf8('{"manifest_version":2,"name":"dstack-kms-simulator","runner":"docker-compose"}');
  events.push(
    rt("system-preparing", new Uint8Array(0)),
    rt("app-id", sha256(utf8("dstack-kms-simulator app id")).subarray(0, 20)),
    rt("compose-hash", sha256(compose)),
    rt("instance-id", opts.instanceId),
    rt("boot-mr-done", new Uint8Array(0)),
    rt("os-image-hash", OS_IMAGE_HASH),
    rt("key-provider", utf8(JSON.stringify({ name: "local-sgx", id: bytesToPlainHex(sha256(utf8("simulated local-sgx key provider"))) }))),
    rt("storage-fs", utf8("zfs")),
    rt("system-ready", new Uint8Array(0)),
  );
  return events;
}

export interface SimulatedCvm {
  platform: SimulatorPlatform;
  /** TDX: the platform's PPID (16 bytes), carried by the forged PCK certificate. */
  ppid: Uint8Array;
  /** SEV-SNP: the chip id (64 bytes) the report and the VCEK carry. */
  chipId: Uint8Array;
  eventLog: EventLogEntry[];
  /** The event log as dstack serves it (JSON text). */
  eventLogText: string;
  /** RTMR0..3, replayed from the event log. */
  rtmrs: Uint8Array[];
}

/** Boot a CVM: a fresh instance id (so a fresh event log) and a fresh hardware identity per start. */
export function bootSimulatedCvm(opts: { platform?: SimulatorPlatform; eventLogVersion?: 1 | 2 } = {}): SimulatedCvm {
  const eventLog = simulatedKmsEventLog({ instanceId: randomBytes(20), version: opts.eventLogVersion ?? 1 });
  return {
    platform: opts.platform ?? "tdx",
    ppid: randomBytes(16),
    chipId: randomBytes(64),
    eventLog,
    eventLogText: JSON.stringify(eventLogToJson(eventLog)),
    rtmrs: [...replayEventLog(eventLog).rtmrs],
  };
}

/** The vm_config JSON the CVM's attestation carries: its os image hash (the same as the `os-image-hash` event). */
export function simulatedVmConfig(): string {
  return JSON.stringify({ os_image_hash: bytesToPlainHex(OS_IMAGE_HASH) });
}

/** A quote of this CVM (its MRTD and RTMRs) over `reportData`, forged in `world` (made with `ppid: cvm.ppid`). */
export function cvmQuote(cvm: SimulatedCvm, world: ForgeWorld, reportData: Uint8Array): Promise<Uint8Array> {
  return forgeQuote(world, { reportData, mrTd: SIMULATED_MR_TD, rtMrs: [...cvm.rtmrs] });
}

/**
 * SEV-SNP: the guest's MrConfig V3 document as a dstack host writes it (JCS: keys sorted, no whitespace) with
 * the app id, compose hash and instance id of its event log; the report's HOST_DATA is its hash
 * (`snpHostDataOf`).
 */
export function simulatedSnpMrConfig(cvm: SimulatedCvm): string {
  const payload = (name: string) => bytesToPlainHex(cvm.eventLog.find((e) => e.imr === 3 && e.event === name)?.payload ?? new Uint8Array(0));
  return JSON.stringify({
    app_id: payload("app-id"),
    compose_hash: payload("compose-hash"),
    instance_id: payload("instance-id"),
    key_provider: "kms",
    key_provider_id: bytesToPlainHex(sha256(utf8("simulated kms key provider"))),
    version: 3,
  });
}

/** The simulator's Nitro enclave image: PCR0, PCR1 and PCR2 (not debug mode: not all zero). */
export const SIMULATED_NITRO_PCRS = [0x11, 0x22, 0x33].map((b) => new Uint8Array(48).fill(b));

/** dstack's image hash of the simulated enclave: SHA-256(PCR0 ‖ PCR1 ‖ PCR2) (its os_image_hash and its mr_aggregated). */
export function simulatedNitroImageHash(): Uint8Array {
  const all = new Uint8Array(SIMULATED_NITRO_PCRS.length * 48);
  SIMULATED_NITRO_PCRS.forEach((p, i) => all.set(p, i * 48));
  return sha256(all);
}

const TEE_VARIANTS: Record<SimulatorPlatform, string> = { tdx: "dstack-tdx", "gcp-tdx": "dstack-gcp-tdx", "sev-snp": "dstack-amd-sev-snp", "nitro-enclave": "dstack-nitro-enclave" };

/**
 * `GetAttestationInfo`: what an operator allow-lists before Bootstrap. As dstack computes it: `ppid` is the
 * platform's raw device id (TDX: the PPID of the PCK certificate; SEV-SNP: the chip id) and `device_id` its
 * SHA-256; TDX `mr_aggregated` = SHA-256(MRTD ‖ RTMR0–3); SEV-SNP `mr_aggregated` = SHA-256(MEASUREMENT ‖
 * HOST_DATA), HOST_DATA committing to the guest's MrConfig V3 document; a Nitro enclave's `mr_aggregated` and
 * `os_image_hash` are its image hash SHA-256(PCR0 ‖ PCR1 ‖ PCR2), and it has no stable device id (no `ppid`;
 * `device_id` is SHA-256 of nothing, as dstack's app info has it for a platform without one).
 */
export function attestationInfo(cvm: SimulatedCvm): Record<string, unknown> {
  const snp = cvm.platform === "sev-snp";
  const zero = new Uint8Array(48);
  if (cvm.platform === "nitro-enclave") {
    const image = bytesToPlainHex(simulatedNitroImageHash());
    return { device_id: bytesToPlainHex(sha256(new Uint8Array(0))), mr_aggregated: image, os_image_hash: image, tee_variant: TEE_VARIANTS[cvm.platform], site_name: "simulator", eth_rpc_url: "", kms_contract_address: "", ppid: "" };
  }
  const rawDeviceId = snp ? cvm.chipId : cvm.ppid;
  const mrAggregated = snp
    ? snpMrAggregated(SIMULATED_SNP_MEASUREMENT, snpHostDataOf(simulatedSnpMrConfig(cvm))).slice(2)
    : dstackMrAggregated({ mrTd: SIMULATED_MR_TD, rtMr0: cvm.rtmrs[0]!, rtMr1: cvm.rtmrs[1]!, rtMr2: cvm.rtmrs[2]!, mrConfigId: zero, mrOwner: zero, mrOwnerConfig: zero }, cvm.eventLog).slice(2);
  return {
    device_id: bytesToPlainHex(sha256(rawDeviceId)),
    mr_aggregated: mrAggregated,
    os_image_hash: bytesToPlainHex(OS_IMAGE_HASH),
    tee_variant: TEE_VARIANTS[cvm.platform],
    site_name: "simulator",
    eth_rpc_url: "",
    kms_contract_address: "",
    ppid: bytesToPlainHex(rawDeviceId),
  };
}
