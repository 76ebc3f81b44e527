// Every text and list a caller sends, checked once, before any resolver
// runs: a Pothos plugin wraps each field that takes arguments and walks its
// resolved arguments (variables and literals alike) against their GraphQL
// types. Text must be storable (no NUL, no lone surrogate) and within its
// length (identifiers by name, src/billing/shared/validation.ts); lists at
// most 100 entries (notifyEmails 20). A refusal is VALIDATION_FAILED with the
// path of the field: a userError of a mutation's payload, a GraphQL error
// (extensions.code, extensions.field) elsewhere. Nothing runs, nothing is written.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLResolveInfo,
} from "graphql";
import { fieldName, IDENTIFIER_MAX_LENGTH, unstorableText } from "../billing/shared/validation.js";
import { MAX_USAGES_PER_CALL } from "../billing/usage/record.js";

/** The longest value of a text input, by the name of its argument or input field (list entries by the list's name). */
export const MAX_LENGTH_BY_NAME: Record<string, number> = {
  mandateId: IDENTIFIER_MAX_LENGTH.mandateId,
  userId: IDENTIFIER_MAX_LENGTH.userId,
  idempotencyKey: IDENTIFIER_MAX_LENGTH.idempotencyKey,
  provider: IDENTIFIER_MAX_LENGTH.provider,
  providers: IDENTIFIER_MAX_LENGTH.provider,
  allowedProviders: IDENTIFIER_MAX_LENGTH.provider,
  model: IDENTIFIER_MAX_LENGTH.model,
  featureCode: IDENTIFIER_MAX_LENGTH.featureCode,
  featureCodes: IDENTIFIER_MAX_LENGTH.featureCode,
  workflowId: IDENTIFIER_MAX_LENGTH.reference,
  featureInstanceId: IDENTIFIER_MAX_LENGTH.reference,
  referenceId: IDENTIFIER_MAX_LENGTH.reference,
  search: 200,
};
/** Any other value of type ID: ids Saldo made. */
export const MAX_ID_LENGTH = IDENTIFIER_MAX_LENGTH.id;
/** Any other text (free text is at most 500 once trimmed, checked by the domain; URLs need more). */
export const MAX_TEXT_LENGTH = 2000;

/** Most entries of a list input, by name; every other list at most MAX_LIST_ENTRIES. */
export const MAX_ENTRIES_BY_NAME: Record<string, number> = { notifyEmails: 20, inputs: MAX_USAGES_PER_CALL };
export const MAX_LIST_ENTRIES = 100;

/**
 * Lists whose entries are judged one by one by their field (entryProblems):
 * recordUsages' inputs, where a bad usage is refused alone and never fails
 * the others. Only their length is checked before the field runs.
 */
const ENTRIES_JUDGED_ALONE = new Set(["inputs"]);

export interface InputProblem {
  message: string;
  field: string[];
}

/** The first problem of a value of `type` at `path`, or null. */
export function inputProblem(value: unknown, type: GraphQLInputType, path: string[], name: string): InputProblem | null {
  if (value === null || value === undefined) return null;
  if (isNonNullType(type)) return inputProblem(value, type.ofType, path, name);
  if (isListType(type)) {
    if (!Array.isArray(value)) return inputProblem(value, type.ofType, path, name);
    const max = MAX_ENTRIES_BY_NAME[name] ?? MAX_LIST_ENTRIES;
    if (value.length > max) return { message: `${name} has ${value.length} entries; at most ${max} are allowed`, field: path };
    if (ENTRIES_JUDGED_ALONE.has(name) && path.length === 1) return null;
    for (const [i, item] of value.entries()) {
      const problem = inputProblem(item, type.ofType, [...path, String(i)], name);
      if (problem) return problem;
    }
    return null;
  }
  if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) {
      const problem = inputProblem((value as Record<string, unknown>)[field.name], field.type, [...path, field.name], field.name);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value !== "string") return null; // numbers, booleans, enums, Decimal, dates: their scalars parsed them
  const unstorable = unstorableText(value);
  if (unstorable) return { message: `${fieldName(path)} ${unstorable}`, field: path };
  const max = MAX_LENGTH_BY_NAME[name] ?? (type.name === "ID" ? MAX_ID_LENGTH : MAX_TEXT_LENGTH);
  if (value.length > max) return { message: `${fieldName(path)} is longer than ${max} characters`, field: path };
  return null;
}

/** The problem of each entry of a list argument whose entries are judged alone (ENTRIES_JUDGED_ALONE), or null. */
export function entryProblems(info: GraphQLResolveInfo, argument: string, entries: readonly unknown[]): (InputProblem | null)[] {
  const type = getNullableType(info.parentType.getFields()[info.fieldName].args.find((arg) => arg.name === argument)!.type);
  if (!isListType(type)) throw new Error(`${info.fieldName}(${argument}) is not a list`);
  return entries.map((entry, i) => inputProblem(entry, type.ofType as GraphQLInputType, [argument, String(i)], argument));
}

function argumentsProblem(args: Record<string, unknown>, info: GraphQLResolveInfo): InputProblem | null {
  for (const arg of info.parentType.getFields()[info.fieldName].args) {
    const problem = inputProblem(args[arg.name], arg.type, [arg.name], arg.name);
    if (problem) return problem;
  }
  return null;
}

/** A mutation payload answers with its userErrors; any other field with a GraphQL error. */
function refusal(problem: InputProblem, info: GraphQLResolveInfo) {
  const returned = getNamedType(info.returnType);
  if (isObjectType(returned) && "userErrors" in returned.getFields()) {
    return { userErrors: [{ code: "VALIDATION_FAILED" as const, message: problem.message, field: problem.field }] };
  }
  throw new GraphQLError(problem.message, { extensions: { code: "VALIDATION_FAILED", field: problem.field } });
}

export class InputChecksPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    return (parent, args, context, info) => {
      const problem = argumentsProblem(args as Record<string, unknown>, info);
      return problem ? refusal(problem, info) : resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types["Context"], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> | undefined {
    if (!subscribe || Object.keys(fieldConfig.args).length === 0) return subscribe;
    return (parent, args, context, info) => {
      const problem = argumentsProblem(args as Record<string, unknown>, info);
      if (problem) throw new GraphQLError(problem.message, { extensions: { code: "VALIDATION_FAILED", field: problem.field } });
      return subscribe(parent, args, context, info);
    };
  }
}

const pluginName = "inputChecks";
SchemaBuilder.registerPlugin(pluginName, InputChecksPlugin);
export default pluginName;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputChecks: InputChecksPlugin<Types>;
    }
  }
}
