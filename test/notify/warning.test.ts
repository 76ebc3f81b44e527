// Balance warning emails through the outbox and a real SMTP server: one
// email per crossing (one row per crossing, delivered once even with two
// workers racing), in the mandate's language, with the right figures.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { updateBillingAccount } from "../../src/billing/mandates/accounts.js";
import type { BalanceWarningEvent, BillingEvent } from "../../src/billing/shared/context.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { Writes } from "../../src/billing/ledger/store/writes.js";
import { balanceWarningNotification } from "../../src/billing/shared/outbox.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { createMailer, createNotifier, formatChf, startNotifications, type Logger, type Notifier } from "../../src/notify/index.js";
import { createMandate, testBilling, type TestBilling } from "../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { startSmtp, waitFor, type TestSmtp } from "./smtp.js";

const TZ = "Europe/Zurich";
const FROM = "Saldo <billing@saldo.test>";

let db: TestDatabase;
/** A second instance's connection: its own pool on PostgreSQL (PGlite has one connection per process). */
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

function worker(database: Database, b: TestBilling): Notifier {
  return createNotifier({
    db: database.prisma,
    sql: database.sql,
    mailer: createMailer({ smtpUrl: smtp.url, from: FROM }),
    timeZone: TZ,
    now: b.clock.now,
    logger,
  });
}

const warnings = (b: TestBilling) => b.events.filter((e): e is BalanceWarningEvent => e.type === "balanceWarning");
const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

/**
 * The warning's outbox row, queued the way the ledger queues it (ON CONFLICT
 * DO NOTHING): a crossing the ledger saw already has its row (see
 * ledger-warning.test.ts), a made-up event gets one.
 */
async function insertWarningRow(mandateId: string, event: BalanceWarningEvent, _options: { rawSql?: boolean } = {}) {
  const settings = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
  const row = balanceWarningNotification(settings, event);
  expect(row).not.toBeNull();
  await db.sql.transaction(async (t) => Writes.on(t, new Date(event.at)).notification(row!));
  return db.prisma.notification.findUniqueOrThrow({
    where: { mandateId_kind_dedupeKey: { mandateId, kind: "BALANCE_WARNING", dedupeKey: row!.dedupeKey } },
  });
}

let keys = 0;
const key = () => `k-${++keys}`;

describe("balance warning email", () => {
  it("arrives once, in English, with the shared account's figures, even with two workers racing", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["ops@acme.test", "cfo@acme.test"] });
    await db.prisma.mandate.update({ where: { id: mandateId }, data: { name: "Acme <AG> & Co" } });
    await creditAccount(b.ctx, { mandateId, amount: "100", description: "Top-up", idempotencyKey: key() });
    await recordUsage(b.ctx, { mandateId, userId: "alice", provider: "openai", model: "gpt-5", cost: "91.25", idempotencyKey: key() });
    const [event] = warnings(b);
    expect(event).toMatchObject({ mandateId, available: "8.750000", threshold: "10.000000" });
    const row = await insertWarningRow(mandateId, event);
    expect(row).toMatchObject({ kind: "BALANCE_WARNING", dedupeKey: `${event.accountId}:${event.at}`, status: "PENDING" });
    expect(row.payload).toEqual({ accountId: event.accountId, userId: null, available: "8.750000", threshold: "10.000000", at: event.at });

    const [w1, w2] = [worker(db, b), worker(other, b)];
    const outcomes = (await Promise.all([w1.runOnce(), w2.runOnce(), w1.runOnce(), w2.runOnce()])).flat();
    expect(outcomes.filter((o) => o.id === row.id).map((o) => o.status)).toEqual(["SENT"]);

    const mails = mailsTo("ops@acme.test");
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail.to.sort()).toEqual(["cfo@acme.test", "ops@acme.test"]);
    expect(mail.from).toBe("billing@saldo.test");
    expect(mail.subject).toBe("Saldo: low balance on the shared account of Acme <AG> & Co");
    expect(mail.text).toContain("The shared account of Acme <AG> & Co has fallen to or below its warning threshold.");
    expect(mail.text).toMatch(/Available to spend\s+CHF\s+8\.75\n/);
    expect(mail.text).toMatch(/Warning threshold\s+CHF\s+10\.00\n/);
    expect(mail.text).toMatch(/Current balance\s+CHF\s+8\.75\n/);
    expect(mail.text).toContain("top up the account");
    expect(mail.html).toContain("Acme &lt;AG&gt; &amp; Co");
    expect(mail.html).toContain("CHF 8.75");
    expect(mail.html).not.toContain("Acme <AG>");

    const sent = await db.prisma.notification.findUniqueOrThrow({ where: { id: row.id } });
    expect(sent).toMatchObject({ status: "SENT", attempts: 1, lastError: null });
    expect(sent.sentAt).not.toBeNull();
    expect((sent.payload as { delivery: { transport: string; messageId: string } }).delivery).toMatchObject({ transport: "smtp" });

    // The same crossing again is the same row: it cannot be queued twice.
    const settings = await db.prisma.settings.findUniqueOrThrow({ where: { mandateId } });
    const again = await db.prisma.notification.createMany({ data: [balanceWarningNotification(settings, event)!], skipDuplicates: true });
    expect(again.count).toBe(0);
    await Promise.all([w1.runOnce(), w2.runOnce()]);
    expect(mailsTo("ops@acme.test")).toHaveLength(1);
  });

  it("delivers each of many rows exactly once when two workers drain the outbox together", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["race@acme.test"] });
    const { accountId } = await creditAccount(b.ctx, { mandateId, amount: "50", description: "Top-up", idempotencyKey: key() });
    const start = b.clock.now().getTime();
    const events: BalanceWarningEvent[] = Array.from({ length: 12 }, (_, i) => ({
      type: "balanceWarning",
      mandateId,
      accountId,
      userId: null,
      available: `${i}.500000`,
      threshold: "5.000000",
      at: new Date(start - i * 1000).toISOString(),
    }));
    for (const event of events) await insertWarningRow(mandateId, event);
    const [w1, w2] = [worker(db, b), worker(other, b)];
    const outcomes = (await Promise.all([w1.runOnce(), w2.runOnce()])).flat().filter((o) => o.mandateId === mandateId);
    expect(outcomes.map((o) => o.status)).toEqual(Array(12).fill("SENT"));
    expect(new Set(outcomes.map((o) => o.id)).size).toBe(12);
    const mails = mailsTo("race@acme.test");
    expect(mails).toHaveLength(12);
    expect(mails.map((m) => `CHF ${/Available to spend\s+CHF\s+([\d.]+)/.exec(m.text)?.[1]}`).sort()).toEqual(
      events.map((e) => formatChf(e.available, "EN")).sort(),
    );
  });

  it("is written in German for a German mandate, on a user's account, and once per crossing: again only after a top-up", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_USER", { notifyEmails: ["finanzen@beispiel.test"] });
    await db.prisma.mandate.update({ where: { id: mandateId }, data: { name: "Beispiel GmbH", language: "DE" } });
    const w = worker(db, b);

    // bob's account opens with the default 10 CHF credit: threshold 10 % = 1.00.
    await recordUsage(b.ctx, { mandateId, userId: "bob", provider: "anthropic", model: "claude", cost: "9.5", idempotencyKey: key() });
    expect(warnings(b)).toHaveLength(1);
    const first = await insertWarningRow(mandateId, warnings(b)[0], { rawSql: true });
    expect(first).toMatchObject({ status: "PENDING", attempts: 0, nextAttemptAt: new Date(warnings(b)[0].at) });
    expect(first.payload).toMatchObject({ available: "0.500000", threshold: "1.000000", userId: "bob" });
    // Queued twice (a replay): still one row, and no error for the debit's transaction.
    await insertWarningRow(mandateId, warnings(b)[0], { rawSql: true });
    expect(await db.prisma.notification.count({ where: { mandateId } })).toBe(1);
    // Further debits while below the threshold: no new crossing, no new row.
    b.clock.advance(1000);
    await recordUsage(b.ctx, { mandateId, userId: "bob", provider: "anthropic", model: "claude", cost: "0.2", idempotencyKey: key() });
    expect(warnings(b)).toHaveLength(1);
    await w.runOnce();
    let mails = mailsTo("finanzen@beispiel.test");
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toBe("Saldo: tiefes Guthaben auf dem Konto von Benutzer bob von Beispiel GmbH");
    expect(mails[0].text).toContain("Das Konto von Benutzer bob von Beispiel GmbH ist auf oder unter die Warnschwelle gefallen.");
    expect(mails[0].text).toMatch(/Verfügbar\s+CHF\s+0\.50\n/);
    expect(mails[0].text).toMatch(/Warnschwelle\s+CHF\s+1\.00\n/);
    expect(mails[0].text).toMatch(/Aktuelles Guthaben\s+CHF\s+0\.30\n/);
    expect(mails[0].text).toContain("laden Sie das Konto auf");
    expect(mails[0].html).toContain("Verfügbar");

    // A top-up re-arms the warning; the next crossing is a new row and a new email.
    b.clock.advance(60_000);
    await creditAccount(b.ctx, { mandateId, userId: "bob", amount: "1234.5", description: "Aufladung", idempotencyKey: key() });
    b.clock.advance(60_000);
    await recordUsage(b.ctx, { mandateId, userId: "bob", provider: "anthropic", model: "claude", cost: "1120", idempotencyKey: key() });
    expect(warnings(b)).toHaveLength(2);
    const second = warnings(b)[1];
    expect(second).toMatchObject({ available: "114.800000", threshold: "123.480000" });
    await insertWarningRow(mandateId, second, { rawSql: true });
    await w.runOnce();
    mails = mailsTo("finanzen@beispiel.test");
    expect(mails).toHaveLength(2);
    expect(mails[1].text).toMatch(/Verfügbar\s+CHF\s+114\.80\n/);
    expect(mails[1].text).toMatch(/Warnschwelle\s+CHF\s+123\.48\n/);
  });

  it("is not queued when the mandate wants no warning emails", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const event: BalanceWarningEvent = {
      type: "balanceWarning",
      mandateId: "x",
      accountId: "a",
      userId: null,
      available: "1.000000",
      threshold: "2.000000",
      at: new Date().toISOString(),
    };
    const quiet = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["a@b.test"], notifyOnWarning: false });
    const nobody = await createMandate(b.ctx, "PREPAY_MANDATE", {});
    const settingsOf = (id: string) => db.prisma.settings.findUniqueOrThrow({ where: { mandateId: id } });
    expect(balanceWarningNotification(await settingsOf(quiet), { ...event, mandateId: quiet })).toBeNull();
    expect(balanceWarningNotification(await settingsOf(nobody), { ...event, mandateId: nobody })).toBeNull();
  });

  it("without SMTP_URL is written to the log, not lost, and recorded as SENT with a note", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["log@acme.test"] });
    await creditAccount(b.ctx, { mandateId, amount: "20", description: "Top-up", idempotencyKey: key() });
    await recordUsage(b.ctx, { mandateId, provider: "openai", model: "gpt-5", cost: "19", idempotencyKey: key() });
    const row = await insertWarningRow(mandateId, warnings(b)[0]);
    const printed: string[] = [];
    const w = createNotifier({
      db: db.prisma,
      sql: db.sql,
      mailer: createMailer({ from: FROM, log: (m) => printed.push(m) }),
      timeZone: TZ,
      now: b.clock.now,
      logger,
    });
    const outcomes = await w.runOnce();
    expect(outcomes.find((o) => o.id === row.id)?.status).toBe("SENT");
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain("SMTP_URL is not set");
    expect(printed[0]).toContain("To: log@acme.test");
    expect(printed[0]).toContain("Subject: Saldo: low balance on the shared account of");
    expect(printed[0]).toMatch(/Available to spend\s+CHF\s+1\.00/);
    const stored = await db.prisma.notification.findUniqueOrThrow({ where: { id: row.id } });
    expect(stored.status).toBe("SENT");
    expect((stored.payload as { delivery: { transport: string; note: string } }).delivery).toMatchObject({
      transport: "log",
      note: expect.stringContaining("SMTP_URL is not set"),
    });
    expect(mailsTo("log@acme.test")).toHaveLength(0);
  });

  it("is delivered at once after the warning event when started with startNotifications and watch()", async () => {
    const b = testBilling(db, { timeZone: TZ });
    const mandateId = await createMandate(b.ctx, "CREDIT_POSTPAY", { notifyEmails: ["kick@acme.test"] });
    const notifications = startNotifications({
      db: db.prisma,
      sql: db.sql,
      config: { SMTP_URL: smtp.url, MAIL_FROM: FROM, BILLING_TIME_ZONE: TZ },
      now: b.clock.now,
      logger,
      monthlyReports: false,
      // Far beyond the test: only the kick can deliver in time.
      worker: { intervalMs: 3600_000 },
    });
    try {
      await notifications.notifier.idle();
      const published: BillingEvent[] = [];
      const events = notifications.watch({ publish: (e) => published.push(e) });
      const account = await db.prisma.billingAccount.findFirst({ where: { mandateId } });
      expect(account).toBeNull();
      await recordUsage(b.ctx, { mandateId, provider: "openai", model: "gpt-5", cost: "1", idempotencyKey: key() });
      const { id: accountId } = await db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId } });
      await updateBillingAccount(b.ctx, { accountId, creditLimit: "500" });
      // A crossing is keyed by its instant: time passes between two of them.
      b.clock.advance(1000);
      await recordUsage(b.ctx, { mandateId, provider: "openai", model: "gpt-5", cost: "460", idempotencyKey: key() });
      // (The first debit, before the credit limit was set, warned already; the limit re-armed it.)
      const event = warnings(b)
        .filter((e) => e.mandateId === mandateId)
        .at(-1)!;
      expect(event).toMatchObject({ available: "39.000000", threshold: "50.000000" });
      // The ledger commits the row with the debit, then publishes the event.
      await insertWarningRow(mandateId, event);
      events.publish(event);
      expect(published).toEqual([event]);
      // Two crossings, two emails: the ledger owed one for the first debit too.
      const secondCrossing = () => mailsTo("kick@acme.test").find((m) => /Available to spend\s+CHF\s+39\.00/.test(m.text));
      await waitFor(() => secondCrossing() !== undefined, 10_000, "the warning email");
      expect(mailsTo("kick@acme.test")).toHaveLength(2);
      const mail = secondCrossing()!;
      expect(mail.text).toMatch(/Available to spend\s+CHF\s+39\.00\n/);
      expect(mail.text).toMatch(/Credit limit\s+CHF\s+500\.00\n/);
      expect(mail.text).toMatch(/Current balance\s+CHF\s+-461\.00\n/);
      expect(mail.text).toContain("raise the credit limit");
    } finally {
      await notifications.stop();
    }
  });
});

describe("amounts in emails", () => {
  it("are exact, grouped per language, with at least two fractional digits", () => {
    expect(formatChf("1234567.5", "EN")).toBe("CHF 1,234,567.50");
    expect(formatChf("1234567.5", "DE")).toBe("CHF 1'234'567.50");
    expect(formatChf("0.000125", "EN")).toBe("CHF 0.000125");
    expect(formatChf("-461.000000", "DE")).toBe("CHF -461.00");
    expect(formatChf("999.999999", "EN")).toBe("CHF 999.999999");
    expect(formatChf("-0.000000", "EN")).toBe("CHF 0.00");
  });
});
