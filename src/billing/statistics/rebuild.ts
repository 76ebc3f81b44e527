// Rebuilding the usage rollups from the ledger. The rollups are kept with
// every debit (ledger/rollups.ts); this recomputes each account's DAY, MONTH and
// YEAR rows from its DEBIT transactions, compares them with what is stored,
// fixes what differs and reports it.
//
// Safe while the server serves: each account is done in one transaction that
// first takes the account's row lock, the lock every money move takes before
// it reads or writes (ledger/store/locks.ts). A debit arriving meanwhile waits for the
// rebuild of its account to commit and then adds itself to the rebuilt rows;
// a debit that committed before the lock was granted is in the ledger the
// recomputation reads. Nothing is counted twice or lost. The recomputation is
// a statement of its own after the lock (READ COMMITTED: a statement reads
// the snapshot taken when it starts, so it sees what the previous holder of
// the lock committed).
//
// Only one account is locked at a time, and only for as long as its
// aggregation takes (one indexed scan of its DEBITs).
import type { SqlExecutor } from "../../db/executor.js";
import { joinSql, sql, type Sql } from "../../db/sql.js";
import { UNATTRIBUTED } from "../ledger/rollups.js";
import { notFound, validation } from "../shared/errors.js";
import type { PeriodType } from "../shared/periods.js";

/** One rollup row's figures; amounts as decimal strings with 6 fractional digits (as the ledger writes them). */
export interface RollupValues {
  mandateId: string;
  totalCost: string;
  transactionCount: number;
  costByProvider: Record<string, string>;
  costByFeature: Record<string, string>;
}

export interface RollupDifference {
  accountId: string;
  mandateId: string;
  accountKey: string;
  period: PeriodType;
  /** First day of the period in the billing time zone, YYYY-MM-DD. */
  periodStart: string;
  /** missing: debits but no row; wrong: the row's figures differ; extra: a row without debits. */
  kind: "missing" | "wrong" | "extra";
  /** null when there was no row. */
  stored: RollupValues | null;
  /** null when the row should not exist (it was deleted). */
  expected: RollupValues | null;
}

export interface RebuildProgress {
  /** Accounts finished so far, this one included. */
  done: number;
  total: number;
  accountId: string;
  mandateId: string;
  accountKey: string;
  /** What differed on this account (corrected unless dryRun). */
  differences: RollupDifference[];
}

export interface RebuildOptions {
  /** Only this mandate's accounts (default: every account). */
  mandateId?: string | null;
  /** IANA zone of the period boundaries: the billing time zone the rollups are kept in. */
  timeZone: string;
  /** Report differences without correcting them. */
  dryRun?: boolean;
  /** Called after each account. */
  onProgress?: (progress: RebuildProgress) => void;
}

export interface RebuildReport {
  accounts: number;
  /** Rollup rows that match the ledger after the rebuild (checked or written). */
  rows: number;
  differences: RollupDifference[];
  /** False on a dry run: the differences were only reported. */
  corrected: boolean;
  milliseconds: number;
}

interface AccountRow {
  id: string;
  mandateId: string;
  accountKey: string;
}

/** Rows of one multi-row INSERT: keeps statements a sensible size on accounts with years of days. */
const WRITE_BATCH = 500;

/**
 * Recomputes the rollups of every account (or of one mandate's accounts)
 * from the ledger, account by account, and corrects what differs. Returns
 * every difference found, in account, period and date order.
 */
export async function rebuildRollups(database: { sql: SqlExecutor }, options: RebuildOptions): Promise<RebuildReport> {
  const started = performance.now();
  const timeZone = checkTimeZone(options.timeZone);
  const mandateId = options.mandateId ?? null;
  const executor = database.sql;
  const accounts = await executor.transaction(async (t) => {
    const rows = await t.query(
      sql`SELECT "id" FROM "Mandate" WHERE "id" = ${mandateId}::text`,
      sql`SELECT "id", "mandateId", "accountKey" FROM "BillingAccount"
           WHERE ${mandateId}::text IS NULL OR "mandateId" = ${mandateId}::text
           ORDER BY "mandateId", "accountKey", "id"`,
    );
    if (mandateId !== null && rows[0].length === 0) throw notFound(`Mandate "${mandateId}"`, ["mandateId"]);
    return rows[1] as unknown as AccountRow[];
  });

  const differences: RollupDifference[] = [];
  let rows = 0;
  let done = 0;
  for (const account of accounts) {
    const result = await executor.transaction(async (t) => {
      // The lock first, as a statement of its own; the comparison starts once it is granted.
      // A dry run writes nothing and needs no lock: one statement reads the ledger and the
      // rollups in one snapshot, in which every committed debit is in both.
      const statements = options.dryRun
        ? [compareRollups(account, timeZone)]
        : [lockAccountRow(account.id), compareRollups(account, timeZone)];
      const [compared] = (await t.query(...statements)).at(-1)!;
      const diffs = (JSON.parse(String(compared.differences)) as DiffRow[]).map((row) => toDifference(account, row));
      if (!options.dryRun && diffs.length > 0) t.defer(...corrections(account, diffs));
      return { diffs, expected: Number(compared.expectedRows) };
    });
    differences.push(...result.diffs);
    rows += result.expected;
    done += 1;
    options.onProgress?.({
      done,
      total: accounts.length,
      accountId: account.id,
      mandateId: account.mandateId,
      accountKey: account.accountKey,
      differences: result.diffs,
    });
  }
  return { accounts: accounts.length, rows, differences, corrected: !options.dryRun, milliseconds: performance.now() - started };
}

function checkTimeZone(zone: string): string {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    throw validation(`"${zone}" is not an IANA time zone such as Europe/Zurich`, ["timeZone"]);
  }
  return zone;
}

/** The same row lock every money move takes first (store.ts lockAndRead). */
function lockAccountRow(accountId: string): Sql {
  return sql`SELECT 1 FROM "BillingAccount" WHERE "id" = ${accountId}::text FOR UPDATE`;
}

/**
 * The account's DEBITs grouped by local day, provider and feature: one scan
 * of its transactions, the base every period is summed from. createdAt is a
 * UTC timestamp without zone: first mark it UTC, then convert to the zone.
 * A missing (or empty) provider or feature counts as "unknown", as the
 * ledger counts it.
 */
function debitsByDay(accountId: string, timeZone: string): Sql {
  return sql`SELECT ((t."createdAt" AT TIME ZONE 'UTC') AT TIME ZONE ${timeZone}::text)::date AS day,
         coalesce(nullif(t."aicoreProvider", ''), ${UNATTRIBUTED}::text) AS provider,
         coalesce(nullif(t."featureCode", ''), ${UNATTRIBUTED}::text) AS feature,
         sum(t."amount") AS total, count(*) AS n
    FROM "Transaction" t
   WHERE t."accountId" = ${accountId}::text AND t."transactionType" = 'DEBIT'
   GROUP BY 1, 2, 3`;
}

/** The rows the account should have: totals, counts and shares per DAY, MONTH and YEAR. */
function expectedRollups(accountId: string, timeZone: string): Sql {
  return sql`base AS (${debitsByDay(accountId, timeZone)}),
    periods AS (
      SELECT 'DAY'::text AS period, day AS start, provider, feature, total, n FROM base
      UNION ALL SELECT 'MONTH', date_trunc('month', day)::date, provider, feature, total, n FROM base
      UNION ALL SELECT 'YEAR', date_trunc('year', day)::date, provider, feature, total, n FROM base
    ),
    totals AS (SELECT period, start, sum(total) AS total, sum(n) AS n FROM periods GROUP BY 1, 2),
    providers AS (
      SELECT period, start, jsonb_object_agg(provider, total::numeric(38, 6)::text) AS shares
        FROM (SELECT period, start, provider, sum(total) AS total FROM periods GROUP BY 1, 2, 3) x GROUP BY 1, 2
    ),
    features AS (
      SELECT period, start, jsonb_object_agg(feature, total::numeric(38, 6)::text) AS shares
        FROM (SELECT period, start, feature, sum(total) AS total FROM periods GROUP BY 1, 2, 3) x GROUP BY 1, 2
    ),
    expected AS (
      SELECT t.period, t.start, t.total, t.n, p.shares AS providers, f.shares AS features
        FROM totals t JOIN providers p USING (period, start) JOIN features f USING (period, start)
    )`;
}

/**
 * One row: how many rows the account should have, and as a JSON array every
 * stored row that differs from the expected one, every expected row that is
 * missing and every stored row that should not exist.
 */
function compareRollups(account: AccountRow, timeZone: string): Sql {
  return sql`WITH ${expectedRollups(account.id, timeZone)},
    stored AS (
      SELECT s."mandateId", s."periodType"::text AS period, s."periodStart" AS start, s."totalCost" AS total,
             s."transactionCount" AS n, s."costByProvider" AS providers, s."costByFeature" AS features
        FROM "UsageStatistics" s WHERE s."accountId" = ${account.id}::text
    ),
    diff AS (
      SELECT coalesce(e.period, s.period) AS period, to_char(coalesce(e.start, s.start), 'YYYY-MM-DD') AS start,
             s.period IS NOT NULL AS "hasStored", s."mandateId" AS "storedMandateId", s.total::text AS "storedTotal",
             s.n AS "storedCount", s.providers AS "storedProviders", s.features AS "storedFeatures",
             e.total::numeric(38, 6)::text AS "expectedTotal", e.n::int8 AS "expectedCount",
             e.providers AS "expectedProviders", e.features AS "expectedFeatures"
        FROM expected e FULL JOIN stored s ON s.period = e.period AND s.start = e.start
       WHERE s.period IS NULL OR e.period IS NULL
          OR s."mandateId" IS DISTINCT FROM ${account.mandateId}::text
          OR s.total IS DISTINCT FROM e.total OR s.n IS DISTINCT FROM e.n
          OR s.providers IS DISTINCT FROM e.providers OR s.features IS DISTINCT FROM e.features
    )
    SELECT (SELECT count(*) FROM expected)::int AS "expectedRows",
           coalesce((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.period, d.start) FROM diff d), '[]'::jsonb)::text AS "differences"`;
}

interface DiffRow {
  period: PeriodType;
  start: string;
  hasStored: boolean;
  storedMandateId: string | null;
  storedTotal: string | null;
  storedCount: number | null;
  storedProviders: Record<string, string> | null;
  storedFeatures: Record<string, string> | null;
  expectedTotal: string | null;
  expectedCount: number | null;
  expectedProviders: Record<string, string> | null;
  expectedFeatures: Record<string, string> | null;
}

function toDifference(account: AccountRow, row: DiffRow): RollupDifference {
  const stored: RollupValues | null = row.hasStored
    ? {
        mandateId: row.storedMandateId!,
        totalCost: row.storedTotal!,
        transactionCount: row.storedCount!,
        costByProvider: row.storedProviders ?? {},
        costByFeature: row.storedFeatures ?? {},
      }
    : null;
  const expected: RollupValues | null =
    row.expectedTotal === null
      ? null
      : {
          mandateId: account.mandateId,
          totalCost: row.expectedTotal,
          transactionCount: row.expectedCount!,
          costByProvider: row.expectedProviders ?? {},
          costByFeature: row.expectedFeatures ?? {},
        };
  return {
    accountId: account.id,
    mandateId: account.mandateId,
    accountKey: account.accountKey,
    period: row.period,
    periodStart: row.start,
    kind: stored === null ? "missing" : expected === null ? "extra" : "wrong",
    stored,
    expected,
  };
}

/** Upserts the rows that are missing or wrong, deletes those without debits; sent with COMMIT. */
function corrections(account: AccountRow, diffs: RollupDifference[]): Sql[] {
  const statements: Sql[] = [];
  const upserts = diffs.filter((d) => d.expected !== null);
  for (let i = 0; i < upserts.length; i += WRITE_BATCH) {
    const values = upserts.slice(i, i + WRITE_BATCH).map((d) => {
      const e = d.expected!;
      return sql`(gen_random_uuid()::text, ${account.id}::text, ${account.mandateId}::text, ${d.period}::"PeriodType",
        ${d.periodStart}::date, ${e.totalCost}::numeric, ${String(e.transactionCount)}::int8,
        ${JSON.stringify(e.costByProvider)}::jsonb, ${JSON.stringify(e.costByFeature)}::jsonb, now() AT TIME ZONE 'UTC')`;
    });
    statements.push(sql`INSERT INTO "UsageStatistics" AS s ("id", "accountId", "mandateId", "periodType", "periodStart",
        "totalCost", "transactionCount", "costByProvider", "costByFeature", "updatedAt")
      VALUES ${joinSql(values, ", ")}
      ON CONFLICT ("accountId", "periodType", "periodStart") DO UPDATE SET
        "mandateId" = EXCLUDED."mandateId", "totalCost" = EXCLUDED."totalCost",
        "transactionCount" = EXCLUDED."transactionCount", "costByProvider" = EXCLUDED."costByProvider",
        "costByFeature" = EXCLUDED."costByFeature", "updatedAt" = EXCLUDED."updatedAt"`);
  }
  const extra = diffs.filter((d) => d.expected === null);
  for (let i = 0; i < extra.length; i += WRITE_BATCH) {
    const keys = extra.slice(i, i + WRITE_BATCH).map((d) => sql`(${d.period}::"PeriodType", ${d.periodStart}::date)`);
    statements.push(sql`DELETE FROM "UsageStatistics"
      WHERE "accountId" = ${account.id}::text AND ("periodType", "periodStart") IN (${joinSql(keys, ", ")})`);
  }
  return statements;
}
