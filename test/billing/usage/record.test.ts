// recordUsages in the domain: many usages submitted together share the
// ledger's batches, and each has its own outcome.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBillingContext } from "../../../src/billing/ledger/context.js";
import { creditAccount } from "../../../src/billing/ledger/credits.js";
import { MAX_USAGES_PER_CALL, recordUsages } from "../../../src/billing/usage/record.js";
import { balanceOf, createMandate, expectLedgerInvariants } from "../../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

it("books a list of usages in a few shared transactions, each usage judged alone", async () => {
  const batches: number[] = [];
  const ctx = createBillingContext(db, { batches: { lanes: 1, maxBatch: 256, observe: (size) => batches.push(size) } });
  const mandateId = await createMandate(ctx);
  await creditAccount(ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "top-up" });
  batches.length = 0;

  const inputs = Array.from({ length: MAX_USAGES_PER_CALL }, (_, i) => ({
    mandateId,
    provider: "openai",
    model: "gpt-5",
    cost: i === 500 ? "-1" : "0.001",
    idempotencyKey: `u-${i % 999}`, // the last usage repeats the first's key and content
  }));
  const outcomes = await recordUsages(ctx, inputs);

  expect(outcomes.map((o) => ("refused" in o ? o.refused.code : "booked")).filter((c) => c !== "booked")).toEqual(["INVALID_AMOUNT"]);
  const [first, last] = [outcomes[0], outcomes[999]];
  if (!("booked" in first) || !("booked" in last)) throw new Error("expected both booked");
  expect(last.booked.transaction?.id).toBe(first.booked.transaction?.id);
  // 998 distinct debits of 0.001.
  expect(await balanceOf(db.prisma, mandateId)).toBe("9.002000");
  // The refused usage was refused before it queued (its input is invalid).
  expect(batches.reduce((a, b) => a + b, 0)).toBe(MAX_USAGES_PER_CALL - 1);
  expect(batches.length).toBeLessThanOrEqual(Math.ceil(MAX_USAGES_PER_CALL / 256) + 1);
  await expectLedgerInvariants(db.prisma, "Europe/Zurich", [mandateId]);
});

it("refuses more than 1000 usages before booking any", async () => {
  const ctx = createBillingContext(db);
  const mandateId = await createMandate(ctx);
  const inputs = Array.from({ length: MAX_USAGES_PER_CALL + 1 }, (_, i) => ({
    mandateId,
    provider: "openai",
    model: "gpt-5",
    cost: "0.001",
    idempotencyKey: `k-${i}`,
  }));
  await expect(recordUsages(ctx, inputs)).rejects.toMatchObject({ code: "VALIDATION_FAILED", field: ["inputs"] });
  expect(await db.prisma.transaction.count({ where: { account: { mandateId } } })).toBe(0);
});
