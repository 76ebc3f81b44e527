// The outbox worker: claims due Notification rows one at a time, renders
// them from the database, sends them, and records the outcome. A failed send
// is retried with exponential backoff and, after the last attempt, marked
// FAILED. It runs on its own timer, outside every ledger transaction, so a
// slow or broken mail server never delays or rolls back a debit.
import type { BillingModel, Mandate, Notification, Prisma } from "@prisma/client";
import { type Db } from "../db/open.js";
import type { SqlExecutor } from "../db/executor.js";
import { log } from "../log.js";
import type { Mailer, SentMail } from "./mailer.js";
import type { BalanceWarningPayload, MonthlyReportPayload } from "../billing/shared/outbox.js";
import { claimDue, type Claim } from "./outbox.js";
import { buildMonthlyReport } from "./report.js";
import { renderBalanceWarning, renderMonthlyReport, type RenderedMail } from "./templates.js";

export interface RetryPolicy {
  /** Delay after the first failed attempt. */
  firstDelayMs: number;
  /** Each further delay is this many times the previous one... */
  factor: number;
  /** ...up to this. */
  maxDelayMs: number;
  /** After this many failed attempts the row is FAILED. */
  maxAttempts: number;
}

/** 30 s, 2 min, 8 min, 32 min, ~2 h, then every 6 h: about two days before giving up. */
export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 30_000, factor: 4, maxDelayMs: 6 * 3600_000, maxAttempts: 12 };

/** The wait after failed attempt number `attempt` (1, 2, ...). */
export function retryDelayMs(attempt: number, policy: RetryPolicy = DEFAULT_RETRY): number {
  return Math.min(policy.firstDelayMs * policy.factor ** Math.max(0, attempt - 1), policy.maxDelayMs);
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const notifyLog = log.child({ module: "notify" });

/** The process's log (src/log.ts), module "notify". */
export const defaultLogger: Logger = {
  info: (m) => notifyLog.info(m),
  warn: (m) => notifyLog.warn(m),
  error: (m) => notifyLog.error(m),
};

export interface NotifierOptions {
  db: Db;
  /** The money paths' executor (the monthly report's statistics read through it). */
  sql: SqlExecutor;
  mailer: Mailer;
  /** BILLING_TIME_ZONE: report months and the times shown in emails. */
  timeZone: string;
  now?: () => Date;
  retry?: Partial<RetryPolicy>;
  /** How long a claimed row is reserved for its sender (default 10 min; far above the SMTP timeouts). */
  leaseMs?: number;
  /** How often the worker looks for due rows on its own (default 15 s). */
  intervalMs?: number;
  /** Rows per run at most (default 100); a full batch is followed by another run. */
  batchSize?: number;
  logger?: Logger;
  /** Told every attempt's outcome (the metrics). */
  onOutcome?(outcome: DeliveryOutcome): void;
}

export interface DeliveryOutcome {
  id: string;
  mandateId: string;
  kind: Notification["kind"];
  dedupeKey: string;
  /** SENT; RETRY (failed, another attempt at nextAttemptAt); FAILED (gave up); LOST (another worker took over the row). */
  status: "SENT" | "RETRY" | "FAILED" | "LOST";
  attempts: number;
  error?: string;
  nextAttemptAt?: Date;
  delivery?: Delivery;
}

/** What is recorded in the row's payload under "delivery" once it is SENT. */
export interface Delivery {
  transport: "smtp" | "log" | "none";
  messageId?: string;
  to: string[];
  accepted?: string[];
  rejected?: string[];
  note?: string;
  at: string;
}

export interface Notifier {
  /** Delivers every due row (up to batchSize); resolves with what happened to each. */
  runOnce(): Promise<DeliveryOutcome[]>;
  /** Delivers this one row if it is PENDING and due; null otherwise. */
  deliver(id: string): Promise<DeliveryOutcome | null>;
  /** Asks for a run soon (coalesced with one under way). */
  kick(): void;
  /** Starts the interval timer (unref'd: it never keeps the process alive). */
  start(): void;
  /** Stops the timer and waits for the delivery under way. */
  stop(): Promise<void>;
  /** Resolves when no kicked run is under way. */
  idle(): Promise<void>;
}

const MAX_ERROR_LENGTH = 1000;

export function createNotifier(options: NotifierOptions): Notifier {
  const { db, sql, mailer, timeZone } = options;
  const now = options.now ?? (() => new Date());
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const leaseMs = options.leaseMs ?? 10 * 60_000;
  const intervalMs = options.intervalMs ?? 15_000;
  const batchSize = options.batchSize ?? 100;
  const logger = options.logger ?? defaultLogger;

  let timer: NodeJS.Timeout | null = null;
  let loop: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  async function render(row: Notification & { mandate: Mandate }, billingModel: BillingModel): Promise<RenderedMail> {
    if (row.kind === "BALANCE_WARNING") {
      const payload = row.payload as unknown as BalanceWarningPayload;
      const account = await db.billingAccount.findUnique({ where: { id: payload.accountId } });
      return renderBalanceWarning({
        mandateId: row.mandateId,
        mandateName: row.mandate.name,
        language: row.mandate.language,
        billingModel,
        userId: account ? account.userId : payload.userId,
        available: payload.available,
        threshold: payload.threshold,
        at: new Date(payload.at),
        currentBalance: account ? account.balance.toFixed(6) : null,
        creditLimit: account?.creditLimit ? account.creditLimit.toFixed(6) : null,
        timeZone,
        autoTopUpFailure: payload.autoTopUpFailure ?? null,
      });
    }
    const payload = row.payload as unknown as Partial<MonthlyReportPayload>;
    const report = await buildMonthlyReport(
      { prisma: db, sql },
      { mandateId: row.mandateId, month: payload.month ?? row.dedupeKey, timeZone },
    );
    return renderMonthlyReport(report);
  }

  const describe = (row: { kind: string; dedupeKey: string; mandateId: string }) =>
    `${row.kind} ${row.dedupeKey} of mandate ${row.mandateId}`;

  async function attempt(claim: Claim): Promise<DeliveryOutcome> {
    const row = await db.notification.findUniqueOrThrow({
      where: { id: claim.id },
      include: { mandate: { include: { settings: true } } },
    });
    const base = { id: row.id, mandateId: row.mandateId, kind: row.kind, dedupeKey: row.dedupeKey, attempts: claim.attempts };
    const recipients = row.mandate.settings?.notifyEmails ?? [];
    let delivery: Delivery;
    try {
      if (recipients.length === 0) {
        delivery = { transport: "none", to: [], note: "notifyEmails is empty: nobody to send to", at: now().toISOString() };
        logger.warn(`${describe(row)}: notifyEmails is empty, nothing sent`);
      } else {
        const mail = await render(row, row.mandate.settings?.billingModel ?? "PREPAY_MANDATE");
        const sent: SentMail = await mailer.send({ ...mail, to: recipients });
        delivery = {
          transport: sent.transport,
          messageId: sent.messageId,
          to: recipients,
          accepted: sent.accepted,
          rejected: sent.rejected,
          ...(sent.transport === "log" ? { note: "SMTP_URL is not set: the message was written to the log, not sent" } : {}),
          at: now().toISOString(),
        };
      }
    } catch (error) {
      return failed(base, error);
    }
    // Sent: record it. Only while the lease is still ours (attempts unchanged).
    const payload = { ...((row.payload as Prisma.JsonObject | null) ?? {}), delivery: { ...delivery } } as Prisma.InputJsonObject;
    const { count } = await db.notification.updateMany({
      where: { id: row.id, status: "PENDING", attempts: claim.attempts },
      data: { status: "SENT", sentAt: now(), lastError: null, payload },
    });
    if (count === 0) {
      logger.warn(`${describe(row)}: sent, but another worker had taken the row over (lease expired)`);
      return { ...base, status: "LOST", delivery };
    }
    if (delivery.transport !== "none")
      logger.info(`${describe(row)} sent to ${recipients.join(", ")} (${delivery.transport}, attempt ${claim.attempts})`);
    return { ...base, status: "SENT", delivery };
  }

  async function failed(base: Omit<DeliveryOutcome, "status">, error: unknown): Promise<DeliveryOutcome> {
    const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
    const giveUp = base.attempts >= retry.maxAttempts;
    const nextAttemptAt = new Date(now().getTime() + retryDelayMs(base.attempts, retry));
    const { count } = await db.notification.updateMany({
      where: { id: base.id, status: "PENDING", attempts: base.attempts },
      data: giveUp ? { status: "FAILED", lastError: message } : { lastError: message, nextAttemptAt },
    });
    if (count === 0) return { ...base, status: "LOST", error: message };
    const what = `${base.kind} ${base.dedupeKey} of mandate ${base.mandateId}`;
    if (giveUp) {
      logger.error(`${what} FAILED after ${base.attempts} attempts, not retried: ${message}`);
      return { ...base, status: "FAILED", error: message };
    }
    logger.warn(`${what}: attempt ${base.attempts} failed (${message}); next attempt at ${nextAttemptAt.toISOString()}`);
    return { ...base, status: "RETRY", error: message, nextAttemptAt };
  }

  async function claimAndAttempt(id?: string): Promise<DeliveryOutcome | null> {
    const at = now();
    const claim = await claimDue(db, { now: at, leaseUntil: new Date(at.getTime() + leaseMs), id });
    if (!claim) return null;
    const outcome = await attempt(claim);
    options.onOutcome?.(outcome);
    return outcome;
  }

  async function runOnce(): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    while (outcomes.length < batchSize && !stopped) {
      const outcome = await claimAndAttempt();
      if (!outcome) break;
      outcomes.push(outcome);
    }
    if (outcomes.length >= batchSize) again = true;
    return outcomes;
  }

  function kick() {
    if (stopped) return;
    again = true;
    if (loop) return;
    loop = (async () => {
      while (again && !stopped) {
        again = false;
        try {
          await runOnce();
        } catch (error) {
          logger.error(`delivery run failed: ${(error as Error).message}`);
        }
      }
    })().finally(() => {
      loop = null;
    });
  }

  return {
    runOnce,
    deliver: (id) => claimAndAttempt(id),
    kick,
    start() {
      if (timer || stopped) return;
      timer = setInterval(kick, intervalMs);
      timer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await loop;
    },
    idle: async () => {
      while (loop) await loop;
    },
  };
}
