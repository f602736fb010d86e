/**
 * Documentation of the contracts, read from what solc itself extracts (userdoc / devdoc), so `@inheritdoc`
 * is resolved exactly as block explorers and tooling see it: the interface carries the NatSpec, the
 * implementation inherits it.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

type Param = { name: string; type: string; components?: Param[] };
type AbiItem = { type: string; name?: string; inputs?: Param[]; outputs?: Param[] };
type Doc = Record<string, unknown>;
interface Compiled {
  abi: AbiItem[];
  userdoc: { methods: Record<string, { notice?: string }>; events: Record<string, { notice?: string }>; errors: Record<string, { notice?: string }[]> };
  devdoc: {
    methods: Record<string, { params?: Doc; returns?: Doc }>;
    events: Record<string, { params?: Doc }>;
    errors: Record<string, { params?: Doc }[]>;
    stateVariables: Record<string, { returns?: Doc }>;
  };
}

/** Compiles KmsRegistry.sol with solc (the npm WASM build Hardhat uses) asking for NatSpec output. */
function compile(): Record<string, Record<string, Compiled>> {
  const solc = require("solc") as { compile(input: string, callbacks: { import(path: string): { contents: string } | { error: string } }): string };
  const input = {
    language: "Solidity",
    sources: { "contracts/KmsRegistry.sol": { content: read("contracts/KmsRegistry.sol") } },
    settings: { outputSelection: { "*": { "*": ["abi", "userdoc", "devdoc"] } } },
  };
  const findImport = (path: string) => {
    const file = path.startsWith("contracts/") ? new URL(path, root) : new URL(`node_modules/${path}`, root);
    return existsSync(file) ? { contents: readFileSync(file, "utf8") } : { error: `not found: ${path}` };
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, Compiled>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error").map((e) => e.formattedMessage);
  expect(errors).toEqual([]);
  return out.contracts;
}

const typeOf = (p: Param): string =>
  p.type.startsWith("tuple") ? `(${(p.components ?? []).map(typeOf).join(",")})${p.type.slice("tuple".length)}` : p.type;
const signature = (x: AbiItem) => `${x.name}(${(x.inputs ?? []).map(typeOf).join(",")})`;
const returnKeys = (outputs: Param[] | undefined) => (outputs ?? []).map((o, i) => o.name || `_${i}`);

describe("contract NatSpec", () => {
  const contracts = compile();
  const registry = contracts["contracts/KmsRegistry.sol"]!.KmsRegistry!;
  const iface = contracts["contracts/IKmsRegistry.sol"]!.IKmsRegistry!;
  const accessControl = contracts["@openzeppelin/contracts/access/AccessControl.sol"]!.AccessControl!;

  it("the interface declares every function, event and custom error of the registry that AccessControl does not", () => {
    const key = (x: AbiItem) => `${x.type} ${signature(x)}`;
    const inherited = new Set(accessControl.abi.map(key));
    const declared = new Set(iface.abi.map(key));
    const own = registry.abi.filter((x) => x.type !== "constructor" && !inherited.has(key(x)));
    expect(own.length).toBeGreaterThanOrEqual(50);
    expect(own.map(key).filter((k) => !declared.has(k))).toEqual([]);
    expect(iface.abi.map(key).filter((k) => !registry.abi.some((x) => key(x) === k))).toEqual([]);
  });

  it("every function, event and custom error of the interface has @notice, @param for each input and @return for each output, as the registry exposes them", () => {
    const gaps: string[] = [];
    const params = (where: string, inputs: Param[] | undefined, doc: Doc | undefined) => {
      for (const p of inputs ?? []) if (!p.name || !doc?.[p.name]) gaps.push(`${where}: @param ${p.name || "(unnamed)"}`);
    };
    for (const item of iface.abi) {
      const sig = signature(item);
      const where = `${item.type} ${sig}`;
      if (item.type === "function") {
        if (!registry.userdoc.methods[sig]?.notice) gaps.push(`${where}: @notice`);
        const dev = registry.devdoc.methods[sig] ?? registry.devdoc.stateVariables[item.name!];
        params(where, item.inputs, (dev as { params?: Doc } | undefined)?.params);
        const returns = dev?.returns ?? {};
        for (const k of returnKeys(item.outputs)) if (!returns[k]) gaps.push(`${where}: @return ${k}`);
      } else if (item.type === "event") {
        if (!registry.userdoc.events[sig]?.notice) gaps.push(`${where}: @notice`);
        params(where, item.inputs, registry.devdoc.events[sig]?.params);
      } else if (item.type === "error") {
        if (!registry.userdoc.errors[sig]?.[0]?.notice) gaps.push(`${where}: @notice`);
        params(where, item.inputs, registry.devdoc.errors[sig]?.[0]?.params);
      }
    }
    expect(iface.abi.filter((x) => x.type === "error").length).toBeGreaterThanOrEqual(20);
    expect(gaps).toEqual([]);
  });

  it("the registry documents each implementation with `/// @inheritdoc IKmsRegistry` only; its constructor has its own NatSpec", () => {
    const names = new Set(iface.abi.filter((x) => x.type === "function").map((x) => x.name!));
    const lines = read("contracts/KmsRegistry.sol").split("\n");
    const docAbove = (i: number) => {
      const doc: string[] = [];
      for (let j = i - 1; j >= 0 && /^\s*\/\/\//.test(lines[j]!); j--) doc.unshift(lines[j]!.trim());
      return doc;
    };
    const found = new Set<string>();
    const wrong: string[] = [];
    lines.forEach((line, i) => {
      const m = /^\s*(?:function (\w+)\(|[\w ]+\b(?:public|external)\b[\w ]*\b([A-Z_][A-Z0-9_]*) =)/.exec(line);
      const name = m?.[1] ?? m?.[2];
      if (!name || !names.has(name)) return;
      found.add(name);
      const doc = docAbove(i);
      if (doc.join("\n") !== "/// @inheritdoc IKmsRegistry") wrong.push(`${name}: ${JSON.stringify(doc)}`);
    });
    expect(wrong).toEqual([]);
    expect([...names].filter((n) => !found.has(n))).toEqual([]);
    // a Map, since `.constructor` on a plain object is Object's own
    expect(new Map(Object.entries(registry.userdoc.methods)).get("constructor")?.notice).toBeTruthy();
    expect(new Map(Object.entries(registry.devdoc.methods)).get("constructor")?.params?.admin).toBeTruthy();
  });

  it("states that the registry is non-upgradeable by design", () => {
    expect(read("contracts/KmsRegistry.sol")).toMatch(/@dev Non-upgradeable by design/);
    expect(read("README.md")).toMatch(/non-upgradeable by design/i);
  });

  it("comments describe the code in its own terms: no references to sections, issues, decisions or outside documents", () => {
    const files = ["contracts/IKmsRegistry.sol", "contracts/KmsRegistry.sol", "contracts/lib/LowerHex.sol", "contracts/lib/Secp256k1.sol"];
    const hits: string[] = [];
    for (const f of files) {
      read(f)
        .split("\n")
        .forEach((line, i) => {
          if (/§|\bissues?\b|\bdecisions?\b|formats doc|\bspec\b/i.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
