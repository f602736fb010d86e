#!/usr/bin/env node
// postinstall guard: make sure Hardhat's EDR native binding is installed and loads.
//
// Why: Hardhat 3 / EDR need Node >= 22.13. This package ships a real Node binary through the
// `node` devDependency, and npm puts node_modules/.bin first on PATH for lifecycle scripts, so
// this script already runs on that Node. But when npm itself was started on an older Node (the
// stock Node 20 here), npm skips EDR's platform package (e.g. @nomicfoundation/edr-linux-x64-gnu,
// declared `engines: node >= 22`) and Hardhat later fails with HHE27. In that case we re-run
// `npm install` once under the current (new enough) Node, which installs the platform package.
//
// On machines whose npm already runs on Node >= 22 (any OS), the binding loads and this script
// does nothing. It never fails the install: it prints what to do instead.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const GUARD = "KMS_REGISTRY_EDR_REINSTALL";
const require = createRequire(import.meta.url);

function edrLoads() {
  try {
    require("@nomicfoundation/edr");
    return true;
  } catch {
    return false;
  }
}

function main() {
  // A production install without devDependencies has no EDR at all: nothing to do.
  const edrDir = fileURLToPath(new URL("../node_modules/@nomicfoundation/edr/", import.meta.url));
  if (!existsSync(edrDir) || edrLoads()) return 0;

  const major = Number(process.versions.node.split(".")[0]);
  if (process.env[GUARD]) {
    console.warn(`[ensure-edr] EDR native binding still does not load after a reinstall (Node ${process.version}).`);
    return 0;
  }
  if (major < 22) {
    console.warn(
      `[ensure-edr] Hardhat's EDR needs Node >= 22.13 but this script runs on ${process.version}; ` +
        "the bundled `node` devDependency did not install. Install Node >= 22.13 and run `npm install` again.",
    );
    return 0;
  }
  const npmCli = process.env.npm_execpath;
  if (!npmCli) {
    console.warn("[ensure-edr] EDR native binding missing and npm_execpath is unset; run `npm install` with Node >= 22.13.");
    return 0;
  }
  console.log(`[ensure-edr] EDR native package missing (npm ran on an older Node); re-running npm install on Node ${process.version}.`);
  const r = spawnSync(process.execPath, [npmCli, "install", "--no-save", "--no-audit", "--no-fund"], {
    stdio: "inherit",
    env: { ...process.env, [GUARD]: "1" },
  });
  if (r.status !== 0) {
    console.warn(`[ensure-edr] nested npm install exited with ${r.status}.`);
    return 0;
  }
  if (!edrLoads()) {
    // a fresh process sees the newly installed package even if require's cache did not
    const check = spawnSync(process.execPath, ["-e", "require('@nomicfoundation/edr')"], { stdio: "ignore" });
    if (check.status !== 0) console.warn("[ensure-edr] EDR binding still does not load; see the README's Requirements.");
  }
  return 0;
}

process.exit(main());
