// The adapter: the one file of the model-based test that calls Saldo. Each
// method is one domain call (src/billing) or one signed Stripe webhook
// delivery (src/stripe/webhook.ts), with its answer normalized for the
// runner: a userError becomes { kind: "error", code }, anything else thrown
// becomes code "UNEXPECTED" (which the model never expects). When the domain's
// signatures change, this file is the only one to adapt.
import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import type { PaymentProvider } from "../../../src/billing/payments/provider.js";
import { balanceFor, describeBalance } from "../../../src/billing/ledger/balances.js";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../../src/billing/mandates/accounts.js";
import { upsertMandate } from "../../../src/billing/mandates/mandates.js";
import { updateSettings, type UpdateSettingsInput } from "../../../src/billing/mandates/settings.js";
import { type CheckoutRequest } from "../../../src/billing/payments/provider.js";
import { startTopUp } from "../../../src/billing/payments/topups.js";
import { upsertPrice } from "../../../src/billing/pricing/pricing.js";
import { BillingError } from "../../../src/billing/shared/errors.js";
import { statisticsFor } from "../../../src/billing/statistics/queries.js";
import { authorizeUsage, checkBilling, expireHolds, releaseUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { handleStripeWebhook } from "../../../src/stripe/webhook.js";
import { expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import type { BillingModel, Usage } from "./ops.js";

export type Actual =
  | { kind: "error"; code: string; message: string }
  | { kind: "move"; replayed: boolean; transactionId: string | null }
  | { kind: "authorize"; replayed: boolean; hold: { id: string; status: string; amount: string } | null; reason: string | null }
  | { kind: "release"; status: string }
  | { kind: "ok" }
  | { kind: "topUp"; accountId: string }
  | { kind: "stripe"; statuses: number[] }
  | { kind: "balance"; balance: string; held: string; available: string | null; isWarning: boolean }
  | { kind: "check"; allowed: boolean; reason: string | null; available: string | null; currentBalance: string }
  | { kind: "statistics"; totalCost: string; count: number; byProvider: Record<string, string>; byFeature: Record<string, string> }
  | { kind: "many"; each: Actual[] };

/** What the ledger holds for the run's mandates, read straight from the tables. */
export interface Snapshot {
  accounts: {
    id: string;
    mandateId: string;
    accountKey: string;
    accountType: string;
    userId: string | null;
    balance: string;
    sequence: number;
    enabled: boolean;
    creditLimit: string | null;
  }[];
  entries: { accountId: string; sequence: number; type: string; delta: string }[];
  holds: { id: string; accountId: string; status: string; amount: string }[];
  /** YEAR rollups. */
  rollups: { accountId: string; periodStart: string; totalCost: string; count: number }[];
  autoTopUps: { id: string; status: string }[];
  warningEmails: Record<string, number>;
}

export type Charge = { cost: string } | { usage: Usage };

const WEBHOOK_SECRET = "whsec_model";
const ADDRESS = { company: "Model AG", street: "Bahnhofstrasse 1", zip: "8001", city: "Zürich", country: "CH" };

/** Runs `work`; a BillingError is the caller's error, anything else is unexpected. */
async function attempt<T extends Actual>(work: () => Promise<T>): Promise<T | Extract<Actual, { kind: "error" }>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BillingError) return { kind: "error", code: error.code, message: error.message };
    return { kind: "error", code: "UNEXPECTED", message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

const text = (value: { toString(): string } | null | undefined) => (value === null || value === undefined ? null : value.toString());
const charged = (charge: Charge) => ("cost" in charge ? { cost: charge.cost } : { usage: charge.usage });

export class Saldo {
  private signer = new Stripe("sk_test_model");
  /** Signed payloads of the Stripe events sent, by event id, for redelivery. */
  private payloads = new Map<string, string>();
  /** The checkout requests Saldo made, by session id: what Stripe sends back as metadata. */
  private checkouts = new Map<string, CheckoutRequest>();
  private nextSessionId = "";
  private autoTopUps = new Map<string, { mandateId: string; accountId: string; userId: string | null; amountRappen: number }>();
  private gateway: PaymentProvider = {
    createCustomer: async (mandate) => `cus_${mandate.id}`,
    createCheckout: async (request) => {
      this.checkouts.set(this.nextSessionId, request);
      return { id: this.nextSessionId, url: `https://checkout.stripe.test/${this.nextSessionId}` };
    },
    chargeOffSession: async () => {
      throw new Error("automatic top-ups are claimed by the test, not charged");
    },
  };

  private constructor(
    readonly database: TestDatabase,
    readonly billing: TestBilling,
  ) {}

  static async open(): Promise<Saldo> {
    const database = await createTestDatabase();
    return new Saldo(database, testBilling(database));
  }

  close(): Promise<void> {
    return this.database.close();
  }

  private get ctx() {
    return this.billing.ctx;
  }

  setClock(at: number): void {
    this.billing.clock.set(new Date(at));
  }

  /** The mandates of a run, with their first billing model; mandate 0 has a warning email address. */
  async createMandate(id: string, model: BillingModel, notifyEmails: boolean): Promise<void> {
    await upsertMandate(this.ctx, { id, name: `Model ${id}` });
    await updateSettings(this.ctx, {
      mandateId: id,
      billingModel: model,
      ...(notifyEmails ? { notifyEmails: [`billing@${id}.test`] } : {}),
    });
  }

  // ------------------------------------------------------------ money moves

  credit(i: { mandateId: string; userId: string | null; amount: string; key: string; description: string }) {
    return attempt(async () => {
      const r = await creditAccount(this.ctx, {
        mandateId: i.mandateId,
        userId: i.userId,
        amount: i.amount,
        description: i.description,
        idempotencyKey: i.key,
      });
      return { kind: "move" as const, replayed: r.replayed, transactionId: r.transaction?.id ?? null };
    });
  }

  adjust(i: { mandateId: string; userId: string | null; amount: string; key: string; description: string }) {
    return attempt(async () => {
      const r = await adjustAccount(this.ctx, {
        mandateId: i.mandateId,
        userId: i.userId,
        amount: i.amount,
        description: i.description,
        idempotencyKey: i.key,
      });
      return { kind: "move" as const, replayed: r.replayed, transactionId: r.transaction?.id ?? null };
    });
  }

  recordUsage(i: {
    mandateId: string;
    userId: string | null;
    provider: string;
    model: string;
    charge: Charge;
    featureCode: string | null;
    key: string;
  }) {
    return attempt(async () => {
      const r = await recordUsage(this.ctx, {
        mandateId: i.mandateId,
        userId: i.userId,
        provider: i.provider,
        model: i.model,
        ...charged(i.charge),
        metadata: i.featureCode ? { featureCode: i.featureCode } : null,
        idempotencyKey: i.key,
      });
      return { kind: "move" as const, replayed: r.replayed, transactionId: r.transaction?.id ?? null };
    });
  }

  authorize(i: {
    mandateId: string;
    userId: string | null;
    provider: string;
    model: string;
    estimate: Charge;
    expiresInSeconds: number | null;
    key: string;
  }) {
    return attempt(async () => {
      const estimate = "cost" in i.estimate ? { estimatedCost: i.estimate.cost } : { estimatedUsage: i.estimate.usage };
      const r = await authorizeUsage(this.ctx, {
        mandateId: i.mandateId,
        userId: i.userId,
        provider: i.provider,
        model: i.model,
        ...estimate,
        expiresInSeconds: i.expiresInSeconds,
        idempotencyKey: i.key,
      });
      const a = r.authorization;
      return {
        kind: "authorize" as const,
        replayed: r.replayed,
        hold: a ? { id: a.id, status: a.status, amount: a.amount.toString() } : null,
        reason: r.check.reason,
      };
    });
  }

  settle(i: { authorizationId: string; charge: Charge; featureCode: string | null }) {
    return attempt(async () => {
      const r = await settleUsage(this.ctx, {
        authorizationId: i.authorizationId,
        ...charged(i.charge),
        metadata: i.featureCode ? { featureCode: i.featureCode } : null,
      });
      return { kind: "move" as const, replayed: r.replayed, transactionId: r.transaction?.id ?? null };
    });
  }

  release(authorizationId: string) {
    return attempt(async () => ({ kind: "release" as const, status: (await releaseUsage(this.ctx, { authorizationId })).status }));
  }

  expireHolds() {
    return attempt(async () => (await expireHolds(this.ctx), { kind: "ok" as const }));
  }

  // ------------------------------------------------------------ settings

  upsertPrice(i: { provider: string; model: string; input: string; output: string; perRequest: string }) {
    return attempt(async () => {
      await upsertPrice(this.ctx.db, {
        provider: i.provider,
        model: i.model,
        inputPerMillionTokensUsd: i.input,
        outputPerMillionTokensUsd: i.output,
        perRequestUsd: i.perRequest,
      });
      return { kind: "ok" as const };
    });
  }

  switchModel(mandateId: string, to: BillingModel, withAddress: boolean) {
    return this.updateSettings({
      mandateId,
      billingModel: to,
      ...(to === "CREDIT_POSTPAY" && withAddress ? { billingAddress: ADDRESS } : {}),
    });
  }

  updateSettings(input: UpdateSettingsInput) {
    return attempt(async () => (await updateSettings(this.ctx, input), { kind: "ok" as const }));
  }

  updateAccount(accountId: string, change: { enabled?: boolean; creditLimit?: string; warningThreshold?: string }) {
    return attempt(async () => (await updateBillingAccount(this.ctx, { accountId, ...change }), { kind: "ok" as const }));
  }

  // ------------------------------------------------------------ Stripe

  /** A checkout through Saldo's startTopUp, with a fake payment gateway answering `sessionId`. */
  startTopUp(i: { mandateId: string; userId: string | null; amount: string; sessionId: string }) {
    return attempt(async () => {
      this.nextSessionId = i.sessionId;
      await startTopUp(this.ctx, this.gateway, {
        mandateId: i.mandateId,
        userId: i.userId,
        amount: i.amount,
        successUrl: "https://app.test/ok",
        cancelUrl: "https://app.test/cancel",
      });
      return { kind: "topUp" as const, accountId: this.checkouts.get(i.sessionId)!.metadata.accountId };
    });
  }

  /** checkout.session.completed (paid or not) or async_payment_succeeded, with the metadata Saldo gave the session. */
  checkoutEvent(i: {
    eventId: string;
    sessionId: string;
    type: "completed" | "completedUnpaid" | "asyncSucceeded";
    times: number;
    concurrent: boolean;
  }) {
    const checkout = this.checkouts.get(i.sessionId)!;
    const type = i.type === "asyncSucceeded" ? "checkout.session.async_payment_succeeded" : "checkout.session.completed";
    return this.deliver(
      i.eventId,
      type,
      {
        id: i.sessionId,
        object: "checkout.session",
        amount_total: checkout.amountRappen,
        currency: "chf",
        payment_status: i.type === "completedUnpaid" ? "unpaid" : "paid",
        metadata: checkout.metadata,
      },
      i,
    );
  }

  /** charge.refunded of the session's payment, listing its refunds so far. */
  refundEvent(i: { eventId: string; sessionId: string; refunds: { id: string; amount: number }[]; times: number; concurrent: boolean }) {
    const checkout = this.checkouts.get(i.sessionId)!;
    const chargeId = `ch_${i.sessionId}`;
    return this.deliver(
      i.eventId,
      "charge.refunded",
      {
        id: chargeId,
        object: "charge",
        currency: "chf",
        amount_refunded: i.refunds.reduce((sum, r) => sum + r.amount, 0),
        metadata: checkout.metadata,
        refunds: {
          object: "list",
          has_more: false,
          data: i.refunds.map((r) => ({ ...r, object: "refund", status: "succeeded", charge: chargeId })),
        },
      },
      i,
    );
  }

  /**
   * An automatic top-up attempt as claimAutoTopUp records it (PENDING, on the
   * paying account). Written directly: when Saldo claims one is decided by
   * src/billing/autotopup.ts and tested in test/stripe/auto-topup.test.ts;
   * here only its payment matters.
   */
  claimAutoTopUp(i: { id: string; mandateId: string; accountId: string; userId: string | null; amount: string }) {
    return attempt(async () => {
      await this.database.prisma.autoTopUp.create({
        data: {
          id: i.id,
          mandateId: i.mandateId,
          accountId: i.accountId,
          amount: i.amount,
          month: new Date(`${this.ctx.now().toISOString().slice(0, 7)}-01T00:00:00Z`),
          paymentMethodId: "pm_model",
          createdAt: this.ctx.now(),
        },
      });
      this.autoTopUps.set(i.id, { ...i, amountRappen: Math.round(Number(i.amount) * 100) });
      return { kind: "ok" as const };
    });
  }

  /** payment_intent.succeeded of an automatic top-up attempt. */
  autoTopUpSucceeded(i: { eventId: string; attemptId: string; times: number; concurrent: boolean }) {
    const attempt = this.autoTopUps.get(i.attemptId)!;
    return this.deliver(
      i.eventId,
      "payment_intent.succeeded",
      {
        id: `pi_${i.attemptId}`,
        object: "payment_intent",
        amount: attempt.amountRappen,
        amount_received: attempt.amountRappen,
        currency: "chf",
        status: "succeeded",
        metadata: {
          accountId: attempt.accountId,
          mandateId: attempt.mandateId,
          userId: attempt.userId ?? "",
          amount: (attempt.amountRappen / 100).toFixed(6),
          autoTopUpId: i.attemptId,
        },
      },
      i,
    );
  }

  /** Stripe sends an earlier event again. */
  redeliver(eventId: string) {
    return this.post(this.payloads.get(eventId)!, 1, false);
  }

  private deliver(eventId: string, type: string, object: Record<string, unknown>, delivery: { times: number; concurrent: boolean }) {
    const payload = JSON.stringify({
      id: eventId,
      object: "event",
      api_version: "2025-01-27.acacia",
      created: 1_763_700_000,
      livemode: false,
      type,
      data: { object },
    });
    this.payloads.set(eventId, payload);
    return this.post(payload, delivery.times, delivery.concurrent);
  }

  /** Posts the signed event to Saldo's webhook `times` times, one after the other or all at once. */
  private async post(payload: string, times: number, concurrent: boolean): Promise<Actual> {
    const once = async () => {
      const signature = this.signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
      const request = new Request("http://saldo.test/webhooks/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: payload,
      });
      const response = await handleStripeWebhook(request, { billing: this.ctx, stripe: null, webhookSecret: WEBHOOK_SECRET });
      return response.status;
    };
    const statuses: number[] = [];
    if (concurrent) statuses.push(...(await Promise.all(Array.from({ length: times }, once))));
    else for (let i = 0; i < times; i++) statuses.push(await once());
    return { kind: "stripe", statuses };
  }

  // ------------------------------------------------------------ reads

  balance(mandateId: string, userId: string | null) {
    return attempt(async () => {
      const b = await balanceFor(this.ctx, mandateId, userId);
      return {
        kind: "balance" as const,
        balance: b.balance.toString(),
        held: b.held.toString(),
        available: text(b.available),
        isWarning: b.isWarning,
      };
    });
  }

  describe(accountId: string) {
    return attempt(async () => {
      const b = await describeBalance(this.ctx, accountId);
      return {
        kind: "balance" as const,
        balance: b.balance.toString(),
        held: b.held.toString(),
        available: text(b.available),
        isWarning: b.isWarning,
      };
    });
  }

  checkBilling(i: { mandateId: string; userId: string | null; provider: string; model: string; estimate: Charge | null }) {
    return attempt(async () => {
      const estimate = !i.estimate ? {} : "cost" in i.estimate ? { estimatedCost: i.estimate.cost } : { estimatedUsage: i.estimate.usage };
      const r = await checkBilling(this.ctx, {
        mandateId: i.mandateId,
        userId: i.userId,
        provider: i.provider,
        model: i.model,
        ...estimate,
      });
      return {
        kind: "check" as const,
        allowed: r.allowed,
        reason: r.reason,
        available: text(r.available),
        currentBalance: r.currentBalance.toString(),
      };
    });
  }

  /** Totals over the five years up to the clock's year. */
  statistics(mandateId: string, userId: string | null) {
    return attempt(async () => {
      const year = Number(new Intl.DateTimeFormat("en-CA", { timeZone: this.ctx.timeZone, year: "numeric" }).format(this.ctx.now()));
      const s = await statisticsFor(this.ctx, { mandateId, userId, period: "YEAR", year });
      return {
        kind: "statistics" as const,
        totalCost: s.totals.totalCost,
        count: s.totals.transactionCount,
        byProvider: Object.fromEntries(s.totals.byProvider.map((share) => [share.key, share.cost])),
        byFeature: Object.fromEntries(s.totals.byFeature.map((share) => [share.key, share.cost])),
      };
    });
  }

  /** balanceWarning events published since event number `from`, by account id. */
  warningEventsSince(from: number): { accountId: string }[] {
    return this.billing.events.slice(from).flatMap((e) => (e.type === "balanceWarning" ? [{ accountId: e.accountId }] : []));
  }

  get eventCount(): number {
    return this.billing.events.length;
  }

  /** One statement: every table the model compares, for the run's mandates. */
  async snapshot(mandateIds: string[]): Promise<Snapshot> {
    const of = `IN (${mandateIds.map((_, i) => `$${i + 1}`).join(", ")})`;
    const list = (select: string, from: string, order = "") =>
      `(SELECT coalesce(json_agg(x${order}), '[]') FROM (SELECT ${select} FROM ${from}) x)`;
    const [row] = await this.database.prisma.$queryRawUnsafe<{ snapshot: string }[]>(
      `SELECT json_build_object(
        'accounts', ${list(
          `"id", "mandateId", "accountKey", "accountType"::text AS "accountType", "userId", "balance"::text AS "balance", "sequence", "enabled", "creditLimit"::text AS "creditLimit"`,
          `"BillingAccount" WHERE "mandateId" ${of}`,
        )},
        'entries', ${list(
          `"accountId", "sequence", "transactionType"::text AS "type", "delta"::text AS "delta"`,
          `"Transaction" WHERE "mandateId" ${of}`,
          ` ORDER BY x."accountId", x."sequence"`,
        )},
        'holds', ${list(`"id", "accountId", "status"::text AS "status", "amount"::text AS "amount"`, `"UsageAuthorization" WHERE "mandateId" ${of}`)},
        'rollups', ${list(
          `"accountId", "periodStart"::text AS "periodStart", "totalCost"::text AS "totalCost", "transactionCount" AS "count"`,
          `"UsageStatistics" WHERE "mandateId" ${of} AND "periodType" = 'YEAR'`,
        )},
        'autoTopUps', ${list(`"id", "status"::text AS "status"`, `"AutoTopUp" WHERE "mandateId" ${of}`)},
        'warningEmails', (SELECT coalesce(json_object_agg("mandateId", n), '{}') FROM (
          SELECT "mandateId", count(*) AS n FROM "Notification" WHERE "mandateId" ${of} AND "kind" = 'BALANCE_WARNING' GROUP BY 1) x)
      )::text AS "snapshot"`,
      ...mandateIds,
    );
    return JSON.parse(row.snapshot) as Snapshot;
  }

  /** The ledger's invariants (test/support/billing.ts) on the run's mandates: the problem, or null. */
  async ledgerProblem(mandateIds: string[]): Promise<string | null> {
    try {
      await expectLedgerInvariants(this.database.prisma, this.ctx.timeZone, mandateIds);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }
}

export const newRunId = () => `r${randomUUID().replaceAll("-", "").slice(0, 10)}`;
