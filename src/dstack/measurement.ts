/**
 * dstack's measurement identities of a TDX CVM, computed the way dstack computes them:
 *   - `mr_aggregated` = SHA-256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3 [‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG,
 *     only when one of those is non-zero]), RTMR3 being the replay of the runtime events (`derivedMeasurements`);
 *   - `device_id` = SHA-256(PPID), the PPID read from the quote's PCK certificate (its SGX extension);
 *   - `os_image_hash` = SHA-256 of the image's `sha256sum.txt` (for a lite image, the one-line checksum
 *     file of its measurement document); a booted CVM records it in the `os-image-hash` runtime event.
 * `measuredValues` gathers what a measurement policy is checked against.
 */
import { sha256 } from "@noble/hashes/sha2.js";

import { bytesToHex, type Hex } from "../core/bytes.js";
import { derivedMeasurements, replayRuntimeEvents, keyProviderPayload, decodeRuntimeInfo, type EventLogEntry, type TdMeasurements } from "./eventlog.js";
import type { MeasuredValues } from "./policy.js";

/** dstack's device id: SHA-256 of the platform's PPID (16 bytes for Intel). */
export function dstackDeviceId(ppid: Uint8Array): Hex {
  return bytesToHex(sha256(ppid));
}

/** dstack's OS image hash: SHA-256 of the image's checksum file (`sha256sum.txt`) exactly as published. */
export function osImageHashFromChecksumFile(checksumFile: Uint8Array): Hex {
  return bytesToHex(sha256(checksumFile));
}

/**
 * dstack's `mr_aggregated` of a KMS (not boot-time: RTMR3 is the replay of every runtime event, and the
 * key-provider event is included in mr_system), from the quote's registers and the event log.
 */
export function dstackMrAggregated(td: Omit<TdMeasurements, "rtMr3">, eventLog: EventLogEntry[]): Hex {
  return derivedMeasurements({ ...td, rtMr3: replayRuntimeEvents(eventLog) }, keyProviderPayload(eventLog)).mrAggregated;
}

/**
 * The values a measurement policy is checked against: the quote's MRTD and RTMR0–2, and with an event log
 * mr_aggregated, the os-image-hash / compose-hash / app-id runtime events; the device id when the PPID is known.
 */
export function measuredValues(td: TdMeasurements, eventLog: EventLogEntry[] | null, ppid?: Uint8Array): MeasuredValues {
  const m: MeasuredValues = { mrTd: bytesToHex(td.mrTd), rtMr0: bytesToHex(td.rtMr0), rtMr1: bytesToHex(td.rtMr1), rtMr2: bytesToHex(td.rtMr2) };
  if (ppid) m.deviceId = dstackDeviceId(ppid);
  if (eventLog) {
    m.mrAggregated = dstackMrAggregated(td, eventLog);
    const rt = decodeRuntimeInfo(eventLog);
    if (rt.osImageHash) m.osImageHash = rt.osImageHash;
    if (rt.composeHash) m.composeHash = rt.composeHash;
    if (rt.appId) m.appId = rt.appId;
  }
  return m;
}
