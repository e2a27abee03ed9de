import { defineConfig } from "vitest/config";

// Tests run from source: each package's `exports` has a `source` condition pointing at src/index.ts.
export default defineConfig({
  ssr: { resolve: { conditions: ["source"] } },
  resolve: { conditions: ["source"] },
  test: {
    exclude: ["**/node_modules/**", "**/dist/**"],
    // Real nats-server processes and ORT sessions: keep concurrency modest on a 2-core machine.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["libs/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**", "test/cluster/**", "test/k8s-live/**/*.cluster.int.test.ts", "test/security/**/*.cluster.int.test.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The namespace cluster runs after everything else, one file at a time, alone on the machine: its
        // checks hold the runtime to wall-clock goals (a dead host's actors run again within 30 s), which a
        // neighbouring test's load would turn into a measure of that test.
        extends: true,
        test: {
          name: "cluster",
          // test/k8s-live's live checks too (its unit tests of the pure parts stay in the suite above).
          include: ["test/cluster/**/*.test.ts", "test/k8s-live/**/*.cluster.int.test.ts", "test/security/**/*.cluster.int.test.ts"],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
