// Live subscriptions, fed by the ledger's events (after commit) through the
// pubsub, authorized on subscribe like the matching queries.
import { filter, pipe } from "graphql-yoga";
import { describeBalance, type BalanceView } from "../billing/ledger/balances.js";
import { type BalanceChangedEvent, type BalanceWarningEvent } from "../billing/shared/context.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import { BillingAccount } from "./account.js";
import { BillingBalance } from "./balance.js";
import { readerScope } from "./guard.js";

/** Events of accounts the subscriber may see: all of the mandate's, or one user's. */
function visibleTo<E extends { userId: string | null }>(ctx: Context, mandateId: string, requestedUserId: string | null | undefined) {
  const userId = readerScope(ctx, mandateId, requestedUserId);
  return (event: E) => !userId || event.userId === userId || event.userId === null;
}

builder.subscriptionField("balanceChanged", (t) =>
  t.field({
    type: BillingBalance,
    description: "Every change to the balance of the mandate's accounts (or one user's account).",
    args: { mandateId: t.arg.id({ required: true }), userId: t.arg.string() },
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    subscribe: (_root, args, ctx) => {
      const mandateId = String(args.mandateId);
      return pipe(ctx.pubsub.subscribe(`balanceChanged:${mandateId}`), filter(visibleTo<BalanceChangedEvent>(ctx, mandateId, args.userId)));
    },
    // Read the balance as it is now: events only say which account changed.
    resolve: (event: BalanceChangedEvent, _args, ctx) => describeBalance(ctx.billing, event.accountId),
  }),
);

interface WarningShape {
  event: BalanceWarningEvent;
  balance: BalanceView;
}

const BalanceWarning = builder.objectRef<WarningShape>("BalanceWarning").implement({
  fields: (t) => ({
    account: t.prismaField({
      type: BillingAccount,
      resolve: (q, w, _args, ctx) => ctx.db.billingAccount.findUniqueOrThrow({ ...q, where: { id: w.event.accountId } }),
    }),
    balance: t.field({ type: BillingBalance, resolve: (w) => w.balance }),
    threshold: t.field({ type: "Decimal", resolve: (w) => w.event.threshold }),
    at: t.field({ type: "DateTime", resolve: (w) => new Date(w.event.at) }),
  }),
});

builder.subscriptionField("balanceWarning", (t) =>
  t.field({
    type: BalanceWarning,
    description: "Fires once when an account falls to or below its warning threshold; re-armed when it rises above again.",
    args: { mandateId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    subscribe: (_root, args, ctx) => {
      const mandateId = String(args.mandateId);
      return pipe(ctx.pubsub.subscribe(`balanceWarning:${mandateId}`), filter(visibleTo<BalanceWarningEvent>(ctx, mandateId, null)));
    },
    resolve: async (event: BalanceWarningEvent, _args, ctx) => ({ event, balance: await describeBalance(ctx.billing, event.accountId) }),
  }),
);
