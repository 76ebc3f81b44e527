// Starts Saldo: configuration from the environment, then GraphQL (and
// GraphiQL) on http://localhost:$PORT/graphql, over HTTP, SSE and WebSocket.
import { createServer } from "node:http";
import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { DatabaseOpenError } from "./db/open.js";
import { MigrationError } from "./db/migrations.js";
import { serveGraphQLOverWebSocket } from "./http/ws.js";
import { LiveEventsError } from "./pubsub.js";

async function main() {
  const config = loadConfig();
  if (config.usingDevSecret) {
    console.warn("[saldo] JWT_SECRET is not set: using the development secret (never in production)");
  }
  const app = await createApp(config);
  const server = createServer(app.yoga);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, resolve);
  });
  // After listen: the WebSocket server re-emits the HTTP server's errors, and
  // a port in use should be reported once, below, not as a WebSocket failure.
  const webSocket = serveGraphQLOverWebSocket(server, { yoga: app.yoga, jwtSecret: config.JWT_SECRET });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const where = app.database.kind === "pglite" ? `embedded database in ${config.SALDO_DATA_DIR}` : "PostgreSQL";
  console.log(`[saldo] GraphQL and GraphiQL on http://localhost:${port}/graphql (${where})`);
  console.log(`[saldo] Billing UI on http://localhost:${port}/app/`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[saldo] ${signal}: shutting down`);
    await webSocket.dispose().catch((error) => console.error("[saldo] closing WebSocket connections failed:", error));
    server.closeAllConnections();
    server.close();
    await app.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error) => {
  if (error instanceof ConfigError || error instanceof DatabaseOpenError || error instanceof MigrationError || error instanceof LiveEventsError) {
    console.error(`[saldo] ${error.message}`);
  } else if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    console.error(`[saldo] Port ${(error as { port?: number }).port ?? ""} is in use: stop the other server or set PORT`);
  } else {
    console.error("[saldo] failed to start:", error);
  }
  process.exit(1);
});
