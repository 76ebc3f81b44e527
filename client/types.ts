// The client's public types, from the types GraphQL Code Generator made of
// the schema (./generated). Amounts are decimal strings ("0.012345"), as in
// the API, never JavaScript numbers.
import type { SaldoUserError } from "./errors.js";
import type {
  AuthorizeMutation,
  CheckFieldsFragment,
  EntryFieldsFragment,
  QuoteQuery,
  ReleaseMutation,
  SettleMutation,
  UsageInput,
  UsageMetadataInput,
  UserErrorFieldsFragment,
} from "./generated/graphql.js";

/** An exact amount in CHF as a decimal string, up to 6 fractional digits: "12.5", "0.000350". */
export type Decimal = string;

export type Usage = UsageInput;
export type UsageMetadata = UsageMetadataInput;
export type CheckResult = CheckFieldsFragment;
export type UserError = UserErrorFieldsFragment;
export type Quote = QuoteQuery["quote"];
export type Authorization = NonNullable<AuthorizeMutation["authorizeUsage"]["authorization"]>;
export type Transaction = EntryFieldsFragment;
export type AccountState = NonNullable<SettleMutation["settleUsage"]["account"]>;
export type ReleasedAuthorization = NonNullable<ReleaseMutation["releaseUsage"]["authorization"]>;

/** Who pays and for which call. */
export interface CallTarget {
  mandateId: string;
  /** The user who causes the call (pays under PREPAY_USER; recorded otherwise). */
  userId?: string | null;
  provider: string;
  model: string;
}

/** The estimate of a call: its expected usage (priced by Saldo's catalog), or an explicit cost. */
export type Estimate = Usage | { cost: Decimal };

export interface CheckInput extends Omit<CallTarget, "model"> {
  model?: string | null;
  estimate: Estimate;
}

export interface AuthorizeInput extends CallTarget {
  estimate: Estimate;
  /** Made by the client when absent; every retry of this authorize reuses it. */
  idempotencyKey?: string;
  expiresInSeconds?: number;
}

export interface AuthorizeResult extends Authorization {
  idempotencyKey: string;
  check: CheckResult;
}

export interface SettleInput {
  authorizationId: string;
  usage?: Usage | null;
  /** Overrides the price catalog when given. */
  cost?: Decimal | null;
  metadata?: UsageMetadata | null;
}

/** A booked usage: the DEBIT (null for a zero cost) and the account after it. */
export interface Booking {
  transaction: Transaction | null;
  account: AccountState | null;
}

export interface RecordUsageInput extends CallTarget {
  usage?: Usage | null;
  cost?: Decimal | null;
  metadata?: UsageMetadata | null;
  /** Made by the client when absent; every retry of this record reuses it. */
  idempotencyKey?: string;
}

/** One usage's outcome in recordUsages: booked, or refused with why (nothing booked for it). */
export type RecordedUsage = { idempotencyKey: string } & (({ ok: true } & Booking) | { ok: false; error: SaldoUserError });

export interface QuoteInput {
  provider: string;
  model: string;
  usage: Usage;
}

/** What a guarded call was granted: its hold. */
export interface Hold {
  authorizationId: string;
  /** The amount held (the estimate's price). */
  amount: Decimal;
  expiresAt: string;
  idempotencyKey: string;
  check: CheckResult;
}

/** What the guarded function reports: the real usage (or cost) of the call, its context, and its result. */
export type GuardOutcome<R> = ({ usage: Usage; cost?: Decimal | null } | { cost: Decimal; usage?: Usage | null }) & {
  metadata?: UsageMetadata | null;
  /** Handed back by guard() as `result`. */
  result?: R;
};

export interface GuardInput extends AuthorizeInput {}

export interface GuardResult<R> extends Booking {
  result: R | undefined;
  authorizationId: string;
  /**
   * The hold had expired before the call ended (a call longer than its
   * expiresInSeconds): the usage was booked with recordUsage instead.
   */
  recordedAfterExpiry: boolean;
}
