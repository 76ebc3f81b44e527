// Payments a provider confirmed: booked exactly once on the account they were
// made for, whatever the billing model is by then. Every booking carries an
// idempotency key derived from the provider's own ids, and the provider's
// event id is recorded in the same database transaction as the money
// (never without it), so a retried, replayed or concurrently delivered event
// books nothing twice, and a crash between the two cannot happen. The
// provider's vocabulary (event types, payload shapes) stays at the edge
// (src/stripe); these are the verbs it calls.
import type { Transaction } from "@prisma/client";
import { sql, type Sql } from "../../db/sql.js";
import { inBooking } from "../ledger/booking.js";
import { moveMoney, type MoneyMoveResult, type MoveOptions } from "../ledger/moves.js";
import type { BillingContext } from "../shared/context.js";
import { requestHash } from "../shared/idempotency.js";
import { formatMoney, type Decimal } from "../shared/money.js";

/** A provider's event: recorded as handled in the transaction that applies it. */
export interface ProviderEvent {
  id: string;
  type: string;
}

/** How a payment names its account: by key in its mandate (and id), as startTopUp wrote it. */
export interface NamedAccount {
  accountId?: string;
  accountKey?: string;
  mandateId?: string;
}

/** The account a payment is booked on: by its key in its mandate. */
export type PaymentTarget = { mandateId: string; accountKey: string };

/** A payment provider's money: credited (or refunded) on the account it names. */
export interface PaymentEntry {
  event: ProviderEvent;
  target: PaymentTarget;
  kind: "PAYMENT" | "REFUND";
  /** Derived from the provider's own ids (e.g. stripe:checkout:<session id>). */
  idempotencyKey: string;
  /** Positive for a payment, negative for a refund. */
  amount: Decimal;
  description: string;
  /** The provider's object the entry references. */
  referenceId: string;
  /** Record the event as handled with this entry (false: a later entry of the same event records it). */
  recordsEvent?: boolean;
  /** More writes that commit with the entry (an automatic top-up attempt closed). */
  alsoWrite?: MoveOptions["alsoWrite"];
}

/** Whether the provider's event was handled before (its money booked). */
export async function providerEventHandled(ctx: BillingContext, eventId: string): Promise<boolean> {
  const rows = await ctx.sql.read(sql`SELECT 1 AS "seen" FROM "StripeWebhookEvent" WHERE "id" = ${eventId}::text`);
  return rows.length > 0;
}

/**
 * The account a payment names: by its key in its mandate (opened if no money
 * move has opened it yet), or by id for checkouts started before keys were
 * named. The billing model plays no part: a payment belongs to the account it
 * was made for. null when Saldo knows no such mandate or account.
 */
export async function accountNamed(ctx: BillingContext, named: NamedAccount | null | undefined): Promise<PaymentTarget | null> {
  if (named?.mandateId && named.accountKey) {
    const mandate = await ctx.db.mandate.findUnique({ where: { id: named.mandateId }, select: { id: true } });
    return mandate ? { mandateId: mandate.id, accountKey: named.accountKey } : null;
  }
  if (!named?.accountId) return null;
  const account = await ctx.db.billingAccount.findUnique({ where: { id: named.accountId }, select: { mandateId: true, accountKey: true } });
  return account;
}

/** The account an automatic top-up's payment paid into: Saldo knows its own attempts. */
export async function accountOfAutoTopUpPayment(ctx: BillingContext, paymentId: string | null | undefined): Promise<NamedAccount | null> {
  if (!paymentId) return null;
  const attempt = await ctx.db.autoTopUp.findUnique({ where: { paymentIntentId: paymentId }, select: { accountId: true } });
  return attempt ? { accountId: attempt.accountId } : null;
}

/**
 * Books a payment as a PAYMENT CREDIT, a refund as a PAYMENT ADJUSTMENT,
 * once per key, with the provider's event recorded in the same transaction.
 * Throws when it cannot be booked (the database, a conflicting key): nothing
 * is recorded then, and the provider retries.
 */
export async function bookPayment(ctx: BillingContext, payment: PaymentEntry): Promise<MoneyMoveResult> {
  const transactionType = payment.kind === "PAYMENT" ? "CREDIT" : "ADJUSTMENT";
  const hash = requestHash({ op: payment.kind, amount: formatMoney(payment.amount), referenceId: payment.referenceId });
  return moveMoney(
    ctx,
    payment.target,
    { key: { scope: payment.kind, key: payment.idempotencyKey }, hash },
    () => ({
      transactionType,
      delta: payment.amount,
      description: payment.description,
      referenceType: "PAYMENT",
      referenceId: payment.referenceId,
    }),
    {
      alsoWrite: (transaction) => [
        ...(payment.recordsEvent === false ? [] : [recordProviderEvent(payment.event, transaction)]),
        ...(payment.alsoWrite?.(transaction) ?? []),
      ],
    },
  );
}

/**
 * The card a checkout saved is attached to the mandate's customer: the
 * automatic top-ups' payment method from now on (null: a detached card is
 * forgotten).
 */
export async function savePaymentMethod(
  ctx: BillingContext,
  event: ProviderEvent,
  change: { customerId: string | null; attached: string } | { detached: string },
): Promise<void> {
  await inBooking(ctx, async (b) =>
    b.writes.also(
      "attached" in change
        ? sql`UPDATE "Mandate" SET "stripePaymentMethodId" = ${change.attached}::text, "updatedAt" = ${b.now.toISOString()}::timestamp(3) WHERE "stripeCustomerId" = ${change.customerId}::text`
        : sql`UPDATE "Mandate" SET "stripePaymentMethodId" = NULL, "updatedAt" = ${b.now.toISOString()}::timestamp(3) WHERE "stripePaymentMethodId" = ${change.detached}::text`,
      recordProviderEvent(event, null),
    ),
  );
}

/** The provider's event, recorded as handled (with the transaction it booked, if any). */
export function recordProviderEvent(event: ProviderEvent, transaction: Pick<Transaction, "id"> | null): Sql {
  return sql`INSERT INTO "StripeWebhookEvent" ("id", "type", "transactionId") VALUES (${event.id}::text, ${event.type}::text, ${transaction?.id ?? null}::text)
    ON CONFLICT ("id") DO NOTHING`;
}
