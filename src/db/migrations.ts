// Applies prisma/migrations the way `prisma migrate deploy` does, for
// databases Prisma's CLI cannot drive well (the embedded PGlite) and for
// fresh test databases: each migration.sql in folder order, in its own
// transaction, recorded in _prisma_migrations exactly as Prisma records it,
// so `prisma migrate status` agrees afterwards.
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations/", import.meta.url));

/** The little a migration needs from a connection: PGlite and pg both offer it. */
export interface SqlSession {
  /** Runs a multi-statement script. */
  exec(sql: string): Promise<unknown>;
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(`${dir}/${name}/migration.sql`);
      return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
    });
}

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

export class MigrationError extends Error {}

/** What is applied and what is still to do; throws when history and folder disagree. */
export async function migrationStatus(session: SqlSession, migrations = readMigrations()) {
  const { rows: tables } = await session.query<{ exists: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS "exists"`);
  const applied = tables[0]?.exists
    ? (
        await session.query<AppliedRow>(
          `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
        )
      ).rows
    : [];
  for (const row of applied) {
    const local = migrations.find((m) => m.name === row.migration_name);
    if (!row.finished_at) {
      throw new MigrationError(`Migration ${row.migration_name} failed or is unfinished in this database`);
    }
    if (!local) throw new MigrationError(`The database has migration ${row.migration_name}, unknown to this version`);
    if (local.checksum !== row.checksum) {
      throw new MigrationError(`Migration ${row.migration_name} was modified after it was applied`);
    }
  }
  const done = new Set(applied.map((row) => row.migration_name));
  return { applied: applied.length, pending: migrations.filter((m) => !done.has(m.name)) };
}

/** Applies every pending migration; returns the names applied. */
export async function applyMigrations(session: SqlSession, migrations = readMigrations()): Promise<string[]> {
  await session.exec(CREATE_MIGRATIONS_TABLE);
  const { pending } = await migrationStatus(session, migrations);
  for (const migration of pending) {
    // The migration and its record commit together: no crash leaves one without the other.
    const record = `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
      VALUES (${literal(randomUUID())}, ${literal(migration.checksum)}, ${literal(migration.name)}, now(), clock_timestamp(), 1)`;
    await session.exec(`BEGIN;\n${migration.sql}\n;\n${record};\nCOMMIT;`).catch(async (error: unknown) => {
      await session.exec("ROLLBACK").catch(() => undefined);
      throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`);
    });
  }
  return pending.map((m) => m.name);
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
