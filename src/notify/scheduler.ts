// Monthly reports: on the 1st of each month at 06:00 in the billing time zone
// (croner), and once at start to catch up when the server was down at that
// hour, last month's report of every mandate with notifyEmails is queued in
// the outbox. Queuing is idempotent (one row per mandate and month), so
// restarts and several instances never send a report twice.
import { Cron } from "croner";
import { type Db } from "../db/open.js";
import { defaultLogger, type Logger } from "./notifier.js";
import { queueMonthlyReports } from "./outbox.js";
import { dueReportMonth, REPORT_HOUR } from "./time.js";

/** 06:00 on the 1st of every month (minute hour day-of-month month day-of-week). */
export const MONTHLY_REPORT_CRON = `0 ${REPORT_HOUR} 1 * *`;

export interface ReportSchedulerOptions {
  db: Db;
  timeZone: string;
  now?: () => Date;
  /** Called with the number of newly queued reports (> 0), e.g. to kick the worker. */
  onQueued?: (count: number) => void;
  logger?: Logger;
}

export interface ReportScheduler {
  /** Queues the report of `month` (YYYY-MM) for every mandate with notifyEmails; returns how many were new. */
  queue(month: string): Promise<number>;
  /** Queues the latest month whose report is due now (last month after the 1st, 06:00). */
  catchUp(): Promise<number>;
  /** Starts the monthly job and runs one catch-up; resolves when the catch-up is done (errors are logged). */
  start(): Promise<void>;
  /** When the monthly job runs next after `from`. */
  nextRun(from?: Date): Date | null;
  stop(): void;
}

export function createReportScheduler(options: ReportSchedulerOptions): ReportScheduler {
  const { db, timeZone } = options;
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? defaultLogger;
  let job: Cron | null = null;
  // Only for nextRun(): the pattern and zone, without a function (no timer).
  const pattern = new Cron(MONTHLY_REPORT_CRON, { timezone: timeZone });

  async function queue(month: string): Promise<number> {
    const count = await queueMonthlyReports(db, { month, timeZone, now: now() });
    if (count > 0) {
      logger.info(`queued ${count} monthly report(s) for ${month}`);
      options.onQueued?.(count);
    }
    return count;
  }

  const catchUp = () => queue(dueReportMonth(now(), timeZone));

  const logged = (what: string) => (error: unknown) => {
    logger.error(`${what} failed: ${(error as Error).message}`);
    return 0;
  };

  return {
    queue,
    catchUp,
    async start() {
      if (job) return;
      job = new Cron(
        MONTHLY_REPORT_CRON,
        { timezone: timeZone, unref: true, protect: true, catch: logged("queuing the monthly reports") },
        // The month follows from the run's scheduled time (06:00 on the 1st, local), not the clock.
        async (self: Cron) => void (await queue(dueReportMonth(self.currentRun() ?? now(), timeZone))),
      );
      await catchUp().catch(logged("catching up on monthly reports"));
    },
    nextRun: (from) => pattern.nextRun(from ?? now()),
    stop() {
      job?.stop();
      job = null;
    },
  };
}
