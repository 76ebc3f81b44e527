// Domain test helpers: a billing context with a controllable clock and an
// event log, unique mandates per test, and the ledger's invariants.
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { upsertMandate } from "../../src/billing/mandates/mandates.js";
import { updateSettings, type UpdateSettingsInput } from "../../src/billing/mandates/settings.js";
import { createBillingContext } from "../../src/billing/ledger/context.js";
import type { BalanceWarningEvent, BillingContext, BillingEvent } from "../../src/billing/shared/context.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { Decimal } from "../../src/billing/shared/money.js";
import type { BillingModel } from "@prisma/client";
import type { Database, Db } from "../../src/db/open.js";

export interface TestClock {
  now(): Date;
  set(at: Date | string): void;
  advance(ms: number): void;
}

export function testClock(start: Date | string = new Date()): TestClock {
  let current = new Date(start);
  return {
    now: () => new Date(current),
    set: (at) => void (current = new Date(at)),
    advance: (ms) => void (current = new Date(current.getTime() + ms)),
  };
}

export interface TestBilling {
  ctx: BillingContext;
  clock: TestClock;
  events: BillingEvent[];
}

export function testBilling(db: Database, options: Partial<Omit<BillingContext, "db" | "sql" | "events" | "now">> = {}): TestBilling {
  const clock = testClock();
  const events: BillingEvent[] = [];
  const ctx = createBillingContext(db, { ...options, now: clock.now, events: { publish: (e) => events.push(e) } });
  return { ctx, clock, events };
}

export function uniqueId(prefix = "m"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

const ADDRESS = { company: "Test AG", street: "Bahnhofstrasse 1", zip: "8001", city: "Zürich", country: "CH" };

/** A new mandate with its own id, under the given model and settings. */
export async function createMandate(
  ctx: BillingContext,
  model: BillingModel = "PREPAY_MANDATE",
  settings: Omit<UpdateSettingsInput, "mandateId"> = {},
): Promise<string> {
  const id = uniqueId();
  await upsertMandate(ctx, { id, name: `Mandate ${id}` });
  await updateSettings(ctx, {
    mandateId: id,
    billingModel: model,
    ...(model === "CREDIT_POSTPAY" ? { billingAddress: ADDRESS } : {}),
    ...settings,
  });
  return id;
}

export const dec = (value: string | number) => new Decimal(value);

/**
 * The ledger's invariants, checked against the database itself:
 * - each account's balance equals the sum of its deltas;
 * - its transactions are numbered 1..n, each balanceAfter = previous + delta,
 *   and the newest balanceAfter equals the balance;
 * - every rollup row equals a direct SUM over its DEBITs in the time zone.
 * With `mandateIds`, only the accounts and rollups of those mandates.
 */
export async function expectLedgerInvariants(db: Db, timeZone = "Europe/Zurich", mandateIds?: string[]): Promise<void> {
  const accounts = await db.billingAccount.findMany({
    where: mandateIds ? { mandateId: { in: mandateIds } } : {},
    include: { transactions: { orderBy: { sequence: "asc" } } },
  });
  for (const account of accounts) {
    let running = new Decimal(0);
    account.transactions.forEach((t, i) => {
      expect(t.sequence, `sequence of ${account.id}`).toBe(i + 1);
      running = running.plus(t.delta.toString());
      expect(t.balanceAfter.toString(), `balanceAfter #${t.sequence} of ${account.id}`).toBe(running.toString());
      expect(new Decimal(t.amount.toString()).toString()).toBe(new Decimal(t.delta.toString()).abs().toString());
    });
    expect(account.balance.toString(), `balance of ${account.id}`).toBe(running.toString());
    expect(account.sequence).toBe(account.transactions.length);
  }
  const mismatches = await db.$queryRawUnsafe<unknown[]>(
    `WITH debits AS (
       SELECT t."accountId", t."amount", coalesce(t."aicoreProvider", 'unknown') AS provider,
              coalesce(t."featureCode", 'unknown') AS feature,
              -- createdAt is a UTC timestamp without zone: first mark it UTC, then convert.
              ((t."createdAt" AT TIME ZONE 'UTC') AT TIME ZONE $1)::date AS local_day
         FROM "Transaction" t WHERE t."transactionType" = 'DEBIT' AND ($2::text[] IS NULL OR t."mandateId" = ANY($2::text[]))
     ), periods AS (
       SELECT "accountId", 'DAY' AS period, local_day AS start, amount, provider, feature FROM debits
       UNION ALL SELECT "accountId", 'MONTH', date_trunc('month', local_day)::date, amount, provider, feature FROM debits
       UNION ALL SELECT "accountId", 'YEAR', date_trunc('year', local_day)::date, amount, provider, feature FROM debits
     ), expected AS (
       SELECT "accountId", period, start, sum(amount) AS total, count(*) AS n FROM periods GROUP BY 1, 2, 3
     ), by_provider AS (
       SELECT "accountId", period, start, jsonb_object_agg(provider, total::numeric(18,6)::text) AS shares
         FROM (SELECT "accountId", period, start, provider, sum(amount) AS total FROM periods GROUP BY 1, 2, 3, 4) x
        GROUP BY 1, 2, 3
     ), by_feature AS (
       SELECT "accountId", period, start, jsonb_object_agg(feature, total::numeric(18,6)::text) AS shares
         FROM (SELECT "accountId", period, start, feature, sum(amount) AS total FROM periods GROUP BY 1, 2, 3, 4) x
        GROUP BY 1, 2, 3
     )
     SELECT coalesce(s."accountId", e."accountId") AS account, coalesce(s."periodType"::text, e.period) AS period,
            coalesce(s."periodStart", e.start)::text AS start, s."totalCost"::text AS stored, e.total::text AS expected
       FROM (SELECT * FROM "UsageStatistics" WHERE $2::text[] IS NULL OR "mandateId" = ANY($2::text[])) s
       FULL JOIN expected e ON e."accountId" = s."accountId" AND e.period = s."periodType"::text AND e.start = s."periodStart"
       LEFT JOIN by_provider p ON p."accountId" = e."accountId" AND p.period = e.period AND p.start = e.start
       LEFT JOIN by_feature f ON f."accountId" = e."accountId" AND f.period = e.period AND f.start = e.start
      WHERE s."totalCost" IS DISTINCT FROM e.total OR s."transactionCount" IS DISTINCT FROM e.n
         OR s."costByProvider" IS DISTINCT FROM p.shares OR s."costByFeature" IS DISTINCT FROM f.shares`,
    timeZone,
    mandateIds ?? null,
  );
  expect(mismatches, "usage statistics differ from the ledger").toEqual([]);
}

/** The user's account, or the mandate-wide one (under UNLIMITED, the account of its own). */
export async function accountOf(db: Db, mandateId: string, userId?: string) {
  return db.billingAccount.findFirstOrThrow({
    where: { mandateId, accountKey: userId ? `user:${userId}` : { in: ["mandate", "unlimited"] } },
  });
}

export async function balanceOf(db: Db, mandateId: string, userId?: string): Promise<string> {
  return (await accountOf(db, mandateId, userId)).balance.toFixed(6);
}

let spendCounter = 0;

/** A usage of `cost` CHF (openai/gpt-5) under a fresh key. */
export function spend(b: TestBilling, mandateId: string, cost: string, userId?: string) {
  return recordUsage(b.ctx, { mandateId, userId, provider: "openai", model: "gpt-5", cost, idempotencyKey: `spend-${++spendCounter}` });
}

export const warningsIn = (events: BillingEvent[]) => events.filter((e): e is BalanceWarningEvent => e.type === "balanceWarning");
