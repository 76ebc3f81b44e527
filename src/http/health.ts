// Health endpoints, yoga's convention: GET /health is liveness (the process
// answers; yoga's own healthCheckEndpoint, no dependency asked) and GET
// /ready is readiness: whether this instance should get traffic now. Ready
// means the database answers within 3 s, every migration this version knows
// is applied, and the server is not shutting down; otherwise 503 with
// Retry-After and a JSON body saying why. Live events through Redis are
// reported but do not make the instance unready: money moves go on without
// them, and taking every instance out of rotation for a Redis outage would
// stop those too. Reasons name an error code, never a host.
import { useReadinessCheck, type Plugin } from "graphql-yoga";
import type { Db } from "../db/open.js";
import { MigrationError, migrationStatus, readMigrations, type Migration, type SqlSession } from "../db/migrations.js";
import { RETRY_AFTER_SECONDS } from "../unavailable.js";

export const READY_PATH = "/ready";
/** How long the database may take to answer a readiness probe. */
export const READY_TIMEOUT_MS = 3_000;

export interface ReadinessProbe {
  db: Db;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  /** The state of live events (Redis): "in process", "ok", or why they are unavailable. */
  liveEvents?(): string;
  /** True from the moment a shutdown begins (src/server.ts). */
  shuttingDown?(): boolean;
}

export interface Readiness {
  ready: boolean;
  /** Why not, in a sentence (absent when ready). */
  reason?: string;
  /** "ok", "unavailable: <error code>", "unavailable: no answer within 3 s", or "not checked". */
  database: string;
  migrations: "ok" | "pending" | "unknown";
  liveEvents: string;
  shuttingDown: boolean;
}

/** Migration queries through Prisma's connection, so the probe uses what requests use. */
function prismaSession(db: Db): SqlSession {
  return {
    exec: (sql) => db.$executeRawUnsafe(sql),
    query: async <T>(sql: string, params: unknown[] = []) => ({ rows: await db.$queryRawUnsafe<T[]>(sql, ...params) }),
  };
}

class NoAnswer extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswer(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** An error as a reason may show it: its code (ECONNREFUSED, 57P01, P1001, ...), not its message, which may name a host. */
function unavailable(error: unknown): string {
  if (error instanceof NoAnswer) return `unavailable: ${error.message}`;
  const code = (error as { code?: unknown } | null)?.code;
  return `unavailable: ${typeof code === "string" ? code : "error"}`;
}

export async function readiness(
  probe: ReadinessProbe,
  migrations: Migration[] = readMigrations(),
  timeoutMs = READY_TIMEOUT_MS,
): Promise<Readiness> {
  const liveEvents = probe.liveEvents?.() ?? "in process";
  const not = (
    reason: string,
    state: Omit<Readiness, "ready" | "reason" | "liveEvents" | "shuttingDown">,
    shuttingDown = false,
  ): Readiness => ({
    ready: false,
    reason,
    ...state,
    liveEvents,
    shuttingDown,
  });
  if (probe.shuttingDown?.()) return not("shutting down", { database: "not checked", migrations: "unknown" }, true);
  try {
    await withTimeout(probe.ping(), timeoutMs);
  } catch (error) {
    const database = unavailable(error);
    return not(`database ${database}`, { database, migrations: "unknown" });
  }
  try {
    const { pending } = await withTimeout(migrationStatus(prismaSession(probe.db), migrations), timeoutMs);
    if (pending.length > 0) {
      return not(`${pending.length} migration(s) not applied: ${pending.map((m) => m.name).join(", ")}`, {
        database: "ok",
        migrations: "pending",
      });
    }
  } catch (error) {
    // A history that disagrees with this version (MigrationError), or the database failing mid-probe.
    const reason = error instanceof MigrationError ? error.message : unavailable(error);
    return not(`migrations: ${reason}`, { database: "ok", migrations: "unknown" });
  }
  return { ready: true, database: "ok", migrations: "ok", liveEvents, shuttingDown: false };
}

/** GET /ready: 200 with the report when ready, 503 with it and Retry-After otherwise. */
export function useReadiness(probe: ReadinessProbe): Plugin {
  // The migrations this version ships, read once: they change only with the code.
  const migrations = readMigrations();
  return useReadinessCheck({
    endpoint: READY_PATH,
    check: async ({ fetchAPI }) => {
      const report = await readiness(probe, migrations);
      return new fetchAPI.Response(JSON.stringify(report), {
        status: report.ready ? 200 : 503,
        headers: {
          "content-type": "application/json; charset=utf-8",
          "cache-control": "no-store",
          ...(report.ready ? {} : { "retry-after": String(RETRY_AFTER_SECONDS) }),
        },
      });
    },
  });
}
