// Admin money moves: credits and adjustments (SYSADMIN only: they create money).
import { adjustAccount, creditAccount } from "../billing/index.js";
import { builder } from "../builder.js";
import { ReferenceType } from "./enums.js";
import { payload } from "./errors.js";
import { TransactionPayload } from "./gateway.js";

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
    amount: t.field({ type: "Decimal", required: true, description: "Signed: positive raises the balance, negative lowers it; never zero." }),
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
