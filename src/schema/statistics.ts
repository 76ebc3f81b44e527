import { GraphQLError } from "graphql";
import {
  rollupShares,
  statisticsFor,
  type CostShare as Share,
  type Statistics,
  type StatisticsPoint as Point,
} from "../billing/statistics/queries.js";
import { builder } from "../builder.js";
import { PeriodType } from "./enums.js";
import { can } from "../auth.js";
import { forbidden, query, readerScope } from "./guard.js";
import { IN_MEMORY, rows } from "./cost.js";

/** What a statistics list without a start is estimated at: a year of days or months, five years. */
const UNBOUNDED_PERIODS = { DAY: 366, MONTH: 12, YEAR: 5 } as const;

/** How many rollup rows a from..to range holds, for the cost estimate. */
export function periodsBetween(
  period: keyof typeof UNBOUNDED_PERIODS,
  from: Date | null | undefined,
  to: Date | null | undefined,
  now = new Date(),
): number {
  if (!from) return UNBOUNDED_PERIODS[period];
  const end = to ?? now;
  const years = end.getUTCFullYear() - from.getUTCFullYear();
  const count =
    period === "DAY"
      ? Math.floor((end.getTime() - from.getTime()) / 86_400_000) + 1
      : period === "MONTH"
        ? years * 12 + end.getUTCMonth() - from.getUTCMonth() + 1
        : years + 1;
  return Math.max(count, 1);
}

const CostShare = builder.objectRef<Share>("CostShare").implement({
  fields: (t) => ({ key: t.exposeString("key"), cost: t.expose("cost", { type: "Decimal" }) }),
});

/** JSON rollup shares { key: "decimal" } as a list, largest first. */
const shares = (json: unknown): Share[] => rollupShares((json ?? {}) as Record<string, string>);

builder.prismaObject("UsageStatistics", {
  fields: (t) => ({
    id: t.exposeID("id"),
    account: t.relation("account"),
    periodType: t.expose("periodType", { type: PeriodType }),
    periodStart: t.expose("periodStart", { type: "Date" }),
    totalCost: t.expose("totalCost", { type: "Decimal" }),
    // BIGINT in the database (a YEAR row never overflows); GraphQL's Int as the contract says.
    transactionCount: t.int({ resolve: (s) => Number(s.transactionCount) }),
    costByProvider: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (s) => shares(s.costByProvider) }),
    costByFeature: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (s) => shares(s.costByFeature) }),
  }),
});

builder.prismaObjectField("BillingAccount", "usageStatistics", (t) =>
  t.prismaField({
    type: ["UsageStatistics"],
    args: { period: t.arg({ type: PeriodType, required: true }), from: t.arg({ type: "Date" }), to: t.arg({ type: "Date" }) },
    complexity: (args, ctx, field) => rows(periodsBetween(args.period, args.from, args.to), ctx, field),
    resolve: (q, account, args, ctx) => {
      // Rollups are per account: on a shared account a user's own share is
      // in Query.usageStatistics(userId), not here.
      if (can.readAccountHistory(ctx.caller, account) !== "all") throw forbidden("You may not read this account's statistics");
      // Like the transactions filter: a range that ends before it starts is a mistake, not an empty list.
      if (args.from && args.to && args.from > args.to) {
        throw new GraphQLError("from must not be after to", { extensions: { code: "VALIDATION_FAILED", field: ["from"] } });
      }
      return ctx.db.usageStatistics.findMany({
        ...q,
        where: {
          accountId: account.id,
          periodType: args.period,
          periodStart: { ...(args.from ? { gte: args.from } : {}), ...(args.to ? { lte: args.to } : {}) },
        },
        orderBy: { periodStart: "asc" },
      });
    },
  }),
);

const StatisticsPoint = builder.objectRef<Point>("StatisticsPoint").implement({
  fields: (t) => ({
    label: t.exposeString("label"),
    periodStart: t.expose("periodStart", { type: "Date" }),
    totalCost: t.expose("totalCost", { type: "Decimal" }),
    transactionCount: t.exposeInt("transactionCount"),
    byProvider: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (p) => p.byProvider }),
    byFeature: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (p) => p.byFeature }),
  }),
});

const StatisticsTotals = builder.objectRef<Statistics["totals"]>("StatisticsTotals").implement({
  fields: (t) => ({
    totalCost: t.expose("totalCost", { type: "Decimal" }),
    transactionCount: t.exposeInt("transactionCount"),
    byProvider: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (p) => p.byProvider }),
    byFeature: t.field({ type: [CostShare], complexity: IN_MEMORY, resolve: (p) => p.byFeature }),
  }),
});

interface BillingStatisticsShape extends Statistics {
  mandateId: string;
  userId: string | null;
  period: "DAY" | "MONTH" | "YEAR";
  year: number;
  month: number | null;
}

const BillingStatistics = builder.objectRef<BillingStatisticsShape>("BillingStatistics").implement({
  fields: (t) => ({
    mandateId: t.exposeID("mandateId"),
    userId: t.exposeString("userId", { nullable: true }),
    period: t.expose("period", { type: PeriodType }),
    year: t.exposeInt("year"),
    month: t.exposeInt("month", { nullable: true }),
    currency: t.string({ resolve: () => "CHF" }),
    data: t.field({ type: [StatisticsPoint], complexity: IN_MEMORY, resolve: (s) => s.data }),
    totals: t.field({ type: StatisticsTotals, complexity: IN_MEMORY, resolve: (s) => s.totals }),
  }),
});

builder.queryField("usageStatistics", (t) =>
  t.field({
    type: BillingStatistics,
    description: "MONTH: the 12 months of year; DAY: the days of month; YEAR: the 5 years up to year.",
    args: {
      mandateId: t.arg.id({ required: true }),
      userId: t.arg.string(),
      period: t.arg({ type: PeriodType, required: true }),
      year: t.arg.int({ required: true }),
      month: t.arg.int(),
    },
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    resolve: (_root, args, ctx) =>
      query(async () => {
        const mandateId = String(args.mandateId);
        const userId = readerScope(ctx, mandateId, args.userId);
        const stats = await statisticsFor(ctx.billing, { mandateId, userId, period: args.period, year: args.year, month: args.month });
        return { ...stats, mandateId, userId, period: args.period, year: args.year, month: args.month ?? null };
      }),
  }),
);
