/**
 * A measurement policy: the allowed values of a KMS's measurements, the same notions as the DstackKms
 * contract's allow-lists (kmsAllowedAggregatedMrs → `mrAggregated`, allowedOsImages → `osImageHash`,
 * kmsAllowedDeviceIds → `deviceId`) plus the raw registers (`mrTd`, `rtMr0`–`rtMr2`) and the app identity
 * (`composeHash`, `appId`).
 *
 * The policy file is JSON: an object whose keys are among those above, each a hex string or a non-empty
 * array of hex strings (with or without `0x`, of the field's length). Unknown keys, bad hex, wrong lengths
 * and empty lists are `InputError`s naming the field. Each rule becomes a check `expect.<field>`.
 */
import { bytesToHex, hexToBytes, type Hex } from "../core/bytes.js";
import { errorMessage, InputError } from "../core/errors.js";
import { isPlainObject, parseJsonLimited } from "../core/json.js";

/** Every policy field and the byte length of its values. */
export const POLICY_FIELDS = {
  mrTd: 48,
  rtMr0: 48,
  rtMr1: 48,
  rtMr2: 48,
  osImageHash: 32,
  mrAggregated: 32,
  composeHash: 32,
  appId: 20,
  deviceId: 32,
} as const;

export type PolicyField = keyof typeof POLICY_FIELDS;

/** Allowed values per field (lowercase `0x` hex); an absent field is not checked. */
export type MeasurementPolicy = Partial<Record<PolicyField, Hex[]>>;

/** The measured values a policy is checked against; an absent value fails its rule. */
export type MeasuredValues = Partial<Record<PolicyField, Hex>>;

/** Where each measured value comes from, as the check trail explains it. */
const SOURCES: Record<PolicyField, string> = {
  mrTd: "the quote's MRTD",
  rtMr0: "the quote's RTMR0",
  rtMr1: "the quote's RTMR1",
  rtMr2: "the quote's RTMR2",
  osImageHash: "the os-image-hash runtime event (RTMR3)",
  mrAggregated: "dstack's mr_aggregated: TDX sha256(MRTD ‖ RTMR0–3 [‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG]), SEV-SNP sha256(MEASUREMENT ‖ HOST_DATA)",
  composeHash: "the compose-hash runtime event (RTMR3; SEV-SNP: the mr_config document HOST_DATA binds)",
  appId: "the app-id runtime event (RTMR3; SEV-SNP: the mr_config document HOST_DATA binds)",
  deviceId: "sha256(PPID of the quote's PCK certificate; SEV-SNP: of the chip id)",
};

export class PolicyError extends InputError {}

function isPolicyField(k: string): k is PolicyField {
  return Object.hasOwn(POLICY_FIELDS, k);
}

function parseValue(v: unknown, field: PolicyField, where: string): Hex {
  if (typeof v !== "string") throw new PolicyError("EXPECT_BAD_FIELD", `measurement policy: ${where}: expected a hex string, got ${v === null ? "null" : typeof v}`, { details: { field } });
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(v, where);
  } catch (e) {
    throw new PolicyError("EXPECT_BAD_FIELD", `measurement policy: ${errorMessage(e)}`, { cause: e, details: { field } });
  }
  const want = POLICY_FIELDS[field];
  if (bytes.length !== want) throw new PolicyError("EXPECT_BAD_FIELD", `measurement policy: ${where}: expected ${want} bytes, got ${bytes.length}`, { details: { field } });
  return bytesToHex(bytes);
}

/** Validate a parsed policy object strictly. */
export function measurementPolicyFromJson(value: unknown): MeasurementPolicy {
  if (!isPlainObject(value)) throw new PolicyError("EXPECT_BAD_FORMAT", `measurement policy: expected a JSON object, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  const policy: MeasurementPolicy = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!isPolicyField(key)) {
      throw new PolicyError("EXPECT_UNKNOWN_FIELD", `measurement policy: unknown field ${JSON.stringify(key)} (known: ${Object.keys(POLICY_FIELDS).join(", ")})`, { details: { field: key } });
    }
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new PolicyError("EXPECT_BAD_FIELD", `measurement policy: ${key}: an empty list allows nothing`, { details: { field: key } });
    policy[key] = [...new Set(list.map((v, i) => parseValue(v, key, Array.isArray(raw) ? `${key}[${i}]` : key)))];
  }
  return policy;
}

/** Parse the policy file's bytes (UTF-8 JSON). */
export function parseMeasurementPolicy(bytes: Uint8Array | string): MeasurementPolicy {
  let text: string;
  try {
    text = typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new PolicyError("EXPECT_BAD_FORMAT", "measurement policy: not UTF-8 text", { cause: e });
  }
  return measurementPolicyFromJson(parseJsonLimited(text, "measurement policy", { maxDepth: 4 }));
}

/** The fields the policy pins. */
export function policyFields(policy: MeasurementPolicy): PolicyField[] {
  return (Object.keys(POLICY_FIELDS) as PolicyField[]).filter((f) => policy[f] !== undefined);
}

export interface PolicyCheck {
  name: `expect.${PolicyField}`;
  ok: boolean;
  detail: string;
}

/** One check per rule of the policy, in the order of `POLICY_FIELDS`. */
export function checkMeasurementPolicy(policy: MeasurementPolicy, measured: MeasuredValues): PolicyCheck[] {
  return policyFields(policy).map((field) => {
    const allowed = policy[field]!;
    const value = measured[field];
    const name = `expect.${field}` as const;
    if (value === undefined) return { name, ok: false, detail: `not measured: ${SOURCES[field]} is not available` };
    const ok = allowed.includes(value.toLowerCase() as Hex);
    return { name, ok, detail: ok ? `${value} (${SOURCES[field]}) is allowed` : `${value} (${SOURCES[field]}) is not among the ${allowed.length} allowed value${allowed.length === 1 ? "" : "s"}` };
  });
}
