// Email: balance warnings and monthly reports, through the Notification
// outbox. startNotifications runs the outbox worker and the monthly
// scheduler of one server instance; any number of instances may run them.
import { type BillingEvents } from "../billing/shared/context.js";
import type { Config } from "../config.js";
import { type Db } from "../db/open.js";
import type { SqlExecutor } from "../db/executor.js";
import { createMailer, type Mailer } from "./mailer.js";
import { createNotifier, defaultLogger, type Logger, type Notifier, type NotifierOptions } from "./notifier.js";
import { createReportScheduler, type ReportScheduler } from "./scheduler.js";

export * from "./format.js";
export * from "./mailer.js";
export * from "./notifier.js";
export * from "./outbox.js";
export * from "./report.js";
export * from "./scheduler.js";
export * from "./templates.js";
export * from "./time.js";

export interface NotificationDeps {
  db: Db;
  /** The money paths' executor (the monthly report's statistics read through it). */
  sql: SqlExecutor;
  config: Pick<Config, "SMTP_URL" | "MAIL_FROM" | "BILLING_TIME_ZONE">;
  /** The clock (tests); real time by default. */
  now?: () => Date;
  /** Another mailer than the one SMTP_URL configures (tests). */
  mailer?: Mailer;
  logger?: Logger;
  /** Told every delivery attempt's outcome (the metrics). */
  onOutcome?: NotifierOptions["onOutcome"];
  /** Worker settings: interval, retry policy, lease (tests shorten them). */
  worker?: Pick<NotifierOptions, "intervalMs" | "retry" | "leaseMs" | "batchSize">;
  /** Run the monthly report job and its catch-up at start (default true). */
  monthlyReports?: boolean;
}

export interface Notifications {
  notifier: Notifier;
  scheduler: ReportScheduler;
  /** Resolves once the start-up catch-up of monthly reports has been queued. */
  ready: Promise<void>;
  /** Asks the worker to deliver due notifications now. */
  kick(): void;
  /**
   * Wraps the billing domain's event sink so that a balanceWarning (its
   * outbox row is committed by then) is delivered at once instead of at the
   * worker's next interval.
   */
  watch(events: BillingEvents): BillingEvents;
  /** Stops the scheduler and the worker, waiting for a delivery under way. */
  stop(): Promise<void>;
}

let warnedAboutLog = false;

export function startNotifications(deps: NotificationDeps): Notifications {
  const logger = deps.logger ?? defaultLogger;
  const timeZone = deps.config.BILLING_TIME_ZONE;
  const ownMailer = !deps.mailer;
  const mailer = deps.mailer ?? createMailer({ smtpUrl: deps.config.SMTP_URL, from: deps.config.MAIL_FROM });
  if (mailer.transport === "log" && !warnedAboutLog) {
    warnedAboutLog = true;
    logger.warn("SMTP_URL is not set: emails are written to the log, not sent");
  }
  const notifier = createNotifier({
    db: deps.db,
    sql: deps.sql,
    mailer,
    timeZone,
    now: deps.now,
    logger,
    onOutcome: deps.onOutcome,
    ...deps.worker,
  });
  const scheduler = createReportScheduler({ db: deps.db, timeZone, now: deps.now, logger, onQueued: () => notifier.kick() });
  notifier.start();
  const ready = deps.monthlyReports === false ? Promise.resolve() : scheduler.start();
  let stopped = false;
  return {
    notifier,
    scheduler,
    ready,
    kick: () => notifier.kick(),
    watch: (events) => ({
      publish(event) {
        events.publish(event);
        if (event.type === "balanceWarning" || event.type === "autoTopUpFailed") notifier.kick();
      },
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      scheduler.stop();
      await ready;
      await notifier.stop();
      if (ownMailer) mailer.close();
    },
  };
}
