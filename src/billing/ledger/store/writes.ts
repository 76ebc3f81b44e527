// The writes of one database transaction, collected while the rules decide
// and sent with its COMMIT (db/executor.ts: deferred writes) as one statement
// per table: the entries in one INSERT, every changed account once with its
// final state, one rollup row per account and period however many debits it
// got. Each table is written by one statement, so no two of them change the
// same row (they all see the database as it was before any of them ran).
// Values computed in TypeScript (balances, sequence numbers) are final
// because the account locks are held until COMMIT.
import type { AuthorizationStatus, Prisma, Transaction, UsageAuthorization } from "@prisma/client";
import type { SqlTransaction } from "../../../db/executor.js";
import { joinSql, rawSql, sql, type Sql } from "../../../db/sql.js";
import { Decimal, formatMoney } from "../../shared/money.js";
import type { PeriodStarts, PeriodType } from "../../shared/periods.js";
import type { LockedAccount } from "../accounts.js";
import { AccountTable, AuthorizationTable, TransactionTable, type Table } from "./tables.js";

/** A debit's share of its account's DAY, MONTH and YEAR rollups. */
export interface RollupDebit {
  accountId: string;
  mandateId: string;
  cost: Decimal;
  provider: string;
  feature: string;
  starts: PeriodStarts;
}

interface RollupRow {
  accountId: string;
  mandateId: string;
  periodType: PeriodType;
  periodStart: string;
  totalCost: Decimal;
  transactionCount: number;
  costByProvider: Map<string, Decimal>;
  costByFeature: Map<string, Decimal>;
}

type ClosedHold = Pick<UsageAuthorization, "id" | "status" | "transactionId" | "closedAt">;

/** Where a Writes stood: rollback(mark) forgets what was written after it. */
export interface WritesMark {
  entries: number;
  accounts: Map<string, LockedAccount>;
  opened: Set<string>;
  newHolds: Map<string, UsageAuthorization>;
  closedHolds: Map<string, ClosedHold>;
  debits: number;
  notifications: number;
  other: number;
}

export class Writes {
  private entries: Transaction[] = [];
  /** Changed accounts: each written once, with its state at COMMIT. */
  private accounts = new Map<string, LockedAccount>();
  /** Of those, the ones this transaction opens: inserted with their state at COMMIT. */
  private opened = new Set<string>();
  private newHolds = new Map<string, UsageAuthorization>();
  private closedHolds = new Map<string, ClosedHold>();
  private debits: RollupDebit[] = [];
  private notifications: Prisma.NotificationUncheckedCreateInput[] = [];
  private other: Sql[] = [];

  constructor(private readonly now: Date) {}

  /** Where the writes stand now (a move about to be judged in a batch: refused, it is rolled back to here). */
  mark(): WritesMark {
    return {
      entries: this.entries.length,
      accounts: new Map(this.accounts),
      opened: new Set(this.opened),
      newHolds: new Map(this.newHolds),
      closedHolds: new Map(this.closedHolds),
      debits: this.debits.length,
      notifications: this.notifications.length,
      other: this.other.length,
    };
  }

  rollback(mark: WritesMark): void {
    this.entries.length = mark.entries;
    this.accounts = mark.accounts;
    this.opened = mark.opened;
    this.newHolds = mark.newHolds;
    this.closedHolds = mark.closedHolds;
    this.debits.length = mark.debits;
    this.notifications.length = mark.notifications;
    this.other.length = mark.other;
  }

  /** Registers the writes to go out with `t`'s COMMIT. */
  static on(t: SqlTransaction, now: Date): Writes {
    const writes = new Writes(now);
    t.defer(() => writes.statement());
    return writes;
  }

  /** Appends a ledger row; the append-only trigger guards it from then on. */
  entry(entry: Transaction): void {
    this.entries.push(entry);
  }

  /** The account's final state is written at COMMIT (everything the rules change: balance, sequence, limits, warning). */
  account(account: LockedAccount): void {
    this.accounts.set(account.id, account);
  }

  /**
   * An account this transaction opens: inserted at COMMIT with its final
   * state. Until then no other transaction sees it; one that opens the same
   * account meanwhile makes one of the two COMMITs fail on the account's
   * unique key, and that one is run again (ledger/moves.ts).
   */
  openAccount(account: LockedAccount): void {
    this.opened.add(account.id);
    this.accounts.set(account.id, account);
  }

  hold(hold: UsageAuthorization): void {
    this.newHolds.set(hold.id, hold);
  }

  /** Settles, releases or expires a hold. */
  closeHold(id: string, status: AuthorizationStatus, transactionId: string | null): void {
    const opened = this.newHolds.get(id);
    // Opened in this same transaction: its one INSERT writes it closed.
    if (opened) this.newHolds.set(id, { ...opened, status, transactionId, closedAt: this.now });
    else this.closedHolds.set(id, { id, status, transactionId, closedAt: this.now });
  }

  /** Adds a debit to its account's DAY, MONTH and YEAR rows (created on first use). */
  rollup(debit: RollupDebit): void {
    this.debits.push(debit);
  }

  /** The debits summed per account and period: one row each, however many debits it got. */
  private rollupRows(): RollupRow[] {
    const rows = new Map<string, RollupRow>();
    for (const debit of this.debits) addToRollups(rows, debit);
    return [...rows.values()];
  }

  /** An email owed (the outbox): inserted once per (mandate, kind, dedupeKey). */
  notification(row: Prisma.NotificationUncheckedCreateInput): void {
    this.notifications.push(row);
  }

  /** Another write that commits with these (a payment provider's event id, an automatic top-up's state). */
  also(...statements: Sql[]): void {
    this.other.push(...statements);
  }

  /** An entry written in this transaction under a key (a second request with it in the same batch is its replay). */
  entryUnder(mandateId: string, scope: string, key: string): Transaction | undefined {
    return this.entries.find((e) => e.idempotencyKey === key && e.idempotencyScope === scope && e.mandateId === mandateId);
  }

  /** A hold created in this transaction under a key. */
  holdUnder(mandateId: string, key: string): UsageAuthorization | undefined {
    for (const hold of this.newHolds.values()) if (hold.idempotencyKey === key && hold.mandateId === mandateId) return hold;
    return undefined;
  }

  /** How this transaction closed a hold (settled, released, expired), if it did. */
  closing(id: string): ClosedHold | undefined {
    const opened = this.newHolds.get(id);
    return this.closedHolds.get(id) ?? (opened && opened.status !== "ACTIVE" ? opened : undefined);
  }

  /** Everything as one statement, or null when nothing was written. */
  statement(): Sql | null {
    const parts: Sql[] = [];
    const opened = [...this.accounts.values()].filter((a) => this.opened.has(a.id));
    const changed = [...this.accounts.values()].filter((a) => !this.opened.has(a.id));
    if (opened.length > 0) parts.push(insertAccounts(opened, this.now));
    if (this.entries.length > 0) parts.push(insertRows(TransactionTable, this.entries));
    if (changed.length > 0) parts.push(updateAccounts(changed, this.now));
    if (this.newHolds.size > 0) parts.push(insertRows(AuthorizationTable, [...this.newHolds.values()]));
    if (this.closedHolds.size > 0) parts.push(closeHolds([...this.closedHolds.values()]));
    if (this.debits.length > 0) parts.push(upsertRollups(this.rollupRows(), this.now));
    if (this.notifications.length > 0) parts.push(insertNotifications(this.notifications, this.now));
    parts.push(...this.other);
    if (parts.length <= 1) return parts[0] ?? null;
    const ctes = parts.map((part, i) => sql`${rawSql(`w${i + 1}`)} AS (${part})`);
    return sql`WITH ${joinSql(ctes, ",\n")}\nSELECT ${rawSql(String(parts.length))} AS "writes"`;
  }
}

/** Adds a debit to its account's DAY, MONTH and YEAR rows. */
function addToRollups(rows: Map<string, RollupRow>, debit: RollupDebit): void {
  for (const periodType of ["DAY", "MONTH", "YEAR"] as const) {
    const periodStart = debit.starts[periodType];
    const key = `${debit.accountId}|${periodType}|${periodStart}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        accountId: debit.accountId,
        mandateId: debit.mandateId,
        periodType,
        periodStart,
        totalCost: new Decimal(0),
        transactionCount: 0,
        costByProvider: new Map(),
        costByFeature: new Map(),
      };
      rows.set(key, row);
    }
    row.totalCost = row.totalCost.plus(debit.cost);
    row.transactionCount += 1;
    row.costByProvider.set(debit.provider, (row.costByProvider.get(debit.provider) ?? new Decimal(0)).plus(debit.cost));
    row.costByFeature.set(debit.feature, (row.costByFeature.get(debit.feature) ?? new Decimal(0)).plus(debit.cost));
  }
}

/** Rows of a table from one JSON parameter: one statement text however many rows. */
function insertRows<Row>(table: Table<Row>, rows: Row[]): Sql {
  const columns = Object.keys(table.columns).map((c) => `"${c}"`);
  return sql`INSERT INTO ${rawSql(`"${table.name}" (${columns.join(", ")})`)}
    SELECT ${rawSql(columns.map((c) => `v.${c}`).join(", "))} FROM json_populate_recordset(NULL::${rawSql(`"${table.name}"`)}, ${table.send(rows)}::json) v`;
}

const ACCOUNT_WRITES: (keyof LockedAccount)[] = [
  "id",
  "balance",
  "sequence",
  "lastTopUpBalance",
  "isWarning",
  "lastWarningAt",
  "creditLimit",
  "warningThreshold",
  "enabled",
];

function updateAccounts(accounts: LockedAccount[], now: Date): Sql {
  const sets = ACCOUNT_WRITES.filter((c) => c !== "id").map((c) => `"${c}" = v."${c}"`);
  return sql`UPDATE "BillingAccount" a SET ${rawSql(sets.join(", "))}, "updatedAt" = ${now.toISOString()}::timestamp(3)
    FROM json_populate_recordset(NULL::"BillingAccount", ${AccountTable.send(accounts, ACCOUNT_WRITES as never)}::json) v
    WHERE a."id" = v."id"`;
}

/** Accounts opened in this transaction, with their final state; their entries reference them in the same statement. */
function insertAccounts(accounts: LockedAccount[], now: Date): Sql {
  const columns = [
    "id",
    "mandateId",
    "userId",
    "accountKey",
    "accountType",
    ...ACCOUNT_WRITES.filter((c) => c !== "id"),
  ] as (keyof LockedAccount)[];
  const names = columns.map((c) => `"${c}"`).join(", ");
  return sql`INSERT INTO "BillingAccount" (${rawSql(names)}, "createdAt", "updatedAt")
    SELECT ${rawSql(columns.map((c) => `v."${c}"`).join(", "))}, ${now.toISOString()}::timestamp(3), ${now.toISOString()}::timestamp(3)
    FROM json_populate_recordset(NULL::"BillingAccount", ${AccountTable.send(accounts, columns as never)}::json) v`;
}

function closeHolds(holds: Pick<UsageAuthorization, "id" | "status" | "transactionId" | "closedAt">[]): Sql {
  return sql`UPDATE "UsageAuthorization" z SET "status" = v."status", "transactionId" = v."transactionId", "closedAt" = v."closedAt"
    FROM json_populate_recordset(NULL::"UsageAuthorization", ${AuthorizationTable.send(holds, ["id", "status", "transactionId", "closedAt"])}::json) v
    WHERE z."id" = v."id"`;
}

/** Merges two { key: "decimal" } share objects by adding their amounts, exact (numeric), as text. */
const mergeShares = (column: string) =>
  `(SELECT jsonb_object_agg(k, ((coalesce((s."${column}" ->> k)::numeric, 0) + coalesce((EXCLUDED."${column}" ->> k)::numeric, 0))::numeric(38, 6))::text)
      FROM jsonb_object_keys(s."${column}" || EXCLUDED."${column}") k)`;

/**
 * The rollup rows' additions, summed per row in TypeScript (exact decimals),
 * added to what is stored in SQL (exact numeric): totals and counts add up,
 * the shares per provider and feature merge key by key.
 */
function upsertRollups(rows: RollupRow[], now: Date): Sql {
  const shares = (m: Map<string, Decimal>) => Object.fromEntries([...m].map(([k, v]) => [k, formatMoney(v)]));
  const values = JSON.stringify(
    rows.map((r) => ({
      accountId: r.accountId,
      mandateId: r.mandateId,
      periodType: r.periodType,
      periodStart: r.periodStart,
      totalCost: formatMoney(r.totalCost),
      transactionCount: r.transactionCount,
      costByProvider: shares(r.costByProvider),
      costByFeature: shares(r.costByFeature),
    })),
  );
  return sql`INSERT INTO "UsageStatistics" AS s ("id", "accountId", "mandateId", "periodType", "periodStart",
      "totalCost", "transactionCount", "costByProvider", "costByFeature", "updatedAt")
    SELECT gen_random_uuid()::text, v."accountId", v."mandateId", v."periodType", v."periodStart", v."totalCost",
      v."transactionCount", v."costByProvider", v."costByFeature", ${now.toISOString()}::timestamp(3)
    FROM json_populate_recordset(NULL::"UsageStatistics", ${values}::json) v
    ON CONFLICT ("accountId", "periodType", "periodStart") DO UPDATE SET
      "totalCost" = s."totalCost" + EXCLUDED."totalCost",
      "transactionCount" = s."transactionCount" + EXCLUDED."transactionCount",
      "costByProvider" = ${rawSql(mergeShares("costByProvider"))},
      "costByFeature" = ${rawSql(mergeShares("costByFeature"))},
      "updatedAt" = EXCLUDED."updatedAt"`;
}

/** ON CONFLICT DO NOTHING: the same email owed twice is one row, and never fails the move. */
function insertNotifications(rows: Prisma.NotificationUncheckedCreateInput[], now: Date): Sql {
  const at = (value: Date | string | undefined) => (value === undefined ? now : new Date(value)).toISOString();
  const values = JSON.stringify(
    rows.map((row) => ({
      id: row.id,
      mandateId: row.mandateId,
      kind: row.kind,
      dedupeKey: row.dedupeKey,
      payload: row.payload ?? {},
      nextAttemptAt: at(row.nextAttemptAt),
      createdAt: at(row.createdAt ?? row.nextAttemptAt),
    })),
  );
  return sql`INSERT INTO "Notification" ("id", "mandateId", "kind", "dedupeKey", "payload", "nextAttemptAt", "createdAt")
    SELECT coalesce(v."id", gen_random_uuid()::text), v."mandateId", v."kind", v."dedupeKey", v."payload", v."nextAttemptAt", v."createdAt"
    FROM json_populate_recordset(NULL::"Notification", ${values}::json) v
    ON CONFLICT ("mandateId", "kind", "dedupeKey") DO NOTHING`;
}
