// What can go wrong when the gateway talks to Saldo, as classes a caller can
// catch by kind: a refusal it can act on (userErrors), a denial of the call
// with the check that decided it, a request Saldo rejected (GraphQL errors),
// Saldo out of reach after every retry, and a hold left open after the call.
import type { UserErrorCode } from "./generated/graphql.js";
import type { CheckResult, Decimal, SettleInput, UserError } from "./types.js";

export class SaldoError extends Error {
  override name = "SaldoError";
}

/** Saldo refused the operation with userErrors; nothing was written. Never retried. */
export class SaldoUserError extends SaldoError {
  override name = "SaldoUserError";
  readonly code: UserErrorCode;
  readonly field: string[] | null;
  constructor(
    readonly operation: string,
    readonly userErrors: UserError[],
  ) {
    const [first] = userErrors;
    super(`${operation}: ${first.code}: ${first.message}`);
    this.code = first.code;
    this.field = first.field;
  }
}

/** authorize (or guard) was denied: the call may not run. `check` says why and what the account has. */
export class BillingDeniedError extends SaldoUserError {
  override name = "BillingDeniedError";
  constructor(
    operation: string,
    userErrors: UserError[],
    readonly check: CheckResult,
  ) {
    super(operation, userErrors);
  }
}

/** What the account may still spend does not cover the estimate. */
export class InsufficientBalanceError extends BillingDeniedError {
  override name = "InsufficientBalanceError";
}

/** The mandate may not use this provider (its settings' allowedProviders). */
export class ProviderNotAllowedError extends BillingDeniedError {
  override name = "ProviderNotAllowedError";
}

/** The account that would pay is disabled. */
export class AccountDisabledError extends BillingDeniedError {
  override name = "AccountDisabledError";
}

const DENIALS = {
  INSUFFICIENT_BALANCE: InsufficientBalanceError,
  PROVIDER_NOT_ALLOWED: ProviderNotAllowedError,
  ACCOUNT_DISABLED: AccountDisabledError,
} as const;

/** The typed denial for a refused authorization, or a plain SaldoUserError for other refusals. */
export function refusal(operation: string, userErrors: UserError[], check: CheckResult | null | undefined): SaldoUserError {
  const denial = check && !check.allowed && check.reason ? DENIALS[check.reason] : undefined;
  return denial ? new denial(operation, userErrors, check!) : new SaldoUserError(operation, userErrors);
}

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * Saldo answered with GraphQL errors: the token is missing or invalid
 * (UNAUTHENTICATED), the caller may not do this (FORBIDDEN), or the document
 * or its variables are invalid. Never retried: the same request would fail again.
 */
export class SaldoRequestError extends SaldoError {
  override name = "SaldoRequestError";
  readonly code: string | undefined;
  constructor(
    readonly operation: string,
    readonly errors: GraphQLErrorShape[],
    readonly status: number,
  ) {
    super(`${operation}: ${errors.map((e) => (e.extensions?.code ? `${e.extensions.code}: ${e.message}` : e.message)).join("; ")}`);
    this.code = errors[0]?.extensions?.code;
  }
}

/**
 * Saldo could not be reached or failed unexpectedly (a network error, a
 * timeout, HTTP 5xx or 429, an INTERNAL_SERVER_ERROR): retried; thrown when
 * the retries are used up.
 */
export class SaldoUnavailableError extends SaldoError {
  override name = "SaldoUnavailableError";
  /** Requests sent for this operation, the first included. */
  attempts = 1;
  constructor(
    readonly operation: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${message}`, options);
  }
}

/**
 * The AI call ran (or failed) but its hold could not be closed: Saldo was out
 * of reach, or refused the settlement. Nothing is lost silently: `pending`
 * is exactly what to pass to `client.settle(...)` later (a settle is keyed by
 * the authorization, so sending it again never books twice); `result` is what
 * the call returned. A hold that is never closed expires (Saldo's
 * HOLD_EXPIRY_SECONDS) and frees the reserved amount, but then the call is
 * not billed: record it with recordUsage instead.
 */
export class UnsettledHoldError<R = unknown> extends SaldoError {
  override name = "UnsettledHoldError";
  readonly authorizationId: string;
  /** "settle": the call ran and its cost is not booked yet; "release": the call failed and its hold is still active. */
  readonly action: "settle" | "release";
  /** The settlement to send again (action "settle"). */
  readonly pending: SettleInput | null;
  /** What the guarded function returned (action "settle"). */
  readonly result: R | undefined;
  /** What the guarded function threw (action "release"). */
  readonly callError: unknown;
  /** The estimate held for the call. */
  readonly heldAmount: Decimal;

  constructor(details: {
    action: "settle" | "release";
    authorizationId: string;
    heldAmount: Decimal;
    pending?: SettleInput;
    result?: R;
    callError?: unknown;
    cause: unknown;
  }) {
    const what = details.action === "settle" ? "the call's usage is not booked" : "the failed call's hold is still active";
    super(
      `hold ${details.authorizationId} could not be ${details.action}d: ${what} (${(details.cause as Error)?.message ?? details.cause})`,
      {
        cause: details.cause,
      },
    );
    this.action = details.action;
    this.authorizationId = details.authorizationId;
    this.heldAmount = details.heldAmount;
    this.pending = details.pending ?? null;
    this.result = details.result;
    this.callError = details.callError;
  }
}
