// The baseline of `npm run bench:http`: graphql-yoga (the project's own
// version) with its defaults, a schema that answers `{ __typename }`, on plain
// node:http, in a process of its own like Saldo. PORT from the environment;
// prints "listening on <port>" once it accepts connections.
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query {
        ok: Boolean
      }
    `,
  }),
});
const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : "?"}`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
