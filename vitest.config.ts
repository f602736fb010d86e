import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Contract tests share one compiled artifact set; end-to-end tests start processes on free ports.
    pool: "forks",
  },
});
