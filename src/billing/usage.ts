// Before and after an AI call: check (read only), authorize (check + hold in
// one locked step), settle (the real cost becomes a DEBIT, the hold closes),
// release, expire; and recordUsage, the one-step DEBIT after the fact.
import { randomUUID } from "node:crypto";
import { Prisma, type BillingModel, type Settings, type Transaction, type UsageAuthorization } from "@prisma/client";
import type { Db } from "../db.js";
import { denialReason, lockAccount, readSettings, spendable, accountKeyFor, type DenialReason, type LockedAccount } from "./accounts.js";
import { inSqlTransaction, type BillingContext, type Tx } from "./context.js";
import { BillingError, notFound, validation } from "./errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash, SYSTEM_KEY_PREFIX } from "./idempotency.js";
import {
  debitUsage,
  finishMove,
  lockPayer,
  requiredText,
  parseUsageMetadata,
  postEntry,
  replayed,
  usageEntry,
  type MoneyMoveResult,
  type UsageMetadata,
} from "./ledger.js";
import { Decimal, formatMoney, ZERO, type DecimalInput } from "./money.js";
import { resolveCost, type UsageAmounts } from "./pricing.js";
import { closeHold, earlierEntry, earlierHold, insertHold, lockAndRead } from "./store.js";

export interface CheckResult {
  allowed: boolean;
  reason: DenialReason | null;
  currentBalance: Decimal;
  /** null: no limit (UNLIMITED). */
  available: Decimal | null;
  requiredAmount: Decimal;
  billingModel: BillingModel;
}

interface CallInput {
  mandateId: string;
  userId?: string | null;
  provider: string;
  model?: string | null;
  estimatedCost?: DecimalInput | null;
  estimatedUsage?: UsageAmounts | null;
}

function parseProvider(provider: string, field = ["input", "provider"]): string {
  return requiredText(provider, field).toLowerCase();
}

async function estimate(ctx: BillingContext, db: Db | Tx, input: CallInput, required: boolean): Promise<Decimal> {
  if (!required && input.estimatedCost == null && !input.estimatedUsage) return ZERO;
  if (input.estimatedCost == null && !input.estimatedUsage) {
    throw validation("Give estimatedCost or estimatedUsage: the hold needs an amount", ["input", "estimatedCost"]);
  }
  return resolveCost(
    ctx,
    db,
    { provider: input.provider, model: input.model, cost: input.estimatedCost, usage: input.estimatedUsage },
    { cost: ["input", "estimatedCost"], usage: ["input", "estimatedUsage"] },
  );
}

function checkResult(settings: Settings, account: LockedAccount, provider: string, required: Decimal): CheckResult {
  const reason = denialReason(settings, account, provider, required);
  return {
    allowed: reason === null,
    reason,
    currentBalance: account.balance,
    available: spendable(account, settings.billingModel),
    requiredAmount: required,
    billingModel: settings.billingModel,
  };
}

/** May this call run? Reads only: an account not opened yet is judged as it would open. */
export async function checkBilling(ctx: BillingContext, input: CallInput): Promise<CheckResult> {
  const provider = parseProvider(input.provider);
  return ctx.db.$transaction(async (tx) => {
    const now = ctx.now();
    const settings = await readSettings(tx, input.mandateId);
    const required = await estimate(ctx, tx, { ...input, provider }, false);
    const owner = accountKeyFor(settings.billingModel, input.userId);
    const account =
      (await lockAccount(tx, { mandateId: settings.mandateId, accountKey: owner.accountKey }, now, { lock: false })) ??
      unopenedAccount(settings, owner.userId, owner.accountType);
    return checkResult(settings, account, provider, required);
  });
}

function unopenedAccount(settings: Settings, userId: string | null, accountType: "MANDATE" | "USER"): LockedAccount {
  return {
    id: "",
    mandateId: settings.mandateId,
    userId,
    accountType,
    balance: accountType === "USER" ? new Decimal(settings.defaultUserCredit.toString()) : ZERO,
    sequence: 0,
    creditLimit: null,
    warningThreshold: null,
    lastTopUpBalance: null,
    isWarning: false,
    enabled: true,
    held: ZERO,
  };
}

export interface AuthorizeInput extends CallInput {
  model: string;
  expiresInSeconds?: number | null;
  idempotencyKey: string;
}

export interface AuthorizeResult {
  /** null when the check denied the call; nothing was held then. */
  authorization: UsageAuthorization | null;
  check: CheckResult;
  replayed: boolean;
}

const MAX_HOLD_SECONDS = 7 * 24 * 3600;

/** The check and the hold of the estimated cost, as one step under the account lock. */
export async function authorizeUsage(ctx: BillingContext, input: AuthorizeInput): Promise<AuthorizeResult> {
  const provider = parseProvider(input.provider);
  const model = requiredText(input.model, ["input", "model"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const seconds = input.expiresInSeconds ?? ctx.holdExpirySeconds;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_HOLD_SECONDS) {
    throw validation(`expiresInSeconds must be between 1 and ${MAX_HOLD_SECONDS}`, ["input", "expiresInSeconds"]);
  }
  // Priced before the transaction: the catalog is read through Prisma, which
  // on PGlite (one connection) cannot run while our transaction holds it.
  const amount = await estimate(ctx, ctx.db, { ...input, provider, model }, true);
  const hash = requestHash({
    op: "authorize",
    mandateId: input.mandateId,
    userId: input.userId,
    provider,
    model,
    amount: formatMoney(amount),
    expiresInSeconds: input.expiresInSeconds,
  });
  return inSqlTransaction(ctx, async (t, emit) => {
    const now = ctx.now();
    const { settings, account, hold: earlier } = await lockPayer(t, ctx, input, now, { holdKey: key });
    if (replayed(earlier, key, hash)) {
      const authorization = await earlierHold(t, earlier);
      return { authorization, check: { ...checkResult(settings, account, provider, ZERO), requiredAmount: amount }, replayed: true };
    }
    const check = checkResult(settings, account, provider, amount);
    if (!check.allowed) return { authorization: null, check, replayed: false };
    const authorization: UsageAuthorization = {
      id: randomUUID(),
      accountId: account.id,
      mandateId: account.mandateId,
      userId: input.userId ?? null,
      amount: new Prisma.Decimal(formatMoney(amount)),
      status: "ACTIVE",
      provider,
      model,
      idempotencyKey: key,
      requestHash: hash,
      expiresAt: new Date(now.getTime() + seconds * 1000),
      transactionId: null,
      createdAt: now,
      closedAt: null,
    };
    insertHold(t, authorization);
    account.held = account.held.plus(amount);
    finishMove(t, account, settings, now, emit);
    return { authorization, check, replayed: false };
  });
}

export interface SettleInput {
  authorizationId: string;
  usage?: UsageAmounts | null;
  /** Overrides the price catalog when given. */
  cost?: DecimalInput | null;
  metadata?: UsageMetadata | null;
}

/**
 * The real cost becomes a DEBIT and the hold closes. It may exceed the
 * estimate: the call already happened. Settling again returns the first result.
 */
export async function settleUsage(ctx: BillingContext, input: SettleInput): Promise<MoneyMoveResult> {
  const metadata = parseUsageMetadata(input.metadata);
  const field = ["input", "authorizationId"];
  // A catalog price needs the hold's provider and model. They never change,
  // so they are read (and priced) before the transaction, like authorize.
  const call =
    input.cost == null
      ? await ctx.db.usageAuthorization.findUnique({ where: { id: input.authorizationId }, select: { provider: true, model: true } })
      : { provider: "", model: null }; // an explicit cost needs neither
  if (!call) throw notFound("Authorization", field);
  const cost = await resolveCost(ctx, ctx.db, { ...call, cost: input.cost, usage: input.usage }, { cost: ["input", "cost"], usage: ["input", "usage"] });
  const key = `${SYSTEM_KEY_PREFIX}settle:${input.authorizationId}`;
  const hash = requestHash({ op: "settle", authorizationId: input.authorizationId, cost: formatMoney(cost), metadata });
  return inSqlTransaction(ctx, async (t, emit) => {
    const now = ctx.now();
    const { settings, account, authorization, entry } = await lockAndRead(t, { authorizationId: input.authorizationId }, now, { entryKey: key });
    if (!authorization || !account || !settings) throw notFound("Authorization", field);
    if (authorization.status === "SETTLED") {
      if (replayed(entry, key, hash)) return { transaction: await earlierEntry(t, entry), accountId: account.id, replayed: true };
      // Settled at zero cost: nothing was booked, so only another zero cost is the same request.
      if (!cost.isZero()) throw idempotencyConflict(key);
      return { transaction: null, accountId: account.id, replayed: true };
    }
    assertActive(authorization, now, "settled", "record the cost with recordUsage instead");
    account.held = account.held.minus(authorization.amount.toString());
    const transaction = cost.isZero()
      ? null
      : postEntry(
          t,
          ctx,
          account,
          { ...usageEntry(authorization.provider, authorization.model, cost, metadata, authorization.userId), idempotencyKey: key, requestHash: hash },
          now,
        );
    closeHold(t, authorization.id, "SETTLED", transaction?.id ?? null, now);
    finishMove(t, account, settings, now, emit);
    return { transaction, accountId: account.id, replayed: false };
  });
}

/** The call did not happen: free the hold. Releasing twice is harmless. */
export async function releaseUsage(ctx: BillingContext, input: { authorizationId: string }): Promise<UsageAuthorization> {
  return inSqlTransaction(ctx, async (t, emit) => {
    const now = ctx.now();
    const { settings, account, authorization } = await lockAndRead(t, { authorizationId: input.authorizationId }, now);
    if (!authorization || !account || !settings) throw notFound("Authorization", ["input", "authorizationId"]);
    if (authorization.status === "RELEASED" || authorization.status === "EXPIRED") return authorization;
    if (authorization.status === "SETTLED") {
      throw new BillingError("AUTHORIZATION_NOT_ACTIVE", "This authorization is already settled", ["input", "authorizationId"]);
    }
    const expired = authorization.expiresAt <= now;
    const released: UsageAuthorization = { ...authorization, status: expired ? "EXPIRED" : "RELEASED", closedAt: now };
    closeHold(t, released.id, released.status, null, now);
    if (!expired) {
      account.held = account.held.minus(authorization.amount.toString());
      finishMove(t, account, settings, now, emit);
    }
    return released;
  });
}

/**
 * Closes holds past their expiry. They already stopped counting against what
 * may be spent at expiresAt (see store.ts); this only records it.
 */
export async function expireHolds(ctx: BillingContext): Promise<number> {
  const now = ctx.now();
  const { count } = await ctx.db.usageAuthorization.updateMany({
    where: { status: "ACTIVE", expiresAt: { lte: now } },
    data: { status: "EXPIRED", closedAt: now },
  });
  return count;
}

function assertActive(authorization: UsageAuthorization, now: Date, verb: string, hint: string) {
  const expired = authorization.status === "EXPIRED" || authorization.expiresAt <= now;
  if (authorization.status === "ACTIVE" && !expired) return;
  const state = expired ? "expired" : authorization.status.toLowerCase();
  throw new BillingError(
    "AUTHORIZATION_NOT_ACTIVE",
    `This authorization is ${state} and cannot be ${verb}; ${hint}`,
    ["input", "authorizationId"],
  );
}

export interface RecordUsageInput {
  mandateId: string;
  userId?: string | null;
  provider: string;
  model: string;
  usage?: UsageAmounts | null;
  cost?: DecimalInput | null;
  metadata?: UsageMetadata | null;
  idempotencyKey: string;
}

/** A DEBIT after the fact, without a check, for callers that do not reserve. */
export async function recordUsage(ctx: BillingContext, input: RecordUsageInput): Promise<MoneyMoveResult> {
  const provider = parseProvider(input.provider);
  const model = requiredText(input.model, ["input", "model"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const metadata = parseUsageMetadata(input.metadata);
  const cost = await resolveCost(
    ctx,
    ctx.db,
    { provider, model, cost: input.cost, usage: input.usage },
    { cost: ["input", "cost"], usage: ["input", "usage"] },
  );
  const hash = requestHash({
    op: "recordUsage",
    mandateId: input.mandateId,
    userId: input.userId,
    provider,
    model,
    cost: formatMoney(cost),
    metadata,
  });
  return debitUsage(ctx, { mandateId: input.mandateId, userId: input.userId, provider, model, cost, metadata, idempotencyKey: key, requestHash: hash });
}

export type { Transaction };
