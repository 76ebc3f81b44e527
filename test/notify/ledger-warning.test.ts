// The ledger writes a warning's outbox row in the debit's own transaction:
// one row per crossing, none while the balance stays low, none when the
// mandate wants no emails, and none at all when the debit rolls back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { createMandate, testBilling, type TestBilling } from "../support/billing.js";

let db: TestDatabase;
let t: TestBilling;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testBilling(db);
});
afterAll(async () => {
  await db?.close();
});

const debit = (mandateId: string, cost: string, key: string) =>
  recordUsage(t.ctx, { mandateId, provider: "openai", model: "gpt-5", cost, idempotencyKey: key });

describe("warning emails owed by the ledger", () => {
  it("queues one email per crossing, in the debit's transaction", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE", { notifyEmails: ["ops@example.com"] });
    await creditAccount(t.ctx, { mandateId, amount: "100", description: "Top-up", idempotencyKey: "c1" });
    await debit(mandateId, "85", "d1"); // 15 left, threshold 10: no warning
    expect(await db.prisma.notification.count({ where: { mandateId } })).toBe(0);
    t.clock.advance(1000);
    await debit(mandateId, "6", "d2"); // 9 left: crossing
    t.clock.advance(1000);
    await debit(mandateId, "1", "d3"); // still below: no second email
    const rows = await db.prisma.notification.findMany({ where: { mandateId } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "BALANCE_WARNING", status: "PENDING" });
    expect(rows[0].payload).toMatchObject({ available: "9.000000", threshold: "10.000000" });

    t.clock.advance(1000);
    await creditAccount(t.ctx, { mandateId, amount: "100", description: "Top-up", idempotencyKey: "c2" }); // re-armed
    t.clock.advance(1000);
    await debit(mandateId, "99", "d4"); // 9 left of a 108 top-up (threshold 10.8): second crossing
    expect(await db.prisma.notification.count({ where: { mandateId } })).toBe(2);
  });

  it("owes no email when the mandate wants none", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE", { notifyEmails: ["ops@example.com"], notifyOnWarning: false });
    await creditAccount(t.ctx, { mandateId, amount: "10", description: "Top-up", idempotencyKey: "c" });
    await debit(mandateId, "9.5", "d");
    const account = await db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId } });
    expect(account.isWarning).toBe(true);
    expect(await db.prisma.notification.count({ where: { mandateId } })).toBe(0);
  });
});
