// One Prisma client over one of two databases: PostgreSQL when DATABASE_URL
// is set (adapter-pg), otherwise the embedded PGlite in a data directory
// (pglite-prisma-adapter). Both use the same schema and migrations.
//
// Next to Prisma, each opened database has a small raw SQL executor over the
// same connections (see "Raw SQL" below): the billing domain moves money
// through it, because Prisma's per-call CPU cost and round trips made the
// ledger's hot path many times slower than the database itself.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import lockfile from "proper-lockfile";
import { applyMigrations, migrationStatus, type SqlSession } from "./db/migrations.js";
import { seedFromTemplate } from "./db/template.js";
import { log } from "./log.js";

export type Db = PrismaClient;

export interface Database {
  prisma: PrismaClient;
  kind: "postgres" | "pglite";
  /** Raw SQL transactions over Prisma's own connections (also found with sqlExecutorFor(prisma)). */
  sql: SqlExecutor;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** PGlite data directory, or "memory://" for a throwaway in-memory database. */
  dataDir?: string;
  poolSize?: number;
}

/** Raised when the database cannot be opened; the message says what to do. */
export class DatabaseOpenError extends Error {}

// Money moves lock one account row and may wait behind other writers of the
// same account: wait longer than Prisma's 2 s default before giving up.
const TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 60_000 };
const PGLITE_OPEN_TIMEOUT_MS = 60_000;
// PostgreSQL's default buffer cache (128 MB) lives in the server process's
// memory here, and is touched as it fills: 16 MB keeps the embedded server
// about 190 MB smaller after load (bench/startup.ts), with no loss of
// throughput measured; the operating system caches the files anyway.
const PGLITE_SETTINGS = ["shared_buffers = 16MB"];

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolSize ?? 10)
    : openPglite(options.dataDir ?? "./data");
}

async function openPostgres(databaseUrl: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  pool.on("error", (error) => log.error({ module: "db" }, `idle PostgreSQL connection failed: ${error.message}`));
  try {
    const { pending } = await migrationStatus(poolSession(pool));
    if (pending.length > 0) {
      throw new DatabaseOpenError(
        `PostgreSQL at ${redact(databaseUrl)} lacks ${pending.length} migration(s) (${pending.map((m) => m.name).join(", ")}). ` +
          `Apply them with: DATABASE_URL=... npm run db:migrate`,
      );
    }
  } catch (error) {
    await pool.end();
    if (error instanceof DatabaseOpenError) throw error;
    throw new DatabaseOpenError(`Cannot use PostgreSQL at ${redact(databaseUrl)}: ${(error as Error).message}`);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: TRANSACTION_OPTIONS });
  const sql = registerSqlExecutor(prisma, pgExecutor(pool));
  return {
    prisma,
    kind: "postgres",
    sql,
    ping: async () => void (await pool.query("SELECT 1")),
    close: async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => undefined);
    },
  };
}

export function poolSession(pool: pg.Pool | pg.Client): SqlSession {
  return {
    exec: (sql) => pool.query(sql),
    query: async <T>(sql: string, params?: unknown[]) => ({ rows: (await pool.query(sql, params)).rows as T[] }),
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  const release = inMemory ? async () => undefined : await lockDataDir(dataDir);
  let pglite: PGlite | undefined;
  try {
    // A fresh data directory starts as a copy of the template npm install made (src/db/template.ts), if any.
    if (!inMemory && seedFromTemplate(path.resolve(dataDir))) log.info({ module: "db" }, `new embedded database in ${dataDir}, from the template`);
    pglite = await withTimeout(
      PGlite.create(inMemory ? dataDir : path.resolve(dataDir), inMemory ? {} : { postgresqlconf: PGLITE_SETTINGS }),
      PGLITE_OPEN_TIMEOUT_MS,
      "opening the embedded database took too long",
    );
    await applyMigrations(pgliteSession(pglite));
  } catch (error) {
    await pglite?.close().catch(() => undefined);
    await release();
    if (inMemory) throw error;
    throw new DatabaseOpenError(
      `The embedded database in ${dataDir} could not be opened (${(error as Error).message}). ` +
        `If a crash left it broken, move it aside (mv ${dataDir} ${dataDir}.broken) or delete it (rm -rf ${dataDir}) ` +
        `to start with an empty database, or set SALDO_DATA_DIR to another folder.`,
    );
  }
  const db = pglite;
  // pglite-prisma-adapter 0.6 is typed against driver-adapter-utils 6.10; the
  // wire contract it implements is the one Prisma 6.19 uses (tests cover it).
  const adapter = new PrismaPGlite(db) as unknown as NonNullable<Prisma.PrismaClientOptions["adapter"]>;
  const prisma = new PrismaClient({ adapter, transactionOptions: TRANSACTION_OPTIONS });
  const sql = registerSqlExecutor(prisma, pgliteExecutor(db));
  return {
    prisma,
    kind: "pglite",
    sql,
    ping: async () => void (await db.query("SELECT 1")),
    close: async () => {
      await prisma.$disconnect();
      await db.close();
      await release();
    },
  };
}

export function pgliteSession(pglite: PGlite): SqlSession {
  return {
    exec: (sql) => pglite.exec(sql),
    query: async <T>(sql: string, params?: unknown[]) => ({ rows: (await pglite.query<T>(sql, params)).rows }),
  };
}

/**
 * PGlite is one process's database: a second process on the same folder would
 * corrupt it. A lock beside the folder (refreshed while we run, stale after a
 * crash) turns that into a clear error instead.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  try {
    return await lockfile.lock(dir, {
      lockfilePath: `${dir}.lock`,
      stale: 10_000,
      update: 2_000,
      onCompromised: (error) => log.error({ module: "db" }, `lost the lock on ${dataDir}: ${error.message}`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") {
      throw new DatabaseOpenError(
        `The data directory ${dataDir} is in use by another Saldo process (lock ${dir}.lock). ` +
          `Stop that process, or point SALDO_DATA_DIR at another folder. If no other process runs, ` +
          `the lock is left from a crash and expires within 10 seconds.`,
      );
    }
    throw error;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------ Raw SQL

/**
 * A value sent to SQL: text or NULL. Statements cast each one ($1::numeric,
 * $2::timestamp(3), ...), so every transport reads it the same way; money is
 * passed as its decimal text, never as a JavaScript number.
 */
export type SqlValue = string | null;
export type SqlRow = Record<string, unknown>;

/** A statement, or a fragment of one: text around placeholders, and their values. Build it with `sql`. */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly SqlValue[],
  ) {}

  #text: string | undefined;

  /** The text with $1..$n placeholders. */
  get text(): string {
    this.#text ??= this.strings.reduce((text, part, i) => `${text}$${i}${part}`);
    return this.#text;
  }

  /** The text with every value written in as a quoted literal. */
  inline(): string {
    return this.strings.reduce((text, part, i) => `${text}${literal(this.values[i - 1])}${part}`);
  }
}

/**
 * A value as an SQL literal, for the simple query protocol, which carries no
 * parameters: pg's escapeLiteral (a port of libpq's PQescapeLiteral) on text,
 * NULL for null. Values are only ever text (see SqlValue).
 */
function literal(value: SqlValue | undefined): string {
  if (value === null) return "NULL";
  if (typeof value !== "string") throw new Error(`SQL values are text or null, got ${typeof value}`);
  // PostgreSQL text cannot hold NUL, and the protocol would end the query text there.
  if (value.includes("\0")) throw new Error("SQL text values must not contain NUL characters");
  // Without a quote or a backslash escapeLiteral only adds the quotes; its
  // character loop is measurable on the debit path (ids, hashes, amounts).
  return NEEDS_ESCAPING.test(value) ? pg.escapeLiteral(value) : `'${value}'`;
}

const NEEDS_ESCAPING = /['\\]/;

/** Tagged template: sql`SELECT ... WHERE "id" = ${id}::text`; a nested Sql is spliced in with its values. */
export function sql(strings: TemplateStringsArray, ...args: (SqlValue | Sql)[]): Sql {
  const out = { strings: [strings[0]], values: [] as SqlValue[] };
  args.forEach((arg, i) => {
    splice(out, arg instanceof Sql ? arg : new Sql(["", ""], [arg]));
    out.strings[out.strings.length - 1] += strings[i + 1];
  });
  return new Sql(out.strings, out.values);
}

/** Text taken as it is: only ever SQL written in this code base, never a value. */
export function rawSql(text: string): Sql {
  return new Sql([text], []);
}

/** Fragments joined by a separator, e.g. the rows of a VALUES list. */
export function joinSql(fragments: readonly Sql[], separator: string): Sql {
  const out = { strings: [""], values: [] as SqlValue[] };
  fragments.forEach((fragment, i) => {
    if (i > 0) out.strings[out.strings.length - 1] += separator;
    splice(out, fragment);
  });
  return new Sql(out.strings, out.values);
}

function splice(out: { strings: string[]; values: SqlValue[] }, fragment: Sql) {
  out.strings[out.strings.length - 1] += fragment.strings[0];
  out.strings.push(...fragment.strings.slice(1));
  out.values.push(...fragment.values);
}

/** One database transaction of raw SQL. */
export interface SqlTransaction {
  /** Runs the statements in order (on PostgreSQL in one round trip) and returns the rows of each. */
  query(...statements: Sql[]): Promise<SqlRow[][]>;
  /**
   * Queues writes whose rows nobody reads (the writes of a money move). At
   * COMMIT they become one statement, each a data-modifying WITH query, sent
   * in COMMIT's round trip; a function is called then, so it can write the
   * final state of something. They all see the database as it was before any
   * of them ran, so no two of them may change the same row. An error in one
   * fails the transaction like any other.
   */
  defer(...writes: DeferredWrite[]): void;
}

export type DeferredWrite = Sql | (() => Sql);

/** The deferred writes of a transaction as one statement (null when there are none). */
function deferredStatement(writes: DeferredWrite[]): Sql | null {
  const statements = writes.map((write) => (typeof write === "function" ? write() : write));
  if (statements.length <= 1) return statements[0] ?? null;
  const parts = statements.map((statement, i) => sql`${rawSql(`w${i + 1}`)} AS (${statement})`);
  return sql`WITH ${joinSql(parts, ",\n")}\nSELECT ${rawSql(String(statements.length))} AS "writes"`;
}

export interface SqlExecutor {
  /** Runs `work` in one transaction: committed when it resolves, rolled back (nothing written) when it throws. */
  transaction<T>(work: (t: SqlTransaction) => Promise<T>): Promise<T>;
  /** Runs one read-only statement outside any transaction (one round trip) and returns its rows. */
  read(statement: Sql): Promise<SqlRow[]>;
}

const executors = new WeakMap<object, SqlExecutor>();

function registerSqlExecutor(prisma: PrismaClient, executor: SqlExecutor): SqlExecutor {
  executors.set(prisma, executor);
  return executor;
}

/**
 * The raw SQL executor of a client opened by openDatabase. Any other client
 * (a script's own, or a test's wrapper around one) gets the same statements
 * run through Prisma's interactive transactions: the same semantics, only
 * slower.
 */
export function sqlExecutorFor(prisma: PrismaClient): SqlExecutor {
  const executor = executors.get(prisma);
  if (executor) return executor;
  if (typeof (prisma as Partial<PrismaClient> | null)?.$transaction !== "function") {
    throw new Error("sqlExecutorFor needs a PrismaClient (open it with openDatabase for the fast path)");
  }
  return prismaExecutor(prisma);
}

// Column types as the money code expects them on every transport: numeric and
// int8 as exact text (never a JavaScript number), timestamp (without time
// zone, holding UTC as Prisma writes it) as a Date in UTC whatever the
// process's time zone.
const NUMERIC = 1700;
const INT8 = 20;
const TIMESTAMP = 1114;
const asText = (value: string) => value;
const utcTimestamp = (value: string) => new Date(`${value.replace(" ", "T")}Z`);

const PG_TYPES = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === NUMERIC || oid === INT8) return asText;
    if (oid === TIMESTAMP) return utcTimestamp;
    return pg.types.getTypeParser(oid, format ?? "text");
  },
} as pg.CustomTypesConfig;

/**
 * PostgreSQL: a client checked out of the pool Prisma uses, for the whole
 * transaction. Each step is one simple-protocol message: one round trip and
 * one reply however many statements it holds (BEGIN rides with the first
 * step, COMMIT with the deferred writes). The server still runs them one
 * after another, each with its own snapshot, so what is read after a row
 * lock in the same step sees what the previous holder of the lock committed.
 *
 * Statements in repeated use are prepared once per connection (PREPARE) and
 * run with EXECUTE, so PostgreSQL parses and plans them once (see
 * statementName). The simple protocol carries no parameters, so values are
 * written as quoted literals (see literal); the statements cast each one.
 */
function pgExecutor(pool: pg.Pool): SqlExecutor {
  return {
    async read(statement) {
      // The extended protocol: pg prepares a named statement once per
      // connection (its own names, apart from the PREPAREd ones of transactions).
      const name = statementName(statement.text);
      const result = await pool.query({ ...(name ? { name: `read_${name}` } : {}), text: statement.text, values: [...statement.values], types: PG_TYPES });
      return result.rows as SqlRow[];
    },
    async transaction(work) {
      const client = await pool.connect();
      const prepared = preparedOn.get(client) ?? new Set<string>();
      preparedOn.set(client, prepared);
      let begun = false;
      let preparing = false;
      const pending: DeferredWrite[] = [];
      const send = async (statements: Sql[], commit = false): Promise<SqlRow[][]> => {
        const script = begun ? [] : ["BEGIN"];
        const fresh = new Set<string>();
        const positions = statements.map((statement) => {
          const name = statementName(statement.text);
          if (!name) return script.push(statement.inline()) - 1; // not (yet) prepared: sent as it is
          if (!prepared.has(name) && !fresh.has(name)) {
            script.push(`PREPARE ${name} AS ${statement.text}`);
            fresh.add(name);
          }
          const args = statement.values.length > 0 ? `(${statement.values.map(literal).join(", ")})` : "";
          return script.push(`EXECUTE ${name}${args}`) - 1;
        });
        if (commit) script.push("COMMIT");
        begun = true;
        preparing = fresh.size > 0;
        const result = (await client.query({ text: script.join(";\n"), types: PG_TYPES })) as pg.QueryResult | pg.QueryResult[];
        preparing = false;
        fresh.forEach((name) => prepared.add(name));
        const results = Array.isArray(result) ? result : [result];
        // COMMIT of a transaction that failed earlier answers ROLLBACK instead of an error.
        if (commit && results.at(-1)?.command !== "COMMIT") throw new Error("The transaction was rolled back instead of committed");
        return positions.map((i) => results[i].rows as SqlRow[]);
      };
      try {
        const value = await work({ query: (...statements) => send(statements), defer: (...writes) => void pending.push(...writes) });
        const writes = deferredStatement(pending);
        if (begun || writes) await send(writes ? [writes] : [], true);
        client.release();
        return value;
      } catch (error) {
        // A failed step that was preparing statements may have prepared some
        // of them (PREPARE outlives a rollback): forget the connection rather
        // than guess which.
        const clean = !preparing && (!begun || (await client.query("ROLLBACK").then(() => true, () => false)));
        client.release(clean ? undefined : (error as Error));
        throw error;
      }
    },
  };
}

/** The statements each pooled connection has prepared. */
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();

// A statement is prepared from its second use on: the ledger's few fixed
// statements get a plan cached on each connection, while one-off statements
// (say, a rebuild's VALUES list of some length) are simply sent, inlined,
// and leave nothing behind. One name per text, the same on every connection.
const statementNames = new Map<string, string>();
const seenOnce = new Set<string>();
const MAX_STATEMENT_NAMES = 500;

function statementName(text: string): string | undefined {
  const name = statementNames.get(text);
  if (name) return name;
  if (!seenOnce.has(text)) {
    if (seenOnce.size >= 2 * MAX_STATEMENT_NAMES) seenOnce.clear();
    seenOnce.add(text);
    return undefined;
  }
  seenOnce.delete(text);
  if (statementNames.size >= MAX_STATEMENT_NAMES) return undefined;
  const named = `saldo_${statementNames.size + 1}`;
  statementNames.set(text, named);
  return named;
}

const TEXT = 25;
const PGLITE_PARSERS = { [NUMERIC]: asText, [INT8]: asText, [TIMESTAMP]: utcTimestamp };

/**
 * PGlite: one connection. pglite.transaction holds the same mutex that
 * pglite-prisma-adapter's transactions and plain queries wait for, so Prisma's
 * work runs before or after ours, never inside. Work inside must therefore
 * never wait for a Prisma query (it would wait forever). Values are declared
 * as text, so they reach the statement's casts exactly as given.
 */
function pgliteExecutor(pglite: PGlite): SqlExecutor {
  return {
    read: async (s) => (await pglite.query<SqlRow>(s.text, [...s.values], { parsers: PGLITE_PARSERS, paramTypes: s.values.map(() => TEXT) })).rows,
    transaction: (work) =>
      pglite.transaction(async (tx) => {
        const pending: DeferredWrite[] = [];
        const send = async (statements: Sql[]): Promise<SqlRow[][]> => {
          const rows: SqlRow[][] = [];
          for (const s of statements) {
            const options = { parsers: PGLITE_PARSERS, paramTypes: s.values.map(() => TEXT) };
            rows.push((await tx.query<SqlRow>(s.text, [...s.values], options)).rows);
          }
          return rows;
        };
        const value = await work({ query: (...statements) => send(statements), defer: (...statements) => void pending.push(...statements) });
        const writes = deferredStatement(pending);
        if (writes) await send([writes]);
        return value; // pglite.transaction commits, or rolls back on a throw
      }),
  };
}

/** The same statements through a Prisma interactive transaction, one call per statement. */
export function prismaSqlTransaction(tx: Prisma.TransactionClient): SqlTransaction & { flush(): Promise<void> } {
  const pending: DeferredWrite[] = [];
  const run = async (statements: Sql[]) => {
    const rows: SqlRow[][] = [];
    for (const statement of statements) rows.push(await tx.$queryRawUnsafe<SqlRow[]>(statement.text, ...statement.values));
    return rows;
  };
  return {
    query: (...statements) => run(statements),
    defer: (...statements) => void pending.push(...statements),
    flush: async () => {
      const writes = deferredStatement(pending.splice(0));
      if (writes) await run([writes]);
    },
  };
}

function prismaExecutor(prisma: PrismaClient): SqlExecutor {
  return {
    read: (statement) => prisma.$queryRawUnsafe<SqlRow[]>(statement.text, ...statement.values),
    transaction: (work) =>
      prisma.$transaction(async (tx) => {
        const t = prismaSqlTransaction(tx);
        const value = await work(t);
        await t.flush();
        return value;
      }),
  };
}

/** A unique index refused a row (SQLSTATE 23505), through any of the transports. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; meta?: { code?: unknown }; cause?: unknown } | null;
  return e?.code === "23505" || e?.meta?.code === "23505" || (e?.cause !== undefined && e.cause !== error && isUniqueViolation(e.cause));
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
