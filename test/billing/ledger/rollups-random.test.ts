// The rollups stay equal to the ledger: thousands of random debits, many of
// them minutes or milliseconds around the period boundaries of
// Europe/Zurich (the last hour of each month, New Year, the daylight saving
// changes of 29 March and 25 October 2026), on three accounts, with several
// providers and features (and none), ten at a time. Afterwards every DAY,
// MONTH and YEAR row must equal a direct SUM over the transactions
// (expectLedgerInvariants) and the rebuild must find nothing to correct.
//
// Seeded: the seed is printed; ROLLUPS_SEED=<n> replays a run, ROLLUPS_DEBITS=<n>
// changes how many debits are booked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordUsage } from "../../../src/billing/usage/record.js";
import { rebuildRollups } from "../../../src/billing/statistics/rebuild.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../../support/db.js";
import { createMandate, expectLedgerInvariants, testBilling, type TestBilling } from "../../support/billing.js";

const ZONE = "Europe/Zurich";
const DEBITS = Number(process.env.ROLLUPS_DEBITS || (testDatabaseKind === "postgres" ? 5000 : 2000));
const SEED = Number(process.env.ROLLUPS_SEED || Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 10;

/** mulberry32: a small, good-enough seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const H = 3600_000;

/**
 * UTC instants of local midnights in Zurich where a period turns (UTC+1 in
 * winter, UTC+2 in summer), and the two daylight saving switches themselves.
 */
const BOUNDARIES = [
  "2025-12-31T23:00:00Z", // New Year 2026
  "2026-01-31T23:00:00Z", // 1 February
  "2026-02-28T23:00:00Z", // 1 March
  "2026-03-28T23:00:00Z", // 29 March, 00:00 CET: the day that has 23 hours
  "2026-03-29T01:00:00Z", // 02:00 CET -> 03:00 CEST
  "2026-03-29T22:00:00Z", // 30 March, 00:00 CEST
  "2026-03-31T22:00:00Z", // 1 April (summer time)
  "2026-04-30T22:00:00Z", // 1 May
  "2026-05-31T22:00:00Z", // 1 June
  "2026-06-30T22:00:00Z", // 1 July
  "2026-07-31T22:00:00Z", // 1 August
  "2026-08-31T22:00:00Z", // 1 September
  "2026-09-30T22:00:00Z", // 1 October
  "2026-10-24T22:00:00Z", // 25 October, 00:00 CEST: the day that has 25 hours
  "2026-10-25T01:00:00Z", // 03:00 CEST -> 02:00 CET
  "2026-10-25T23:00:00Z", // 26 October, 00:00 CET
  "2026-10-31T23:00:00Z", // 1 November (winter time again)
  "2026-11-30T23:00:00Z", // 1 December
  "2026-12-31T23:00:00Z", // New Year 2027
].map((s) => Date.parse(s));
const SPREAD_FROM = Date.parse("2025-12-01T00:00:00Z");
const SPREAD_TO = Date.parse("2027-02-01T00:00:00Z");

const PROVIDERS = ["openai", "Anthropic", "mistral", "tavily", "perplexity"];
const FEATURES = ["chat", "automation", "research", "summaries", null, null];

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

describe("rollups under random debits across time-zone boundaries", () => {
  it(
    `every DAY, MONTH and YEAR row equals the SUM of its transactions (${DEBITS} debits, seed ${SEED})`,
    { timeout: 180_000 },
    async () => {
      console.log(`[rollups-random] seed=${SEED} debits=${DEBITS} database=${testDatabaseKind} (replay: ROLLUPS_SEED=${SEED})`);
      const random = prng(SEED);
      const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];

      const setup = testBilling(db, { timeZone: ZONE });
      setup.clock.set("2025-11-01T00:00:00Z");
      const shared = await createMandate(setup.ctx, "UNLIMITED");
      const perUser = await createMandate(setup.ctx, "PREPAY_USER", { blockOnZeroBalance: false });
      const payers = [{ mandateId: shared }, { mandateId: perUser, userId: "alice" }, { mandateId: perUser, userId: "bob" }];

      /** An instant near a boundary (within 90 minutes, 1 in 10 within a second), or anywhere in the 14 months. */
      const instant = (): number => {
        const r = random();
        if (r < 0.1) return SPREAD_FROM + Math.floor(random() * (SPREAD_TO - SPREAD_FROM));
        const boundary = pick(BOUNDARIES);
        if (r < 0.2) return boundary + Math.floor(random() * 2001) - 1000;
        return boundary + Math.floor(random() * 3 * H) - 1.5 * H;
      };
      /** Micro-CHF amounts from 0.000001 to 50, mostly small. */
      const amount = (): string => {
        const micros = random() < 0.9 ? 1 + Math.floor(random() * 2_000_000) : 1 + Math.floor(random() * 50_000_000);
        return (micros / 1e6).toFixed(6);
      };

      // One billing context (and clock) per concurrent slot.
      const slots: TestBilling[] = Array.from({ length: CONCURRENCY }, () => testBilling(db, { timeZone: ZONE }));
      const started = Date.now();
      let booked = 0;
      for (let next = 0; next < DEBITS; next += CONCURRENCY) {
        const batch = Array.from({ length: Math.min(CONCURRENCY, DEBITS - next) }, (_, i) => {
          const payer = pick(payers);
          const feature = pick(FEATURES);
          return { i: next + i, payer, at: instant(), cost: amount(), provider: pick(PROVIDERS), feature };
        });
        await Promise.all(
          batch.map(async (d, slot) => {
            const b = slots[slot];
            b.clock.set(new Date(d.at));
            const result = await recordUsage(b.ctx, {
              mandateId: d.payer.mandateId,
              userId: d.payer.userId,
              provider: d.provider,
              model: "m",
              cost: d.cost,
              metadata: d.feature === null ? {} : { featureCode: d.feature },
              idempotencyKey: `random-${SEED}-${d.i}`,
            });
            expect(result.transaction?.createdAt.getTime()).toBe(d.at);
            booked += 1;
          }),
        );
      }
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `[rollups-random] ${booked} debits in ${seconds.toFixed(1)} s (${Math.round(booked / seconds)}/s) on ${testDatabaseKind}`,
      );

      const debits = await db.prisma.transaction.count({ where: { transactionType: "DEBIT" } });
      expect(debits).toBe(DEBITS);
      const rows = await db.prisma.usageStatistics.groupBy({ by: ["periodType"], _sum: { transactionCount: true }, _count: true });
      for (const row of rows) expect(Number(row._sum.transactionCount), `${row.periodType} counts`).toBe(DEBITS);
      console.log(`[rollups-random] rollup rows: ${rows.map((r) => `${r.periodType} ${r._count}`).join(", ")}`);

      // Every row equals a direct SUM over its debits in Zurich time (and no row lacks debits, no debit lacks its row).
      await expectLedgerInvariants(db.prisma, ZONE);
      // The rebuild agrees.
      const report = await rebuildRollups(db, { timeZone: ZONE, dryRun: true });
      expect(report.differences).toEqual([]);
      expect(report.accounts).toBe(3);
    },
  );
});
