// The Notification table is the outbox: a row is an email owed. Its unique
// key (mandateId, kind, dedupeKey) makes each email exist once, whoever
// inserts it and however often: the ledger (a warning, in the debit's own
// transaction: billing/shared/outbox.ts), the monthly scheduler on every
// instance, the report script.
import { Prisma } from "@prisma/client";
import type { MonthlyReportPayload } from "../billing/shared/outbox.js";
import type { Db } from "../db/open.js";
import { monthRange } from "./time.js";

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
