// Starts Saldo: configuration from the environment, then GraphQL (and
// GraphiQL) on http://localhost:$PORT/graphql, over HTTP, SSE and WebSocket.
//
// On SIGTERM (or SIGINT) it drains, in this order: /ready turns 503 (load
// balancers stop sending), the listener closes (no new connections), open
// subscriptions complete (SSE streams end, WebSocket connections close with
// 1001), requests in flight finish (at most SHUTDOWN_GRACE_MS, then their
// connections are cut), then the background jobs and the database close and
// the process exits 0 (1 if requests had to be cut). src/http/drain.ts says
// why this is not stoppable/terminus.
import { createServer, type Server } from "node:http";
import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { DatabaseOpenError } from "./db/open.js";
import { MigrationError } from "./db/migrations.js";
import { drainable } from "./http/drain.js";
import { serveGraphQLOverWebSocket } from "./http/ws.js";
import { log, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from "./log.js";
import { serveMetrics } from "./metrics.js";
import { LiveEventsError } from "./pubsub.js";

const serverLog = log.child({ module: "server" });

async function main() {
  const config = loadConfig();
  if (config.usingDevSecret) {
    serverLog.warn("JWT_SECRET is not set: using the development secret (never in production)");
  }
  const app = await createApp(config);
  // Each request runs in its own log scope: every line written for it carries its id.
  const server = createServer((req, res) => {
    const header = req.headers[REQUEST_ID_HEADER];
    const reqId = requestIdFrom(Array.isArray(header) ? header[0] : header);
    // Here too, for the answers yoga gives before any plugin runs (/health).
    res.setHeader(REQUEST_ID_HEADER, reqId);
    withRequestId(reqId, () => app.yoga(req, res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, resolve);
  });
  // After listen: the WebSocket server re-emits the HTTP server's errors, and
  // a port in use should be reported once, below, not as a WebSocket failure.
  const webSocket = serveGraphQLOverWebSocket(server, { yoga: app.yoga, verifyToken: app.verifyToken });
  const metricsServer =
    config.METRICS_PORT !== undefined ? await serveMetrics(app.metrics, config.METRICS_PORT, config.METRICS_TOKEN) : null;
  const port = portOf(server) ?? config.PORT;
  const where = app.database.kind === "pglite" ? `embedded database in ${config.SALDO_DATA_DIR}` : "PostgreSQL";
  serverLog.info(
    {
      port,
      database: app.database.kind,
      readyMs: Math.round(process.uptime() * 1000),
      ...(metricsServer ? { metricsPort: portOf(metricsServer) } : {}),
    },
    `GraphQL and GraphiQL on http://localhost:${port}/graphql (${where}); billing UI on http://localhost:${port}/app/`,
  );

  const http = drainable(server);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    // A last resort should something below hang: the process must end.
    setTimeout(() => {
      serverLog.error("shutdown did not finish in time: exiting");
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 15_000).unref();
    app.beginShutdown();
    serverLog.info(
      { signal, inFlight: http.inFlight(), subscriptions: app.streams.count(), graceMs: config.SHUTDOWN_GRACE_MS },
      "shutting down: not ready, draining",
    );
    // Stops accepting at once; resolves when every request is answered (or cut at the grace's end).
    const drained = http.drain(config.SHUTDOWN_GRACE_MS);
    app.streams.endAll();
    // A moment for graphql-ws to send each ended subscription's `complete` before the 1001 close.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closingSockets = webSocket.dispose().catch((error) => serverLog.error({ err: error }, "closing WebSocket connections failed"));
    metricsServer?.close();
    const { cut } = await drained;
    await closingSockets;
    if (cut > 0) serverLog.error({ cut }, `requests still running after SHUTDOWN_GRACE_MS (${config.SHUTDOWN_GRACE_MS} ms) were cut`);
    serverLog.info({ drainMs: Date.now() - started }, "HTTP drained; stopping background jobs and the database");
    try {
      await app.close();
    } catch (error) {
      serverLog.error({ err: error }, "closing failed");
      process.exit(1);
    }
    serverLog.info({ shutdownMs: Date.now() - started }, "stopped");
    process.exit(cut > 0 ? 1 : 0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

function portOf(server: Server): number | undefined {
  const address = server.address();
  return typeof address === "object" && address ? address.port : undefined;
}

main().catch((error) => {
  if (
    error instanceof ConfigError ||
    error instanceof DatabaseOpenError ||
    error instanceof MigrationError ||
    error instanceof LiveEventsError
  ) {
    serverLog.fatal(error.message);
  } else if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    serverLog.fatal(`Port ${(error as { port?: number }).port ?? ""} is in use: stop the other server or set PORT (or METRICS_PORT)`);
  } else {
    serverLog.fatal({ err: error }, "failed to start");
  }
  process.exit(1);
});
