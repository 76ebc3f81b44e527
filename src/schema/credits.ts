// Admin money moves: credits, adjustments and transfers (SYSADMIN only: they create or move money).
import type { Transaction as TransactionRow } from "@prisma/client";
import { adjustAccount, creditAccount, transferBalance } from "../billing/ledger/credits.js";
import { builder } from "../builder.js";
import { ReferenceType } from "./enums.js";
import { payload, payloadType } from "./errors.js";
import { TransactionPayload } from "./gateway.js";
import { Transaction } from "./transaction.js";

const CreditAccountInput = builder.inputType("CreditAccountInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    amount: t.field({ type: "Decimal", required: true }),
    description: t.string({ required: true }),
    referenceType: t.field({ type: ReferenceType }),
    referenceId: t.string(),
    idempotencyKey: t.string({ required: true }),
  }),
});

builder.mutationField("creditAccount", (t) =>
  t.field({
    type: TransactionPayload,
    args: { input: t.arg({ type: CreditAccountInput, required: true }) },
    authScopes: { sysadmin: true },
    resolve: (_root, { input }, ctx) =>
      payload(() => creditAccount(ctx.billing, { ...input, mandateId: String(input.mandateId), createdByUserId: ctx.caller?.userId })),
  }),
);

const AdjustAccountInput = builder.inputType("AdjustAccountInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    amount: t.field({
      type: "Decimal",
      required: true,
      description: "Signed: positive raises the balance, negative lowers it; never zero.",
    }),
    description: t.string({ required: true }),
    idempotencyKey: t.string({ required: true }),
  }),
});

builder.mutationField("adjustAccount", (t) =>
  t.field({
    type: TransactionPayload,
    args: { input: t.arg({ type: AdjustAccountInput, required: true }) },
    authScopes: { sysadmin: true },
    resolve: (_root, { input }, ctx) =>
      payload(() => adjustAccount(ctx.billing, { ...input, mandateId: String(input.mandateId), createdByUserId: ctx.caller?.userId })),
  }),
);

const TransferBalanceInput = builder.inputType("TransferBalanceInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    fromAccountId: t.id({ required: true }),
    toAccountId: t.id({ required: true }),
    amount: t.field({ type: "Decimal", required: true, description: "Positive; at most what the source account has available." }),
    description: t.string({ required: true }),
    idempotencyKey: t.string({ required: true }),
  }),
});

const TransferPayload = payloadType<{ from: TransactionRow; to: TransactionRow }>("TransferPayload", (t) => ({
  from: t.field({
    type: Transaction,
    nullable: true,
    description: "The ADJUSTMENT that took the amount off the source.",
    resolve: (p) => p.from ?? null,
  }),
  to: t.field({
    type: Transaction,
    nullable: true,
    description: "The ADJUSTMENT that put it on the destination.",
    resolve: (p) => p.to ?? null,
  }),
}));

builder.mutationField("transferBalance", (t) =>
  t.field({
    type: TransferPayload,
    description:
      "Moves a balance between two accounts of one mandate, e.g. what a billing-model switch left on an account the new model does not use: two ADJUSTMENTs, booked together.",
    args: { input: t.arg({ type: TransferBalanceInput, required: true }) },
    authScopes: { sysadmin: true },
    resolve: (_root, { input }, ctx) =>
      payload(() =>
        transferBalance(ctx.billing, {
          ...input,
          mandateId: String(input.mandateId),
          fromAccountId: String(input.fromAccountId),
          toAccountId: String(input.toAccountId),
          createdByUserId: ctx.caller?.userId,
        }),
      ),
  }),
);
