// The monthly report of one mandate, read from the database when it is sent:
// last month's spend in total, by provider and by feature (the rollups), by
// user (the month's DEBITs), the number of calls, each account's balance at
// the month's end, and for CREDIT_POSTPAY the amount to invoice.
import type { BillingModel } from "@prisma/client";
import { type BillingAddress } from "../billing/mandates/settings.js";
import { Decimal, formatMoney } from "../billing/shared/money.js";
import { statisticsFor } from "../billing/statistics/queries.js";
import { type Db } from "../db/open.js";
import type { SqlExecutor } from "../db/executor.js";
import type { Language } from "./format.js";
import { monthRange, parseMonth } from "./time.js";

export interface ReportShare {
  key: string;
  /** Decimal string with 6 fractional digits. */
  cost: string;
}

export interface ReportUserShare {
  /** null: debits booked without a user. */
  userId: string | null;
  cost: string;
  calls: number;
}

export interface ReportBalance {
  accountId: string;
  accountType: "MANDATE" | "USER";
  userId: string | null;
  /** balanceAfter of the account's last transaction before the month's end (accounts without one are left out). */
  balance: string;
}

export interface MonthlyReport {
  mandateId: string;
  mandateName: string;
  language: Language;
  billingModel: BillingModel;
  /** YYYY-MM. */
  month: string;
  timeZone: string;
  /** The month's first and last instant (exclusive), as ISO timestamps. */
  from: string;
  to: string;
  /** Sum of the month's DEBITs. */
  total: string;
  /** Number of the month's DEBITs (AI calls). */
  calls: number;
  byProvider: ReportShare[];
  byFeature: ReportShare[];
  byUser: ReportUserShare[];
  balances: ReportBalance[];
  /** CREDIT_POSTPAY only: what to invoice and where. */
  invoice: { amount: string; billingAddress: BillingAddress | null } | null;
}

export class MandateNotFoundError extends Error {}

/** Builds the report of `mandateId` for `month` (YYYY-MM) in the billing time zone. */
export async function buildMonthlyReport(
  database: { prisma: Db; sql: SqlExecutor },
  options: { mandateId: string; month: string; timeZone: string },
): Promise<MonthlyReport> {
  const { mandateId, month, timeZone } = options;
  const db = database.prisma;
  const { year } = parseMonth(month);
  const mandate = await db.mandate.findUnique({ where: { id: mandateId }, include: { settings: true } });
  if (!mandate) throw new MandateNotFoundError(`Mandate "${mandateId}" does not exist`);
  const billingModel = mandate.settings?.billingModel ?? "PREPAY_MANDATE";
  const { start, end } = monthRange(month, timeZone);
  const from = start.toISOString();
  const to = end.toISOString();

  // Total, calls, providers and features: the MONTH rollups (one row per account).
  const statistics = await statisticsFor({ db, sql: database.sql, timeZone }, { mandateId, userId: null, period: "MONTH", year });
  const point = statistics.data.find((p) => p.periodStart === `${month}-01`);
  if (!point) throw new Error(`No statistics period for ${month}`);

  const [byUser, balances, net] = await Promise.all([
    db.$queryRaw<{ userId: string | null; cost: string; calls: number }[]>`
      SELECT "createdByUserId" AS "userId", sum("amount")::text AS "cost", count(*)::int AS "calls"
        FROM "Transaction"
       WHERE "mandateId" = ${mandateId} AND "transactionType" = 'DEBIT'
         AND "createdAt" >= ${from}::timestamp(3) AND "createdAt" < ${to}::timestamp(3)
       GROUP BY "createdByUserId"`,
    db.$queryRaw<{ accountId: string; accountType: "MANDATE" | "USER"; userId: string | null; balance: string | null }[]>`
      SELECT a."id" AS "accountId", a."accountType"::text AS "accountType", a."userId",
             last."balanceAfter"::text AS "balance"
        FROM "BillingAccount" a
        JOIN LATERAL (
          SELECT t."balanceAfter" FROM "Transaction" t
           WHERE t."accountId" = a."id" AND t."createdAt" < ${to}::timestamp(3)
           ORDER BY t."sequence" DESC LIMIT 1) last ON true
       WHERE a."mandateId" = ${mandateId} AND last."balanceAfter" IS NOT NULL`,
    // What a postpaid mandate owes for the month: its DEBITs, less the
    // ADJUSTMENTs in its favour (plus those against it). CREDITs are payments
    // of earlier invoices and are not netted.
    billingModel === "CREDIT_POSTPAY"
      ? db.$queryRaw<{ net: string | null }[]>`
          SELECT (-sum("delta"))::text AS "net" FROM "Transaction"
           WHERE "mandateId" = ${mandateId} AND "transactionType" IN ('DEBIT', 'ADJUSTMENT')
             AND "createdAt" >= ${from}::timestamp(3) AND "createdAt" < ${to}::timestamp(3)`
      : Promise.resolve(null),
  ]);

  return {
    mandateId,
    mandateName: mandate.name,
    language: mandate.language,
    billingModel,
    month,
    timeZone,
    from,
    to,
    total: formatMoney(point.totalCost),
    calls: point.transactionCount,
    byProvider: point.byProvider.map((s) => ({ key: s.key, cost: formatMoney(s.cost) })),
    byFeature: point.byFeature.map((s) => ({ key: s.key, cost: formatMoney(s.cost) })),
    byUser: byUser
      .map((row) => ({ userId: row.userId, cost: formatMoney(row.cost), calls: Number(row.calls) }))
      .sort((a, b) => compareMoney(b.cost, a.cost) || (a.userId ?? "\uffff").localeCompare(b.userId ?? "\uffff")),
    balances: balances
      .map((row) => ({
        accountId: row.accountId,
        accountType: row.accountType,
        userId: row.userId,
        balance: formatMoney(row.balance!),
      }))
      // The shared account first, then users by id.
      .sort((a, b) =>
        a.accountType === b.accountType ? (a.userId ?? "").localeCompare(b.userId ?? "") : a.accountType === "MANDATE" ? -1 : 1,
      ),
    invoice: net
      ? { amount: formatMoney(net[0]?.net ?? "0"), billingAddress: (mandate.settings?.billingAddress as BillingAddress | null) ?? null }
      : null,
  };
}

function compareMoney(a: string, b: string): number {
  return new Decimal(a).comparedTo(b);
}
