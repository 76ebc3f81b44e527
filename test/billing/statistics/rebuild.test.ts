// Rebuilding the usage rollups from the ledger (src/billing/rebuild.ts):
// corrupted rows are reported exactly and corrected; the rebuild takes the
// account lock every debit takes, so debits running at the same time are
// neither counted twice nor lost; a second rebuild finds nothing.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BillingContext } from "../../../src/billing/shared/context.js";
import { Decimal } from "../../../src/billing/shared/money.js";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { rebuildRollups, type RollupDifference, type RollupValues } from "../../../src/billing/statistics/rebuild.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling } from "../../support/billing.js";

const ZONE = "Europe/Zurich";

let db: TestDatabase;
/** Mandate A: one shared account (UNLIMITED). Mandate B: one account per user (PREPAY_USER). */
let mandateA: string;
let mandateB: string;
let accountA: string;
let accountB1: string;
let accountB2: string;

let keys = 0;
function at(instant: string): BillingContext {
  const b = testBilling(db, { timeZone: ZONE });
  b.clock.set(instant);
  return b.ctx;
}

async function debit(
  instant: string,
  mandateId: string,
  cost: string,
  extra: { userId?: string; provider?: string; featureCode?: string | null } = {},
) {
  const result = await recordUsage(at(instant), {
    mandateId,
    userId: extra.userId,
    provider: extra.provider ?? "openai",
    model: "gpt-5",
    cost,
    metadata: extra.featureCode === null ? {} : { featureCode: extra.featureCode ?? "chat" },
    idempotencyKey: `rebuild-${++keys}`,
  });
  if (!result.transaction) throw new Error("debit not booked");
  return result;
}

const rebuild = (options: { mandateId?: string; dryRun?: boolean } = {}) => rebuildRollups(db, { timeZone: ZONE, ...options });

/** A stored rollup row in the report's shape. */
async function storedRow(accountId: string, period: "DAY" | "MONTH" | "YEAR", start: string): Promise<RollupValues> {
  const row = await db.prisma.usageStatistics.findUniqueOrThrow({
    where: { accountId_periodType_periodStart: { accountId, periodType: period, periodStart: new Date(`${start}T00:00:00Z`) } },
  });
  return {
    mandateId: row.mandateId,
    totalCost: row.totalCost.toFixed(6),
    transactionCount: Number(row.transactionCount),
    costByProvider: row.costByProvider as Record<string, string>,
    costByFeature: row.costByFeature as Record<string, string>,
  };
}

const keyOf = (d: Pick<RollupDifference, "accountId" | "period" | "periodStart">) => `${d.accountId} ${d.period} ${d.periodStart}`;

beforeAll(async () => {
  db = await createTestDatabase();
  mandateA = await createMandate(at("2026-01-01T00:00:00Z"), "UNLIMITED");
  mandateB = await createMandate(at("2026-01-01T00:00:00Z"), "PREPAY_USER", { blockOnZeroBalance: false });
  // Around the turn of a month and of a year in Zurich, two providers, a debit without feature.
  accountA = (await debit("2026-03-28T10:00:00Z", mandateA, "1.25")).accountId;
  await debit("2026-03-28T22:59:59.999Z", mandateA, "0.5", { provider: "anthropic" }); // 23:59 CET, 28 March
  await debit("2026-03-31T22:00:00Z", mandateA, "2", { featureCode: null }); // 00:00 CEST, 1 April
  await debit("2026-12-31T23:30:00Z", mandateA, "0.000001"); // 00:30, 1 January 2027
  accountB1 = (await debit("2026-10-25T00:30:00Z", mandateB, "3.333333", { userId: "u1", featureCode: "automation" })).accountId;
  await debit("2026-10-25T01:30:00Z", mandateB, "1", { userId: "u1", provider: "mistral" }); // after the autumn DST change
  await debit("2026-10-31T23:00:00Z", mandateB, "0.1", { userId: "u1" }); // 00:00, 1 November
  accountB2 = (await debit("2026-06-15T12:00:00Z", mandateB, "7", { userId: "u2" })).accountId;
  await debit("2026-06-16T12:00:00Z", mandateB, "0.2", { userId: "u2", featureCode: null });
});
afterAll(async () => {
  await db?.close();
});

describe("rebuildRollups", () => {
  it("finds nothing to correct when the rollups equal the ledger", async () => {
    const report = await rebuild();
    expect(report.differences).toEqual([]);
    expect(report.accounts).toBe(3);
    expect(report.corrected).toBe(true);
    expect(report.rows).toBe(await db.prisma.usageStatistics.count());
    await expectLedgerInvariants(db.prisma, ZONE);
  });

  it("reports exactly the corrupted rows with stored and expected figures, corrects them, and a second run finds nothing", async () => {
    const dayA = await storedRow(accountA, "DAY", "2026-03-28");
    const monthB1 = await storedRow(accountB1, "MONTH", "2026-10-01");
    const yearA = await storedRow(accountA, "YEAR", "2027-01-01");
    const dayB2 = await storedRow(accountB2, "DAY", "2026-06-16");

    // A wrong total, a wrong share, a deleted row, a row without any debit, a wrong count.
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "totalCost" = "totalCost" + 1 WHERE "accountId" = $1 AND "periodType" = 'DAY' AND "periodStart" = '2026-03-28'`,
      accountA,
    );
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "costByFeature" = "costByFeature" || '{"chat": "0.200000"}'::jsonb
        WHERE "accountId" = $1 AND "periodType" = 'MONTH' AND "periodStart" = '2026-10-01'`,
      accountB1,
    );
    await db.prisma.$executeRawUnsafe(
      `DELETE FROM "UsageStatistics" WHERE "accountId" = $1 AND "periodType" = 'YEAR' AND "periodStart" = '2027-01-01'`,
      accountA,
    );
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO "UsageStatistics" ("id", "accountId", "mandateId", "periodType", "periodStart", "totalCost", "transactionCount",
         "costByProvider", "costByFeature", "updatedAt")
       VALUES ('bogus-row', $1, $2, 'DAY', '2025-05-05', 9.99, 3, '{"openai": "9.990000"}', '{"chat": "9.990000"}', now())`,
      accountB2,
      mandateB,
    );
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "transactionCount" = 5 WHERE "accountId" = $1 AND "periodType" = 'DAY' AND "periodStart" = '2026-06-16'`,
      accountB2,
    );
    await expect(expectLedgerInvariants(db.prisma, ZONE)).rejects.toThrow(/usage statistics differ/);

    const key = (mandateId: string, accountId: string, accountKey: string) => ({ mandateId, accountId, accountKey });
    const expected: RollupDifference[] = [
      {
        ...key(mandateA, accountA, "unlimited"),
        period: "DAY",
        periodStart: "2026-03-28",
        kind: "wrong",
        stored: { ...dayA, totalCost: "2.750000" },
        expected: dayA,
      },
      {
        ...key(mandateA, accountA, "unlimited"),
        period: "YEAR",
        periodStart: "2027-01-01",
        kind: "missing",
        stored: null,
        expected: yearA,
      },
      {
        ...key(mandateB, accountB1, "user:u1"),
        period: "MONTH",
        periodStart: "2026-10-01",
        kind: "wrong",
        stored: { ...monthB1, costByFeature: { ...monthB1.costByFeature, chat: "0.200000" } },
        expected: monthB1,
      },
      {
        ...key(mandateB, accountB2, "user:u2"),
        period: "DAY",
        periodStart: "2025-05-05",
        kind: "extra",
        stored: {
          mandateId: mandateB,
          totalCost: "9.990000",
          transactionCount: 3,
          costByProvider: { openai: "9.990000" },
          costByFeature: { chat: "9.990000" },
        },
        expected: null,
      },
      {
        ...key(mandateB, accountB2, "user:u2"),
        period: "DAY",
        periodStart: "2026-06-16",
        kind: "wrong",
        stored: { ...dayB2, transactionCount: 5 },
        expected: dayB2,
      },
    ];
    const sorted = (diffs: RollupDifference[]) => [...diffs].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));

    // A dry run reports the same and changes nothing.
    const dry = await rebuild({ dryRun: true });
    expect(dry.corrected).toBe(false);
    expect(sorted(dry.differences)).toEqual(sorted(expected));
    await expect(expectLedgerInvariants(db.prisma, ZONE)).rejects.toThrow(/usage statistics differ/);

    const progress: { done: number; total: number; differences: number }[] = [];
    const report = await rebuild({ mandateId: undefined });
    expect(sorted(report.differences)).toEqual(sorted(expected));
    expect(report.corrected).toBe(true);
    await expectLedgerInvariants(db.prisma, ZONE);
    expect(await db.prisma.usageStatistics.count({ where: { id: "bogus-row" } })).toBe(0);

    const again = await rebuildRollups(db, {
      timeZone: ZONE,
      onProgress: (p) => progress.push({ done: p.done, total: p.total, differences: p.differences.length }),
    });
    expect(again.differences).toEqual([]);
    expect(progress).toEqual([1, 2, 3].map((done) => ({ done, total: 3, differences: 0 })));
  });

  it("--mandate: only that mandate's accounts are checked and corrected", async () => {
    await db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "totalCost" = 0 WHERE "accountId" IN ($1, $2) AND "periodType" = 'MONTH'`,
      accountA,
      accountB2,
    );
    const onlyA = await rebuild({ mandateId: mandateA });
    expect(onlyA.accounts).toBe(1);
    expect(onlyA.differences.map(keyOf).sort()).toEqual([
      `${accountA} MONTH 2026-03-01`,
      `${accountA} MONTH 2026-04-01`,
      `${accountA} MONTH 2027-01-01`,
    ]);
    // B's corrupted rows are still there, and nothing else.
    const rest = await rebuild({ dryRun: true });
    expect(rest.differences.map(keyOf)).toEqual([`${accountB2} MONTH 2026-06-01`]);
    expect((await rebuild({ mandateId: mandateB })).differences).toHaveLength(1);
    await expectLedgerInvariants(db.prisma, ZONE);
    await expect(rebuild({ mandateId: "no-such-mandate" })).rejects.toThrow(/not found/);
  });

  it("runs safely while debits on the same accounts run: every rollup equals the ledger afterwards", async () => {
    // Corrupt every account, so that the rebuild writes while the debits run.
    const corrupted = (await db.prisma.usageStatistics.findMany({ where: { periodType: { in: ["MONTH", "YEAR"] } } })).map((r) =>
      keyOf({ accountId: r.accountId, period: r.periodType, periodStart: r.periodStart.toISOString().slice(0, 10) }),
    );
    await db.prisma.$executeRawUnsafe(`UPDATE "UsageStatistics" SET "totalCost" = "totalCost" + 0.5 WHERE "periodType" = 'MONTH'`);
    await db.prisma.$executeRawUnsafe(`DELETE FROM "UsageStatistics" WHERE "periodType" = 'YEAR'`);

    const payers = [{ mandateId: mandateA }, { mandateId: mandateB, userId: "u1" }, { mandateId: mandateB, userId: "u2" }];
    // Debits into the very periods being rebuilt (and new ones), in waves around the rebuilds.
    const instants = [
      "2026-03-28T12:00:00Z",
      "2026-10-25T00:45:00Z",
      "2026-06-15T09:00:00Z",
      "2026-12-31T23:00:00Z",
      "2027-01-01T10:00:00Z",
    ];
    const wave = (n: number, offset: number) =>
      Array.from({ length: n }, (_, i) => {
        const payer = payers[(i + offset) % payers.length];
        return debit(instants[(i + offset) % instants.length], payer.mandateId, `0.${String(i + 1).padStart(6, "0")}`, {
          userId: payer.userId,
          provider: i % 2 ? "openai" : "anthropic",
          featureCode: i % 3 ? "chat" : null,
        });
      });
    const started = Date.now();
    const results = await Promise.all([...wave(30, 0), rebuild(), ...wave(30, 1), rebuild({ mandateId: mandateB }), ...wave(30, 2)]);
    const reports = results.filter((r): r is Awaited<ReturnType<typeof rebuild>> => "differences" in r);
    expect(reports).toHaveLength(2);
    // Every corrupted row was found by one of the rebuilds (its figures depend on what the debits added meanwhile).
    const found = new Set(reports.flatMap((r) => r.differences.map(keyOf)));
    for (const key of corrupted) expect(found.has(key), key).toBe(true);
    await expectLedgerInvariants(db.prisma, ZONE);
    expect((await rebuild()).differences).toEqual([]);
    console.log(`[rebuild] 90 debits and 2 rebuilds concurrently in ${Date.now() - started} ms on ${db.kind}`);
  });

  it.runIf(testDatabaseKind === "postgres")(
    "waits for a debit holding the account lock and then sees it (PostgreSQL: a second connection holds the lock)",
    async () => {
      // The DAY row of the day the held debit lands in is missing: the rebuild must write it,
      // and must include the debit that commits while it waits.
      const before = new Decimal((await storedRow(accountA, "DAY", "2026-03-28")).totalCost);
      await db.prisma.$executeRawUnsafe(
        `DELETE FROM "UsageStatistics" WHERE "accountId" = $1 AND "periodType" = 'DAY' AND "periodStart" = '2026-03-28'`,
        accountA,
      );
      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      try {
        await other.query("BEGIN");
        const { rows } = await other.query<{ balance: string; sequence: number }>(
          `SELECT "balance"::text AS balance, "sequence" FROM "BillingAccount" WHERE "id" = $1 FOR UPDATE`,
          [accountA],
        );
        let finished = false;
        const rebuilding = rebuild({ mandateId: mandateA }).finally(() => (finished = true));
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(finished, "the rebuild waits for the account lock").toBe(false);
        // A debit of 0.75 at 14:00 local on 28 March, as the ledger writes it, under the lock.
        const { balance, sequence } = rows[0];
        await other.query(
          `INSERT INTO "Transaction" ("id", "accountId", "mandateId", "sequence", "transactionType", "amount", "delta", "balanceAfter",
             "description", "aicoreProvider", "featureCode", "createdAt")
           VALUES (gen_random_uuid()::text, $1, $2, $3, 'DEBIT', 0.75, -0.75, $4::numeric - 0.75, 'held debit', 'openai', 'chat',
             '2026-03-28 13:00:00')`,
          [accountA, mandateA, sequence + 1, balance],
        );
        await other.query(`UPDATE "BillingAccount" SET "balance" = "balance" - 0.75, "sequence" = "sequence" + 1 WHERE "id" = $1`, [
          accountA,
        ]);
        await other.query(
          `INSERT INTO "UsageStatistics" AS s ("id", "accountId", "mandateId", "periodType", "periodStart", "totalCost", "transactionCount",
             "costByProvider", "costByFeature", "updatedAt")
           SELECT gen_random_uuid()::text, $1, $2, p::"PeriodType", d::date, 0.75, 1, '{"openai": "0.750000"}', '{"chat": "0.750000"}', now()
             FROM (VALUES ('DAY', '2026-03-28'), ('MONTH', '2026-03-01'), ('YEAR', '2026-01-01')) v(p, d)
           ON CONFLICT ("accountId", "periodType", "periodStart") DO UPDATE SET
             "totalCost" = s."totalCost" + 0.75, "transactionCount" = s."transactionCount" + 1,
             "costByProvider" = s."costByProvider" || jsonb_build_object('openai', ((coalesce((s."costByProvider" ->> 'openai')::numeric, 0) + 0.75)::numeric(18, 6))::text),
             "costByFeature" = s."costByFeature" || jsonb_build_object('chat', ((coalesce((s."costByFeature" ->> 'chat')::numeric, 0) + 0.75)::numeric(18, 6))::text)`,
          [accountA, mandateA],
        );
        await other.query("COMMIT");
        const report = await rebuilding;
        // The DAY row held only the new debit; the rebuild saw the ledger with it and wrote the whole day.
        expect(report.differences.map((d) => [d.kind, d.period, d.periodStart, d.stored?.totalCost, d.expected?.totalCost])).toEqual([
          ["wrong", "DAY", "2026-03-28", "0.750000", before.plus("0.75").toFixed(6)],
        ]);
      } finally {
        await other.end();
      }
      await expectLedgerInvariants(db.prisma, ZONE);
      expect((await rebuild()).differences).toEqual([]);
    },
  );
});
