// Live subscriptions, fed by the ledger's events (after commit) through the
// pubsub, authorized on subscribe like the matching queries.
import { GraphQLError } from "graphql";
import { filter, pipe, Repeater } from "graphql-yoga";
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

/** The last event of a subscription whose token expired. */
const TOKEN_EXPIRED = Symbol("token expired");
type Expired = typeof TOKEN_EXPIRED;

/**
 * The events of `source` until the subscriber's token expires; then one
 * TOKEN_EXPIRED (which the field turns into an UNAUTHENTICATED error) and
 * the end of the stream: SSE closes it, graphql-ws completes it. A request
 * over HTTP with that token is refused from then on; a subscription must not
 * outlive it either.
 */
function untilTokenExpires<T>(ctx: Context, source: AsyncIterable<T>): AsyncIterable<T | Expired> {
  const expiresAt = ctx.caller?.expiresAt;
  if (!expiresAt) return source;
  return new Repeater<T | Expired>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]();
    const timer = setTimeout(() => void push(TOKEN_EXPIRED).then(() => stop()), Math.max(expiresAt.getTime() - Date.now(), 0));
    void stop.then(() => {
      clearTimeout(timer);
      void iterator.return?.();
    });
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) await push(next.value);
      stop();
    } catch (error) {
      stop(error);
    }
  });
}

function refuseExpired<T>(event: T | Expired): T {
  if (event === TOKEN_EXPIRED) {
    throw new GraphQLError("The token expired: subscribe again with a new token", { extensions: { code: "UNAUTHENTICATED" } });
  }
  return event;
}

builder.subscriptionField("balanceChanged", (t) =>
  t.field({
    type: BillingBalance,
    description: "Every change to the balance of the mandate's accounts (or one user's account).",
    args: { mandateId: t.arg.id({ required: true }), userId: t.arg.string() },
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    subscribe: (_root, args, ctx) => {
      const mandateId = String(args.mandateId);
      return untilTokenExpires(
        ctx,
        pipe(ctx.pubsub.subscribe(`balanceChanged:${mandateId}`), filter(visibleTo<BalanceChangedEvent>(ctx, mandateId, args.userId))),
      );
    },
    // Read the balance as it is now: events only say which account changed.
    resolve: (event: BalanceChangedEvent | Expired, _args, ctx) => describeBalance(ctx.billing, refuseExpired(event).accountId),
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
      return untilTokenExpires(
        ctx,
        pipe(ctx.pubsub.subscribe(`balanceWarning:${mandateId}`), filter(visibleTo<BalanceWarningEvent>(ctx, mandateId, null))),
      );
    },
    resolve: async (expiredOrEvent: BalanceWarningEvent | Expired, _args, ctx) => {
      const event = refuseExpired(expiredOrEvent);
      return { event, balance: await describeBalance(ctx.billing, event.accountId) };
    },
  }),
);
