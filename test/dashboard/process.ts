/** The `kms-registry dashboard` executable (dist/) as a child process, for the tests that drive it over HTTP. */
import { spawn, type ChildProcess } from "node:child_process";

import { BIN, REPO_ROOT } from "../helpers/cli.js";

export interface Dashboard {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Start `kms-registry dashboard` (dist/) and wait for its URL line. */
export function startDashboard(args: string[]): Promise<Dashboard> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "dashboard", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`dashboard did not start: ${err}`)), 20_000);
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`dashboard exited with ${code}: ${err}`));
    });
  });
}
