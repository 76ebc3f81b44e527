// The benchmarks' own PostgreSQL database: created and migrated for one run,
// and dropped WITH (FORCE) at the end, on an error, or on Ctrl-C/SIGTERM.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { poolSession } from "../src/db/open.js";
import { applyMigrations } from "../src/db/migrations.js";

export interface FreshDatabase {
  name: string;
  url: string;
  /** True once a signal asked the run to stop. */
  readonly aborted: boolean;
  /** True once the drop has started (connection errors are expected then). */
  readonly dropping: boolean;
  /** CREATE DATABASE and apply the migrations. */
  create(): Promise<void>;
  /** Drops the database, once; safe from any exit path. */
  drop(): Promise<void>;
}

export function freshDatabase(serverUrl: string): FreshDatabase {
  const name = `saldo_bench_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let created = false;
  let aborted = false;
  let dropping: Promise<void> | undefined;

  async function adminQuery(sql: string): Promise<void> {
    const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }

  function drop(): Promise<void> {
    if (!created) return Promise.resolve();
    dropping ??= adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(
      () => console.log(`Dropped database ${name}.`),
      (error: Error) => console.error(`Could not drop database ${name}: ${error.message} (drop it by hand)`),
    );
    return dropping;
  }

  function onSignal(signal: NodeJS.Signals) {
    // One Ctrl-C often arrives twice (from the terminal and relayed by npm/tsx):
    // later signals do not cut the drop short; a timer bounds the wait instead.
    if (aborted) return;
    aborted = true;
    console.error(`\n${signal}: stopping, dropping database ${name} ...`);
    setTimeout(() => {
      console.error(`Gave up waiting for the drop: database ${name} may be left behind.`);
      process.exit(130);
    }, 20_000).unref();
    // Drop first (FORCE ends the pools' connections), then leave.
    void drop().finally(() => process.exit(130));
  }
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  return {
    name,
    url: url.toString(),
    get aborted() {
      return aborted;
    },
    get dropping() {
      return dropping !== undefined;
    },
    async create() {
      created = true; // before CREATE: a Ctrl-C during it still drops (IF EXISTS)
      try {
        await adminQuery(`CREATE DATABASE "${name}"`);
      } catch (error) {
        created = false;
        throw error;
      }
      const migrator = new pg.Client({ connectionString: url.toString() });
      await migrator.connect();
      try {
        await applyMigrations(poolSession(migrator));
      } finally {
        await migrator.end();
      }
    },
    drop,
  };
}

/** Resolves with the promise's value, or undefined after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs a benchmark's main and exits with its code: 1 on an error; the
 * connections closed and the database dropped on every path (a signal's
 * handler does both itself and exits).
 */
export async function runBenchmark(fresh: FreshDatabase, main: () => Promise<number>, closeAll: () => Promise<void>): Promise<void> {
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (error) {
    if (!fresh.aborted) console.error("Benchmark failed:", error instanceof Error ? (error.stack ?? error.message) : error);
    exitCode = 1;
  } finally {
    if (!fresh.aborted) {
      await closeAll();
      await fresh.drop();
    }
  }
  if (!fresh.aborted) process.exit(exitCode);
}
