// What a query may cost, counted before it runs, from the document AND its
// variables (Pothos' complexity plugin evaluates each field's cost with its
// resolved arguments, so `first: $n` counts as much as `first: 100`).
//
// The unit is roughly one database read: a field that returns an object
// costs 1, a scalar nothing, a list of rows 1 + n, and a list multiplies the
// cost of what each of its items selects by n (its page size). One full page
// of any list is cheap; a list inside the items of another list multiplies,
// and that is what the limit is for.
import { createComplexityRule, type FieldComplexityValue } from "@pothos/plugin-complexity";
import {
  getNamedType,
  GraphQLError,
  isLeafType,
  isListType,
  isNonNullType,
  validate,
  type DocumentNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
} from "graphql";
import type { Plugin } from "graphql-yoga";

/** Above this estimated cost a request is refused before it runs. */
export const MAX_QUERY_COST = 5000;

/** The estimate of a list whose length no argument bounds. */
export const DEFAULT_LIST_ESTIMATE = 20;

/** What the cost estimate notes while it runs, for the refusal message. */
interface CostNotes {
  lists: string[];
}

/** A list of n rows: one query, n rows, and n times what each row selects. */
export function rows(n: number, ctx?: unknown, field?: { name: string }): FieldComplexityValue {
  const notes = (ctx as { costNotes?: CostNotes } | undefined)?.costNotes;
  if (notes && field && n > 1) notes.lists.push(`${field.name} (${n})`);
  return { field: 1 + n, multiplier: n };
}

/** Fields computed from what their parent already holds: no read. */
export const IN_MEMORY: FieldComplexityValue = { field: 0, multiplier: 1 };

/** The cost of a field that declares none: scalars nothing, an object 1, a list of objects an estimated page of rows. */
export function defaultFieldCost<C>(_args: object, ctx: C, field: GraphQLField<unknown, C>): FieldComplexityValue {
  if (isLeafType(getNamedType(field.type))) return 0;
  return returnsList(field.type) ? rows(DEFAULT_LIST_ESTIMATE, ctx, field) : 1;
}

function returnsList(type: GraphQLOutputType): boolean {
  return isListType(type) || (isNonNullType(type) && isListType(type.ofType));
}

export interface QueryCost {
  cost: number;
  /** The lists that multiplied it, in document order, e.g. "transactions (100)". */
  lists: string[];
}

/** The estimated cost of the operation a request runs, with its variables. */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  operationName?: string | null,
): QueryCost | null {
  const costNotes: CostNotes = { lists: [] };
  let result: QueryCost | null = null;
  const rule = createComplexityRule({
    context: { costNotes },
    variableValues: variables ?? {},
    operationName: operationName ?? undefined,
    validate: ({ complexity }) => {
      result = { cost: complexity, lists: costNotes.lists };
    },
  });
  // Only the rule's own verdict counts: unknown operations or variables
  // that do not fit are left to execution, which reports them as usual.
  validate(schema, document, [rule]);
  return result;
}

/** The refusal, saying what to reduce. */
export function costError({ cost, lists }: QueryCost, max: number): GraphQLError {
  const multiplied = [...new Set(lists)];
  return new GraphQLError(
    `Query cost ${cost} is over the limit of ${max}. A list costs its page size (first) times what each item selects, ` +
      `so lists inside the items of other lists multiply${multiplied.length ? `; the lists here: ${multiplied.join(", ")}` : ""}. ` +
      "Ask for fewer items per page (first), or read the inner list for one item at a time.",
    {
      extensions: {
        code: "GRAPHQL_VALIDATION_FAILED",
        cost: { estimated: cost, limit: max },
        // Like the other validation errors: 400 under application/graphql-response+json, 200 under application/json.
        http: { status: 400, spec: true },
      },
    },
  );
}

/**
 * Refuses an operation whose estimated cost is over `maxCost` before it runs.
 * It runs after validation, where the variables are known (validation
 * results are cached per document, so a variable-dependent rule cannot live
 * there); HTTP, SSE and WebSocket operations all pass through here.
 */
export function useQueryCost(maxCost: number = MAX_QUERY_COST): Plugin {
  const check = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: Record<string, unknown> | null; operationName?: string | null };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const estimate = queryCost(args.schema, args.document, args.variableValues, args.operationName);
    if (estimate && estimate.cost > maxCost) setResultAndStopExecution({ errors: [costError(estimate, maxCost)] });
  };
  return { onExecute: check, onSubscribe: check } as Plugin;
}
