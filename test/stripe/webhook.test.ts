// Stripe top-ups end to end: the real `stripe` client against a local fake
// Stripe API (checkout), and signed webhook events through yoga.fetch that
// credit once however often, and however concurrently, Stripe delivers them.
import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountIdFor } from "../../src/billing/ledger/accounts.js";
import { Decimal } from "../../src/billing/shared/money.js";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";
import { expectLedgerInvariants, uniqueId } from "../support/billing.js";
import { startFakeStripe, type FakeStripe } from "./fake-stripe.js";

const WEBHOOK_SECRET = "whsec_test";
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

const CHECKOUT = `mutation($input: CreateTopUpCheckoutInput!) { createTopUpCheckout(input: $input) {
  checkout { id url } userErrors { code message field } } }`;

async function newMandate(): Promise<{ mandateId: string; admin: TestCaller }> {
  const mandateId = uniqueId();
  const res = await app.gql(
    `mutation($id: ID!) { upsertMandate(input: { id: $id, name: "Stripe test", billingModel: PREPAY_MANDATE }) { userErrors { code } } }`,
    { id: mandateId },
    SYSADMIN,
  );
  expect(res.data.upsertMandate.userErrors).toEqual([]);
  return { mandateId, admin: { roles: ["MANDATE_ADMIN"], mandateIds: [mandateId], userId: `admin-${mandateId}` } };
}

function topUp(mandateId: string, amount: string, caller: TestCaller) {
  return app.gql(
    CHECKOUT,
    { input: { mandateId, amount, successUrl: "https://app.test/ok", cancelUrl: "https://app.test/cancel" } },
    caller,
  );
}

/** A mandate with a checkout started through GraphQL: the metadata Stripe will send back. */
async function checkoutFor(amount = "25.50") {
  const { mandateId, admin } = await newMandate();
  const res = await topUp(mandateId, amount, admin);
  expect(res.data.createTopUpCheckout.userErrors).toEqual([]);
  const sessionId: string = res.data.createTopUpCheckout.checkout.id;
  const request = fake.calls("POST", "/v1/checkout/sessions").find((r) => r.form.customer && r.form["metadata[mandateId]"] === mandateId)!;
  const metadata = {
    accountId: request.form["metadata[accountId]"],
    accountKey: request.form["metadata[accountKey]"],
    mandateId: request.form["metadata[mandateId]"],
    userId: request.form["metadata[userId]"],
    amount: request.form["metadata[amount]"],
  };
  return { mandateId, sessionId, metadata, amountRappen: Number(request.form["line_items[0][price_data][unit_amount]"]) };
}

function event(type: string, object: Record<string, unknown>, id = `evt_${randomUUID().replaceAll("-", "")}`) {
  return { id, object: "event", api_version: "2025-01-27.acacia", created: 1_763_700_000, livemode: false, type, data: { object } };
}

function sessionEvent(type: string, c: Awaited<ReturnType<typeof checkoutFor>>, id?: string, paymentStatus = "paid") {
  return event(
    type,
    {
      id: c.sessionId,
      object: "checkout.session",
      amount_total: c.amountRappen,
      currency: "chf",
      payment_status: paymentStatus,
      metadata: c.metadata,
    },
    id,
  );
}

function refundEvent(chargeId: string, accountId: string, refunds: { id: string; amount: number }[], id?: string) {
  return event(
    "charge.refunded",
    {
      id: chargeId,
      object: "charge",
      currency: "chf",
      amount_refunded: refunds.reduce((sum, r) => sum + r.amount, 0),
      metadata: { accountId },
      refunds: { object: "list", data: refunds.map((r) => ({ ...r, object: "refund", status: "succeeded", charge: chargeId })) },
    },
    id,
  );
}

async function deliver(body: unknown, options: { secret?: string; header?: string | null; contentType?: string; target?: TestApp } = {}) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": options.contentType ?? "application/json; charset=utf-8" };
  const signature =
    options.header === undefined
      ? signer.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET })
      : options.header;
  if (signature !== null) headers["stripe-signature"] = signature;
  const response = await (options.target ?? app).yoga.fetch("http://yoga/webhooks/stripe", { method: "POST", headers, body: payload });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** An account's balance and entries (0 and none while no money move has opened it). */
async function ledgerOf(accountId: string) {
  const db = app.database.prisma;
  const account = await db.billingAccount.findUnique({ where: { id: accountId } });
  const transactions = await db.transaction.findMany({ where: { accountId }, orderBy: { sequence: "asc" } });
  return { balance: new Decimal(account?.balance.toString() ?? "0"), transactions };
}

const webhookRows = (id: string) => app.database.prisma.stripeWebhookEvent.findMany({ where: { id } });

describe("createTopUpCheckout against the real stripe client", () => {
  it("creates one customer per mandate and a CHF checkout session carrying amount, customer and metadata", async () => {
    fake.reset();
    const { mandateId, admin } = await newMandate();
    const first = await topUp(mandateId, "25.50", admin);
    expect(first.data.createTopUpCheckout.userErrors).toEqual([]);
    expect(first.data.createTopUpCheckout.checkout).toMatchObject({
      id: expect.stringMatching(/^cs_test_/),
      url: expect.stringMatching(/^https:\/\//),
    });
    const second = await topUp(mandateId, "100", admin);
    expect(second.data.createTopUpCheckout.userErrors).toEqual([]);

    const customers = fake.calls("POST", "/v1/customers");
    expect(customers).toHaveLength(1);
    expect(customers[0].form["metadata[mandateId]"]).toBe(mandateId);
    const customerId = (await app.database.prisma.mandate.findUniqueOrThrow({ where: { id: mandateId } })).stripeCustomerId;
    expect(customerId).toMatch(/^cus_fake_/);

    const sessions = fake.calls("POST", "/v1/checkout/sessions");
    expect(sessions).toHaveLength(2);
    // Starting a top-up books nothing: the session names the account (its key, and the id it has or will get).
    expect(await app.database.prisma.billingAccount.count({ where: { mandateId } })).toBe(0);
    const account = { id: accountIdFor(mandateId, "mandate") };
    expect(sessions[0].headers.authorization).toBe("Bearer sk_test_x");
    expect(sessions[0].form).toMatchObject({
      mode: "payment",
      currency: "chf",
      customer: customerId,
      "line_items[0][quantity]": "1",
      "line_items[0][price_data][currency]": "chf",
      "line_items[0][price_data][unit_amount]": "2550",
      "line_items[0][price_data][product_data][name]": "Saldo credit",
      success_url: "https://app.test/ok",
      cancel_url: "https://app.test/cancel",
      "metadata[accountId]": account.id,
      "metadata[accountKey]": "mandate",
      "metadata[mandateId]": mandateId,
      "metadata[amount]": "25.500000",
      "payment_intent_data[metadata][accountId]": account.id,
      "payment_intent_data[metadata][mandateId]": mandateId,
    });
    expect(sessions[1].form).toMatchObject({
      customer: customerId,
      "line_items[0][price_data][unit_amount]": "10000",
      "metadata[amount]": "100.000000",
    });
  });

  it("refuses amounts below 5 CHF, above TOPUP_MAX_CHF or with 3 decimals, without calling Stripe", async () => {
    const { mandateId, admin } = await newMandate();
    fake.reset();
    for (const amount of ["4.99", "1000.01", "10.005"]) {
      const res = await topUp(mandateId, amount, admin);
      expect(res.data.createTopUpCheckout.checkout, amount).toBeNull();
      expect(res.data.createTopUpCheckout.userErrors, amount).toEqual([
        expect.objectContaining({ code: "INVALID_AMOUNT", field: ["input", "amount"] }),
      ]);
    }
    expect(fake.requests).toEqual([]);
    // The limits themselves are allowed.
    for (const amount of ["5", "1000"]) {
      expect((await topUp(mandateId, amount, admin)).data.createTopUpCheckout.userErrors, amount).toEqual([]);
    }
  });
});

describe("POST /webhooks/stripe", () => {
  it("credits a paid checkout once when the same event arrives 5 times in a row and 5 times at once", async () => {
    const c = await checkoutFor("25.50");
    const before = await ledgerOf(c.metadata.accountId);
    const completed = sessionEvent("checkout.session.completed", c);

    for (let i = 0; i < 5; i++) expect(await deliver(completed)).toEqual({ status: 200, body: { received: true } });
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => deliver(completed)));
    expect(concurrent.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);

    const after = await ledgerOf(c.metadata.accountId);
    expect(after.balance.minus(before.balance).toString()).toBe("25.5");
    const credits = after.transactions.filter((t) => t.transactionType === "CREDIT" && t.referenceType === "PAYMENT");
    expect(credits).toHaveLength(1);
    expect(credits[0]).toMatchObject({ referenceId: c.sessionId, idempotencyKey: `stripe:checkout:${c.sessionId}` });
    expect(credits[0].amount.toString()).toBe("25.5");
    const rows = await webhookRows(completed.id);
    expect(rows).toEqual([expect.objectContaining({ id: completed.id, type: "checkout.session.completed", transactionId: credits[0].id })]);
  });

  it("credits 5 first-time concurrent deliveries of a fresh event once", async () => {
    const c = await checkoutFor("7.05");
    const completed = sessionEvent("checkout.session.completed", c);
    const results = await Promise.all(Array.from({ length: 5 }, () => deliver(completed)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = await ledgerOf(c.metadata.accountId);
    expect(after.transactions.filter((t) => t.transactionType === "CREDIT")).toHaveLength(1);
    expect(after.balance.toString()).toBe("7.05");
    expect(await webhookRows(completed.id)).toHaveLength(1);
  });

  it("credits completed and async_payment_succeeded of the same session once", async () => {
    const c = await checkoutFor("40");
    // A delayed payment method: completed while unpaid books nothing...
    const unpaid = sessionEvent("checkout.session.completed", c, undefined, "unpaid");
    expect((await deliver(unpaid)).status).toBe(200);
    expect((await ledgerOf(c.metadata.accountId)).transactions).toEqual([]);
    // ...async success credits, and a (hypothetical) paid completed afterwards does not again.
    const succeeded = sessionEvent("checkout.session.async_payment_succeeded", c);
    const paid = sessionEvent("checkout.session.completed", c);
    expect((await deliver(succeeded)).status).toBe(200);
    expect((await deliver(paid)).status).toBe(200);
    const after = await ledgerOf(c.metadata.accountId);
    expect(after.transactions).toHaveLength(1);
    expect(after.balance.toString()).toBe("40");
    // Both events are recorded against the one credit.
    expect((await webhookRows(succeeded.id))[0].transactionId).toBe(after.transactions[0].id);
    expect((await webhookRows(paid.id))[0].transactionId).toBe(after.transactions[0].id);
  });

  it("answers 500 and records nothing when the ledger refuses an event (the same session with another amount): Stripe retries, an operator looks", async () => {
    const c = await checkoutFor("15");
    expect((await deliver(sessionEvent("checkout.session.completed", c))).status).toBe(200);
    const odd = sessionEvent("checkout.session.async_payment_succeeded", { ...c, amountRappen: 1600 });
    expect((await deliver(odd)).status).toBe(500);
    const ledger = await ledgerOf(c.metadata.accountId);
    expect(ledger.transactions).toHaveLength(1);
    expect(ledger.balance.toString()).toBe("15");
    // Not recorded as handled: its money was not booked.
    expect(await webhookRows(odd.id)).toEqual([]);
  });

  it("answers a bad or missing signature with 400 and writes nothing", async () => {
    const c = await checkoutFor("12");
    const completed = sessionEvent("checkout.session.completed", c);
    const wrongSecret = await deliver(completed, { secret: "whsec_other" });
    expect(wrongSecret.status).toBe(400);
    const missing = await deliver(completed, { header: null });
    expect(missing.status).toBe(400);
    const garbage = await deliver(completed, { header: "t=1,v1=deadbeef" });
    expect(garbage.status).toBe(400);
    // A valid signature over another body does not cover this one.
    const payload = JSON.stringify(completed);
    const header = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    const tampered = await deliver(payload.replace(`"amount_total":1200`, `"amount_total":120000`), { header });
    expect(tampered.status).toBe(400);

    expect((await ledgerOf(c.metadata.accountId)).transactions).toEqual([]);
    expect(await webhookRows(completed.id)).toEqual([]);
  });

  it("is not subject to the CSRF check (Stripe sends no such header)", async () => {
    const c = await checkoutFor("6");
    const completed = sessionEvent("checkout.session.completed", c);
    // text/plain would need the CSRF header on /graphql; the webhook takes it.
    expect(await deliver(completed, { contentType: "text/plain" })).toEqual({ status: 200, body: { received: true } });
    expect((await ledgerOf(c.metadata.accountId)).balance.toString()).toBe("6");
  });

  it("lowers the balance once per refund of charge.refunded, even when redelivered", async () => {
    const c = await checkoutFor("50");
    expect((await deliver(sessionEvent("checkout.session.completed", c))).status).toBe(200);
    const chargeId = `ch_${randomUUID().slice(0, 8)}`;
    const first = refundEvent(chargeId, c.metadata.accountId, [
      { id: "re_a_" + chargeId, amount: 1000 },
      { id: "re_b_" + chargeId, amount: 250 },
    ]);
    for (let i = 0; i < 3; i++) expect((await deliver(first)).status).toBe(200);
    await Promise.all(Array.from({ length: 3 }, () => deliver(first)));
    let ledger = await ledgerOf(c.metadata.accountId);
    expect(ledger.balance.toString()).toBe("37.5");
    expect(
      ledger.transactions
        .filter((t) => t.transactionType === "ADJUSTMENT")
        .map((t) => [t.delta.toString(), t.referenceId, t.idempotencyKey]),
    ).toEqual([
      ["-10", chargeId, `stripe:refund:re_a_${chargeId}`],
      ["-2.5", chargeId, `stripe:refund:re_b_${chargeId}`],
    ]);

    // A later partial refund: Stripe's next charge.refunded lists all refunds; only the new one books.
    const second = refundEvent(chargeId, c.metadata.accountId, [
      { id: "re_a_" + chargeId, amount: 1000 },
      { id: "re_b_" + chargeId, amount: 250 },
      { id: "re_c_" + chargeId, amount: 5 },
    ]);
    await Promise.all([deliver(second), deliver(second)]);
    ledger = await ledgerOf(c.metadata.accountId);
    expect(ledger.balance.toString()).toBe("37.45");
    expect(ledger.transactions.filter((t) => t.transactionType === "ADJUSTMENT")).toHaveLength(3);
    expect(await webhookRows(first.id)).toHaveLength(1);
    expect(await webhookRows(second.id)).toHaveLength(1);
  });

  it("fetches the refunds when charge.refunded does not carry them (API versions since 2022-11-15)", async () => {
    const c = await checkoutFor("30");
    expect((await deliver(sessionEvent("checkout.session.completed", c))).status).toBe(200);
    const chargeId = `ch_${randomUUID().slice(0, 8)}`;
    fake.refunds.set(chargeId, [{ id: `re_x_${chargeId}`, amount: 700, status: "succeeded" }]);
    const bare = event("charge.refunded", {
      id: chargeId,
      object: "charge",
      currency: "chf",
      amount_refunded: 700,
      metadata: { accountId: c.metadata.accountId },
    });
    await Promise.all([deliver(bare), deliver(bare), deliver(bare)]);
    expect(fake.calls("GET", "/v1/refunds").length).toBeGreaterThan(0);
    const ledger = await ledgerOf(c.metadata.accountId);
    expect(ledger.balance.toString()).toBe("23");
    expect(ledger.transactions.filter((t) => t.transactionType === "ADJUSTMENT")).toHaveLength(1);
  });

  it("acknowledges an unhandled event type with 200 and writes nothing", async () => {
    const c = await checkoutFor("9");
    const other = event("customer.created", { id: "cus_x", object: "customer", metadata: c.metadata });
    expect(await deliver(other)).toEqual({ status: 200, body: { received: true } });
    expect(await webhookRows(other.id)).toEqual([]);
    expect((await ledgerOf(c.metadata.accountId)).transactions).toEqual([]);
  });

  it("acknowledges, logs and does not record a paid session for an account Saldo does not know", async () => {
    const c = await checkoutFor("9");
    for (const metadata of [{ ...c.metadata, mandateId: "no-such-mandate" }, { accountId: "no-such-account" }, {}]) {
      const stranger = sessionEvent("checkout.session.completed", { ...c, metadata: metadata as typeof c.metadata });
      expect((await deliver(stranger)).status).toBe(200);
      // Not recorded as handled: nothing was booked (a session Saldo did not start, e.g. `stripe trigger`).
      expect(await webhookRows(stranger.id)).toEqual([]);
    }
    expect((await ledgerOf(c.metadata.accountId)).transactions).toEqual([]);
    await expectLedgerInvariants(app.database.prisma);
  });

  it("answers 503 with a clear message when STRIPE_WEBHOOK_SECRET is not set", async () => {
    const bare = await createTestApp({});
    try {
      const res = await deliver(event("checkout.session.completed", { id: "cs_x" }), { target: bare });
      expect(res.status).toBe(503);
      expect(String(res.body.error)).toContain("STRIPE_WEBHOOK_SECRET");
    } finally {
      await bare.close();
    }
  });
});
