// The reads of the money paths: everything a move decides on, in one
// statement after the lock (locks.ts), and the same without a lock for checks
// and balances. Rows come back as one JSON object each (tables.ts), so the
// driver parses one field instead of dozens; decimals travel as exact text.
import type { IdempotencyScope, Price, Settings, Transaction, UsageAuthorization } from "@prisma/client";
import type { SqlExecutor, SqlTransaction } from "../../../db/executor.js";
import { joinSql, plannedEachTime, rawSql, sql, type Sql, type SqlRow } from "../../../db/sql.js";
import { accountIdFor, type LockedAccount } from "../accounts.js";
import { accountSource, findStatement, type AccountRef } from "./locks.js";
import { AccountTable, AuthorizationTable, PriceTable, SettingsTable, TransactionTable } from "./tables.js";

export type { AccountRef } from "./locks.js";

/** What an earlier request left under an idempotency key: enough to compare, and to fetch it. */
export interface Earlier {
  id: string;
  requestHash: string | null;
  /** The account it was booked on (after a billing-model switch, maybe not the one locked now). */
  accountId: string;
  /** The row itself, when it was written earlier in the same transaction (nothing to fetch). */
  row?: Transaction | UsageAuthorization;
}

/** An idempotency key of a ledger entry: unique per mandate and kind of write. */
export interface EntryKey {
  scope: IdempotencyScope;
  key: string;
}

export interface LockedRead {
  settings: Settings | null;
  account: LockedAccount | null;
  /** The ledger entry booked earlier under `entryKey` (fetch it with earlierEntry). */
  entry: Earlier | null;
  /** The hold created earlier under `holdKey` (fetch it with earlierHold). */
  hold: Earlier | null;
  /** For an { authorizationId } ref: that authorization, as committed when the lock was granted. */
  authorization: UsageAuthorization | null;
  /** The catalog price asked for (`price`), null when there is none. */
  price: Price | null;
}

export interface ReadOptions {
  /** Take the row lock (default); false reads without it (checks). */
  lock?: boolean;
  /** Read the mandate's settings (default true). */
  settings?: boolean;
  /** What is booked under this key in the account's mandate. */
  entryKey?: EntryKey;
  /** The hold created under this key in the account's mandate. */
  holdKey?: string;
  /** The catalog price of a provider's model, or of the authorization's call. */
  price?: { provider: string; model: string | null } | "ofAuthorization";
}

/**
 * Everything a money move decides on, as one row, read after the lock: the
 * locked account (none when nothing was locked) with what its live holds
 * keep back (ACTIVE and not expired at `now`), the mandate's settings, and
 * what is recorded under the request's keys.
 */
export function readStatement(ref: AccountRef, now: Date, options: ReadOptions, source: "locked" | "unlocked" = "locked"): Sql {
  const held = sql`, 'held', (SELECT coalesce(sum(x."amount"), 0) FROM "UsageAuthorization" x
      WHERE x."accountId" = a."id" AND x."status" = 'ACTIVE' AND x."expiresAt" > ${iso(now)}::timestamp(3))::text`;
  // The mandate is known from the ref, or else from the account: keys and
  // settings are read per mandate, so they are found even when no account
  // of the current billing model exists yet.
  const mandate = "mandateId" in ref ? sql`${ref.mandateId}::text` : sql`a."mandateId"`;
  const select = [sql`${AccountTable.json("a", held)} AS "account"`];
  const joins: Sql[] = [];
  if (options.settings !== false) {
    select.push(sql`${SettingsTable.json("s")} AS "settings"`);
    joins.push(sql`LEFT JOIN "Settings" s ON s."mandateId" = ${mandate}`);
  }
  if ("authorizationId" in ref) {
    select.push(sql`${AuthorizationTable.json("z")} AS "authorization"`);
    joins.push(sql`LEFT JOIN "UsageAuthorization" z ON z."id" = ${ref.authorizationId}::text`);
  }
  if (options.entryKey !== undefined) {
    select.push(sql`${EARLIER.json("t")} AS "entry"`);
    // Planned at every run, like earlierEntriesStatement (see there).
    joins.push(
      plannedEachTime(sql`LEFT JOIN "Transaction" t ON t."mandateId" = ${mandate}
      AND t."idempotencyScope" = ${options.entryKey.scope}::"IdempotencyScope" AND t."idempotencyKey" = ${options.entryKey.key}::text`),
    );
  }
  if (options.holdKey !== undefined) {
    select.push(sql`${EARLIER.json("h")} AS "hold"`);
    joins.push(sql`LEFT JOIN "UsageAuthorization" h ON h."mandateId" = ${mandate} AND h."idempotencyKey" = ${options.holdKey}::text`);
  }
  if (options.price !== undefined) {
    select.push(sql`${PriceTable.json("p")} AS "price"`);
    joins.push(
      options.price === "ofAuthorization"
        ? sql`LEFT JOIN "Price" p ON p."provider" = z."provider" AND p."model" = z."model"`
        : sql`LEFT JOIN "Price" p ON p."provider" = ${options.price.provider}::text AND p."model" = ${options.price.model}::text`,
    );
  }
  const found =
    source === "locked"
      ? sql`(SELECT current_setting('saldo.account_id') AS "id") found`
      : sql`(SELECT (SELECT a."id" FROM ${accountSource(ref)}) AS "id") found`;
  return sql`SELECT ${joinSql(select, ", ")}
    FROM ${found}
    LEFT JOIN "BillingAccount" a ON a."id" = found."id"
    ${joinSql(joins, "\n    ")}`;
}

// An earlier request under a key is rare (a retry): the read carries only
// what the comparison needs; the full row is fetched when it is a replay.
const EARLIER = {
  json: (alias: string) =>
    rawSql(
      `CASE WHEN ${alias}."id" IS NULL THEN NULL ELSE json_build_object('id', ${alias}."id", 'requestHash', ${alias}."requestHash", 'accountId', ${alias}."accountId") END`,
    ),
};

/** The ledger entry an earlier request booked (read in the transaction that holds the account lock). */
export async function earlierEntry(t: SqlTransaction, earlier: Pick<Earlier, "id" | "row">): Promise<Transaction> {
  if (earlier.row) return earlier.row as Transaction;
  const [rows] = await t.query(
    sql`SELECT ${TransactionTable.json("t")} AS "entry" FROM "Transaction" t WHERE t."id" = ${earlier.id}::text`,
  );
  return TransactionTable.parse(rows[0].entry as SqlRow);
}

/** The hold an earlier request created. */
export async function earlierHold(t: SqlTransaction, earlier: Pick<Earlier, "id" | "row">): Promise<UsageAuthorization> {
  if (earlier.row) return earlier.row as UsageAuthorization;
  const [rows] = await t.query(
    sql`SELECT ${AuthorizationTable.json("z")} AS "hold" FROM "UsageAuthorization" z WHERE z."id" = ${earlier.id}::text`,
  );
  return AuthorizationTable.parse(rows[0].hold as SqlRow);
}

/**
 * One round trip: `before` (if any), the row lock, then the read.
 * Returns what was read, and the rows of the `before` statements.
 */
export async function lockAndRead(
  t: SqlTransaction,
  ref: AccountRef,
  now: Date,
  options: ReadOptions = {},
  before: Sql[] = [],
): Promise<LockedRead & { before: SqlRow[][] }> {
  const rows = await t.query(...before, findStatement(ref, options.lock !== false), readStatement(ref, now, options));
  return { before: rows.slice(0, before.length), ...toRead(rows[before.length + 1][0]) };
}

/**
 * The same read without a lock or a transaction: one statement, for checks
 * and balances (what they show may be out of date the moment it is read,
 * like any read).
 */
export async function peek(
  executor: SqlExecutor,
  ref: AccountRef,
  now: Date,
  options: Omit<ReadOptions, "lock"> = {},
): Promise<LockedRead> {
  const [row] = await executor.read(readStatement(ref, now, options, "unlocked"));
  return toRead(row);
}

export function toRead(row: SqlRow): LockedRead {
  const read = row as Record<string, SqlRow | null | undefined>;
  const earlier = (r: SqlRow | null | undefined): Earlier | null =>
    r ? { id: r.id as string, requestHash: r.requestHash as string | null, accountId: r.accountId as string } : null;
  return {
    account: read.account
      ? { ...AccountTable.parse(read.account), held: AccountTable.columns.balance.parse(read.account.held, "held") }
      : null,
    settings: read.settings ? SettingsTable.parse(read.settings) : null,
    entry: earlier(read.entry),
    hold: earlier(read.hold),
    authorization: read.authorization ? AuthorizationTable.parse(read.authorization) : null,
    price: read.price ? PriceTable.parse(read.price) : null,
  };
}

/** How many holds of the mandate still count (ACTIVE, not expired at `now`). */
export function activeHoldsOfMandate(mandateId: string, now: Date): Sql {
  return sql`SELECT count(*)::int AS "holds" FROM "UsageAuthorization"
    WHERE "mandateId" = ${mandateId}::text AND "status" = 'ACTIVE' AND "expiresAt" > ${iso(now)}::timestamp(3)`;
}

/**
 * Opens the account if it does not exist yet, then locks and reads it, in one
 * round trip. When another transaction is opening the same account, the
 * INSERT waits for it to commit and then does nothing; the lock that follows
 * sees the committed row. `opened` says whether this transaction created it.
 */
export async function openAndLock(
  t: SqlTransaction,
  owner: { mandateId: string; userId: string | null; accountKey: string; accountType: "MANDATE" | "USER" },
  now: Date,
  options: ReadOptions = {},
): Promise<LockedRead & { opened: boolean }> {
  const insert = sql`INSERT INTO "BillingAccount" ("id", "mandateId", "userId", "accountKey", "accountType", "updatedAt")
    VALUES (${accountIdFor(owner.mandateId, owner.accountKey)}::text, ${owner.mandateId}::text, ${owner.userId}::text, ${owner.accountKey}::text,
            ${owner.accountType}::"AccountType", ${iso(now)}::timestamp(3))
    ON CONFLICT ("mandateId", "accountKey") DO NOTHING RETURNING "id"`;
  const read = await lockAndRead(t, { mandateId: owner.mandateId, accountKey: owner.accountKey }, now, { ...options, settings: false }, [
    insert,
  ]);
  return { ...read, opened: read.before[0].length > 0 };
}

/** A timestamp as Prisma stores it: the UTC wall time, in a timestamp(3) column. */
function iso(at: Date): string {
  return at.toISOString();
}

// ------------------------------------------------- the reads of a batch
// A batch of moves (ledger/batch.ts) reads, after its locks, what is
// recorded under every key of every move, and every price they need, in
// one statement each.

/** Entries booked earlier under any of these keys. */
export function earlierEntriesStatement(keys: { mandateId: string; scope: IdempotencyScope; key: string }[]): Sql {
  // Planned at every run: "Transaction" has (mandateId, ...) history indexes
  // besides the key's, and a plan made while the ledger was young picks one
  // of those and filters every entry of the mandate, ever more of them
  // (migration 20261130100000_mandate_rows_statistics says more).
  return plannedEachTime(sql`SELECT t.* FROM json_to_recordset(${JSON.stringify(keys)}::json) AS k("mandateId" text, "scope" text, "key" text)
    CROSS JOIN LATERAL (${byKeys(sql`SELECT t."mandateId", t."idempotencyScope"::text AS "scope", t."idempotencyKey" AS "key", t."id", t."requestHash", t."accountId"
      FROM "Transaction" t WHERE t."mandateId" = k."mandateId" AND t."idempotencyScope" = k."scope"::"IdempotencyScope" AND t."idempotencyKey" = k."key"`)}) t`);
}

/** Holds created earlier under any of these keys. */
export function earlierHoldsStatement(keys: { mandateId: string; key: string }[]): Sql {
  return sql`SELECT h.* FROM json_to_recordset(${JSON.stringify(keys)}::json) AS k("mandateId" text, "key" text)
    CROSS JOIN LATERAL (${byKeys(sql`SELECT h."mandateId", h."idempotencyKey" AS "key", h."id", h."requestHash", h."accountId"
      FROM "UsageAuthorization" h WHERE h."mandateId" = k."mandateId" AND h."idempotencyKey" = k."key"`)}) h`;
}

/** The catalog prices of these calls. */
export function pricesStatement(calls: { provider: string; model: string | null }[]): Sql {
  return sql`SELECT p.* FROM json_to_recordset(${JSON.stringify(calls)}::json) AS k("provider" text, "model" text)
    CROSS JOIN LATERAL (${byKeys(sql`SELECT ${PriceTable.json("p")} AS "price" FROM "Price" p WHERE p."provider" = k."provider" AND p."model" = k."model"`)}) p`;
}

/**
 * A lookup per key, by its unique index. LATERAL ... LIMIT 1: joined plainly,
 * the planner guesses 100 keys from the JSON and may hash-join a scan of the
 * whole table instead (10 ms on a ledger of 30,000 entries, for one key).
 */
function byKeys(lookup: Sql): Sql {
  return sql`${lookup} LIMIT 1`;
}

export function toEarlier(row: SqlRow): Earlier {
  return { id: row.id as string, requestHash: row.requestHash as string | null, accountId: row.accountId as string };
}

export function toPrice(row: SqlRow): Price {
  return PriceTable.parse(row.price as SqlRow);
}
