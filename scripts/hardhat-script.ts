/**
 * What the Hardhat scripts (`npx hardhat run scripts/<name>.ts`) share: the deployment records directory from
 * the environment, and one way to end — the first line of an error on stderr, exit code 2 for a usage error or
 * an unset Hardhat configuration variable (named with where its value can come from), 1 otherwise.
 */
import path from "node:path";

import { errorMessage, firstLine, UsageError } from "../src/core/errors.js";
import { packageRoot } from "../src/registry/deploy.js";

/** `KMS_REGISTRY_DEPLOYMENTS_DIR`, else this package's `deployments/`. */
export function deploymentsDirFromEnv(env: Record<string, string | undefined> = process.env): string {
  return env.KMS_REGISTRY_DEPLOYMENTS_DIR ? path.resolve(env.KMS_REGISTRY_DEPLOYMENTS_DIR) : path.join(packageRoot(), "deployments");
}

/** Run a script's `main`, reporting a failure as `<name>: <first line>` and setting the exit code. */
export function runScript(name: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    const line = firstLine(errorMessage(e));
    // Hardhat's HHE7 for an unset configVariable: say where the value can come from.
    const missing = /Configuration Variable "([A-Z0-9_]+)" not found/.exec(line);
    const hint = missing ? ` (set ${missing[1]} in the environment, or store it with \`npx hardhat keystore set ${missing[1]}\`)` : "";
    process.stderr.write(`${name}: ${line}${hint}\n`);
    // the plugin's tasks report a usage error as "<task>: USAGE: …"
    process.exitCode = e instanceof UsageError || missing || /: USAGE: /.test(line) ? 2 : 1;
  });
}
