// Every test file runs against the embedded PGlite, and again against
// PostgreSQL when TEST_DATABASE_URL is set (each file on its own database).
// In CI the PostgreSQL run is required: test/support/global-setup.ts fails
// the run when CI=true and PostgreSQL is not configured or not reachable.
import { createRequire } from "node:module";
import { configDefaults, defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

const databases = ["pglite", ...(process.env.TEST_DATABASE_URL ? ["postgres"] : [])];

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
    projects: databases.map((database) => ({
      extends: true,
      test: {
        name: database,
        include: ["test/**/*.test.ts"],
        // These start their own server on an embedded database of their own
        // whatever the project (the gateway client, the demo, the browser
        // tests of the UI and of GraphiQL, the compiled start): a second run on PostgreSQL would repeat them,
        // not test anything new.
        exclude: [...configDefaults.exclude, ...(database === "pglite" ? [] : ["test/client/**", "test/scripts/demo.test.ts", "test/e2e/ui.test.ts", "test/e2e/graphiql.test.ts", "test/e2e/build.test.ts"])],
        // Request logs of in-process apps would drown the test output; a test that reads logs sets its own level.
        env: { SALDO_TEST_DB: database, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
      },
    })),
  },
});
