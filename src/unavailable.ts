// Failures of a dependency that the same request, sent again later, may get
// past: the database unreachable, restarting or too slow, or Redis away for
// a new subscription. Clients see them as SERVICE_UNAVAILABLE (HTTP 503 with
// Retry-After under application/graphql-response+json), never as a bug; a
// money move retried with its idempotency key books at most once.

export type Dependency = "database" | "live events";

/** Seconds a client should wait before retrying (the Retry-After header). */
export const RETRY_AFTER_SECONDS = 2;

/** Raised by Saldo itself when a dependency is known to be away (e.g. a subscription while Redis is down). */
export class ServiceUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    message: string,
  ) {
    super(message);
    this.name = "ServiceUnavailableError";
  }
}

// SQLSTATE: connection exceptions (class 08), the server shutting down,
// crashed or starting (57P01-57P03), too many connections (53300), and the
// limits Saldo sets on a transaction: lock_timeout (55P03) and
// statement_timeout (57014, also a cancel; Saldo cancels nothing else).
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300|55P03|57014)$/;
// Node's socket errors, as pg raises them.
const SOCKET = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
// Prisma: can't reach the server (P1001), timed out (P1008), connection
// closed (P1017), pool timeout (P2024), too many connections (P2037); and of
// its transaction API errors (P2028) those about time: could not start one
// within maxWait, or it outlived its timeout. (Other P2028s are our bugs.)
const PRISMA = new Set(["P1001", "P1008", "P1017", "P2024", "P2037"]);
const PRISMA_TRANSACTION_TIME = /in the given time|timeout/i;
// Prisma's driver adapters describe the cause with a kind.
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
// pg and pg-pool say it in words only.
const MESSAGES = [
  /^Connection terminated/, // the server went away mid-query
  /^timeout exceeded when trying to connect/, // pool checkout (connectionTimeoutMillis)
  /is not queryable/, // a client whose connection failed earlier
];

interface Described {
  code?: unknown;
  originalCode?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/**
 * Which dependency an error says is unavailable, or null for any other
 * error. Looks through GraphQL's originalError, `cause` chains and Prisma's
 * wrapped driver adapter errors.
 */
export function unavailableDependency(error: unknown, depth = 0): Dependency | null {
  if (!error || typeof error !== "object" || depth > 6) return null;
  if (error instanceof ServiceUnavailableError) return error.dependency;
  const e = error as Described;
  const code = typeof e.code === "string" ? e.code : typeof e.originalCode === "string" ? e.originalCode : "";
  if (SQLSTATE.test(code) || SOCKET.has(code) || PRISMA.has(code)) return "database";
  if (code === "P2028" && typeof e.message === "string" && PRISMA_TRANSACTION_TIME.test(e.message)) return "database";
  if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return "database";
  if (typeof e.message === "string" && MESSAGES.some((m) => m.test(e.message as string))) return "database";
  for (const inner of [e.originalError, e.cause, e.meta?.driverAdapterError]) {
    const found = unavailableDependency(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

// What /ready answers, with these reasons, is src/http/health.ts.
