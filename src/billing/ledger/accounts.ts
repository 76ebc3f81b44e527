// Accounts: which account pays under a mandate's billing model, what it may
// still spend, and the rule that decides whether a call may run.
import { BillingModel as BillingModels, type BillingModel, type Settings } from "@prisma/client";
import { v5 as uuidV5 } from "uuid";
import { validation } from "../shared/errors.js";
import { Decimal, ZERO } from "../shared/money.js";

/** An account row read under its row lock (store.ts), with the sum of its live holds. */
export interface LockedAccount {
  id: string;
  mandateId: string;
  userId: string | null;
  /** "mandate", "unlimited" or "user:<userId>": which billing model pays from it. */
  accountKey: string;
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

export interface AccountOwner {
  accountKey: string;
  accountType: "MANDATE" | "USER";
  userId: string | null;
}

/**
 * The account that pays for `userId` under a billing model; null when
 * PREPAY_USER has no user. UNLIMITED pays from an account of its own, so a
 * switch into it never spends a prepaid balance, and a switch back finds that
 * balance as it was.
 */
export function accountOwner(model: BillingModel, userId: string | null | undefined): AccountOwner | null {
  if (model === "UNLIMITED") return { accountKey: "unlimited", accountType: "MANDATE", userId: null };
  if (model !== "PREPAY_USER") return { accountKey: "mandate", accountType: "MANDATE", userId: null };
  if (!userId) return null;
  return { accountKey: `user:${userId}`, accountType: "USER", userId };
}

/** The owner an account key stands for (the inverse of accountOwner). */
export function ownerOfKey(accountKey: string): AccountOwner {
  if (accountKey.startsWith("user:")) return { accountKey, accountType: "USER", userId: accountKey.slice("user:".length) };
  return { accountKey, accountType: "MANDATE", userId: null };
}

/**
 * The id an account has, or will have when it opens: derived from its
 * mandate and key, so a balance can name an account that no money move has
 * opened yet. (Accounts opened before ids were derived keep their random ids.)
 */
export function accountIdFor(mandateId: string, accountKey: string): string {
  return uuidV5(`${mandateId}\u0000${accountKey}`, ACCOUNT_ID_NAMESPACE);
}

const ACCOUNT_ID_NAMESPACE = "0b8a3f4e-3c1d-4f0e-9a51-5a1d0c0ffee5";

/** An account as it would open: what reads show for an account no money move has opened yet. */
export function unopenedAccount(settings: Pick<Settings, "mandateId" | "defaultUserCredit">, owner: AccountOwner): LockedAccount {
  return {
    id: accountIdFor(settings.mandateId, owner.accountKey),
    mandateId: settings.mandateId,
    userId: owner.userId,
    accountKey: owner.accountKey,
    accountType: owner.accountType,
    // A USER account opens with the default credit (ledger.ts), so that is its balance to be.
    balance: owner.accountType === "USER" ? new Decimal(settings.defaultUserCredit.toString()) : ZERO,
    sequence: 0,
    creditLimit: null,
    warningThreshold: null,
    lastTopUpBalance: null,
    isWarning: false,
    enabled: true,
    held: ZERO,
  };
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
 * What may still be spent: balance + creditLimit (postpay) - live holds.
 * null means no limit (UNLIMITED).
 */
export function spendable(account: Pick<LockedAccount, "balance" | "held" | "creditLimit">, model: BillingModel): Decimal | null {
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
