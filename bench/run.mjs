#!/usr/bin/env node
// Runs every bench/*.bench.* file in turn and prints a JSON array of their results.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const files = readdirSync(dir).filter((f) => /\.bench\.(mjs|ts)$/.test(f)).sort();
const results = [];
for (const f of files) {
  const args = f.endsWith(".ts") ? ["--import", "tsx", dir + f] : [dir + f];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  let parsed;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    parsed = { error: `no JSON output (exit ${r.status})` };
  }
  results.push({ bench: f, result: parsed });
}
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
