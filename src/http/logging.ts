// Logging of the HTTP side: yoga's own messages through the process's
// logger, and one line per request with its id, the GraphQL operation, the
// caller (roles and mandates, never the token) and the time it took. The id
// comes from an incoming `x-request-id` when it is a sane token, otherwise
// it is made here; either way the response carries it back.
import { getOperationAST, type OperationTypeNode } from "graphql";
import type { Plugin, YogaLogger } from "graphql-yoga";
import type { Caller } from "../auth.js";
import { currentRequestId, REQUEST_ID_HEADER, requestIdFrom, type Logger } from "../log.js";

/** yoga's logger interface over a pino logger; an Error as first argument is logged as `err` with its stack. */
export function yogaLogger(logger: Logger): YogaLogger {
  const at =
    (level: "debug" | "info" | "warn" | "error") =>
    (...args: unknown[]) => {
      const [first, ...rest] = args;
      if (first instanceof Error) {
        logger[level]({ err: first }, rest.length > 0 ? rest.map(String).join(" ") : first.message);
      } else {
        logger[level](args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
      }
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

interface RequestEntry {
  reqId: string;
  started: number;
  operationName?: string;
  operationType?: OperationTypeNode;
  caller?: Caller | null;
}

/** Probes and scrapes are logged at debug: one line every few seconds from each load balancer tells nothing. */
const QUIET_PATHS = new Set(["/health", "/ready", "/metrics"]);

export function useRequestLog(logger: Logger): Plugin<{ request?: Request; caller?: Caller | null }> {
  const requests = new WeakMap<Request, RequestEntry>();
  const noteOperation = (args: {
    contextValue: { request?: Request; caller?: Caller | null };
    operationName?: string | null;
    document: Parameters<typeof getOperationAST>[0];
  }) => {
    const entry = args.contextValue.request ? requests.get(args.contextValue.request) : undefined;
    if (!entry) return;
    const operation = getOperationAST(args.document, args.operationName ?? undefined);
    entry.operationName = args.operationName ?? operation?.name?.value ?? "anonymous";
    entry.operationType = operation?.operation;
    entry.caller = args.contextValue.caller;
  };
  return {
    onRequest({ request }) {
      // The server has put the request in its scope already (src/server.ts); yoga.fetch in tests has not.
      const reqId = currentRequestId() ?? requestIdFrom(request.headers.get(REQUEST_ID_HEADER));
      requests.set(request, { reqId, started: performance.now() });
    },
    onExecute({ args }) {
      noteOperation(args);
    },
    onSubscribe({ args }) {
      noteOperation(args);
    },
    onResponse({ request, response }) {
      const entry = requests.get(request);
      if (!entry) return;
      response.headers.set(REQUEST_ID_HEADER, entry.reqId);
      const url = new URL(request.url, "http://saldo");
      const line = {
        reqId: entry.reqId,
        method: request.method,
        path: url.pathname,
        status: response.status,
        durationMs: Math.round((performance.now() - entry.started) * 10) / 10,
        ...(entry.operationName ? { operationName: entry.operationName, operationType: entry.operationType } : {}),
        ...(entry.caller ? { roles: entry.caller.roles, mandateIds: entry.caller.mandateIds } : {}),
      };
      if (QUIET_PATHS.has(url.pathname)) logger.debug(line, "request");
      else logger.info(line, "request");
    },
  };
}
