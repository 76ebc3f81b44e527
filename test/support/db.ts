// A fresh, migrated database per test file: in-memory PGlite, or a new
// PostgreSQL database on TEST_DATABASE_URL's server, dropped afterwards.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { openDatabase, poolSession, type Database } from "../../src/db/open.js";
import { applyMigrations } from "../../src/db/migrations.js";

export type TestDatabaseKind = "pglite" | "postgres";

export const testDatabaseKind = (process.env.SALDO_TEST_DB ?? "pglite") as TestDatabaseKind;

export interface TestDatabase extends Database {
  /** The URL of the PostgreSQL test database (undefined on PGlite). */
  url?: string;
}

export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  if (testDatabaseKind === "pglite") return openDatabase({ dataDir: "memory://" });
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error("SALDO_TEST_DB=postgres needs TEST_DATABASE_URL");
  const name = `saldo_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const migrator = new pg.Client({ connectionString: url.toString() });
  await migrator.connect();
  await applyMigrations(poolSession(migrator));
  await migrator.end();
  const db = await openDatabase({ databaseUrl: url.toString(), poolSize: options.poolSize ?? 20 });
  return {
    ...db,
    url: url.toString(),
    close: async () => {
      await db.close();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await cleanup.end();
    },
  };
}
