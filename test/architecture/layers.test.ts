/**
 * The source tree's layering, checked over the real import graph of `src/`:
 *   core < dcap < dstack < {kms, registry} < {workflows, watch, testing} < {dashboard, demo} < {cli, hardhat}
 * A module imports only from its own folder or from a lower layer; `kms` and `registry` never import each
 * other, the product (everything but `testing`, `cli` and `demo`) never imports the test worlds in `testing`,
 * index files re-export only their own folder, and imports are static except the CLI's per-command loader.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

const RANK: Record<string, number> = { core: 0, dcap: 1, dstack: 2, kms: 3, registry: 3, workflows: 4, watch: 4, testing: 4, dashboard: 5, demo: 5, cli: 6, hardhat: 6 };
/** Folders of the same rank never import each other: kms and registry; workflows, watch and testing; dashboard and demo; cli and the Hardhat plugin. */

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The folder directly below `src/` (or `"."` for the package root's own files). */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? "." : rel[0]!;
}

interface Edge {
  from: string;
  to: string;
  spec: string;
  dynamic: boolean;
  reexport: boolean;
}

const STATIC = /^\s*(import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    // comments may show example imports; only code counts
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const m of text.matchAll(STATIC)) {
      const spec = (m[2] ?? m[3])!;
      if (spec.startsWith(".")) out.push({ from: file, to: path.resolve(path.dirname(file), spec), spec, dynamic: false, reexport: m[1] === "export" });
    }
    for (const m of text.matchAll(DYNAMIC)) {
      const spec = m[1]!;
      out.push({ from: file, to: spec.startsWith(".") ? path.resolve(path.dirname(file), spec) : spec, spec, dynamic: true, reexport: false });
    }
  }
  return out;
}

const rel = (p: string) => path.relative(SRC, p);

describe("src/ layering", () => {
  const all = edges();

  it("reads a real graph (every layer has files, and imports between them exist)", () => {
    const layers = new Set(sourceFiles(SRC).map(layerOf));
    for (const l of Object.keys(RANK)) expect(layers, l).toContain(l);
    expect(all.filter((e) => !e.dynamic).length).toBeGreaterThan(100);
  });

  it("imports run one way: core < dcap < dstack < {kms, registry} < {workflows, watch, testing} < {dashboard, demo} < {cli, hardhat}", () => {
    const bad: string[] = [];
    for (const e of all) {
      if (!path.isAbsolute(e.to)) continue;
      const a = layerOf(e.from);
      const b = layerOf(e.to);
      if (a === b || a === ".") continue;
      const ra = RANK[a];
      const rb = RANK[b];
      if (ra === undefined || rb === undefined) {
        bad.push(`${rel(e.from)} → ${e.spec}: folder outside the layer map`);
        continue;
      }
      if (rb >= ra) bad.push(`${rel(e.from)} (${a}) → ${e.spec} (${b})`);
    }
    expect(bad).toEqual([]);
  });

  it("the product never imports the test worlds (forge, simulator, test PKI, dev node)", () => {
    const product = new Set(["core", "dcap", "dstack", "kms", "registry", "workflows", "watch", "dashboard", "hardhat", "."]);
    const bad = all.filter((e) => path.isAbsolute(e.to) && product.has(layerOf(e.from)) && layerOf(e.to) === "testing").map((e) => `${rel(e.from)} → ${e.spec}`);
    expect(bad).toEqual([]);
  });

  it("index files re-export only their own folder (the package root excepted)", () => {
    const bad = all
      .filter((e) => e.reexport && path.basename(e.from) === "index.ts" && layerOf(e.from) !== "." && path.isAbsolute(e.to))
      .filter((e) => !path.resolve(e.to).startsWith(path.dirname(e.from) + path.sep))
      .map((e) => `${rel(e.from)} → ${e.spec}`);
    expect(bad).toEqual([]);
  });

  it("imports are static, except the CLI's per-command loader, the plugin's lazy task actions and the explorer verification's Hardhat", () => {
    const allowed = new Set(["cli/commands/index.ts", "hardhat/index.ts", "workflows/explorer-verify.ts"]);
    const bad = all.filter((e) => e.dynamic && !allowed.has(rel(e.from))).map((e) => `${rel(e.from)} → ${e.spec}`);
    expect(bad).toEqual([]);
  });
});
