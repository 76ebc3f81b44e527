// Live events: the ledger's events fan out to GraphQL subscriptions. In
// process by default; through Redis when REDIS_URL is set, so a subscriber on
// one server instance sees a change made through another.
import { createPubSub } from "graphql-yoga";
import type { BalanceChangedEvent, BalanceWarningEvent, BillingEvents } from "./billing/index.js";

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
    await Promise.all([publishClient.connect(), subscribeClient.connect()]);
    eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
    close = async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    };
  }
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
  const events: BillingEvents = {
    publish: (event) => {
      if (event.type === "balanceChanged") pubsub.publish(`balanceChanged:${event.mandateId}`, event);
      else pubsub.publish(`balanceWarning:${event.mandateId}`, event);
    },
  };
  return { pubsub, events, close };
}
