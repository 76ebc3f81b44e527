// One Prisma client over one of two databases: PostgreSQL when DATABASE_URL
// is set (adapter-pg), otherwise the embedded PGlite in a data directory
// (pglite-prisma-adapter). Both use the same schema and migrations.
//
// Next to Prisma, each opened database has a small raw SQL executor over the
// same connections (executor.ts): the billing domain moves money through it.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import lockfile from "proper-lockfile";
import { pgExecutor, pgliteExecutor, type SqlExecutor } from "./executor.js";
import { applyMigrations, migrationStatus, type SqlSession } from "./migrations.js";
import { seedFromTemplate } from "./template.js";
import { log } from "../log.js";

export type Db = PrismaClient;

export interface Database {
  prisma: PrismaClient;
  kind: "postgres" | "pglite";
  /** Raw SQL transactions over Prisma's own connections: the money paths (executor.ts). */
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
  /** PostgreSQL: lock_timeout and statement_timeout of each raw SQL (money) transaction; unset = the server's. */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** PostgreSQL: how long to wait for a pooled connection (and to open one); unset = forever. */
  poolTimeoutMs?: number;
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
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir ?? "./data");
}

async function openPostgres(databaseUrl: string, options: DatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: options.poolTimeoutMs });
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
  // Set per money transaction, right after BEGIN: one locked or slow account
  // makes its own requests fail in time instead of holding connections.
  const limits = [
    ...(options.lockTimeoutMs !== undefined ? [`SET LOCAL lock_timeout = ${Math.trunc(options.lockTimeoutMs)}`] : []),
    ...(options.statementTimeoutMs !== undefined ? [`SET LOCAL statement_timeout = ${Math.trunc(options.statementTimeoutMs)}`] : []),
  ];
  const sql = pgExecutor(pool, limits);
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
    if (!inMemory && seedFromTemplate(path.resolve(dataDir)))
      log.info({ module: "db" }, `new embedded database in ${dataDir}, from the template`);
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
  const sql = pgliteExecutor(db);
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
 * crash) turns that into a clear error instead. Beside the lock, the owner's
 * pid and host: a lock whose owner process is gone (SIGKILL, a crash) is
 * taken at once rather than after the 10 s stale time, so a supervisor's
 * quick restart succeeds. A live owner, or one on another host (which we
 * cannot check), still keeps us out.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const lockfilePath = `${dir}.lock`;
  const ownerPath = `${lockfilePath}.owner`;
  const lock = async () => {
    const release = await lockfile.lock(dir, {
      lockfilePath,
      stale: 10_000,
      update: 2_000,
      onCompromised: (error) => log.error({ module: "db" }, `lost the lock on ${dataDir}: ${error.message}`),
    });
    writeFileSync(ownerPath, JSON.stringify({ pid: process.pid, host: hostname() }));
    dataDirsHeld.add(dir);
    return async () => {
      dataDirsHeld.delete(dir);
      rmSync(ownerPath, { force: true });
      await release();
    };
  };
  const ownerIsGone = () => {
    try {
      const owner = JSON.parse(readFileSync(ownerPath, "utf8")) as { pid: number; host: string };
      if (owner.host !== hostname() || !Number.isInteger(owner.pid)) return false;
      // Our own pid: an earlier process with the same pid (pid 1 in a restarted container), unless we hold it.
      if (owner.pid === process.pid) return !dataDirsHeld.has(dir);
      process.kill(owner.pid, 0); // throws ESRCH when no such process exists
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
  };
  try {
    try {
      return await lock();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED" || !ownerIsGone()) throw error;
      log.warn({ module: "db" }, `taking over the lock on ${dataDir}: the process that held it is gone`);
      rmSync(lockfilePath, { recursive: true, force: true });
      return await lock();
    }
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

/** Data directories this process holds the lock of. */
const dataDirsHeld = new Set<string>();

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
