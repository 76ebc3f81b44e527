import type { BillingAccount as AccountRow } from "@prisma/client";
import { spendable } from "../billing/ledger/accounts.js";
import { showsWarning, warningThreshold } from "../billing/ledger/thresholds.js";
import { updateBillingAccount } from "../billing/mandates/accounts.js";
import { type Decimal } from "../billing/shared/money.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import { AccountType } from "./enums.js";
import { can } from "../auth.js";
import { connectionType, decodeCursor, encodeCursor, pageCost, pageSize, toConnection } from "./connection.js";
import { payload, payloadType } from "./errors.js";
import { forbidden, query } from "./guard.js";

/** The figures of an account that depend on its live holds and its mandate's settings. */
export async function accountFigures(ctx: Context, account: AccountRow) {
  const [held, settings] = await Promise.all([ctx.loaders.held.load(account.id), ctx.loaders.settings.load(account.mandateId)]);
  if (!settings) throw new Error(`settings of mandate ${account.mandateId} missing`);
  const figures = {
    ...(account as unknown as Pick<
      Parameters<typeof showsWarning>[0],
      "balance" | "creditLimit" | "warningThreshold" | "lastTopUpBalance"
    >),
    isWarning: account.isWarning,
    held,
  };
  return {
    settings,
    held,
    available: spendable(figures, settings.billingModel),
    warningThreshold: warningThreshold(figures, settings),
    isWarning: showsWarning(figures, settings),
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
    isWarning: t.boolean({
      description: "The warning fired and the account is still at or below its threshold (an expired hold re-arms it at once).",
      resolve: async (account, _args, ctx) => (await accountFigures(ctx, account)).isWarning,
    }),
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

export const BillingAccountConnection = connectionType<AccountRow>("BillingAccount", BillingAccount);

builder.prismaObjectField("Mandate", "accounts", (t) =>
  t.field({
    type: BillingAccountConnection,
    args: { first: t.arg.int(), after: t.arg.string() },
    complexity: pageCost,
    authScopes: (mandate) => ({ mandateAdmin: mandate.id }),
    resolve: (mandate, args, ctx) =>
      query(async () => {
        const size = pageSize(args.first);
        const after = args.after ? decodeCursor(args.after, ["id"]).id : null;
        const where = { mandateId: mandate.id };
        const [rows, totalCount] = await Promise.all([
          ctx.db.billingAccount.findMany({
            where: { ...where, ...(after ? { id: { gt: after } } : {}) },
            orderBy: { id: "asc" },
            take: size + 1,
          }),
          ctx.db.billingAccount.count({ where }),
        ]);
        const nodes = rows.slice(0, size);
        return toConnection({
          nodes,
          cursors: nodes.map((a) => encodeCursor({ id: a.id })),
          totalCount,
          hasNextPage: rows.length > size,
          hasPreviousPage: after !== null,
        });
      }),
  }),
);

const UpdateBillingAccountInput = builder.inputType("UpdateBillingAccountInput", {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    creditLimit: t.field({ type: "Decimal" }),
    warningThreshold: t.field({ type: "Decimal" }),
    enabled: t.boolean(),
  }),
});

const BillingAccountPayload = payloadType<{ account: AccountRow }>("BillingAccountPayload", (t) => ({
  account: t.field({ type: BillingAccount, nullable: true, resolve: (p) => p.account ?? null }),
}));

builder.mutationField("updateBillingAccount", (t) =>
  t.field({
    type: BillingAccountPayload,
    args: { input: t.arg({ type: UpdateBillingAccountInput, required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, ctx) => {
      const accountId = String(input.accountId);
      const account = await ctx.db.billingAccount.findUnique({ where: { id: accountId }, select: { mandateId: true } });
      const given = Object.keys(input).filter((k) => k !== "accountId" && (input as Record<string, unknown>)[k] !== undefined);
      // A foreign account is as unknown as a missing one.
      if (!account || !can.administerMandate(ctx.caller, account.mandateId)) {
        return { userErrors: [{ code: "NOT_FOUND" as const, message: "Billing account not found", field: ["input", "accountId"] }] };
      }
      if (!can.changeSettings(ctx.caller, account.mandateId, given)) throw forbidden("Only a system admin may change a credit limit");
      return payload(async () => ({ account: await updateBillingAccount(ctx.billing, { ...input, accountId }) }));
    },
  }),
);
