// What must hold in the database after `npm run bench:http`, however fast it
// went: checked against the book of every money request the run sent
// (bench/http-calls.ts), with SQL of its own (not Saldo's code), so a faster
// write path is checked by something it does not share.
import type { MoneyBook } from "./http-calls.js";

/** Runs one statement with text parameters ($1, $2, ...) and returns its rows. */
export type Query = (text: string, params: string[]) => Promise<Record<string, unknown>[]>;

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface InvariantOptions {
  /** The mandates the run seeded (every account of theirs is checked). */
  mandateIds: string[];
  /** CREDITs the seeding booked (one per mandate). */
  credits: number;
  /** What every DEBIT of the run costs (the catalog price of the usage), or null to skip that check. */
  debitAmount: string | null;
  /** The billing time zone the server keeps its rollups in. */
  timeZone: string;
}

const json = (value: unknown) => JSON.stringify(value);
const int = (value: unknown) => Number(value ?? 0);

/**
 * Checks the ledger of the seeded mandates against itself and against the
 * book: balance = sum of deltas and sequence = number of entries per
 * account; DAY/MONTH/YEAR rollups = the debits of each period; exactly one
 * entry per acknowledged key, the one the API returned; no entry for a
 * refused request; every hold settled once; as many entries as acknowledged
 * money requests (plus the seeding's credits); every debit at the catalog
 * price; nothing left unresolved.
 */
export async function checkInvariants(query: Query, book: MoneyBook, options: InvariantOptions): Promise<Check[]> {
  const mandates = json(options.mandateIds);
  const checks: Check[] = [];
  const usage = [...book.usage.values()];
  const pairs = [...book.pairs.values()];
  const acked = usage.filter((c) => c.state === "acked");
  const refused = usage.filter((c) => c.state === "refused");
  const settled = pairs.filter((p) => p.settle === "acked");
  const { usage: pendingUsage, pairs: pendingPairs } = book.unresolved();

  checks.push({
    name: "every money request resolved",
    ok: pendingUsage.length === 0 && pendingPairs.length === 0,
    detail: `${usage.length} usages (${acked.length} acknowledged, ${refused.length} refused), ${pairs.length} pairs (${settled.length} settled); unresolved: ${pendingUsage.length} usages, ${pendingPairs.length} pairs`,
  });

  const [balances] = await query(
    `WITH a AS (SELECT "id", "balance", "sequence" FROM "BillingAccount"
                 WHERE "mandateId" IN (SELECT jsonb_array_elements_text($1::jsonb))),
          t AS (SELECT "accountId", sum("delta") AS total, count(*) AS n FROM "Transaction"
                 WHERE "accountId" IN (SELECT "id" FROM a) GROUP BY 1)
     SELECT count(*)::int AS accounts,
            count(*) FILTER (WHERE a."balance" <> coalesce(t.total, 0))::int AS "badBalance",
            count(*) FILTER (WHERE a."sequence" <> coalesce(t.n, 0))::int AS "badSequence"
       FROM a LEFT JOIN t ON t."accountId" = a."id"`,
    [mandates],
  );
  checks.push({
    name: "balance = sum of deltas, per account",
    ok: int(balances.accounts) >= options.mandateIds.length && int(balances.badBalance) === 0,
    detail: `${int(balances.accounts) - int(balances.badBalance)}/${int(balances.accounts)} accounts`,
  });
  checks.push({
    name: "sequence = number of entries, per account",
    ok: int(balances.badSequence) === 0,
    detail: `${int(balances.accounts) - int(balances.badSequence)}/${int(balances.accounts)} accounts`,
  });

  // createdAt is UTC without a zone: mark it UTC, then take the local date.
  const [rollups] = await query(
    `WITH debits AS (
        SELECT t."accountId", ((t."createdAt" AT TIME ZONE 'UTC') AT TIME ZONE $2::text)::date AS day, t."amount"
          FROM "Transaction" t
         WHERE t."mandateId" IN (SELECT jsonb_array_elements_text($1::jsonb)) AND t."transactionType" = 'DEBIT'),
      expected AS (
        SELECT "accountId", 'DAY' AS period, day AS start, sum("amount") AS total, count(*) AS n FROM debits GROUP BY 1, 3
        UNION ALL SELECT "accountId", 'MONTH', date_trunc('month', day)::date, sum("amount"), count(*) FROM debits GROUP BY 1, 3
        UNION ALL SELECT "accountId", 'YEAR', date_trunc('year', day)::date, sum("amount"), count(*) FROM debits GROUP BY 1, 3),
      stored AS (
        SELECT "accountId", "periodType"::text AS period, "periodStart" AS start, "totalCost" AS total, "transactionCount" AS n
          FROM "UsageStatistics" WHERE "mandateId" IN (SELECT jsonb_array_elements_text($1::jsonb)))
     SELECT count(*)::int AS rows,
            count(*) FILTER (WHERE e.period IS NULL OR s.period IS NULL OR e.total <> s.total OR e.n <> s.n)::int AS bad
       FROM expected e FULL JOIN stored s USING ("accountId", period, start)`,
    [mandates, options.timeZone],
  );
  checks.push({
    name: "rollups = debits, per account and DAY/MONTH/YEAR",
    ok: int(rollups.bad) === 0,
    detail: `${int(rollups.rows) - int(rollups.bad)}/${int(rollups.rows)} rollup rows`,
  });

  const [keys] = await query(
    `WITH k AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS k(key text, "mandateId" text, "transactionId" text)),
          m AS (SELECT k.key, count(t."id") AS n,
                       bool_and(t."id" = k."transactionId" AND t."mandateId" = k."mandateId" AND t."transactionType" = 'DEBIT') AS same
                  FROM k LEFT JOIN "Transaction" t ON t."idempotencyKey" = k.key GROUP BY k.key)
     SELECT count(*)::int AS keys, count(*) FILTER (WHERE n = 1 AND same)::int AS good FROM m`,
    [json(acked.map((c) => ({ key: c.key, mandateId: c.mandateId, transactionId: c.transactionId })))],
  );
  checks.push({
    name: "one entry per acknowledged recordUsage key, the one returned",
    ok: int(keys.keys) === acked.length && int(keys.good) === acked.length,
    detail: `${int(keys.good)}/${acked.length} keys`,
  });

  const [none] = await query(
    `SELECT count(*)::int AS n FROM "Transaction" WHERE "idempotencyKey" IN (SELECT jsonb_array_elements_text($1::jsonb))`,
    [json(refused.map((c) => c.key))],
  );
  checks.push({
    name: "no entry for a refused request",
    ok: int(none.n) === 0,
    detail: `${int(none.n)} entries for ${refused.length} refused keys`,
  });

  // A settle books its entry under the authorization's id, in the SETTLEMENT scope.
  const [holds] = await query(
    `WITH k AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS k(key text, "mandateId" text, "authorizationId" text, "transactionId" text)),
          h AS (SELECT k.key, count(h."id") AS n,
                       bool_and(h."id" = k."authorizationId" AND h."mandateId" = k."mandateId" AND h."status" = 'SETTLED'
                                AND h."transactionId" = k."transactionId") AS same
                  FROM k LEFT JOIN "UsageAuthorization" h ON h."idempotencyKey" = k.key GROUP BY k.key),
          e AS (SELECT k.key, count(t."id") AS n, bool_and(t."id" = k."transactionId") AS same
                  FROM k LEFT JOIN "Transaction" t ON t."idempotencyScope" = 'SETTLEMENT' AND t."idempotencyKey" = k."authorizationId" GROUP BY k.key)
     SELECT count(*)::int AS keys, count(*) FILTER (WHERE h.n = 1 AND h.same AND e.n = 1 AND e.same)::int AS good
       FROM h JOIN e USING (key)`,
    [
      json(
        settled.map((p) => ({ key: p.key, mandateId: p.mandateId, authorizationId: p.authorizationId, transactionId: p.transactionId })),
      ),
    ],
  );
  checks.push({
    name: "one hold per acknowledged authorizeUsage key, settled once",
    ok: int(holds.keys) === settled.length && int(holds.good) === settled.length,
    detail: `${int(holds.good)}/${settled.length} holds`,
  });

  const [totals] = await query(
    `SELECT count(*) FILTER (WHERE "transactionType" = 'DEBIT')::int AS debits,
            count(*) FILTER (WHERE "transactionType" = 'CREDIT')::int AS credits,
            count(*) FILTER (WHERE "transactionType" NOT IN ('DEBIT', 'CREDIT'))::int AS other,
            count(*) FILTER (WHERE "transactionType" = 'DEBIT' AND "amount" <> $2::numeric)::int AS "otherPrice",
            (SELECT count(*) FROM "UsageAuthorization" WHERE "status" = 'ACTIVE'
                AND "mandateId" IN (SELECT jsonb_array_elements_text($1::jsonb)))::int AS "activeHolds"
       FROM "Transaction" WHERE "mandateId" IN (SELECT jsonb_array_elements_text($1::jsonb))`,
    [mandates, options.debitAmount ?? "0"],
  );
  const expectedDebits = acked.length + settled.length;
  checks.push({
    name: "entries = acknowledged money requests",
    ok: int(totals.debits) === expectedDebits && int(totals.credits) === options.credits && int(totals.other) === 0,
    detail: `${int(totals.debits)} debits for ${acked.length} recordUsage + ${settled.length} settleUsage acknowledged; ${int(totals.credits)}/${options.credits} credits; ${int(totals.other)} other`,
  });
  checks.push({
    name: "no hold left active",
    ok: int(totals.activeHolds) === 0,
    detail: `${int(totals.activeHolds)} active`,
  });
  if (options.debitAmount !== null) {
    checks.push({
      name: `every debit at the catalog price (${options.debitAmount})`,
      ok: int(totals.otherPrice) === 0,
      detail: `${int(totals.debits) - int(totals.otherPrice)}/${int(totals.debits)} debits`,
    });
  }
  return checks;
}
