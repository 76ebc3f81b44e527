// Usage rollups: every DEBIT lands in its account's DAY, MONTH and YEAR rows,
// with totals, counts and shares per provider and feature as exact decimal
// strings; period boundaries follow the billing time zone, across DST changes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adjustAccount, creditAccount } from "../../../src/billing/ledger/credits.js";
import { type BillingContext } from "../../../src/billing/shared/context.js";
import { Decimal, formatMoney } from "../../../src/billing/shared/money.js";
import { authorizeUsage, settleUsage } from "../../../src/billing/usage/holds.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling } from "../../support/billing.js";

// Each time zone gets its own database: expectLedgerInvariants checks every
// account of a database against one zone. New York's is opened by its own
// describe block below.
let zurich: TestDatabase;
let newYork: TestDatabase;
const NEW_YORK = "America/New_York";

beforeAll(async () => {
  zurich = await createTestDatabase();
});
afterAll(async () => {
  await zurich?.close();
});

interface Rollup {
  total: string;
  count: number;
  byProvider: Record<string, string>;
  byFeature: Record<string, string>;
}

/** An account's rollup rows as "PERIOD YYYY-MM-DD" -> row. */
async function rollups(db: TestDatabase, accountId: string): Promise<Record<string, Rollup>> {
  const rows = await db.prisma.usageStatistics.findMany({ where: { accountId } });
  return Object.fromEntries(
    rows.map((r) => [
      `${r.periodType} ${r.periodStart.toISOString().slice(0, 10)}`,
      {
        total: r.totalCost.toFixed(6),
        count: Number(r.transactionCount),
        byProvider: r.costByProvider as Record<string, string>,
        byFeature: r.costByFeature as Record<string, string>,
      },
    ]),
  );
}

/** A context whose clock stands at `at`: debits at given instants, also concurrently. */
function at(db: TestDatabase, instant: string | number, timeZone?: string): BillingContext {
  const b = testBilling(db, timeZone ? { timeZone } : {});
  b.clock.set(new Date(instant));
  return b.ctx;
}

let keys = 0;
async function debit(
  ctx: BillingContext,
  mandateId: string,
  cost: string,
  extra: { provider?: string; featureCode?: string | null; userId?: string } = {},
) {
  const result = await recordUsage(ctx, {
    mandateId,
    userId: extra.userId,
    provider: extra.provider ?? "openai",
    model: "gpt-5",
    cost,
    metadata: extra.featureCode === null ? {} : { featureCode: extra.featureCode ?? "chat" },
    idempotencyKey: `d-${++keys}`,
  });
  return result;
}

/** Only the DAY rows, as day -> total. */
function days(rows: Record<string, Rollup>) {
  return Object.fromEntries(
    Object.entries(rows)
      .filter(([k]) => k.startsWith("DAY "))
      .map(([k, v]) => [k.slice(4), v.total]),
  );
}

function periods(rows: Record<string, Rollup>, period: "MONTH" | "YEAR") {
  return Object.fromEntries(
    Object.entries(rows)
      .filter(([k]) => k.startsWith(`${period} `))
      .map(([k, v]) => [k.slice(period.length + 1), v.total]),
  );
}

describe("rollups of debits", () => {
  it("each debit updates its DAY, MONTH and YEAR rows: totals, counts and shares as decimal strings", async () => {
    const ctx = at(zurich, "2026-06-15T10:00:00Z");
    const mandateId = await createMandate(ctx, "PREPAY_MANDATE");
    const { accountId } = await creditAccount(ctx, { mandateId, amount: "1000", description: "top-up", idempotencyKey: "c" });
    await debit(ctx, mandateId, "1.5", { provider: "openai", featureCode: "chat" });
    await debit(ctx, mandateId, "0.25", { provider: "Anthropic", featureCode: "chat" });
    await debit(ctx, mandateId, "0.000001", { provider: "openai", featureCode: "automation" });
    await debit(ctx, mandateId, "0", { provider: "openai" }); // a call that cost nothing: counted, adds nothing
    const hold = await authorizeUsage(ctx, {
      mandateId,
      provider: "tavily",
      model: "search-basic",
      estimatedCost: "3",
      idempotencyKey: "h",
    });
    await settleUsage(ctx, { authorizationId: hold.authorization!.id, cost: "2.333333" }); // no feature: "unknown"
    // Credits and adjustments are not usage.
    await adjustAccount(ctx, { mandateId, amount: "-5", description: "correction", idempotencyKey: "a" });
    await creditAccount(ctx, { mandateId, amount: "5", description: "top-up", idempotencyKey: "c2" });

    const expected: Rollup = {
      total: "4.083334",
      count: 5,
      byProvider: { openai: "1.500001", anthropic: "0.250000", tavily: "2.333333" },
      byFeature: { chat: "1.750000", automation: "0.000001", unknown: "2.333333" },
    };
    expect(await rollups(zurich, accountId)).toEqual({
      "DAY 2026-06-15": expected,
      "MONTH 2026-06-01": expected,
      "YEAR 2026-01-01": expected,
    });

    // The next day gets its own DAY row; month and year keep adding up.
    const nextDay = at(zurich, "2026-06-16T08:00:00Z");
    await debit(nextDay, mandateId, "10", { provider: "perplexity", featureCode: "research" });
    const rows = await rollups(zurich, accountId);
    expect(rows["DAY 2026-06-15"]).toEqual(expected);
    expect(rows["DAY 2026-06-16"]).toEqual({
      total: "10.000000",
      count: 1,
      byProvider: { perplexity: "10.000000" },
      byFeature: { research: "10.000000" },
    });
    const month: Rollup = {
      total: "14.083334",
      count: 6,
      byProvider: { ...expected.byProvider, perplexity: "10.000000" },
      byFeature: { ...expected.byFeature, research: "10.000000" },
    };
    expect(rows["MONTH 2026-06-01"]).toEqual(month);
    expect(rows["YEAR 2026-01-01"]).toEqual(month);
    expect(Object.keys(rows)).toHaveLength(4);
    await expectLedgerInvariants(zurich.prisma);
  });

  it("keeps exact sums where binary floating point would not (0.1 + 0.2, many micro amounts)", async () => {
    const ctx = at(zurich, "2026-06-20T12:00:00Z");
    const mandateId = await createMandate(ctx, "UNLIMITED");
    const first = await debit(ctx, mandateId, "0.1", { provider: "openai" });
    await debit(ctx, mandateId, "0.2", { provider: "openai" });
    for (let i = 0; i < 7; i++) await debit(ctx, mandateId, "0.000001", { provider: "openai" });
    await debit(ctx, mandateId, "999999.999999", { provider: "anthropic" });
    const day = (await rollups(zurich, first.accountId))["DAY 2026-06-20"];
    expect(day.total).toBe("1000000.300006");
    expect(day.byProvider).toEqual({ openai: "0.300007", anthropic: "999999.999999" });
    expect(day.count).toBe(10);
    await expectLedgerInvariants(zurich.prisma);
  });
});

describe("period boundaries in Europe/Zurich", () => {
  it("a debit at 23:30 UTC on 31 October counts in November (00:30 local), one a minute before midnight in October", async () => {
    const mandateId = await createMandate(at(zurich, "2026-10-01T00:00:00Z"), "UNLIMITED");
    const a = await debit(at(zurich, "2026-10-31T23:30:00Z"), mandateId, "1");
    await debit(at(zurich, "2026-10-31T22:59:59.999Z"), mandateId, "2");
    await debit(at(zurich, "2026-10-31T23:00:00Z"), mandateId, "4");
    const rows = await rollups(zurich, a.accountId);
    expect(days(rows)).toEqual({ "2026-10-31": "2.000000", "2026-11-01": "5.000000" });
    expect(periods(rows, "MONTH")).toEqual({ "2026-10-01": "2.000000", "2026-11-01": "5.000000" });
    expect(periods(rows, "YEAR")).toEqual({ "2026-01-01": "7.000000" });
    await expectLedgerInvariants(zurich.prisma);
  });

  it("the year turns at local midnight", async () => {
    const mandateId = await createMandate(at(zurich, "2026-12-01T00:00:00Z"), "UNLIMITED");
    const a = await debit(at(zurich, "2026-12-31T22:59:59.999Z"), mandateId, "1");
    await debit(at(zurich, "2026-12-31T23:00:00Z"), mandateId, "2");
    const rows = await rollups(zurich, a.accountId);
    expect(periods(rows, "YEAR")).toEqual({ "2026-01-01": "1.000000", "2027-01-01": "2.000000" });
    expect(periods(rows, "MONTH")).toEqual({ "2026-12-01": "1.000000", "2027-01-01": "2.000000" });
    await expectLedgerInvariants(zurich.prisma);
  });

  it("days around the spring DST change (29 March 2026) start at local midnight", async () => {
    const mandateId = await createMandate(at(zurich, "2026-03-01T00:00:00Z"), "UNLIMITED");
    const a = await debit(at(zurich, "2026-03-29T00:30:00Z"), mandateId, "1"); // 01:30 CET, 29 March
    await debit(at(zurich, "2026-03-28T23:30:00Z"), mandateId, "2"); // 00:30 CET, 29 March
    await debit(at(zurich, "2026-03-28T22:59:59.999Z"), mandateId, "4"); // 23:59 CET, 28 March
    await debit(at(zurich, "2026-03-29T01:30:00Z"), mandateId, "8"); // 03:30 CEST, 29 March
    await debit(at(zurich, "2026-03-29T21:59:59.999Z"), mandateId, "16"); // 23:59 CEST, 29 March
    await debit(at(zurich, "2026-03-29T22:00:00Z"), mandateId, "32"); // 00:00 CEST, 30 March (23:00 at the winter offset)
    expect(days(await rollups(zurich, a.accountId))).toEqual({
      "2026-03-28": "4.000000",
      "2026-03-29": "27.000000",
      "2026-03-30": "32.000000",
    });
    await expectLedgerInvariants(zurich.prisma);
  });

  it("days around the autumn DST change (25 October 2026) start at local midnight", async () => {
    const mandateId = await createMandate(at(zurich, "2026-10-01T00:00:00Z"), "UNLIMITED");
    const a = await debit(at(zurich, "2026-10-24T21:59:59.999Z"), mandateId, "1"); // 23:59 CEST, 24 October
    await debit(at(zurich, "2026-10-24T22:00:00Z"), mandateId, "2"); // 00:00 CEST, 25 October
    await debit(at(zurich, "2026-10-25T00:30:00Z"), mandateId, "4"); // 02:30 CEST, the first of two
    await debit(at(zurich, "2026-10-25T01:30:00Z"), mandateId, "8"); // 02:30 CET, the second
    await debit(at(zurich, "2026-10-25T22:59:59.999Z"), mandateId, "16"); // 23:59 CET, 25 October (a 25-hour day)
    await debit(at(zurich, "2026-10-25T23:00:00Z"), mandateId, "32"); // 00:00 CET, 26 October
    expect(days(await rollups(zurich, a.accountId))).toEqual({
      "2026-10-24": "1.000000",
      "2026-10-25": "30.000000",
      "2026-10-26": "32.000000",
    });
    await expectLedgerInvariants(zurich.prisma);
  });
});

describe("another billing time zone", () => {
  beforeAll(async () => {
    newYork = await createTestDatabase();
  });
  afterAll(async () => {
    await newYork?.close();
  });

  it("America/New_York moves the boundaries: 23:30 UTC on 31 October is still October there", async () => {
    const instants = [
      "2026-10-31T23:30:00Z",
      "2026-11-01T03:59:59.999Z",
      "2026-11-01T04:00:00Z",
      "2026-11-02T04:30:00Z",
      "2026-11-02T05:00:00Z",
    ];
    const costs = ["1", "2", "4", "8", "16"];
    const ny = await createMandate(at(newYork, "2026-10-01T00:00:00Z", NEW_YORK), "UNLIMITED");
    const zh = await createMandate(at(zurich, "2026-10-01T00:00:00Z"), "UNLIMITED");
    let nyAccount = "";
    let zhAccount = "";
    for (const [i, instant] of instants.entries()) {
      nyAccount = (await debit(at(newYork, instant, NEW_YORK), ny, costs[i])).accountId;
      zhAccount = (await debit(at(zurich, instant), zh, costs[i])).accountId;
    }
    const nyRows = await rollups(newYork, nyAccount);
    // 19:30 EDT and 23:59 EDT on 31 October; 00:00 EDT 1 November; 23:30 EST 1 November (after the
    // change back at 06:00 UTC; 00:30 at the summer offset); 00:00 EST 2 November.
    expect(days(nyRows)).toEqual({ "2026-10-31": "3.000000", "2026-11-01": "12.000000", "2026-11-02": "16.000000" });
    expect(periods(nyRows, "MONTH")).toEqual({ "2026-10-01": "3.000000", "2026-11-01": "28.000000" });
    // The same instants in Zurich are all November.
    const zhRows = await rollups(zurich, zhAccount);
    expect(periods(zhRows, "MONTH")).toEqual({ "2026-11-01": "31.000000" });
    expect(days(zhRows)).toEqual({ "2026-11-01": "7.000000", "2026-11-02": "24.000000" });
    await expectLedgerInvariants(newYork.prisma, NEW_YORK);
    await expectLedgerInvariants(zurich.prisma);
  });

  it("random debits across the month boundary and both DST changes keep every rollup equal to the sum of its debits", async () => {
    console.log(`[statistics] seed ${SEED + 1} (replay with SALDO_TEST_SEED=${SEED})`);
    await randomDebits(newYork, NEW_YORK, testDatabaseKind === "pglite" ? 90 : 120, SEED + 1);
  });
});

// ---------------------------------------------------------------------------

/** mulberry32, seeded: the random debits can be replayed with SALDO_TEST_SEED. */
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
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)],
  };
}

const SEED = process.env.SALDO_TEST_SEED ? Number(process.env.SALDO_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);

const HOUR = 3_600_000;
/**
 * The local calendar date from the zones' published offsets, written out for
 * autumn 2026 only (independent of Intl and of PostgreSQL's zone data):
 * Zurich leaves summer time on 25 October 01:00 UTC, New York on 1 November 06:00 UTC.
 */
const OFFSETS: Record<string, (t: number) => number> = {
  "Europe/Zurich": (t) => (t < Date.UTC(2026, 9, 25, 1) ? 2 : 1) * HOUR,
  [NEW_YORK]: (t) => (t < Date.UTC(2026, 10, 1, 6) ? -4 : -5) * HOUR,
};
function localDay(t: number, timeZone: string) {
  return new Date(t + OFFSETS[timeZone](t)).toISOString().slice(0, 10);
}

async function randomDebits(db: TestDatabase, timeZone: string, count: number, seed: number) {
  const rng = prng(seed);
  const setup = at(db, "2026-10-01T00:00:00Z", timeZone);
  const shared = await createMandate(setup, "UNLIMITED");
  const perUser = await createMandate(setup, "PREPAY_USER", { blockOnZeroBalance: false });
  const payers = [{ mandateId: shared }, { mandateId: perUser, userId: "ann" }, { mandateId: perUser, userId: "ben" }];
  const from = Date.UTC(2026, 9, 20); // 20 October .. 6 November: both DST changes and the month boundary
  const to = Date.UTC(2026, 10, 6);
  const expected = new Map<string, { total: Decimal; count: number; byProvider: Map<string, Decimal>; byFeature: Map<string, Decimal> }>();
  const add = (accountId: string, instant: number, cost: Decimal, provider: string, feature: string) => {
    const day = localDay(instant, timeZone);
    for (const key of [`DAY ${day}`, `MONTH ${day.slice(0, 7)}-01`, `YEAR ${day.slice(0, 4)}-01-01`]) {
      const id = `${accountId} ${key}`;
      const row = expected.get(id) ?? { total: new Decimal(0), count: 0, byProvider: new Map(), byFeature: new Map() };
      row.total = row.total.plus(cost);
      row.count += 1;
      row.byProvider.set(provider, (row.byProvider.get(provider) ?? new Decimal(0)).plus(cost));
      row.byFeature.set(feature, (row.byFeature.get(feature) ?? new Decimal(0)).plus(cost));
      expected.set(id, row);
    }
  };

  const plans = Array.from({ length: count }, (_, i) => {
    // Cluster a third of them within two hours of a boundary.
    const boundaries = [
      Date.UTC(2026, 9, 25, 1),
      Date.UTC(2026, 9, 31, 23),
      Date.UTC(2026, 10, 1, 4),
      Date.UTC(2026, 10, 1, 6),
      Date.UTC(2026, 9, 24, 22),
    ];
    const instant = i % 3 === 0 ? rng.pick(boundaries) + rng.int(-2 * HOUR, 2 * HOUR) : rng.int(from, to);
    const cost = new Decimal(rng.int(1, 5_000_000)).dividedBy(1_000_000);
    return {
      instant,
      cost,
      payer: rng.pick(payers),
      provider: rng.pick(["openai", "OpenAI", "anthropic", "tavily", "perplexity"]),
      feature: rng.pick(["chat", "automation", "research", null]),
      viaHold: rng.next() < 0.2,
    };
  });
  // Eight at a time, each with its own clock.
  for (let i = 0; i < plans.length; i += 8) {
    await Promise.all(
      plans.slice(i, i + 8).map(async (plan, j) => {
        const ctx = at(db, plan.instant, timeZone);
        const metadata = plan.feature ? { featureCode: plan.feature } : {};
        let accountId: string;
        if (plan.viaHold) {
          const hold = await authorizeUsage(ctx, {
            ...plan.payer,
            provider: plan.provider,
            model: "m",
            estimatedCost: "1",
            idempotencyKey: `h-${seed}-${i + j}`,
          });
          accountId = (await settleUsage(ctx, { authorizationId: hold.authorization!.id, cost: formatMoney(plan.cost), metadata }))
            .accountId;
        } else {
          accountId = (
            await recordUsage(ctx, {
              ...plan.payer,
              provider: plan.provider,
              model: "m",
              cost: formatMoney(plan.cost),
              metadata,
              idempotencyKey: `r-${seed}-${i + j}`,
            })
          ).accountId;
        }
        add(accountId, plan.instant, plan.cost, plan.provider.toLowerCase(), plan.feature ?? "unknown");
      }),
    );
  }

  const accountIds = [...new Set([...expected.keys()].map((k) => k.split(" ")[0]))];
  const stored = new Map<string, Rollup>();
  for (const accountId of accountIds) {
    for (const [key, row] of Object.entries(await rollups(db, accountId))) stored.set(`${accountId} ${key}`, row);
  }
  const want = new Map(
    [...expected].map(([k, row]) => [
      k,
      {
        total: formatMoney(row.total),
        count: row.count,
        byProvider: Object.fromEntries([...row.byProvider].map(([p, v]) => [p, formatMoney(v)])),
        byFeature: Object.fromEntries([...row.byFeature].map(([f, v]) => [f, formatMoney(v)])),
      },
    ]),
  );
  expect(Object.fromEntries(stored), `seed ${seed}, ${timeZone}`).toEqual(Object.fromEntries(want));
  expect([...want.keys()].some((k) => k.includes("MONTH 2026-10-01")) && [...want.keys()].some((k) => k.includes("MONTH 2026-11-01"))).toBe(
    true,
  );
  await expectLedgerInvariants(db.prisma, timeZone);
}

describe("random debits across a month boundary and DST changes", () => {
  it("keep every Europe/Zurich rollup equal to the sum of its debits", async () => {
    console.log(`[statistics] seed ${SEED} (replay with SALDO_TEST_SEED=${SEED})`);
    await randomDebits(zurich, "Europe/Zurich", testDatabaseKind === "pglite" ? 180 : 240, SEED);
  });
});
