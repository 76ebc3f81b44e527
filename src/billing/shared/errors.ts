// Errors a caller can act on. The API turns them into userErrors; inside a
// database transaction, throwing one rolls back everything written so far.
export const USER_ERROR_CODES = [
  "VALIDATION_FAILED",
  "INVALID_AMOUNT",
  "INSUFFICIENT_BALANCE",
  "PROVIDER_NOT_ALLOWED",
  "ACCOUNT_DISABLED",
  "NOT_FOUND",
  "AUTHORIZATION_NOT_ACTIVE",
  "IDEMPOTENCY_CONFLICT",
  "BILLING_ADDRESS_REQUIRED",
  "UNKNOWN_PRICE",
] as const;

export type UserErrorCode = (typeof USER_ERROR_CODES)[number];

export class BillingError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
    /** Path of the offending input field, e.g. ["input", "amount"]. */
    readonly field?: string[],
  ) {
    super(message);
    this.name = "BillingError";
  }
}

export function notFound(what: string, field?: string[]): BillingError {
  return new BillingError("NOT_FOUND", `${what} not found`, field);
}

export function validation(message: string, field?: string[]): BillingError {
  return new BillingError("VALIDATION_FAILED", message, field);
}
