// Wires one Saldo instance: database, bootstrap data, billing domain, live
// events and the GraphQL handler. The server and the tests both start here.
import {
  createAutoTopUps,
  createBillingContext,
  ensureRootMandate,
  expireHolds,
  seedPriceCatalog,
  type AutoTopUps,
  type BillingContext,
  type BillingEvents,
} from "./billing/index.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db.js";
import { log } from "./log.js";
import { createLiveEvents, type LiveEvents } from "./pubsub.js";
import { startNotifications } from "./notify/index.js";
import { createStripe, stripeGateway } from "./stripe/gateway.js";
import { createSaldoYoga, type SaldoYoga } from "./yoga.js";

export interface App {
  config: Config;
  database: Database;
  billing: BillingContext;
  live: LiveEvents;
  yoga: SaldoYoga;
  autoTopUps: AutoTopUps;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Use this database instead of opening the configured one (tests). */
  database?: Database;
  /** The billing clock (tests). */
  now?: () => Date;
  /** Run the hold expiry sweep and the email worker and scheduler (default true; API tests turn them off). */
  backgroundJobs?: boolean;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const database =
    options.database ??
    (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.SALDO_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE }));
  let live: LiveEvents | undefined;
  try {
    await ensureRootMandate(database.prisma);
    await seedPriceCatalog(database.prisma);
    live = await createLiveEvents({ redisUrl: config.REDIS_URL });
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
  const background = options.backgroundJobs !== false;
  const notifications = background ? startNotifications({ db: database.prisma, config, now: options.now }) : null;
  // A warning's email row commits with the debit; the event only makes the worker send it at once.
  const published = notifications ? notifications.watch(live.events) : live.events;
  let autoTopUps: AutoTopUps | undefined;
  const events: BillingEvents = {
    publish: (event) => (event.type === "autoTopUpWanted" ? autoTopUps?.request(event.accountId) : published.publish(event)),
  };
  const billing = createBillingContext(database.prisma, {
    events,
    now: options.now,
    timeZone: config.BILLING_TIME_ZONE,
    usdToChf: config.USD_TO_CHF,
    markupPercent: config.MARKUP_PERCENT,
    holdExpirySeconds: config.HOLD_EXPIRY_SECONDS,
    topUpMax: config.TOPUP_MAX_CHF,
  });
  const stripe = config.STRIPE_SECRET_KEY ? createStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE) : null;
  const payments = stripe ? stripeGateway(stripe) : null;
  autoTopUps = createAutoTopUps(billing, payments);
  const yoga = createSaldoYoga({
    db: database.prisma,
    billing,
    pubsub: live.pubsub,
    jwtSecret: config.JWT_SECRET,
    payments,
    ping: database.ping,
  }, { stripeWebhook: { billing, stripe, webhookSecret: config.STRIPE_WEBHOOK_SECRET } });
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
    autoTopUps: topUps,
    close: async () => {
      clearInterval(sweep);
      await topUps.idle();
      await notifications?.stop();
      await liveEvents.close();
      if (!options.database) await database.close();
    },
  };
}
