// Subscriptions that a shutdown can end politely: every subscription's
// event stream is wrapped so that endAll() completes it as if it had run
// out of events. Over SSE the client then receives yoga's `complete` event
// and the response ends; over WebSocket graphql-ws sends `complete` for it
// before the connection is closed with 1001.
import type { Plugin } from "graphql-yoga";

export interface OpenStreams {
  plugin: Plugin;
  /** Completes every open subscription, and every one started from now on. */
  endAll(): void;
  /** How many subscriptions are open. */
  count(): number;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export function trackStreams(): OpenStreams {
  const open = new Set<() => void>();
  let ended = false;

  /** The source's events until it ends or endAll() is called, whichever comes first. */
  function endable<T>(source: AsyncIterable<T>): AsyncIterableIterator<T> {
    const iterator = source[Symbol.asyncIterator]();
    let end!: () => void;
    const endedHere = new Promise<IteratorResult<T>>((resolve) => {
      end = () => {
        open.delete(end);
        resolve(DONE);
        // Stops the source too (unsubscribes from the pubsub).
        void iterator.return?.();
      };
    });
    open.add(end);
    if (ended) end();
    return {
      next: () => Promise.race([iterator.next(), endedHere]),
      return: async (value?: unknown) => {
        open.delete(end);
        return (await iterator.return?.(value as T)) ?? { done: true, value: value as T };
      },
      throw: async (error?: unknown) => {
        open.delete(end);
        if (iterator.throw) return iterator.throw(error);
        throw error;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    plugin: {
      onSubscribe() {
        return {
          onSubscribeResult({ result, setResult }) {
            if (isAsyncIterable(result)) setResult(endable(result) as typeof result);
          },
        };
      },
    },
    endAll() {
      ended = true;
      for (const end of [...open]) end();
    },
    count: () => open.size,
  };
}
