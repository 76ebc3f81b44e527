// A booking's events are published only after its COMMIT: a transaction
// that fails (or is refused at COMMIT) publishes nothing and keeps nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBillingContext } from "../../../src/billing/ledger/context.js";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { type BillingContext } from "../../../src/billing/shared/context.js";
import { authorizeUsage } from "../../../src/billing/usage/holds.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import {
  createMandate,
  expectLedgerInvariants,
  testBilling,
  type TestBilling,
  accountOf,
  balanceOf,
  spend,
} from "../../support/billing.js";

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

describe("events", () => {
  /** The same context, over a database whose transactions do all their work and then fail to commit. */
  function failingAtCommit(b: TestBilling): BillingContext {
    const sql = b.ctx.sql;
    // Every transaction does all its work, then fails instead of committing.
    const failing: typeof sql = {
      read: (statement) => sql.read(statement),
      transaction: (work) =>
        sql.transaction(async (t) => {
          await work(t);
          throw new Error("commit refused (simulated)");
        }),
    };
    // A context of its own: its moves queue for transactions on the failing executor.
    return createBillingContext({ prisma: db.prisma, sql: failing }, { now: b.ctx.now, events: b.ctx.events, timeZone: b.ctx.timeZone });
  }

  async function setUp() {
    const b = testBilling(db);
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE");
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    await spend(b, mandateId, "85");
    expect(b.events.map((e) => e.type)).toEqual(["balanceChanged", "balanceChanged"]);
    return { b, mandateId, before: b.events.length };
  }

  it("are published only after commit: an operation whose transaction fails publishes nothing", async () => {
    const { b, mandateId, before } = await setUp();
    // Would bring available to 5, below the threshold of 10: a warning and a balance change, both rolled back.
    await expect(
      adjustAccount(failingAtCommit(b), { mandateId, amount: "-10", description: "correction", idempotencyKey: "a1" }),
    ).rejects.toThrow(/commit refused/);
    await expect(authorizeUsage(failingAtCommit(b), { mandateId, ...openai, estimatedCost: "10", idempotencyKey: "h1" })).rejects.toThrow(
      /commit refused/,
    );
    expect(b.events.length).toBe(before);
    expect(await balance(mandateId)).toBe("15.000000");
    expect(await account(mandateId)).toMatchObject({ isWarning: false, sequence: 2 });
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(0);

    // A refused request publishes nothing either.
    await expect(creditAccount(b.ctx, { mandateId, amount: "1", description: "top-up", idempotencyKey: "c" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(b.events.length).toBe(before);

    // The same adjustment, committed, announces both.
    await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "correction", idempotencyKey: "a1" });
    expect(b.events.slice(before).map((e) => e.type)).toEqual(["balanceWarning", "balanceChanged"]);
    await expectLedgerInvariants(db.prisma);
  });

  it("a real refusal at COMMIT reaches the caller, and nothing is published or kept", async () => {
    // A check the database itself runs at COMMIT, after the operation did all
    // its work and collected its events: it refuses entries with this description.
    await db.prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused at commit by the test'; END; $$`);
    await db.prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS test_refuse_commit ON "Transaction"`);
    await db.prisma.$executeRawUnsafe(`
      CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON "Transaction"
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW."description" = 'refused at commit') EXECUTE FUNCTION test_refuse_commit()`);
    const { b, mandateId, before } = await setUp();
    const outcome = await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "refused at commit", idempotencyKey: "a1" }).then(
      () => "resolved",
      (error: unknown) => String(error),
    );
    expect(outcome, "the caller must learn that the adjustment was not kept").toMatch(/refused at commit/);
    expect(b.events.length, "events of a rolled-back adjustment were published").toBe(before);
    expect(await balance(mandateId)).toBe("15.000000");
    expect(await account(mandateId)).toMatchObject({ isWarning: false, sequence: 2 });
    // The connection that failed is usable again: the next operations work.
    await adjustAccount(b.ctx, { mandateId, amount: "-10", description: "correction", idempotencyKey: "a2" });
    expect(b.events.slice(before).map((e) => e.type)).toEqual(["balanceWarning", "balanceChanged"]);
    await expectLedgerInvariants(db.prisma);
  });
});
