// Usage statistics as charts want them: one point per day of a month, per
// month of a year, or per year of the last five, with totals. Read from the
// rollups, summed over a mandate's accounts when asked for the whole mandate.
//
// One SQL statement does all the arithmetic (points, totals, shares per
// provider and feature, their order) and sends back one row per period with
// debits plus one for the totals; decimals stay exact text end to end. Summing
// ~300 DAY rollup rows in decimal.js after reading them through Prisma took
// most of a DAY query's time (bench/README.md, `bench:stats`).
import type { SqlExecutor } from "../../db/executor.js";
import { sql, type Sql } from "../../db/sql.js";
import { accountKeyFor } from "../ledger/accounts.js";
import { UNATTRIBUTED } from "../ledger/rollups.js";
import type { BillingContext } from "../shared/context.js";
import { validation } from "../shared/errors.js";
import { Decimal, formatMoney, ZERO } from "../shared/money.js";
import type { PeriodType } from "../shared/periods.js";

/** Amounts are exact decimal text, e.g. "12.500000" (numeric in SQL, never a JavaScript number). */
export interface CostShare {
  key: string;
  cost: string;
}

export interface StatisticsPoint {
  label: string;
  periodStart: string;
  totalCost: string;
  transactionCount: number;
  byProvider: CostShare[];
  byFeature: CostShare[];
}

export interface Statistics {
  data: StatisticsPoint[];
  totals: Omit<StatisticsPoint, "label" | "periodStart">;
}

type StatisticsScope = { of: "mandate" } | { of: "account"; accountId: string | null } | { of: "userDebits"; userId: string };

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
  ctx: Pick<BillingContext, "db" | "sql" | "timeZone">,
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
  return readStatistics(ctx.sql, { ...q, scope, timeZone: ctx.timeZone });
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

/**
 * Shares largest first, equal costs by key. `rank` orders the costs (computed
 * where they were summed); keys are compared here with localeCompare, as
 * everywhere else, not in the database's collation.
 */
function orderShares(shares: (CostShare & { rank: number })[]): CostShare[] {
  return shares.sort((a, b) => a.rank - b.rank || a.key.localeCompare(b.key)).map(({ key, cost }) => ({ key, cost }));
}

/** One rollup row's shares ({ key: "decimal" }), in that order. */
export function rollupShares(json: Record<string, string>): CostShare[] {
  const shares = Object.entries(json).map(([key, cost]) => ({ key, cost, value: new Decimal(cost) }));
  return orderShares(shares.map((s) => ({ ...s, rank: 1 + shares.filter((o) => o.value.greaterThan(s.value)).length })));
}

/** One row of the statement below: a period with debits, or the totals (start null). */
interface PeriodRow {
  start: string | null;
  total: string | null;
  n: string | null;
  /** JSON: [["provider" | "feature", key, cost, rank], ...] */
  shares: string | null;
}

const ZERO_COST = formatMoney(ZERO);

async function readStatistics(db: SqlExecutor, q: StatisticsQuery): Promise<Statistics> {
  const periods = periodsOf(q.period, q.year, q.month);
  const first = periods[0].start;
  const last = periods[periods.length - 1].start;
  const source =
    q.scope.of === "userDebits"
      ? userDebits(q, q.scope.userId, first, last)
      : q.scope.of === "mandate" || q.scope.accountId
        ? rollups(q, q.scope.of === "account" ? q.scope.accountId : null, first, last)
        : null;
  const rows = source ? await query(db, summed(source)) : [];
  const byStart = new Map(rows.map((row) => [row.start, row]));
  const figures = (row: PeriodRow | undefined) => {
    const byProvider: (CostShare & { rank: number })[] = [];
    const byFeature: typeof byProvider = [];
    for (const [kind, key, cost, rank] of row?.shares ? (JSON.parse(row.shares) as [string, string, string, number][]) : []) {
      (kind === "provider" ? byProvider : byFeature).push({ key, cost, rank });
    }
    return {
      totalCost: row?.total ?? ZERO_COST,
      transactionCount: row?.n ? Number(row.n) : 0,
      byProvider: orderShares(byProvider),
      byFeature: orderShares(byFeature),
    };
  };
  return {
    data: periods.map(({ start, label }) => ({ label, periodStart: start, ...figures(byStart.get(start)) })),
    totals: figures(byStart.get(null)),
  };
}

/** The rollup rows of the mandate (or of one account): one per account and period. */
function rollups(q: StatisticsQuery, accountId: string | null, first: string, last: string): Sql {
  const account = accountId ? sql` AND "accountId" = ${accountId}::text` : sql``;
  return sql`r AS (
      SELECT "periodStart" AS start, "totalCost", "transactionCount", "costByProvider", "costByFeature"
        FROM "UsageStatistics"
       WHERE "mandateId" = ${q.mandateId}::text AND "periodType" = ${q.period}::"PeriodType"
         AND "periodStart" BETWEEN ${first}::date AND ${last}::date${account}),
    counts AS (SELECT start, "totalCost" AS total, "transactionCount"::int8 AS n FROM r),
    items AS (
      SELECT r.start, 'provider' AS kind, e.key, e.value::numeric AS cost FROM r, jsonb_each_text(r."costByProvider") e
      UNION ALL
      SELECT r.start, 'feature', e.key, e.value::numeric FROM r, jsonb_each_text(r."costByFeature") e)`;
}

/**
 * One user's spend on a shared account has no rollup of its own: that user's
 * DEBITs, summed directly (indexed by mandate, user and time), in the periods
 * of the billing time zone.
 */
function userDebits(q: StatisticsQuery, userId: string, first: string, last: string): Sql {
  const unit = q.period === "DAY" ? "day" : q.period === "MONTH" ? "month" : "year";
  const tz = q.timeZone;
  return sql`d AS (
      SELECT start, provider, feature, sum(amount) AS cost, count(*) AS n
        FROM (SELECT date_trunc(${unit}::text, ("createdAt" AT TIME ZONE 'UTC') AT TIME ZONE ${tz}::text)::date AS start,
                     coalesce("aicoreProvider", ${UNATTRIBUTED}::text) AS provider,
                     coalesce("featureCode", ${UNATTRIBUTED}::text) AS feature, "amount"
                FROM "Transaction"
               WHERE "mandateId" = ${q.mandateId}::text AND "createdByUserId" = ${userId}::text AND "transactionType" = 'DEBIT'
                 AND "createdAt" >= (${first}::timestamp AT TIME ZONE ${tz}::text) AT TIME ZONE 'UTC' - interval '1 day'
                 AND "createdAt" < ((${last}::date + ${`1 ${unit}`}::interval)::timestamp AT TIME ZONE ${tz}::text) AT TIME ZONE 'UTC' + interval '1 day') t
       WHERE start BETWEEN ${first}::date AND ${last}::date
       GROUP BY 1, 2, 3),
    counts AS (SELECT start, cost AS total, n FROM d),
    items AS (SELECT start, 'provider' AS kind, provider AS key, cost FROM d UNION ALL SELECT start, 'feature', feature, cost FROM d)`;
}

/**
 * Sums per period and in total (GROUPING SETS: the totals row has start
 * NULL), with the shares of each as one JSON list ranked by cost. `source`
 * defines "counts" (start, total, n) and "items" (start, kind, key, cost),
 * starts within the chart: rollups() or userDebits().
 */
function summed(source: Sql): Sql {
  return sql`WITH ${source},
    totals AS (SELECT start, sum(total) AS total, sum(n) AS n FROM counts GROUP BY GROUPING SETS ((start), ())),
    shares AS (SELECT start, kind, key, sum(cost) AS cost FROM items GROUP BY GROUPING SETS ((start, kind, key), (kind, key))),
    lists AS (
      SELECT start, json_agg(json_build_array(kind, key, cost::text, rank)) AS shares
        FROM (SELECT start, kind, key, cost, dense_rank() OVER (PARTITION BY start, kind ORDER BY cost DESC) AS rank FROM shares) s
       GROUP BY start)
    SELECT to_char(t.start, 'YYYY-MM-DD') AS start, t.total::text AS total, t.n::text AS n, l.shares::text AS shares
      FROM totals t LEFT JOIN lists l ON l.start IS NOT DISTINCT FROM t.start`;
}

/**
 * Through the raw SQL executor, not Prisma: the statement rides with BEGIN in
 * one message (prepared from its second use), COMMIT in a second, and none of
 * Prisma's per-call work. JIT off: the planner guesses 100 rows per
 * jsonb_each_text, so a mandate with many accounts would cross
 * jit_above_cost and spend tens of milliseconds compiling a query that runs
 * in a few.
 */
async function query(db: SqlExecutor, statement: Sql): Promise<PeriodRow[]> {
  const [, rows] = await db.transaction((t) => t.query(sql`SELECT set_config('jit', 'off', true)`, statement));
  return rows as unknown as PeriodRow[];
}
