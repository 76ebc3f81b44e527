import type { BillingAccount as AccountRow } from "@prisma/client";
import { spendable, warningThreshold, type Decimal } from "../billing/index.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import { AccountType } from "./enums.js";
import { can } from "../auth.js";

/** The figures of an account that depend on its live holds and its mandate's settings. */
export async function accountFigures(ctx: Context, account: AccountRow) {
  const [held, settings] = await Promise.all([
    ctx.loaders.held.load(account.id),
    ctx.loaders.settings.load(account.mandateId),
  ]);
  if (!settings) throw new Error(`settings of mandate ${account.mandateId} missing`);
  const figures = { balance: account.balance as unknown as Decimal, held, creditLimit: account.creditLimit as unknown as Decimal | null };
  return {
    settings,
    held,
    available: spendable(figures, settings.billingModel),
    warningThreshold: warningThreshold(account as never, settings),
  };
}

export const BillingAccount = builder.prismaObject("BillingAccount", {
  fields: (t) => ({
    id: t.exposeID("id"),
    mandate: t.relation("mandate"),
    userId: t.exposeString("userId", { nullable: true }),
    accountType: t.expose("accountType", { type: AccountType }),
    currency: t.exposeString("currency"),
    balance: t.expose("balance", { type: "Decimal" }),
    held: t.field({
      type: "Decimal",
      description: "Sum of active holds.",
      resolve: (account, _args, ctx) => ctx.loaders.held.load(account.id),
    }),
    available: t.field({
      type: "Decimal",
      nullable: true,
      description: "What may still be spent: balance + creditLimit - held (no limit for UNLIMITED).",
      resolve: async (account, _args, ctx) => (await accountFigures(ctx, account)).available,
    }),
    creditLimit: t.expose("creditLimit", { type: "Decimal", nullable: true }),
    warningThreshold: t.field({
      type: "Decimal",
      resolve: async (account, _args, ctx) => (await accountFigures(ctx, account)).warningThreshold ?? "0",
    }),
    isWarning: t.exposeBoolean("isWarning"),
    lastWarningAt: t.expose("lastWarningAt", { type: "DateTime", nullable: true }),
    enabled: t.exposeBoolean("enabled"),
  }),
});

builder.queryField("billingAccount", (t) =>
  t.prismaField({
    type: "BillingAccount",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    resolve: async (query, _root, args, ctx) => {
      const account = await ctx.db.billingAccount.findUnique({ ...query, where: { id: String(args.id) } });
      // Someone else's account is as invisible as a missing one.
      return account && can.readAccount(ctx.caller, account) ? account : null;
    },
  }),
);
