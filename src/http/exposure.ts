// What the API shows a stranger in production: no map of the schema.
// Introspection needs a token (any valid one: every caller may read the
// schema it uses), GraphiQL is served only when GRAPHIQL=true, and no error
// message suggests names ("Did you mean ...") of fields, arguments, input
// fields or enum values. In development all three stay open for GraphiQL.
import { GraphQLError, visit, type DocumentNode, type ExecutionResult } from "graphql";
import { usePayloadFormatter, type Plugin } from "graphql-yoga";

/** Every "Did you mean ...?" graphql-js adds: fields, arguments, input fields, types, enum values. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, "");
}

function stripSuggestions<E extends { message: string }>(errors: readonly E[]): E[] {
  for (const error of errors) {
    const message = withoutSuggestions(error.message);
    // graphql-js errors' message is writable; the error keeps its locations and extensions.
    if (message !== error.message) error.message = message;
  }
  return [...errors];
}

/**
 * Strips suggestions from validation errors and from execution results
 * (variables that do not coerce are reported there, with suggestions of
 * their own), over HTTP, SSE and WebSocket alike.
 */
export function useNoSuggestions(): Plugin {
  return {
    onValidate:
      () =>
      ({ valid, result, setResult }) => {
        if (!valid) setResult(stripSuggestions(result));
      },
    ...usePayloadFormatter((result: ExecutionResult) => (result.errors ? { ...result, errors: stripSuggestions(result.errors) } : false)),
  } as Plugin;
}

function selectsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === "__schema" || node.name.value === "__type") found = true;
    },
  });
  return found;
}

/** Refuses __schema and __type to a caller without a token, before anything runs. */
export function useIntrospectionNeedsCaller(): Plugin<{ caller?: unknown }> {
  const check = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { document: DocumentNode; contextValue: { caller?: unknown } };
    setResultAndStopExecution: (result: ExecutionResult) => void;
  }) => {
    if (args.contextValue.caller || !selectsIntrospection(args.document)) return;
    setResultAndStopExecution({
      errors: [
        new GraphQLError("Introspection needs a token: send Authorization: Bearer <token>", {
          extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
        }),
      ],
    });
  };
  return { onExecute: check, onSubscribe: check } as Plugin<{ caller?: unknown }>;
}
