// Automatic top-up: when what an account may spend falls below the mandate's
// autoTopUpBelow, charge the mandate's saved card autoTopUpAmount off-session.
// The money arrives like every Stripe payment: payment_intent.succeeded
// credits it once through the webhook (payments.ts, src/stripe/events.ts). Here are the settings
// rule, the decision after a money move, and the claim that keeps the
// promises: never a second charge while one is pending, never beyond the
// monthly cap, never a retry loop after a failure.
import { randomUUID } from "node:crypto";
import { Prisma, type Settings, type Transaction } from "@prisma/client";
import { sql, type Sql } from "../../db/sql.js";
import { log } from "../../log.js";
import { spendable } from "../ledger/accounts.js";
import { inBooking } from "../ledger/booking.js";
import { lockAndRead } from "../ledger/store/reads.js";
import { belowAutoTopUpMark, warningThreshold } from "../ledger/thresholds.js";
import { inTransaction, type BillingContext, type BillingEvent } from "../shared/context.js";
import { BillingError, validation } from "../shared/errors.js";
import { Decimal, formatMoney, parseNonNegativeMoney, type DecimalInput } from "../shared/money.js";
import { balanceWarningNotification } from "../shared/outbox.js";
import { periodStarts } from "../shared/periods.js";
import { PaymentFailed, type PaymentProvider } from "./provider.js";
import { parseTopUpAmount } from "./topups.js";

/** Only prepaid accounts are topped up; postpaid ones are invoiced, unlimited ones never run out. */
const PREPAID = new Set(["PREPAY_MANDATE", "PREPAY_USER"]);

export interface AutoTopUpInput {
  enabled: boolean;
  belowAmount?: DecimalInput | null;
  topUpAmount?: DecimalInput | null;
  monthlyCap?: DecimalInput | null;
}

/**
 * The Settings columns an autoTopUp input changes, each value validated; an
 * absent field keeps what is stored, an explicit null clears it. The rules
 * between the fields are checked on the merged settings (assertAutoTopUp).
 */
export function autoTopUpData(input: AutoTopUpInput, topUpMax: Decimal) {
  const field = (name: string) => ["input", "autoTopUp", name];
  const amount = (value: DecimalInput | null | undefined, parse: (v: DecimalInput) => Decimal) =>
    value === undefined ? undefined : value === null ? null : new Prisma.Decimal(formatMoney(parse(value)));
  return {
    autoTopUpEnabled: input.enabled,
    autoTopUpBelow: amount(input.belowAmount, (v) => parseNonNegativeMoney(v, field("belowAmount"))),
    autoTopUpAmount: amount(input.topUpAmount, (v) => parseTopUpAmount(v, field("topUpAmount"), topUpMax)),
    autoTopUpMonthlyCap: amount(input.monthlyCap, (v) => parseNonNegativeMoney(v, field("monthlyCap"))),
  };
}

/** Rules on the settings as they will be stored (checked inside the update's transaction). */
export function assertAutoTopUp(settings: Settings, mandate: { stripePaymentMethodId: string | null }): void {
  if (!settings.autoTopUpEnabled) return;
  const field = (name: string) => ["input", "autoTopUp", name];
  if (!PREPAID.has(settings.billingModel)) {
    throw validation(`Automatic top-up needs a prepaid billing model, not ${settings.billingModel}: disable it first`, field("enabled"));
  }
  const required = {
    belowAmount: settings.autoTopUpBelow,
    topUpAmount: settings.autoTopUpAmount,
    monthlyCap: settings.autoTopUpMonthlyCap,
  };
  for (const [name, value] of Object.entries(required)) {
    if (value === null) throw validation(`${name} is required to enable automatic top-up`, field(name));
  }
  if (new Decimal(required.monthlyCap!.toString()).lessThan(required.topUpAmount!.toString())) {
    throw new BillingError("INVALID_AMOUNT", "monthlyCap must be at least topUpAmount", field("monthlyCap"));
  }
  if (!mandate.stripePaymentMethodId) {
    throw validation(
      "Automatic top-up needs a saved payment method: pay a top-up by checkout first (its card is saved for later payments)",
      field("enabled"),
    );
  }
}

export interface AutoTopUpClaim {
  id: string;
  mandateId: string;
  accountId: string;
  userId: string | null;
  amount: Decimal;
  customerId: string;
  paymentMethodId: string;
}

export type ClaimOutcome = { claimed: AutoTopUpClaim } | { skipped: string };

/**
 * Decides, under the mandate's Settings row lock, whether the account gets an
 * automatic top-up now, and records it as PENDING if so. The lock serializes
 * the claims of one mandate (whose cap they share), not its money moves.
 */
export async function claimAutoTopUp(ctx: BillingContext, accountId: string): Promise<ClaimOutcome> {
  return inTransaction(ctx, async (t) => {
    const now = ctx.now();
    const [[owner]] = await t.query(sql`SELECT "mandateId" FROM "BillingAccount" WHERE "id" = ${accountId}::text`);
    if (!owner) return { skipped: "no such account" };
    const mandateId = owner.mandateId as string;
    const [[mandate]] = await t.query(sql`SELECT m."stripeCustomerId", m."stripePaymentMethodId"
      FROM "Settings" s JOIN "Mandate" m ON m."id" = s."mandateId" WHERE s."mandateId" = ${mandateId}::text FOR UPDATE OF s`);
    // Read after the lock: a claim that committed while this one waited is seen.
    const { account, settings } = await lockAndRead(t, { accountId }, now, { lock: false });
    if (!account || !settings) return { skipped: "no such account" };
    if (!belowAutoTopUpMark(account, settings)) return { skipped: "not below the top-up mark (or automatic top-up is off)" };
    const customerId = mandate.stripeCustomerId as string | null;
    const paymentMethodId = mandate.stripePaymentMethodId as string | null;
    if (!customerId || !paymentMethodId) return { skipped: "no saved payment method" };
    const month = periodStarts(now, ctx.timeZone).MONTH;
    const [[last], [spent]] = await t.query(
      sql`SELECT x."status"::text AS "status", x."paymentMethodId", x."closedAt" >= s."updatedAt" AS "sinceSettings"
        FROM "AutoTopUp" x JOIN "Settings" s ON s."mandateId" = x."mandateId"
        WHERE x."accountId" = ${accountId}::text ORDER BY x."createdAt" DESC LIMIT 1`,
      sql`SELECT coalesce(sum("amount"), 0)::text AS "total" FROM "AutoTopUp"
        WHERE "mandateId" = ${mandateId}::text AND "month" = ${month}::date AND "status" IN ('PENDING', 'SUCCEEDED')`,
    );
    if (last?.status === "PENDING") return { skipped: "a top-up is pending" };
    // A declined card is not charged again and again: after a failure, only a
    // new card or saving the settings again re-arms automatic top-up.
    if (last?.status === "FAILED" && last.paymentMethodId === paymentMethodId && last.sinceSettings === true) {
      return { skipped: "the last automatic top-up failed; waiting for a new card or new settings" };
    }
    const amount = new Decimal(settings.autoTopUpAmount!.toString());
    const cap = new Decimal(settings.autoTopUpMonthlyCap!.toString());
    if (new Decimal(spent.total as string).plus(amount).greaterThan(cap)) {
      return { skipped: `the monthly cap of ${formatMoney(cap)} CHF would be exceeded` };
    }
    const id = randomUUID();
    t.defer(sql`INSERT INTO "AutoTopUp" ("id", "mandateId", "accountId", "amount", "month", "paymentMethodId", "createdAt")
      VALUES (${id}::text, ${mandateId}::text, ${accountId}::text, ${formatMoney(amount)}::numeric, ${month}::date,
              ${paymentMethodId}::text, ${now.toISOString()}::timestamp(3))`);
    return { claimed: { id, mandateId, accountId, userId: account.userId, amount, customerId, paymentMethodId } };
  });
}

/**
 * Charges a claimed top-up. Success is credited later by the webhook; a
 * decline (or an unreachable Stripe) closes the attempt as FAILED and emails
 * the mandate. If Stripe did take the money after all, its
 * payment_intent.succeeded still credits it and marks the attempt SUCCEEDED.
 */
export async function chargeAutoTopUp(ctx: BillingContext, gateway: PaymentProvider, claim: AutoTopUpClaim): Promise<void> {
  try {
    const intent = await gateway.chargeOffSession({
      customerId: claim.customerId,
      paymentMethodId: claim.paymentMethodId,
      amountRappen: claim.amount.times(100).toNumber(),
      currency: "chf",
      metadata: {
        accountId: claim.accountId,
        mandateId: claim.mandateId,
        userId: claim.userId ?? "",
        amount: formatMoney(claim.amount),
        autoTopUpId: claim.id,
      },
      idempotencyKey: `saldo-auto-top-up-${claim.id}`,
    });
    await inTransaction(ctx, async (t) =>
      t.defer(
        sql`UPDATE "AutoTopUp" SET "paymentIntentId" = ${intent.id}::text WHERE "id" = ${claim.id}::text AND "paymentIntentId" IS NULL`,
      ),
    );
  } catch (error) {
    const reason =
      error instanceof PaymentFailed ? error.message : `the payment provider could not be reached (${(error as Error).message})`;
    await failAutoTopUp(ctx, claim.id, reason, error instanceof PaymentFailed ? error.paymentIntentId : null);
  }
}

/**
 * Closes a PENDING attempt as FAILED and owes the mandate a warning email that
 * says so; a second report of the same failure (the API's answer and the
 * webhook's payment_intent.payment_failed) changes nothing. `also` commits
 * with it (the provider's event record).
 */
export async function failAutoTopUp(
  ctx: BillingContext,
  autoTopUpId: string,
  reason: string,
  paymentIntentId: string | null,
  also: Sql[] = [],
): Promise<boolean> {
  return inBooking(ctx, async (b) => {
    const [[closed]] = await b.t.query(sql`UPDATE "AutoTopUp"
      SET "status" = 'FAILED', "failureMessage" = ${reason.slice(0, 500)}::text, "closedAt" = ${b.now.toISOString()}::timestamp(3),
          "paymentIntentId" = coalesce("paymentIntentId", ${paymentIntentId}::text)
      WHERE "id" = ${autoTopUpId}::text AND "status" = 'PENDING'
      RETURNING "accountId", "mandateId", "amount"::text AS "amount"`);
    b.writes.also(...also);
    if (!closed) return false;
    log.warn({ module: "auto top-up" }, `${autoTopUpId} of account ${closed.accountId as string} failed: ${reason}`);
    const { account, settings } = await lockAndRead(b.t, { accountId: closed.accountId as string }, b.now, { lock: false });
    if (account && settings) {
      const event: BillingEvent = {
        type: "autoTopUpFailed",
        mandateId: account.mandateId,
        accountId: account.id,
        userId: account.userId,
        amount: closed.amount as string,
        reason,
        at: b.now.toISOString(),
      };
      b.emit(event);
      const email = balanceWarningNotification(
        settings,
        {
          type: "balanceWarning",
          mandateId: account.mandateId,
          accountId: account.id,
          userId: account.userId,
          available: formatMoney(spendable(account, settings.billingModel) ?? account.balance),
          threshold: formatMoney(warningThreshold(account, settings) ?? 0),
          at: b.now.toISOString(),
        },
        { autoTopUpFailure: { amount: formatMoney(closed.amount as string), reason }, dedupeKey: `auto-top-up:${autoTopUpId}` },
      );
      if (email) b.writes.notification(email);
    }
    return true;
  });
}

/**
 * An attempt paid: closed as SUCCEEDED with the credit it led to, also when
 * it was closed as FAILED (the provider unreachable at the time): the money
 * arrived. Commits with the credit (payments.ts).
 */
export function autoTopUpSucceeded(autoTopUpId: string, paymentId: string, transaction: Pick<Transaction, "id"> | null, now: Date): Sql {
  return sql`UPDATE "AutoTopUp" SET "status" = 'SUCCEEDED', "paymentIntentId" = ${paymentId}::text, "transactionId" = ${transaction?.id ?? null}::text,
      "failureMessage" = NULL, "closedAt" = ${now.toISOString()}::timestamp(3)
    WHERE "id" = ${autoTopUpId}::text AND "status" <> 'SUCCEEDED'`;
}

/** How long a claimed top-up may wait for its charge before the sweep sends it again. */
export const STALE_CLAIM_MS = 10 * 60_000;

/**
 * Charges claimed top-ups whose charge never reached Stripe (the instance
 * stopped between claim and charge): left alone they would stay PENDING and
 * block the account's top-ups for good. Sending again is safe: Stripe answers
 * the attempt's idempotency key with the first payment intent, if there was one.
 */
export async function resumeStaleAutoTopUps(ctx: BillingContext, gateway: PaymentProvider): Promise<number> {
  const before = new Date(ctx.now().getTime() - STALE_CLAIM_MS);
  const stale = await ctx.db.autoTopUp.findMany({
    where: { status: "PENDING", paymentIntentId: null, createdAt: { lt: before } },
    include: { mandate: { select: { stripeCustomerId: true } }, account: { select: { userId: true } } },
    take: 100,
  });
  for (const attempt of stale) {
    if (!attempt.mandate.stripeCustomerId) continue;
    await chargeAutoTopUp(ctx, gateway, {
      id: attempt.id,
      mandateId: attempt.mandateId,
      accountId: attempt.accountId,
      userId: attempt.account.userId,
      amount: new Decimal(attempt.amount.toString()),
      customerId: attempt.mandate.stripeCustomerId,
      paymentMethodId: attempt.paymentMethodId,
    });
  }
  return stale.length;
}

/**
 * Runs automatic top-ups for one instance: asked after every money move that
 * leaves an account below its mark (the autoTopUpWanted event), it claims and
 * charges in the background, one account at a time; a request for an account
 * already being handled is dropped (the claim would skip it anyway).
 */
export function createAutoTopUps(ctx: BillingContext, gateway: PaymentProvider | null) {
  const running = new Map<string, Promise<void>>();
  async function run(accountId: string): Promise<void> {
    const outcome = await claimAutoTopUp(ctx, accountId);
    if ("claimed" in outcome) await chargeAutoTopUp(ctx, gateway!, outcome.claimed);
  }
  return {
    request(accountId: string): void {
      if (!gateway || running.has(accountId)) return;
      const job = run(accountId)
        .catch((error) => log.error({ module: "auto top-up", err: error }, `account ${accountId}: ${(error as Error).message}`))
        .finally(() => running.delete(accountId));
      running.set(accountId, job);
    },
    /** Sends claims that never reached Stripe again (the periodic sweep). */
    resumeStale: () => (gateway ? resumeStaleAutoTopUps(ctx, gateway) : Promise.resolve(0)),
    /** Resolves when no top-up is being claimed or charged (tests, shutdown). */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all(running.values());
    },
  };
}

export type AutoTopUps = ReturnType<typeof createAutoTopUps>;
