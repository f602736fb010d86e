/**
 * The check of dstack's own on-chain KMS record (`kms-registry check-dstack-kms`): a `DstackKms` contract's
 * `kmsInfo() → (k256Pubkey, caPubkey, quote, eventlog)` is written by its owner and checked by nobody. This
 * workflow
 *   1. reads the record (at one block, the head) and verifies it exactly as `verify` verifies a bootstrap info
 *      (`verifyBootstrap`: quote, report_data key binding, event-log replay, the optional measurement policy);
 *      the `quote` field may hold a TDX quote or a dstack attestation container (its own event log then);
 *   2. computes dstack's mr_aggregated, os_image_hash and device_id of that KMS as dstack does for its platform
 *      (TDX, GCP TDX, SEV-SNP, Nitro Enclave; `measuredForAllowLists`) and looks each up in the contract's own
 *      allow-lists (a list with no meaning on the platform is a finding, not a check), and asks the contract's
 *      own `isKmsAllowed`;
 *   3. replays the contract's history (record, allow-list, ownership and upgrade events, each with its block,
 *      time, transaction and sender) and compares the current record with what the last `KmsInfoSet`
 *      announced: `setKmsQuote` / `setKmsEventlog` replace the evidence without any event, so a difference is
 *      the finding EVIDENCE_CHANGED_WITHOUT_EVENT, located (block, transaction, sender) when the node serves
 *      historical state.
 * Every outcome is a named check (a failed one fails the verdict) or a named finding (warning / info).
 */
import type { Chain, PublicClient, Transport } from "viem";

import { bytesToPlainHex, hexToBytes, type Hex } from "../core/bytes.js";
import { InputError } from "../core/errors.js";
import { parseQuote, quotePckChain } from "../dcap/quote.js";
import { parseSgxExtension } from "../dcap/sgx-extension.js";
import type { Check } from "../dcap/types.js";
import { configOsImageHash, looksLikeRawQuote, looksLikeVersionedAttestation } from "../dstack/attestation.js";
import { dstackDeviceId } from "../dstack/measurement.js";
import { parseBootstrapFields, type BootstrapInfo } from "../kms/bootstrap.js";
import { verifyBootstrap, type BootstrapReport, type VerifyBootstrapOptions } from "../kms/verify.js";
import {
  assertContract,
  changedFields,
  findDeploymentBlock,
  isAllowed,
  isKmsAllowed,
  locateSilentChange,
  readContractFacts,
  readKmsInfo,
  recordAsAnnounced,
  scanHistory,
  type AllowList,
  type ChangePoint,
  type ContractFacts,
  type HistoryEvent,
  type HistoryScan,
  type KmsInfoRecord,
  type SilentChange,
} from "../registry/dstack-kms.js";
import type { ScanProgress } from "../registry/logs.js";

export type FindingCode =
  | "SILENT_EVIDENCE_SETTERS"
  | "EVIDENCE_CHANGED_WITHOUT_EVENT"
  | "KMSINFO_NOT_ANNOUNCED"
  | "ROOT_KEY_REPLACED"
  | "CONTRACT_UPGRADED"
  | "OWNERSHIP_TRANSFERRED"
  | "ATTESTATION_EVENTLOG_IGNORED"
  | "HISTORY_UNDECODABLE_LOGS"
  | "HISTORY_PARTIAL"
  | "IS_KMS_ALLOWED_UNAVAILABLE"
  | "ALLOWLIST_NOT_APPLICABLE"
  | "IS_KMS_ALLOWED_NOT_APPLICABLE"
  | "TCB_STATUS_NOT_APPLICABLE";

/** A named observation that does not by itself fail the check. */
export interface Finding {
  code: FindingCode;
  severity: "warning" | "info";
  detail: string;
  block?: number;
  timestamp?: number;
  tx?: Hex;
  from?: Hex | null;
}

export interface AllowListEntry {
  list: AllowList;
  /** The value looked up (null when it could not be computed). */
  value: Hex | null;
  /** How it was computed. */
  source: string;
  allowed: boolean | null;
  /** false when dstack has no such notion for the KMS's platform (the list is then not consulted). */
  applicable: boolean;
  /** The last event that added / removed it, when the history has one. */
  lastChange: Pick<HistoryEvent, "event" | "block" | "timestamp" | "tx" | "from"> | null;
}

export interface CheckDstackKmsOptions {
  publicClient: PublicClient<Transport, Chain>;
  contract: Hex;
  /** First block of the history (default: the contract's deployment block, found by binary search, else 0). */
  fromBlock?: bigint;
  /** The verification options of `verify` (collateral, time, root, accepted statuses, policy). */
  verify: Omit<VerifyBootstrapOptions, "certs" | "sourceChecks" | "rpcCertDer" | "requireEventLog">;
  initialRange?: bigint;
  onProgress?: (p: ScanProgress) => void;
}

export interface DstackKmsReport {
  kind: "dstack-kms-check";
  version: 1;
  ok: boolean;
  verdict: "PASS" | "FAIL";
  genuine: boolean;
  /** The record's platform (`tdx` for a raw quote; else the dstack attestation's platform kind). */
  platform: string;
  chainId: number;
  contract: Hex;
  /** The block everything was read at (the head when the check started). */
  block: number;
  owner: Hex | null;
  implementation: Hex | null;
  record: {
    k256Pubkey: Hex;
    caPubkey: Hex;
    kmsAddress: Hex | null;
    /** What the `quote` field holds. */
    quoteKind: "empty" | "tdx-quote" | "dstack-attestation" | "other";
    quoteBytes: number;
    eventlogBytes: number;
  };
  /** `verify`'s report of the record (null when the record has no usable keys). */
  verification: Omit<BootstrapReport, "certs"> | null;
  allowLists: AllowListEntry[];
  isKmsAllowed: { allowed: boolean; reason: string } | { error: string } | null;
  history: Omit<HistoryScan, "events"> & { events: HistoryEvent[]; announcedFrom: "calldata" | "state-at-block" | null; silentChange: SilentChange | null };
  findings: Finding[];
  checks: Check[];
  failed: string[];
}

const LIST_EVENTS: Record<AllowList, [string, string]> = {
  kmsAllowedAggregatedMrs: ["KmsAggregatedMrAdded", "KmsAggregatedMrRemoved"],
  allowedOsImages: ["OsImageHashAdded", "OsImageHashRemoved"],
  kmsAllowedDeviceIds: ["KmsDeviceAdded", "KmsDeviceRemoved"],
};
const ZERO32 = `0x${"00".repeat(32)}` as Hex;
const ZERO20 = `0x${"00".repeat(20)}` as Hex;

export async function checkDstackKms(opts: CheckDstackKmsOptions): Promise<DstackKmsReport> {
  const { publicClient: client, contract } = opts;
  const head = await client.getBlockNumber({ cacheTime: 0 });
  await assertContract(client, contract, head);
  const record = await readKmsInfo(client, contract, head);
  const facts = await readContractFacts(client, contract, head);
  const checks: Check[] = [];
  const findings: Finding[] = [];
  silentSetterFinding(facts, findings);

  const { info, kind } = recordToBootstrap(record, checks, findings);
  const verification = info ? await verifyRecord(info, opts) : null;
  if (verification) checks.push(...verification.checks);

  const fromBlock = opts.fromBlock ?? (await findDeploymentBlock(client, contract, head)) ?? 0n;
  const history = await scanHistory(client, contract, { fromBlock, toBlock: head, ...(opts.initialRange ? { initialRange: opts.initialRange } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  const measured = measuredForAllowLists(info, verification);
  const allowLists = await lookUpAllowLists(opts, head, measured, history.events, checks, findings);
  const kmsAllowed = verification ? await askIsKmsAllowed(opts, head, measured, verification, checks, findings) : null;
  const replay = await replayHistory(opts, head, record, history, checks, findings);

  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  const { certs: _certs, ...verificationRest } = verification ?? ({ certs: null } as unknown as BootstrapReport);
  return {
    kind: "dstack-kms-check",
    version: 1,
    ok: failed.length === 0,
    verdict: failed.length === 0 ? "PASS" : "FAIL",
    genuine: verification?.genuine ?? false,
    platform: verification?.platform ?? info?.decodedAttestation?.platform ?? (kind === "tdx-quote" ? "tdx" : "unknown"),
    chainId: client.chain.id,
    contract,
    block: Number(head),
    owner: facts.owner,
    implementation: facts.implementation,
    record: {
      k256Pubkey: record.k256Pubkey,
      caPubkey: record.caPubkey,
      kmsAddress: verification?.kms.address ?? null,
      quoteKind: kind,
      quoteBytes: (record.quote.length - 2) / 2,
      eventlogBytes: (record.eventlog.length - 2) / 2,
    },
    verification: verification ? (verificationRest as Omit<BootstrapReport, "certs">) : null,
    allowLists,
    isKmsAllowed: kmsAllowed,
    history: { ...history, announcedFrom: replay.announcedFrom, silentChange: replay.silentChange },
    findings,
    checks,
    failed,
  };
}

function silentSetterFinding(facts: ContractFacts, findings: Finding[]): void {
  if (!facts.silentSetters.length) return;
  findings.push({
    code: "SILENT_EVIDENCE_SETTERS",
    severity: "info",
    detail: `the contract's code has ${facts.silentSetters.join(" and ")}, which replace the record's evidence without emitting any event: KmsInfoSet events alone do not tell when the quote or event log changed`,
  });
}

/** The record as a bootstrap info (the `quote` field: a TDX quote, or a dstack attestation with its own event log). */
function recordToBootstrap(record: KmsInfoRecord, checks: Check[], findings: Finding[]): { info: BootstrapInfo | null; kind: DstackKmsReport["record"]["quoteKind"] } {
  const quote = hexToBytes(record.quote, "kmsInfo.quote");
  const kind = quote.length === 0 ? "empty" : looksLikeRawQuote(quote) ? "tdx-quote" : looksLikeVersionedAttestation(quote) ? "dstack-attestation" : "other";
  if (record.k256Pubkey === "0x" && record.caPubkey === "0x" && record.quote === "0x" && record.eventlog === "0x") {
    checks.push({ name: "kmsinfo.present", ok: false, detail: "kmsInfo() is empty: the owner never wrote a KMS record (setKmsInfo)" });
    return { info: null, kind };
  }
  checks.push({ name: "kmsinfo.present", ok: true, detail: `k256Pubkey ${(record.k256Pubkey.length - 2) / 2} B, caPubkey ${(record.caPubkey.length - 2) / 2} B, quote ${quote.length} B (${kind}), eventlog ${(record.eventlog.length - 2) / 2} B` });
  const fields: Record<string, unknown> = { k256_pubkey: record.k256Pubkey.slice(2), ca_pubkey: record.caPubkey.slice(2) };
  if (kind === "dstack-attestation") {
    fields.attestation = record.quote.slice(2);
    if (record.eventlog !== "0x") {
      findings.push({ code: "ATTESTATION_EVENTLOG_IGNORED", severity: "warning", detail: "the record's quote field is a dstack attestation, which carries its own event log: the record's separate eventlog field was not used" });
    }
  } else {
    fields.quote = record.quote.slice(2);
    // the event log is stored as the bytes of its JSON text (the hex of it is what a bootstrap info carries)
    fields.eventlog = bytesToPlainHex(hexToBytes(record.eventlog, "kmsInfo.eventlog"));
  }
  try {
    const info = parseBootstrapFields(fields);
    checks.push({ name: "kmsinfo.keys", ok: true, detail: "k256Pubkey is a compressed secp256k1 key, caPubkey a P-256 SubjectPublicKeyInfo" });
    return { info, kind };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    checks.push({ name: "kmsinfo.keys", ok: false, detail: `${e.code}: ${e.message}` });
    return { info: null, kind };
  }
}

async function verifyRecord(info: BootstrapInfo, opts: CheckDstackKmsOptions): Promise<BootstrapReport> {
  return verifyBootstrap(info, { ...opts.verify, requireEventLog: true });
}

/** One of dstack's measurements of the KMS, as one allow-list takes it. */
interface MeasuredValue {
  /** null: not computed (`source` says why), or not applicable (`applicable` false). */
  value: Hex | null;
  /** How it was computed, or why it was not. */
  source: string;
  /** false when dstack has no such notion on this platform. */
  applicable: boolean;
}

interface Measured {
  lists: Record<AllowList, MeasuredValue>;
  mrSystem: Hex | null;
}

const asHex = (x: unknown): Hex | null => (typeof x === "string" && /^(0x)?[0-9a-fA-F]{64}$/.test(x) ? (`0x${x.replace(/^0x/, "").toLowerCase()}` as Hex) : null);
const given = (value: Hex | null, source: string, missing: string): MeasuredValue => (value ? { value, source, applicable: true } : { value: null, source: missing, applicable: true });

/**
 * dstack's measurements of the KMS for the three allow-lists, per platform, as dstack derives them:
 *  - tdx: mr_aggregated = sha256(MRTD ‖ RTMR0–3 [‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG]) with RTMR3 replayed,
 *    os_image_hash the os-image-hash runtime event, device_id = sha256(PPID of the PCK certificate);
 *  - gcp-tdx: os_image_hash and device_id as tdx; dstack's mr_aggregated comes from the TPM quote (PCR0, PCR2,
 *    the runtime PCR), which is not verified here, so it is not computed;
 *  - sev-snp: mr_aggregated = sha256(MEASUREMENT ‖ HOST_DATA), device_id = sha256(CHIP_ID), os_image_hash the
 *    attestation config's (vm_config) os_image_hash;
 *  - nitro-enclave: mr_aggregated = os_image_hash = sha256(PCR0 ‖ PCR1 ‖ PCR2); dstack has no stable device id
 *    for an enclave (its versions derive one from the module id string or from PCR4), so none is looked up.
 */
function measuredForAllowLists(info: BootstrapInfo | null, v: BootstrapReport | null): Measured {
  const m = v?.measurements ?? {};
  const platform = v?.platform ?? "tdx";
  const unverified = v && !v.checks.some((c) => c.name === "platform.verified" && c.ok) ? " (the evidence did NOT verify)" : "";
  if (platform === "sev-snp") {
    const os = asHex(configOsImageHash(info?.decodedAttestation?.config ?? null));
    return {
      lists: {
        kmsAllowedAggregatedMrs: given(asHex(m.mrAggregated), `sev-snp mr_aggregated = sha256(MEASUREMENT ‖ HOST_DATA) of the SNP report${unverified}`, "sev-snp mr_aggregated = sha256(MEASUREMENT ‖ HOST_DATA) needs a report that parses"),
        allowedOsImages: given(os, "sev-snp os_image_hash: the attestation config's (vm_config) os_image_hash, as dstack reads it; the SNP report does not sign it (dstack's KMS binds it by recomputing MEASUREMENT from the OS image, which is not done here)", "sev-snp os_image_hash: the attestation config (vm_config) names no os_image_hash"),
        kmsAllowedDeviceIds: given(asHex(m.deviceId), `sev-snp device_id = sha256(CHIP_ID) of the SNP report${unverified}`, "sev-snp device_id = sha256(CHIP_ID) needs a report that parses"),
      },
      mrSystem: asHex(m.mrSystem),
    };
  }
  if (platform === "nitro-enclave") {
    const image = asHex(m.osImageHash);
    const src = `nitro-enclave: sha256(PCR0 ‖ PCR1 ‖ PCR2) of the NSM document${unverified}`;
    return {
      lists: {
        kmsAllowedAggregatedMrs: given(image, `${src} (dstack's mr_aggregated of an enclave is its image hash)`, "nitro-enclave mr_aggregated = sha256(PCR0 ‖ PCR1 ‖ PCR2) needs a document that decodes"),
        allowedOsImages: given(image, src, "nitro-enclave os_image_hash = sha256(PCR0 ‖ PCR1 ‖ PCR2) needs a document that decodes"),
        kmsAllowedDeviceIds: { value: null, applicable: false, source: "nitro-enclave: dstack has no stable device id for an AWS Nitro Enclave (its versions derive one differently: from the document's module id string, or from PCR4, the parent instance's id), so no value is looked up" },
      },
      mrSystem: image,
    };
  }
  if (platform !== "tdx" && platform !== "gcp-tdx") {
    const none = (list: string): MeasuredValue => ({ value: null, applicable: true, source: `${list} of a ${platform} KMS: PLATFORM_NOT_SUPPORTED (its evidence is not verified)` });
    return { lists: { kmsAllowedAggregatedMrs: none("mr_aggregated"), allowedOsImages: none("os_image_hash"), kmsAllowedDeviceIds: none("device_id") }, mrSystem: null };
  }
  let deviceId: Hex | null = null;
  let deviceIdSource = `${platform} device_id = sha256(PPID of the quote's PCK certificate)`;
  const ppid = v?.quote?.verified ? v.quote.pck?.ppid : undefined;
  if (ppid) deviceId = dstackDeviceId(hexToBytes(ppid, "PPID"));
  else if (info?.quote) {
    try {
      const leaf = quotePckChain(parseQuote(info.quote))[0];
      if (leaf) {
        deviceId = dstackDeviceId(parseSgxExtension(leaf).ppid);
        deviceIdSource += " — the certificate was NOT verified";
      }
    } catch {
      deviceId = null;
    }
  }
  const mrAggregated: MeasuredValue =
    platform === "gcp-tdx"
      ? { value: null, applicable: true, source: "gcp-tdx mr_aggregated: dstack derives it from the TPM quote (sha256(PCR0 ‖ PCR2 ‖ the runtime PCR)), which is only reported here, not verified" }
      : given(asHex(m.mrAggregated), "mr_aggregated = sha256(MRTD ‖ RTMR0–3 [‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG]), RTMR3 replayed from the event log", "mr_aggregated needs the event log (RTMR3 replayed)");
  return {
    lists: {
      kmsAllowedAggregatedMrs: mrAggregated,
      allowedOsImages: given(asHex(m.osImageHash), "the os-image-hash runtime event (RTMR3)", "os_image_hash: the event log has no os-image-hash runtime event"),
      kmsAllowedDeviceIds: given(deviceId, deviceIdSource, `${deviceIdSource}: no PCK certificate in the quote`),
    },
    mrSystem: asHex(m.mrSystem),
  };
}

/** `onchain.<list>`: each of dstack's measurements of this KMS is allowed by the contract's own list (a list with no meaning on the platform: a finding). */
async function lookUpAllowLists(opts: CheckDstackKmsOptions, head: bigint, measured: Measured, events: HistoryEvent[], checks: Check[], findings: Finding[]): Promise<AllowListEntry[]> {
  const out: AllowListEntry[] = [];
  for (const list of Object.keys(measured.lists) as AllowList[]) {
    const { value, source, applicable } = measured.lists[list];
    const name = `onchain.${list}`;
    if (!applicable) {
      out.push({ list, value, source, allowed: null, applicable, lastChange: null });
      findings.push({ code: "ALLOWLIST_NOT_APPLICABLE", severity: "info", detail: `${list} was not consulted: ${source}` });
      continue;
    }
    if (value === null) {
      out.push({ list, value, source, allowed: null, applicable, lastChange: null });
      checks.push({ name, ok: false, detail: `not measured: ${source}` });
      continue;
    }
    const allowed = await isAllowed(opts.publicClient, opts.contract, list, value, head);
    const [added, removed] = LIST_EVENTS[list];
    const last = [...events].reverse().find((e) => (e.event === added || e.event === removed) && Object.values(e.args)[0] === value);
    const lastChange = last ? { event: last.event, block: last.block, timestamp: last.timestamp, tx: last.tx, from: last.from } : null;
    out.push({ list, value, source, allowed, applicable, lastChange });
    const when = last ? `; ${last.event} at block ${last.block} by ${last.from ?? "?"}` : "";
    checks.push({ name, ok: allowed, detail: `${list}[${value}] is ${allowed ? "true" : "false"} (${source})${when}` });
  }
  return out;
}

/** `onchain.isKmsAllowed`: the contract's own verdict on this KMS's boot info (a contract without the function: a finding). */
async function askIsKmsAllowed(opts: CheckDstackKmsOptions, head: bigint, m: Measured, v: BootstrapReport, checks: Check[], findings: Finding[]): Promise<DstackKmsReport["isKmsAllowed"]> {
  if (!m.lists.kmsAllowedDeviceIds.applicable) {
    // dstack's isKmsAllowed requires an allowed device id, which this platform does not have
    findings.push({ code: "IS_KMS_ALLOWED_NOT_APPLICABLE", severity: "info", detail: `the contract's isKmsAllowed was not asked: it requires an allowed device id, and ${m.lists.kmsAllowedDeviceIds.source}` });
    return null;
  }
  const missing = (Object.keys(m.lists) as AllowList[]).filter((l) => m.lists[l].applicable && m.lists[l].value === null);
  if (missing.length) {
    // asking with a zero value would be the contract's answer about another KMS
    checks.push({ name: "onchain.isKmsAllowed", ok: false, detail: `not asked: this KMS's boot info is incomplete (${missing.map((l) => `${l}: ${m.lists[l].source}`).join("; ")})` });
    return null;
  }
  const rt = v.eventlog?.runtime;
  const om = v.measurements ?? {};
  const boot = {
    appId: (rt?.appId as Hex | undefined) ?? (typeof om.appId === "string" && om.appId.length === 42 ? (om.appId as Hex) : ZERO20),
    composeHash: (rt?.composeHash as Hex | undefined) ?? asHex(om.composeHash) ?? ZERO32,
    instanceId: (rt?.instanceId && rt.instanceId.length === 42 ? rt.instanceId : ZERO20) as Hex,
    deviceId: m.lists.kmsAllowedDeviceIds.value ?? ZERO32,
    mrAggregated: m.lists.kmsAllowedAggregatedMrs.value ?? ZERO32,
    mrSystem: m.mrSystem ?? ZERO32,
    osImageHash: m.lists.allowedOsImages.value ?? ZERO32,
    tcbStatus: tcbStatusFor(v, findings),
    advisoryIds: v.quote?.advisoryIds ?? [],
  };
  const r = await isKmsAllowed(opts.publicClient, opts.contract, boot, head);
  if ("error" in r) {
    findings.push({ code: "IS_KMS_ALLOWED_UNAVAILABLE", severity: "warning", detail: `the contract did not answer isKmsAllowed (an older DstackKms?): ${r.error}` });
    return r;
  }
  checks.push({ name: "onchain.isKmsAllowed", ok: r.allowed, detail: r.allowed ? "the contract's isKmsAllowed accepts this KMS's boot info" : `the contract's isKmsAllowed refuses this KMS: ${JSON.stringify(r.reason)}` });
  return r;
}

/**
 * The TCB status handed to the contract's isKmsAllowed: a TDX quote's DCAP status; another platform has no
 * Intel TCB status, so "UpToDate" is passed when its evidence verified (its TCB checks included) and "" when
 * it did not, and a finding says so.
 */
function tcbStatusFor(v: BootstrapReport, findings: Finding[]): string {
  if (v.quote) return v.quote.status ?? "";
  const platformOk = v.checks.filter((c) => c.name.startsWith("platform.")).every((c) => c.ok) && v.checks.some((c) => c.name === "platform.verified" && c.ok);
  findings.push({
    code: "TCB_STATUS_NOT_APPLICABLE",
    severity: "info",
    detail: `a ${v.platform} KMS has no Intel TCB status: isKmsAllowed was asked with tcbStatus ${platformOk ? '"UpToDate" (its evidence and TCB verified)' : '"" (its evidence did not verify)'}`,
  });
  return platformOk ? "UpToDate" : "";
}

/**
 * `history.root-key` and `history.keys-announced` (the current keys are those the last KmsInfoSet announced)
 * and the findings of the history: evidence changed without an event, record never announced, root key
 * replaced, contract upgraded, ownership transferred.
 */
async function replayHistory(
  opts: CheckDstackKmsOptions,
  head: bigint,
  record: KmsInfoRecord,
  history: HistoryScan,
  checks: Check[],
  findings: Finding[],
): Promise<{ announcedFrom: "calldata" | "state-at-block" | null; silentChange: SilentChange | null }> {
  const { publicClient: client, contract } = opts;
  const where = (e: HistoryEvent) => ({ block: e.block, timestamp: e.timestamp, tx: e.tx, from: e.from });
  if (history.undecodable) findings.push({ code: "HISTORY_UNDECODABLE_LOGS", severity: "warning", detail: `${history.undecodable} log(s) with a DstackKms event topic did not decode` });
  const sets = history.events.filter((e) => e.event === "KmsInfoSet");
  const keys = [...new Set(sets.map((e) => e.args.k256Pubkey))];
  if (keys.length > 1) findings.push({ code: "ROOT_KEY_REPLACED", severity: "warning", detail: `the record's root key was replaced: ${keys.length} different k256 keys announced (${keys.join(", ")})`, ...where(sets.at(-1)!) });
  const upgrades = history.events.filter((e) => e.event === "Upgraded");
  for (const u of upgrades.slice(1)) findings.push({ code: "CONTRACT_UPGRADED", severity: "warning", detail: `the contract's implementation was replaced by ${u.args.implementation}: the code that governs the record changed`, ...where(u) });
  const owners = history.events.filter((e) => e.event === "OwnershipTransferred");
  for (const o of owners.slice(1)) findings.push({ code: "OWNERSHIP_TRANSFERRED", severity: "info", detail: `ownership passed from ${o.args.previousOwner} to ${o.args.newOwner}`, ...where(o) });

  const isEmpty = record.k256Pubkey === "0x" && record.caPubkey === "0x" && record.quote === "0x" && record.eventlog === "0x";
  const last = sets.at(-1);
  if (!last) {
    if (!isEmpty) findings.push({ code: "KMSINFO_NOT_ANNOUNCED", severity: "warning", detail: `no KmsInfoSet event in blocks ${history.fromBlock}…${history.toBlock}: nothing announced the current record (written earlier, or without setKmsInfo)` });
    return { announcedFrom: null, silentChange: null };
  }
  const keyOk = last.args.k256Pubkey === record.k256Pubkey;
  checks.push({ name: "history.root-key", ok: keyOk, detail: keyOk ? `the last KmsInfoSet (block ${last.block}, from ${last.from ?? "?"}) announced the current k256Pubkey` : `the last KmsInfoSet (block ${last.block}) announced ${last.args.k256Pubkey}, but the record holds ${record.k256Pubkey}` });
  const announced = await recordAsAnnounced(client, contract, last);
  if (!announced) {
    findings.push({ code: "HISTORY_PARTIAL", severity: "warning", detail: `what the KmsInfoSet of block ${last.block} wrote cannot be read (not a direct setKmsInfo call and no historical state): a silent change of the evidence cannot be ruled out` });
    return { announcedFrom: null, silentChange: null };
  }
  const changed = changedFields(announced.record, record);
  const keysChanged = changed.filter((f) => f === "k256Pubkey" || f === "caPubkey");
  checks.push({ name: "history.keys-announced", ok: keysChanged.length === 0, detail: keysChanged.length ? `${keysChanged.join(" and ")} differ from what setKmsInfo wrote at block ${last.block}` : `k256Pubkey and caPubkey are those setKmsInfo wrote at block ${last.block}` });
  const evidence = changed.filter((f) => f === "quote" || f === "eventlog");
  if (!evidence.length) return { announcedFrom: announced.source, silentChange: null };
  const silent = await locateSilentChange(client, contract, announced.record, record, BigInt(last.block), head);
  const by = (p: ChangePoint) => (p.txs.length ? ` by ${p.txs.map((t) => `${t.function} (tx ${t.tx}, from ${t.from})`).join(", ")}` : " (no direct setter call in that block: through another contract)");
  const where2 = silent
    ? `: first different at block ${silent.first.block} (${silent.first.fields.join(", ")})${by(silent.first)}${silent.latest ? `; the current ${silent.latest.fields.join(" and ")} since block ${silent.latest.block}${by(silent.latest)}` : ""}`
    : " (the block of the change could not be located: no historical state)";
  const origin = silent ? (silent.latest ?? silent.first) : null;
  findings.push({
    code: "EVIDENCE_CHANGED_WITHOUT_EVENT",
    severity: "warning",
    detail: `the record's ${evidence.join(" and ")} differ${evidence.length === 1 ? "s" : ""} from what the last KmsInfoSet (block ${last.block}) wrote, changed without any event${where2}; the evidence verified above is the current one, not the announced one`,
    ...(origin ? { block: origin.block, timestamp: origin.timestamp, ...(origin.txs[0] ? { tx: origin.txs[0].tx, from: origin.txs[0].from } : {}) } : {}),
  });
  return { announcedFrom: announced.source, silentChange: silent };
}
