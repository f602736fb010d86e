/**
 * dstack's MrConfig V3 document on AMD SEV-SNP: the platform-independent app/config binding (app id, compose
 * hash, key provider, instance id, …) a dstack SNP attestation carries as `mr_config`, committed to by the
 * report's HOST_DATA (0xC0, 32 bytes), which the host sets at launch and the AMD secure processor signs. As
 * dstack computes it, over the document's exact bytes (hosts write it in JCS form, verifiers hash what they
 * were given): HOST_DATA = SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ document). dstack's SEV-SNP measurements
 * follow from it: mr_system = SHA-256(MEASUREMENT), mr_aggregated = SHA-256(MEASUREMENT ‖ HOST_DATA).
 */
import { sha256 } from "@noble/hashes/sha2.js";

import { bytesToHex, concatBytes, hexToBytes, type Hex } from "../../core/bytes.js";

const DOMAIN = new TextEncoder().encode("dstack-mr-config-v3:");

/** The document's fields dstack reads (MrConfigV3; unknown fields are refused, as dstack's decoder does). */
export interface MrConfigV3 {
  version: number;
  appId: Hex | null;
  composeHash: Hex;
  keyProvider: string;
  keyProviderId: Hex | null;
  instanceId: Hex | null;
}

const FIELDS = new Set(["version", "app_id", "compose_hash", "gpu_policy_hash", "key_provider", "key_provider_id", "instance_id", "init_script_hashes"]);

/** HOST_DATA of an SNP guest launched with this MrConfig document (its exact UTF-8 bytes). */
export function snpHostDataOf(document: string): Uint8Array {
  return sha256(concatBytes(DOMAIN, new Uint8Array([0]), new TextEncoder().encode(document)));
}

/** dstack's mr_aggregated of an SNP guest: SHA-256(MEASUREMENT ‖ HOST_DATA). */
export function snpMrAggregated(measurement: Uint8Array | Hex, hostData: Uint8Array | Hex): Hex {
  const b = (v: Uint8Array | Hex, f: string) => (typeof v === "string" ? hexToBytes(v, f) : v);
  return bytesToHex(sha256(concatBytes(b(measurement, "measurement"), b(hostData, "hostData"))));
}

/** dstack's mr_system of an SNP guest: SHA-256(MEASUREMENT). */
export function snpMrSystem(measurement: Uint8Array | Hex): Hex {
  return bytesToHex(sha256(typeof measurement === "string" ? hexToBytes(measurement, "measurement") : measurement));
}

const hexField = (v: unknown, name: string, required: boolean): Hex | null => {
  if (v === undefined || v === null) {
    if (required) throw new Error(`${name} is missing`);
    return null;
  }
  if (typeof v !== "string" || !/^([0-9a-fA-F]{2})*$/.test(v.replace(/^0x/, ""))) throw new Error(`${name} is not a hex string`);
  return `0x${v.replace(/^0x/, "").toLowerCase()}` as Hex;
};

/** The MrConfigV3 document's fields; throws an `Error` naming what does not fit (the caller makes it a failed check). */
export function parseMrConfigV3(document: string): MrConfigV3 {
  let j: unknown;
  try {
    j = JSON.parse(document);
  } catch {
    throw new Error("not JSON");
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) throw new Error("not a JSON object");
  const o = j as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.has(k));
  if (unknown.length) throw new Error(`unknown field${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}`);
  const version = o.version ?? 3;
  if (version !== 3) throw new Error(`version ${JSON.stringify(version)}, not 3`);
  if (typeof o.key_provider !== "string") throw new Error("key_provider is missing");
  return {
    version: 3,
    appId: hexField(o.app_id, "app_id", false),
    composeHash: hexField(o.compose_hash, "compose_hash", true)!,
    keyProvider: o.key_provider,
    keyProviderId: hexField(o.key_provider_id, "key_provider_id", false),
    instanceId: hexField(o.instance_id, "instance_id", false),
  };
}

/**
 * The binding dstack checks: `document` is an MrConfigV3 document and the report's HOST_DATA is its hash.
 * Never throws: `ok` false with why.
 */
export function checkSnpHostData(document: string, hostData: Hex): { ok: boolean; detail: string; mrConfig: MrConfigV3 | null; expected: Hex | null } {
  if (document === "") return { ok: false, detail: "the attestation carries no mr_config document, so nothing ties HOST_DATA to an app configuration", mrConfig: null, expected: null };
  let mrConfig: MrConfigV3;
  try {
    mrConfig = parseMrConfigV3(document);
  } catch (e) {
    return { ok: false, detail: `the mr_config document is not an MrConfig V3 document: ${(e as Error).message}`, mrConfig: null, expected: null };
  }
  const expected = bytesToHex(snpHostDataOf(document));
  const ok = expected === hostData.toLowerCase();
  return {
    ok,
    mrConfig,
    expected,
    detail: ok
      ? `HOST_DATA = SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ mr_config) binds the MrConfig V3 document (compose_hash ${mrConfig.composeHash}${mrConfig.appId ? `, app_id ${mrConfig.appId}` : ""})`
      : `HOST_DATA ${hostData} is not SHA-256("dstack-mr-config-v3:" ‖ 0x00 ‖ mr_config) = ${expected}: the report does not bind this mr_config document`,
  };
}
