#!/usr/bin/env node
// Runs the compiled CLI (dist/). In a source checkout that has not been built yet, falls back to
// the TypeScript sources through tsx (a development dependency), so `npx kms-registry` just works.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const built = fileURLToPath(new URL("../dist/src/cli/node.js", import.meta.url));
if (existsSync(built)) {
  const { run } = await import(pathToFileURL(built).href);
  await run();
} else {
  let tsImport;
  try {
    ({ tsImport } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write("kms-registry: not built yet: run `npm run build` first\n");
    process.exit(2);
  }
  const { run } = await tsImport("../src/cli/node.ts", import.meta.url);
  await run();
}
