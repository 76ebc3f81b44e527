// Top-ups: a caller asks to add credit; a payment provider (Stripe, at the
// edge) takes the money and later confirms it (payments.ts).
import { accountIdFor, accountKeyFor } from "../ledger/accounts.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, notFound, validation } from "../shared/errors.js";
import { Decimal, formatMoney, parsePositiveMoney, type DecimalInput } from "../shared/money.js";
import type { PaymentProvider } from "./provider.js";

export const MIN_TOP_UP = new Decimal(5);

export interface TopUpInput {
  mandateId: string;
  userId?: string | null;
  amount: DecimalInput;
  successUrl: string;
  cancelUrl: string;
}

/** A top-up's amount, by checkout or automatic: whole rappen, from MIN_TOP_UP to `max`. */
export function parseTopUpAmount(input: DecimalInput, field: string[], max: Decimal): Decimal {
  const amount = parsePositiveMoney(input, field);
  if (amount.decimalPlaces() > 2) throw new BillingError("INVALID_AMOUNT", "A top-up is paid in whole rappen (at most 2 decimals)", field);
  if (amount.lessThan(MIN_TOP_UP)) throw new BillingError("INVALID_AMOUNT", `The smallest top-up is ${MIN_TOP_UP.toFixed(2)} CHF`, field);
  if (amount.greaterThan(max)) throw new BillingError("INVALID_AMOUNT", `The largest top-up is ${max.toFixed(2)} CHF`, field);
  return amount;
}

export async function startTopUp(
  ctx: BillingContext,
  payments: PaymentProvider | null,
  input: TopUpInput,
): Promise<{ id: string; url: string }> {
  const amount = parseTopUpAmount(input.amount, ["input", "amount"], ctx.topUpMax);
  const successUrl = parseUrl(input.successUrl, ["input", "successUrl"]);
  const cancelUrl = parseUrl(input.cancelUrl, ["input", "cancelUrl"]);
  if (!payments) throw validation("Top-ups are not available: no payment provider is configured (STRIPE_SECRET_KEY)");
  // Starting a top-up books nothing: the account is named, not opened.
  const mandate = await ctx.db.mandate.findUnique({ where: { id: input.mandateId }, include: { settings: true } });
  if (!mandate?.settings) throw notFound(`Mandate "${input.mandateId}"`, ["input", "mandateId"]);
  const { accountKey } = accountKeyFor(mandate.settings.billingModel, input.userId);
  const existing = await ctx.db.billingAccount.findUnique({
    where: { mandateId_accountKey: { mandateId: mandate.id, accountKey } },
    select: { id: true },
  });
  const accountId = existing?.id ?? accountIdFor(mandate.id, accountKey);
  let customerId = mandate.stripeCustomerId;
  if (!customerId) {
    customerId = await payments.createCustomer(mandate);
    // Keep the first customer stored if two top-ups raced to create one.
    await ctx.db.mandate.updateMany({ where: { id: mandate.id, stripeCustomerId: null }, data: { stripeCustomerId: customerId } });
    customerId = (await ctx.db.mandate.findUniqueOrThrow({ where: { id: mandate.id } })).stripeCustomerId!;
  }
  return payments.createCheckout({
    customerId,
    amountRappen: amount.times(100).toNumber(),
    currency: "chf",
    successUrl,
    cancelUrl,
    metadata: { accountId, accountKey, mandateId: input.mandateId, userId: input.userId ?? "", amount: formatMoney(amount) },
  });
}

function parseUrl(value: string, field: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") return url.toString();
  } catch {
    // fall through
  }
  throw validation(`${field.at(-1)} must be an http(s) URL`, field);
}
