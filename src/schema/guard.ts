// Turning domain refusals into GraphQL errors for queries (mutations return
// userErrors instead, see errors.ts).
import { GraphQLError } from "graphql";
import { ForbiddenError, readableUserId } from "../auth.js";
import { BillingError } from "../billing/shared/errors.js";
import type { Context } from "../context.js";

export function forbidden(message = "You are not allowed to do this"): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });
}

/** The user whose money this caller may read in the mandate (null: all of it). */
export function readerScope(ctx: Context, mandateId: string, requestedUserId?: string | null): string | null {
  try {
    return readableUserId(ctx.caller, mandateId, requestedUserId);
  } catch (error) {
    if (error instanceof ForbiddenError) throw forbidden(error.message);
    throw error;
  }
}

/** A query's domain call: a BillingError becomes a GraphQL error with its code. */
export async function query<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BillingError) {
      throw new GraphQLError(error.message, { extensions: { code: error.code, field: error.field } });
    }
    throw error;
  }
}
