// Fails the whole run, loudly, when CI expects PostgreSQL and cannot reach it:
// a PostgreSQL suite that silently skips proves nothing.
import pg from "pg";

export default async function globalSetup() {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    if (process.env.CI === "true") {
      throw new Error("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suite must run in CI");
    }
    console.warn("[tests] TEST_DATABASE_URL is not set: running against PGlite only");
    return;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    throw new Error(`TEST_DATABASE_URL=${url} is not reachable: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
