// Wires one Saldo instance: database, bootstrap data, billing domain, live
// events and the GraphQL handler. The server and the tests both start here.
import { ensureRootMandate } from "./billing/mandates/mandates.js";
import { createAutoTopUps, type AutoTopUps } from "./billing/payments/autotopup.js";
import { seedPriceCatalog } from "./billing/pricing/pricing.js";
import { createBillingContext, defaultLanes } from "./billing/ledger/context.js";
import type { BillingContext, BillingEvents } from "./billing/shared/context.js";
import { expireHolds } from "./billing/usage/holds.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/open.js";
import { log } from "./log.js";
import { trackStreams, type OpenStreams } from "./http/streams.js";
import { createMetrics, type SaldoMetrics } from "./metrics.js";
import { createLiveEvents, type LiveEvents } from "./pubsub.js";
import { createTokenVerifier, type TokenVerifier } from "./auth.js";
import { startNotifications } from "./notify/index.js";
import { createStripe, stripeProvider } from "./stripe/provider.js";
import { createSaldoYoga, type SaldoYoga } from "./yoga.js";

export interface App {
  config: Config;
  database: Database;
  billing: BillingContext;
  live: LiveEvents;
  yoga: SaldoYoga;
  /** Who a bearer token names (verified once, then remembered until it expires); GraphQL over WebSocket uses it too. */
  verifyToken: TokenVerifier;
  autoTopUps: AutoTopUps;
  /** Prometheus metrics of this instance (served at /metrics, or on METRICS_PORT by src/server.ts). */
  metrics: SaldoMetrics;
  /** Open subscriptions (SSE and WebSocket), which a shutdown completes. */
  streams: OpenStreams;
  /** Readiness turns false (/ready answers 503): the first step of a shutdown. */
  beginShutdown(): void;
  /** Stops the background jobs (hold expiry sweep, automatic top-ups, outbox worker, report scheduler), then closes live events and the database. */
  close(): Promise<void>;
}

export interface AppOptions {
  /** Use this database instead of opening the configured one (tests). */
  database?: Database;
  /** The billing clock (tests). */
  now?: () => Date;
  /** Run the hold expiry sweep and the email worker and scheduler (default true; API tests turn them off). */
  backgroundJobs?: boolean;
  /** Node's process metrics in /metrics (default true). */
  processMetrics?: boolean;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.SALDO_DATA_DIR,
      poolSize: config.DATABASE_POOL_SIZE,
      lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      poolTimeoutMs: config.DATABASE_POOL_TIMEOUT_MS,
    }));
  let live: LiveEvents | undefined;
  try {
    await ensureRootMandate(database);
    await seedPriceCatalog(database.prisma);
    live = await createLiveEvents({ redisUrl: config.REDIS_URL });
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
  const background = options.backgroundJobs !== false;
  const metrics = createMetrics({ db: database.prisma, processMetrics: options.processMetrics });
  let shuttingDown = false;
  const streams = trackStreams();
  const notifications = background
    ? startNotifications({
        db: database.prisma,
        sql: database.sql,
        config,
        now: options.now,
        onOutcome: (outcome) => metrics.outboxDeliveries.inc({ kind: outcome.kind, status: outcome.status }),
      })
    : null;
  // A warning's email row commits with the debit; the event only makes the worker send it at once.
  const published = notifications ? notifications.watch(live.events) : live.events;
  let autoTopUps: AutoTopUps | undefined;
  const events: BillingEvents = {
    publish: (event) => (event.type === "autoTopUpWanted" ? autoTopUps?.request(event.accountId) : published.publish(event)),
  };
  const billing = createBillingContext(database, {
    events,
    metrics: metrics.billing,
    now: options.now,
    timeZone: config.BILLING_TIME_ZONE,
    usdToChf: config.USD_TO_CHF,
    markupPercent: config.MARKUP_PERCENT,
    holdExpirySeconds: config.HOLD_EXPIRY_SECONDS,
    topUpMax: config.TOPUP_MAX_CHF,
    // A lane holds one connection while its batch runs: on PostgreSQL half
    // the pool, so reads always find one; PGlite has one connection.
    batches: { lanes: database.kind === "pglite" ? 1 : defaultLanes(config.DATABASE_POOL_SIZE) },
  });
  const stripe = config.STRIPE_SECRET_KEY ? createStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE) : null;
  const payments = stripe ? stripeProvider(stripe) : null;
  autoTopUps = createAutoTopUps(billing, payments);
  const verifyToken = createTokenVerifier(config.JWT_SECRET, config.JWT_MAX_TTL);
  const yoga = createSaldoYoga(
    {
      db: database.prisma,
      billing,
      pubsub: live.pubsub,
      verifyToken,
      payments,
      ping: database.ping,
      liveEvents: live.status,
    },
    {
      stripeWebhook: {
        billing,
        stripe,
        webhookSecret: config.STRIPE_WEBHOOK_SECRET,
        observe: (type, outcome) => metrics.stripeWebhookEvents.inc({ type, outcome }),
      },
      shuttingDown: () => shuttingDown,
      streams,
      metrics: { metrics, serve: config.METRICS_PORT === undefined, token: config.METRICS_TOKEN },
      production: config.NODE_ENV === "production",
      graphiql: config.GRAPHIQL,
      corsOrigins: config.CORS_ORIGINS,
    },
  );
  // Expired holds stop counting at once; the sweep only records their status.
  // It also sends automatic top-ups whose charge was cut off by a stop.
  const sweep = background
    ? setInterval(() => {
        expireHolds(billing).catch((error) => log.error({ module: "holds", err: error }, "expiry sweep failed"));
        autoTopUps?.resumeStale().catch((error) => log.error({ module: "auto top-up", err: error }, "resuming stale claims failed"));
      }, 60_000)
    : undefined;
  sweep?.unref();
  const liveEvents = live;
  const topUps = autoTopUps;
  return {
    config,
    database,
    billing,
    live: liveEvents,
    yoga,
    verifyToken,
    autoTopUps: topUps,
    metrics,
    streams,
    beginShutdown: () => {
      shuttingDown = true;
    },
    close: async () => {
      shuttingDown = true;
      clearInterval(sweep);
      // Moves queued or in flight commit before the database closes.
      await billing.moves.idle();
      await topUps.idle();
      await notifications?.stop();
      await liveEvents.close();
      if (!options.database) await database.close();
    },
  };
}
