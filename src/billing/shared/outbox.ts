// Emails the domain owes: a row in the Notification table (the outbox) is an
// email owed. The ledger inserts a warning's row in the same transaction as
// the move that crossed the threshold, so the email is owed exactly when the
// crossing commits; src/notify sends the rows and queues the monthly reports.
// The unique key (mandateId, kind, dedupeKey) makes each email exist once.
import { randomUUID } from "node:crypto";
import type { Prisma, Settings } from "@prisma/client";
import { sql, type Sql } from "../../db/sql.js";
import type { BalanceWarningEvent } from "./context.js";

/** Payload of a BALANCE_WARNING row: what the warning event said. */
export interface BalanceWarningPayload {
  accountId: string;
  userId: string | null;
  available: string;
  threshold: string;
  /** ISO timestamp of the crossing. */
  at: string;
  /** Set when the email reports a failed automatic top-up (amount in CHF, the payment provider's reason). */
  autoTopUpFailure?: { amount: string; reason: string };
}

/** Payload of a MONTHLY_REPORT row. */
export interface MonthlyReportPayload {
  /** YYYY-MM, the same as the dedupeKey. */
  month: string;
}

/**
 * The outbox row for a warning that just fired, for the ledger to insert in
 * the transaction of the debit that crossed the threshold; null when the
 * mandate wants no warning emails (notifyOnWarning off, or no notifyEmails).
 * One row per crossing: the dedupeKey is the account and the instant.
 */
export function balanceWarningNotification(
  settings: Settings,
  event: BalanceWarningEvent,
  report: { autoTopUpFailure?: BalanceWarningPayload["autoTopUpFailure"]; dedupeKey?: string } = {},
): Prisma.NotificationUncheckedCreateInput | null {
  if (!settings.notifyOnWarning || settings.notifyEmails.length === 0) return null;
  const payload: BalanceWarningPayload = {
    accountId: event.accountId,
    userId: event.userId,
    available: event.available,
    threshold: event.threshold,
    at: event.at,
    ...(report.autoTopUpFailure ? { autoTopUpFailure: report.autoTopUpFailure } : {}),
  };
  return {
    mandateId: event.mandateId,
    kind: "BALANCE_WARNING",
    dedupeKey: report.dedupeKey ?? `${event.accountId}:${event.at}`,
    payload: { ...payload },
    // Due at once, on the ledger's clock.
    nextAttemptAt: new Date(event.at),
  };
}

/**
 * The same row as one raw SQL statement, for the ledger's raw SQL
 * transactions (db.ts): `t.defer(notificationInsertSql(row))` writes it with
 * the debit's COMMIT. ON CONFLICT DO NOTHING: the same crossing queued twice
 * is one row, and never fails the debit.
 */
export function notificationInsertSql(row: Prisma.NotificationUncheckedCreateInput): Sql {
  const at = (value: Date | string | undefined) => (value === undefined ? new Date() : new Date(value)).toISOString();
  return sql`INSERT INTO "Notification" ("id", "mandateId", "kind", "dedupeKey", "payload", "nextAttemptAt", "createdAt")
    VALUES (${row.id ?? randomUUID()}::text, ${row.mandateId}::text, ${row.kind}::"NotificationKind", ${row.dedupeKey}::text,
            ${JSON.stringify(row.payload ?? {})}::jsonb, ${at(row.nextAttemptAt)}::timestamp(3), ${at(row.createdAt ?? row.nextAttemptAt)}::timestamp(3))
    ON CONFLICT ("mandateId", "kind", "dedupeKey") DO NOTHING`;
}
