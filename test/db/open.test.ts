// The bounds on waiting that openDatabase sets on PostgreSQL (issue 13 item
// 3): lock_timeout and statement_timeout on each money (raw SQL)
// transaction, and a pool checkout timeout. Each failure is one a client sees
// as SERVICE_UNAVAILABLE. (PGlite has one connection and no lock waits.)
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { sql } from "../../src/db/sql.js";
import { unavailableDependency } from "../../src/unavailable.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../support/db.js";

describe.runIf(testDatabaseKind === "postgres")("waiting limits on PostgreSQL", () => {
  let test: TestDatabase;
  let db: Database;
  let other: pg.Client;

  beforeAll(async () => {
    test = await createTestDatabase();
    db = await openDatabase({ databaseUrl: test.url, poolSize: 2, lockTimeoutMs: 300, statementTimeoutMs: 1_000, poolTimeoutMs: 500 });
    other = new pg.Client({ connectionString: test.url });
    await other.connect();
    await other.query(`CREATE TABLE waiting_probe (id int PRIMARY KEY)`);
    await other.query(`INSERT INTO waiting_probe VALUES (1)`);
  });

  afterAll(async () => {
    await other?.end();
    await db?.close();
    await test?.close();
  });

  it("gives up on a row lock after lock_timeout, with SQLSTATE 55P03", async () => {
    await other.query("BEGIN");
    await other.query("SELECT 1 FROM waiting_probe WHERE id = 1 FOR UPDATE");
    try {
      const error = await db.sql.transaction((t) => t.query(sql`SELECT 1 FROM waiting_probe WHERE id = 1 FOR UPDATE`)).catch((e) => e);
      expect(error).toMatchObject({ code: "55P03" });
      expect(unavailableDependency(error)).toBe("database");
    } finally {
      await other.query("ROLLBACK");
    }
    // The connection is clean afterwards: the next transaction on the pool works.
    expect(await db.sql.transaction((t) => t.query(sql`SELECT 1 FROM waiting_probe WHERE id = 1 FOR UPDATE`))).toHaveLength(1);
  });

  it("cancels a statement after statement_timeout, with SQLSTATE 57014", async () => {
    const error = await db.sql.transaction((t) => t.query(sql`SELECT pg_sleep(3)`)).catch((e) => e);
    expect(error).toMatchObject({ code: "57014" });
    expect(unavailableDependency(error)).toBe("database");
  });

  it("limits only money transactions, not Prisma's own queries", async () => {
    const [setting] = await db.prisma.$queryRawUnsafe<{ statement_timeout: string }[]>("SHOW statement_timeout");
    expect(setting.statement_timeout).toBe("0");
  });

  it("stops waiting for a pooled connection after the pool timeout", async () => {
    // Both connections busy for 0.8 s: a third transaction waits at most 500 ms.
    const busy = [0, 1].map(() => db.sql.transaction(async (t) => t.query(sql`SELECT pg_sleep(0.8)`)));
    const started = Date.now();
    const error = await db.sql.transaction((t) => t.query(sql`SELECT 1`)).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(800);
    expect(error).toBeInstanceOf(Error);
    expect(unavailableDependency(error)).toBe("database");
    await Promise.all(busy);
  });
});
