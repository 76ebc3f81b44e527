// The GraphQL server as a fetch handler: schema, per-request context and
// plugins. Tests call yoga.fetch directly; src/server.ts puts it on a port
// and src/http/ws.ts serves the same instance over WebSocket.
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { GraphQLError, type ValidationContext } from "graphql";
import {
  createGraphQLError,
  createYoga,
  maskError as yogaMaskError,
  type GraphiQLOptions,
  type YogaLogger,
  type YogaServerInstance,
} from "graphql-yoga";
import { BillingError } from "./billing/shared/errors.js";
import { createContext, type AppServices, type Context } from "./context.js";
import { MAX_QUERY_COST, useQueryCost } from "./schema/cost.js";
import { schema } from "./schema/index.js";
import { useStripeWebhook, type StripeWebhookOptions } from "./stripe/webhook.js";
import { useWebApp, type WebAppOptions } from "./http/app.js";
import { useTransactionExport } from "./http/export.js";
import { RETRY_AFTER_SECONDS, unavailableDependency, type Dependency } from "./unavailable.js";
import { corsOptions } from "./http/cors.js";
import { useIntrospectionNeedsCaller, useNoSuggestions } from "./http/exposure.js";
import { renderGraphiQL, useGraphiQLPolicy } from "./http/graphiql.js";
import { useReadiness } from "./http/health.js";
import { useRequestLog, yogaLogger } from "./http/logging.js";
import { useCsrfPrevention, useUnsupportedMediaType } from "./http/refusals.js";
import type { OpenStreams } from "./http/streams.js";
import { log, type Logger } from "./log.js";
import { useMetrics, type SaldoMetrics } from "./metrics.js";

/**
 * What a transport adds to yoga's initial context. HTTP requests bring a
 * fetch Request; a WebSocket operation has none and brings the credential
 * its connection sent in connectionParams (src/http/ws.ts).
 */
export interface SaldoServerContext extends Record<string, unknown> {
  authorization?: string | null;
}

export type SaldoYoga = YogaServerInstance<SaldoServerContext, Context>;

/** The limits a request must stay within; over one, it is refused with a message naming it. */
export const REQUEST_LIMITS = {
  /** Selection depth; introspection (`__schema`) is exempt, so GraphiQL works. */
  maxDepth: 10,
  maxAliases: 15,
  /** Lexical tokens of the document (GraphiQL's full introspection query has about 200). */
  maxTokens: 2000,
  maxDirectives: 50,
  /** The estimated cost counted from the document and its variables (src/schema/cost.ts). */
  maxCost: MAX_QUERY_COST,
  /** Request body, by Content-Length and by what actually arrives. */
  maxRequestBodyBytes: 1_000_000,
} as const;

/** The header a client must send with a request a browser would not preflight (GET, forms). */
export const CSRF_HEADER = "x-graphql-yoga-csrf";

export interface SaldoYogaOptions {
  /**
   * Production hides the schema from strangers: no "Did you mean ..." in
   * error messages, introspection only with a token, GraphiQL only when
   * `graphiql` says so. Default: NODE_ENV=production.
   */
  production?: boolean;
  /** Serve GraphiQL at /graphql; default: outside production only (GRAPHIQL=true in production). */
  graphiql?: boolean;
  /** Origins besides Saldo's own whose pages may read answers (CORS_ORIGINS); outside production localhost too. */
  corsOrigins?: readonly string[];
  maxRequestBodyBytes?: number;
  /** Serves POST /webhooks/stripe (503 there while STRIPE_WEBHOOK_SECRET is not set). */
  stripeWebhook?: StripeWebhookOptions;
  /** The billing UI at /app (src/http/app.ts); default: web/dist. */
  webApp?: WebAppOptions;
  /** /ready answers 503 from the moment this returns true (src/server.ts's drain). */
  shuttingDown?: () => boolean;
  /** Prometheus metrics (src/metrics.ts); `serve: false` when METRICS_PORT serves them elsewhere. */
  metrics?: { metrics: SaldoMetrics; serve: boolean; token?: string };
  /** Subscriptions a shutdown ends politely (src/http/streams.ts). */
  streams?: OpenStreams;
  /** Where yoga's messages and the request lines go; default the process's log (src/log.ts). */
  logger?: Logger;
}

const GRAPHIQL: GraphiQLOptions = {
  title: "Saldo",
  defaultQuery:
    '# Paste a token from `npm run token -- --role SYSADMIN` into Headers:\n# { "Authorization": "Bearer <token>" }\n\n{\n  viewer { userId roles mandateIds }\n}\n',
};

export type SaldoServices = AppServices & {
  ping(): Promise<void>;
  /** The state of live events (Redis), for /ready. */
  liveEvents?(): string;
};

export function createSaldoYoga(services: SaldoServices, options: SaldoYogaOptions = {}): SaldoYoga {
  const production = options.production ?? process.env.NODE_ENV === "production";
  return createYoga<SaldoServerContext, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    // /health is liveness (yoga's own: the process answers); /ready is useReadiness below.
    healthCheckEndpoint: "/health",
    landingPage: false,
    // No CORS headers for origins not allowed, never credentials (src/http/cors.ts).
    cors: corsOptions({ origins: options.corsOrigins ?? [], localhost: !production }),
    // GraphiQL only outside production, or with GRAPHIQL=true; from the package itself, no CDN (src/http/graphiql.ts).
    graphiql: (options.graphiql ?? !production) && GRAPHIQL,
    renderGraphiQL,
    context: ({ request, authorization }) =>
      createContext(services, authorization !== undefined ? authorization : (request?.headers.get("authorization") ?? null)),
    // 413 with code REQUEST_ENTITY_TOO_LARGE, by Content-Length or while the body streams in.
    maxRequestBodySize: options.maxRequestBodyBytes ?? REQUEST_LIMITS.maxRequestBodyBytes,
    maskedErrors: { maskError, isDev: false },
    logging: serverLogger(options.logger ?? log),
    plugins: [
      // First, so that every request is logged and timed, whoever answers it.
      useRequestLog((options.logger ?? log).child({ module: "http" })),
      ...(options.metrics ? [useMetrics(options.metrics.metrics, { serve: options.metrics.serve, token: options.metrics.token })] : []),
      useReadiness({ db: services.db, ping: services.ping, liveEvents: services.liveEvents, shuttingDown: options.shuttingDown }),
      useGraphiQLPolicy("/graphql", GRAPHIQL),
      ...(options.streams ? [options.streams.plugin] : []),
      // It answers Stripe's raw-body POST itself, before CSRF and GraphQL.
      ...(options.stripeWebhook ? [useStripeWebhook(options.stripeWebhook)] : []),
      // The UI's files (and `/` redirecting to it) and the CSV export: plain
      // HTTP beside GraphQL. The export takes only a bearer token, which a
      // browser never sends cross-site, so it needs no CSRF header.
      useWebApp(options.webApp),
      useTransactionExport(services),
      // Requests a browser sends cross-site without a CORS preflight (GET,
      // form or text/plain POSTs) must carry this header; JSON POSTs (every
      // client here, GraphiQL included) are preflighted and pass as they are.
      // Both refusals answer a GraphQL error with a code.
      useCsrfPrevention(CSRF_HEADER),
      useUnsupportedMediaType(),
      EnvelopArmorPlugin({
        maxDepth: { n: REQUEST_LIMITS.maxDepth, ...asValidationError() },
        maxAliases: { n: REQUEST_LIMITS.maxAliases, ...asValidationError() },
        maxTokens: { n: REQUEST_LIMITS.maxTokens },
        maxDirectives: { n: REQUEST_LIMITS.maxDirectives, ...asValidationError() },
        // One cost rule, which counts list sizes from the variables too: useQueryCost below.
        costLimit: { enabled: false },
        // Suggestions are stripped by useNoSuggestions below (armor's misses enum values and variables).
        blockFieldSuggestion: { enabled: false },
      }),
      // In production, no suggestions and no introspection without a token.
      ...(production ? [useNoSuggestions(), useIntrospectionNeedsCaller()] : []),
      useQueryCost(REQUEST_LIMITS.maxCost),
    ],
  });
}

/**
 * Armor's rules throw by default, which skips the other validation rules
 * and yoga's status codes; reported like any validation error they get
 * extensions.code GRAPHQL_VALIDATION_FAILED and 400 under
 * application/graphql-response+json (200 under application/json, as the
 * GraphQL-over-HTTP spec asks).
 */
const asValidationError = () => ({
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ""))),
  ],
});

/**
 * What a client may see of an error. GraphQL errors (UNAUTHENTICATED,
 * FORBIDDEN, validation) pass as they are; a BillingError that escaped a
 * payload keeps its message and code; anything else becomes "Unexpected
 * error." without a stack, and yoga logs the original.
 */
export function maskError(error: unknown, message: string): Error {
  const unavailable = unavailableDependency(error);
  if (unavailable) {
    return createGraphQLError(UNAVAILABLE_MESSAGES[unavailable], {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      // spec: the status applies under application/graphql-response+json;
      // application/json keeps 200, as the GraphQL-over-HTTP spec asks.
      extensions: {
        code: "SERVICE_UNAVAILABLE",
        http: { status: 503, spec: true, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } },
      },
    });
  }
  const billingError = billingErrorOf(error);
  if (billingError) {
    return createGraphQLError(billingError.message, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: billingError.code, ...(billingError.field ? { field: billingError.field } : {}) },
    });
  }
  return yogaMaskError(error, message, false);
}

const UNAVAILABLE_MESSAGES: Record<Dependency, string> = {
  database:
    "The database is unavailable or did not answer in time. Retry later; a money move sent again with the same idempotency key is booked at most once.",
  "live events": "Live events are unavailable (Redis cannot be reached). Retry the subscription later.",
};

function billingErrorOf(error: unknown): BillingError | undefined {
  const original = error instanceof GraphQLError ? error.originalError : error;
  return original instanceof BillingError ? original : undefined;
}

/**
 * yoga's messages as JSON lines (src/log.ts), except that a BillingError
 * (the caller's mistake, not ours) is no server error, and an unavailable
 * dependency is one warning line, not a stack per request while it lasts.
 */
function serverLogger(base: Logger): YogaLogger {
  const logger = yogaLogger(base.child({ module: "graphql" }));
  return {
    ...logger,
    error: (...args) => {
      if (billingErrorOf(args[0])) return logger.debug(...args);
      const unavailable = unavailableDependency(args[0]);
      if (unavailable) return logger.warn(`${unavailable} unavailable: ${describe(args[0])}`);
      return logger.error(...args);
    },
  };
}

function describe(error: unknown): string {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  return original instanceof Error ? original.message : String(original);
}
