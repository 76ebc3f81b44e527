// Settings and input validation: a missing userId, an unknown mandate, a
// postpaid mandate without an address, and the append-only ledger.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../../src/billing/mandates/accounts.js";
import { upsertMandate } from "../../../src/billing/mandates/mandates.js";
import { updateSettings } from "../../../src/billing/mandates/settings.js";
import { authorizeUsage, checkBilling } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, uniqueId } from "../../support/billing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

describe("settings and input validation", () => {
  it("PREPAY_USER without userId is VALIDATION_FAILED and writes nothing", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_USER");
    const calls = [
      () => checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" }),
      () => authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "1", idempotencyKey: "h" }),
      () => recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" }),
      () => creditAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "c" }),
      () => adjustAccount(b.ctx, { mandateId, userId: "", amount: "1", description: "x", idempotencyKey: "a" }),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: ["input", "userId"] });
    }
    expect(await db.prisma.billingAccount.count({ where: { mandateId } })).toBe(0);
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(0);
  });

  it("an unknown mandate is NOT_FOUND", async () => {
    const b = testBilling(db);
    const mandateId = uniqueId("missing");
    const calls = [
      () => checkBilling(b.ctx, { mandateId, provider: "openai", estimatedCost: "1" }),
      () => authorizeUsage(b.ctx, { mandateId, ...openai, estimatedCost: "1", idempotencyKey: "h" }),
      () => recordUsage(b.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" }),
      () => creditAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "c" }),
      () => adjustAccount(b.ctx, { mandateId, amount: "1", description: "x", idempotencyKey: "a" }),
      () => updateSettings(b.ctx, { mandateId, blockOnZeroBalance: false }),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(updateBillingAccount(b.ctx, { accountId: "no-such-account", enabled: false })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await db.prisma.mandate.count({ where: { id: mandateId } })).toBe(0);
  });

  it("switching to CREDIT_POSTPAY without a billing address is BILLING_ADDRESS_REQUIRED and changes nothing", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const before = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
    await expect(
      updateSettings(b.ctx, { mandateId, billingModel: "CREDIT_POSTPAY", blockOnZeroBalance: false, warningThresholdPercent: "20" }),
    ).rejects.toMatchObject({ code: "BILLING_ADDRESS_REQUIRED", field: ["input", "billingAddress"] });
    const after = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
    expect(after).toEqual(before);
    expect(after.billingModel).toBe("PREPAY_MANDATE");

    // Creating a postpaid mandate without an address is refused as a whole too.
    const fresh = uniqueId();
    await expect(upsertMandate(b.ctx, { id: fresh, name: "Fresh", billingModel: "CREDIT_POSTPAY" })).rejects.toMatchObject({
      code: "BILLING_ADDRESS_REQUIRED",
    });
    expect(await db.prisma.mandate.count({ where: { id: fresh } })).toBe(0);

    // With an address in the same update it is accepted.
    const ok = await updateSettings(b.ctx, {
      mandateId,
      billingModel: "CREDIT_POSTPAY",
      billingAddress: { company: "Test AG", street: "Weg 1", zip: "3000", city: "Bern", country: "ch" },
    });
    expect(ok.billingModel).toBe("CREDIT_POSTPAY");
    expect(ok.billingAddress).toMatchObject({ country: "CH" });
  });

  it("the database refuses to UPDATE or DELETE a ledger row", async () => {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    const { transaction } = await creditAccount(b.ctx, { mandateId, amount: "12.5", description: "top-up", idempotencyKey: "c" });
    const id = transaction!.id;
    const attempts = [
      `UPDATE "Transaction" SET "amount" = 1000, "delta" = 1000, "balanceAfter" = 1000 WHERE "id" = $1`,
      `UPDATE "Transaction" SET "description" = 'edited' WHERE "id" = $1`,
      `DELETE FROM "Transaction" WHERE "id" = $1`,
    ];
    for (const sql of attempts) {
      // The statement itself is valid (EXPLAIN plans it without running triggers)...
      await db.prisma.$executeRawUnsafe(`EXPLAIN ${sql}`, id);
      // ...and running it is refused by the append-only trigger.
      const error = await db.prisma.$executeRawUnsafe(sql, id).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, sql).not.toBeNull();
      expect(databaseError(error), sql).toMatchObject({
        code: "23001",
        message: expect.stringMatching(/append-only \((UPDATE|DELETE) refused\)/),
      });
    }
    await expect(db.prisma.transaction.delete({ where: { id } })).rejects.toThrow();
    await expect(db.prisma.transaction.update({ where: { id }, data: { description: "edited" } })).rejects.toThrow();
    const row = await db.prisma.transaction.findUniqueOrThrow({ where: { id } });
    expect(row.amount.toFixed(6)).toBe("12.500000");
    expect(row.description).toBe("top-up");
    await expectLedgerInvariants(db.prisma);
  });
});

/** SQLSTATE and message of a database error, as the driver adapter reports them. */

function databaseError(error: unknown): { code?: string; message?: string } {
  const cause = (
    error as {
      meta?: { driverAdapterError?: { cause?: { code?: string; originalCode?: string; message?: string; originalMessage?: string } } };
    }
  )?.meta?.driverAdapterError?.cause;
  return { code: cause?.originalCode ?? cause?.code, message: cause?.originalMessage ?? cause?.message ?? (error as Error)?.message };
}
