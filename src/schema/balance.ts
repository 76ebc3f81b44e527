import { balanceFor, type BalanceView } from "../billing/ledger/balances.js";
import { builder } from "../builder.js";
import { BillingModel } from "./enums.js";
import { query, readerScope } from "./guard.js";

export const BillingBalance = builder.objectRef<BalanceView>("BillingBalance").implement({
  fields: (t) => ({
    mandateId: t.exposeID("mandateId"),
    mandateName: t.exposeString("mandateName"),
    accountId: t.exposeID("accountId", { description: "For an account no money move has opened yet: the id it will get." }),
    userId: t.exposeString("userId", { nullable: true }),
    billingModel: t.expose("billingModel", { type: BillingModel }),
    balance: t.expose("balance", { type: "Decimal" }),
    held: t.expose("held", { type: "Decimal" }),
    available: t.expose("available", { type: "Decimal", nullable: true }),
    currency: t.exposeString("currency"),
    warningThreshold: t.expose("warningThreshold", { type: "Decimal" }),
    isWarning: t.exposeBoolean("isWarning"),
    creditLimit: t.expose("creditLimit", { type: "Decimal", nullable: true }),
  }),
});

builder.queryField("balance", (t) =>
  t.field({
    type: BillingBalance,
    description: "The balance that pays for the user (the shared account, or their own under PREPAY_USER).",
    args: { mandateId: t.arg.id({ required: true }), userId: t.arg.string() },
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    resolve: (_root, args, ctx) =>
      query(() => {
        const mandateId = String(args.mandateId);
        return balanceFor(ctx.billing, mandateId, readerScope(ctx, mandateId, args.userId));
      }),
  }),
);

builder.prismaObjectField("Mandate", "balance", (t) =>
  t.field({
    type: BillingBalance,
    description: "The balance that pays for the caller: the shared account, or under PREPAY_USER the caller's own.",
    resolve: (mandate, _args, ctx) =>
      query(() => balanceFor(ctx.billing, mandate.id, readerScope(ctx, mandate.id, null) ?? ctx.caller?.userId)),
  }),
);
