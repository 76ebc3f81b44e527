// Previews or sends one monthly report:
//   npm run report -- --mandate acme --month 2026-10          prints it (text)
//   npm run report -- --mandate acme --month 2026-10 --html   prints its HTML
//   npm run report -- --mandate acme --month 2026-10 --send   sends it, once
// --send goes through the same outbox as the server (the same row, the same
// dedupeKey), so a report that was sent already is never sent again.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.js";
import { DatabaseOpenError, openDatabase } from "../src/db/open.js";
import {
  buildMonthlyReport,
  createMailer,
  createNotifier,
  MandateNotFoundError,
  monthEnded,
  parseMonth,
  queueMonthlyReports,
  renderMonthlyReport,
} from "../src/notify/index.js";

const USAGE = "usage: npm run report -- --mandate <id> --month <YYYY-MM> [--send] [--html]";

class UsageError extends Error {}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        mandate: { type: "string" },
        month: { type: "string" },
        send: { type: "boolean", default: false },
        html: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.mandate || !args.month) throw new UsageError("--mandate and --month are required");
  try {
    parseMonth(args.month);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const mandateId = args.mandate;
  const month = args.month;

  const config = loadConfig();
  const timeZone = config.BILLING_TIME_ZONE;
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.SALDO_DATA_DIR, poolSize: 2 });
  try {
    const db = database.prisma;
    const mandate = await db.mandate.findUnique({ where: { id: mandateId }, include: { settings: true } });
    if (!mandate) throw new MandateNotFoundError(`Mandate "${mandateId}" does not exist`);
    const ended = monthEnded(month, new Date(), timeZone);

    if (!args.send) {
      const mail = renderMonthlyReport(await buildMonthlyReport(database, { mandateId, month, timeZone }));
      if (!ended) console.log(`(preview: ${month} is not over yet in ${timeZone}; its figures may still change)\n`);
      console.log(`Subject: ${mail.subject}\n`);
      console.log(args.html ? mail.html : mail.text);
      return 0;
    }

    if (!ended) {
      console.error(`${month} is not over yet in ${timeZone}: its report can be sent from the 1st of the next month on.`);
      return 1;
    }
    if (!config.SMTP_URL) {
      // The server logs emails without SMTP_URL and counts them as sent; a
      // report sent by hand should reach someone, so it needs a mail server.
      console.error(
        "SMTP_URL is not set: --send needs a mail server (SMTP_URL=smtp://user:pass@host:587). Without --send the report is only printed.",
      );
      return 1;
    }
    const recipients = mandate.settings?.notifyEmails ?? [];
    if (recipients.length === 0) {
      console.error(`Mandate "${mandateId}" has no notifyEmails: set them in its settings first.`);
      return 1;
    }
    await queueMonthlyReports(db, { month, timeZone, now: new Date(), mandateIds: [mandateId] });
    const key = { mandateId_kind_dedupeKey: { mandateId, kind: "MONTHLY_REPORT" as const, dedupeKey: month } };
    let row = await db.notification.findUniqueOrThrow({ where: key });
    if (row.status === "SENT") {
      console.log(`The report ${month} of ${mandateId} was sent already, on ${row.sentAt?.toISOString()}: not sending it again.`);
      return 0;
    }
    if (row.status === "FAILED") {
      // Never delivered: asking for it by hand starts its attempts over.
      await db.notification.updateMany({
        where: { id: row.id, status: "FAILED" },
        data: { status: "PENDING", attempts: 0, nextAttemptAt: new Date() },
      });
      console.log(`The report had FAILED earlier (${row.lastError}); trying again.`);
    }
    const mailer = createMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM });
    try {
      const notifier = createNotifier({ db, sql: database.sql, mailer, timeZone });
      const outcome = await notifier.deliver(row.id);
      row = await db.notification.findUniqueOrThrow({ where: key });
      if (!outcome) {
        console.log(
          row.status === "SENT"
            ? `The report was sent meanwhile (by a running server), on ${row.sentAt?.toISOString()}.`
            : `The report is queued; its next attempt is due at ${row.nextAttemptAt.toISOString()}` +
                (row.lastError ? ` (last error: ${row.lastError})` : "") +
                ". A running server delivers it then.",
        );
        return row.status === "SENT" ? 0 : 1;
      }
      if (outcome.status === "SENT") {
        console.log(`Sent the report ${month} of ${mandateId} to ${recipients.join(", ")}.`);
        return 0;
      }
      console.error(
        `Sending failed: ${outcome.error}. ` +
          (outcome.status === "RETRY"
            ? `It stays queued; a running server retries at ${outcome.nextAttemptAt?.toISOString()}.`
            : "It is marked FAILED."),
      );
      return 1;
    } finally {
      mailer.close();
    }
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof ConfigError || error instanceof DatabaseOpenError || error instanceof MandateNotFoundError) {
      console.error(error.message);
    } else {
      console.error("report failed:", error);
    }
    process.exit(1);
  },
);
