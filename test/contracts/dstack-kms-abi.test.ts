import { readFileSync } from "node:fs";

import { toFunctionSelector } from "viem";
import { describe, expect, it } from "vitest";

import { dstackKmsAbi, SILENT_EVIDENCE_SETTERS } from "../../src/dstack/dstack-kms-abi.js";

const artifact = JSON.parse(readFileSync(new URL("../../artifacts/contracts/test/dstack/DstackKms.sol/DstackKms.json", import.meta.url), "utf8")) as { abi: AbiItem[] };

interface AbiParam {
  name?: string;
  type: string;
  indexed?: boolean;
  components?: AbiParam[];
  internalType?: string;
}
interface AbiItem {
  type: string;
  name?: string;
  inputs?: AbiParam[];
  outputs?: AbiParam[];
  stateMutability?: string;
  anonymous?: boolean;
}

/** The ABI entry without what parseAbi does not produce (internalType, empty names, anonymous: false). */
function norm(p: AbiParam, eventInput = false): AbiParam {
  return { name: p.name ?? "", type: p.type, ...(eventInput ? { indexed: p.indexed ?? false } : {}), ...(p.components ? { components: p.components.map((c) => norm(c)) } : {}) };
}
function normItem(x: AbiItem): AbiItem {
  return {
    type: x.type,
    name: x.name ?? "",
    inputs: (x.inputs ?? []).map((p) => norm(p, x.type === "event")),
    ...(x.type === "function" ? { outputs: (x.outputs ?? []).map((p) => norm(p)), stateMutability: x.stateMutability ?? "" } : {}),
    ...(x.type === "event" ? { anonymous: x.anonymous ?? false } : {}),
  };
}

describe("src/dstack/dstack-kms-abi.ts (hand-written from dstack's DstackKms interface)", () => {
  const compiled = new Map(artifact.abi.filter((x) => x.name).map((x) => [`${x.type}:${x.name!}`, normItem(x)]));

  it("every function and event it declares equals the compiled test double's (contracts/test/dstack/DstackKms.sol)", () => {
    const items = (dstackKmsAbi as unknown as readonly AbiItem[]).map(normItem);
    expect(items.length).toBe(37);
    for (const item of items) expect(compiled.get(`${item.type}:${item.name!}`), `${item.type} ${item.name!}`).toEqual(item);
  });

  it("covers the record, its setters, the three KMS allow-lists with their add/remove functions and events, and isKmsAllowed", () => {
    const names = new Set((dstackKmsAbi as unknown as readonly AbiItem[]).map((x) => x.name));
    for (const n of ["kmsInfo", "setKmsInfo", "setKmsQuote", "setKmsEventlog", "kmsAllowedAggregatedMrs", "allowedOsImages", "kmsAllowedDeviceIds", "addKmsAggregatedMr", "removeKmsAggregatedMr", "addOsImageHash", "removeOsImageHash", "addKmsDevice", "removeKmsDevice", "isKmsAllowed", "KmsInfoSet", "KmsAggregatedMrAdded", "KmsAggregatedMrRemoved", "KmsDeviceAdded", "KmsDeviceRemoved", "OsImageHashAdded", "OsImageHashRemoved", "Upgraded", "OwnershipTransferred"]) {
      expect(names, n).toContain(n);
    }
    // the selectors dstack's deployed contract dispatches on
    const sel = (n: string) => toFunctionSelector((dstackKmsAbi as unknown as readonly AbiItem[]).find((x) => x.name === n) as never);
    expect(sel("kmsInfo")).toBe(toFunctionSelector("kmsInfo()"));
    expect(sel("setKmsInfo")).toBe(toFunctionSelector("setKmsInfo((bytes,bytes,bytes,bytes))"));
    expect(sel("isKmsAllowed")).toBe(toFunctionSelector("isKmsAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,string[]))"));
    expect([...SILENT_EVIDENCE_SETTERS].map(sel)).toEqual([toFunctionSelector("setKmsQuote(bytes)"), toFunctionSelector("setKmsEventlog(bytes)")]);
  });
});
