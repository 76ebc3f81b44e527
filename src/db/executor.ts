// Raw SQL transactions over the same connections Prisma uses: the billing
// domain moves money through them, because Prisma's per-call CPU cost and
// round trips made the ledger's hot path many times slower than the database
// itself. One executor per opened database (open.ts): PostgreSQL (pg) or the
// embedded PGlite, plus Prisma's own transactions for a client opened
// elsewhere (same semantics, only slower).
import type { PGlite } from "@electric-sql/pglite";
import type { Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { literal, rawSql, sql, joinSql, type Sql, type SqlRow } from "./sql.js";

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

/** A write, or a function called at COMMIT that returns one (or null: nothing to write). */
export type DeferredWrite = Sql | (() => Sql | null);

/** The deferred writes of a transaction as one statement (null when there are none). */
function deferredStatement(writes: DeferredWrite[]): Sql | null {
  const statements = writes.map((write) => (typeof write === "function" ? write() : write)).filter((s): s is Sql => s !== null);
  if (statements.length <= 1) return statements[0] ?? null;
  const parts = statements.map((statement, i) => sql`${rawSql(`w${i + 1}`)} AS (${statement})`);
  return sql`WITH ${joinSql(parts, ",\n")}\nSELECT ${rawSql(String(statements.length))} AS "writes"`;
}

export interface TransactionOptions {
  /**
   * Every statement finds rows by key (the money moves): plan index lookups
   * only. Those statements are prepared once per connection, and a generic
   * plan made while a table was small, with a JSON input the planner guesses
   * at 100 rows, hash-joined a scan of the whole table (every settle's
   * UPDATE of its one hold read every hold ever made, slower as the ledger
   * grew). Without hash and merge joins and sequential scans the plans are
   * the index lookups the statements are written for, at any size.
   * PostgreSQL only; statistics and rebuilds keep the planner's defaults.
   */
  keyLookups?: boolean;
}

export interface SqlExecutor {
  /** Runs `work` in one transaction: committed when it resolves, rolled back (nothing written) when it throws. */
  transaction<T>(work: (t: SqlTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs one read-only statement outside any transaction (one round trip) and returns its rows. */
  read(statement: Sql): Promise<SqlRow[]>;
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
export function pgExecutor(pool: pg.Pool, limits: string[] = []): SqlExecutor {
  const begin = ["BEGIN", ...limits];
  const beginKeyLookups = [
    ...begin,
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL enable_mergejoin = off",
    "SET LOCAL enable_seqscan = off",
  ];
  return {
    async read(statement) {
      // The extended protocol: pg prepares a named statement once per
      // connection (its own names, apart from the PREPAREd ones of transactions).
      const name = statementName(statement);
      const result = await pool.query({
        ...(name ? { name: `read_${name}` } : {}),
        text: statement.text,
        values: [...statement.values],
        types: PG_TYPES,
      });
      return result.rows as SqlRow[];
    },
    async transaction(work, options) {
      const client = await pool.connect();
      // pg-pool takes its idle 'error' listener off a client it hands out: a
      // connection PostgreSQL terminates while we hold it (57P01 on a
      // restart) would be an unhandled 'error' event and end the process.
      // Keep the error instead; the next step fails with it, and the client
      // is released with it, so the pool discards the connection.
      let broken: Error | undefined;
      const onError = (error: Error) => void (broken ??= error);
      client.on("error", onError);
      const release = (error?: Error) => {
        client.off("error", onError);
        client.release(error ?? broken);
      };
      const prepared = preparedOn.get(client) ?? new Set<string>();
      preparedOn.set(client, prepared);
      let begun = false;
      let preparing = false;
      const pending: DeferredWrite[] = [];
      const send = async (statements: Sql[], commit = false): Promise<SqlRow[][]> => {
        const script = begun ? [] : [...(options?.keyLookups ? beginKeyLookups : begin)];
        const fresh = new Set<string>();
        const positions = statements.map((statement) => {
          const name = statementName(statement);
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
        release();
        return value;
      } catch (error) {
        // A failed step that was preparing statements may have prepared some
        // of them (PREPARE outlives a rollback): forget the connection rather
        // than guess which.
        const clean =
          !broken &&
          !preparing &&
          (!begun ||
            (await client.query("ROLLBACK").then(
              () => true,
              () => false,
            )));
        release(clean ? undefined : (error as Error));
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

function statementName(statement: Sql): string | undefined {
  if (statement.planEachTime) return undefined;
  const text = statement.text;
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
export function pgliteExecutor(pglite: PGlite): SqlExecutor {
  return {
    read: async (s) =>
      (await pglite.query<SqlRow>(s.text, [...s.values], { parsers: PGLITE_PARSERS, paramTypes: s.values.map(() => TEXT) })).rows,
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
        const value = await work({
          query: (...statements) => send(statements),
          defer: (...statements) => void pending.push(...statements),
        });
        const writes = deferredStatement(pending);
        if (writes) await send([writes]);
        return value; // pglite.transaction commits, or rolls back on a throw
      }),
  };
}

/** The same statements through a Prisma interactive transaction, one call per statement. */
function prismaSqlTransaction(tx: Prisma.TransactionClient): SqlTransaction & { flush(): Promise<void> } {
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

/** For a Prisma client not opened by openDatabase (a script's own, a test's wrapper): Prisma's interactive transactions. */
export function prismaExecutor(prisma: PrismaClient): SqlExecutor {
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
  return hasSqlState(error, ["23505"]);
}

/** A lock waited for longer than lock_timeout (55P03), or a statement outlived statement_timeout (57014). */
export function isLockTimeout(error: unknown): boolean {
  return hasSqlState(error, ["55P03", "57014"]);
}

function hasSqlState(error: unknown, codes: string[]): boolean {
  const e = error as { code?: unknown; meta?: { code?: unknown }; cause?: unknown } | null;
  const code = e?.code ?? e?.meta?.code;
  return (typeof code === "string" && codes.includes(code)) || (e?.cause !== undefined && e.cause !== error && hasSqlState(e.cause, codes));
}
