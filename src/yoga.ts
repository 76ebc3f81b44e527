// The GraphQL server as a fetch handler: schema, per-request context and
// plugins. Tests call yoga.fetch directly; src/server.ts puts it on a port.
import { createYoga, useReadinessCheck, type YogaServerInstance } from "graphql-yoga";
import { createContext, type AppServices, type Context } from "./context.js";
import { schema } from "./schema/index.js";

export type SaldoYoga = YogaServerInstance<Record<string, unknown>, Context>;

export function createSaldoYoga(services: AppServices & { ping(): Promise<void> }): SaldoYoga {
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    // yoga's own /health only says the process runs; ours asks the database.
    healthCheckEndpoint: "/live",
    landingPage: false,
    graphiql: {
      title: "Saldo",
      defaultQuery: "# Paste a token from `npm run token -- --role SYSADMIN` into Headers:\n# { \"Authorization\": \"Bearer <token>\" }\n\n{\n  viewer { userId roles mandateIds }\n}\n",
    },
    context: ({ request }) => createContext(services, request.headers.get("authorization")),
    plugins: [
      useReadinessCheck({
        endpoint: "/health",
        check: async () => {
          await services.ping();
        },
      }),
    ],
  });
}
