// Live events: the ledger's events fan out to GraphQL subscriptions. In
// process by default; through Redis when REDIS_URL is set, so a subscriber on
// one server instance sees a change made through another.
import { createPubSub } from "graphql-yoga";
import type { BalanceChangedEvent, BalanceWarningEvent, BillingEvents } from "./billing/shared/context.js";
import { log } from "./log.js";
import { ServiceUnavailableError } from "./unavailable.js";

type Topics = {
  [key: `balanceChanged:${string}`]: [BalanceChangedEvent];
  [key: `balanceWarning:${string}`]: [BalanceWarningEvent];
};

export type SaldoPubSub = ReturnType<typeof createPubSub<Topics>>;

export interface LiveEvents {
  pubsub: SaldoPubSub;
  /** Where the billing domain publishes; forwards to the pubsub. */
  events: BillingEvents;
  /** "in process", "ok", or why live events are unavailable (for /ready). */
  status(): string;
  /** Events that could not be published because Redis was unavailable, since start. */
  droppedEvents(): number;
  close(): Promise<void>;
}

/** Raised when the configured Redis cannot be reached at start. */
export class LiveEventsError extends Error {}

export async function createLiveEvents(options: { redisUrl?: string } = {}): Promise<LiveEvents> {
  let close = async () => undefined;
  let status = () => "in process";
  let dropped = 0;
  let eventTarget;
  if (options.redisUrl) {
    // Loaded only when needed: a server without Redis never imports ioredis.
    const [{ Redis }, { createRedisEventTarget }] = await Promise.all([import("ioredis"), import("@graphql-yoga/redis-event-target")]);
    // While Redis is away, ioredis reconnects by itself. A publish then fails
    // at once (no offline queue): the event is dropped and counted, the money
    // move that caused it has committed. Subscribe and unsubscribe commands
    // wait for the connection (no retry limit); on reconnecting, ioredis
    // subscribes again to every channel, so open subscriptions resume.
    const publishClient = new Redis(options.redisUrl, { lazyConnect: true, enableOfflineQueue: false, commandTimeout: 5_000 });
    const subscribeClient = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    let outage = false;
    const onDropped = (error: Error) => {
      dropped++;
      if (!outage) {
        outage = true;
        log.error({ module: "pubsub" }, `Redis unavailable, live events are dropped until it is back: ${error.message}`);
      }
    };
    let droppedBefore = 0;
    publishClient.on("ready", () => {
      if (!outage) return;
      outage = false;
      log.warn({ module: "pubsub" }, `Redis is back; ${dropped - droppedBefore} live event(s) were dropped meanwhile`);
      droppedBefore = dropped;
    });
    for (const client of [publishClient, subscribeClient]) {
      // Without a listener ioredis prints "Unhandled error event" at every reconnection attempt.
      client.on("error", (error) => log.error({ module: "pubsub" }, `Redis: ${error.message}`));
    }
    try {
      await Promise.all([publishClient.connect(), subscribeClient.connect()]);
    } catch (error) {
      publishClient.disconnect();
      subscribeClient.disconnect();
      throw new LiveEventsError(`Cannot reach Redis at REDIS_URL=${options.redisUrl}: ${(error as Error).message}`);
    }
    // @graphql-yoga/redis-event-target 3.0.4 calls publish, subscribe and
    // unsubscribe without handling their promises: a command that fails
    // while Redis is away (MaxRetriesPerRequestError, "Connection is
    // closed", a disabled offline queue) is an unhandled rejection, which
    // ends the process. ioredis reports such failures only through the
    // command's promise, never as an 'error' event (redis/ioredis#1776).
    // So the clients handed to it handle them: the one place for this.
    const publish = publishClient.publish.bind(publishClient);
    publishClient.publish = ((channel: string, message: string) =>
      publish(channel, message).catch(onDropped)) as typeof publishClient.publish;
    for (const command of ["subscribe", "unsubscribe"] as const) {
      const original = subscribeClient[command].bind(subscribeClient) as (...channels: string[]) => Promise<unknown>;
      subscribeClient[command] = ((...channels: string[]) =>
        original(...channels).catch((error: Error) =>
          log.error({ module: "pubsub" }, `Redis ${command} failed: ${error.message}`),
        )) as never;
    }
    eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
    status = () =>
      publishClient.status === "ready" && subscribeClient.status === "ready"
        ? "ok"
        : `unavailable: Redis is ${publishClient.status === "ready" ? subscribeClient.status : publishClient.status}`;
    close = async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    };
  }
  const shared = createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
  // A new subscription while Redis is away would never see an event (and
  // could not tell): refuse it with SERVICE_UNAVAILABLE so the client retries.
  const liveStatus = status;
  const pubsub: SaldoPubSub = {
    ...shared,
    subscribe: ((...args: Parameters<SaldoPubSub["subscribe"]>) => {
      const state = liveStatus();
      if (state !== "ok" && state !== "in process") throw new ServiceUnavailableError("live events", `live events ${state}`);
      return (shared.subscribe as (...a: typeof args) => ReturnType<SaldoPubSub["subscribe"]>)(...args);
    }) as SaldoPubSub["subscribe"],
  };
  const events: BillingEvents = {
    publish: (event) => {
      // Only what subscriptions show goes live; other events stay in the instance.
      if (event.type === "balanceChanged") pubsub.publish(`balanceChanged:${event.mandateId}`, event);
      else if (event.type === "balanceWarning") pubsub.publish(`balanceWarning:${event.mandateId}`, event);
    },
  };
  return { pubsub, events, status: () => liveStatus(), droppedEvents: () => dropped, close };
}
