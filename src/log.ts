// The process's logger: JSON lines (pino) on stdout, one object per line,
// readable by any log pipeline; pretty, coloured lines only for a person at
// a terminal (stdout is a TTY) or when LOG_FORMAT=pretty. LOG_LEVEL sets
// the threshold (default info).
//
// A leaf module: it imports nothing from Saldo, so every layer, the billing
// domain included, may log through it without depending on an edge.
//
// Every line written while a request is handled carries its request id
// (`reqId`): src/server.ts runs each request inside `withRequestId`, and the
// logger mixes the id in, whichever module logs.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The header a caller (or a proxy) may set to trace its request; Saldo returns it on the response. */
export const REQUEST_ID_HEADER = "x-request-id";

const requestScope = new AsyncLocalStorage<{ reqId: string }>();

/** An incoming id is kept when it is a short token (no spaces, no control characters); otherwise a new one is made. */
export function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && /^[\w.:@/+=-]{1,128}$/.test(incoming) ? incoming : randomUUID();
}

/** Runs `work` as the handling of one request: every log line written meanwhile carries `reqId`. */
export function withRequestId<T>(reqId: string, work: () => T): T {
  return requestScope.run({ reqId }, work);
}

/** The id of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.reqId;
}

export interface LogSettings {
  level?: string;
  format?: string;
  /** Where lines go (tests); stdout by default. */
  destination?: DestinationStream;
}

/** The settings from the environment: LOG_LEVEL, LOG_FORMAT (json or pretty; default pretty only on a terminal). */
export function logSettingsFrom(env: NodeJS.ProcessEnv = process.env): Required<Omit<LogSettings, "destination">> {
  const level = (LOG_LEVELS as readonly string[]).includes(env.LOG_LEVEL ?? "") ? env.LOG_LEVEL! : "info";
  const format = (LOG_FORMATS as readonly string[]).includes(env.LOG_FORMAT ?? "")
    ? env.LOG_FORMAT!
    : process.stdout.isTTY
      ? "pretty"
      : "json";
  return { level, format };
}

export function createLogger(settings: LogSettings = {}): Logger {
  const { level, format } = { ...logSettingsFrom(), ...settings };
  const options: LoggerOptions = {
    level,
    base: { service: "saldo" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Levels as words ("info"), not pino's numbers: what a reader and most pipelines expect.
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => requestScope.getStore() ?? {},
    // A credential must never reach a log line, wherever it was put by mistake.
    redact: { paths: ["authorization", "*.authorization", "headers.authorization", "token", "*.token"], censor: "[redacted]" },
  };
  if (settings.destination) return pino(options, settings.destination);
  if (format === "pretty") {
    // In-process and synchronous (no worker thread): lines appear in order with the process's other output.
    // Loaded only here: a server writing JSON never needs it.
    const pretty = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
    return pino(options, pretty({ colorize: process.stdout.isTTY, sync: true, ignore: "pid,hostname,service" }));
  }
  return pino(options, pino.destination({ sync: true }));
}

/** The process's logger; modules take a child with their name: `log.child({ module: "notify" })`. */
export const log: Logger = createLogger();
