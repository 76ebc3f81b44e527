// Automatic top-ups end to end: a checkout saves a card (payment_method.attached),
// a mandate admin enables autoTopUp, debits push the account below the mark,
// and the real `stripe` client charges the saved card off-session on a local
// fake Stripe; payment_intent.succeeded credits once. Also: one charge under
// concurrent debits and concurrent claims, the monthly cap, and a declined
// card that is recorded and emailed once, never retried in a loop.
import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { claimAutoTopUp } from "../../src/billing/payments/autotopup.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { Decimal } from "../../src/billing/shared/money.js";
import { renderBalanceWarning } from "../../src/notify/templates.js";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";
import { expectLedgerInvariants, uniqueId } from "../support/billing.js";
import { startFakeStripe, type FakeStripe } from "./fake-stripe.js";

const WEBHOOK_SECRET = "whsec_auto";
const signer = new Stripe("sk_test_x");

let fake: FakeStripe;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await createTestApp({
    STRIPE_SECRET_KEY: "sk_test_x",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: fake.url,
    TOPUP_MAX_CHF: "1000",
  });
});
afterAll(async () => {
  await app?.close();
  await fake?.close();
});
beforeEach(() => app.clock.set("2026-11-15T10:00:00Z"));

async function deliver(type: string, object: Record<string, unknown>, id = `evt_${randomUUID().replaceAll("-", "")}`) {
  const payload = JSON.stringify({
    id,
    object: "event",
    api_version: "2025-01-27.acacia",
    created: 1_763_700_000,
    livemode: false,
    type,
    data: { object },
  });
  const signature = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  const response = await app.yoga.fetch("http://yoga/webhooks/stripe", {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signature },
    body: payload,
  });
  expect(response.status).toBe(200);
}

const SETTINGS = `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) {
  settings { autoTopUp { enabled belowAmount topUpAmount monthlyCap paymentMethodSaved } }
  userErrors { code message field } } }`;

interface Setup {
  mandateId: string;
  accountId: string;
  customerId: string;
  paymentMethodId: string;
  admin: TestCaller;
}

/** A prepaid mandate with 20.00 CHF paid by checkout, whose card Stripe then reports as saved. */
async function mandateWithSavedCard(options: { saveCard?: boolean } = {}): Promise<Setup> {
  const mandateId = uniqueId();
  const admin: TestCaller = { roles: ["MANDATE_ADMIN"], mandateIds: [mandateId], userId: `admin-${mandateId}` };
  const created = await app.gql(
    `mutation($id: ID!) {
      upsertMandate(input: { id: $id, name: "Auto", billingModel: PREPAY_MANDATE }) { userErrors { code } }
      updateSettings(input: { mandateId: $id, notifyEmails: ["billing@auto.test"] }) { userErrors { code } }
    }`,
    { id: mandateId },
    SYSADMIN,
  );
  expect(created.data).toEqual({ upsertMandate: { userErrors: [] }, updateSettings: { userErrors: [] } });
  const checkout = await app.gql(
    `mutation($input: CreateTopUpCheckoutInput!) { createTopUpCheckout(input: $input) { checkout { id } userErrors { code } } }`,
    { input: { mandateId, amount: "20.00", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/cancel" } },
    admin,
  );
  expect(checkout.data.createTopUpCheckout.userErrors).toEqual([]);
  const request = fake.calls("POST", "/v1/checkout/sessions").find((r) => r.form["metadata[mandateId]"] === mandateId)!;
  const accountId = request.form["metadata[accountId]"];
  const customerId = request.form.customer;
  await deliver("checkout.session.completed", {
    id: checkout.data.createTopUpCheckout.checkout.id,
    object: "checkout.session",
    amount_total: 2000,
    currency: "chf",
    payment_status: "paid",
    metadata: { accountId, accountKey: request.form["metadata[accountKey]"], mandateId, userId: "", amount: "20.000000" },
  });
  const paymentMethodId = `pm_${randomUUID().slice(0, 8)}`;
  if (options.saveCard !== false)
    await deliver("payment_method.attached", { id: paymentMethodId, object: "payment_method", customer: customerId });
  return { mandateId, accountId, customerId, paymentMethodId, admin };
}

async function enable(s: Setup, values: { belowAmount?: string; topUpAmount?: string; monthlyCap?: string } = {}) {
  const res = await app.gql(
    SETTINGS,
    { input: { mandateId: s.mandateId, autoTopUp: { enabled: true, belowAmount: "10", topUpAmount: "50", monthlyCap: "100", ...values } } },
    s.admin,
  );
  expect(res.data.updateSettings.userErrors).toEqual([]);
  return res.data.updateSettings.settings.autoTopUp;
}

let debitCounter = 0;
function debit(s: Setup, cost: string) {
  return recordUsage(app.billing, {
    mandateId: s.mandateId,
    provider: "openai",
    model: "gpt-4o",
    cost,
    idempotencyKey: `auto-debit-${++debitCounter}`,
  });
}

const intentsOf = (s: Setup) => fake.calls("POST", "/v1/payment_intents").filter((r) => r.form.customer === s.customerId);
const attemptsOf = (s: Setup) =>
  app.database.prisma.autoTopUp.findMany({ where: { mandateId: s.mandateId }, orderBy: { createdAt: "asc" } });
const balanceOf = async (s: Setup) =>
  new Decimal((await app.database.prisma.billingAccount.findUniqueOrThrow({ where: { id: s.accountId } })).balance.toString());

/** Stripe's answer to a charged intent: payment_intent.succeeded with what the fake recorded. */
function succeeded(request: (typeof fake.requests)[number], id: string) {
  const metadata = Object.fromEntries(
    Object.entries(request.form).flatMap(([k, v]) => (k.startsWith("metadata[") ? [[k.slice(9, -1), v]] : [])),
  );
  return {
    id,
    object: "payment_intent",
    amount: Number(request.form.amount),
    amount_received: Number(request.form.amount),
    currency: "chf",
    metadata,
    status: "succeeded",
  };
}

describe("automatic top-up settings", () => {
  it("can be enabled by a mandate admin once a card is saved, and shows what is stored", async () => {
    const s = await mandateWithSavedCard();
    expect(await enable(s)).toEqual({
      enabled: true,
      belowAmount: "10.000000",
      topUpAmount: "50.000000",
      monthlyCap: "100.000000",
      paymentMethodSaved: true,
    });
    // Omitted amounts keep their value; disabling keeps them for later.
    const off = await app.gql(SETTINGS, { input: { mandateId: s.mandateId, autoTopUp: { enabled: false } } }, s.admin);
    expect(off.data.updateSettings.settings.autoTopUp).toMatchObject({
      enabled: false,
      topUpAmount: "50.000000",
      monthlyCap: "100.000000",
    });
  });

  it("refuses bad values with userErrors and stores nothing", async () => {
    const s = await mandateWithSavedCard();
    const tryWith = async (autoTopUp: Record<string, unknown>) =>
      (await app.gql(SETTINGS, { input: { mandateId: s.mandateId, autoTopUp } }, s.admin)).data.updateSettings.userErrors;
    const base = { enabled: true, belowAmount: "10", topUpAmount: "50", monthlyCap: "100" };
    expect(await tryWith({ ...base, topUpAmount: "4.99" })).toMatchObject([
      { code: "INVALID_AMOUNT", field: ["input", "autoTopUp", "topUpAmount"] },
    ]);
    expect(await tryWith({ ...base, topUpAmount: "1000.01" })).toMatchObject([{ code: "INVALID_AMOUNT" }]);
    expect(await tryWith({ ...base, topUpAmount: "10.005" })).toMatchObject([{ code: "INVALID_AMOUNT" }]);
    expect(await tryWith({ ...base, monthlyCap: "49.99" })).toMatchObject([
      { code: "INVALID_AMOUNT", field: ["input", "autoTopUp", "monthlyCap"] },
    ]);
    expect(await tryWith({ ...base, belowAmount: "-1" })).toMatchObject([{ code: "INVALID_AMOUNT" }]);
    expect(await tryWith({ enabled: true, belowAmount: "10" })).toMatchObject([
      { code: "VALIDATION_FAILED", field: ["input", "autoTopUp", "topUpAmount"] },
    ]);
    const settings = await app.database.prisma.settings.findUniqueOrThrow({ where: { mandateId: s.mandateId } });
    expect(settings.autoTopUpEnabled).toBe(false);
    expect(settings.autoTopUpAmount).toBeNull();
  });

  it("needs a saved card and a prepaid billing model", async () => {
    const noCard = await mandateWithSavedCard({ saveCard: false });
    const res = await app.gql(
      SETTINGS,
      { input: { mandateId: noCard.mandateId, autoTopUp: { enabled: true, belowAmount: "10", topUpAmount: "50", monthlyCap: "100" } } },
      noCard.admin,
    );
    expect(res.data.updateSettings.userErrors).toMatchObject([
      { code: "VALIDATION_FAILED", message: expect.stringContaining("saved payment method") },
    ]);

    const s = await mandateWithSavedCard();
    await enable(s);
    const postpay = await app.gql(
      `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { userErrors { code message } } }`,
      {
        input: {
          mandateId: s.mandateId,
          billingModel: "CREDIT_POSTPAY",
          billingAddress: { company: "A", street: "B 1", zip: "8000", city: "Zürich", country: "CH" },
        },
      },
      SYSADMIN,
    );
    expect(postpay.data.updateSettings.userErrors).toMatchObject([
      { code: "VALIDATION_FAILED", message: expect.stringContaining("prepaid") },
    ]);
    const settings = await app.database.prisma.settings.findUniqueOrThrow({ where: { mandateId: s.mandateId } });
    expect(settings.billingModel).toBe("PREPAY_MANDATE");
  });

  it("is not for a plain user of the mandate", async () => {
    const s = await mandateWithSavedCard();
    const res = await app.gql(
      SETTINGS,
      { input: { mandateId: s.mandateId, autoTopUp: { enabled: false } } },
      { roles: ["USER"], mandateIds: [s.mandateId], userId: "u1" },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const attempts = await app.gql(
      `query($id: ID!) { mandate(id: $id) { id autoTopUps { status } } }`,
      { id: s.mandateId },
      { roles: ["USER"], mandateIds: [s.mandateId], userId: "u1" },
    );
    expect(attempts.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("automatic top-up", () => {
  it("charges the saved card once under concurrent debits, and payment_intent.succeeded credits once", async () => {
    const s = await mandateWithSavedCard();
    await enable(s);
    // 20.00 - 16 × 1.00 = 4.00: below the mark of 10 from the 11th debit on, all at once.
    await Promise.all(Array.from({ length: 16 }, () => debit(s, "1.00")));
    await app.autoTopUps.idle();
    const intents = intentsOf(s);
    expect(intents).toHaveLength(1);
    expect(intents[0].form).toMatchObject({
      amount: "5000",
      currency: "chf",
      customer: s.customerId,
      payment_method: s.paymentMethodId,
      off_session: "true",
      confirm: "true",
      "metadata[accountId]": s.accountId,
      "metadata[mandateId]": s.mandateId,
    });
    expect(intents[0].headers["idempotency-key"]).toMatch(/^saldo-auto-top-up-/);
    const [attempt] = await attemptsOf(s);
    expect(attempt).toMatchObject({ status: "PENDING", accountId: s.accountId, paymentMethodId: s.paymentMethodId });
    expect(attempt.paymentIntentId).toMatch(/^pi_fake_/);
    expect(intents[0].form["metadata[autoTopUpId]"]).toBe(attempt.id);

    // Still pending: more debits charge nothing more.
    await debit(s, "1.00");
    await app.autoTopUps.idle();
    expect(intentsOf(s)).toHaveLength(1);

    // Stripe delivers the success 5 times, concurrently, and once more later.
    const event = succeeded(intents[0], attempt.paymentIntentId!);
    const eventId = `evt_${randomUUID().replaceAll("-", "")}`;
    await Promise.all(Array.from({ length: 5 }, () => deliver("payment_intent.succeeded", event, eventId)));
    await deliver("payment_intent.succeeded", event);
    expect((await balanceOf(s)).toFixed(2)).toBe("53.00"); // 20 - 17 + 50
    const credits = await app.database.prisma.transaction.findMany({
      where: { accountId: s.accountId, referenceId: attempt.paymentIntentId },
    });
    expect(credits).toHaveLength(1);
    expect(credits[0]).toMatchObject({ transactionType: "CREDIT", referenceType: "PAYMENT" });
    expect(await attemptsOf(s)).toMatchObject([{ status: "SUCCEEDED", transactionId: credits[0].id }]);

    // A refund of that charge finds its account through the payment intent, even without metadata.
    const refund = {
      id: "ch_auto_1",
      object: "charge",
      currency: "chf",
      payment_intent: attempt.paymentIntentId,
      metadata: {},
      amount_refunded: 1000,
    };
    const refunded = {
      ...refund,
      refunds: { object: "list", has_more: false, data: [{ id: `re_${attempt.id.slice(0, 8)}`, amount: 1000, status: "succeeded" }] },
    };
    await deliver("charge.refunded", refunded);
    await deliver("charge.refunded", refunded);
    expect((await balanceOf(s)).toFixed(2)).toBe("43.00");
    await expectLedgerInvariants(app.database.prisma);
  });

  it("claims one top-up when many claims race (the Settings row lock), not only in one process", async () => {
    const s = await mandateWithSavedCard();
    await enable(s);
    await debit(s, "15.00");
    await app.autoTopUps.idle();
    await app.database.prisma.autoTopUp.deleteMany({ where: { mandateId: s.mandateId } });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => claimAutoTopUp(app.billing, s.accountId)));
    expect(outcomes.filter((o) => "claimed" in o)).toHaveLength(1);
    expect(outcomes.filter((o) => "skipped" in o && o.skipped === "a top-up is pending")).toHaveLength(9);
    expect(await attemptsOf(s)).toHaveLength(1);
  });

  it("sends a claim that never reached Stripe again, once, with the same idempotency key", async () => {
    const s = await mandateWithSavedCard();
    await enable(s);
    await debit(s, "15.00");
    await app.autoTopUps.idle();
    // As if the instance had stopped after the claim: the charge never happened.
    await app.database.prisma.autoTopUp.updateMany({ where: { mandateId: s.mandateId }, data: { paymentIntentId: null } });
    const [first] = intentsOf(s);
    expect(await app.autoTopUps.resumeStale()).toBe(0); // not stale yet
    app.clock.advance(11 * 60_000);
    await app.autoTopUps.resumeStale();
    const intents = intentsOf(s);
    expect(intents).toHaveLength(2);
    expect(intents[1].headers["idempotency-key"]).toBe(first.headers["idempotency-key"]);
    const [attempt] = await attemptsOf(s);
    expect(attempt.status).toBe("PENDING");
    expect(attempt.paymentIntentId).toMatch(/^pi_fake_/);
    expect(await app.autoTopUps.resumeStale()).toBe(0);
  });

  it("never charges beyond the monthly cap, and starts again in the next month", async () => {
    const s = await mandateWithSavedCard();
    await enable(s, { topUpAmount: "50", monthlyCap: "100" });
    const settle = async () => {
      await app.autoTopUps.idle();
      const request = intentsOf(s).at(-1)!;
      const attempt = (await attemptsOf(s)).at(-1)!;
      await deliver("payment_intent.succeeded", succeeded(request, attempt.paymentIntentId!));
    };
    await debit(s, "15.00"); // 5.00 left
    await settle(); // +50 → 55.00, 50 of 100 used
    await debit(s, "50.00"); // 5.00 left
    await settle(); // +50 → 55.00, 100 of 100 used
    await debit(s, "50.00"); // 5.00 left: the cap is reached
    await app.autoTopUps.idle();
    expect(intentsOf(s)).toHaveLength(2);
    expect((await attemptsOf(s)).map((a) => a.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect((await balanceOf(s)).toFixed(2)).toBe("5.00");

    app.clock.set("2026-12-01T09:00:00Z");
    await debit(s, "1.00");
    await app.autoTopUps.idle();
    expect(intentsOf(s)).toHaveLength(3);
    const december = (await attemptsOf(s)).at(-1)!;
    expect(december.month.toISOString().slice(0, 10)).toBe("2026-12-01");
  });

  it("records a declined card, emails it once, and does not retry until the settings are saved again", async () => {
    const s = await mandateWithSavedCard();
    await enable(s);
    fake.declined.set(s.paymentMethodId, "Your card has insufficient funds.");
    await debit(s, "15.00");
    await app.autoTopUps.idle();
    const [attempt] = await attemptsOf(s);
    expect(attempt).toMatchObject({ status: "FAILED", failureMessage: "Your card has insufficient funds." });
    expect(attempt.paymentIntentId).toMatch(/^pi_fake_/);

    // Stripe's own report of the same failure changes nothing.
    await deliver("payment_intent.payment_failed", {
      id: attempt.paymentIntentId,
      object: "payment_intent",
      metadata: { autoTopUpId: attempt.id, accountId: s.accountId, mandateId: s.mandateId },
      last_payment_error: { message: "Your card has insufficient funds." },
    });
    const emails = await app.database.prisma.notification.findMany({
      where: { mandateId: s.mandateId, dedupeKey: { startsWith: "auto-top-up:" } },
    });
    expect(emails).toHaveLength(1);
    expect(emails[0].payload).toMatchObject({
      accountId: s.accountId,
      autoTopUpFailure: { amount: "50.000000", reason: "Your card has insufficient funds." },
    });

    // No loop: further debits below the mark charge nothing.
    await debit(s, "1.00");
    await debit(s, "1.00");
    await app.autoTopUps.idle();
    expect(intentsOf(s)).toHaveLength(1);

    // The admin saves the settings again (say, after fixing the card): the next debit tries once more.
    fake.declined.delete(s.paymentMethodId);
    app.clock.advance(1000);
    await enable(s);
    await debit(s, "1.00");
    await app.autoTopUps.idle();
    expect(intentsOf(s)).toHaveLength(2);
    expect((await attemptsOf(s)).map((a) => a.status)).toEqual(["FAILED", "PENDING"]);

    const recent = await app.gql(
      `query($id: ID!) { mandate(id: $id) { autoTopUps(first: 5) { status amount failureMessage } } }`,
      { id: s.mandateId },
      s.admin,
    );
    expect(recent.data.mandate.autoTopUps).toEqual([
      { status: "PENDING", amount: "50.000000", failureMessage: null },
      { status: "FAILED", amount: "50.000000", failureMessage: "Your card has insufficient funds." },
    ]);
  });

  it("does not credit a checkout's own payment_intent.succeeded (its checkout.session.completed did)", async () => {
    const s = await mandateWithSavedCard();
    const before = await balanceOf(s);
    await deliver("payment_intent.succeeded", {
      id: "pi_checkout_1",
      object: "payment_intent",
      amount: 2000,
      amount_received: 2000,
      currency: "chf",
      metadata: { accountId: s.accountId, mandateId: s.mandateId, userId: "", amount: "20.000000" },
    });
    expect((await balanceOf(s)).equals(before)).toBe(true);
  });

  it("forgets a detached card", async () => {
    const s = await mandateWithSavedCard();
    await deliver("payment_method.detached", { id: s.paymentMethodId, object: "payment_method", customer: null });
    const mandate = await app.database.prisma.mandate.findUniqueOrThrow({ where: { id: s.mandateId } });
    expect(mandate.stripePaymentMethodId).toBeNull();
  });
});

describe("the failure email", () => {
  it.each(["EN", "DE"] as const)("reports the failed top-up in %s", (language) => {
    const mail = renderBalanceWarning({
      mandateId: "m",
      mandateName: "Acme",
      language,
      billingModel: "PREPAY_MANDATE",
      userId: null,
      available: "5.000000",
      threshold: "2.000000",
      at: new Date("2026-11-15T10:00:00Z"),
      currentBalance: "5.000000",
      creditLimit: null,
      timeZone: "Europe/Zurich",
      autoTopUpFailure: { amount: "50.000000", reason: "Your card was declined." },
    });
    expect(mail.subject).toContain(language === "EN" ? "automatic top-up failed" : "automatische Aufladung");
    expect(mail.text).toContain("Your card was declined.");
    expect(mail.text).toMatch(/50[.,]00/);
    expect(mail.html).toContain("Your card was declined.");
  });
});
