import { defineConfig } from "vitest/config";

// Tests run on source: the `source` export condition points every @tiergate/* package at src/.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["{shared,edge-agent,cloud-coordinator,test}/src/**/*.test.ts", "test/e2e/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default", "./test/src/summary-reporter.ts"],
  },
});
