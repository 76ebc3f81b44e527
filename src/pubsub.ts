// Live events: the ledger's events fan out to GraphQL subscriptions. In
// process by default; through Redis when REDIS_URL is set, so a subscriber on
// one server instance sees a change made through another.
import { createPubSub } from "graphql-yoga";
import { type BalanceChangedEvent, type BalanceWarningEvent, type BillingEvents } from "./billing/shared/context.js";
import { log } from "./log.js";

type Topics = {
  [key: `balanceChanged:${string}`]: [BalanceChangedEvent];
  [key: `balanceWarning:${string}`]: [BalanceWarningEvent];
};

export type SaldoPubSub = ReturnType<typeof createPubSub<Topics>>;

export interface LiveEvents {
  pubsub: SaldoPubSub;
  /** Where the billing domain publishes; forwards to the pubsub. */
  events: BillingEvents;
  close(): Promise<void>;
}

/** Raised when the configured Redis cannot be reached at start. */
export class LiveEventsError extends Error {}

export async function createLiveEvents(options: { redisUrl?: string } = {}): Promise<LiveEvents> {
  let close = async () => undefined;
  let eventTarget;
  if (options.redisUrl) {
    // Loaded only when needed: a server without Redis never imports ioredis.
    const [{ Redis }, { createRedisEventTarget }] = await Promise.all([
      import("ioredis"),
      import("@graphql-yoga/redis-event-target"),
    ]);
    const publishClient = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
    const subscribeClient = new Redis(options.redisUrl, { lazyConnect: true });
    for (const client of [publishClient, subscribeClient]) {
      // ioredis reconnects by itself; without a listener it prints "Unhandled error event".
      client.on("error", (error) => log.error({ module: "pubsub" }, `Redis: ${error.message}`));
    }
    try {
      await Promise.all([publishClient.connect(), subscribeClient.connect()]);
    } catch (error) {
      publishClient.disconnect();
      subscribeClient.disconnect();
      throw new LiveEventsError(`Cannot reach Redis at REDIS_URL=${options.redisUrl}: ${(error as Error).message}`);
    }
    eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
    close = async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    };
  }
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
  const events: BillingEvents = {
    publish: (event) => {
      // Only what subscriptions show goes live; other events stay in the instance.
      if (event.type === "balanceChanged") pubsub.publish(`balanceChanged:${event.mandateId}`, event);
      else if (event.type === "balanceWarning") pubsub.publish(`balanceWarning:${event.mandateId}`, event);
    },
  };
  return { pubsub, events, close };
}
