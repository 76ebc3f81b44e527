// The raw SQL executor the money paths run on (src/db/executor.ts): the same contract
// on PGlite, on PostgreSQL (simple protocol, prepared statements, values as
// quoted literals) and through Prisma (the fallback for other clients).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "@prisma/client";
import { prismaExecutor, type SqlExecutor } from "../../src/db/executor.js";
import { joinSql, plannedEachTime, sql } from "../../src/db/sql.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../support/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.prisma.$executeRawUnsafe(
    `CREATE TABLE "ExecutorProbe" ("id" TEXT PRIMARY KEY, "note" TEXT, "amount" NUMERIC(18, 6), "at" TIMESTAMP(3))`,
  );
});
afterAll(async () => {
  await db?.close();
});

/** The database's own executor, or the Prisma fallback a client opened elsewhere gets. */
const TRANSPORTS = ["registered", "fallback"] as const;
function executor(transport: (typeof TRANSPORTS)[number]): SqlExecutor {
  return transport === "registered" ? db.sql : prismaExecutor(db.prisma);
}

const HOSTILE = [
  "it's",
  "back\\slash and \\' quote",
  '\'); DELETE FROM "ExecutorProbe"; --',
  "$1 $$ dollar $tag$ quoting",
  "semi; colon\nnew line\ttab",
  "Zürich ✓ 日本語 🙂",
  "",
];

describe("the raw SQL executor", () => {
  it.each(TRANSPORTS)("returns numeric columns as exact decimal text and timestamps as UTC Dates (%s)", async (transport) => {
    const [[row]] = await executor(transport).transaction((t) =>
      t.query(sql`SELECT ${"0.1"}::numeric(18, 6) + ${"0.2"}::numeric(18, 6) AS "sum",
                         ${"123456789012.123456"}::numeric(18, 6) AS "big",
                         ${"2026-03-29T00:59:59.999Z"}::timestamp(3) AS "at"`),
    );
    const text = (value: unknown) => (value instanceof Prisma.Decimal ? value.toFixed(6) : value);
    expect(typeof row.sum === "number").toBe(false);
    expect(text(row.sum)).toBe("0.300000");
    expect(text(row.big)).toBe("123456789012.123456");
    expect(row.at).toEqual(new Date("2026-03-29T00:59:59.999Z"));
  });

  it.each(TRANSPORTS)("passes any text through unchanged, quotes, backslashes and all (%s)", async (name) => {
    const ids = HOSTILE.map((_, i) => `${name}-${i}`);
    await executor(name).transaction(async (t) => {
      HOSTILE.forEach((note, i) => t.defer(sql`INSERT INTO "ExecutorProbe" ("id", "note") VALUES (${ids[i]}::text, ${note}::text)`));
    });
    const [rows] = await executor(name).transaction((t) =>
      t.query(sql`SELECT "id", "note" FROM "ExecutorProbe" WHERE "id" LIKE ${`${name}-%`}::text`),
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.note]))).toEqual(Object.fromEntries(ids.map((id, i) => [id, HOSTILE[i]])));
  });

  it("refuses a NUL character instead of sending it, and writes nothing", async () => {
    await expect(
      db.sql.transaction(async (t) => {
        await t.query(sql`INSERT INTO "ExecutorProbe" ("id") VALUES (${"nul-ok"}::text)`);
        await t.query(sql`INSERT INTO "ExecutorProbe" ("id", "note") VALUES (${"nul"}::text, ${"a\u0000b"}::text)`);
      }),
    ).rejects.toThrow(db.kind === "postgres" ? /NUL/ : /./);
    expect(await db.prisma.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM "ExecutorProbe" WHERE "id" LIKE 'nul%'`)).toHaveLength(0);
  });

  it.each(TRANSPORTS)("rolls back everything, run and deferred, when the work throws (%s)", async (name) => {
    await expect(
      executor(name).transaction(async (t) => {
        await t.query(sql`INSERT INTO "ExecutorProbe" ("id") VALUES (${`${name}-run`}::text)`);
        t.defer(sql`INSERT INTO "ExecutorProbe" ("id") VALUES (${`${name}-deferred`}::text)`);
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    const [rows] = await executor(name).transaction((t) =>
      t.query(sql`SELECT "id" FROM "ExecutorProbe" WHERE "id" IN (${`${name}-run`}::text, ${`${name}-deferred`}::text)`),
    );
    expect(rows).toEqual([]);
  });

  it.each(TRANSPORTS)("commits deferred writes together, as one statement, and fails them together (%s)", async (name) => {
    await executor(name).transaction(async (t) => {
      t.defer(
        sql`INSERT INTO "ExecutorProbe" ("id", "amount") VALUES (${`${name}-deferred-a`}::text, ${"1.000001"}::numeric)`,
        () => sql`INSERT INTO "ExecutorProbe" ("id", "amount") VALUES (${`${name}-deferred-b`}::text, ${"2.000002"}::numeric)`,
      );
    });
    // A duplicate key in the second write fails the first one too.
    await expect(
      executor(name).transaction(async (t) => {
        t.defer(
          sql`INSERT INTO "ExecutorProbe" ("id") VALUES (${`${name}-deferred-c`}::text)`,
          sql`INSERT INTO "ExecutorProbe" ("id") VALUES (${`${name}-deferred-a`}::text)`,
        );
      }),
    ).rejects.toThrow();
    const [rows] = await executor(name).transaction((t) =>
      t.query(sql`SELECT "id", "amount" FROM "ExecutorProbe" WHERE "id" LIKE ${`${name}-deferred-_`}::text ORDER BY "id"`),
    );
    expect(rows.map((r) => [r.id, String(r.amount)])).toEqual([
      [`${name}-deferred-a`, "1.000001"],
      [`${name}-deferred-b`, "2.000002"],
    ]);
  });

  it("keeps working after a failed step that prepared statements (the connection is replaced)", async () => {
    for (let i = 0; i < 3; i++) {
      await expect(
        db.sql.transaction((t) => t.query(sql`SELECT ${`x${i}`}::text AS "a"`, sql`SELECT 1 / (${"0"}::int - ${"0"}::int) AS "boom"`)),
      ).rejects.toThrow(/division by zero/);
      const [[row]] = await db.sql.transaction((t) => t.query(sql`SELECT ${`y${i}`}::text AS "a"`));
      expect(row.a).toBe(`y${i}`);
    }
  });

  it.runIf(testDatabaseKind === "postgres")("prepares a statement in repeated use, but never one planned each time", async () => {
    const prepared = await db.sql.transaction(async (t) => {
      for (let i = 0; i < 3; i++) {
        await t.query(sql`SELECT ${`p${i}`}::text AS "prepared_probe"`);
        await t.query(plannedEachTime(sql`SELECT ${`e${i}`}::text AS "each_time_probe"`));
      }
      const [rows] = await t.query(sql`SELECT "statement" FROM pg_prepared_statements`);
      return rows.map((row) => String(row.statement));
    });
    expect(prepared.some((text) => text.includes("prepared_probe"))).toBe(true);
    expect(prepared.some((text) => text.includes("each_time_probe"))).toBe(false);
  });

  it("keeps a statement planned each time when it is spliced into another", () => {
    const lookup = plannedEachTime(sql`t."key" = ${"k"}::text`);
    expect(sql`SELECT 1 FROM t WHERE ${lookup}`.planEachTime).toBe(true);
    expect(joinSql([sql`a`, lookup], " AND ").planEachTime).toBe(true);
    expect(sql`SELECT ${"x"}::text`.planEachTime).toBe(false);
  });

  it.runIf(testDatabaseKind === "postgres")(
    "plans key lookups only in a money transaction, and leaves the defaults elsewhere",
    async () => {
      const settings = (keyLookups?: boolean) =>
        db.sql.transaction(
          async (t) =>
            (await t.query(sql`SELECT current_setting('enable_hashjoin') AS "hash", current_setting('enable_seqscan') AS "seq"`))[0][0],
          keyLookups ? { keyLookups } : undefined,
        );
      expect(await settings(true)).toEqual({ hash: "off", seq: "off" });
      expect(await settings()).toEqual({ hash: "on", seq: "on" });
      // SET LOCAL ends with its transaction: the pool's next user has the defaults.
      expect(await db.prisma.$queryRawUnsafe(`SELECT current_setting('enable_hashjoin') AS "hash"`)).toEqual([{ hash: "on" }]);
    },
  );
});
