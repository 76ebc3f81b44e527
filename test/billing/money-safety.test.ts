// Regression tests for the money-safety defects of issue 11: each was
// reproduced on main 92e689f, and each test here failed there. Money is
// never lost, doubled or created by accident across changes of state:
// billing-model switches, price changes, expiry, retries.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaymentProvider } from "../../src/billing/payments/provider.js";
import { balanceFor } from "../../src/billing/ledger/balances.js";
import { adjustAccount, creditAccount, transferBalance } from "../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../src/billing/mandates/accounts.js";
import { updateSettings } from "../../src/billing/mandates/settings.js";
import { type CheckoutRequest } from "../../src/billing/payments/provider.js";
import { startTopUp } from "../../src/billing/payments/topups.js";
import { upsertPrice } from "../../src/billing/pricing/pricing.js";
import { type BillingContext } from "../../src/billing/shared/context.js";
import { authorizeUsage, checkBilling, expireHolds, holdStatus, releaseUsage, settleUsage } from "../../src/billing/usage/holds.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { applyStripeEvent } from "../../src/stripe/events.js";
import { statisticsFor } from "../../src/billing/statistics/queries.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, uniqueId, type TestBilling } from "../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const ADDRESS = { company: "Test AG", street: "Bahnhofstrasse 1", zip: "8001", city: "Zürich", country: "CH" };
const openai = { provider: "openai", model: "gpt-5" } as const;

const accountsOf = (mandateId: string) => db.prisma.billingAccount.findMany({ where: { mandateId }, orderBy: { accountKey: "asc" } });
const entriesOf = (mandateId: string) =>
  db.prisma.transaction.findMany({ where: { mandateId }, orderBy: [{ createdAt: "asc" }, { sequence: "asc" }] });
const balanceOf = async (mandateId: string, accountKey: string) =>
  (await db.prisma.billingAccount.findUniqueOrThrow({ where: { mandateId_accountKey: { mandateId, accountKey } } })).balance.toFixed(6);
const warnings = (b: TestBilling) => b.events.filter((e) => e.type === "balanceWarning");

/** A payment provider that records the checkout Saldo asks for. */
function fakeGateway(): PaymentProvider & { checkouts: CheckoutRequest[] } {
  const checkouts: CheckoutRequest[] = [];
  return {
    checkouts,
    createCustomer: async (mandate) => `cus_${mandate.id}`,
    createCheckout: async (request) => {
      checkouts.push(request);
      return { id: `cs_${uniqueId()}`, url: "https://checkout.test/pay" };
    },
    chargeOffSession: async () => ({ id: `pi_${uniqueId()}`, status: "succeeded" }),
  };
}

function stripeEvent(type: string, object: Record<string, unknown>) {
  return { id: `evt_${uniqueId()}`, type, data: { object } };
}

async function checkoutStarted(ctx: BillingContext, mandateId: string, amount = "20") {
  const gateway = fakeGateway();
  const session = await startTopUp(ctx, gateway, {
    mandateId,
    amount,
    successUrl: "https://app.test/ok",
    cancelUrl: "https://app.test/no",
  });
  return { session, metadata: gateway.checkouts[0].metadata };
}

describe("1. a payment is booked on the account it names, whatever the billing model is now", () => {
  it("credits a checkout paid after a switch to PREPAY_USER, refunds it there, and records the events with their money", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { session, metadata } = await checkoutStarted(b.ctx, mandateId, "20");
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" });

    const paid = stripeEvent("checkout.session.completed", {
      id: session.id,
      amount_total: 2000,
      currency: "chf",
      payment_status: "paid",
      metadata,
    });
    expect(await applyStripeEvent(b.ctx, paid)).toMatchObject({ outcome: "credited" });
    expect(await balanceOf(mandateId, "mandate")).toBe("20.000000");
    expect(await applyStripeEvent(b.ctx, paid)).toMatchObject({ outcome: "duplicate" });

    const refund = stripeEvent("charge.refunded", {
      id: "ch_1",
      currency: "chf",
      metadata,
      refunds: { data: [{ id: `re_${uniqueId()}`, amount: 500, status: "succeeded" }] },
    });
    expect(await applyStripeEvent(b.ctx, refund)).toMatchObject({ outcome: "refunded" });
    expect(await balanceOf(mandateId, "mandate")).toBe("15.000000");
    const recorded = await db.prisma.stripeWebhookEvent.findMany({ where: { id: { in: [paid.id, refund.id] } } });
    expect(recorded.every((row) => row.transactionId !== null)).toBe(true);
    await expectLedgerInvariants(db.prisma);
  });

  it("credits an automatic top-up's payment_intent.succeeded after a switch, and closes its attempt", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "1", description: "start", idempotencyKey: "start" });
    const attempt = await db.prisma.autoTopUp.create({
      data: { mandateId, accountId, amount: "50", month: new Date("2026-11-01"), paymentMethodId: "pm_1" },
    });
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" });
    const succeeded = stripeEvent("payment_intent.succeeded", {
      id: `pi_${uniqueId()}`,
      amount: 5000,
      amount_received: 5000,
      currency: "chf",
      metadata: { accountId, mandateId, userId: "", amount: "50.000000", autoTopUpId: attempt.id },
    });
    expect(await applyStripeEvent(b.ctx, succeeded)).toMatchObject({ outcome: "credited" });
    expect(await balanceOf(mandateId, "mandate")).toBe("51.000000");
    expect(await db.prisma.autoTopUp.findUniqueOrThrow({ where: { id: attempt.id } })).toMatchObject({ status: "SUCCEEDED" });
  });

  it("records nothing when the money could not be booked: the error reaches the webhook, which answers 5xx", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { session, metadata } = await checkoutStarted(b.ctx, mandateId, "20");
    const paid = stripeEvent("checkout.session.completed", {
      id: session.id,
      amount_total: 2000,
      currency: "chf",
      payment_status: "paid",
      metadata,
    });
    await applyStripeEvent(b.ctx, paid);
    // The same session reported with another amount: the ledger refuses it (a conflict), and the event is not "handled".
    const odd = stripeEvent("checkout.session.async_payment_succeeded", {
      id: session.id,
      amount_total: 2100,
      currency: "chf",
      payment_status: "paid",
      metadata,
    });
    await expect(applyStripeEvent(b.ctx, odd)).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    expect(await db.prisma.stripeWebhookEvent.count({ where: { id: odd.id } })).toBe(0);
  });
});

describe("2. one idempotency key is one booking per mandate, whichever account the model picks now", () => {
  it("recordUsage retried after PREPAY_MANDATE -> PREPAY_USER is a replay", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    const request = { mandateId, userId: "u1", ...openai, cost: "3", idempotencyKey: "call-42" };
    const first = await recordUsage(b.ctx, request);
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" });
    const again = await recordUsage(b.ctx, request);
    expect(again).toMatchObject({ replayed: true, accountId: first.accountId });
    expect(again.transaction?.id).toBe(first.transaction?.id);
    expect((await entriesOf(mandateId)).filter((t) => t.transactionType === "DEBIT")).toHaveLength(1);
    // No account was opened for u1 by the retry (nor its initial credit booked).
    expect((await accountsOf(mandateId)).map((a) => a.accountKey)).toEqual(["mandate"]);
  });

  it("creditAccount retried after a switch is a replay, in both directions", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const shared = { mandateId, amount: "10", description: "gift", idempotencyKey: "gift-1" };
    const first = await creditAccount(b.ctx, shared);
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" });
    expect(await creditAccount(b.ctx, shared)).toMatchObject({ replayed: true, accountId: first.accountId });
    const own = { mandateId, userId: "b1", amount: "5", description: "gift", idempotencyKey: "gift-2" };
    const second = await creditAccount(b.ctx, own);
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_MANDATE" });
    expect(await creditAccount(b.ctx, own)).toMatchObject({ replayed: true, accountId: second.accountId });
    expect((await entriesOf(mandateId)).filter((t) => t.description === "gift")).toHaveLength(2);
  });

  it("the same key for two users at once books once: the second is a conflict, never a second booking", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER");
    const results = await Promise.allSettled(
      ["u1", "u2", "u3", "u4"].map((userId) =>
        recordUsage(b.ctx, { mandateId, userId, ...openai, cost: "1", idempotencyKey: "shared-key" }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected"))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    expect((await entriesOf(mandateId)).filter((t) => t.idempotencyKey === "shared-key")).toHaveLength(1);
    await expectLedgerInvariants(db.prisma);
  });

  it("a key is per kind of write: the same key in a credit and a usage are two requests", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "k" });
    expect(await recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "k" })).toMatchObject({ replayed: false });
    expect(await balanceOf(mandateId, "mandate")).toBe("9.000000");
  });
});

describe("3. a retry is judged on what the caller sent, not on today's price", () => {
  it("recordUsage, authorizeUsage and settleUsage retried after a price change are replays", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    const model = `m-${uniqueId()}`;
    const price = (usd: string) =>
      upsertPrice(db.prisma, {
        provider: "openai",
        model,
        inputPerMillionTokensUsd: usd,
        outputPerMillionTokensUsd: usd,
        perRequestUsd: "0",
      });
    await price("10");
    const usage = { inputTokens: 1000, outputTokens: 1000 };
    const record = { mandateId, provider: "openai", model, usage, idempotencyKey: "r1" };
    const hold = { mandateId, provider: "openai", model, estimatedUsage: usage, idempotencyKey: "h1" };
    const first = await recordUsage(b.ctx, record);
    const authorized = await authorizeUsage(b.ctx, hold);
    const settle = { authorizationId: authorized.authorization!.id, usage };
    const settled = await settleUsage(b.ctx, settle);

    await price("20");
    expect(await recordUsage(b.ctx, record)).toMatchObject({ replayed: true, transaction: { id: first.transaction!.id } });
    expect(await authorizeUsage(b.ctx, hold)).toMatchObject({ replayed: true, authorization: { id: authorized.authorization!.id } });
    expect(await settleUsage(b.ctx, settle)).toMatchObject({ replayed: true, transaction: { id: settled.transaction!.id } });
    // Content the caller changed is still a conflict.
    await expect(recordUsage(b.ctx, { ...record, usage: { inputTokens: 1001, outputTokens: 1000 } })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    await expect(settleUsage(b.ctx, { ...settle, usage: { inputTokens: 1 } })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
      field: ["input"],
    });
  });
});

describe("4. a call that cost nothing is a call", () => {
  it("reserves its key and counts in the statistics", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const free = await recordUsage(b.ctx, { mandateId, ...openai, cost: "0", idempotencyKey: "k0" });
    expect(free.transaction).toMatchObject({ transactionType: "DEBIT" });
    expect(free.transaction!.amount.toFixed(6)).toBe("0.000000");
    await expect(recordUsage(b.ctx, { mandateId, ...openai, cost: "7.5", idempotencyKey: "k0" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(await recordUsage(b.ctx, { mandateId, ...openai, cost: "0.000", idempotencyKey: "k0" })).toMatchObject({ replayed: true });
    expect(await balanceOf(mandateId, "mandate")).toBe("10.000000");
    const now = b.ctx.now();
    const stats = await statisticsFor(b.ctx, { mandateId, userId: null, period: "YEAR", year: now.getUTCFullYear() });
    expect(stats.totals).toMatchObject({ transactionCount: 1, totalCost: "0.000000" });
    await expectLedgerInvariants(db.prisma);
  });
});

describe("5. client keys cannot reach the keys Saldo derives", () => {
  it("a gateway key that looks like Stripe's never blocks the payment", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { session, metadata } = await checkoutStarted(b.ctx, mandateId, "30");
    const key = `stripe:checkout:${session.id}`;
    await recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: key });
    await creditAccount(b.ctx, { mandateId, amount: "1", description: "sneaky", idempotencyKey: key });
    const paid = stripeEvent("checkout.session.completed", {
      id: session.id,
      amount_total: 3000,
      currency: "chf",
      payment_status: "paid",
      metadata,
    });
    expect(await applyStripeEvent(b.ctx, paid)).toMatchObject({ outcome: "credited" });
    expect(await balanceOf(mandateId, "mandate")).toBe("30.000000");
  });
});

describe("6. reads never write", () => {
  it("a balance or a check of a user no move has seen opens nothing and books nothing", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER", { defaultUserCredit: "10" });
    const ghost = await balanceFor(b.ctx, mandateId, "ghost1");
    expect(ghost).toMatchObject({ userId: "ghost1", isWarning: false });
    expect(ghost.balance.toFixed(6)).toBe("10.000000");
    expect((await checkBilling(b.ctx, { mandateId, userId: "ghost1", provider: "openai", estimatedCost: "1" })).allowed).toBe(true);
    expect(await accountsOf(mandateId)).toEqual([]);
    expect(await entriesOf(mandateId)).toEqual([]);
    // The first money move opens it under the id the balance showed.
    const opened = await recordUsage(b.ctx, { mandateId, userId: "ghost1", ...openai, cost: "1", idempotencyKey: "first" });
    expect(opened.accountId).toBe(ghost.accountId);
    expect((await balanceFor(b.ctx, mandateId, "ghost1")).balance.toFixed(6)).toBe("9.000000");
  });
});

describe("7. an expired hold gives back what it held, re-arms the warning, and reads as EXPIRED", () => {
  it("before the sweep and after it", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "95", expiresInSeconds: 60, idempotencyKey: "h" });
    expect(warnings(b)).toHaveLength(1);
    b.clock.advance(61_000);
    const authorization = await db.prisma.usageAuthorization.findUniqueOrThrow({ where: { id: hold.authorization!.id } });
    expect(authorization.status).toBe("ACTIVE"); // not swept yet...
    expect(holdStatus(authorization, b.ctx.now())).toBe("EXPIRED"); // ...but it reads as expired
    const view = await balanceFor(b.ctx, mandateId, null);
    expect(view.available?.toFixed(6)).toBe("100.000000");
    expect(view.isWarning).toBe(false);
    // The next crossing warns again, without the sweep.
    await recordUsage(b.ctx, { mandateId, ...openai, cost: "95", idempotencyKey: "u1" });
    expect(warnings(b)).toHaveLength(2);
    // The sweep closes expired holds and re-arms, telling subscribers.
    await creditAccount(b.ctx, { mandateId, amount: "95", description: "top-up", idempotencyKey: "c2" });
    await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "90", expiresInSeconds: 60, idempotencyKey: "h2" });
    expect(warnings(b)).toHaveLength(3);
    b.clock.advance(61_000);
    b.events.length = 0;
    expect(await expireHolds(b.ctx)).toBe(2);
    expect(b.events.map((e) => e.type)).toContain("balanceChanged");
    const account = await db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId } });
    expect(account.isWarning).toBe(false);
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId, status: "EXPIRED" } })).toBe(2);
  });

  it("a release re-arms the warning too", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "95", idempotencyKey: "h" });
    await releaseUsage(b.ctx, { authorizationId: hold.authorization!.id });
    await recordUsage(b.ctx, { mandateId, ...openai, cost: "95", idempotencyKey: "u" });
    expect(warnings(b)).toHaveLength(2);
  });
});

describe("8. amounts near the limits are refused clearly, and nothing overflows", () => {
  it("a computed cost beyond the largest amount is INVALID_AMOUNT, not a database error", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "UNLIMITED");
    const model = `huge-${uniqueId()}`;
    await upsertPrice(db.prisma, {
      provider: "openai",
      model,
      inputPerMillionTokensUsd: "0",
      outputPerMillionTokensUsd: "0",
      perRequestUsd: "1000000000",
    });
    for (const call of [
      () => recordUsage(b.ctx, { mandateId, provider: "openai", model, usage: { requests: 1000 }, idempotencyKey: "r" }),
      () => authorizeUsage(b.ctx, { mandateId, provider: "openai", model, estimatedUsage: { requests: 1000 }, idempotencyKey: "h" }),
      () => checkBilling(b.ctx, { mandateId, provider: "openai", model, estimatedUsage: { requests: 1000 } }),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: "INVALID_AMOUNT",
        message: expect.stringContaining("exceeds the largest amount"),
      });
    }
    expect(await entriesOf(mandateId)).toEqual([]);
  });

  it("a balance is never taken beyond what its column holds", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    for (let i = 0; i < 100; i++)
      await creditAccount(b.ctx, { mandateId, amount: "1000000000", description: "big", idempotencyKey: `big-${i}` });
    await expect(
      creditAccount(b.ctx, { mandateId, amount: "0.000001", description: "one more", idempotencyKey: "over" }),
    ).rejects.toMatchObject({
      code: "INVALID_AMOUNT",
    });
    expect(await balanceOf(mandateId, "mandate")).toBe("100000000000.000000");
    await expectLedgerInvariants(db.prisma);
  });

  it("a YEAR rollup far beyond any balance still adds up (the columns are wide enough)", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "UNLIMITED");
    const { accountId } = await recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "first" });
    // As if years of traffic had passed through this account this year (beyond Decimal(18, 6) and a 32-bit count).
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "totalCost" = "totalCost" + 99999999999999999, "transactionCount" = "transactionCount" + 3000000000 WHERE "accountId" = $1 AND "periodType" = 'YEAR'`,
      accountId,
    );
    await recordUsage(b.ctx, { mandateId, ...openai, cost: "1000000000", idempotencyKey: "big" });
    const year = await db.prisma.usageStatistics.findFirstOrThrow({ where: { accountId, periodType: "YEAR" } });
    expect(year.totalCost.toFixed(6)).toBe("100000001000000000.000000");
    expect(year.transactionCount).toBe(3000000002n);
    // Take the pretended traffic out again: the other tests check rollups = ledger.
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "totalCost" = "totalCost" - 99999999999999999, "transactionCount" = "transactionCount" - 3000000000 WHERE "accountId" = $1 AND "periodType" = 'YEAR'`,
      accountId,
    );
    await expectLedgerInvariants(db.prisma);
  });

  it("reports an amount as written, never in exponent notation", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await expect(
      creditAccount(b.ctx, { mandateId, amount: "1000000000000000000000", description: "x", idempotencyKey: "x" }),
    ).rejects.toMatchObject({
      code: "INVALID_AMOUNT",
      message: expect.stringContaining("1000000000000000000000"),
    });
  });
});

describe("9. a billing-model switch never strands money silently", () => {
  it("is refused while a hold is active, and allowed once it is settled", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "5", idempotencyKey: "h" });
    await expect(updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: ["input", "billingModel"],
      message: expect.stringContaining("1 hold(s) are active"),
    });
    expect((await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } })).billingModel).toBe("PREPAY_MANDATE");
    await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "4" });
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" });
    expect((await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } })).billingModel).toBe("PREPAY_USER");
  });

  it("a switch racing with holds never leaves an active hold on an account the new model does not use", async () => {
    const b = testBilling(db);
    for (let round = 0; round < 5; round++) {
      const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
      await creditAccount(b.ctx, { mandateId, amount: "1000", description: "top-up", idempotencyKey: "c" });
      const holds = Array.from({ length: 8 }, (_, i) =>
        authorizeUsage(b.ctx, { mandateId, userId: `u${i % 2}`, ...openai, estimatedCost: "1", idempotencyKey: `h${i}` }).catch((e) => e),
      );
      const switched = updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER" }).then(
        () => true,
        (e) => (e.code === "VALIDATION_FAILED" ? false : Promise.reject(e)),
      );
      await Promise.all(holds);
      if (await switched) {
        const active = await db.prisma.usageAuthorization.findMany({ where: { mandateId, status: "ACTIVE" }, include: { account: true } });
        for (const h of active) expect(h.account.accountKey, "a hold made after the switch is on a user's account").toMatch(/^user:/);
      }
    }
  });

  it("leaves balances where they are, visible, and a transfer moves them atomically", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId: shared } = await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_USER", defaultUserCredit: "0" });
    const { accountId: own } = await creditAccount(b.ctx, {
      mandateId,
      userId: "alice",
      amount: "1",
      description: "top-up",
      idempotencyKey: "a",
    });
    expect(await balanceOf(mandateId, "mandate")).toBe("50.000000");
    const transfer = {
      mandateId,
      fromAccountId: shared,
      toAccountId: own,
      amount: "30",
      description: "move the shared balance",
      idempotencyKey: "t1",
    };
    await expect(transferBalance(b.ctx, { ...transfer, amount: "50.000001", idempotencyKey: "t0" })).rejects.toMatchObject({
      code: "INSUFFICIENT_BALANCE",
    });
    const moved = await transferBalance(b.ctx, transfer);
    expect(moved.from.delta.toFixed(6)).toBe("-30.000000");
    expect(moved.to.delta.toFixed(6)).toBe("30.000000");
    expect(await transferBalance(b.ctx, transfer)).toMatchObject({ replayed: true, from: { id: moved.from.id }, to: { id: moved.to.id } });
    await expect(transferBalance(b.ctx, { ...transfer, amount: "31" })).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    expect(await balanceOf(mandateId, "mandate")).toBe("20.000000");
    expect(await balanceOf(mandateId, "user:alice")).toBe("31.000000");
    await expectLedgerInvariants(db.prisma);
  });

  it("UNLIMITED pays from an account of its own: the prepaid balance is untouched, and there again after switching back", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c" });
    await updateSettings(b.ctx, { mandateId, billingModel: "UNLIMITED" });
    await recordUsage(b.ctx, { mandateId, ...openai, cost: "80", idempotencyKey: "u1" });
    expect(await balanceOf(mandateId, "mandate")).toBe("50.000000");
    expect(await balanceOf(mandateId, "unlimited")).toBe("-80.000000");
    await updateSettings(b.ctx, { mandateId, billingModel: "PREPAY_MANDATE" });
    expect((await checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "50" })).allowed).toBe(true);
  });
});

describe("10. input that does not apply is refused, not ignored", () => {
  it("a credit limit outside CREDIT_POSTPAY", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "5", description: "top-up", idempotencyKey: "c" });
    await expect(updateBillingAccount(b.ctx, { accountId, creditLimit: "500" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      field: ["input", "creditLimit"],
    });
    expect((await db.prisma.billingAccount.findUniqueOrThrow({ where: { id: accountId } })).creditLimit).toBeNull();
    const postpay = await createMandate(b.ctx, "CREDIT_POSTPAY", { billingAddress: ADDRESS });
    const { accountId: invoiced } = await creditAccount(b.ctx, {
      mandateId: postpay,
      amount: "5",
      description: "paid",
      idempotencyKey: "c",
    });
    expect((await updateBillingAccount(b.ctx, { accountId: invoiced, creditLimit: "500" })).creditLimit?.toFixed(2)).toBe("500.00");
  });

  it("a userId on a credit or adjustment of a shared account", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    for (const move of [
      () => creditAccount(b.ctx, { mandateId, userId: "b1", amount: "5", description: "x", idempotencyKey: "c" }),
      () => adjustAccount(b.ctx, { mandateId, userId: "b1", amount: "5", description: "x", idempotencyKey: "a" }),
    ]) {
      await expect(move()).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        field: ["input", "userId"],
        message: expect.stringContaining("shared account"),
      });
    }
    expect(await entriesOf(mandateId)).toEqual([]);
  });
});
