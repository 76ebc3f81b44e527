// Every test file runs against the embedded PGlite, and again against
// PostgreSQL when TEST_DATABASE_URL is set (each file on its own database).
// In CI the PostgreSQL run is required: test/support/global-setup.ts fails
// the run when CI=true and PostgreSQL is not configured or not reachable.
import { createRequire } from "node:module";
import { configDefaults, defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

const databases = ["pglite", ...(process.env.TEST_DATABASE_URL ? ["postgres"] : [])];
// The fault suite (issue 13) brings its own PostgreSQL cluster, Redis and
// server processes, so it runs once, not per database. It needs
// pg_createcluster and redis-server (root on a Debian machine): on in CI,
// elsewhere with SALDO_FAULT_TESTS=1 (npm run test:faults).
const faults = process.env.CI === "true" || process.env.SALDO_FAULT_TESTS === "1";

export default defineConfig({
  resolve: {
    // Vite would load graphql's ESM build for our files while dependencies
    // (loaded by Node) get its CommonJS build: two graphql modules, and
    // "Cannot use GraphQLSchema from another module". Use Node's for both.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: two files at a time.
    maxWorkers: 2,
    projects: [
      ...databases.map((database) => ({
        extends: true as const,
        test: {
          name: database,
          include: ["test/**/*.test.ts"],
          // The fault suite brings its own databases (its own project below).
          // The gateway client, the demo, the browser tests of the UI and of
          // GraphiQL and the compiled start start their own server on an
          // embedded database whatever the project: a second run on
          // PostgreSQL would repeat them, not test anything new.
          exclude: [
            ...configDefaults.exclude,
            "test/fault/**",
            ...(database === "pglite"
              ? []
              : [
                  "test/client/**",
                  "test/scripts/demo.test.ts",
                  "test/e2e/ui.test.ts",
                  "test/e2e/graphiql.test.ts",
                  "test/e2e/build.test.ts",
                ]),
          ],
          // Request logs of in-process apps would drown the test output; a test that reads logs sets its own level.
          env: { SALDO_TEST_DB: database, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
        },
      })),
      ...(faults
        ? [
            {
              extends: true as const,
              test: { name: "fault", include: ["test/fault/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 300_000 },
            },
          ]
        : []),
    ],
  },
});
