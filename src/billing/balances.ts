// What an account holds and may still spend, as the API and live events show it.
import type { BillingModel } from "@prisma/client";
import type { Db } from "../db.js";
import { lockAccount, readSettings, spendable } from "./accounts.js";
import { inTransaction, type BillingContext } from "./context.js";
import { notFound } from "./errors.js";
import { openAccount } from "./ledger.js";
import { ZERO, type Decimal } from "./money.js";
import { warningThreshold } from "./warnings.js";

export interface BalanceView {
  mandateId: string;
  mandateName: string;
  accountId: string;
  userId: string | null;
  billingModel: BillingModel;
  balance: Decimal;
  held: Decimal;
  available: Decimal | null;
  currency: string;
  warningThreshold: Decimal;
  isWarning: boolean;
  creditLimit: Decimal | null;
}

/** The balance of one account, read consistently (holds counted as of now). */
export async function describeBalance(ctx: BillingContext, accountId: string, db: Db = ctx.db): Promise<BalanceView> {
  return db.$transaction(async (tx) => {
    const account = await lockAccount(tx, { id: accountId }, ctx.now(), { lock: false });
    if (!account) throw notFound("Billing account");
    const [settings, mandate] = await Promise.all([
      readSettings(tx, account.mandateId),
      tx.mandate.findUniqueOrThrow({ where: { id: account.mandateId }, select: { name: true } }),
    ]);
    const threshold = warningThreshold(account, settings);
    return {
      mandateId: account.mandateId,
      mandateName: mandate.name,
      accountId: account.id,
      userId: account.userId,
      billingModel: settings.billingModel,
      balance: account.balance,
      held: account.held,
      available: spendable(account, settings.billingModel),
      currency: "CHF",
      warningThreshold: threshold ?? ZERO,
      isWarning: account.isWarning,
      creditLimit: account.creditLimit,
    };
  });
}

/**
 * The balance that pays for `userId` in the mandate (the shared account, or
 * the user's own under PREPAY_USER), opening the account on first use.
 */
export async function balanceFor(ctx: BillingContext, mandateId: string, userId: string | null | undefined): Promise<BalanceView> {
  const accountId = await inTransaction(ctx, async (tx) => {
    const settings = await readSettings(tx, mandateId, ["mandateId"]);
    return (await openAccount(tx, ctx, settings, userId, ctx.now())).id;
  });
  return describeBalance(ctx, accountId);
}
