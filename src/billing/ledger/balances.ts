// What an account holds and may still spend, as the API and live events show
// it. Reads only: an account no money move has opened yet is shown as it
// would open (a USER account with the default credit), and nothing is booked.
import type { BillingModel } from "@prisma/client";
import type { BillingContext } from "../shared/context.js";
import { notFound } from "../shared/errors.js";
import { ZERO, type Decimal } from "../shared/money.js";
import { accountKeyFor, accountKeysByModel, spendable, unopenedAccount } from "./accounts.js";
import { peek, type AccountRef } from "./store/reads.js";
import { showsWarning, warningThreshold } from "./thresholds.js";

export interface BalanceView {
  mandateId: string;
  mandateName: string;
  /** The account's id; for an account not opened yet, the id it will get. */
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
export async function describeBalance(ctx: BillingContext, accountId: string): Promise<BalanceView> {
  return view(ctx, { accountId }, null);
}

/** The balance that pays for `userId` in the mandate: the shared account, or the user's own under PREPAY_USER. */
export async function balanceFor(ctx: BillingContext, mandateId: string, userId: string | null | undefined): Promise<BalanceView> {
  return view(ctx, { mandateId, accountKeys: accountKeysByModel(userId) }, userId ?? null);
}

async function view(ctx: BillingContext, ref: AccountRef, userId: string | null): Promise<BalanceView> {
  const read = await peek(ctx.sql, ref, ctx.now());
  const { settings } = read;
  if ("accountId" in ref && !read.account) throw notFound("Billing account");
  if (!settings) throw notFound(`Mandate "${(ref as { mandateId: string }).mandateId}"`, ["mandateId"]);
  const account = read.account ?? unopenedAccount(settings, accountKeyFor(settings.billingModel, userId, ["userId"]));
  const mandate = await ctx.db.mandate.findUniqueOrThrow({ where: { id: settings.mandateId }, select: { name: true } });
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
    warningThreshold: warningThreshold(account, settings) ?? ZERO,
    isWarning: showsWarning(account, settings),
    creditLimit: account.creditLimit,
  };
}
