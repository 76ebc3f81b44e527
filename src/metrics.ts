// Metrics in Prometheus' text format at GET /metrics (or on METRICS_PORT).
// GraphQL's own (yoga's Prometheus plugin): operations counted and timed per
// operation name, errors by phase and code, HTTP durations by status. The
// ledger's own, all named saldo_*: money moves by kind and outcome, denials
// by reason, write batch sizes, Stripe webhook events, outbox deliveries;
// and, read from the database when scraped, active holds, the outbox's
// backlog and given-up rows, and automatic top-ups by status.
//
// Each app has a registry of its own (tests run several apps in one
// process); the billing domain reports through its BillingMetrics port
// (src/billing/context.ts) and never imports prom-client.
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { createCounter, usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { GraphQLError, GraphQLObjectType, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import type { Plugin } from "graphql-yoga";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BillingMetrics, MoneyMoveKind } from "./billing/shared/context.js";
import type { Db } from "./db/open.js";
import { log } from "./log.js";

export const METRICS_PATH = "/metrics";

const metricsLog = log.child({ module: "metrics" });

export interface SaldoMetrics {
  registry: Registry;
  /** The billing domain's port. */
  billing: BillingMetrics;
  moneyMoves: Counter<"kind" | "outcome" | "code">;
  denials: Counter<"reason" | "operation">;
  batchSize: Histogram<never>;
  stripeWebhookEvents: Counter<"type" | "outcome">;
  outboxDeliveries: Counter<"kind" | "status">;
  /** The exposition text, with the gauges read from the database first. */
  scrape(): Promise<string>;
}

export interface MetricsOptions {
  /** Where the scrape-time gauges are read from; without it they are not registered. */
  db?: Db;
  /** Node's process metrics (memory, CPU, event loop lag, GC), prom-client's defaults. Default true. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): SaldoMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const moneyMoves = new Counter({
    name: "saldo_money_moves_total",
    help: "Money moves through the API by kind (credit, adjustment, transfer, usage, hold, settlement, release) and outcome (booked, replayed, refused); code is the userError code of a refusal",
    labelNames: ["kind", "outcome", "code"] as const,
    registers,
  });
  const denials = new Counter({
    name: "saldo_billing_denials_total",
    help: "Calls denied by checkBilling (operation check) or authorizeUsage (operation hold), by DenialReason",
    labelNames: ["reason", "operation"] as const,
    registers,
  });
  const batchSize = new Histogram({
    name: "saldo_write_batch_size",
    help: "Money moves carried by one database transaction of the write path",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  const stripeWebhookEvents = new Counter({
    name: "saldo_stripe_webhook_events_total",
    help: "Stripe webhook deliveries by event type and outcome (credited, duplicate, refunded, saved, ignored, unhandled, failed, rejected, not_configured, ...)",
    labelNames: ["type", "outcome"] as const,
    registers,
  });
  const outboxDeliveries = new Counter({
    name: "saldo_outbox_deliveries_total",
    help: "Email delivery attempts of this instance's outbox worker by kind and status: SENT, RETRY (failed, tried again later), FAILED (failed, given up), LOST (another worker took the row over)",
    labelNames: ["kind", "status"] as const,
    registers,
  });

  const refresh = options.db ? databaseGauges(options.db, registry) : async () => undefined;

  const billing: BillingMetrics = {
    moneyMove: (kind, outcome, code) => moneyMoves.inc({ kind, outcome, code: code ?? "" }),
    denial: (reason, operation) => denials.inc({ reason, operation }),
    batchSize: (moves) => batchSize.observe(moves),
  };
  return {
    registry,
    billing,
    moneyMoves,
    denials,
    batchSize,
    stripeWebhookEvents,
    outboxDeliveries,
    async scrape() {
      await refresh();
      return registry.metrics();
    },
  };
}

/**
 * Gauges read when scraped, each from an index: active holds (status,
 * expiresAt), the outbox's PENDING and FAILED rows (status, nextAttemptAt),
 * and the automatic top-ups by status (one row per attempt, a small table).
 * They read the same database from every instance: aggregate them with max,
 * not sum.
 */
function databaseGauges(db: Db, registry: Registry): () => Promise<void> {
  const registers = [registry];
  const activeHolds = new Gauge({ name: "saldo_active_holds", help: "Holds that are ACTIVE and not expired", registers });
  const activeHoldsAmount = new Gauge({ name: "saldo_active_holds_amount_chf", help: "The amount those holds reserve, in CHF", registers });
  const outboxBacklog = new Gauge({ name: "saldo_outbox_backlog", help: "Emails in the outbox waiting to be sent (PENDING)", registers });
  const outboxFailed = new Gauge({ name: "saldo_outbox_failed", help: "Emails the outbox gave up on (FAILED)", registers });
  const autoTopUps = new Gauge({
    name: "saldo_auto_topups",
    help: "Automatic top-up attempts by status (PENDING, SUCCEEDED, FAILED)",
    labelNames: ["status"] as const,
    registers,
  });
  return async () => {
    try {
      const [holds, outbox, topUps] = await Promise.all([
        db.usageAuthorization.aggregate({
          where: { status: "ACTIVE", expiresAt: { gt: new Date() } },
          _count: { _all: true },
          _sum: { amount: true },
        }),
        db.notification.groupBy({ by: ["status"], where: { status: { in: ["PENDING", "FAILED"] } }, _count: { _all: true } }),
        db.autoTopUp.groupBy({ by: ["status"], _count: { _all: true } }),
      ]);
      activeHolds.set(holds._count._all);
      activeHoldsAmount.set(Number(holds._sum.amount ?? 0));
      outboxBacklog.set(outbox.find((row) => row.status === "PENDING")?._count._all ?? 0);
      outboxFailed.set(outbox.find((row) => row.status === "FAILED")?._count._all ?? 0);
      for (const status of ["PENDING", "SUCCEEDED", "FAILED"] as const) {
        autoTopUps.set({ status }, topUps.find((row) => row.status === status)?._count._all ?? 0);
      }
    } catch (error) {
      // The scrape still answers (with the last values); the database's own trouble shows in /ready.
      metricsLog.warn({ err: error }, "reading the database gauges failed");
    }
  };
}

// --- GraphQL -----------------------------------------------------------------

/** The mutations that move money, and the kind each one is counted as. */
const MONEY_MOVES: Record<string, MoneyMoveKind> = {
  creditAccount: "credit",
  adjustAccount: "adjustment",
  transferBalance: "transfer",
  recordUsage: "usage",
  authorizeUsage: "hold",
  settleUsage: "settlement",
  releaseUsage: "release",
};

interface MoneyMovePayload {
  userErrors?: { code: string }[];
  /** The domain's result is spread into the payload (src/schema/errors.ts): it says whether this was a replay. */
  replayed?: boolean;
}

/** What a money mutation's payload says happened. */
export function observeMoneyMove(billing: BillingMetrics, kind: MoneyMoveKind, payload: MoneyMovePayload | null | undefined): void {
  const refusal = payload?.userErrors?.[0];
  if (refusal) {
    billing.moneyMove(kind, "refused", refusal.code);
    // authorizeUsage reports a denial as a userError whose code is the DenialReason.
    if (kind === "hold" && DENIAL_REASONS.has(refusal.code)) billing.denial(refusal.code, "hold");
  } else {
    billing.moneyMove(kind, payload?.replayed === true ? "replayed" : "booked");
  }
}

const DENIAL_REASONS = new Set(["INSUFFICIENT_BALANCE", "PROVIDER_NOT_ALLOWED", "ACCOUNT_DISABLED"]);

/** The per-request context key under which a schema's observer finds its app's metrics. */
const CONTEXT_KEY = "saldoBillingMetrics";
const observed = new WeakSet<GraphQLSchema>();

/**
 * Wraps the money mutations and checkBilling of a schema, once per schema
 * (several apps in one process share the module's schema): each observation
 * goes to the metrics of the app that built the request's context.
 */
function observeSchema(schema: GraphQLSchema): void {
  if (observed.has(schema)) return;
  observed.add(schema);
  const wrap = (type: GraphQLObjectType | null | undefined, name: string, observe: (billing: BillingMetrics, result: unknown) => void) => {
    const field = type?.getFields()[name];
    if (!field?.resolve) return;
    const resolve: GraphQLFieldResolver<unknown, Record<string, unknown>> = field.resolve;
    field.resolve = async (root, args, context, info) => {
      const result = await resolve(root, args, context, info);
      const billing = context?.[CONTEXT_KEY] as BillingMetrics | undefined;
      if (billing) observe(billing, result);
      return result;
    };
  };
  for (const [name, kind] of Object.entries(MONEY_MOVES)) {
    wrap(schema.getMutationType(), name, (billing, result) => observeMoneyMove(billing, kind, result as MoneyMovePayload));
  }
  wrap(schema.getQueryType(), "checkBilling", (billing, result) => {
    const check = result as { allowed?: boolean; reason?: string | null } | null;
    if (check && check.allowed === false && check.reason) billing.denial(check.reason, "check");
  });
}

/** The code a client sees: yoga adds the parse and validation codes only when it answers. */
function errorCode(error: unknown, phase: string | undefined): string {
  const code = error instanceof GraphQLError ? error.extensions?.code : undefined;
  if (typeof code === "string") return code;
  if (phase === "parse") return "GRAPHQL_PARSE_FAILED";
  if (phase === "validate") return "GRAPHQL_VALIDATION_FAILED";
  return "INTERNAL_SERVER_ERROR";
}

export interface MetricsPluginOptions {
  /** Serve GET /metrics on this server's port (false when METRICS_PORT gives it a port of its own). */
  serve: boolean;
  /** METRICS_TOKEN: a scrape must send `Authorization: Bearer <token>`. */
  token?: string;
}

/** yoga's Prometheus plugin on the app's registry, the ledger's observer, and GET /metrics. */
export function useMetrics(metrics: SaldoMetrics, options: MetricsPluginOptions): Plugin<{ [CONTEXT_KEY]?: BillingMetrics }> {
  const { registry } = metrics;
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        usePrometheus({
          registry,
          endpoint: false,
          // Introspection (GraphiQL's schema load) is not traffic.
          skipIntrospection: true,
          metrics: {
            graphql_envelop_request: true,
            graphql_envelop_request_duration: true,
            graphql_envelop_request_time_summary: false,
            graphql_envelop_phase_parse: false,
            graphql_envelop_phase_validate: false,
            graphql_envelop_phase_context: false,
            graphql_envelop_phase_execute: false,
            graphql_envelop_phase_subscribe: false,
            graphql_envelop_deprecated_field: false,
            graphql_envelop_schema_change: false,
            graphql_envelop_execute_resolver: false,
            graphql_envelop_error_result: createCounter({
              registry,
              counter: {
                name: "graphql_envelop_error_result",
                help: "GraphQL errors in responses by operation, phase and extensions.code",
                labelNames: ["operationName", "operationType", "phase", "code"],
              },
              fillLabelsFn: (params) => ({
                operationName: params.operationName ?? "Anonymous",
                operationType: params.operationType ?? "unknown",
                phase: params.errorPhase ?? "unknown",
                code: errorCode(params.error, params.errorPhase),
              }),
            }),
            graphql_yoga_http_duration: true,
          },
          // The URL would make a series per asset and per query string.
          labels: { url: false },
        }),
      );
    },
    onContextBuilding({ extendContext }) {
      extendContext({ [CONTEXT_KEY]: metrics.billing });
    },
    onExecute({ args }) {
      observeSchema(args.schema);
    },
    onRequest({ url, request, endResponse }) {
      if (!options.serve || url.pathname !== METRICS_PATH) return;
      return metricsResponse(metrics, request.method, request.headers.get("authorization"), options.token).then(endResponse);
    },
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The answer to a scrape: 405 but for GET, 401 without the token when one is set, else the metrics. */
export async function metricsResponse(
  metrics: SaldoMetrics,
  method: string,
  authorization: string | null | undefined,
  token?: string,
): Promise<Response> {
  if (method !== "GET" && method !== "HEAD") return new Response("Use GET\n", { status: 405, headers: { allow: "GET" } });
  if (token) {
    const given = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "")?.[1];
    if (!given || !sameSecret(given, token)) {
      return new Response("Unauthorized: send Authorization: Bearer $METRICS_TOKEN\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain; charset=utf-8" },
      });
    }
  }
  return new Response(await metrics.scrape(), {
    status: 200,
    headers: { "content-type": metrics.registry.contentType, "cache-control": "no-store" },
  });
}

/** METRICS_PORT: /metrics on a port of its own (say, reachable from the monitoring network only). */
export async function serveMetrics(metrics: SaldoMetrics, port: number, token?: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer =
      path === METRICS_PATH
        ? metricsResponse(metrics, req.method ?? "GET", req.headers.authorization, token)
        : Promise.resolve(new Response("Not found\n", { status: 404 }));
    answer
      .then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(req.method === "HEAD" ? undefined : await response.text());
      })
      .catch((error) => {
        metricsLog.error({ err: error }, "scrape failed");
        res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, resolve);
  });
  return server;
}
