// Which web pages on other origins may read Saldo's answers (CORS). Saldo
// authenticates by bearer token, never by cookie, so no answer ever allows
// credentials; an origin that is not allowed gets no CORS headers at all, and
// the browser keeps the answer from the page.
import type { CORSOptions } from "graphql-yoga";

export interface CorsPolicy {
  /** Origins allowed besides Saldo's own, e.g. https://billing.example.com (CORS_ORIGINS). */
  origins: readonly string[];
  /** Also allow pages on localhost and 127.0.0.1, any port (development). */
  localhost: boolean;
}

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export function corsOptions(policy: CorsPolicy) {
  const allowed = new Set(policy.origins);
  return (request: Request): CORSOptions => {
    const origin = request.headers.get("origin");
    if (!origin) return false;
    const permitted = origin === new URL(request.url).origin || allowed.has(origin) || (policy.localhost && LOCALHOST.test(origin));
    if (!permitted) return false;
    return {
      origin: [origin],
      credentials: false,
      methods: ["GET", "POST"],
      // A client that backs off when the database is away reads it.
      exposedHeaders: ["Retry-After"],
      maxAge: 600,
    };
  };
}

/** Parses CORS_ORIGINS: origins separated by commas, each scheme://host[:port]; an error names the bad one. */
export function parseCorsOrigins(value: string): string[] | string {
  const origins = value
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      return `"${origin}" is not an origin such as https://billing.example.com (scheme, host and port only, no path or trailing slash)`;
    }
  }
  return origins;
}
