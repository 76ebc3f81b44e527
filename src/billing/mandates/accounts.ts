// Per-account settings: a credit limit (postpay), a warning threshold, the
// enabled flag; what may be spent and the warning state follow at once.
import type { BillingAccount } from "@prisma/client";
import { inBooking } from "../ledger/booking.js";
import { finishMove } from "../ledger/moves.js";
import { lockAndRead } from "../ledger/store/reads.js";
import { rearmWarning } from "../ledger/thresholds.js";
import type { BillingContext } from "../shared/context.js";
import { notFound, validation } from "../shared/errors.js";
import { parseNonNegativeMoney, type DecimalInput } from "../shared/money.js";

export interface UpdateBillingAccountInput {
  accountId: string;
  creditLimit?: DecimalInput | null;
  warningThreshold?: DecimalInput | null;
  enabled?: boolean | null;
}

/** Changes an account's limit, threshold or enabled flag; the warning state follows at once. */
export async function updateBillingAccount(ctx: BillingContext, input: UpdateBillingAccountInput): Promise<BillingAccount> {
  const creditLimit = input.creditLimit != null ? parseNonNegativeMoney(input.creditLimit, ["input", "creditLimit"]) : null;
  const warningThreshold =
    input.warningThreshold != null ? parseNonNegativeMoney(input.warningThreshold, ["input", "warningThreshold"]) : null;
  await inBooking(ctx, async (b) => {
    const { account, settings } = await lockAndRead(b.t, { accountId: input.accountId }, b.now);
    if (!account || !settings) throw notFound("Billing account", ["input", "accountId"]);
    // A setting the billing model does not use would be stored and shown, and do nothing: refused.
    if (creditLimit !== null && (settings.billingModel !== "CREDIT_POSTPAY" || account.accountKey !== "mandate")) {
      throw validation(
        `creditLimit applies only to the account a CREDIT_POSTPAY mandate pays from; this mandate is ${settings.billingModel}`,
        ["input", "creditLimit"],
      );
    }
    if (warningThreshold !== null && account.accountKey === "unlimited") {
      throw validation("warningThreshold does not apply to the account UNLIMITED pays from: it never warns", ["input", "warningThreshold"]);
    }
    rearmWarning(b, account, settings);
    if (creditLimit !== null) account.creditLimit = creditLimit;
    if (warningThreshold !== null) account.warningThreshold = warningThreshold;
    if (input.enabled != null) account.enabled = input.enabled;
    b.writes.account(account);
    finishMove(b, account, settings);
  });
  return ctx.db.billingAccount.findUniqueOrThrow({ where: { id: input.accountId } });
}
