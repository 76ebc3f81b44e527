// The locks of the money paths. A money move is (reads.ts, writes.ts):
//
//   round trip 1: BEGIN; lock the account row; one statement reading the
//                 settings, the account with its live holds, and whatever is
//                 already recorded under the request's idempotency key
//   (TypeScript decides)
//   round trip 2: one statement with every write it decided on; COMMIT
//
// The account row lock is the serialization point: every write that moves
// money or changes holds on an account takes it first, and takes no other
// account's lock, so the writers of one account queue up behind each other
// (what may be spent is read and changed as one step) while different
// accounts never wait for each other and no deadlock can form.
//
// The lock is a statement of its own, before the reads: in READ COMMITTED a
// statement reads the snapshot taken when it started, so a statement that
// waited for the lock would still read the holds and idempotency keys as they
// were before the previous holder committed. The reads after it, sent in the
// same round trip, start once the lock is granted and see everything.
//
// Writers of one account first queue on a transaction-level advisory lock
// keyed by the account id, then take the row lock (FOR NO KEY UPDATE: the
// account's key never changes, so foreign-key checks of rows that reference
// it are not blocked). The queue is only about waiting well: PostgreSQL hands
// an advisory lock to the next waiter alone, while waiters on a row lock that
// keeps being updated all wake up on every COMMIT (each follows the row to
// its new version and queues again): with 31 waiters that herd cost more
// server CPU per debit than the debit itself. The row lock stays the
// serialization point; writers that take only the row lock (a rollup
// rebuild) still queue behind it, and as a transaction takes one account's
// locks only, no deadlock can form.
import type { BillingModel } from "@prisma/client";
import { sql, type Sql } from "../../../db/sql.js";

/** Which account to lock. */
export type AccountRef =
  | { accountId: string }
  | { authorizationId: string }
  | { mandateId: string; accountKey: string }
  /** The account paying for a mandate: the one under the key its billing model uses. */
  | { mandateId: string; accountKeys: Partial<Record<BillingModel, string>> };

/**
 * The account row a ref names, as a FROM ... WHERE clause over alias `a`
 * (joined to its settings when the billing model decides the account).
 */
export function accountSource(ref: AccountRef): Sql {
  if ("authorizationId" in ref) {
    return sql`"BillingAccount" a WHERE a."id" = (SELECT "accountId" FROM "UsageAuthorization" WHERE "id" = ${ref.authorizationId}::text)`;
  }
  if ("accountId" in ref) return sql`"BillingAccount" a WHERE a."id" = ${ref.accountId}::text`;
  if ("accountKey" in ref) {
    return sql`"BillingAccount" a WHERE a."mandateId" = ${ref.mandateId}::text AND a."accountKey" = ${ref.accountKey}::text`;
  }
  return sql`"BillingAccount" a JOIN "Settings" s ON s."mandateId" = a."mandateId"
    WHERE a."mandateId" = ${ref.mandateId}::text AND a."accountKey" = (${JSON.stringify(ref.accountKeys)}::jsonb ->> s."billingModel"::text)`;
}

/**
 * Locks the account (or only finds it) and leaves its id in a
 * transaction-local setting, '' when there is none, for the read after it:
 * so the read sees exactly the account that was locked, without finding it
 * again, and nothing when nothing was locked (an account committed between
 * the two statements is not mistaken for a locked one).
 *
 * Locking is two steps in one statement: first the account's queue, the
 * advisory lock (see the top of this file; the sub-select runs before the
 * row is fetched), then the row lock. When the statement had to queue, the
 * row it fetches is the version its snapshot saw, already replaced by the
 * writer before: READ COMMITTED then locks the newest version (and the read
 * after it, a statement of its own, sees everything that writer committed).
 * A hash collision only makes two accounts share a queue.
 */
export function findStatement(ref: AccountRef, lock: boolean): Sql {
  if (!lock) {
    return sql`WITH found AS (SELECT a."id" FROM ${accountSource(ref)})
    SELECT set_config('saldo.account_id', coalesce((SELECT "id" FROM found), ''), true) AS "id"`;
  }
  return sql`WITH queued AS MATERIALIZED (
      SELECT a."id", pg_advisory_xact_lock(hashtextextended(a."id", ${ACCOUNT_QUEUE_SEED}::int8)) FROM ${accountSource(ref)}),
    found AS (SELECT a."id" FROM "BillingAccount" a WHERE a."id" = (SELECT "id" FROM queued) FOR NO KEY UPDATE OF a)
    SELECT set_config('saldo.account_id', coalesce((SELECT "id" FROM found), ''), true) AS "id"`;
}

/** Seed of the advisory lock keys of accounts (any constant). */
const ACCOUNT_QUEUE_SEED = "495874271343";

/**
 * Money moves that pick their account by the mandate's billing model take
 * the mandate's lock shared, first; a billing-model switch takes it
 * exclusively (lockMandateExclusively). So no move can book on an account
 * the model stopped using, and no hold appears while a switch checks that
 * there is none. Advisory locks with two keys live in a key space of their
 * own, apart from the accounts' queue (one 64-bit key).
 */
export function lockMandateShared(mandateId: string): Sql {
  return sql`SELECT 1 AS "locked" FROM (SELECT pg_advisory_xact_lock_shared(${MANDATE_LOCK_CLASS}::int4, hashtext(${mandateId}::text))) l`;
}

export function lockMandateExclusively(mandateId: string): Sql {
  return sql`SELECT 1 AS "locked" FROM (SELECT pg_advisory_xact_lock(${MANDATE_LOCK_CLASS}::int4, hashtext(${mandateId}::text))) l`;
}

/** First key of the mandates' advisory locks (any constant). */
const MANDATE_LOCK_CLASS = "7411";
