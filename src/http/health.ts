// Health endpoints, yoga's convention: GET /health is liveness (the process
// answers; yoga's own healthCheckEndpoint, no dependency asked) and GET
// /ready is readiness: whether this instance should get traffic now. Ready
// means the database answers, every migration this version knows is
// applied, and the server is not shutting down; otherwise 503 with a JSON
// body saying why. A load balancer takes an unready instance out of
// rotation; an orchestrator restarts one that is not live.
import { useReadinessCheck, type Plugin } from "graphql-yoga";
import type { Db } from "../db/open.js";
import { migrationStatus, readMigrations, type Migration, type SqlSession } from "../db/migrations.js";

export const READY_PATH = "/ready";
/** How long the database may take to answer a readiness probe. */
export const READY_TIMEOUT_MS = 3_000;

export interface ReadinessProbe {
  db: Db;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  /** True from the moment a shutdown begins (src/server.ts). */
  shuttingDown?(): boolean;
}

export interface Readiness {
  ready: boolean;
  /** Why not, in a sentence (absent when ready). */
  reason?: string;
  database: "ok" | "unavailable" | "not checked";
  migrations: "ok" | "pending" | "unknown";
  shuttingDown: boolean;
}

/** Migration queries through Prisma's connection, so the probe uses what requests use. */
function prismaSession(db: Db): SqlSession {
  return {
    exec: (sql) => db.$executeRawUnsafe(sql),
    query: async <T>(sql: string, params: unknown[] = []) => ({ rows: await db.$queryRawUnsafe<T[]>(sql, ...params) }),
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function readiness(probe: ReadinessProbe, migrations: Migration[] = readMigrations(), timeoutMs = READY_TIMEOUT_MS): Promise<Readiness> {
  if (probe.shuttingDown?.()) {
    return { ready: false, reason: "shutting down", database: "not checked", migrations: "unknown", shuttingDown: true };
  }
  try {
    await withTimeout(probe.ping(), timeoutMs);
  } catch (error) {
    return { ready: false, reason: `database unavailable: ${(error as Error).message}`, database: "unavailable", migrations: "unknown", shuttingDown: false };
  }
  try {
    const { pending } = await withTimeout(migrationStatus(prismaSession(probe.db), migrations), timeoutMs);
    if (pending.length > 0) {
      return {
        ready: false,
        reason: `${pending.length} migration(s) not applied: ${pending.map((m) => m.name).join(", ")}`,
        database: "ok",
        migrations: "pending",
        shuttingDown: false,
      };
    }
  } catch (error) {
    // A history that disagrees with this version (MigrationError), or the database failing mid-probe.
    return { ready: false, reason: `migrations: ${(error as Error).message}`, database: "ok", migrations: "unknown", shuttingDown: false };
  }
  return { ready: true, database: "ok", migrations: "ok", shuttingDown: false };
}

/** GET /ready: 200 with the report when ready, 503 with it otherwise. */
export function useReadiness(probe: ReadinessProbe): Plugin {
  // The migrations this version ships, read once: they change only with the code.
  const migrations = readMigrations();
  return useReadinessCheck({
    endpoint: READY_PATH,
    check: async ({ fetchAPI }) => {
      const report = await readiness(probe, migrations);
      return new fetchAPI.Response(JSON.stringify(report), {
        status: report.ready ? 200 : 503,
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
      });
    },
  });
}
