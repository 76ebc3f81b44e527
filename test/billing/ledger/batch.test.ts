// Group commit at its boundaries: moves that share one transaction are each
// judged alone, in arrival order, against what the moves before them did.
// The moves are built by the real operations (recordUsage, creditAccount,
// authorizeUsage, ...) through a context that hands them over instead of
// queueing them, then run together with runBatch, so each test chooses its
// batch exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBatch, type Move } from "../../../src/billing/ledger/batch.js";
import { createBillingContext } from "../../../src/billing/ledger/context.js";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import type { BillingContext } from "../../../src/billing/shared/context.js";
import { MAX_BALANCE } from "../../../src/billing/shared/money.js";
import { authorizeUsage, releaseUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { isLockTimeout, type SqlExecutor } from "../../../src/db/executor.js";
import { balanceOf, createMandate, expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";

let db: TestDatabase;
let t: TestBilling;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testBilling(db);
});
afterAll(async () => {
  await db?.close();
});

const openai = { provider: "openai", model: "gpt-5" } as const;

/**
 * The moves the operations would queue, in the order they were asked for:
 * each operation's promise is kept, and settles once the batch it is run in
 * (with runBatch) has been applied.
 */
function collect(ctx: BillingContext) {
  const moves: Move<unknown>[] = [];
  const capturing: BillingContext = {
    ...ctx,
    moves: { submit: (move) => (moves.push(move as Move<unknown>), new Promise<never>(() => {})), idle: async () => {} },
  };
  return {
    ctx: capturing,
    moves,
    /** Lets the operations validate and queue (their validation is synchronous up to the queue). */
    async settle() {
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

const outcome = (o: { value: unknown } | { error: { code: string } }) => ("error" in o ? o.error.code : "ok");

describe("one batch", () => {
  it("refuses a move alone: its neighbours before and after are booked", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    const c = collect(t.ctx);
    void creditAccount(c.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "k1" });
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "3", idempotencyKey: "u1" });
    void creditAccount(c.ctx, { mandateId, amount: "5", description: "top-up", idempotencyKey: "k1" }); // same key, other amount
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "2", idempotencyKey: "u2" });
    await c.settle();
    const outcomes = await runBatch(t.ctx, c.moves);
    expect(outcomes.map(outcome)).toEqual(["ok", "ok", "IDEMPOTENCY_CONFLICT", "ok"]);
    expect(await balanceOf(db.prisma, mandateId)).toBe("5.000000");
    await expectLedgerInvariants(db.prisma);
  });

  it("rolls back a refused move's changes to the state the next moves see (a balance that would overflow)", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    const c = collect(t.ctx);
    const nearly = MAX_BALANCE.minus(5);
    for (let i = 0; i < nearly.dividedToIntegerBy(1_000_000_000).toNumber(); i++) {
      void creditAccount(c.ctx, { mandateId, amount: "1000000000", description: "big", idempotencyKey: `big-${i}` });
    }
    void creditAccount(c.ctx, { mandateId, amount: nearly.mod(1_000_000_000).toFixed(), description: "rest", idempotencyKey: "rest" });
    void creditAccount(c.ctx, { mandateId, amount: "10", description: "over the top", idempotencyKey: "over" });
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "after" });
    await c.settle();
    const outcomes = (await runBatch(t.ctx, c.moves)).map(outcome);
    expect(outcomes.slice(-2)).toEqual(["INVALID_AMOUNT", "ok"]);
    expect(await balanceOf(db.prisma, mandateId)).toBe(nearly.minus(1).toFixed(6));
    await expectLedgerInvariants(db.prisma);
  });

  it("answers duplicates of one key inside one batch as the first one's replay (or its conflict)", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    await creditAccount(t.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    const c = collect(t.ctx);
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" });
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "u" });
    void recordUsage(c.ctx, { mandateId, ...openai, cost: "2", idempotencyKey: "u" });
    void authorizeUsage(c.ctx, { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "h" });
    void authorizeUsage(c.ctx, { mandateId, ...openai, estimatedCost: "4", idempotencyKey: "h" });
    await c.settle();
    const outcomes = await runBatch(t.ctx, c.moves);
    expect(outcomes.map(outcome)).toEqual(["ok", "ok", "IDEMPOTENCY_CONFLICT", "ok", "ok"]);
    const [first, again] = outcomes as { value: { replayed: boolean; transaction: { id: string } } }[];
    expect(again.value).toMatchObject({ replayed: true, transaction: { id: first.value.transaction.id } });
    const [, , , hold, holdAgain] = outcomes as { value: { replayed: boolean; authorization: { id: string } } }[];
    expect(holdAgain.value).toMatchObject({ replayed: true, authorization: { id: hold.value.authorization.id } });

    // Two settles of one hold in one batch: one debit.
    const s = collect(t.ctx);
    const authorizationId = hold.value.authorization.id;
    void settleUsage(s.ctx, { authorizationId, cost: "3.5" });
    void settleUsage(s.ctx, { authorizationId, cost: "3.5" });
    void releaseUsage(s.ctx, { authorizationId });
    await s.settle();
    const settled = await runBatch(t.ctx, s.moves);
    expect(settled.map(outcome)).toEqual(["ok", "ok", "AUTHORIZATION_NOT_ACTIVE"]);
    expect(settled[1]).toMatchObject({ value: { replayed: true } });
    expect(await balanceOf(db.prisma, mandateId)).toBe("95.500000");
    expect(await db.prisma.transaction.count({ where: { mandateId, transactionType: "DEBIT" } })).toBe(2);
    await expectLedgerInvariants(db.prisma);
  });

  it("books on two accounts and on one account, opening a new user's account once, with its initial credit once", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER", { defaultUserCredit: "10" });
    const c = collect(t.ctx);
    void recordUsage(c.ctx, { mandateId, userId: "u1", ...openai, cost: "1", idempotencyKey: "a" });
    void recordUsage(c.ctx, { mandateId, userId: "u2", ...openai, cost: "2", idempotencyKey: "b" });
    void authorizeUsage(c.ctx, { mandateId, userId: "u1", ...openai, estimatedCost: "8", idempotencyKey: "h1" });
    void authorizeUsage(c.ctx, { mandateId, userId: "u1", ...openai, estimatedCost: "2", idempotencyKey: "h2" }); // 1 + 8 + 2 > 10
    void adjustAccount(c.ctx, { mandateId, userId: "u2", amount: "-3", description: "fix", idempotencyKey: "j" });
    await c.settle();
    const outcomes = await runBatch(t.ctx, c.moves);
    expect(outcomes.map(outcome)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect((outcomes[3] as { value: { authorization: unknown; check: { reason: string } } }).value).toMatchObject({
      authorization: null,
      check: { reason: "INSUFFICIENT_BALANCE" },
    });
    expect(await balanceOf(db.prisma, mandateId, "u1")).toBe("9.000000");
    expect(await balanceOf(db.prisma, mandateId, "u2")).toBe("5.000000");
    expect(await db.prisma.transaction.count({ where: { mandateId, referenceType: "SYSTEM" } })).toBe(2);
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(1);
    await expectLedgerInvariants(db.prisma);
  });

  it("writes one rollup row per account and period however many debits the batch has", async () => {
    const mandateId = await createMandate(t.ctx, "UNLIMITED");
    const c = collect(t.ctx);
    for (let i = 0; i < 20; i++)
      void recordUsage(c.ctx, {
        mandateId,
        ...openai,
        cost: "0.25",
        metadata: { featureCode: i % 2 ? "chat" : "search" },
        idempotencyKey: `r${i}`,
      });
    await c.settle();
    await runBatch(t.ctx, c.moves);
    const rows = await db.prisma.usageStatistics.findMany({ where: { mandateId } });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.totalCost.toFixed(6)).toBe("5.000000");
      expect(row.transactionCount).toBe(20n);
      expect(row.costByFeature).toEqual({ chat: "2.500000", search: "2.500000" });
    }
    await expectLedgerInvariants(db.prisma);
  });
});

describe("a batch that fails", () => {
  it("runs its moves again one by one: each is booked once, none fails for its neighbours", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    await creditAccount(t.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    // The first transaction does its work and then fails at COMMIT; later ones commit.
    let failures = 1;
    const sql: SqlExecutor = {
      read: (statement) => db.sql.read(statement),
      transaction: (work) =>
        db.sql.transaction(async (tx) => {
          const value = await work(tx);
          if (failures-- > 0) throw new Error("commit refused (simulated)");
          return value;
        }),
    };
    const sizes: number[] = [];
    const ctx = createBillingContext(
      { prisma: db.prisma, sql },
      { now: t.ctx.now, batches: { lanes: 1, maxBatch: 10, observe: (n) => sizes.push(n) } },
    );
    const results = await Promise.allSettled([
      recordUsage(ctx, { mandateId, ...openai, cost: "1", idempotencyKey: "x1" }),
      recordUsage(ctx, { mandateId, ...openai, cost: "2", idempotencyKey: "x2" }),
      creditAccount(ctx, { mandateId, amount: "1", description: "other", idempotencyKey: "c" }), // a conflict, refused alone
      recordUsage(ctx, { mandateId, ...openai, cost: "3", idempotencyKey: "x3" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    // One batch of four failed; then each alone (the refused one too, refused again).
    expect(sizes).toEqual([1, 1, 1, 1]);
    expect(await balanceOf(db.prisma, mandateId)).toBe("94.000000");
    await expectLedgerInvariants(db.prisma);
  });
});

describe("an account locked elsewhere (its batch waited lock_timeout)", () => {
  it("holds up only its own mandate: the others of its lane are booked, its moves are refused, and it queues apart until it commits again", async () => {
    const locked = await createMandate(t.ctx, "PREPAY_MANDATE");
    const other = await createMandate(t.ctx, "PREPAY_MANDATE");
    for (const mandateId of [locked, other])
      await creditAccount(t.ctx, { mandateId, amount: "100", description: "top-up", idempotencyKey: "c" });
    // A transaction whose reads name the locked mandate fails as a lock wait
    // past lock_timeout would (SQLSTATE 55P03), while `held` is set.
    let held = true;
    const batches: string[][] = [];
    const sql: SqlExecutor = {
      read: (statement) => db.sql.read(statement),
      transaction: (work) =>
        db.sql.transaction((tx) =>
          work({
            ...tx,
            query: async (...statements) => {
              const named = [locked, other].filter((m) => statements.some((s) => s.values.some((v) => v?.includes(m))));
              if (statements.some((s) => s.text.includes("FOR NO KEY UPDATE"))) batches.push(named);
              if (held && named.includes(locked))
                throw Object.assign(new Error("canceling statement due to lock timeout"), { code: "55P03" });
              return tx.query(...statements);
            },
          }),
        ),
    };
    const ctx = createBillingContext({ prisma: db.prisma, sql }, { now: t.ctx.now, batches: { lanes: 1 } });
    const spend = (mandateId: string, key: string) => recordUsage(ctx, { mandateId, ...openai, cost: "1", idempotencyKey: key });

    const first = await Promise.allSettled([spend(locked, "l1"), spend(other, "o1"), spend(locked, "l2"), spend(other, "o2")]);
    expect(first.map((r) => r.status)).toEqual(["rejected", "fulfilled", "rejected", "fulfilled"]);
    expect(isLockTimeout((first[0] as PromiseRejectedResult).reason)).toBe(true);
    // The batch of four; then each mandate's moves together (not each move alone).
    expect(batches).toEqual([[locked, other], [locked], [other]]);

    // In quarantine: the locked mandate's moves no longer share a batch with the others'.
    batches.length = 0;
    const second = await Promise.allSettled([spend(other, "o3"), spend(locked, "l3"), spend(other, "o4")]);
    expect(second.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(batches).toEqual(expect.arrayContaining([[other], [locked]]));
    expect(batches).toHaveLength(2);

    // The lock is gone: its next move commits, and the mandate is back in its lane.
    held = false;
    batches.length = 0;
    await spend(locked, "l4");
    await Promise.all([spend(locked, "l5"), spend(other, "o5")]);
    expect(batches).toEqual([[locked], [locked, other]]);
    expect(await balanceOf(db.prisma, locked)).toBe("98.000000");
    expect(await balanceOf(db.prisma, other)).toBe("95.000000");
    await expectLedgerInvariants(db.prisma);
  });
});
