import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { seedPriceCatalog } from "../../../src/billing/pricing/pricing.js";
import { BillingError } from "../../../src/billing/shared/errors.js";
import { authorizeUsage, checkBilling, releaseUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";

let db: TestDatabase;
let t: TestBilling;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testBilling(db);
  await seedPriceCatalog(db.prisma);
});
afterAll(async () => {
  await db?.close();
});

async function balanceOf(accountId: string) {
  const account = await db.prisma.billingAccount.findUniqueOrThrow({ where: { id: accountId } });
  return account.balance.toFixed(6);
}

describe("ledger basics", () => {
  it("credits, debits and adjusts with exact decimals and keeps every invariant", async () => {
    const mandateId = await createMandate(t.ctx);
    const credit = await creditAccount(t.ctx, { mandateId, amount: "100.10", description: "top-up", idempotencyKey: "c1" });
    expect(credit.transaction?.delta.toFixed(6)).toBe("100.100000");
    const usage = await recordUsage(t.ctx, {
      mandateId,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      usage: { inputTokens: 1000, outputTokens: 500 },
      metadata: { featureCode: "chat" },
      idempotencyKey: "u1",
    });
    // (1000*3 + 500*15)/1e6 USD = 0.0105 USD; x0.80 = 0.0084 CHF; x1.5 = 0.0126 CHF
    expect(usage.transaction?.amount.toFixed(6)).toBe("0.012600");
    await adjustAccount(t.ctx, { mandateId, amount: "-0.000001", description: "rounding fix", idempotencyKey: "a1" });
    expect(await balanceOf(credit.accountId)).toBe("100.087399");
    await expectLedgerInvariants(db.prisma);
  });

  it("rejects bad amounts with a clear error and writes nothing", async () => {
    const mandateId = await createMandate(t.ctx);
    for (const amount of ["0", "-1", "1.0000001", "NaN", "Infinity", "1e3", "99999999999", ""]) {
      await expect(creditAccount(t.ctx, { mandateId, amount, description: "x", idempotencyKey: `bad-${amount}` })).rejects.toMatchObject({
        code: "INVALID_AMOUNT",
        field: ["input", "amount"],
      });
    }
    await expect(adjustAccount(t.ctx, { mandateId, amount: "0", description: "x", idempotencyKey: "z" })).rejects.toBeInstanceOf(
      BillingError,
    );
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.billingAccount.count({ where: { mandateId } })).toBe(0);
  });

  it("answers a retry with the first result and a changed retry with IDEMPOTENCY_CONFLICT", async () => {
    const mandateId = await createMandate(t.ctx);
    const first = await creditAccount(t.ctx, { mandateId, amount: "5", description: "x", idempotencyKey: "k" });
    const again = await creditAccount(t.ctx, { mandateId, amount: "5.000000", description: "x", idempotencyKey: "k" });
    expect(again.replayed).toBe(true);
    expect(again.transaction?.id).toBe(first.transaction?.id);
    await expect(creditAccount(t.ctx, { mandateId, amount: "6", description: "x", idempotencyKey: "k" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(await balanceOf(first.accountId)).toBe("5.000000");
  });

  it("holds, settles once and releases", async () => {
    const mandateId = await createMandate(t.ctx);
    await creditAccount(t.ctx, { mandateId, amount: "10", description: "x", idempotencyKey: "c" });
    const auth = await authorizeUsage(t.ctx, { mandateId, provider: "openai", model: "gpt-5", estimatedCost: "4", idempotencyKey: "h1" });
    expect(auth.authorization?.status).toBe("ACTIVE");
    const check = await checkBilling(t.ctx, { mandateId, provider: "openai", estimatedCost: "6.5" });
    expect(check).toMatchObject({ allowed: false, reason: "INSUFFICIENT_BALANCE" });
    expect(check.available?.toFixed(6)).toBe("6.000000");
    const settled = await settleUsage(t.ctx, { authorizationId: auth.authorization!.id, cost: "4.5" });
    const twice = await settleUsage(t.ctx, { authorizationId: auth.authorization!.id, cost: "4.5" });
    expect(twice.transaction?.id).toBe(settled.transaction?.id);
    expect(await balanceOf(settled.accountId)).toBe("5.500000");
    const second = await authorizeUsage(t.ctx, { mandateId, provider: "openai", model: "gpt-5", estimatedCost: "5", idempotencyKey: "h2" });
    await releaseUsage(t.ctx, { authorizationId: second.authorization!.id });
    await expect(settleUsage(t.ctx, { authorizationId: second.authorization!.id, cost: "1" })).rejects.toMatchObject({
      code: "AUTHORIZATION_NOT_ACTIVE",
    });
    const after = await checkBilling(t.ctx, { mandateId, provider: "openai", estimatedCost: "5.5" });
    expect(after.allowed).toBe(true);
    await expectLedgerInvariants(db.prisma);
  });

  it("opens a PREPAY_USER account once with its initial credit", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        recordUsage(t.ctx, { mandateId, userId: "u1", provider: "x", model: "y", cost: "0.5", idempotencyKey: `r${i}` }),
      ),
    );
    const accounts = await db.prisma.billingAccount.findMany({ where: { mandateId } });
    expect(accounts).toHaveLength(1);
    const credits = await db.prisma.transaction.findMany({ where: { mandateId, transactionType: "CREDIT" } });
    expect(credits).toHaveLength(1);
    expect(await balanceOf(results[0].accountId)).toBe("5.000000");
    await expectLedgerInvariants(db.prisma);
  });
});
