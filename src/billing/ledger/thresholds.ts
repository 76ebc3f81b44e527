// The marks on what an account may still spend: the low-balance warning
// (fires once when it falls to or below the account's threshold, re-arms
// when it rises above again) and the automatic top-up's mark.
import type { Settings } from "@prisma/client";
import type { BalanceWarningEvent } from "../shared/context.js";
import { Decimal, formatMoney, roundMoney, ZERO } from "../shared/money.js";
import { balanceWarningNotification } from "../shared/outbox.js";
import { spendable, type LockedAccount } from "./accounts.js";
import type { Booking } from "./booking.js";

/**
 * The account's threshold in CHF: the admin's value if set, otherwise
 * warningThresholdPercent of the credit limit (postpay) or of the balance
 * right after the latest top-up (prepaid). null for UNLIMITED: it never warns.
 */
export function warningThreshold(
  account: Pick<LockedAccount, "warningThreshold" | "creditLimit" | "lastTopUpBalance">,
  settings: Pick<Settings, "billingModel" | "warningThresholdPercent">,
): Decimal | null {
  if (settings.billingModel === "UNLIMITED") return null;
  if (account.warningThreshold !== null) return new Decimal(account.warningThreshold.toString());
  const base = settings.billingModel === "CREDIT_POSTPAY" ? account.creditLimit : account.lastTopUpBalance;
  if (base === null || new Decimal(base.toString()).isNegative()) return ZERO;
  return roundMoney(new Decimal(base.toString()).times(settings.warningThresholdPercent.toString()).dividedBy(100));
}

/**
 * Re-arms a warning that fired when the account, as just read, is above its
 * threshold again: a hold that expired since gives its amount back without
 * any move, so the next move that crosses must warn again. Never fires.
 */
export function rearmWarning(b: Booking, account: LockedAccount, settings: Settings): void {
  if (!account.isWarning || isBelowThreshold(account, settings)) return;
  account.isWarning = false;
  b.writes.account(account);
}

/** Whether what the account may spend is at or below its warning threshold (never, for UNLIMITED). */
export function isBelowThreshold(
  account: Pick<LockedAccount, "balance" | "held" | "creditLimit" | "warningThreshold" | "lastTopUpBalance">,
  settings: Pick<Settings, "billingModel" | "warningThresholdPercent">,
): boolean {
  const threshold = warningThreshold(account, settings);
  const available = spendable(account, settings.billingModel);
  return threshold !== null && available !== null && available.lessThanOrEqualTo(threshold);
}

/**
 * The warning state as readers see it: fired and not re-armed. A warning
 * whose account is above its threshold again (a hold expired) reads as off
 * even before a move re-arms it in the database.
 */
export function showsWarning(
  account: Pick<LockedAccount, "isWarning" | "balance" | "held" | "creditLimit" | "warningThreshold" | "lastTopUpBalance">,
  settings: Pick<Settings, "billingModel" | "warningThresholdPercent">,
): boolean {
  return account.isWarning && isBelowThreshold(account, settings);
}

/**
 * Compares the account's final state in this transaction with its threshold
 * and flips the warning flag when it crosses. Call it last, on the state the
 * transaction will commit, while the account row is still locked.
 */
export function evaluateWarning(b: Booking, account: LockedAccount, settings: Settings): void {
  const threshold = warningThreshold(account, settings);
  const available = spendable(account, settings.billingModel);
  if (threshold === null || available === null) return;
  const below = available.lessThanOrEqualTo(threshold);
  if (below === account.isWarning) return;
  account.isWarning = below;
  if (below) account.lastWarningAt = b.now;
  b.writes.account(account);
  if (below) {
    const warning: BalanceWarningEvent = {
      type: "balanceWarning",
      mandateId: account.mandateId,
      accountId: account.id,
      userId: account.userId,
      available: formatMoney(available),
      threshold: formatMoney(threshold),
      at: b.now.toISOString(),
    };
    b.emit(warning);
    // The email is owed from the moment the crossing commits: its outbox row
    // commits with it, or neither does (src/notify sends it afterwards).
    const email = balanceWarningNotification(settings, warning);
    if (email) b.writes.notification(email);
  }
}

/** Only prepaid accounts are topped up; postpaid ones are invoiced, unlimited ones never run out. */
const PREPAID = new Set(["PREPAY_MANDATE", "PREPAY_USER"]);

/** Whether the account's state asks for an automatic top-up (payments/autotopup.ts claims it, under a lock). */
export function belowAutoTopUpMark(account: Pick<LockedAccount, "balance" | "held" | "creditLimit">, settings: Settings): boolean {
  if (!settings.autoTopUpEnabled || settings.autoTopUpBelow === null || !PREPAID.has(settings.billingModel)) return false;
  const available = spendable(account, settings.billingModel);
  return available !== null && available.lessThan(settings.autoTopUpBelow.toString());
}
