// A page of transactions with each one's account (balance, holds, what may
// still be spent, mandate) costs the same, small number of SQL statements
// whether it shows 1, 10 or 100 rows: no N+1 through account, held,
// available or mandate. Statements are counted at the driver (every
// round trip, BEGIN/COMMIT included) of a database opened here with the same
// adapters and executors as src/db/open.ts.
import { randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type App } from "../../src/app.js";
import { signToken } from "../../src/auth.js";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { upsertMandate } from "../../src/billing/mandates/mandates.js";
import { authorizeUsage } from "../../src/billing/usage/holds.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { loadConfig } from "../../src/config.js";
import { applyMigrations } from "../../src/db/migrations.js";
import { pgExecutor, pgliteExecutor } from "../../src/db/executor.js";
import { pgliteSession, poolSession, type Database } from "../../src/db/open.js";
import { JWT_SECRET, SYSADMIN } from "../support/app.js";
import { testClock } from "../support/billing.js";
import { testDatabaseKind } from "../support/db.js";

/** Statements sent to the database while `counting` is on. */
const statements: string[] = [];
let counting = false;
const record = (sql: unknown) => {
  if (counting) statements.push(typeof sql === "string" ? sql : String((sql as { text?: string })?.text ?? sql));
};

/** In-memory PGlite whose query/exec/transaction (and the transaction's own query/exec) are counted. */
async function countedPglite(): Promise<Database> {
  const pglite = await PGlite.create("memory://");
  await applyMigrations(pgliteSession(pglite));
  const query = pglite.query.bind(pglite);
  const exec = pglite.exec.bind(pglite);
  const transaction = pglite.transaction.bind(pglite);
  pglite.query = ((sql: string, ...rest: unknown[]) => {
    record(sql);
    return (query as (...a: unknown[]) => unknown)(sql, ...rest);
  }) as typeof pglite.query;
  pglite.exec = ((sql: string, ...rest: unknown[]) => {
    record(sql);
    return (exec as (...a: unknown[]) => unknown)(sql, ...rest);
  }) as typeof pglite.exec;
  pglite.transaction = (async (callback: (tx: any) => Promise<unknown>) => {
    record("BEGIN");
    try {
      return await transaction(async (tx) => {
        const txQuery = tx.query;
        const txExec = tx.exec;
        tx.query = ((sql: string, ...rest: unknown[]) => {
          record(sql);
          return (txQuery as (...a: unknown[]) => unknown)(sql, ...rest);
        }) as typeof tx.query;
        tx.exec = ((sql: string, ...rest: unknown[]) => {
          record(sql);
          return (txExec as (...a: unknown[]) => unknown)(sql, ...rest);
        }) as typeof tx.exec;
        return callback(tx);
      });
    } finally {
      record("COMMIT/ROLLBACK");
    }
  }) as typeof pglite.transaction;
  const adapter = new PrismaPGlite(pglite) as unknown as NonNullable<Prisma.PrismaClientOptions["adapter"]>;
  const prisma = new PrismaClient({ adapter });
  return {
    sql: pgliteExecutor(pglite),
    prisma,
    kind: "pglite",
    ping: async () => void (await query("SELECT 1")),
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

/**
 * A new PostgreSQL database on TEST_DATABASE_URL's server. pg.Pool.query
 * itself goes through pool.connect and client.query, so counting the
 * queries of every client the pool hands out counts every statement once.
 */
async function countedPostgres(): Promise<Database> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error("SALDO_TEST_DB=postgres needs TEST_DATABASE_URL");
  const name = `saldo_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  // Dropping the database at the end terminates the idle connections: expected, not an error.
  pool.on("error", () => undefined);
  await applyMigrations(poolSession(pool));

  const instrumented = new WeakSet<object>();
  const instrument = (client: pg.PoolClient | undefined) => {
    if (!client || instrumented.has(client)) return;
    instrumented.add(client);
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    client.query = ((sql: unknown, ...rest: unknown[]) => {
      record(sql);
      return query(sql, ...rest);
    }) as typeof client.query;
  };
  const connect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
  pool.connect = ((callback?: (err: Error | undefined, client?: pg.PoolClient, done?: unknown) => void) => {
    if (callback) {
      return connect((err: Error | undefined, client?: pg.PoolClient, done?: unknown) => {
        instrument(client);
        callback(err, client, done);
      });
    }
    return (connect() as Promise<pg.PoolClient>).then((client) => {
      instrument(client);
      return client;
    });
  }) as typeof pool.connect;

  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    sql: pgExecutor(pool),
    prisma,
    kind: "postgres",
    ping: async () => void (await pool.query("SELECT 1")),
    close: async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => undefined);
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

const PAGE = `query($mandateId: ID!, $first: Int!) {
  transactions(mandateId: $mandateId, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id transactionType amount delta balanceAfter createdAt createdByUserId
        account { id balance held available mandate { id name } }
      }
    }
  }
}`;

const USERS = ["u1", "u2", "u3"];
const MANDATE = "query-count";

let database: Database;
let app: App;

async function gql(query: string, variables: Record<string, unknown>) {
  const token = await signToken(SYSADMIN, JWT_SECRET);
  const response = await app.yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: { message: string }[] };
}

/** Runs one request and returns its result and the statements it sent. */
async function counted(first: number) {
  statements.length = 0;
  counting = true;
  try {
    const result = await gql(PAGE, { mandateId: MANDATE, first });
    return { result, statements: [...statements] };
  } finally {
    counting = false;
  }
}

beforeAll(async () => {
  database = testDatabaseKind === "postgres" ? await countedPostgres() : await countedPglite();
  const clock = testClock("2025-03-01T09:00:00Z");
  app = await createApp(loadConfig({ JWT_SECRET }), { database, now: clock.now });
  // PREPAY_USER: one account per user. Each user's account opens with the
  // initial credit; then credits and usages, round-robin over the 3 accounts:
  // 3 + 3 * 33 = 102 transactions.
  await upsertMandate(app.billing, { id: MANDATE, name: "Query count", billingModel: "PREPAY_USER" });
  for (let i = 0; i < 33; i++) {
    for (const userId of USERS) {
      clock.advance(1000);
      const idempotencyKey = `qc-${userId}-${i}`;
      if (i % 3 === 0) {
        await creditAccount(app.billing, { mandateId: MANDATE, userId, amount: "20", description: "top-up", idempotencyKey });
      } else {
        await recordUsage(app.billing, {
          mandateId: MANDATE,
          userId,
          provider: "anthropic",
          model: "claude-haiku-4-5",
          cost: "0.25",
          idempotencyKey,
        });
      }
    }
  }
  // A live hold on every account, so `held` and `available` have work to do.
  for (const userId of USERS) {
    await authorizeUsage(app.billing, {
      mandateId: MANDATE,
      userId,
      provider: "anthropic",
      model: "claude-haiku-4-5",
      estimatedCost: "0.5",
      idempotencyKey: `qc-hold-${userId}`,
    });
  }
}, 120_000);

afterAll(async () => {
  await app?.close();
  await database?.close();
});

describe("query count", () => {
  it("a page of 100 transactions with their accounts costs as many statements as a page of 10 (or 1)", async () => {
    // Warm up (first use of the client, schema caches), then measure.
    const warm = await gql(PAGE, { mandateId: MANDATE, first: 10 });
    expect(warm.errors).toBeUndefined();

    const one = await counted(1);
    const ten = await counted(10);
    const hundred = await counted(100);
    for (const run of [one, ten, hundred]) expect(run.result.errors, JSON.stringify(run.result.errors)).toBeUndefined();

    const page = hundred.result.data.transactions;
    expect(page.totalCount).toBe(102);
    expect(page.edges).toHaveLength(100);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const accounts = new Set(page.edges.map((e: any) => e.node.account.id));
    expect(accounts.size).toBe(USERS.length);
    for (const edge of page.edges) {
      expect(edge.node.account).toMatchObject({ held: "0.500000", mandate: { id: MANDATE, name: "Query count" } });
    }
    expect(ten.result.data.transactions.edges).toHaveLength(10);
    expect(one.result.data.transactions.edges).toHaveLength(1);

    console.log(
      `[query-count] ${database.kind}: first:1 -> ${one.statements.length}, first:10 -> ${ten.statements.length}, ` +
        `first:100 -> ${hundred.statements.length} statements\n` +
        hundred.statements.map((sql, i) => `  ${i + 1}. ${sql.replace(/\s+/g, " ").slice(0, 160)}`).join("\n"),
    );
    expect(hundred.statements.length).toBeGreaterThan(0);
    expect(hundred.statements.length).toBe(ten.statements.length);
    expect(ten.statements.length).toBe(one.statements.length);
    expect(hundred.statements.length).toBeLessThanOrEqual(12);
  });
});
