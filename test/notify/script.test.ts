// `npm run report`: previews a report, sends it once through the outbox (a
// second --send sends nothing), and says clearly what is wrong otherwise.
// Runs the real script in a child process against the configured database.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordUsage } from "../../src/billing/usage/record.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { addMonths, monthOf, monthRange } from "../../src/notify/index.js";
import { createMandate, testBilling } from "../support/billing.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../support/db.js";
import { startSmtp, type TestSmtp } from "./smtp.js";

const TZ = "Europe/Zurich";
const ROOT = path.resolve(import.meta.dirname, "../..");
// A month that is over whenever the test runs.
const MONTH = addMonths(monthOf(new Date(), TZ), -2);
// Each run starts a process that loads Prisma and opens the database: a few seconds each.
const SLOW = 120_000;

let smtp: TestSmtp;
let pg: TestDatabase | undefined;
let dataDir: string | undefined;
let env: Record<string, string>;
let mandateId: string;

/** The database the script will open: PostgreSQL by URL, or PGlite in a folder (closed again before the script opens it). */
async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  if (pg) return work(pg);
  const db = await openDatabase({ dataDir });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  smtp = await startSmtp();
  if (testDatabaseKind === "postgres") {
    pg = await createTestDatabase();
    env = { DATABASE_URL: pg.url! };
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), "saldo-report-"));
    env = { SALDO_DATA_DIR: dataDir };
  }
  env = { ...env, SMTP_URL: smtp.url, MAIL_FROM: "Saldo <billing@saldo.test>", BILLING_TIME_ZONE: TZ };
  mandateId = await withDatabase(async (db) => {
    const b = testBilling(db, { timeZone: TZ });
    const id = await createMandate(b.ctx, "PREPAY_MANDATE", { notifyEmails: ["script@acme.test"], notifyOnWarning: false });
    await db.prisma.mandate.update({ where: { id }, data: { name: "Script AG" } });
    const { start } = monthRange(MONTH, TZ);
    b.clock.set(new Date(start.getTime() + 9 * 86400_000));
    await recordUsage(b.ctx, { mandateId: id, userId: "ann", provider: "openai", model: "m", cost: "5", idempotencyKey: "s-1" });
    b.clock.advance(3600_000);
    await recordUsage(b.ctx, { mandateId: id, userId: "ann", provider: "anthropic", model: "m", cost: "0.25", idempotencyKey: "s-2" });
    return id;
  });
}, SLOW);

afterAll(async () => {
  await pg?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await smtp?.close();
});

function report(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !["DATABASE_URL", "SALDO_DATA_DIR", "SMTP_URL", "TEST_DATABASE_URL"].includes(name)),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/report.ts", ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run report", () => {
  it(
    "rejects a bad month and an unknown mandate with a clear message",
    async () => {
      const [bad, unknown] = await Promise.all([
        report("--mandate", "x", "--month", "2026-13"),
        report("--mandate", "no-such-mandate", "--month", MONTH),
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('"2026-13" is not a month: use YYYY-MM');
      expect(bad.stderr).toContain("usage: npm run report");
      expect(unknown.stderr).toContain('Mandate "no-such-mandate" does not exist');
      expect(unknown.code).toBe(1);
    },
    SLOW,
  );

  it(
    "prints the report, then sends it once: a second --send sends nothing",
    async () => {
      const preview = await report("--mandate", mandateId, "--month", MONTH);
      expect(preview.stderr).toBe("");
      expect(preview.code).toBe(0);
      expect(preview.stdout).toContain("Subject: Saldo: monthly report");
      expect(preview.stdout).toMatch(/Spend in \w+ \d{4}: CHF\s+5\.25 \(2 calls\)/);
      expect(preview.stdout).toMatch(/\n {2}ann\s+CHF\s+5\.25 {2}\(2 calls\)\n/);
      expect(smtp.messages).toHaveLength(0);

      const sent = await report("--mandate", mandateId, "--month", MONTH, "--send");
      expect(sent.stderr).toBe("");
      expect(sent.code).toBe(0);
      expect(sent.stdout).toContain(`Sent the report ${MONTH} of ${mandateId} to script@acme.test`);
      expect(smtp.messages).toHaveLength(1);
      expect(smtp.messages[0].text).toContain("Script AG");
      expect(smtp.messages[0].text).toMatch(/CHF\s+5\.25 \(2 calls\)/);

      const again = await report("--mandate", mandateId, "--month", MONTH, "--send");
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("was sent already");
      expect(smtp.messages).toHaveLength(1);

      if (pg) {
        const row = await pg.prisma.notification.findUniqueOrThrow({
          where: { mandateId_kind_dedupeKey: { mandateId, kind: "MONTHLY_REPORT", dedupeKey: MONTH } },
        });
        expect(row).toMatchObject({ status: "SENT", attempts: 1 });
      }
    },
    SLOW,
  );
});
