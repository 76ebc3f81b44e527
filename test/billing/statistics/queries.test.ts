// statisticsFor, the usage statistics behind Query.usageStatistics: every
// point, total and share must equal the debits summed directly, for a whole
// mandate (its accounts' rollups added up), for one user's own account under
// PREPAY_USER, and for one user's debits on a shared account; shares largest
// first and equal costs by key; periods in the billing time zone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BillingContext } from "../../../src/billing/shared/context.js";
import { Decimal, formatMoney } from "../../../src/billing/shared/money.js";
import { statisticsFor, type Statistics } from "../../../src/billing/statistics/queries.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { type PeriodType } from "../../../src/billing/shared/periods.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { createMandate, testBilling } from "../../support/billing.js";

const ZONE = "Europe/Zurich";
const HOUR = 3_600_000;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

/** Zurich's offset in autumn 2026 (summer time ends 25 October 01:00 UTC) and in March (starts 29 March 01:00 UTC). */
function localDay(t: number): string {
  const summer = t >= Date.UTC(2026, 2, 29, 1) && t < Date.UTC(2026, 9, 25, 1);
  return new Date(t + (summer ? 2 : 1) * HOUR).toISOString().slice(0, 10);
}

interface Debit {
  at: number;
  userId: string;
  cost: string;
  provider: string;
  feature: string | null;
}

/** mulberry32, seeded by the test (deterministic data). */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomDebits(count: number, seed: number): Debit[] {
  const next = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
  // 20 October .. 6 November 2026: the end of summer time and the month boundary, and a few in December.
  const from = Date.UTC(2026, 9, 20);
  const to = Date.UTC(2026, 10, 6);
  const boundaries = [Date.UTC(2026, 9, 25, 1), Date.UTC(2026, 9, 31, 23), Date.UTC(2026, 11, 31, 23)];
  return Array.from({ length: count }, (_, i) => ({
    at: i % 4 === 0 ? pick(boundaries) + Math.floor((next() - 0.5) * 4 * HOUR) : from + Math.floor(next() * (to - from)),
    userId: pick(["ann", "ben", "cem"]),
    cost: formatMoney(new Decimal(1 + Math.floor(next() * 3_000_000)).dividedBy(1_000_000)),
    provider: pick(["openai", "anthropic", "tavily", "mistral"]),
    feature: pick(["chat", "automation", "Zeta", "alpha", null]),
  }));
}

/** Equal costs on one day, where localeCompare ("alpha" before "Zeta") and byte order disagree. */
const TIES: Debit[] = [
  { at: Date.UTC(2026, 10, 10, 12), userId: "ann", cost: "1.250000", provider: "openai", feature: "Zeta" },
  { at: Date.UTC(2026, 10, 10, 13), userId: "ben", cost: "1.250000", provider: "anthropic", feature: "alpha" },
  { at: Date.UTC(2026, 10, 10, 14), userId: "ben", cost: "0.500000", provider: "tavily", feature: "chat" },
];

async function book(mandateId: string, debits: Debit[]) {
  const { ctx, clock } = testBilling(db, { timeZone: ZONE });
  let n = 0;
  for (const d of debits) {
    clock.set(new Date(d.at));
    await recordUsage(ctx, {
      mandateId,
      userId: d.userId,
      provider: d.provider,
      model: "m",
      cost: d.cost,
      metadata: d.feature ? { featureCode: d.feature } : {},
      idempotencyKey: `${mandateId}-${n++}`,
    });
  }
}

/** What the statistics must say, summed here from the debits with decimal.js. */
function expected(debits: Debit[], period: PeriodType, year: number, month: number | null): Statistics {
  const pad = (n: number) => String(n).padStart(2, "0");
  const starts =
    period === "YEAR"
      ? [4, 3, 2, 1, 0].map((back) => [`${year - back}-01-01`, String(year - back)])
      : period === "MONTH"
        ? Array.from({ length: 12 }, (_, i) => [`${year}-${pad(i + 1)}-01`, `${year}-${pad(i + 1)}`])
        : Array.from({ length: new Date(Date.UTC(year, month!, 0)).getUTCDate() }, (_, i) => {
            const day = `${year}-${pad(month!)}-${pad(i + 1)}`;
            return [day, day];
          });
  const startOf = (day: string) => (period === "YEAR" ? `${day.slice(0, 4)}-01-01` : period === "MONTH" ? `${day.slice(0, 7)}-01` : day);
  const figures = (list: Debit[]) => {
    const shares = (key: (d: Debit) => string) => {
      const sums = new Map<string, Decimal>();
      for (const d of list) sums.set(key(d), (sums.get(key(d)) ?? new Decimal(0)).plus(d.cost));
      return [...sums]
        .sort(([ka, a], [kb, b]) => b.comparedTo(a) || ka.localeCompare(kb))
        .map(([key, cost]) => ({ key, cost: formatMoney(cost) }));
    };
    return {
      totalCost: formatMoney(list.reduce((sum, d) => sum.plus(d.cost), new Decimal(0))),
      transactionCount: list.length,
      byProvider: shares((d) => d.provider),
      byFeature: shares((d) => d.feature ?? "unknown"),
    };
  };
  const inChart = debits.filter((d) => starts.some(([start]) => start === startOf(localDay(d.at))));
  return {
    data: starts.map(([start, label]) => ({
      label,
      periodStart: start,
      ...figures(inChart.filter((d) => startOf(localDay(d.at)) === start)),
    })),
    totals: figures(inChart),
  };
}

/** Amounts as canonical text, as the API prints them. */
function printed(s: Statistics): Statistics {
  const shares = (list: { key: string; cost: string }[]) => list.map((x) => ({ key: x.key, cost: formatMoney(x.cost) }));
  const point = <P extends Statistics["totals"]>(p: P): P => ({
    ...p,
    totalCost: formatMoney(p.totalCost),
    byProvider: shares(p.byProvider),
    byFeature: shares(p.byFeature),
  });
  return { data: s.data.map(point), totals: point(s.totals) };
}

const CHARTS: { period: PeriodType; year: number; month: number | null }[] = [
  { period: "DAY", year: 2026, month: 10 },
  { period: "DAY", year: 2026, month: 11 },
  { period: "DAY", year: 2026, month: 12 },
  { period: "MONTH", year: 2026, month: null },
  { period: "YEAR", year: 2027, month: null },
];

describe("statisticsFor equals the debits summed directly", () => {
  let ctx: BillingContext;
  let perUser: string;
  let shared: string;
  const debits = [...randomDebits(150, 20261025), ...TIES];

  beforeAll(async () => {
    ctx = testBilling(db, { timeZone: ZONE }).ctx;
    perUser = await createMandate(ctx, "PREPAY_USER", { blockOnZeroBalance: false });
    shared = await createMandate(ctx, "UNLIMITED");
    await book(perUser, debits);
    await book(shared, debits);
  }, 120_000);

  for (const chart of CHARTS) {
    const name = `${chart.period} ${chart.year}${chart.month ? `-${chart.month}` : ""}`;

    it(`${name}: the whole mandate, over every account's rollups`, async () => {
      for (const mandateId of [perUser, shared]) {
        const stats = await statisticsFor(ctx, { mandateId, userId: null, ...chart });
        expect(printed(stats)).toEqual(expected(debits, chart.period, chart.year, chart.month));
      }
    });

    it(`${name}: one user, from their own account (PREPAY_USER) or their own debits (shared account)`, async () => {
      for (const userId of ["ann", "ben"]) {
        const mine = debits.filter((d) => d.userId === userId);
        for (const mandateId of [perUser, shared]) {
          const stats = await statisticsFor(ctx, { mandateId, userId, ...chart });
          expect(printed(stats), `${mandateId} ${userId}`).toEqual(expected(mine, chart.period, chart.year, chart.month));
        }
      }
    });
  }

  it("orders equal shares by key as localeCompare does (alpha before Zeta)", async () => {
    const stats = await statisticsFor(ctx, { mandateId: shared, userId: null, period: "DAY", year: 2026, month: 11 });
    const day = stats.data.find((p) => p.periodStart === "2026-11-10")!;
    expect(day.byFeature.map((s) => s.key)).toEqual(["alpha", "Zeta", "chat"]);
    expect(day.byProvider.map((s) => s.key)).toEqual(["anthropic", "openai", "tavily"]);
  });

  it("a user without an account, and a mandate without debits, get zero points", async () => {
    const nobody = await statisticsFor(ctx, { mandateId: perUser, userId: "nobody", period: "MONTH", year: 2026 });
    const empty = await createMandate(ctx, "PREPAY_MANDATE");
    const none = await statisticsFor(ctx, { mandateId: empty, userId: null, period: "MONTH", year: 2026 });
    for (const stats of [nobody, none]) {
      expect(printed(stats)).toEqual(expected([], "MONTH", 2026, null));
      expect(stats.totals).toEqual({ totalCost: "0.000000", transactionCount: 0, byProvider: [], byFeature: [] });
    }
  });
});
