// Accounts: which account pays under a mandate's billing model, what it may
// still spend, and the row lock that serializes every money move on it.
import { Prisma, type BillingModel, type Settings } from "@prisma/client";
import type { Tx } from "./context.js";
import { notFound, validation } from "./errors.js";
import { Decimal, ZERO } from "./money.js";

/** An account row read under `FOR UPDATE`, with the sum of its live holds. */
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
  enabled: boolean;
  /** Sum of ACTIVE holds that have not expired at the time of reading. */
  held: Decimal;
}

export async function readSettings(tx: Tx, mandateId: string, field = ["input", "mandateId"]): Promise<Settings> {
  const settings = await tx.settings.findUnique({ where: { mandateId } });
  if (!settings) throw notFound(`Mandate "${mandateId}"`, field);
  return settings;
}

/** The account that pays for `userId` under the mandate's billing model. */
export function accountKeyFor(model: BillingModel, userId: string | null | undefined, field = ["input", "userId"]) {
  if (model !== "PREPAY_USER") return { accountKey: "mandate", accountType: "MANDATE" as const, userId: null };
  if (!userId) throw validation("userId is required: this mandate bills each user's own account (PREPAY_USER)", field);
  return { accountKey: `user:${userId}`, accountType: "USER" as const, userId };
}

/**
 * Locks the account row for the rest of the transaction. Every write that
 * moves money or changes holds on an account takes this lock first, and takes
 * no other account's lock, so writers of one account queue up behind each
 * other (what may be spent is read and changed as one step) while different
 * accounts never wait for each other and no deadlock can form.
 */
export async function lockAccount(
  tx: Tx,
  where: { id: string } | { mandateId: string; accountKey: string },
  now: Date,
  options: { lock: boolean } = { lock: true },
) {
  const condition =
    "id" in where
      ? Prisma.sql`a."id" = ${where.id}`
      : Prisma.sql`a."mandateId" = ${where.mandateId} AND a."accountKey" = ${where.accountKey}`;
  const rows = await tx.$queryRaw<LockedAccount[]>`
    SELECT a."id", a."mandateId", a."userId", a."accountType"::text AS "accountType", a."balance", a."sequence",
           a."creditLimit", a."warningThreshold", a."lastTopUpBalance", a."isWarning", a."enabled",
           (SELECT coalesce(sum(h."amount"), 0) FROM "UsageAuthorization" h
             WHERE h."accountId" = a."id" AND h."status" = 'ACTIVE' AND h."expiresAt" > ${now}) AS "held"
      FROM "BillingAccount" a
     WHERE ${condition}
     ${options.lock ? Prisma.sql`FOR UPDATE OF a` : Prisma.empty}`;
  const row = rows[0];
  return row ? normalize(row) : null;
}

function normalize(row: LockedAccount): LockedAccount {
  return {
    ...row,
    balance: new Decimal(row.balance.toString()),
    held: new Decimal(row.held.toString()),
    sequence: Number(row.sequence),
    creditLimit: row.creditLimit === null ? null : new Decimal(row.creditLimit.toString()),
    warningThreshold: row.warningThreshold === null ? null : new Decimal(row.warningThreshold.toString()),
    lastTopUpBalance: row.lastTopUpBalance === null ? null : new Decimal(row.lastTopUpBalance.toString()),
  };
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
