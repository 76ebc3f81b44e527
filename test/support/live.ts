// End-to-end helpers: the real server process (what `npm start` runs) on a
// free port, and subscription clients whose results can be awaited with a
// deadline.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient, type Client as WsClient, type ClientOptions } from "graphql-ws";
import WebSocket from "ws";

const root = path.resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  port: number;
  url: string;
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  secret: string;
  /** PostgreSQL URL; the embedded database in a fresh temporary directory otherwise. */
  databaseUrl?: string;
  redisUrl?: string;
}

/** Starts `node --import tsx src/server.ts` and waits until /health answers. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const port = await freePort();
  const dataParent = mkdtempSync(path.join(tmpdir(), "saldo-live-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    JWT_SECRET: options.secret,
    SALDO_DATA_DIR: path.join(dataParent, "data"),
  };
  // Only what this server is told: CI exports REDIS_URL for the whole suite.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  if (options.redisUrl) env.REDIS_URL = options.redisUrl;
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  void exited.then(() => rmSync(dataParent, { recursive: true, force: true }));
  const server: ServerProcess = {
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    process: child,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  try {
    await waitForHealth(server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

// A fresh embedded database takes 20-30 s to create on an idle two-core
// machine, much longer while other test files run: allow for it.
export const STARTUP_TIMEOUT_MS = 100_000;

async function waitForHealth(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${server.port}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not become healthy within ${STARTUP_TIMEOUT_MS / 1000} s:\n${server.output()}`);
}

/** A GraphQL request over HTTP; throws on GraphQL errors unless `allowErrors`. */
export async function graphql<T = any>(
  server: ServerProcess,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query}\n${JSON.stringify(body.errors)}`);
  return body.data;
}

export type Received<T> = { next: T } | { error: unknown } | { complete: true };

/** Collects what a subscription delivers; `take` waits for the next item, at most `timeoutMs`. */
export class Results<T = any> {
  private readonly items: Received<T>[] = [];
  private wake: (() => void) | undefined;

  readonly sink = {
    next: (value: T) => this.push({ next: value }),
    error: (error: unknown) => this.push({ error }),
    complete: () => this.push({ complete: true }),
  };

  private push(item: Received<T>) {
    this.items.push(item);
    this.wake?.();
  }

  async take(timeoutMs: number): Promise<Received<T> | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.items.shift();
  }

  /** Waits for a `next` item that satisfies `accept`, skipping others; fails on error, completion or timeout. */
  async until(accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const seen: unknown[] = [];
    for (;;) {
      const item = await this.take(deadline - Date.now());
      if (!item) throw new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
      if (!("next" in item)) throw new Error(`subscription ended before a matching event: ${describe(item)}; saw ${JSON.stringify(seen)}`);
      if (accept(item.next)) return item.next;
      seen.push(item.next);
    }
  }
}

function describe(item: Received<unknown>): string {
  if ("error" in item) {
    const error = item.error as { code?: number; reason?: string; message?: string };
    return `error ${JSON.stringify(item.error) ?? ""} ${error?.code ?? ""} ${error?.reason ?? error?.message ?? ""}`;
  }
  return "complete";
}

/** GraphQL error codes in whatever a subscription delivered: errors in a result, or an error list. */
export function errorCodes(item: Received<any> | undefined): string[] {
  if (!item) return [];
  const errors = "next" in item ? item.next?.errors : "error" in item && Array.isArray(item.error) ? item.error : [];
  return (errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code ?? "");
}

export interface Subscription<T> {
  results: Results<T>;
  unsubscribe(): void;
}

/** graphql-sse in "distinct connections" mode: one POST with accept: text/event-stream per subscription. */
export function subscribeOverSse<T = any>(
  server: ServerProcess,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Subscription<T> {
  const client = createSseClient({
    url: server.url,
    singleConnection: false,
    retryAttempts: 0,
    headers: { authorization: `Bearer ${token}` },
  });
  const results = new Results<T>();
  const unsubscribe = client.subscribe<T>({ query, variables }, results.sink as never);
  return {
    results,
    unsubscribe: () => {
      unsubscribe();
      client.dispose();
    },
  };
}

export function webSocketClient(
  server: ServerProcess,
  connectionParams: Record<string, unknown>,
  options: Omit<ClientOptions, "url" | "webSocketImpl" | "connectionParams"> = {},
): WsClient {
  return createWsClient({
    url: `ws://127.0.0.1:${server.port}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    ...options,
  });
}

export function subscribeOverWebSocket<T = any>(client: WsClient, query: string, variables: Record<string, unknown>): Subscription<T> {
  const results = new Results<T>();
  const unsubscribe = client.subscribe<T>({ query, variables }, results.sink as never);
  return { results, unsubscribe };
}
