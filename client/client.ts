// The gateway's client: Saldo's gateway operations, typed from the schema,
// and guard(), which wraps one AI call in authorize -> call -> settle (or
// release) so a gateway never writes that choreography itself.
import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { refusal, SaldoError, SaldoUserError, UnsettledHoldError, type SaldoUnavailableError } from "./errors.js";
import {
  AuthorizeDocument,
  CheckDocument,
  QuoteDocument,
  RecordDocument,
  RecordManyDocument,
  ReleaseDocument,
  SettleDocument,
  type UserErrorFieldsFragment,
} from "./generated/graphql.js";
import { createTransport, type RetryPolicy, type Send } from "./transport.js";
import type {
  AuthorizeInput,
  AuthorizeResult,
  Booking,
  CallTarget,
  CheckInput,
  CheckResult,
  Decimal,
  Estimate,
  GuardInput,
  GuardOutcome,
  GuardResult,
  Hold,
  Quote,
  QuoteInput,
  RecordUsageInput,
  RecordedUsage,
  ReleasedAuthorization,
  SettleInput,
  Usage,
} from "./types.js";

export interface SaldoClientOptions {
  /** Saldo's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** A SERVICE token (the gateway's role). */
  token?: string;
  /** Called before every request (and retry): for tokens that are renewed. */
  getToken?: () => string | Promise<string>;
  /** Another fetch (a proxy, instrumentation); the global one by default. */
  fetch?: typeof fetch;
  /** How long one attempt may take before it is abandoned and retried (default 10 s). */
  timeoutMs?: number;
  /** Retries after a network error, timeout, 5xx or unexpected error: a count (default 4), or the whole policy. */
  retries?: number | Partial<RetryPolicy>;
  onRetry?: (error: SaldoUnavailableError) => void;
}

/**
 * A settlement still owed: what guard() could not book. Plain data, so it can
 * be queued or stored; `client.settlePending(pending)` books it, once however
 * often it is sent.
 */
export interface PendingSettlement extends SettleInput {
  call: CallTarget;
  /** The hold's idempotency key (a late recordUsage derives its own from it). */
  idempotencyKey: string;
}

export function createSaldoClient(options: SaldoClientOptions): SaldoClient {
  return new SaldoClient(options);
}

export class SaldoClient {
  private readonly send: Send;

  constructor(options: SaldoClientOptions) {
    const { token, getToken } = options;
    if (!getToken && !token) throw new TypeError("createSaldoClient needs a token or getToken");
    const retry = typeof options.retries === "number" ? { retries: options.retries } : (options.retries ?? {});
    this.send = createTransport({
      url: options.url,
      getToken: getToken ?? (() => token!),
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      timeoutMs: options.timeoutMs ?? 10_000,
      retry: { retries: 4, minDelayMs: 200, maxDelayMs: 5_000, ...retry },
      onRetry: options.onRetry,
    });
  }

  /** Any other operation of Saldo's API, typed by a document from GraphQL Code Generator, with the same retries. */
  request<R, V>(document: DocumentTypeDecoration<R, V>, variables: V): Promise<R> {
    const operation = /\b(?:query|mutation)\s+(\w+)/.exec(String(document))?.[1] ?? "request";
    return this.send(operation, document, variables);
  }

  /** May this call run? Read only: nothing is held. */
  async check(input: CheckInput): Promise<CheckResult> {
    const { estimate, ...call } = input;
    const data = await this.send("checkBilling", CheckDocument, { input: { ...call, ...estimateInput(estimate) } });
    return data.checkBilling;
  }

  /** What a usage costs the customer (costChf), and the provider's cost it is based on. */
  async quote(input: QuoteInput): Promise<Quote> {
    const data = await this.send("quote", QuoteDocument, { input });
    return data.quote;
  }

  /**
   * Holds the estimated cost. Throws InsufficientBalanceError,
   * ProviderNotAllowedError or AccountDisabledError (each with the check)
   * when the call may not run, SaldoUserError for other refusals.
   */
  async authorize(input: AuthorizeInput): Promise<AuthorizeResult> {
    const { estimate, idempotencyKey = newKey(), ...call } = input;
    const data = await this.send("authorizeUsage", AuthorizeDocument, { input: { ...call, ...estimateInput(estimate), idempotencyKey } });
    const { authorization, check, userErrors } = data.authorizeUsage;
    if (!authorization || userErrors.length > 0) throw refused("authorizeUsage", userErrors, check);
    return { ...authorization, idempotencyKey, check: check! };
  }

  /** Books the real usage (or cost) of an authorized call. Sending it again returns the first booking. */
  async settle(input: SettleInput): Promise<Booking> {
    const { authorizationId, usage, cost, metadata } = input;
    if (cost != null) assertDecimal(cost, "cost");
    const data = await this.send("settleUsage", SettleDocument, { input: { authorizationId, usage, cost, metadata } });
    const { transaction, account, userErrors } = data.settleUsage;
    if (userErrors.length > 0) throw refused("settleUsage", userErrors);
    return { transaction, account };
  }

  /** Frees the hold of a call that did not happen. Releasing twice is harmless. */
  async release(authorizationId: string): Promise<ReleasedAuthorization> {
    const data = await this.send("releaseUsage", ReleaseDocument, { input: { authorizationId } });
    const { authorization, userErrors } = data.releaseUsage;
    if (!authorization || userErrors.length > 0) throw refused("releaseUsage", userErrors);
    return authorization;
  }

  /** Books a usage after the fact in one step, without a check or a hold. */
  async recordUsage(input: RecordUsageInput): Promise<Booking & { idempotencyKey: string }> {
    const { idempotencyKey = newKey(), ...rest } = input;
    if (rest.cost != null) assertDecimal(rest.cost, "cost");
    const data = await this.send("recordUsage", RecordDocument, { input: { ...rest, idempotencyKey } });
    const { transaction, account, userErrors } = data.recordUsage;
    if (userErrors.length > 0) throw refused("recordUsage", userErrors);
    return { transaction, account, idempotencyKey };
  }

  /**
   * Books many usages after the fact: each with its own idempotency key (made
   * here when absent) and its own outcome, in the order given. A refused usage
   * is an outcome with its SaldoUserError, never a throw: the others are
   * booked. More than Saldo takes in one request (1,000) are sent in
   * consecutive requests; sending the same list again books nothing twice.
   */
  async recordUsages(inputs: RecordUsageInput[]): Promise<RecordedUsage[]> {
    const keyed = inputs.map(({ idempotencyKey = newKey(), ...rest }) => {
      if (rest.cost != null) assertDecimal(rest.cost, "cost");
      return { ...rest, idempotencyKey };
    });
    const outcomes: RecordedUsage[] = [];
    for (let at = 0; at < keyed.length; at += MAX_USAGES_PER_REQUEST) {
      const chunk = keyed.slice(at, at + MAX_USAGES_PER_REQUEST);
      const data = await this.send("recordUsages", RecordManyDocument, { inputs: chunk });
      const { results, userErrors } = data.recordUsages;
      if (!results || userErrors.length > 0) throw refused("recordUsages", userErrors);
      results.forEach(({ transaction, account, userErrors }, i) => {
        const { idempotencyKey } = chunk[i];
        outcomes.push(
          userErrors.length > 0
            ? {
                ok: false,
                idempotencyKey,
                error: new SaldoUserError(
                  "recordUsages",
                  userErrors.map((e) => ({ ...e, field: withIndex(e.field, at) })),
                ),
              }
            : { ok: true, idempotencyKey, transaction, account },
        );
      });
    }
    return outcomes;
  }

  /**
   * Books a settlement guard() could not: settles it, or, when its hold is no
   * longer active (it expired during a long call), records the usage with a
   * key derived from the hold's, so that sending it again never books twice.
   */
  async settlePending(pending: PendingSettlement): Promise<Booking & { recordedAfterExpiry: boolean }> {
    const { authorizationId, usage, cost, metadata, call, idempotencyKey } = pending;
    try {
      return { ...(await this.settle({ authorizationId, usage, cost, metadata })), recordedAfterExpiry: false };
    } catch (error) {
      // Not active and not settled (a settled hold answers a repeated settle
      // with its booking): nothing was booked, and the call did happen.
      if (!(error instanceof SaldoUserError && error.code === "AUTHORIZATION_NOT_ACTIVE")) throw error;
      const recorded = await this.recordUsage({ ...call, usage, cost, metadata, idempotencyKey: `${idempotencyKey}:after-expiry` });
      return { transaction: recorded.transaction, account: recorded.account, recordedAfterExpiry: true };
    }
  }

  /**
   * Runs one AI call under a hold: authorizes the estimate (throwing the
   * typed denial before `call` runs), runs `call`, settles the usage it
   * reports, or releases the hold when it throws (and rethrows). The hold's
   * idempotency key is made once, so retries never hold or book twice. When
   * the hold cannot be closed afterwards, throws UnsettledHoldError with what
   * is owed.
   */
  async guard<R = undefined>(input: GuardInput, call: (hold: Hold) => Promise<GuardOutcome<R>>): Promise<GuardResult<R>> {
    const idempotencyKey = input.idempotencyKey ?? newKey();
    const authorization = await this.authorize({ ...input, idempotencyKey });
    const hold: Hold = {
      authorizationId: authorization.id,
      amount: authorization.amount,
      expiresAt: authorization.expiresAt,
      idempotencyKey,
      check: authorization.check,
    };

    let outcome: GuardOutcome<R>;
    try {
      outcome = await call(hold);
      if (outcome?.usage == null && outcome?.cost == null) throw new TypeError("a guarded call must return its usage or its cost");
    } catch (callError) {
      try {
        await this.release(authorization.id);
      } catch (releaseError) {
        throw new UnsettledHoldError({
          action: "release",
          authorizationId: authorization.id,
          heldAmount: authorization.amount,
          callError,
          cause: releaseError,
        });
      }
      throw callError;
    }

    const { mandateId, userId, provider, model } = input;
    const pending: PendingSettlement = {
      authorizationId: authorization.id,
      usage: outcome.usage ?? null,
      cost: outcome.cost ?? null,
      metadata: outcome.metadata ?? null,
      call: { mandateId, userId, provider, model },
      idempotencyKey,
    };
    try {
      const booked = await this.settlePending(pending);
      return { ...booked, result: outcome.result, authorizationId: authorization.id };
    } catch (cause) {
      throw new UnsettledHoldError({
        action: "settle",
        authorizationId: authorization.id,
        heldAmount: authorization.amount,
        pending,
        result: outcome.result,
        cause,
      });
    }
  }
}

function refused(operation: string, userErrors: UserErrorFieldsFragment[], check?: CheckResult | null): SaldoError {
  if (userErrors.length === 0) return new SaldoError(`${operation}: Saldo returned neither a result nor userErrors`);
  return refusal(operation, userErrors, check);
}

/** What Saldo's recordUsages takes in one request. */
const MAX_USAGES_PER_REQUEST = 1000;

/** A field under ["inputs", i] of one request, as the index in the caller's whole list. */
function withIndex(field: string[] | null, offset: number): string[] | null {
  if (!field || field[0] !== "inputs" || field.length < 2) return field;
  return ["inputs", String(Number(field[1]) + offset), ...field.slice(2)];
}

function estimateInput(estimate: Estimate): { estimatedCost: Decimal } | { estimatedUsage: Usage } {
  if ("cost" in estimate) return { estimatedCost: assertDecimal(estimate.cost, "estimate.cost") };
  return { estimatedUsage: estimate };
}

/** Money is a decimal string: a JavaScript number would already have lost digits. */
function assertDecimal(value: unknown, field: string): Decimal {
  if (typeof value !== "string") throw new TypeError(`${field} must be a decimal string such as "0.25", not a ${typeof value}`);
  return value;
}

function newKey(): string {
  return globalThis.crypto.randomUUID();
}
