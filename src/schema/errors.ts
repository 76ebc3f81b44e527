// Errors a caller can act on are data: every mutation payload carries
// userErrors { code message field }. A BillingError thrown by the domain
// (which rolled its transaction back) becomes one; anything else propagates
// and is masked by yoga.
import { BillingError, USER_ERROR_CODES } from "../billing/shared/errors.js";
import { builder } from "../builder.js";
import { IN_MEMORY } from "./cost.js";

export const UserErrorCode = builder.enumType("UserErrorCode", { values: USER_ERROR_CODES });

export interface UserErrorShape {
  code: UserErrorCodeValue;
  message: string;
  field?: string[];
}
type UserErrorCodeValue = BillingError["code"];

export const UserError = builder.objectRef<UserErrorShape>("UserError").implement({
  fields: (t) => ({
    code: t.field({ type: UserErrorCode, resolve: (error) => error.code }),
    message: t.exposeString("message"),
    field: t.stringList({
      nullable: true,
      description: 'Path of the offending input field, e.g. ["input", "amount"].',
      resolve: (error) => error.field ?? null,
    }),
  }),
});

export type Payload<T> = Partial<T> & { userErrors: UserErrorShape[] };

/** Plain data: graphql-js treats an Error object in a result as a thrown error. */
export function userError(error: BillingError): UserErrorShape {
  return { code: error.code, message: error.message, field: error.field };
}

/** Runs a mutation's domain call; a BillingError becomes the payload's userErrors. */
export async function payload<T extends object>(work: () => Promise<T>): Promise<Payload<T>> {
  try {
    return { ...(await work()), userErrors: [] };
  } catch (error) {
    if (error instanceof BillingError) return { userErrors: [userError(error)] } as Payload<T>;
    throw error;
  }
}

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer S> ? S : never;

/** Declares a payload type: the given nullable fields plus userErrors. */
export function payloadType<T extends object>(
  name: string,
  fields: (
    t: PothosSchemaTypes.ObjectFieldBuilder<Types, Payload<T>>,
  ) => Record<string, PothosSchemaTypes.FieldRef<Types, unknown, "Object">>,
) {
  return builder.objectRef<Payload<T>>(name).implement({
    fields: (t) => ({
      ...fields(t),
      userErrors: t.field({ type: [UserError], complexity: IN_MEMORY, resolve: (p) => p.userErrors }),
    }),
  });
}
