// How the UI talks to Saldo: urql for queries and mutations over
// POST /graphql, graphql-sse for subscriptions (a fetch stream, which can
// carry the Authorization header that EventSource cannot). Both send the
// pasted token as a bearer token, as any client of the public API would.
import { cacheExchange, Client, fetchExchange, stringifyDocument, type TypedDocumentNode } from "@urql/core";
import { createClient as createSseClient, type Client as SseClient } from "graphql-sse";

export const GRAPHQL_PATH = "/graphql";

export function createApiClient(token: string | null): Client {
  return new Client({
    url: GRAPHQL_PATH,
    exchanges: [cacheExchange, fetchExchange],
    // Money moves behind the UI's back: show what is cached, then what is current.
    requestPolicy: "cache-and-network",
    // Saldo answers GET only with a CSRF header; POST needs nothing extra.
    preferGetMethod: false,
    fetchOptions: (): RequestInit => ({ headers: token ? { authorization: `Bearer ${token}` } : {} }),
  });
}

/** Delay before the n-th reconnection attempt: 0.5 s, 1 s, 2 s, then every 4 s. */
const backoff = (retries: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 4000)));

export function createLiveClient(token: string): SseClient {
  return createSseClient({
    url: new URL(GRAPHQL_PATH, location.href).toString(),
    // One stream per subscription (Saldo's SSE transport).
    singleConnection: false,
    headers: () => ({ authorization: `Bearer ${token}` }),
    // A dashboard keeps trying: the server may restart, the laptop may sleep.
    retryAttempts: Number.POSITIVE_INFINITY,
    retry: backoff,
  });
}

/** A typed document as the text graphql-sse sends. */
export function requestOf<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V) {
  return { query: stringifyDocument(document), variables };
}
