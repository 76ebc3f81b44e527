// Usage statistics as charts want them: one point per day of a month, per
// month of a year, or per year of the last five, with totals. Read from the
// rollups (a handful of rows), summed over a mandate's accounts when asked
// for the whole mandate.
import { Prisma } from "@prisma/client";
import type { Db } from "../db.js";
import { accountKeyFor } from "./accounts.js";
import type { BillingContext } from "./context.js";
import { validation } from "./errors.js";
import { Decimal, ZERO } from "./money.js";
import type { PeriodType } from "./periods.js";
import { UNATTRIBUTED } from "./statistics.js";

export interface CostShare {
  key: string;
  cost: Decimal;
}

export interface StatisticsPoint {
  label: string;
  periodStart: string;
  totalCost: Decimal;
  transactionCount: number;
  byProvider: CostShare[];
  byFeature: CostShare[];
}

export interface Statistics {
  data: StatisticsPoint[];
  totals: Omit<StatisticsPoint, "label" | "periodStart">;
}

type StatisticsScope =
  | { of: "mandate" }
  | { of: "account"; accountId: string | null }
  | { of: "userDebits"; userId: string };

interface StatisticsQuery {
  mandateId: string;
  scope: StatisticsScope;
  period: PeriodType;
  year: number;
  month?: number | null;
  timeZone: string;
}

/**
 * Statistics of a mandate, or of one user in it: under PREPAY_USER the
 * user's own account (its rollups); on a shared account the user's own
 * debits, summed directly (no rollup is kept per user of a shared account).
 */
export async function statisticsFor(
  ctx: Pick<BillingContext, "db" | "timeZone">,
  q: { mandateId: string; userId: string | null; period: PeriodType; year: number; month?: number | null },
): Promise<Statistics> {
  let scope: StatisticsScope = { of: "mandate" };
  if (q.userId) {
    const settings = await ctx.db.settings.findUnique({ where: { mandateId: q.mandateId } });
    if (settings?.billingModel === "PREPAY_USER") {
      const account = await ctx.db.billingAccount.findUnique({
        where: { mandateId_accountKey: { mandateId: q.mandateId, accountKey: accountKeyFor("PREPAY_USER", q.userId).accountKey } },
        select: { id: true },
      });
      scope = { of: "account", accountId: account?.id ?? null };
    } else {
      scope = { of: "userDebits", userId: q.userId };
    }
  }
  return readStatistics(ctx.db, { ...q, scope, timeZone: ctx.timeZone });
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The periods a chart shows, oldest first. */
export function periodsOf(period: PeriodType, year: number, month?: number | null): { start: string; label: string }[] {
  if (!Number.isInteger(year) || year < 2000 || year > 2999) throw validation("year must be between 2000 and 2999", ["year"]);
  if (period === "YEAR") return [4, 3, 2, 1, 0].map((back) => ({ start: `${year - back}-01-01`, label: String(year - back) }));
  if (period === "MONTH") {
    return Array.from({ length: 12 }, (_, i) => ({ start: `${year}-${pad(i + 1)}-01`, label: `${year}-${pad(i + 1)}` }));
  }
  if (!month || !Number.isInteger(month) || month < 1 || month > 12) {
    throw validation("month (1-12) is required for DAY statistics", ["month"]);
  }
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Array.from({ length: days }, (_, i) => {
    const start = `${year}-${pad(month)}-${pad(i + 1)}`;
    return { start, label: start };
  });
}

interface Bucket {
  total: Decimal;
  count: number;
  providers: Map<string, Decimal>;
  features: Map<string, Decimal>;
}

const emptyBucket = (): Bucket => ({ total: ZERO, count: 0, providers: new Map(), features: new Map() });

function addShares(into: Map<string, Decimal>, shares: Record<string, string> | [string, Decimal][]) {
  for (const [key, cost] of Array.isArray(shares) ? shares : Object.entries(shares)) {
    into.set(key, (into.get(key) ?? ZERO).plus(cost));
  }
}

const sharesOf = (map: Map<string, Decimal>): CostShare[] =>
  [...map.entries()].map(([key, cost]) => ({ key, cost })).sort((a, b) => b.cost.comparedTo(a.cost) || a.key.localeCompare(b.key));

async function readStatistics(db: Db, q: StatisticsQuery): Promise<Statistics> {
  const periods = periodsOf(q.period, q.year, q.month);
  const buckets = new Map(periods.map((p) => [p.start, emptyBucket()]));
  const first = periods[0].start;
  const last = periods[periods.length - 1].start;
  if (q.scope.of === "userDebits") {
    await sumUserDebits(db, q, q.scope.userId, buckets, first);
  } else if (q.scope.of === "mandate" || q.scope.accountId) {
    const rows = await db.usageStatistics.findMany({
      where: {
        mandateId: q.mandateId,
        ...(q.scope.of === "account" ? { accountId: q.scope.accountId! } : {}),
        periodType: q.period,
        periodStart: { gte: new Date(`${first}T00:00:00Z`), lte: new Date(`${last}T00:00:00Z`) },
      },
    });
    for (const row of rows) {
      const bucket = buckets.get(row.periodStart.toISOString().slice(0, 10));
      if (!bucket) continue;
      bucket.total = bucket.total.plus(row.totalCost.toString());
      bucket.count += row.transactionCount;
      addShares(bucket.providers, row.costByProvider as Record<string, string>);
      addShares(bucket.features, row.costByFeature as Record<string, string>);
    }
  }
  const totals = emptyBucket();
  const data = periods.map(({ start, label }) => {
    const b = buckets.get(start)!;
    totals.total = totals.total.plus(b.total);
    totals.count += b.count;
    addShares(totals.providers, [...b.providers.entries()]);
    addShares(totals.features, [...b.features.entries()]);
    return { label, periodStart: start, totalCost: b.total, transactionCount: b.count, byProvider: sharesOf(b.providers), byFeature: sharesOf(b.features) };
  });
  return {
    data,
    totals: { totalCost: totals.total, transactionCount: totals.count, byProvider: sharesOf(totals.providers), byFeature: sharesOf(totals.features) },
  };
}

/**
 * One user's spend on a shared account has no rollup of its own: sum that
 * user's DEBITs directly (indexed by mandate, user and time).
 */
async function sumUserDebits(db: Db, q: StatisticsQuery, userId: string, buckets: Map<string, Bucket>, first: string) {
  const truncate = q.period === "DAY" ? "day" : q.period === "MONTH" ? "month" : "year";
  const rows = await db.$queryRaw<{ start: string; provider: string; feature: string; total: Prisma.Decimal; n: bigint }[]>`
    SELECT to_char(date_trunc(${truncate}, ("createdAt" AT TIME ZONE 'UTC') AT TIME ZONE ${q.timeZone}), 'YYYY-MM-DD') AS start,
           coalesce("aicoreProvider", ${UNATTRIBUTED}) AS provider, coalesce("featureCode", ${UNATTRIBUTED}) AS feature,
           sum("amount") AS total, count(*) AS n
      FROM "Transaction"
     WHERE "mandateId" = ${q.mandateId} AND "createdByUserId" = ${userId} AND "transactionType" = 'DEBIT'
       AND "createdAt" >= (${first}::timestamp AT TIME ZONE ${q.timeZone}) AT TIME ZONE 'UTC' - interval '1 day'
     GROUP BY 1, 2, 3`;
  for (const row of rows) {
    const bucket = buckets.get(row.start);
    if (!bucket) continue;
    const cost = new Decimal(row.total.toString());
    bucket.total = bucket.total.plus(cost);
    bucket.count += Number(row.n);
    addShares(bucket.providers, [[row.provider, cost]]);
    addShares(bucket.features, [[row.feature, cost]]);
  }
}
