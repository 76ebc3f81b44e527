import { queryFromInfo } from "@pothos/plugin-prisma";
import type { Prisma } from "@prisma/client";
import { listTransactions, transactionWhere, type TransactionFilter as Filter } from "../billing/ledger/history.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import { connectionType, decodeCursor, encodeCursor, pageCost, pageSize, toConnection, type Page } from "./connection.js";
import { ReferenceType, TransactionType } from "./enums.js";
import { can } from "../auth.js";
import { forbidden, query, readerScope } from "./guard.js";

export const Transaction = builder.prismaObject("Transaction", {
  fields: (t) => ({
    id: t.exposeID("id"),
    account: t.relation("account"),
    transactionType: t.expose("transactionType", { type: TransactionType }),
    amount: t.expose("amount", { type: "Decimal", description: "Positive; 0 only for the DEBIT of a call that cost nothing." }),
    delta: t.expose("delta", { type: "Decimal", description: "Signed effect on the balance." }),
    balanceAfter: t.expose("balanceAfter", { type: "Decimal" }),
    description: t.exposeString("description"),
    referenceType: t.expose("referenceType", { type: ReferenceType, nullable: true }),
    referenceId: t.exposeString("referenceId", { nullable: true }),
    workflowId: t.exposeString("workflowId", { nullable: true }),
    featureInstanceId: t.exposeString("featureInstanceId", { nullable: true }),
    featureCode: t.exposeString("featureCode", { nullable: true }),
    aicoreProvider: t.exposeString("aicoreProvider", { nullable: true }),
    aicoreModel: t.exposeString("aicoreModel", { nullable: true }),
    createdByUserId: t.exposeString("createdByUserId", { nullable: true }),
    processingTime: t.exposeFloat("processingTime", { nullable: true }),
    bytesSent: t.exposeInt("bytesSent", { nullable: true }),
    bytesReceived: t.exposeInt("bytesReceived", { nullable: true }),
    errorCount: t.exposeInt("errorCount", { nullable: true }),
    idempotencyKey: t.exposeString("idempotencyKey", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

/** A page of the history as a connection page: the cursor is the position of a transaction (its instant, sequence and id). */
async function transactionPage(
  ctx: Context,
  where: Parameters<typeof listTransactions>[1],
  args: { first?: number | null; after?: string | null },
  select: Parameters<typeof listTransactions>[3],
): Promise<Page<Prisma.TransactionGetPayload<object>>> {
  const size = pageSize(args.first);
  const cursor = args.after ? decodeCursor(args.after, ["at", "seq", "id"]) : null;
  const after = cursor ? { at: new Date(cursor.at), sequence: Number(cursor.seq), id: cursor.id } : null;
  const page = await listTransactions(ctx.db, where, { size, after }, select);
  return {
    nodes: page.nodes,
    cursors: page.positions.map((p) => encodeCursor({ at: p.at.toISOString(), seq: String(p.sequence), id: p.id })),
    totalCount: page.totalCount,
    hasNextPage: page.hasNextPage,
    hasPreviousPage: after !== null,
  };
}

export const TransactionConnection = connectionType<typeof Transaction.$inferType>("Transaction", Transaction);

export const TransactionFilter = builder.inputType("TransactionFilter", {
  fields: (t) => ({
    transactionTypes: t.field({ type: [TransactionType] }),
    providers: t.stringList(),
    featureCodes: t.stringList(),
    userId: t.string(),
    from: t.field({ type: "DateTime" }),
    to: t.field({ type: "DateTime" }),
  }),
});

builder.queryField("transactions", (t) =>
  t.field({
    type: TransactionConnection,
    args: {
      mandateId: t.arg.id({ required: true }),
      first: t.arg.int(),
      after: t.arg.string(),
      filter: t.arg({ type: TransactionFilter }),
    },
    complexity: pageCost,
    authScopes: (_root, args) => ({ mandateMember: String(args.mandateId) }),
    resolve: (_root, args, ctx, info) =>
      query(async () => {
        const mandateId = String(args.mandateId);
        const userId = readerScope(ctx, mandateId, args.filter?.userId);
        const settings = await ctx.loaders.settings.load(mandateId);
        const where = transactionWhere({ mandateId }, { ...(args.filter as Filter | null), userId }, settings?.billingModel);
        const select = queryFromInfo({ context: ctx, info, path: ["edges", "node"], typeName: "Transaction" });
        return toConnection(await transactionPage(ctx, where, args, select));
      }),
  }),
);

builder.prismaObjectField("BillingAccount", "transactions", (t) =>
  t.field({
    type: TransactionConnection,
    args: { first: t.arg.int(), after: t.arg.string(), filter: t.arg({ type: TransactionFilter }) },
    complexity: pageCost,
    resolve: (account, args, ctx, info) =>
      query(async () => {
        const history = can.readAccountHistory(ctx.caller, account);
        if (history === "none") throw forbidden("You may not read this account's history");
        // The rule of the top-level transactions: only an admin filters by another user.
        if (args.filter?.userId != null) readerScope(ctx, account.mandateId, args.filter.userId);
        const filter = (args.filter as Filter | null) ?? {};
        // On a shared account a user sees only what they caused.
        const where =
          history === "own"
            ? { ...transactionWhere({ accountId: account.id }, filter), createdByUserId: ctx.caller!.userId }
            : transactionWhere({ accountId: account.id }, filter);
        const select = queryFromInfo({ context: ctx, info, path: ["edges", "node"], typeName: "Transaction" });
        return toConnection(await transactionPage(ctx, where, args, select));
      }),
  }),
);
