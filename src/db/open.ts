// One Prisma client over one of two databases: PostgreSQL when DATABASE_URL
// is set (adapter-pg), otherwise the embedded PGlite in a data directory
// (pglite-prisma-adapter). Both use the same schema and migrations.
//
// Next to Prisma, each opened database has a small raw SQL executor over the
// same connections (executor.ts): the billing domain moves money through it.
import { mkdirSync } from "node:fs";
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
  const sql = pgExecutor(pool);
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

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
