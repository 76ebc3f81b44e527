// The Notification table is the outbox: a row is an email owed. Its unique
// key (mandateId, kind, dedupeKey) makes each email exist once, whoever
// inserts it and however often: the ledger (a warning, in the debit's own
// transaction), the monthly scheduler on every instance, the report script.
import { randomUUID } from "node:crypto";
import { Prisma, type Settings } from "@prisma/client";
import type { BalanceWarningEvent } from "../billing/context.js";
import { sql, type Db, type Sql } from "../db.js";
import { monthRange } from "./time.js";

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

/**
 * Queues `month`'s report (YYYY-MM) for every mandate that has notifyEmails
 * and existed before the month ended. Rows that exist already are left
 * alone (ON CONFLICT DO NOTHING), so restarts, catch-ups and several
 * instances never queue a report twice. Returns how many rows were new.
 */
export async function queueMonthlyReports(
  db: Db,
  options: { month: string; timeZone: string; now: Date; mandateIds?: string[] },
): Promise<number> {
  const { end } = monthRange(options.month, options.timeZone);
  const mandates = await db.mandate.findMany({
    where: {
      ...(options.mandateIds ? { id: { in: options.mandateIds } } : { createdAt: { lt: end } }),
      settings: { notifyEmails: { isEmpty: false } },
    },
    select: { id: true },
    orderBy: { id: "asc" },
  });
  if (mandates.length === 0) return 0;
  const payload: MonthlyReportPayload = { month: options.month };
  const { count } = await db.notification.createMany({
    data: mandates.map((m) => ({
      mandateId: m.id,
      kind: "MONTHLY_REPORT" as const,
      dedupeKey: options.month,
      payload: { ...payload },
      nextAttemptAt: options.now,
    })),
    skipDuplicates: true,
  });
  return count;
}

/** A row claimed for one delivery attempt: its id and the attempt number. */
export interface Claim {
  id: string;
  attempts: number;
}

/**
 * Claims one due row atomically: PENDING and due, not locked by another
 * claimer (SKIP LOCKED), and leases it by moving nextAttemptAt to
 * `leaseUntil`, so no other worker takes it while this one sends. A worker
 * that dies mid-send leaves the row to be claimed again once the lease ends.
 * With `id`, claims only that row.
 */
export async function claimDue(db: Db, options: { now: Date; leaseUntil: Date; id?: string }): Promise<Claim | null> {
  const only = options.id ? Prisma.sql`AND "id" = ${options.id}` : Prisma.empty;
  const rows = await db.$queryRaw<{ id: string; attempts: number }[]>`
    UPDATE "Notification"
       SET "attempts" = "attempts" + 1, "nextAttemptAt" = ${options.leaseUntil.toISOString()}::timestamp(3)
     WHERE "id" = (
       SELECT "id" FROM "Notification"
        WHERE "status" = 'PENDING' AND "nextAttemptAt" <= ${options.now.toISOString()}::timestamp(3) ${only}
        ORDER BY "nextAttemptAt", "createdAt"
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING "id", "attempts"`;
  return rows[0] ? { id: rows[0].id, attempts: Number(rows[0].attempts) } : null;
}
