// Concurrency of money moves: holds never overspend, one idempotency key moves
// money once, a random mix of every operation from many workers keeps the
// ledger's invariants, and first uses open one account. On PGlite the
// transactions serialize; on PostgreSQL they really race (pool of 20).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { type MoneyMoveResult } from "../../../src/billing/ledger/moves.js";
import { updateBillingAccount } from "../../../src/billing/mandates/accounts.js";
import { BillingError } from "../../../src/billing/shared/errors.js";
import { Decimal, formatMoney } from "../../../src/billing/shared/money.js";
import { authorizeUsage, checkBilling, releaseUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";

let db: TestDatabase;
let t: TestBilling;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 20 });
  t = testBilling(db);
});
afterAll(async () => {
  await db?.close();
});

/** Balance and what may be spent (balance + limit - live holds), read straight from the database. */
async function accountState(accountId: string) {
  const account = await db.prisma.billingAccount.findUniqueOrThrow({ where: { id: accountId } });
  const holds = await db.prisma.usageAuthorization.findMany({
    where: { accountId, status: "ACTIVE", expiresAt: { gt: t.clock.now() } },
  });
  const held = holds.reduce((sum, h) => sum.plus(h.amount.toString()), new Decimal(0));
  const balance = new Decimal(account.balance.toString());
  return { account, balance, held, holds };
}

async function accountIdOf(mandateId: string, userId?: string) {
  const account = await db.prisma.billingAccount.findFirstOrThrow({
    where: { mandateId, accountKey: userId ? `user:${userId}` : "mandate" },
  });
  return account.id;
}

describe("authorizations under contention", () => {
  it("100 concurrent holds of 3.00 on 111.00: exactly 37 succeed and 63 are denied", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    const credit = await creditAccount(t.ctx, { mandateId, amount: "111.00", description: "top-up", idempotencyKey: "top-up" });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        authorizeUsage(t.ctx, {
          mandateId,
          provider: "openai",
          model: "gpt-5",
          estimatedCost: "3.00",
          idempotencyKey: `hold-${i}`,
        }),
      ),
    );
    const granted = results.filter((r) => r.authorization !== null);
    const denied = results.filter((r) => r.authorization === null);
    expect(granted, "holds granted").toHaveLength(37);
    expect(denied, "holds denied").toHaveLength(63);
    for (const r of denied) {
      expect(r.check).toMatchObject({ allowed: false, reason: "INSUFFICIENT_BALANCE" });
    }
    for (const r of granted) expect(r.check.allowed).toBe(true);
    expect(new Set(granted.map((r) => r.authorization!.id)).size).toBe(37);

    const check = await checkBilling(t.ctx, { mandateId, provider: "openai" });
    expect(check.available?.toFixed(6)).toBe("0.000000");
    expect(check.currentBalance.toFixed(6)).toBe("111.000000");
    expect(check).toMatchObject({ allowed: false, reason: "INSUFFICIENT_BALANCE" });

    const state = await accountState(credit.accountId);
    expect(state.holds).toHaveLength(37);
    expect(state.held.toFixed(6)).toBe("111.000000");
    expect(await db.prisma.transaction.count({ where: { mandateId } })).toBe(1);
    await expectLedgerInvariants(db.prisma);
  });
});

describe("one idempotency key, 50 concurrent calls", () => {
  const N = 50;

  function expectOneFirst(results: { replayed: boolean }[]) {
    expect(
      results.filter((r) => !r.replayed),
      "calls that were not a replay",
    ).toHaveLength(1);
    expect(results.filter((r) => r.replayed)).toHaveLength(N - 1);
  }

  it("creditAccount books one CREDIT", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    const results = await Promise.all(
      Array.from({ length: N }, () =>
        creditAccount(t.ctx, { mandateId, amount: "7.25", description: "top-up", idempotencyKey: "same-credit" }),
      ),
    );
    const ids = new Set(results.map((r) => r.transaction?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeTruthy();
    expectOneFirst(results);
    const rows = await db.prisma.transaction.findMany({ where: { mandateId } });
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(results[0].transaction!.id);
    expect(await db.prisma.billingAccount.count({ where: { mandateId } })).toBe(1);
    expect((await accountState(results[0].accountId)).balance.toFixed(6)).toBe("7.250000");
  });

  it("recordUsage books one DEBIT and one rollup entry", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    await creditAccount(t.ctx, { mandateId, amount: "20", description: "top-up", idempotencyKey: "c" });
    const results = await Promise.all(
      Array.from({ length: N }, () =>
        recordUsage(t.ctx, {
          mandateId,
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          cost: "1.234567",
          metadata: { featureCode: "chat" },
          idempotencyKey: "same-usage",
        }),
      ),
    );
    const ids = new Set(results.map((r) => r.transaction?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeTruthy();
    expectOneFirst(results);
    const debits = await db.prisma.transaction.findMany({ where: { mandateId, transactionType: "DEBIT" } });
    expect(debits).toHaveLength(1);
    expect(debits[0].id).toBe(results[0].transaction!.id);
    expect((await accountState(results[0].accountId)).balance.toFixed(6)).toBe("18.765433");
    const day = await db.prisma.usageStatistics.findFirstOrThrow({ where: { mandateId, periodType: "DAY" } });
    expect(day.transactionCount).toBe(1n);
    expect(day.totalCost.toFixed(6)).toBe("1.234567");
    await expectLedgerInvariants(db.prisma);
  });

  it("authorizeUsage creates one hold, and 50 concurrent settles of it book one DEBIT", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_MANDATE");
    const credit = await creditAccount(t.ctx, { mandateId, amount: "10", description: "top-up", idempotencyKey: "c" });
    const results = await Promise.all(
      Array.from({ length: N }, () =>
        authorizeUsage(t.ctx, {
          mandateId,
          provider: "openai",
          model: "gpt-5",
          estimatedCost: "4",
          idempotencyKey: "same-hold",
        }),
      ),
    );
    const ids = new Set(results.map((r) => r.authorization?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeTruthy();
    expectOneFirst(results);
    expect(await db.prisma.usageAuthorization.count({ where: { mandateId } })).toBe(1);
    const state = await accountState(credit.accountId);
    expect(state.held.toFixed(6)).toBe("4.000000");
    expect((await checkBilling(t.ctx, { mandateId, provider: "openai" })).available?.toFixed(6)).toBe("6.000000");

    const authorizationId = results[0].authorization!.id;
    const settles = await Promise.all(Array.from({ length: N }, () => settleUsage(t.ctx, { authorizationId, cost: "3.5" })));
    expect(new Set(settles.map((s) => s.transaction?.id)).size).toBe(1);
    expect(settles[0].transaction).not.toBeNull();
    expectOneFirst(settles);
    expect(await db.prisma.transaction.count({ where: { mandateId, transactionType: "DEBIT" } })).toBe(1);
    const after = await accountState(credit.accountId);
    expect(after.balance.toFixed(6)).toBe("6.500000");
    expect(after.held.toFixed(6)).toBe("0.000000");
    await expectLedgerInvariants(db.prisma);
  });
});

// ---------------------------------------------------------------------------
// A random mix of every money move from 16 workers on 5 accounts.

/** mulberry32: a small seeded PRNG, so a failing mix can be replayed with SALDO_TEST_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const SEED = process.env.SALDO_TEST_SEED ? Number(process.env.SALDO_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);

/** A random amount of whole micro-CHF from 0 up to max, exact. */
function microUpTo(rng: Rng, max: Decimal): Decimal {
  return new Decimal(rng.int(0, max.times(1_000_000).toNumber())).dividedBy(1_000_000);
}

/** An amount of whole micro-CHF between lo and hi CHF, as an exact decimal. */
function micro(rng: Rng, lo: number, hi: number): Decimal {
  return new Decimal(rng.int(Math.round(lo * 1e6), Math.round(hi * 1e6))).dividedBy(1_000_000);
}

interface Target {
  name: string;
  mandateId: string;
  userId?: string;
  /** Denies a hold it cannot cover: blocking prepaid accounts and postpay. */
  limited: boolean;
  creditLimit: Decimal;
  accountId: string;
  /** Balance implied by every money move that reported success. */
  expectedBalance: Decimal;
  /**
   * Upper bound of how far what may be spent can have been pushed below zero
   * by check-free decreases (a settle above its hold, a recordUsage, a negative
   * adjustment). Raised before such a call is issued, never lowered.
   */
  excess: Decimal;
  lowestAvailableSeen: Decimal | null;
}

interface Hold {
  id: string;
  target: Target;
  amount: Decimal;
}

interface Replayable {
  transactionId: string;
  call: () => Promise<MoneyMoveResult>;
}

type Mode = "within-estimates" | "beyond-estimates";

const WORKERS = 16;

async function openTargets(tag: string): Promise<Target[]> {
  const prepayMandate = await createMandate(t.ctx, "PREPAY_MANDATE");
  const prepayUser = await createMandate(t.ctx, "PREPAY_USER", { defaultUserCredit: "10" });
  const postpay = await createMandate(t.ctx, "CREDIT_POSTPAY");
  const unlimited = await createMandate(t.ctx, "UNLIMITED");
  const make = async (name: string, mandateId: string, userId: string | undefined, opening: string | null) => {
    // A first money move opens the account (a PREPAY_USER one with its initial credit).
    const first = opening
      ? await creditAccount(t.ctx, {
          mandateId,
          userId,
          amount: opening,
          description: "opening",
          idempotencyKey: `${tag}-open-${userId ?? "mandate"}`,
        })
      : await recordUsage(t.ctx, {
          mandateId,
          userId,
          provider: "openai",
          model: "gpt-5",
          cost: "0",
          idempotencyKey: `${tag}-open-${userId ?? "mandate"}`,
        });
    const state = await accountState(first.accountId);
    return {
      name,
      mandateId,
      userId,
      limited: name !== "unlimited",
      creditLimit: new Decimal(0),
      accountId: first.accountId,
      expectedBalance: state.balance,
      excess: new Decimal(0),
      lowestAvailableSeen: null,
    } satisfies Target;
  };
  const targets = [
    await make("prepay-mandate", prepayMandate, undefined, "15"),
    await make("prepay-user-alice", prepayUser, "alice", "2"),
    await make("prepay-user-bob", prepayUser, "bob", "2"),
    await make("postpay", postpay, undefined, null),
    await make("unlimited", unlimited, undefined, null),
  ];
  await updateBillingAccount(t.ctx, { accountId: targets[3].accountId, creditLimit: "15" });
  targets[3].creditLimit = new Decimal(15);
  expect(targets[1].expectedBalance.toFixed(6), "PREPAY_USER opens with its initial credit").toBe("12.000000");
  return targets;
}

function available(target: Target, balance: Decimal, held: Decimal): Decimal {
  return balance.plus(target.creditLimit).minus(held);
}

async function runMix(mode: Mode, seed: number) {
  const tag = `${mode}-${seed}`;
  const targets = await openTargets(tag);
  const pool: Hold[] = [];
  const replayables: Replayable[] = [];
  const counts: Record<string, number> = {};
  const count = (what: string) => void (counts[what] = (counts[what] ?? 0) + 1);
  const OPS = testDatabaseKind === "pglite" ? 12 : 20;
  let running = WORKERS;
  let keys = 0;

  /** A check-free decrease may put the target this far below zero. */
  const unguarded = (target: Target, amount: Decimal) => {
    if (amount.greaterThan(0)) target.excess = target.excess.plus(amount);
  };

  const settle = async (rng: Rng, hold: Hold) => {
    const beyond = mode === "beyond-estimates" && rng.chance(0.4);
    const cost = beyond ? hold.amount.plus(micro(rng, 0.000001, 3)) : microUpTo(rng, hold.amount);
    unguarded(hold.target, cost.minus(hold.amount));
    const result = await settleUsage(t.ctx, {
      authorizationId: hold.id,
      cost: formatMoney(cost),
      metadata: { featureCode: rng.pick(["chat", "automation"]) },
    });
    expect(result.replayed).toBe(false);
    if (cost.isZero()) {
      expect(result.transaction).toBeNull();
    } else {
      expect(result.transaction?.amount.toFixed(6)).toBe(cost.toFixed(6));
      hold.target.expectedBalance = hold.target.expectedBalance.minus(cost);
    }
    return result;
  };

  const authorize = async (rng: Rng, target: Target, amount: Decimal, key: string) => {
    count("authorize");
    const result = await authorizeUsage(t.ctx, {
      mandateId: target.mandateId,
      userId: target.userId,
      provider: "OpenAI",
      model: "gpt-5",
      estimatedCost: formatMoney(amount),
      idempotencyKey: key,
    });
    if (result.authorization) {
      expect(result.authorization.amount.toFixed(6)).toBe(amount.toFixed(6));
      pool.push({ id: result.authorization.id, target, amount });
    } else {
      count("authorize denied");
      expect(target.limited, `${target.name} may not deny`).toBe(true);
      expect(result.check.reason).toBe("INSUFFICIENT_BALANCE");
      expect(result.check.available!.lessThan(amount)).toBe(true);
    }
  };

  const step = async (rng: Rng, worker: number) => {
    const target = rng.pick(targets);
    const key = `${tag}-w${worker}-${keys++}`;
    const checkFreeAllowed = mode === "beyond-estimates" || !target.limited;
    const roll = rng.next();
    if (roll < 0.12) {
      count("credit");
      const amount = micro(rng, 0.5, 4);
      const call = () =>
        creditAccount(t.ctx, {
          mandateId: target.mandateId,
          userId: target.userId,
          amount: formatMoney(amount),
          description: "top-up",
          idempotencyKey: key,
        });
      const result = await call();
      expect(result.transaction?.delta.toFixed(6)).toBe(amount.toFixed(6));
      target.expectedBalance = target.expectedBalance.plus(amount);
      replayables.push({ transactionId: result.transaction!.id, call });
    } else if (roll < 0.27) {
      if (!checkFreeAllowed) return step(rng, worker);
      count("recordUsage");
      const cost = micro(rng, 0.000001, 2);
      const provider = rng.pick(["openai", "anthropic", "tavily"]);
      unguarded(target, cost);
      const call = () =>
        recordUsage(t.ctx, {
          mandateId: target.mandateId,
          userId: target.userId,
          provider,
          model: "m",
          cost: formatMoney(cost),
          metadata: { featureCode: "chat" },
          idempotencyKey: key,
        });
      const result = await call();
      expect(result.transaction?.delta.toFixed(6)).toBe(cost.negated().toFixed(6));
      target.expectedBalance = target.expectedBalance.minus(cost);
      replayables.push({ transactionId: result.transaction!.id, call });
    } else if (roll < 0.55) {
      await authorize(rng, target, micro(rng, 0.5, 8), key);
    } else if (roll < 0.72) {
      const hold = pool.length ? pool.splice(rng.int(0, pool.length - 1), 1)[0] : null;
      if (!hold) return step(rng, worker);
      count("settle");
      await settle(rng, hold);
    } else if (roll < 0.82) {
      const hold = pool.length ? pool.splice(rng.int(0, pool.length - 1), 1)[0] : null;
      if (!hold) return step(rng, worker);
      count("release");
      const released = await releaseUsage(t.ctx, { authorizationId: hold.id });
      expect(released.status).toBe("RELEASED");
    } else if (roll < 0.87) {
      // Settle and release the same hold at once: exactly one of them wins.
      const hold = pool.length ? pool.splice(rng.int(0, pool.length - 1), 1)[0] : null;
      if (!hold) return step(rng, worker);
      count("settle-vs-release");
      const [settled, released] = await Promise.allSettled([settle(rng, hold), releaseUsage(t.ctx, { authorizationId: hold.id })]);
      if (settled.status === "fulfilled") {
        expect(released.status, "release after settle").toBe("rejected");
        expect((released as PromiseRejectedResult).reason).toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE" });
      } else {
        expect((settled.reason as BillingError).code, String(settled.reason)).toBe("AUTHORIZATION_NOT_ACTIVE");
        expect(released.status === "fulfilled" && released.value.status).toBe("RELEASED");
      }
    } else if (roll < 0.95) {
      count("adjust");
      const negative = checkFreeAllowed && rng.chance(0.5);
      const magnitude = micro(rng, 0.000001, 1.5);
      const amount = negative ? magnitude.negated() : magnitude;
      if (negative) unguarded(target, magnitude);
      const call = () =>
        adjustAccount(t.ctx, {
          mandateId: target.mandateId,
          userId: target.userId,
          amount: formatMoney(amount),
          description: "correction",
          idempotencyKey: key,
        });
      const result = await call();
      expect(result.transaction?.delta.toFixed(6)).toBe(amount.toFixed(6));
      target.expectedBalance = target.expectedBalance.plus(amount);
      replayables.push({ transactionId: result.transaction!.id, call });
    } else {
      const earlier = replayables.length ? rng.pick(replayables) : null;
      if (!earlier) return step(rng, worker);
      count("replay");
      const again = await earlier.call();
      expect(again.replayed).toBe(true);
      expect(again.transaction?.id).toBe(earlier.transactionId);
    }
  };

  let stop = false;
  const worker = async (w: number) => {
    const rng = prng(seed * 131 + w);
    try {
      for (let i = 0; i < OPS && !stop; i++) await step(rng, w);
    } catch (error) {
      stop = true; // the others finish their current step and end, so nothing runs on after the test
      throw error;
    } finally {
      running--;
    }
  };

  // Watches what may be spent on the limited accounts while the workers run.
  const violations: string[] = [];
  const sampler = async () => {
    while (running > 0) {
      for (const target of targets.filter((x) => x.limited)) {
        const check = await checkBilling(t.ctx, { mandateId: target.mandateId, userId: target.userId, provider: "openai" });
        const floor = target.excess.negated(); // read after the check: only ever larger than at its snapshot
        const seen = check.available!;
        if (!target.lowestAvailableSeen || seen.lessThan(target.lowestAvailableSeen)) target.lowestAvailableSeen = seen;
        if (seen.lessThan(floor)) {
          violations.push(`${target.name}: available ${seen.toFixed(6)} below ${floor.toFixed(6)} while the workers ran`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, testDatabaseKind === "pglite" ? 25 : 10));
    }
  };

  // First a burst: every worker asks for a large hold on alice's 12.00 at once; at most three fit.
  await Promise.all(
    Array.from({ length: WORKERS }, (_, w) => {
      const rng = prng(seed * 7 + w);
      return authorize(rng, targets[1], micro(rng, 4, 8), `${tag}-w${w}-burst`);
    }),
  );
  expect(counts["authorize denied"] ?? 0, `the burst on alice's 12.00 (seed ${seed}, ${mode})`).toBeGreaterThanOrEqual(WORKERS - 3);

  const outcomes = await Promise.allSettled([...Array.from({ length: WORKERS }, (_, w) => worker(w)), sampler()]);
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failure) throw failure.reason;
  expect(violations, `seed ${seed}, ${mode}`).toEqual([]);

  await expectLedgerInvariants(db.prisma);
  const openHolds = new Map<string, Decimal>();
  for (const hold of pool) openHolds.set(hold.target.name, (openHolds.get(hold.target.name) ?? new Decimal(0)).plus(hold.amount));
  for (const target of targets) {
    const state = await accountState(target.accountId);
    expect(state.balance.toFixed(6), `balance of ${target.name} (seed ${seed}, ${mode})`).toBe(target.expectedBalance.toFixed(6));
    expect(state.held.toFixed(6), `live holds of ${target.name}`).toBe((openHolds.get(target.name) ?? new Decimal(0)).toFixed(6));
    if (!target.limited) continue;
    const left = available(target, state.balance, state.held);
    expect(
      left.greaterThanOrEqualTo(target.excess.negated()),
      `${target.name}: available ${left.toFixed(6)} below ${target.excess.negated().toFixed(6)} (seed ${seed}, ${mode})`,
    ).toBe(true);
    const check = await checkBilling(t.ctx, { mandateId: target.mandateId, userId: target.userId, provider: "openai" });
    expect(check.available?.toFixed(6)).toBe(left.toFixed(6));
    if (mode === "within-estimates") {
      // Nothing check-free touched it: what may be spent never went below zero.
      expect(target.excess.toFixed(6)).toBe("0.000000");
      expect(left.isNegative(), `${target.name} available ${left.toFixed(6)} (seed ${seed})`).toBe(false);
      expect(target.lowestAvailableSeen?.isNegative() ?? false).toBe(false);
    }
  }
  // Every settled hold points at a DEBIT of its account; nothing settled twice.
  const settled = await db.prisma.usageAuthorization.findMany({
    where: { mandateId: { in: targets.map((x) => x.mandateId) }, status: "SETTLED", transactionId: { not: null } },
    include: { transaction: true },
  });
  for (const auth of settled) {
    expect(auth.transaction?.transactionType).toBe("DEBIT");
    expect(auth.transaction?.accountId).toBe(auth.accountId);
  }
  return { counts, targets };
}

describe("a random mix from 16 workers on 5 accounts", () => {
  it("keeps the ledger exact and never spends what a hold did not cover (settles within estimates)", async () => {
    console.log(`[concurrency] seed ${SEED} (replay with SALDO_TEST_SEED=${SEED})`);
    const { counts } = await runMix("within-estimates", SEED);
    console.log("[concurrency] within-estimates:", JSON.stringify(counts));
    expect(counts.settle ?? 0).toBeGreaterThan(0);
    expect(counts.release ?? 0).toBeGreaterThan(0);
  });

  it("keeps the ledger exact when settles exceed their estimates and debits skip the check", async () => {
    console.log(`[concurrency] seed ${SEED} (replay with SALDO_TEST_SEED=${SEED})`);
    const { counts } = await runMix("beyond-estimates", SEED + 1);
    console.log("[concurrency] beyond-estimates:", JSON.stringify(counts));
    expect(counts.settle ?? 0).toBeGreaterThan(0);
    expect(counts.recordUsage ?? 0).toBeGreaterThan(0);
  });
});

describe("first uses of a PREPAY_USER user", () => {
  async function expectOneOpening(mandateId: string, userId: string) {
    const accounts = await db.prisma.billingAccount.findMany({ where: { mandateId, userId } });
    expect(accounts).toHaveLength(1);
    const initial = await db.prisma.transaction.findMany({ where: { accountId: accounts[0].id, referenceType: "SYSTEM" } });
    expect(initial).toHaveLength(1);
    expect(initial[0]).toMatchObject({ transactionType: "CREDIT", sequence: 1 });
    expect(initial[0].amount.toFixed(6)).toBe("12.500000");
    return accounts[0];
  }

  it("two concurrent first uses open one account with one initial credit", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER", { defaultUserCredit: "12.5" });
    const [a, b] = await Promise.all([
      recordUsage(t.ctx, { mandateId, userId: "carol", provider: "openai", model: "gpt-5", cost: "1", idempotencyKey: "a" }),
      authorizeUsage(t.ctx, { mandateId, userId: "carol", provider: "openai", model: "gpt-5", estimatedCost: "2", idempotencyKey: "b" }),
    ]);
    const account = await expectOneOpening(mandateId, "carol");
    expect(a.accountId).toBe(account.id);
    expect(b.authorization?.accountId).toBe(account.id);
    expect(account.balance.toFixed(6)).toBe("11.500000");
    await expectLedgerInvariants(db.prisma);
  });

  it("identical requests at once on a user's first use: one hold, one debit, the rest replays", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER", { defaultUserCredit: "12.5" });
    const holds = await Promise.all(
      Array.from({ length: 6 }, () =>
        authorizeUsage(t.ctx, { mandateId, userId: "gil", provider: "openai", model: "gpt-5", estimatedCost: "12.5", idempotencyKey: "h" }),
      ),
    );
    expect(holds.filter((h) => !h.replayed)).toHaveLength(1);
    expect(new Set(holds.map((h) => h.authorization?.id)).size).toBe(1);
    const debits = await Promise.all(
      Array.from({ length: 6 }, () =>
        recordUsage(t.ctx, { mandateId, userId: "hal", provider: "openai", model: "gpt-5", cost: "1", idempotencyKey: "u" }),
      ),
    );
    expect(debits.filter((d) => !d.replayed)).toHaveLength(1);
    expect(new Set(debits.map((d) => d.transaction?.id)).size).toBe(1);
    await expectLedgerInvariants(db.prisma);
  });

  it("twenty concurrent first uses of one user open one account with one initial credit", async () => {
    const mandateId = await createMandate(t.ctx, "PREPAY_USER", { defaultUserCredit: "12.5" });
    const userId = "dave";
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        switch (i % 4) {
          case 0:
            return recordUsage(t.ctx, { mandateId, userId, provider: "openai", model: "gpt-5", cost: "0.25", idempotencyKey: `u${i}` });
          case 1:
            return creditAccount(t.ctx, { mandateId, userId, amount: "1", description: "gift", idempotencyKey: `c${i}` });
          case 2:
            return adjustAccount(t.ctx, { mandateId, userId, amount: "-0.5", description: "fix", idempotencyKey: `j${i}` });
          default:
            return authorizeUsage(t.ctx, {
              mandateId,
              userId,
              provider: "openai",
              model: "gpt-5",
              estimatedCost: "1",
              idempotencyKey: `h${i}`,
            });
        }
      }),
    );
    const account = await expectOneOpening(mandateId, userId);
    // 12.5 initial + 5 x 1 credit - 5 x 0.25 usage - 5 x 0.5 adjustment
    expect(account.balance.toFixed(6)).toBe("13.750000");
    expect(await db.prisma.transaction.count({ where: { accountId: account.id } })).toBe(16);
    for (const result of results) {
      const accountId = "accountId" in result ? result.accountId : result.authorization?.accountId;
      expect(accountId).toBe(account.id);
    }
    expect((await accountState(account.id)).held.toFixed(6)).toBe("5.000000");
    // Other users of the mandate still get their own account and credit.
    await Promise.all(
      ["erin", "frank"].flatMap((user) =>
        Array.from({ length: 5 }, (_, i) =>
          recordUsage(t.ctx, {
            mandateId,
            userId: user,
            provider: "openai",
            model: "gpt-5",
            cost: "0.1",
            idempotencyKey: `x-${user}-${i}`,
          }),
        ),
      ),
    );
    for (const user of ["erin", "frank"]) {
      const other = await expectOneOpening(mandateId, user);
      expect(other.balance.toFixed(6)).toBe("12.000000");
    }
    expect(await accountIdOf(mandateId, userId)).toBe(account.id);
    await expectLedgerInvariants(db.prisma);
  });
});
