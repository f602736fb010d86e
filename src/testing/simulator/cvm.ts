/**
 * The simulated CVM the KMS runs in: a fixed MRTD, a plausible event log (synthetic firmware events in
 * RTMR0–2, dstack's runtime events in RTMR3) fixed at boot with a fresh instance id, the RTMRs it
 * replays to, and the attestation info dstack shows before Bootstrap.
 */
import { randomBytes } from "node:crypto";

import { sha256, sha384 } from "@noble/hashes/sha2.js";

import { bytesToPlainHex, concatBytes, utf8 } from "../../core/bytes.js";
import { eventLogToJson, makeRuntimeEvent, replayEventLog, type EventLogEntry } from "../../dstack/eventlog.js";
import { forgeQuote, type ForgeWorld } from "../forge/index.js";

export const SIMULATED_MR_TD = sha384(utf8("dstack-kms-registry simulator MRTD"));

const OS_IMAGE_HASH = sha256(utf8("dstack-kms-simulator os image"));

/** A plausible KMS CVM event log: synthetic firmware events for RTMR0–2, dstack's runtime events in RTMR3. */
export function simulatedKmsEventLog(opts: { instanceId: Uint8Array }): EventLogEntry[] {
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
    makeRuntimeEvent("system-preparing", new Uint8Array(0)),
    makeRuntimeEvent("app-id", sha256(utf8("dstack-kms-simulator app id")).subarray(0, 20)),
    makeRuntimeEvent("compose-hash", sha256(compose)),
    makeRuntimeEvent("instance-id", opts.instanceId),
    makeRuntimeEvent("boot-mr-done", new Uint8Array(0)),
    makeRuntimeEvent("os-image-hash", OS_IMAGE_HASH),
    makeRuntimeEvent("key-provider", utf8(JSON.stringify({ name: "local-sgx", id: bytesToPlainHex(sha256(utf8("simulated local-sgx key provider"))) }))),
    makeRuntimeEvent("storage-fs", utf8("zfs")),
    makeRuntimeEvent("system-ready", new Uint8Array(0)),
  );
  return events;
}

export interface SimulatedCvm {
  eventLog: EventLogEntry[];
  /** The event log as dstack serves it (JSON text). */
  eventLogText: string;
  /** RTMR0..3, replayed from the event log. */
  rtmrs: Uint8Array[];
}

/** Boot a CVM: a fresh instance id, so a fresh event log, per start. */
export function bootSimulatedCvm(): SimulatedCvm {
  const eventLog = simulatedKmsEventLog({ instanceId: randomBytes(20) });
  return { eventLog, eventLogText: JSON.stringify(eventLogToJson(eventLog)), rtmrs: [...replayEventLog(eventLog).rtmrs] };
}

/** A quote of this CVM (its MRTD and RTMRs) over `reportData`, forged in `world`. */
export function cvmQuote(cvm: SimulatedCvm, world: ForgeWorld, reportData: Uint8Array): Promise<Uint8Array> {
  return forgeQuote(world, { reportData, mrTd: SIMULATED_MR_TD, rtMrs: [...cvm.rtmrs] });
}

/** `GetAttestationInfo`: what an operator allow-lists before Bootstrap. */
export function attestationInfo(cvm: SimulatedCvm): Record<string, unknown> {
  return {
    device_id: bytesToPlainHex(sha256(utf8("dstack-kms-registry simulator device"))),
    mr_aggregated: bytesToPlainHex(sha256(concatBytes(SIMULATED_MR_TD, ...cvm.rtmrs))),
    os_image_hash: bytesToPlainHex(OS_IMAGE_HASH),
    tee_variant: "tdx",
    site_name: "simulator",
    eth_rpc_url: "",
    kms_contract_address: "",
    ppid: "",
  };
}
