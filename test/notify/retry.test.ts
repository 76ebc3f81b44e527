// A mail server that refuses, is down or hangs loses nothing: the report
// stays in the outbox, is retried with exponential backoff (on a controlled
// clock) and sent once the server is back; the ledger meanwhile is never
// held up; after the last attempt the row is FAILED and the failure logged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import {
  claimDue,
  createMailer,
  createNotifier,
  DEFAULT_RETRY,
  queueMonthlyReports,
  retryDelayMs,
  type Logger,
  type NotifierOptions,
} from "../../src/notify/index.js";
import { createMandate, testBilling, type TestBilling } from "../support/billing.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { startSilentServer, startSmtp, type TestSmtp } from "./smtp.js";

const TZ = "Europe/Zurich";
const FROM = "Saldo <billing@saldo.test>";
const MONTH = "2030-10";

let db: TestDatabase;
let smtp: TestSmtp;
const logs: string[] = [];
const logger: Logger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(`ERROR ${m}`) };

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
});
afterAll(async () => {
  await db?.close();
  await smtp?.close();
});

let keys = 0;
const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

/** A mandate with some October spend and its October report queued at 1 Nov, 06:30 (Zurich). */
async function queuedReport(address: string) {
  const b = testBilling(db, { timeZone: TZ });
  const mandateId = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: [address], notifyOnWarning: false });
  b.clock.set("2030-10-10T10:00:00Z");
  await recordUsage(b.ctx, { mandateId, provider: "openai", model: "m", cost: "3.75", idempotencyKey: `q-${++keys}` });
  b.clock.set("2030-11-01T05:30:00Z");
  expect(await queueMonthlyReports(db.prisma, { month: MONTH, timeZone: TZ, now: b.clock.now(), mandateIds: [mandateId] })).toBe(1);
  const row = () =>
    db.prisma.notification.findUniqueOrThrow({
      where: { mandateId_kind_dedupeKey: { mandateId, kind: "MONTHLY_REPORT", dedupeKey: MONTH } },
    });
  return { b, mandateId, row };
}

function worker(b: TestBilling, options: Partial<NotifierOptions> = {}) {
  return createNotifier({
    db: db.prisma,
    sql: db.sql,
    mailer: createMailer({ smtpUrl: smtp.url, from: FROM }),
    timeZone: TZ,
    now: b.clock.now,
    logger,
    ...options,
  });
}

describe("a failing mail server", () => {
  it("backs off exponentially while the server refuses, and sends the report once after it recovers", async () => {
    expect([1, 2, 3, 4, 5, 6, 12].map((n) => retryDelayMs(n))).toEqual([
      30_000, 120_000, 480_000, 1_920_000, 7_680_000, 21_600_000, 21_600_000,
    ]);
    const { b, row } = await queuedReport("refused@acme.test");
    const w = worker(b);
    smtp.mode = "reject";
    try {
      const [first] = await w.runOnce();
      expect(first).toMatchObject({ status: "RETRY", attempts: 1 });
      expect(first.error).toMatch(/451/);
      let stored = await row();
      expect(stored).toMatchObject({ status: "PENDING", attempts: 1 });
      expect(stored.lastError).toMatch(/Mailbox temporarily unavailable/);
      expect(stored.nextAttemptAt.getTime() - b.clock.now().getTime()).toBe(30_000);

      // Not before its time.
      b.clock.advance(29_000);
      expect(await w.runOnce()).toEqual([]);
      b.clock.advance(1_000);
      const [second] = await w.runOnce();
      expect(second).toMatchObject({ status: "RETRY", attempts: 2 });
      stored = await row();
      expect(stored.nextAttemptAt.getTime() - b.clock.now().getTime()).toBe(120_000);
      expect(mailsTo("refused@acme.test")).toHaveLength(0);

      // The server accepts mail again.
      smtp.mode = "accept";
      b.clock.advance(119_000);
      expect(await w.runOnce()).toEqual([]);
      b.clock.advance(1_000);
      const [third] = await w.runOnce();
      expect(third).toMatchObject({ status: "SENT", attempts: 3 });
    } finally {
      smtp.mode = "accept";
    }
    const stored = await row();
    expect(stored).toMatchObject({ status: "SENT", attempts: 3, lastError: null });
    const mails = mailsTo("refused@acme.test");
    expect(mails).toHaveLength(1);
    expect(mails[0].text).toContain("Spend in October 2030: CHF 3.75 (1 call)");
    b.clock.advance(3600_000);
    expect(await w.runOnce()).toEqual([]);
    expect(mailsTo("refused@acme.test")).toHaveLength(1);
    expect(logs.some((l) => l.includes("attempt 1 failed") && l.includes("next attempt at"))).toBe(true);
  });

  it("keeps the report while the server is down and sends it after it is back", async () => {
    const { b, row } = await queuedReport("down@acme.test");
    const w = worker(b);
    await smtp.down();
    try {
      const [first] = await w.runOnce();
      expect(first).toMatchObject({ status: "RETRY", attempts: 1 });
      expect(first.error).toMatch(/ECONNREFUSED/);
    } finally {
      await smtp.up();
    }
    b.clock.advance(DEFAULT_RETRY.firstDelayMs);
    const [second] = await w.runOnce();
    expect(second).toMatchObject({ status: "SENT", attempts: 2 });
    expect(await row()).toMatchObject({ status: "SENT" });
    expect(mailsTo("down@acme.test")).toHaveLength(1);
  });

  it("never holds up the ledger: debits go through while a send hangs, and the hung attempt is retried", async () => {
    const { b, mandateId, row } = await queuedReport("hung@acme.test");
    const silent = await startSilentServer();
    try {
      const w = createNotifier({
        db: db.prisma,
        sql: db.sql,
        mailer: createMailer({ smtpUrl: silent.url, from: FROM, timeouts: { greeting: 3000 } }),
        timeZone: TZ,
        now: b.clock.now,
        logger,
      });
      let settled = false;
      const delivery = w.runOnce().finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await creditAccount(b.ctx, { mandateId, amount: "10", description: "Top-up", idempotencyKey: `h-${++keys}` });
      for (let i = 0; i < 5; i++) {
        await recordUsage(b.ctx, { mandateId, provider: "openai", model: "m", cost: "0.1", idempotencyKey: `h-${++keys}` });
      }
      // All booked while the send still waits for the server's greeting.
      expect(settled).toBe(false);
      const [outcome] = await delivery;
      expect(outcome).toMatchObject({ status: "RETRY", attempts: 1 });
      expect(outcome.error).toMatch(/Greeting never received|timeout/i);
    } finally {
      await silent.close();
    }
    b.clock.advance(DEFAULT_RETRY.firstDelayMs);
    const [retried] = await worker(b).runOnce();
    expect(retried).toMatchObject({ status: "SENT", attempts: 2 });
    expect(await row()).toMatchObject({ status: "SENT" });
    expect(mailsTo("hung@acme.test")).toHaveLength(1);
  });

  it("takes a row over from a worker that died mid-send once its lease ends", async () => {
    const { b, row } = await queuedReport("lease@acme.test");
    const leaseMs = 10 * 60_000;
    // A worker claims the row and dies before it records anything.
    const now = b.clock.now();
    const claim = await claimDue(db.prisma, { now, leaseUntil: new Date(now.getTime() + leaseMs) });
    expect(claim).toMatchObject({ attempts: 1 });
    const w = worker(b, { leaseMs });
    b.clock.advance(leaseMs - 1000);
    expect(await w.runOnce()).toEqual([]);
    b.clock.advance(1000);
    const [outcome] = await w.runOnce();
    expect(outcome).toMatchObject({ status: "SENT", attempts: 2 });
    expect(await row()).toMatchObject({ status: "SENT" });
    expect(mailsTo("lease@acme.test")).toHaveLength(1);
  });

  it("marks the row FAILED after the last attempt and logs it", async () => {
    const { b, row } = await queuedReport("failed@acme.test");
    const w = worker(b, { retry: { maxAttempts: 3 } });
    smtp.mode = "reject";
    try {
      expect((await w.runOnce())[0]).toMatchObject({ status: "RETRY", attempts: 1 });
      b.clock.advance(retryDelayMs(1));
      expect((await w.runOnce())[0]).toMatchObject({ status: "RETRY", attempts: 2 });
      b.clock.advance(retryDelayMs(2));
      expect((await w.runOnce())[0]).toMatchObject({ status: "FAILED", attempts: 3 });
      b.clock.advance(24 * 3600_000);
      expect(await w.runOnce()).toEqual([]);
    } finally {
      smtp.mode = "accept";
    }
    const stored = await row();
    expect(stored).toMatchObject({ status: "FAILED", attempts: 3, sentAt: null });
    expect(stored.lastError).toMatch(/451/);
    expect(logs.some((l) => l.startsWith("ERROR MONTHLY_REPORT 2030-10") && l.includes("FAILED after 3 attempts"))).toBe(true);
    expect(mailsTo("failed@acme.test")).toHaveLength(0);
  });
});
