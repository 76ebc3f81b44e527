// Stripe's event vocabulary: which events Saldo acts on, the few payload
// fields it reads, and the billing domain's verb each one becomes
// (billing/payments). Signatures are checked before (webhook.ts); the domain
// never sees Stripe's names or shapes.
import type { Transaction } from "@prisma/client";
import type { Sql } from "../db/sql.js";
import { autoTopUpSucceeded, failAutoTopUp } from "../billing/payments/autotopup.js";
import {
  accountNamed,
  accountOfAutoTopUpPayment,
  bookPayment,
  providerEventHandled,
  recordProviderEvent,
  savePaymentMethod,
} from "../billing/payments/payments.js";
import type { BillingContext } from "../billing/shared/context.js";
import { Decimal } from "../billing/shared/money.js";
import { log } from "../log.js";

export interface StripeEventLike {
  id: string;
  type: string;
  data: { object: unknown };
}

interface CheckoutSessionLike {
  id: string;
  amount_total?: number | null;
  currency?: string | null;
  payment_status?: string | null;
  metadata?: Record<string, string> | null;
}

interface RefundLike {
  id: string;
  amount: number;
  status?: string | null;
}

interface ChargeLike {
  id: string;
  payment_intent?: string | null;
  currency?: string | null;
  amount_refunded?: number | null;
  metadata?: Record<string, string> | null;
  refunds?: { data?: RefundLike[] | null } | null;
}

interface PaymentIntentLike {
  id: string;
  amount?: number | null;
  amount_received?: number | null;
  currency?: string | null;
  metadata?: Record<string, string> | null;
  last_payment_error?: { message?: string | null; code?: string | null } | null;
}

interface PaymentMethodLike {
  id: string;
  customer?: string | null;
}

export type StripeEventOutcome =
  | "credited"
  /** An automatic top-up failed: recorded, and the mandate is emailed. */
  | "failed"
  /** A saved payment method was recorded or forgotten. */
  | "saved"
  | "refunded"
  /** Seen before (same event id): nothing written. */
  | "duplicate"
  /** Not a type Saldo handles: nothing written. */
  | "unhandled"
  /**
   * Handled type, but nothing Saldo could ever book (unpaid, not CHF, no
   * Saldo account named): acknowledged and logged, not recorded as handled.
   */
  | "ignored";

export interface StripeEventResult {
  outcome: StripeEventOutcome;
  transactionIds: string[];
}

const CHECKOUT_EVENTS = new Set(["checkout.session.completed", "checkout.session.async_payment_succeeded"]);
const AUTO_TOP_UP_EVENTS = new Set(["payment_intent.succeeded", "payment_intent.payment_failed"]);
const PAYMENT_METHOD_EVENTS = new Set(["payment_method.attached", "payment_method.detached"]);

/**
 * Whether Saldo acts on the event. A payment intent's events matter only for
 * automatic top-ups: a checkout's payment intent succeeds too, but its
 * checkout.session.completed is what credits it.
 */
function handles(event: StripeEventLike): boolean {
  if (AUTO_TOP_UP_EVENTS.has(event.type)) return !!(event.data.object as PaymentIntentLike).metadata?.autoTopUpId;
  return CHECKOUT_EVENTS.has(event.type) || PAYMENT_METHOD_EVENTS.has(event.type) || event.type === "charge.refunded";
}

/**
 * Applies one verified Stripe event. The event id is recorded as handled
 * only in the transaction that books its money (or changes what it
 * changes). An event Saldo could never book (unpaid, not CHF, no Saldo
 * account named) is logged and acknowledged. Anything else that stops the
 * booking (the database, a refusal of the ledger) throws: the webhook then
 * answers an error and Stripe retries; nothing is recorded.
 */
export async function applyStripeEvent(ctx: BillingContext, event: StripeEventLike): Promise<StripeEventResult> {
  if (!handles(event)) return { outcome: "unhandled", transactionIds: [] };
  if (await providerEventHandled(ctx, event.id)) return { outcome: "duplicate", transactionIds: [] };
  if (CHECKOUT_EVENTS.has(event.type)) return applyCheckout(ctx, event, event.data.object as CheckoutSessionLike);
  if (event.type === "payment_intent.succeeded") return applyAutoTopUpPaid(ctx, event, event.data.object as PaymentIntentLike);
  if (event.type === "payment_intent.payment_failed") return applyAutoTopUpFailed(ctx, event, event.data.object as PaymentIntentLike);
  if (PAYMENT_METHOD_EVENTS.has(event.type)) return applyPaymentMethod(ctx, event, event.data.object as PaymentMethodLike);
  return applyRefunds(ctx, event, event.data.object as ChargeLike);
}

async function applyCheckout(ctx: BillingContext, event: StripeEventLike, session: CheckoutSessionLike): Promise<StripeEventResult> {
  // "completed" of a delayed payment method (SEPA, ...) is not paid yet; its
  // async_payment_succeeded follows and credits then.
  if (event.type === "checkout.session.completed" && session.payment_status !== "paid") {
    return ignore(event, `checkout session ${session.id} is ${session.payment_status ?? "unknown"}, not paid yet`);
  }
  const declared = session.metadata?.amount;
  if (
    declared !== undefined &&
    Number.isSafeInteger(session.amount_total) &&
    !safeEquals(declared, new Decimal(session.amount_total!).dividedBy(100))
  ) {
    // Stripe's amount is what was paid; a mismatch means the session was not
    // created as Saldo asked. Credit what was paid, and say so.
    log.warn(
      { module: "stripe" },
      `checkout session ${session.id}: metadata.amount ${declared} differs from amount_total ${session.amount_total} rappen; crediting what was paid`,
    );
  }
  return creditPayment(ctx, event, {
    what: `checkout session ${session.id}`,
    stripeId: session.id,
    currency: session.currency,
    amountRappen: session.amount_total,
    metadata: session.metadata,
    description: "Stripe payment",
    idempotencyKey: `stripe:checkout:${session.id}`,
  });
}

/** An automatic top-up was paid: credited once per payment intent, the attempt closed with it. */
async function applyAutoTopUpPaid(ctx: BillingContext, event: StripeEventLike, intent: PaymentIntentLike): Promise<StripeEventResult> {
  return creditPayment(ctx, event, {
    what: `payment intent ${intent.id}`,
    stripeId: intent.id,
    currency: intent.currency,
    amountRappen: intent.amount_received ?? intent.amount,
    metadata: intent.metadata,
    description: "Automatic top-up (Stripe)",
    idempotencyKey: `stripe:payment_intent:${intent.id}`,
    // Also when the attempt was closed as FAILED (Stripe unreachable at the time): the money arrived.
    alsoWrite: (transaction) => [autoTopUpSucceeded(intent.metadata!.autoTopUpId, intent.id, transaction, ctx.now())],
  });
}

interface StripePayment {
  /** How log lines name it ("checkout session cs_..."). */
  what: string;
  /** The Stripe object the credit references. */
  stripeId: string;
  currency?: string | null;
  amountRappen?: number | null;
  metadata?: Record<string, string> | null;
  description: string;
  idempotencyKey: string;
  /** More writes that commit with the credit (besides the event id). */
  alsoWrite?: (transaction: Transaction | null) => Sql[];
}

/**
 * A paid Stripe payment becomes one PAYMENT credit on the account its
 * metadata names, with the event id (and `alsoWrite`) in the same database
 * transaction; what cannot be booked is recorded and logged.
 */
async function creditPayment(ctx: BillingContext, event: StripeEventLike, payment: StripePayment): Promise<StripeEventResult> {
  if ((payment.currency ?? "chf").toLowerCase() !== "chf") return ignore(event, `${payment.what} is in ${payment.currency}, not CHF`);
  if (!Number.isSafeInteger(payment.amountRappen) || (payment.amountRappen as number) <= 0) {
    return ignore(event, `${payment.what} has no positive amount`);
  }
  const target = await accountNamed(ctx, payment.metadata);
  if (!target) return ignore(event, `${payment.what} names no known Saldo account (metadata: ${describe(payment.metadata)})`);
  const result = await bookPayment(ctx, {
    event,
    target,
    kind: "PAYMENT",
    idempotencyKey: payment.idempotencyKey,
    amount: new Decimal(payment.amountRappen as number).dividedBy(100),
    description: payment.description,
    referenceId: payment.stripeId,
    alsoWrite: payment.alsoWrite,
  });
  return { outcome: result.replayed ? "duplicate" : "credited", transactionIds: result.transaction ? [result.transaction.id] : [] };
}

async function applyAutoTopUpFailed(ctx: BillingContext, event: StripeEventLike, intent: PaymentIntentLike): Promise<StripeEventResult> {
  const reason = intent.last_payment_error?.message || intent.last_payment_error?.code || "the payment failed";
  const failed = await failAutoTopUp(ctx, intent.metadata!.autoTopUpId, reason, intent.id, [recordProviderEvent(event, null)]);
  return { outcome: failed ? "failed" : "duplicate", transactionIds: [] };
}

/**
 * The card a checkout saved (setup_future_usage) is attached to the
 * mandate's customer: the automatic top-ups' payment method from now on.
 * A detached card is forgotten.
 */
async function applyPaymentMethod(ctx: BillingContext, event: StripeEventLike, method: PaymentMethodLike): Promise<StripeEventResult> {
  await savePaymentMethod(
    ctx,
    event,
    event.type === "payment_method.attached" ? { customerId: method.customer ?? null, attached: method.id } : { detached: method.id },
  );
  return { outcome: "saved", transactionIds: [] };
}

async function applyRefunds(ctx: BillingContext, event: StripeEventLike, charge: ChargeLike): Promise<StripeEventResult> {
  // A charge carries the metadata its payment intent had; if not, Saldo knows its own automatic top-ups.
  const metadata =
    charge.metadata?.accountId || charge.metadata?.accountKey
      ? charge.metadata
      : await accountOfAutoTopUpPayment(ctx, charge.payment_intent);
  const target = await accountNamed(ctx, metadata);
  if (!target) return ignore(event, `refunded charge ${charge.id} names no known Saldo account (metadata: ${describe(charge.metadata)})`);
  if ((charge.currency ?? "chf").toLowerCase() !== "chf")
    return ignore(event, `refunded charge ${charge.id} is in ${charge.currency}, not CHF`);
  const refunds = (charge.refunds?.data ?? []).filter(
    (refund) => Number.isSafeInteger(refund.amount) && refund.amount > 0 && refund.status !== "failed" && refund.status !== "canceled",
  );
  if (refunds.length === 0) {
    return ignore(
      event,
      `charge.refunded for ${charge.id} lists no refunds (amount_refunded=${charge.amount_refunded ?? "?"}); nothing booked`,
    );
  }
  const transactionIds: string[] = [];
  let booked = false;
  for (const [i, refund] of refunds.entries()) {
    const last = i === refunds.length - 1;
    // Each refund is its own move under its own key; the event id is recorded
    // with the last one, so a crash in between lets Stripe's retry book the rest.
    const result = await bookPayment(ctx, {
      event,
      target,
      kind: "REFUND",
      idempotencyKey: `stripe:refund:${refund.id}`,
      amount: new Decimal(refund.amount).dividedBy(100).negated(),
      description: `Stripe refund ${refund.id}`,
      referenceId: charge.id,
      recordsEvent: last,
    });
    if (result.transaction) transactionIds.push(result.transaction.id);
    booked ||= !result.replayed;
  }
  return { outcome: booked ? "refunded" : "duplicate", transactionIds };
}

/** An event Saldo handles but could never book: acknowledged (Stripe stops retrying) and logged, not recorded as handled. */
function ignore(event: StripeEventLike, reason: string): StripeEventResult {
  log.warn({ module: "stripe", eventId: event.id, eventType: event.type }, `event ignored: ${reason}`);
  return { outcome: "ignored", transactionIds: [] };
}

function describe(metadata: Record<string, string> | null | undefined): string {
  const { accountId, accountKey, mandateId } = metadata ?? {};
  return JSON.stringify({ accountId, accountKey, mandateId });
}

function safeEquals(text: string, amount: Decimal): boolean {
  try {
    return new Decimal(text).equals(amount);
  } catch {
    return false;
  }
}
