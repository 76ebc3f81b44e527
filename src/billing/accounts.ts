// Accounts: which account pays under a mandate's billing model, what it may
// still spend, and the rule that decides whether a call may run.
import { BillingModel as BillingModels, type BillingModel, type Settings } from "@prisma/client";
import { prismaSqlTransaction } from "../db.js";
import type { Tx } from "./context.js";
import { notFound, validation } from "./errors.js";
import { ZERO, type Decimal } from "./money.js";
import { lockAndRead } from "./store.js";

/** An account row read under its row lock (store.ts), with the sum of its live holds. */
export interface LockedAccount {
  id: string;
  mandateId: string;
  userId: string | null;
  accountType: "MANDATE" | "USER";
  balance: Decimal;
  sequence: number;
  creditLimit: Decimal | null;
  warningThreshold: Decimal | null;
  lastTopUpBalance: Decimal | null;
  isWarning: boolean;
  lastWarningAt?: Date | null;
  enabled: boolean;
  /** Sum of ACTIVE holds that have not expired at the time of reading. */
  held: Decimal;
}

export async function readSettings(tx: Tx, mandateId: string, field = ["input", "mandateId"]): Promise<Settings> {
  const settings = await tx.settings.findUnique({ where: { mandateId } });
  if (!settings) throw notFound(`Mandate "${mandateId}"`, field);
  return settings;
}

/** The account that pays for `userId` under a billing model; null when PREPAY_USER has no user. */
export function accountOwner(model: BillingModel, userId: string | null | undefined) {
  if (model !== "PREPAY_USER") return { accountKey: "mandate", accountType: "MANDATE" as const, userId: null };
  if (!userId) return null;
  return { accountKey: `user:${userId}`, accountType: "USER" as const, userId };
}

/** The account that pays for `userId` under the mandate's billing model. */
export function accountKeyFor(model: BillingModel, userId: string | null | undefined, field = ["input", "userId"]) {
  const owner = accountOwner(model, userId);
  if (!owner) throw validation("userId is required: this mandate bills each user's own account (PREPAY_USER)", field);
  return owner;
}

/**
 * The paying account's key under every billing model, so that one SQL
 * statement can find (and lock) the account before the settings are known.
 */
export function accountKeysByModel(userId: string | null | undefined): Partial<Record<BillingModel, string>> {
  const keys: Partial<Record<BillingModel, string>> = {};
  for (const model of Object.values(BillingModels)) {
    const owner = accountOwner(model, userId);
    if (owner) keys[model] = owner.accountKey;
  }
  return keys;
}

/**
 * Reads an account with the sum of its live holds, for callers on a Prisma
 * transaction (balances, checks). With `lock` it takes the account's row
 * lock first: the lock that serializes every money move on the account (see
 * store.ts); money moves themselves take it through store.lockAndRead.
 */
export async function lockAccount(
  tx: Tx,
  where: { id: string } | { mandateId: string; accountKey: string },
  now: Date,
  options: { lock: boolean } = { lock: true },
): Promise<LockedAccount | null> {
  const ref = "id" in where ? { accountId: where.id } : where;
  const { account } = await lockAndRead(prismaSqlTransaction(tx), ref, now, { lock: options.lock, settings: false });
  return account;
}

/**
 * What may still be spent: balance + creditLimit (postpay) - live holds.
 * null means no limit (UNLIMITED).
 */
export function spendable(
  account: Pick<LockedAccount, "balance" | "held" | "creditLimit">,
  model: BillingModel,
): Decimal | null {
  if (model === "UNLIMITED") return null;
  const limit = model === "CREDIT_POSTPAY" ? (account.creditLimit ?? ZERO) : ZERO;
  return account.balance.plus(limit).minus(account.held);
}

export type DenialReason = "INSUFFICIENT_BALANCE" | "PROVIDER_NOT_ALLOWED" | "ACCOUNT_DISABLED";

/** The one rule that decides whether a call may run. */
export function denialReason(
  settings: Pick<Settings, "billingModel" | "blockOnZeroBalance" | "allowedProviders">,
  account: Pick<LockedAccount, "balance" | "held" | "creditLimit" | "enabled">,
  provider: string,
  required: Decimal,
): DenialReason | null {
  if (!providerAllowed(settings.allowedProviders, provider)) return "PROVIDER_NOT_ALLOWED";
  if (!account.enabled) return "ACCOUNT_DISABLED";
  const available = spendable(account, settings.billingModel);
  if (available === null) return null;
  // A prepaid mandate may choose to run into the negative instead of denying.
  if (settings.billingModel !== "CREDIT_POSTPAY" && !settings.blockOnZeroBalance) return null;
  // With nothing estimated, the account must still have something left.
  const covered = required.isZero() ? available.greaterThan(0) : available.greaterThanOrEqualTo(required);
  return covered ? null : "INSUFFICIENT_BALANCE";
}

export function providerAllowed(allowedProviders: unknown, provider: string): boolean {
  if (allowedProviders === null || allowedProviders === undefined) return true;
  const allowed = allowedProviders as string[];
  return allowed.some((name) => name.toLowerCase() === provider.toLowerCase());
}
