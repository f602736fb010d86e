import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Contract tests share one compiled artifact set; end-to-end tests start processes on free ports.
    pool: "forks",
    // Two test files at a time even on a 2-core machine (the default there is one): most files wait on child
    // processes (hardhat nodes, the CLI, simulated KMSs), so two overlap well (480 s → 285 s on 2 cores).
    maxWorkers: 2,
  },
});
