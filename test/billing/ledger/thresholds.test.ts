// Balance warnings: fired once when what may be spent falls to the
// threshold, re-armed above it, for every billing model and threshold kind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../../src/billing/mandates/accounts.js";
import { authorizeUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, testBilling, uniqueId, type TestBilling, accountOf, balanceOf, spend, warningsIn } from "../../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

const account = (mandateId: string, userId?: string) => accountOf(db.prisma, mandateId, userId);

const balance = (mandateId: string, userId?: string) => balanceOf(db.prisma, mandateId, userId);

/** Opens the mandate's account without moving money (a zero-cost usage books a DEBIT of 0). */
async function openAccountOf(b: TestBilling, mandateId: string, userId?: string) {
  const opened = await recordUsage(b.ctx, { mandateId, userId, ...openai, cost: "0", idempotencyKey: `open-${uniqueId()}` });
  expect(opened.transaction).toMatchObject({ transactionType: "DEBIT" });
  expect(opened.transaction!.amount.toFixed(6)).toBe("0.000000");
  return opened.accountId;
}

const warnings = warningsIn;

describe("balance warnings", () => {
  it("fire once when available falls to the default threshold, not again while below, and again after a top-up", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c1" });
    // Default threshold: 10 % of 100.00, the balance right after the top-up.
    await spend(b, mandateId, "89.999999");
    expect(warnings(b.events), "available 10.000001 is above 10").toEqual([]);
    await spend(b, mandateId, "0.000001");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({
      mandateId,
      accountId,
      userId: null,
      available: "10.000000",
      threshold: "10.000000",
    });
    expect(new Date(warnings(b.events)[0].at).getTime()).toBe(b.clock.now().getTime());
    expect(await account(mandateId)).toMatchObject({ isWarning: true });
    await spend(b, mandateId, "1");
    const hold = await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "2", idempotencyKey: "h" });
    await settleUsage(b.ctx, { authorizationId: hold.authorization!.id, cost: "2" });
    expect(warnings(b.events), "no second warning while below").toHaveLength(1);

    // A top-up re-arms it: the new threshold is 10 % of 57.00.
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "top-up", idempotencyKey: "c2" });
    expect(await account(mandateId)).toMatchObject({ isWarning: false });
    expect(await balance(mandateId)).toBe("57.000000");
    await spend(b, mandateId, "51.299999");
    expect(warnings(b.events)).toHaveLength(1);
    await spend(b, mandateId, "0.000001");
    expect(warnings(b.events)).toHaveLength(2);
    expect(warnings(b.events)[1]).toMatchObject({ available: "5.700000", threshold: "5.700000" });
  });

  it("counts holds: an authorization that brings available to the threshold fires it", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { warningThresholdPercent: "25" });
    await creditAccount(b.ctx, { mandateId, amount: "40", description: "top-up", idempotencyKey: "c" });
    await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "29.999999", idempotencyKey: "h1" });
    expect(warnings(b.events)).toEqual([]);
    await authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "0.000001", idempotencyKey: "h2" });
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "10.000000", threshold: "10.000000" });
  });

  it("postpay measures what may still be spent against a percentage of the credit limit", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "CREDIT_POSTPAY");
    const accountId = await openAccountOf(b, mandateId);
    // Opened without a credit limit, the account may spend nothing: at its threshold (0) it warns.
    expect(warnings(b.events)).toMatchObject([{ available: "0.000000", threshold: "0.000000" }]);
    b.events.length = 0;
    await updateBillingAccount(b.ctx, { accountId, creditLimit: "200" });
    // A payment does not move the threshold: it stays 10 % of the limit (20), not of the payment.
    await creditAccount(b.ctx, { mandateId, amount: "50", description: "invoice paid", idempotencyKey: "c" });
    await spend(b, mandateId, "229");
    expect(warnings(b.events), "available 21").toEqual([]);
    await spend(b, mandateId, "1");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "20.000000", threshold: "20.000000" });
    expect(await balance(mandateId)).toBe("-180.000000");
  });

  it("uses an admin's per-account threshold", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "50" });
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "49");
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "1");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ available: "50.000000", threshold: "50.000000" });
    // Setting it below what is left re-arms it at once; raising it above fires at once.
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "30" });
    expect(await account(mandateId)).toMatchObject({ isWarning: false });
    await updateBillingAccount(b.ctx, { accountId, warningThreshold: "60" });
    expect(warnings(b.events)).toHaveLength(2);
    expect(warnings(b.events)[1]).toMatchObject({ available: "50.000000", threshold: "60.000000" });
  });

  it("a PREPAY_USER account warns on 10 % of its initial credit", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER", { defaultUserCredit: "20" });
    await spend(b, mandateId, "17.999999", "u");
    expect(warnings(b.events)).toEqual([]);
    await spend(b, mandateId, "0.000001", "u");
    expect(warnings(b.events)).toHaveLength(1);
    expect(warnings(b.events)[0]).toMatchObject({ userId: "u", available: "2.000000", threshold: "2.000000" });
  });
});
