// The SQL of the money paths, run through the raw executor of src/db.ts.
// The rules (what may be spent, warnings, idempotency, the arithmetic) stay
// in the callers; this module only reads and writes. A money move is:
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
import {
  Prisma,
  type AuthorizationStatus,
  type BillingModel,
  type IdempotencyScope,
  type Price,
  type Settings,
  type Transaction,
  type UsageAuthorization,
} from "@prisma/client";
import { joinSql, rawSql, sql, type Sql, type SqlExecutor, type SqlRow, type SqlTransaction } from "../db.js";
import { accountIdFor, type LockedAccount } from "./accounts.js";
import { Decimal, formatMoney } from "./money.js";
import type { PeriodStarts } from "./periods.js";

/** Which account to lock. */
export type AccountRef =
  | { accountId: string }
  | { authorizationId: string }
  | { mandateId: string; accountKey: string }
  /** The account paying for a mandate: the one under the key its billing model uses. */
  | { mandateId: string; accountKeys: Partial<Record<BillingModel, string>> };

/** What an earlier request left under an idempotency key: enough to compare, and to fetch it. */
export interface Earlier {
  id: string;
  requestHash: string | null;
  /** The account it was booked on (after a billing-model switch, maybe not the one locked now). */
  accountId: string;
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
 * The account row a ref names, as a FROM ... WHERE clause over alias `a`
 * (joined to its settings when the billing model decides the account).
 */
function accountSource(ref: AccountRef): Sql {
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
function findStatement(ref: AccountRef, lock: boolean): Sql {
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
 * A row as one JSON object (NULL when the row is missing), so the driver
 * parses one field instead of dozens. Decimals travel as exact text (a JSON
 * number would become a float), enums as text. Built once per kind of row.
 */
function record(alias: string, columns: { plain: string[]; decimal?: string[]; enum?: string[] }): { open: Sql; close: Sql } {
  const pairs = [
    ...columns.plain.map((c) => `'${c}', ${alias}."${c}"`),
    ...(columns.decimal ?? []).map((c) => `'${c}', ${alias}."${c}"::text`),
    ...(columns.enum ?? []).map((c) => `'${c}', ${alias}."${c}"::text`),
  ].join(", ");
  return { open: rawSql(`CASE WHEN ${alias}."${columns.plain[0]}" IS NULL THEN NULL ELSE json_build_object(${pairs}`), close: rawSql(") END") };
}

const json = (r: { open: Sql; close: Sql }, extra: Sql = sql``) => sql`${r.open}${extra}${r.close}`;

const SETTINGS = record("s", {
  plain: ["mandateId", "blockOnZeroBalance", "billingAddress", "notifyEmails", "notifyOnWarning", "allowedProviders", "autoTopUpEnabled", "updatedAt"],
  decimal: ["defaultUserCredit", "warningThresholdPercent", "autoTopUpBelow", "autoTopUpAmount", "autoTopUpMonthlyCap"],
  enum: ["billingModel"],
});
const ACCOUNT = record("a", {
  plain: ["id", "mandateId", "userId", "accountKey", "sequence", "isWarning", "lastWarningAt", "enabled"],
  decimal: ["balance", "creditLimit", "warningThreshold", "lastTopUpBalance"],
  enum: ["accountType"],
});
const TRANSACTION = record("t", {
  plain: [
    "id", "accountId", "mandateId", "sequence", "description", "referenceId", "workflowId", "featureInstanceId",
    "featureCode", "aicoreProvider", "aicoreModel", "createdByUserId", "processingTime", "bytesSent", "bytesReceived",
    "errorCount", "idempotencyKey", "requestHash", "createdAt",
  ],
  decimal: ["amount", "delta", "balanceAfter"],
  enum: ["transactionType", "referenceType", "idempotencyScope"],
});
const AUTHORIZATION_COLUMNS = {
  plain: ["id", "accountId", "mandateId", "userId", "provider", "model", "idempotencyKey", "requestHash", "expiresAt", "transactionId", "createdAt", "closedAt"],
  decimal: ["amount"],
  enum: ["status"],
};
const AUTHORIZATION = record("z", AUTHORIZATION_COLUMNS);
// An earlier request under the key is rare (a retry): the read carries only
// what the comparison needs; the full row is fetched when it is a replay.
const EARLIER_ENTRY = record("t", { plain: ["id", "requestHash", "accountId"] });
const EARLIER_HOLD = record("h", { plain: ["id", "requestHash", "accountId"] });
const PRICE = record("p", {
  plain: ["provider", "model", "updatedAt"],
  decimal: ["inputPerMillionTokensUsd", "outputPerMillionTokensUsd", "perRequestUsd"],
});

/**
 * Everything a money move decides on, as one row, read after the lock: the
 * locked account (none when nothing was locked) with what its live holds
 * keep back (ACTIVE and not expired at `now`), the mandate's settings, and
 * what is recorded under the request's keys.
 */
function readStatement(ref: AccountRef, now: Date, options: ReadOptions, source: "locked" | "unlocked" = "locked"): Sql {
  const held = sql`, 'held', (SELECT coalesce(sum(x."amount"), 0) FROM "UsageAuthorization" x
      WHERE x."accountId" = a."id" AND x."status" = 'ACTIVE' AND x."expiresAt" > ${iso(now)}::timestamp(3))::text`;
  // The mandate is known from the ref, or else from the account: keys and
  // settings are read per mandate, so they are found even when no account
  // of the current billing model exists yet.
  const mandate = "mandateId" in ref ? sql`${ref.mandateId}::text` : sql`a."mandateId"`;
  const select = [sql`${json(ACCOUNT, held)} AS "account"`];
  const joins: Sql[] = [];
  if (options.settings !== false) {
    select.push(sql`${json(SETTINGS)} AS "settings"`);
    joins.push(sql`LEFT JOIN "Settings" s ON s."mandateId" = ${mandate}`);
  }
  if ("authorizationId" in ref) {
    select.push(sql`${json(AUTHORIZATION)} AS "authorization"`);
    joins.push(sql`LEFT JOIN "UsageAuthorization" z ON z."id" = ${ref.authorizationId}::text`);
  }
  if (options.entryKey !== undefined) {
    select.push(sql`${json(EARLIER_ENTRY)} AS "entry"`);
    joins.push(sql`LEFT JOIN "Transaction" t ON t."mandateId" = ${mandate}
      AND t."idempotencyScope" = ${options.entryKey.scope}::"IdempotencyScope" AND t."idempotencyKey" = ${options.entryKey.key}::text`);
  }
  if (options.holdKey !== undefined) {
    select.push(sql`${json(EARLIER_HOLD)} AS "hold"`);
    joins.push(sql`LEFT JOIN "UsageAuthorization" h ON h."mandateId" = ${mandate} AND h."idempotencyKey" = ${options.holdKey}::text`);
  }
  if (options.price !== undefined) {
    select.push(sql`${json(PRICE)} AS "price"`);
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

/** The ledger entry an earlier request booked (read in the transaction that holds the account lock). */
export async function earlierEntry(t: SqlTransaction, earlier: Earlier): Promise<Transaction> {
  const [rows] = await t.query(sql`SELECT ${json(TRANSACTION)} AS "entry" FROM "Transaction" t WHERE t."id" = ${earlier.id}::text`);
  return toTransaction(rows[0].entry as SqlRow);
}

/** The hold an earlier request created. */
export async function earlierHold(t: SqlTransaction, earlier: Earlier): Promise<UsageAuthorization> {
  const [rows] = await t.query(sql`SELECT ${json(AUTHORIZATION)} AS "hold" FROM "UsageAuthorization" z WHERE z."id" = ${earlier.id}::text`);
  return toAuthorization(rows[0].hold as SqlRow);
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
export async function peek(executor: SqlExecutor, ref: AccountRef, now: Date, options: Omit<ReadOptions, "lock"> = {}): Promise<LockedRead> {
  const [row] = await executor.read(readStatement(ref, now, options, "unlocked"));
  return toRead(row);
}

function toRead(row: SqlRow): LockedRead {
  const read = row as Record<string, SqlRow | null | undefined>;
  const earlier = (r: SqlRow | null | undefined): Earlier | null =>
    r ? { id: r.id as string, requestHash: r.requestHash as string | null, accountId: r.accountId as string } : null;
  return {
    account: read.account ? toAccount(read.account) : null,
    settings: read.settings ? toSettings(read.settings) : null,
    entry: earlier(read.entry),
    hold: earlier(read.hold),
    authorization: read.authorization ? toAuthorization(read.authorization) : null,
    price: read.price ? toPrice(read.price) : null,
  };
}

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
  const read = await lockAndRead(t, { mandateId: owner.mandateId, accountKey: owner.accountKey }, now, { ...options, settings: false }, [insert]);
  return { ...read, opened: read.before[0].length > 0 };
}

// --------------------------------------------------------------- writes
// All deferred: they travel with COMMIT, as one statement (see db.ts), so
// each writes rows no other one writes. Values computed in TypeScript
// (balances, sequence numbers) are final because the row lock is held.

/** Appends a ledger row; the append-only trigger guards it from then on. */
export function insertEntry(t: SqlTransaction, e: Transaction): void {
  t.defer(sql`INSERT INTO "Transaction" ("id", "accountId", "mandateId", "sequence", "transactionType", "amount", "delta",
      "balanceAfter", "description", "referenceType", "referenceId", "workflowId", "featureInstanceId", "featureCode",
      "aicoreProvider", "aicoreModel", "createdByUserId", "processingTime", "bytesSent", "bytesReceived", "errorCount",
      "idempotencyKey", "idempotencyScope", "requestHash", "createdAt")
    VALUES (${e.id}::text, ${e.accountId}::text, ${e.mandateId}::text, ${text(e.sequence)}::int,
      ${e.transactionType}::"TransactionType", ${formatMoney(e.amount)}::numeric, ${formatMoney(e.delta)}::numeric,
      ${formatMoney(e.balanceAfter)}::numeric, ${e.description}::text, ${e.referenceType}::"ReferenceType",
      ${e.referenceId}::text, ${e.workflowId}::text, ${e.featureInstanceId}::text, ${e.featureCode}::text,
      ${e.aicoreProvider}::text, ${e.aicoreModel}::text, ${e.createdByUserId}::text, ${text(e.processingTime)}::float8,
      ${text(e.bytesSent)}::int, ${text(e.bytesReceived)}::int, ${text(e.errorCount)}::int, ${e.idempotencyKey}::text,
      ${e.idempotencyScope}::"IdempotencyScope", ${e.requestHash}::text, ${iso(e.createdAt)}::timestamp(3))`);
}

const changedAccounts = new WeakMap<SqlTransaction, Set<LockedAccount>>();

/**
 * Marks the locked account as changed in this transaction. Its final state
 * (everything the rules may change: balance, sequence, top-up base, warning,
 * limits) is written once, with COMMIT, from the values computed under the
 * lock: one UPDATE however many changes the operation made. Columns other
 * than balance and sequence are written only when they differ from what was
 * read (a debit leaves them alone): each value costs the server a parameter
 * to parse and convert on every EXECUTE.
 */
export function accountChanged(t: SqlTransaction, account: LockedAccount, now: Date): void {
  const changed = changedAccounts.get(t) ?? new Set<LockedAccount>();
  changedAccounts.set(t, changed);
  if (changed.has(account)) return;
  changed.add(account);
  t.defer(() => {
    const read = columnsAsRead.get(account);
    const current = accountColumns(account);
    const sets = (Object.keys(current) as (keyof AccountColumns)[])
      .filter((column) => !read || read[column] !== current[column])
      .map((column) => sql`, ${rawSql(`"${column}"`)} = ${current[column]}::${rawSql(ACCOUNT_COLUMN_TYPES[column])}`);
    return sql`UPDATE "BillingAccount" SET "balance" = ${formatMoney(account.balance)}::numeric,
        "sequence" = ${text(account.sequence)}::int${joinSql(sets, "")}, "updatedAt" = ${iso(now)}::timestamp(3)
      WHERE "id" = ${account.id}::text`;
  });
}

/** The columns of an account the rules change rarely, as the text written for them. */
type AccountColumns = ReturnType<typeof accountColumns>;

const accountColumns = (account: LockedAccount) => ({
  lastTopUpBalance: optionalMoney(account.lastTopUpBalance),
  isWarning: text(account.isWarning),
  lastWarningAt: optionalIso(account.lastWarningAt),
  creditLimit: optionalMoney(account.creditLimit),
  warningThreshold: optionalMoney(account.warningThreshold),
  enabled: text(account.enabled),
});

const ACCOUNT_COLUMN_TYPES: Record<keyof AccountColumns, string> = {
  lastTopUpBalance: "numeric",
  isWarning: "boolean",
  lastWarningAt: "timestamp(3)",
  creditLimit: "numeric",
  warningThreshold: "numeric",
  enabled: "boolean",
};

/** What each locked account's rarely changed columns held when read (see accountChanged). */
const columnsAsRead = new WeakMap<LockedAccount, AccountColumns>();

export interface RollupDebit {
  accountId: string;
  mandateId: string;
  /** Exact cost as a decimal string. */
  cost: string;
  provider: string;
  feature: string;
  starts: PeriodStarts;
}

/**
 * Adds a debit to its account's DAY, MONTH and YEAR rows (created on first
 * use). Totals and the shares per provider and feature are summed as numeric
 * in SQL and kept as decimal strings inside JSON: exact, never floats.
 */
export function addToRollups(t: SqlTransaction, d: RollupDebit): void {
  // Each value is sent once (the server parses and converts every parameter
  // of every EXECUTE: ~1 µs each), the three periods join them as rows.
  t.defer(sql`INSERT INTO "UsageStatistics" AS s ("id", "accountId", "mandateId", "periodType", "periodStart",
      "totalCost", "transactionCount", "costByProvider", "costByFeature", "updatedAt")
    SELECT gen_random_uuid()::text, d."accountId", d."mandateId", p."periodType", p."periodStart", d."cost", 1,
      jsonb_build_object(d."provider", d."cost"::text), jsonb_build_object(d."feature", d."cost"::text), now()
    FROM (SELECT ${d.accountId}::text AS "accountId", ${d.mandateId}::text AS "mandateId", ${d.cost}::numeric AS "cost",
            ${d.provider}::text AS "provider", ${d.feature}::text AS "feature") d
    CROSS JOIN (VALUES ('DAY'::"PeriodType", ${d.starts.DAY}::date), ('MONTH', ${d.starts.MONTH}::date),
      ('YEAR', ${d.starts.YEAR}::date)) p("periodType", "periodStart")
    ON CONFLICT ("accountId", "periodType", "periodStart") DO UPDATE SET
      "totalCost" = s."totalCost" + EXCLUDED."totalCost",
      "transactionCount" = s."transactionCount" + 1,
      "costByProvider" = s."costByProvider" || jsonb_build_object(${d.provider}::text,
        ((coalesce((s."costByProvider" ->> ${d.provider}::text)::numeric, 0) + EXCLUDED."totalCost")::numeric(38, 6))::text),
      "costByFeature" = s."costByFeature" || jsonb_build_object(${d.feature}::text,
        ((coalesce((s."costByFeature" ->> ${d.feature}::text)::numeric, 0) + EXCLUDED."totalCost")::numeric(38, 6))::text),
      "updatedAt" = now()`);
}

export function insertHold(t: SqlTransaction, h: UsageAuthorization): void {
  t.defer(sql`INSERT INTO "UsageAuthorization" ("id", "accountId", "mandateId", "userId", "amount", "status", "provider",
      "model", "idempotencyKey", "requestHash", "expiresAt", "createdAt")
    VALUES (${h.id}::text, ${h.accountId}::text, ${h.mandateId}::text, ${h.userId}::text, ${formatMoney(h.amount)}::numeric,
      ${h.status}::"AuthorizationStatus", ${h.provider}::text, ${h.model}::text, ${h.idempotencyKey}::text,
      ${h.requestHash}::text, ${iso(h.expiresAt)}::timestamp(3), ${iso(h.createdAt)}::timestamp(3))`);
}

/** Settles, releases or expires a hold. */
export function closeHold(t: SqlTransaction, id: string, status: AuthorizationStatus, transactionId: string | null, now: Date): void {
  t.defer(sql`UPDATE "UsageAuthorization" SET "status" = ${status}::"AuthorizationStatus", "transactionId" = ${transactionId}::text,
      "closedAt" = ${iso(now)}::timestamp(3)
    WHERE "id" = ${id}::text`);
}

// ------------------------------------------------------- rows to objects
// The same shapes Prisma returns (Prisma.Decimal, Date), so callers and the
// GraphQL layer cannot tell the difference. Numeric columns arrive as exact
// text (pg, PGlite) or as Prisma.Decimal (through Prisma), never as numbers.

function decimalText(value: unknown, column: string): string {
  if (typeof value === "string" || (typeof value === "object" && value !== null && "toFixed" in value)) return String(value);
  throw new Error(`Column ${column} is not an exact decimal (got ${typeof value}): refusing to touch money`);
}

const prismaDecimal = (row: SqlRow, column: string) => new Prisma.Decimal(decimalText(row[column], column));
const money = (row: SqlRow, column: string) => new Decimal(decimalText(row[column], column));
const optionalMoneyOf = (row: SqlRow, column: string) => (row[column] === null ? null : money(row, column));
const optionalPrismaDecimal = (row: SqlRow, column: string) => (row[column] === null || row[column] === undefined ? null : prismaDecimal(row, column));
/** A timestamp: a Date from the driver, or JSON text of a timestamp(3) column (UTC wall time, no zone). */
const date = (value: unknown) => (value instanceof Date ? value : new Date(/[zZ]|[+-]\d\d(:?\d\d)?$/.test(String(value)) ? String(value) : `${value}Z`));
const optionalDate = (value: unknown) => (value === null ? null : date(value));
const optionalNumber = (value: unknown) => (value === null ? null : Number(value));

function toAccount(row: SqlRow): LockedAccount {
  const account: LockedAccount = {
    id: row.id as string,
    mandateId: row.mandateId as string,
    userId: row.userId as string | null,
    accountKey: row.accountKey as string,
    accountType: row.accountType as LockedAccount["accountType"],
    balance: money(row, "balance"),
    sequence: Number(row.sequence),
    creditLimit: optionalMoneyOf(row, "creditLimit"),
    warningThreshold: optionalMoneyOf(row, "warningThreshold"),
    lastTopUpBalance: optionalMoneyOf(row, "lastTopUpBalance"),
    isWarning: row.isWarning as boolean,
    lastWarningAt: optionalDate(row.lastWarningAt),
    enabled: row.enabled as boolean,
    held: money(row, "held"),
  };
  columnsAsRead.set(account, accountColumns(account));
  return account;
}

function toSettings(row: SqlRow): Settings {
  return {
    mandateId: row.mandateId as string,
    billingModel: row.billingModel as BillingModel,
    defaultUserCredit: prismaDecimal(row, "defaultUserCredit"),
    warningThresholdPercent: prismaDecimal(row, "warningThresholdPercent"),
    blockOnZeroBalance: row.blockOnZeroBalance as boolean,
    billingAddress: (row.billingAddress ?? null) as Prisma.JsonValue,
    notifyEmails: (row.notifyEmails ?? []) as string[],
    notifyOnWarning: row.notifyOnWarning as boolean,
    allowedProviders: (row.allowedProviders ?? null) as Prisma.JsonValue,
    autoTopUpEnabled: row.autoTopUpEnabled as boolean,
    autoTopUpBelow: optionalPrismaDecimal(row, "autoTopUpBelow"),
    autoTopUpAmount: optionalPrismaDecimal(row, "autoTopUpAmount"),
    autoTopUpMonthlyCap: optionalPrismaDecimal(row, "autoTopUpMonthlyCap"),
    updatedAt: date(row.updatedAt),
  };
}

function toTransaction(row: SqlRow): Transaction {
  return {
    id: row.id as string,
    accountId: row.accountId as string,
    mandateId: row.mandateId as string,
    sequence: Number(row.sequence),
    transactionType: row.transactionType as Transaction["transactionType"],
    amount: prismaDecimal(row, "amount"),
    delta: prismaDecimal(row, "delta"),
    balanceAfter: prismaDecimal(row, "balanceAfter"),
    description: row.description as string,
    referenceType: row.referenceType as Transaction["referenceType"],
    referenceId: row.referenceId as string | null,
    workflowId: row.workflowId as string | null,
    featureInstanceId: row.featureInstanceId as string | null,
    featureCode: row.featureCode as string | null,
    aicoreProvider: row.aicoreProvider as string | null,
    aicoreModel: row.aicoreModel as string | null,
    createdByUserId: row.createdByUserId as string | null,
    processingTime: optionalNumber(row.processingTime),
    bytesSent: optionalNumber(row.bytesSent),
    bytesReceived: optionalNumber(row.bytesReceived),
    errorCount: optionalNumber(row.errorCount),
    idempotencyKey: row.idempotencyKey as string | null,
    idempotencyScope: (row.idempotencyScope ?? null) as IdempotencyScope | null,
    requestHash: row.requestHash as string | null,
    createdAt: date(row.createdAt),
  };
}

function toPrice(row: SqlRow): Price {
  return {
    provider: row.provider as string,
    model: row.model as string,
    inputPerMillionTokensUsd: prismaDecimal(row, "inputPerMillionTokensUsd"),
    outputPerMillionTokensUsd: prismaDecimal(row, "outputPerMillionTokensUsd"),
    perRequestUsd: prismaDecimal(row, "perRequestUsd"),
    updatedAt: date(row.updatedAt),
  };
}

function toAuthorization(row: SqlRow): UsageAuthorization {
  return {
    id: row.id as string,
    accountId: row.accountId as string,
    mandateId: row.mandateId as string,
    userId: row.userId as string | null,
    amount: prismaDecimal(row, "amount"),
    status: row.status as AuthorizationStatus,
    provider: row.provider as string,
    model: row.model as string | null,
    idempotencyKey: row.idempotencyKey as string,
    requestHash: row.requestHash as string,
    expiresAt: date(row.expiresAt),
    transactionId: row.transactionId as string | null,
    createdAt: date(row.createdAt),
    closedAt: optionalDate(row.closedAt),
  };
}

// ------------------------------------------------------------- values

/** A timestamp as Prisma stores it: the UTC wall time, in a timestamp(3) column. */
function iso(at: Date): string {
  return at.toISOString();
}

function text(value: number | boolean | null | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function optionalIso(at: Date | null | undefined): string | null {
  return at ? iso(at) : null;
}

function optionalMoney(value: Decimal | null): string | null {
  return value === null ? null : formatMoney(value);
}
