// The monthly report: its figures equal sums computed directly over the
// ledger (month boundaries in Europe/Zurich), it reads well in English and
// German, and it is queued and sent exactly once per mandate and month across
// restarts, catch-ups and two concurrent instances.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adjustAccount, creditAccount } from "../../src/billing/ledger/credits.js";
import { Decimal, formatMoney } from "../../src/billing/shared/money.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import {
  buildMonthlyReport,
  createMailer,
  createNotifier,
  createReportScheduler,
  dueReportMonth,
  formatChf,
  monthRange,
  renderMonthlyReport,
  startNotifications,
  type Logger,
} from "../../src/notify/index.js";
import { createMandate, testBilling, type TestBilling } from "../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { startSmtp, waitFor, type TestSmtp } from "./smtp.js";

const TZ = "Europe/Zurich";
const FROM = "Saldo <billing@saldo.test>";

let db: TestDatabase;
let other: Database;
let smtp: TestSmtp;
const logs: string[] = [];
const logger: Logger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };

beforeAll(async () => {
  db = await createTestDatabase();
  other = db.url ? await openDatabase({ databaseUrl: db.url, poolSize: 4 }) : db;
  smtp = await startSmtp();
});
afterAll(async () => {
  if (other && other !== db) await other.close();
  await db?.close();
  await smtp?.close();
});

let keys = 0;
const key = () => `r-${++keys}`;
const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

async function debitAt(
  b: TestBilling,
  at: string,
  mandateId: string,
  cost: string,
  extra: { userId?: string; provider?: string; feature?: string | null } = {},
) {
  b.clock.set(at);
  await recordUsage(b.ctx, {
    mandateId,
    userId: extra.userId,
    provider: extra.provider ?? "openai",
    model: "m",
    cost,
    metadata: extra.feature === null ? {} : { featureCode: extra.feature ?? "chat" },
    idempotencyKey: key(),
  });
}

/** The month's figures straight from the ledger: SUMs over the transactions, grouped in SQL. */
async function directFigures(mandateId: string, month: string) {
  const q = <T>(sql: string) => db.prisma.$queryRawUnsafe<T[]>(sql, mandateId, TZ, month);
  const inMonth = `"mandateId" = $1 AND to_char((("createdAt" AT TIME ZONE 'UTC') AT TIME ZONE $2), 'YYYY-MM') = $3`;
  const [total] = await q<{ total: string | null; n: number }>(
    `SELECT sum("amount")::text AS total, count(*)::int AS n FROM "Transaction" WHERE ${inMonth} AND "transactionType" = 'DEBIT'`,
  );
  const grouped = async (column: string) =>
    Object.fromEntries(
      (
        await q<{ k: string; total: string }>(
          `SELECT coalesce(${column}, 'unknown') AS k, sum("amount")::text AS total FROM "Transaction"
            WHERE ${inMonth} AND "transactionType" = 'DEBIT' GROUP BY 1`,
        )
      ).map((r) => [r.k, formatMoney(r.total)]),
    );
  const byUser = Object.fromEntries(
    (
      await q<{ k: string | null; total: string; n: number }>(
        `SELECT "createdByUserId" AS k, sum("amount")::text AS total, count(*)::int AS n FROM "Transaction"
          WHERE ${inMonth} AND "transactionType" = 'DEBIT' GROUP BY 1`,
      )
    ).map((r) => [r.k ?? "(none)", { cost: formatMoney(r.total), calls: r.n }]),
  );
  const [net] = await q<{ net: string | null }>(
    `SELECT (-sum("delta"))::text AS net FROM "Transaction" WHERE ${inMonth} AND "transactionType" IN ('DEBIT', 'ADJUSTMENT')`,
  );
  // Balance at the month's end: replay each account's transactions up to it.
  const transactions = await db.prisma.transaction.findMany({ where: { mandateId }, orderBy: [{ accountId: "asc" }, { sequence: "asc" }] });
  const { end } = monthRange(month, TZ);
  const balances: Record<string, string> = {};
  for (const t of transactions) {
    if (t.createdAt >= end) continue;
    balances[t.accountId] = new Decimal(balances[t.accountId] ?? 0).plus(t.delta.toString()).toFixed(6);
  }
  return {
    total: formatMoney(total.total ?? "0"),
    calls: total.n,
    byProvider: await grouped(`"aicoreProvider"`),
    byFeature: await grouped(`"featureCode"`),
    byUser,
    net: formatMoney(net.net ?? "0"),
    balances,
  };
}

const shares = (list: { key: string; cost: string }[]) => Object.fromEntries(list.map((s) => [s.key, s.cost]));

describe("monthly report figures", () => {
  it("equal the ledger's sums for the month in the billing time zone (postpay, with the invoice)", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "CREDIT_POSTPAY", { notifyEmails: ["figures@acme.test"], notifyOnWarning: false });
    await db.prisma.mandate.update({ where: { id: mandateId }, data: { name: "Acme AG" } });
    // Around the month's edges in Zurich: 30 Sep 23:30 (CEST) is September,
    // 1 Oct 00:30 is October; 31 Oct 23:59:59 (CET) is October, 1 Nov 00:00 is November.
    await debitAt(b, "2030-09-30T21:30:00Z", mandateId, "7.000001", { userId: "alice" });
    await debitAt(b, "2030-09-30T22:30:00Z", mandateId, "0.123456", { userId: "alice", provider: "anthropic" });
    await debitAt(b, "2030-10-05T10:00:00Z", mandateId, "12.5", { userId: "bob", feature: "automation" });
    await debitAt(b, "2030-10-12T10:00:00Z", mandateId, "1.000001", { provider: "perplexity", feature: null });
    b.clock.set("2030-10-15T08:00:00Z");
    await creditAccount(b.ctx, { mandateId, amount: "30", description: "Payment of the September invoice", idempotencyKey: key() });
    await adjustAccount(b.ctx, { mandateId, amount: "2.5", description: "Goodwill for an outage", idempotencyKey: key() });
    await adjustAccount(b.ctx, { mandateId, amount: "-0.75", description: "Correction", idempotencyKey: key() });
    // The night the clocks go back (27 Oct 2030, 03:00 CEST -> 02:00 CET).
    await debitAt(b, "2030-10-27T00:30:00Z", mandateId, "3.333333", { userId: "bob", provider: "anthropic" });
    await debitAt(b, "2030-10-27T01:30:00Z", mandateId, "0.000007", { userId: "carol", provider: "tavily", feature: "search" });
    await debitAt(b, "2030-10-31T22:59:59Z", mandateId, "4.2", { userId: "alice", provider: "anthropic", feature: "automation" });
    await debitAt(b, "2030-10-31T23:00:00Z", mandateId, "100", { userId: "alice" });

    const report = await buildMonthlyReport(db, { mandateId, month: "2030-10", timeZone: TZ });
    const direct = await directFigures(mandateId, "2030-10");
    expect(report.total).toBe(direct.total);
    expect(report.total).toBe("21.156797");
    expect(report.calls).toBe(direct.calls);
    expect(report.calls).toBe(6);
    expect(shares(report.byProvider)).toEqual(direct.byProvider);
    expect(shares(report.byFeature)).toEqual(direct.byFeature);
    expect(Object.fromEntries(report.byUser.map((u) => [u.userId ?? "(none)", { cost: u.cost, calls: u.calls }]))).toEqual(direct.byUser);
    expect(Object.fromEntries(report.balances.map((x) => [x.accountId, x.balance]))).toEqual(direct.balances);
    expect(report.invoice).toEqual({
      amount: direct.net,
      billingAddress: { company: "Test AG", street: "Bahnhofstrasse 1", zip: "8001", city: "Zürich", country: "CH", vatNumber: null },
    });
    // 21.156798 of debits, less 2.50 of goodwill, plus the 0.75 correction.
    expect(report.invoice?.amount).toBe("19.406797");
    // Biggest first.
    expect(report.byProvider.map((s) => s.key)).toEqual(["openai", "anthropic", "perplexity", "tavily"]);

    const en = renderMonthlyReport(report);
    expect(en.subject).toBe("Saldo: monthly report October 2030 for Acme AG");
    expect(en.text).toContain(`Spend in October 2030: ${formatChf(direct.total, "EN")} (6 calls)`);
    for (const [provider, cost] of Object.entries(direct.byProvider))
      expect(en.text).toMatch(new RegExp(`\\n  ${provider}\\s+${amount(formatChf(cost, "EN"))}\\n`));
    expect(en.text).toMatch(/\n {2}\(unattributed\)\s+CHF\s+1\.000001\n/);
    expect(en.text).toMatch(/\n {2}bob\s+CHF\s+15\.833333 {2}\(2 calls\)\n/);
    expect(en.text).toMatch(/\n {2}\(no user\)\s+CHF\s+1\.000001 {2}\(1 call\)\n/);
    expect(en.text).toMatch(new RegExp(`Shared account\\s+${amount(formatChf(Object.values(direct.balances)[0], "EN"))}\\n`));
    expect(en.text).toContain("Amount to be invoiced: CHF 19.406797");
    expect(en.text).toContain("Billing address:\n  Test AG\n  Bahnhofstrasse 1\n  8001 Zürich\n  CH\n");
    expect(en.html).toContain(
      '<td style="padding:3px 0 3px 16px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums">CHF 1.000001</td>',
    );
    expect(en.html).toContain("8001 Zürich");

    const de = renderMonthlyReport({ ...report, language: "DE" });
    expect(de.subject).toBe("Saldo: Monatsbericht Oktober 2030 für Acme AG");
    expect(de.text).toContain(`Kosten im Oktober 2030: ${formatChf(direct.total, "DE")} (6 Aufrufe)`);
    expect(de.text).toContain("Nach Anbieter");
    expect(de.text).toContain("Nach Funktion");
    expect(de.text).toMatch(/\n {2}\(ohne Benutzer\)\s+CHF\s+1\.000001 {2}\(1 Aufruf\)\n/);
    expect(de.text).toContain("Guthaben am Monatsende");
    expect(de.text).toContain("Zu verrechnender Betrag: CHF 19.406797");
    expect(de.html).toContain("Rechnungsadresse");

    // September and November hold the debits across the edges.
    const september = await buildMonthlyReport(db, { mandateId, month: "2030-09", timeZone: TZ });
    expect(september).toMatchObject({ total: "7.000001", calls: 1 });
    const november = await buildMonthlyReport(db, { mandateId, month: "2030-11", timeZone: TZ });
    expect(november).toMatchObject({ total: "100.000000", calls: 1 });
  });

  it("shows each user's account balance at the month's end under PREPAY_USER, and an empty month plainly", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_USER", { notifyEmails: ["users@acme.test"], notifyOnWarning: false });
    await debitAt(b, "2030-10-03T09:00:00Z", mandateId, "2.25", { userId: "alice" });
    await debitAt(b, "2030-10-04T09:00:00Z", mandateId, "1.5", { userId: "bob", provider: "anthropic" });
    b.clock.set("2030-10-20T09:00:00Z");
    await creditAccount(b.ctx, { mandateId, userId: "bob", amount: "1000", description: "Top-up", idempotencyKey: key() });
    // After the month: not in October's balances.
    await debitAt(b, "2030-11-02T09:00:00Z", mandateId, "3", { userId: "alice" });
    await debitAt(b, "2030-11-02T09:00:00Z", mandateId, "3", { userId: "dave" });

    const report = await buildMonthlyReport(db, { mandateId, month: "2030-10", timeZone: TZ });
    const direct = await directFigures(mandateId, "2030-10");
    expect(report).toMatchObject({ total: direct.total, calls: 2, invoice: null });
    expect(report.balances.map((x) => [x.userId, x.balance])).toEqual([
      ["alice", "7.750000"],
      ["bob", "1008.500000"],
    ]);
    expect(Object.fromEntries(report.balances.map((x) => [x.accountId, x.balance]))).toEqual(direct.balances);
    const text = renderMonthlyReport(report).text;
    expect(text).toMatch(/Account of alice\s+CHF\s+7\.75\n/);
    expect(text).toMatch(/Account of bob\s+CHF\s+1,008\.50\n/);
    expect(text).not.toContain("invoiced");
    const de = renderMonthlyReport({ ...report, language: "DE" }).text;
    expect(de).toMatch(/Konto von bob\s+CHF\s+1'008\.50\n/);

    const empty = await buildMonthlyReport(db, { mandateId, month: "2030-08", timeZone: TZ });
    expect(empty).toMatchObject({ total: "0.000000", calls: 0, byProvider: [], byUser: [], balances: [] });
    expect(renderMonthlyReport(empty).text).toContain("Spend in August 2030: CHF 0.00 (0 calls)\nNo usage this month.");
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A pattern for an amount in a text table row, where it is padded to align with the others. */
function amount(formatted: string): string {
  return escape(formatted).replace("CHF ", "CHF\\s+");
}

describe("monthly report schedule", () => {
  it("runs at 06:00 on the 1st in the billing time zone, and catches up on the latest due month", () => {
    const scheduler = createReportScheduler({ db: db.prisma, timeZone: TZ, logger });
    // CET (+1) in November, CEST (+2) in April.
    expect(scheduler.nextRun(new Date("2030-10-15T12:00:00Z"))?.toISOString()).toBe("2030-11-01T05:00:00.000Z");
    expect(scheduler.nextRun(new Date("2030-03-15T12:00:00Z"))?.toISOString()).toBe("2030-04-01T04:00:00.000Z");
    scheduler.stop();
    expect(dueReportMonth(new Date("2030-11-01T05:00:00Z"), TZ)).toBe("2030-10"); // 06:00 on the 1st
    expect(dueReportMonth(new Date("2030-11-01T04:59:59Z"), TZ)).toBe("2030-09"); // 05:59: October's is not due yet
    expect(dueReportMonth(new Date("2030-11-17T12:00:00Z"), TZ)).toBe("2030-10");
    expect(dueReportMonth(new Date("2031-01-01T05:00:00Z"), TZ)).toBe("2030-12");
    expect(dueReportMonth(new Date("2030-12-31T23:30:00Z"), TZ)).toBe("2030-11"); // 00:30 on 1 Jan in Zurich: December's is not due yet
  });

  it("is queued once per mandate and month across restarts and two concurrent instances, and sent exactly once", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const en = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["once-en@acme.test"], notifyOnWarning: false });
    const de = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["once-de@beispiel.test"], notifyOnWarning: false });
    const silent = await createMandate(b.ctx, "PREPAY_MANDATE", {});
    await db.prisma.mandate.update({ where: { id: de }, data: { name: "Beispiel GmbH", language: "DE" } });
    await debitAt(b, "2030-10-10T10:00:00Z", en, "4.5");
    await debitAt(b, "2030-10-11T10:00:00Z", de, "0.25", { provider: "anthropic" });
    // 06:30 on 1 November 2030 in Zurich.
    b.clock.set("2030-11-01T05:30:00Z");
    const instance = (database: Database) => ({
      scheduler: createReportScheduler({ db: database.prisma, timeZone: TZ, now: b.clock.now, logger }),
      worker: createNotifier({
        db: database.prisma,
        sql: database.sql,
        mailer: createMailer({ smtpUrl: smtp.url, from: FROM }),
        timeZone: TZ,
        now: b.clock.now,
        logger,
      }),
    });
    const rows = () =>
      db.prisma.notification.findMany({
        where: { mandateId: { in: [en, de, silent] }, kind: "MONTHLY_REPORT" },
        orderBy: { mandateId: "asc" },
      });

    // Two restarts: each start catches up; the second queues nothing new.
    await instance(db).scheduler.catchUp();
    await instance(db).scheduler.catchUp();
    expect((await rows()).map((r) => [r.mandateId, r.dedupeKey, r.status])).toEqual(
      [
        [en, "2030-10", "PENDING"],
        [de, "2030-10", "PENDING"],
      ].sort((x, y) => x[0].localeCompare(y[0])),
    );

    // Two instances at once, each catching up and draining the outbox.
    const [one, two] = [instance(db), instance(other)];
    await Promise.all([one.scheduler.catchUp(), two.scheduler.catchUp(), one.worker.runOnce(), two.worker.runOnce()]);
    await Promise.all([one.worker.runOnce(), two.worker.runOnce()]);
    // And the cron job of both firing at 06:00 for the same month.
    await Promise.all([one.scheduler.queue("2030-10"), two.scheduler.queue("2030-10")]);
    await Promise.all([one.worker.runOnce(), two.worker.runOnce()]);

    expect((await rows()).map((r) => r.status)).toEqual(["SENT", "SENT"]);
    expect((await rows()).map((r) => r.attempts)).toEqual([1, 1]);
    expect(mailsTo("once-en@acme.test")).toHaveLength(1);
    expect(mailsTo("once-de@beispiel.test")).toHaveLength(1);
    const [enMail] = mailsTo("once-en@acme.test");
    expect(enMail.subject).toBe(`Saldo: monthly report October 2030 for Mandate ${en}`);
    expect(enMail.text).toContain("Spend in October 2030: CHF 4.50 (1 call)");
    const [deMail] = mailsTo("once-de@beispiel.test");
    expect(deMail.subject).toBe("Saldo: Monatsbericht Oktober 2030 für Beispiel GmbH");
    expect(deMail.text).toContain("Kosten im Oktober 2030: CHF 0.25 (1 Aufruf)");
    expect(deMail.html).toContain("Monatsbericht Oktober 2030");
  });

  it("catches up at start (startNotifications) when the server was down at 06:00, and a restart sends nothing twice", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["catchup@acme.test"], notifyOnWarning: false });
    await debitAt(b, "2030-11-20T10:00:00Z", mandateId, "8");
    // The server comes up on 3 December: November's report was due on the 1st.
    b.clock.set("2030-12-03T09:00:00Z");
    const start = () =>
      startNotifications({
        db: db.prisma,
        sql: db.sql,
        config: { SMTP_URL: smtp.url, MAIL_FROM: FROM, BILLING_TIME_ZONE: TZ },
        now: b.clock.now,
        logger,
      });
    const first = start();
    try {
      await first.ready;
      await waitFor(() => mailsTo("catchup@acme.test").length === 1, 15_000, "the caught-up report");
    } finally {
      await first.stop();
    }
    const second = start();
    try {
      await second.ready;
      await second.notifier.idle();
      await second.notifier.runOnce();
    } finally {
      await second.stop();
    }
    expect(mailsTo("catchup@acme.test")).toHaveLength(1);
    expect(mailsTo("catchup@acme.test")[0].text).toContain("Spend in November 2030: CHF 8.00 (1 call)");
    const row = await db.prisma.notification.findUniqueOrThrow({
      where: { mandateId_kind_dedupeKey: { mandateId, kind: "MONTHLY_REPORT", dedupeKey: "2030-11" } },
    });
    expect(row.status).toBe("SENT");
  });
});
