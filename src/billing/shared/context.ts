// What every domain operation needs: the database, the clock, the pricing
// settings, and where to announce what changed. Tests build one with a fake
// clock; the server builds one from its configuration.
import type { SqlExecutor, SqlTransaction } from "../../db/executor.js";
import type { Db } from "../../db/open.js";
import { log } from "../../log.js";
import type { Decimal } from "./money.js";

export interface BalanceChangedEvent {
  type: "balanceChanged";
  mandateId: string;
  accountId: string;
  userId: string | null;
}

export interface BalanceWarningEvent {
  type: "balanceWarning";
  mandateId: string;
  accountId: string;
  userId: string | null;
  /** What may still be spent when the warning fired. */
  available: string;
  threshold: string;
  /** ISO timestamp: events may travel through Redis as JSON. */
  at: string;
}

/** A money move left an account below its automatic top-up mark (handled by payments/autotopup.ts, not published live). */
export interface AutoTopUpWantedEvent {
  type: "autoTopUpWanted";
  mandateId: string;
  accountId: string;
}

/** An automatic top-up's payment failed; a warning email reporting it is queued. */
export interface AutoTopUpFailedEvent {
  type: "autoTopUpFailed";
  mandateId: string;
  accountId: string;
  userId: string | null;
  amount: string;
  reason: string;
  at: string;
}

export type BillingEvent = BalanceChangedEvent | BalanceWarningEvent | AutoTopUpWantedEvent | AutoTopUpFailedEvent;

/** Receives events after the database transaction that caused them has committed. */
export interface BillingEvents {
  publish(event: BillingEvent): void;
}

// The metrics port: what the domain reports, counted by src/metrics.ts.

/** A kind of money move, as the metrics name it. */
export type MoneyMoveKind = "credit" | "adjustment" | "transfer" | "usage" | "hold" | "settlement" | "release";
/** booked: written now; replayed: answered with the first result of the same idempotency key; refused: a userError, nothing written. */
export type MoneyMoveOutcome = "booked" | "replayed" | "refused";

/**
 * Where the domain reports what it decided, for the metrics (Prometheus,
 * src/metrics.ts); the domain never sees prom-client. No-op by default.
 */
export interface BillingMetrics {
  /** A money move was decided; `code` is the refusal's userError code. */
  moneyMove(kind: MoneyMoveKind, outcome: MoneyMoveOutcome, code?: string): void;
  /** A call was denied (DenialReason) by a check or a hold. */
  denial(reason: string, operation: "check" | "hold"): void;
  /** How many money moves one database transaction carried (the batched write path observes it). */
  batchSize(moves: number): void;
}

export const NO_METRICS: BillingMetrics = { moneyMove: () => undefined, denial: () => undefined, batchSize: () => undefined };

export interface BillingContext {
  /** Prisma, for reads that move no money (lists, views). */
  db: Db;
  /** The raw SQL executor over the same connections: every money move goes through it. */
  sql: SqlExecutor;
  events: BillingEvents;
  /** What the domain reports for the metrics (NO_METRICS unless the app wires src/metrics.ts). */
  metrics: BillingMetrics;
  now(): Date;
  /** IANA zone of the statistics' day, month and year boundaries. */
  timeZone: string;
  usdToChf: Decimal;
  markupPercent: Decimal;
  /** How long a hold lives when the caller does not say. */
  holdExpirySeconds: number;
  /** The largest top-up, by checkout or automatic, in CHF. */
  topUpMax: Decimal;
  /** Where money moves queue for the batch they commit in (ledger/batch.ts). */
  moves: MoveSink;
}

/** A queue of money moves: each resolves with its own outcome once its batch has committed. */
export interface MoveSink {
  submit<R>(move: { apply(...args: never[]): Promise<R> }): Promise<R>;
  /** Resolves when no move is queued or in flight. */
  idle(): Promise<void>;
}

/**
 * Runs `work` in one transaction of the raw SQL executor and publishes the
 * events it collected only once the transaction has committed, so no
 * subscriber ever sees a change that was rolled back; a throw rolls
 * everything back and publishes nothing.
 */
export async function inTransaction<T>(
  ctx: BillingContext,
  work: (t: SqlTransaction, emit: (event: BillingEvent) => void) => Promise<T>,
): Promise<T> {
  const events: BillingEvent[] = [];
  const result = await ctx.sql.transaction((t) => work(t, (event) => events.push(event)), { keyLookups: true });
  publish(ctx, events);
  return result;
}

function publish(ctx: BillingContext, events: BillingEvent[]) {
  for (const event of events) {
    try {
      ctx.events.publish(event);
    } catch (error) {
      log.error({ module: "billing", err: error }, "publishing an event failed");
    }
  }
}
