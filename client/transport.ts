// One GraphQL request over HTTP, retried with exponential backoff and jitter
// (p-retry) while Saldo is out of reach or failing unexpectedly, never when
// it answered with a refusal. Every operation the client sends is safe to
// send twice: reads, writes keyed by an idempotency key the caller reuses,
// settlements keyed by their authorization, releases.
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import pRetry from "p-retry";
import { SaldoRequestError, SaldoUnavailableError, type GraphQLErrorShape } from "./errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** Delay before the first retry (default 200 ms); doubled each time, times a random 1-2 (jitter). */
  minDelayMs: number;
  /** Longest delay between two attempts (default 5 s). */
  maxDelayMs: number;
}

export interface TransportOptions {
  url: string;
  getToken: () => string | Promise<string>;
  fetch: typeof fetch;
  /** Per attempt: a request without an answer by then is abandoned and retried. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Called before each retry (logging, metrics). */
  onRetry?: (error: SaldoUnavailableError) => void;
}

export type Send = <R, V>(operation: string, document: DocumentTypeDecoration<R, V>, variables: V) => Promise<R>;

interface GraphQLResponse<R> {
  data?: R | null;
  errors?: GraphQLErrorShape[];
}

export function createTransport(options: TransportOptions): Send {
  const { retry } = options;
  return (operation, document, variables) =>
    pRetry(() => attempt(options, operation, String(document), variables), {
      retries: retry.retries,
      factor: 2,
      minTimeout: retry.minDelayMs,
      maxTimeout: retry.maxDelayMs,
      randomize: true,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (!(error instanceof SaldoUnavailableError)) return;
        error.attempts = attemptNumber;
        if (retriesLeft > 0) options.onRetry?.(error);
      },
      shouldRetry: ({ error }) => error instanceof SaldoUnavailableError,
    });
}

async function attempt<R>(options: TransportOptions, operation: string, query: string, variables: unknown): Promise<R> {
  const token = await options.getToken();
  let status: number;
  let text: string;
  try {
    // The timeout covers the body too: a response cut off midway is abandoned.
    const response = await options.fetch(options.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    const reason = timedOut ? `no answer within ${options.timeoutMs} ms` : `network error: ${describe(error)}`;
    throw new SaldoUnavailableError(operation, reason, undefined, { cause: error });
  }
  if (status >= 500 || status === 429) {
    throw new SaldoUnavailableError(operation, `HTTP ${status}: ${text.slice(0, 200)}`, status);
  }
  let body: GraphQLResponse<R>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SaldoRequestError(operation, [{ message: `not a GraphQL response (HTTP ${status}): ${text.slice(0, 200)}` }], status);
  }
  const errors = body.errors ?? [];
  // A masked exception inside Saldo: like a 5xx, worth another attempt.
  const unexpected = errors.find((e) => e.extensions?.code === "INTERNAL_SERVER_ERROR");
  if (unexpected) throw new SaldoUnavailableError(operation, `Saldo failed unexpectedly: ${unexpected.message}`, status);
  if (errors.length > 0 || body.data == null) throw new SaldoRequestError(operation, errors, status);
  return body.data;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const message = (error as Error)?.message ?? String(error);
  return cause?.code || cause?.message ? `${message} (${cause.code ?? cause.message})` : message;
}
