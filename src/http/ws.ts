// GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's
// port and GraphQL path, run by the same yoga instance as HTTP and SSE: same
// schema, plugins (armor, masking) and context. A client authenticates with
// connectionParams { authorization: "Bearer <token>" }.
import type { IncomingMessage, Server } from "node:http";
import { GraphQLError, type ExecutionArgs } from "graphql";
import { CloseCode, type OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { TokenVerifier } from "../auth.js";
import { authenticate } from "../context.js";
import { maskError, REQUEST_LIMITS, type SaldoYoga } from "../yoga.js";

export interface GraphQLWebSocket {
  /** Closes every connection (1001 Going away) and stops accepting new ones. */
  dispose(): Promise<void>;
}

interface ConnectionContext {
  connectionParams?: Readonly<Record<string, unknown>>;
  extra: { request: IncomingMessage };
}

/** The bearer credential of a connection: connectionParams first, the upgrade request's header otherwise. */
export function connectionAuthorization(ctx: ConnectionContext): string | null {
  const params = ctx.connectionParams ?? {};
  const value = params.authorization ?? params.Authorization ?? ctx.extra.request.headers.authorization;
  return typeof value === "string" && value !== "" ? value : null;
}

const UNEXPECTED = "Unexpected error.";

export function serveGraphQLOverWebSocket(server: Server, app: { yoga: SaldoYoga; verifyToken: TokenVerifier }): GraphQLWebSocket {
  const { yoga, verifyToken } = app;
  const sockets = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    // The same cap as an HTTP request body.
    maxPayload: REQUEST_LIMITS.maxRequestBodyBytes,
  });

  /** Errors as a client may see them: GraphQL errors pass, anything else is masked and logged. */
  const visible = (error: unknown): GraphQLError => {
    const masked = maskError(error, UNEXPECTED);
    if (masked !== error && masked.message === UNEXPECTED) yoga.logger.error(error);
    return masked instanceof GraphQLError ? masked : new GraphQLError(masked.message);
  };

  const handle = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      // No token, or a bad one: no connection (4403, the reason says why).
      onConnect: async (ctx) => {
        const authorization = connectionAuthorization(ctx);
        try {
          if (!authorization)
            throw new GraphQLError('Authentication required: send connectionParams { "authorization": "Bearer <token>" }');
          await authenticate(authorization, verifyToken);
          return true;
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          // A close reason is at most 123 bytes.
          ctx.extra.socket.close(CloseCode.Forbidden, `UNAUTHENTICATED: ${error.message}`.slice(0, 120));
          return false;
        }
      },
      // yoga's recipe: yoga runs parse, validate, context, execute and subscribe.
      execute: (args) => (args.rootValue as YogaRoot).execute(args),
      subscribe: (args) => (args.rootValue as YogaRoot).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          // Read by the context factory in src/yoga.ts in place of a request header.
          authorization: connectionAuthorization(ctx),
        });
        try {
          const document = enveloped.parse(params.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
          const args: ExecutionArgs = {
            schema: enveloped.schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            // Authenticates the token again, so one that expired since the connection opened is refused here.
            contextValue: await enveloped.contextFactory(),
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies YogaRoot,
          };
          return args;
        } catch (error) {
          // A syntax error or a refused token ends this operation, not the connection.
          return [visible(error)];
        }
      },
      // Errors that escaped execution (a failing event source) are masked like HTTP's.
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => visible(error).toJSON()),
    },
    sockets,
  );

  return {
    dispose: () => handle.dispose() as Promise<void>,
  };
}

interface YogaRoot {
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}
