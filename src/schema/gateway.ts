// The gateway's operations: check before an AI call, hold, settle, release,
// and the one-step usage record. SERVICE (and SYSADMIN) only.
import type { UsageAuthorization as AuthorizationRow } from "@prisma/client";
import { type MoneyMoveResult } from "../billing/ledger/moves.js";
import { authorizeUsage, checkBilling, holdStatus, releaseUsage, settleUsage, type CheckResult } from "../billing/usage/holds.js";
import { MAX_USAGES_PER_CALL, recordUsage, recordUsages } from "../billing/usage/record.js";
import { builder } from "../builder.js";
import { can } from "../auth.js";
import { AuthorizationStatus, BillingModel, DenialReason } from "./enums.js";
import { payload, payloadType, userError, type Payload } from "./errors.js";
import { query } from "./guard.js";
import { IN_MEMORY } from "./cost.js";
import { entryProblems } from "./inputs.js";
import { BillingAccount } from "./account.js";
import { Transaction } from "./transaction.js";

export const UsageInput = builder.inputType("UsageInput", {
  fields: (t) => ({ inputTokens: t.int(), outputTokens: t.int(), requests: t.int() }),
});

export const UsageMetadataInput = builder.inputType("UsageMetadataInput", {
  fields: (t) => ({
    description: t.string(),
    workflowId: t.string(),
    featureInstanceId: t.string(),
    featureCode: t.string(),
    processingTime: t.float(),
    bytesSent: t.int(),
    bytesReceived: t.int(),
    errorCount: t.int(),
  }),
});

const BillingCheckResult = builder.objectRef<CheckResult>("BillingCheckResult").implement({
  fields: (t) => ({
    allowed: t.exposeBoolean("allowed"),
    reason: t.expose("reason", { type: DenialReason, nullable: true }),
    currentBalance: t.expose("currentBalance", { type: "Decimal", nullable: true }),
    available: t.expose("available", { type: "Decimal", nullable: true }),
    requiredAmount: t.expose("requiredAmount", { type: "Decimal", nullable: true }),
    billingModel: t.expose("billingModel", { type: BillingModel, nullable: true }),
  }),
});

export const UsageAuthorization = builder.prismaObject("UsageAuthorization", {
  fields: (t) => ({
    id: t.exposeID("id"),
    account: t.relation("account"),
    amount: t.expose("amount", { type: "Decimal" }),
    status: t.field({
      type: AuthorizationStatus,
      description: "EXPIRED as soon as expiresAt has passed, even before the expiry sweep records it.",
      resolve: (authorization, _args, ctx) => holdStatus(authorization, ctx.billing.now()),
    }),
    provider: t.exposeString("provider"),
    model: t.exposeString("model", { nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    transaction: t.relation("transaction", { nullable: true }),
  }),
});

const CheckBillingInput = builder.inputType("CheckBillingInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    provider: t.string({ required: true }),
    model: t.string(),
    estimatedCost: t.field({ type: "Decimal" }),
    estimatedUsage: t.field({ type: UsageInput }),
  }),
});

builder.queryField("checkBilling", (t) =>
  t.field({
    type: BillingCheckResult,
    args: { input: t.arg({ type: CheckBillingInput, required: true }) },
    authScopes: { gateway: true },
    resolve: (_root, { input }, ctx) => query(() => checkBilling(ctx.billing, { ...input, mandateId: String(input.mandateId) })),
  }),
);

builder.queryField("usageAuthorization", (t) =>
  t.prismaField({
    type: "UsageAuthorization",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    authScopes: { authenticated: true },
    resolve: async (q, _root, args, ctx) => {
      const authorization = await ctx.db.usageAuthorization.findUnique({ ...q, where: { id: String(args.id) } });
      const visible = authorization && (can.operateGateway(ctx.caller) || can.administerMandate(ctx.caller, authorization.mandateId));
      return visible ? authorization : null;
    },
  }),
);

/** A money move's payload: the transaction and the account after it. */
export const TransactionPayload = payloadType<MoneyMoveResult>("TransactionPayload", (t) => ({
  transaction: t.field({ type: Transaction, nullable: true, resolve: (p) => p.transaction ?? null }),
  account: t.prismaField({
    type: BillingAccount,
    nullable: true,
    // A payload with only userErrors has no account: no query.
    resolve: (q, p, _args, ctx) => (p.accountId ? ctx.db.billingAccount.findUnique({ ...q, where: { id: p.accountId } }) : null),
  }),
}));

const AuthorizeUsageInput = builder.inputType("AuthorizeUsageInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    provider: t.string({ required: true }),
    model: t.string({ required: true }),
    estimatedCost: t.field({ type: "Decimal" }),
    estimatedUsage: t.field({ type: UsageInput }),
    expiresInSeconds: t.int(),
    idempotencyKey: t.string({ required: true }),
  }),
});

const DENIALS = {
  INSUFFICIENT_BALANCE: "What the account may still spend does not cover the estimated cost",
  PROVIDER_NOT_ALLOWED: "This mandate may not use this provider",
  ACCOUNT_DISABLED: "The account is disabled",
} as const;

const AuthorizeUsagePayload = payloadType<{ authorization: AuthorizationRow | null; check: CheckResult }>("AuthorizeUsagePayload", (t) => ({
  authorization: t.field({ type: UsageAuthorization, nullable: true, resolve: (p) => p.authorization ?? null }),
  check: t.field({ type: BillingCheckResult, nullable: true, resolve: (p) => p.check ?? null }),
}));

builder.mutationField("authorizeUsage", (t) =>
  t.field({
    type: AuthorizeUsagePayload,
    description: "The check and a hold of the estimated cost in one step. A denied call returns the check and a userError.",
    args: { input: t.arg({ type: AuthorizeUsageInput, required: true }) },
    authScopes: { gateway: true },
    resolve: async (_root, { input }, ctx) => {
      const result = await payload(() => authorizeUsage(ctx.billing, { ...input, mandateId: String(input.mandateId) }));
      const reason = result.check && !result.authorization ? result.check.reason : null;
      if (reason) result.userErrors.push({ code: reason, message: DENIALS[reason], field: ["input"] });
      return result;
    },
  }),
);

const SettleUsageInput = builder.inputType("SettleUsageInput", {
  fields: (t) => ({
    authorizationId: t.id({ required: true }),
    usage: t.field({ type: UsageInput }),
    cost: t.field({ type: "Decimal", description: "Overrides the price catalog when given." }),
    metadata: t.field({ type: UsageMetadataInput }),
  }),
});

builder.mutationField("settleUsage", (t) =>
  t.field({
    type: TransactionPayload,
    args: { input: t.arg({ type: SettleUsageInput, required: true }) },
    authScopes: { gateway: true },
    resolve: (_root, { input }, ctx) =>
      payload(() => settleUsage(ctx.billing, { ...input, authorizationId: String(input.authorizationId) })),
  }),
);

const ReleaseUsageInput = builder.inputType("ReleaseUsageInput", {
  fields: (t) => ({ authorizationId: t.id({ required: true }) }),
});

const ReleaseUsagePayload = payloadType<{ authorization: AuthorizationRow }>("ReleaseUsagePayload", (t) => ({
  authorization: t.field({ type: UsageAuthorization, nullable: true, resolve: (p) => p.authorization ?? null }),
}));

builder.mutationField("releaseUsage", (t) =>
  t.field({
    type: ReleaseUsagePayload,
    args: { input: t.arg({ type: ReleaseUsageInput, required: true }) },
    authScopes: { gateway: true },
    resolve: (_root, { input }, ctx) =>
      payload(async () => ({ authorization: await releaseUsage(ctx.billing, { authorizationId: String(input.authorizationId) }) })),
  }),
);

const RecordUsageInput = builder.inputType("RecordUsageInput", {
  fields: (t) => ({
    mandateId: t.id({ required: true }),
    userId: t.string(),
    provider: t.string({ required: true }),
    model: t.string({ required: true }),
    usage: t.field({ type: UsageInput }),
    cost: t.field({ type: "Decimal" }),
    metadata: t.field({ type: UsageMetadataInput }),
    idempotencyKey: t.string({ required: true }),
  }),
});

builder.mutationField("recordUsage", (t) =>
  t.field({
    type: TransactionPayload,
    args: { input: t.arg({ type: RecordUsageInput, required: true }) },
    authScopes: { gateway: true },
    resolve: (_root, { input }, ctx) => payload(() => recordUsage(ctx.billing, { ...input, mandateId: String(input.mandateId) })),
  }),
);

const RecordUsagesPayload = payloadType<{ results: Payload<MoneyMoveResult>[] }>("RecordUsagesPayload", (t) => ({
  results: t.field({
    type: [TransactionPayload],
    nullable: true,
    description: 'One result per input, in the order of the inputs: its transaction, or its userErrors (fields under ["inputs", index]).',
    // Counted on recordUsages itself: the results are in memory and their accounts read in one query.
    complexity: IN_MEMORY,
    resolve: (p) => p.results ?? null,
  }),
}));

builder.mutationField("recordUsages", (t) =>
  t.field({
    type: RecordUsagesPayload,
    description: `Up to ${MAX_USAGES_PER_CALL} usages after the fact, each booked as recordUsage books it, with its own idempotency key and its own result: a refused usage never fails the others.`,
    args: { inputs: t.arg({ type: [RecordUsageInput], required: true }) },
    authScopes: { gateway: true },
    // A write per usage.
    complexity: (args) => ({ field: Array.isArray(args.inputs) ? args.inputs.length : 1, multiplier: 1 }),
    resolve: (_root, { inputs }, ctx, info) =>
      payload(async () => {
        const problems = entryProblems(info, "inputs", inputs);
        const valid = inputs.flatMap((input, index) =>
          problems[index] ? [] : [{ index, input: { ...input, mandateId: String(input.mandateId) } }],
        );
        const outcomes = await recordUsages(
          ctx.billing,
          valid.map((v) => v.input),
        );
        const results: Payload<MoneyMoveResult>[] = problems.map((problem) =>
          problem ? { userErrors: [{ code: "VALIDATION_FAILED", message: problem.message, field: problem.field }] } : { userErrors: [] },
        );
        valid.forEach(({ index }, i) => {
          const outcome = outcomes[i];
          if ("booked" in outcome) return void (results[index] = { ...outcome.booked, userErrors: [] });
          const error = userError(outcome.refused);
          // The domain names a usage's fields ["input", ...]; here each is one of the inputs.
          const field = error.field?.[0] === "input" ? ["inputs", String(index), ...error.field.slice(1)] : ["inputs", String(index)];
          results[index] = { userErrors: [{ ...error, field }] };
        });
        return { results };
      }),
  }),
);
