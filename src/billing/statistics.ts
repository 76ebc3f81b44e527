// Usage rollups: every DEBIT adds itself to its account's DAY, MONTH and YEAR
// rows in the same database transaction, so charts read a handful of rows
// instead of scanning the ledger, and always agree with it.
import { Prisma } from "@prisma/client";
import type { Tx } from "./context.js";
import type { Decimal } from "./money.js";
import { formatMoney } from "./money.js";
import { periodStarts } from "./periods.js";

/** Key under which a debit without a provider or feature is counted. */
export const UNATTRIBUTED = "unknown";

export interface DebitForRollup {
  accountId: string;
  mandateId: string;
  amount: Decimal;
  provider: string | null;
  featureCode: string | null;
  at: Date;
}

export async function addDebitToRollups(tx: Tx, debit: DebitForRollup, timeZone: string): Promise<void> {
  const starts = periodStarts(debit.at, timeZone);
  const cost = formatMoney(debit.amount);
  const provider = debit.provider || UNATTRIBUTED;
  const feature = debit.featureCode || UNATTRIBUTED;
  const rows = (["DAY", "MONTH", "YEAR"] as const).map(
    (period) => Prisma.sql`(gen_random_uuid()::text, ${debit.accountId}, ${debit.mandateId},
      ${period}::"PeriodType", ${starts[period]}::date, ${cost}::numeric, 1,
      jsonb_build_object(${provider}::text, ${cost}::text), jsonb_build_object(${feature}::text, ${cost}::text), now())`,
  );
  // Shares are kept as decimal strings inside JSON: exact, never floats.
  await tx.$executeRaw`
    INSERT INTO "UsageStatistics" AS s ("id", "accountId", "mandateId", "periodType", "periodStart",
      "totalCost", "transactionCount", "costByProvider", "costByFeature", "updatedAt")
    VALUES ${Prisma.join(rows)}
    ON CONFLICT ("accountId", "periodType", "periodStart") DO UPDATE SET
      "totalCost" = s."totalCost" + EXCLUDED."totalCost",
      "transactionCount" = s."transactionCount" + 1,
      "costByProvider" = s."costByProvider" || jsonb_build_object(${provider}::text,
        ((coalesce((s."costByProvider" ->> ${provider}::text)::numeric, 0) + EXCLUDED."totalCost")::numeric(18, 6))::text),
      "costByFeature" = s."costByFeature" || jsonb_build_object(${feature}::text,
        ((coalesce((s."costByFeature" ->> ${feature}::text)::numeric, 0) + EXCLUDED."totalCost")::numeric(18, 6))::text),
      "updatedAt" = now()`;
}
