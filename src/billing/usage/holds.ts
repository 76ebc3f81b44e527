// Before and after an AI call: check (read only), authorize (check + hold in
// one locked step), settle (the real cost becomes a DEBIT, the hold closes),
// release, expire; and recordUsage, the one-step DEBIT after the fact.
//
// Replays compare what the caller sent (usage counts or an explicit cost),
// never what Saldo computed from it: the price may change between a request
// and its retry. Prices are read with the locked account, after the replay
// check, so a retry is answered whatever the catalog says now.
import { randomUUID } from "node:crypto";
import { Prisma, type BillingModel, type Settings, type UsageAuthorization } from "@prisma/client";
import { sql } from "../../db/sql.js";
import {
  accountKeyFor,
  accountKeysByModel,
  denialReason,
  spendable,
  unopenedAccount,
  type DenialReason,
  type LockedAccount,
} from "../ledger/accounts.js";
import { inBooking } from "../ledger/booking.js";
import { parseUsageMetadata, postEntry, usageEntry, type UsageMetadata } from "../ledger/entries.js";
import type { MovePlan } from "../ledger/batch.js";
import { finishMove, openTarget, ownerOf, sameRequestAs, submit, type MoneyMoveResult } from "../ledger/moves.js";
import { earlierEntry, earlierHold, lockAndRead, peek, type Earlier } from "../ledger/store/reads.js";
import { rearmWarning } from "../ledger/thresholds.js";
import { callCostContent, costOf, parseCallCost, requireCallCost, type UsageAmounts } from "../pricing/pricing.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, notFound, validation } from "../shared/errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash } from "../shared/idempotency.js";
import { Decimal, formatMoney, ZERO, type DecimalInput } from "../shared/money.js";
import { identifier, requiredText } from "../shared/validation.js";

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

export const ESTIMATE_FIELDS = { cost: ["input", "estimatedCost"], usage: ["input", "estimatedUsage"] };
export const COST_FIELDS = { cost: ["input", "cost"], usage: ["input", "usage"] };

export function parseProvider(provider: string, field = ["input", "provider"]): string {
  return identifier(requiredText(provider, field), field, "provider").toLowerCase();
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

/**
 * May this call run? One read, no transaction, nothing written: an account
 * not opened yet is judged as it would open.
 */
export async function checkBilling(ctx: BillingContext, input: CallInput): Promise<CheckResult> {
  const provider = parseProvider(input.provider);
  const model = input.model?.trim() || null;
  const estimate = parseCallCost({ cost: input.estimatedCost, usage: input.estimatedUsage }, ESTIMATE_FIELDS);
  const now = ctx.now();
  const read = await peek(ctx.sql, { mandateId: input.mandateId, accountKeys: accountKeysByModel(input.userId) }, now, {
    price: { provider, model },
  });
  if (!read.settings) throw notFound(`Mandate "${input.mandateId}"`, ["input", "mandateId"]);
  const owner = accountKeyFor(read.settings.billingModel, input.userId);
  const required = estimate ? costOf(ctx, estimate, read.price, { provider, model }, ESTIMATE_FIELDS) : ZERO;
  return checkResult(read.settings, read.account ?? unopenedAccount(read.settings, owner), provider, required);
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

/**
 * The check and the hold of the estimated cost, as one step under the
 * account lock. A denied call writes nothing and reserves no key: a retry is
 * judged again.
 */
export async function authorizeUsage(ctx: BillingContext, input: AuthorizeInput): Promise<AuthorizeResult> {
  const provider = parseProvider(input.provider);
  const model = identifier(requiredText(input.model, ["input", "model"]), ["input", "model"], "model");
  const key = parseIdempotencyKey(input.idempotencyKey);
  const seconds = input.expiresInSeconds ?? ctx.holdExpirySeconds;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_HOLD_SECONDS) {
    throw validation(`expiresInSeconds must be between 1 and ${MAX_HOLD_SECONDS}`, ["input", "expiresInSeconds"]);
  }
  const estimate = requireCallCost({ cost: input.estimatedCost, usage: input.estimatedUsage }, ESTIMATE_FIELDS, "the hold needs an amount");
  const hash = requestHash({
    op: "authorize",
    userId: input.userId,
    provider,
    model,
    estimate: callCostContent(estimate),
    expiresInSeconds: input.expiresInSeconds,
  });
  const conflict = () => idempotencyConflict(key);
  const plan: MovePlan = { mandateId: input.mandateId, target: { payer: input }, holdKey: key, price: { provider, model } };
  return submit(ctx, {
    plan,
    async apply(b, locked): Promise<AuthorizeResult> {
      const { settings } = locked;
      const earlier = sameRequestAs(locked.hold, hash, conflict);
      if (earlier) {
        const stored = await earlierHold(b.t, earlier);
        // A hold past its expiry reads as EXPIRED, replayed or not.
        const authorization = { ...stored, status: holdStatus(stored, b.now) };
        // The account the hold is on (after a billing-model switch, maybe not the one the model picks now): read, not locked.
        const current =
          b.batch!.accounts.get(earlier.accountId) ??
          (await lockAndRead(b.t, { accountId: earlier.accountId }, b.now, { lock: false, settings: false })).account!;
        return {
          authorization,
          check: { ...checkResult(settings, current, provider, ZERO), requiredAmount: new Decimal(authorization.amount.toString()) },
          replayed: true,
        };
      }
      const amount = costOf(ctx, estimate, locked.price, { provider, model }, ESTIMATE_FIELDS);
      // Judged as the account is, or as it would open; opened only for a hold that is granted.
      const check = checkResult(settings, locked.account ?? unopenedAccount(settings, ownerOf(locked)), provider, amount);
      if (!check.allowed) return { authorization: null, check, replayed: false };
      const account = openTarget(b, locked);
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
        expiresAt: new Date(b.now.getTime() + seconds * 1000),
        transactionId: null,
        createdAt: b.now,
        closedAt: null,
      };
      b.writes.hold(authorization);
      account.held = account.held.plus(amount);
      finishMove(b, account, settings);
      holdsMandates.remember(authorization.id, authorization.mandateId);
      return { authorization, check, replayed: false };
    },
  });
}

/**
 * The mandate a hold lives in, for the lane its settle or release queues
 * in: remembered from the authorize on this instance, read otherwise (a hold
 * made through another instance). Bounded: the oldest are forgotten first.
 */
const holdsMandates = {
  known: new Map<string, string>(),
  remember(id: string, mandateId: string) {
    if (this.known.size >= 100_000) this.known.delete(this.known.keys().next().value!);
    this.known.set(id, mandateId);
  },
  async of(ctx: BillingContext, id: string): Promise<string> {
    const known = this.known.get(id);
    if (known) return known;
    const [row] = await ctx.sql.read(sql`SELECT "mandateId" FROM "UsageAuthorization" WHERE "id" = ${id}::text`);
    if (!row) throw notFound("Authorization", ["input", "authorizationId"]);
    return row.mandateId as string;
  },
};

/** A hold as readers see it: past its expiry it is EXPIRED, even before the sweep records it. */
export function holdStatus(authorization: Pick<UsageAuthorization, "status" | "expiresAt">, now: Date): UsageAuthorization["status"] {
  return authorization.status === "ACTIVE" && authorization.expiresAt <= now ? "EXPIRED" : authorization.status;
}

export interface SettleInput {
  authorizationId: string;
  usage?: UsageAmounts | null;
  /** Overrides the price catalog when given. */
  cost?: DecimalInput | null;
  metadata?: UsageMetadata | null;
}

/**
 * The real cost becomes a DEBIT (of 0 when the call cost nothing) and the
 * hold closes. It may exceed the estimate: the call already happened.
 * Settling again with the same usage, cost and metadata returns the first
 * result; with other ones it is a conflict.
 */
export async function settleUsage(ctx: BillingContext, input: SettleInput): Promise<MoneyMoveResult> {
  const metadata = parseUsageMetadata(input.metadata);
  const field = ["input", "authorizationId"];
  const call = requireCallCost(input, COST_FIELDS, "the settlement books the real cost");
  const key = { scope: "SETTLEMENT" as const, key: input.authorizationId };
  const hash = requestHash({ op: "settle", authorizationId: input.authorizationId, cost: callCostContent(call), metadata });
  const conflict = () =>
    new BillingError("IDEMPOTENCY_CONFLICT", "This authorization was already settled with other usage, cost or metadata", ["input"]);
  const plan: MovePlan = {
    mandateId: await holdsMandates.of(ctx, input.authorizationId),
    target: { authorizationId: input.authorizationId },
    entryKey: key,
    price: "ofAuthorization",
  };
  return submit(ctx, {
    plan,
    async apply(b, locked): Promise<MoneyMoveResult> {
      const { settings, account, authorization, entry, price } = locked;
      if (!authorization || !account) throw notFound("Authorization", field);
      const named = { provider: authorization.provider, model: authorization.model };
      if (authorization.status === "SETTLED") {
        const earlier = sameRequestAs(entry, hash, conflict);
        if (earlier) return { transaction: await earlierEntry(b.t, earlier), accountId: account.id, replayed: true };
        // Settled at zero cost before such calls were booked as entries: only another zero cost is the same request.
        if (!costOf(ctx, call, price, named, COST_FIELDS).isZero()) throw conflict();
        return { transaction: null, accountId: account.id, replayed: true };
      }
      assertActive(authorization, b.now, "settled", "record the cost with recordUsage instead");
      const cost = costOf(ctx, call, price, named, COST_FIELDS);
      account.held = account.held.minus(authorization.amount.toString());
      const transaction = postEntry(b, account, {
        ...usageEntry(authorization.provider, authorization.model, cost, metadata, authorization.userId),
        idempotencyKey: key.key,
        idempotencyScope: key.scope,
        requestHash: hash,
      });
      b.writes.closeHold(authorization.id, "SETTLED", transaction.id);
      finishMove(b, account, settings);
      return { transaction, accountId: account.id, replayed: false };
    },
  });
}

/** The call did not happen: free the hold. Releasing twice is harmless. */
export async function releaseUsage(ctx: BillingContext, input: { authorizationId: string }): Promise<UsageAuthorization> {
  const plan: MovePlan = {
    mandateId: await holdsMandates.of(ctx, input.authorizationId),
    target: { authorizationId: input.authorizationId },
  };
  return submit(ctx, {
    plan,
    async apply(b, locked): Promise<UsageAuthorization> {
      const { settings, account, authorization } = locked;
      if (!authorization || !account) throw notFound("Authorization", ["input", "authorizationId"]);
      if (authorization.status === "RELEASED" || authorization.status === "EXPIRED") return authorization;
      if (authorization.status === "SETTLED") {
        throw new BillingError("AUTHORIZATION_NOT_ACTIVE", "This authorization is already settled", ["input", "authorizationId"]);
      }
      const expired = authorization.expiresAt <= b.now;
      const released: UsageAuthorization = { ...authorization, status: expired ? "EXPIRED" : "RELEASED", closedAt: b.now };
      b.writes.closeHold(released.id, released.status, null);
      if (!expired) account.held = account.held.minus(authorization.amount.toString());
      finishMove(b, account, settings);
      return released;
    },
  });
}

/**
 * Closes holds past their expiry, one account at a time under its lock.
 * They already stopped counting against what may be spent at expiresAt
 * (store.ts); closing them re-arms the account's warning when it is above
 * its threshold again, and tells live subscribers. Returns how many closed.
 */
export async function expireHolds(ctx: BillingContext, batch = 200): Promise<number> {
  const now = ctx.now();
  const accounts = await ctx.sql.read(sql`SELECT DISTINCT "accountId" FROM "UsageAuthorization"
    WHERE "status" = 'ACTIVE' AND "expiresAt" <= ${now.toISOString()}::timestamp(3) LIMIT ${String(batch)}::int`);
  let closed = 0;
  for (const row of accounts) {
    closed += await inBooking(ctx, async (b) => {
      const { settings, account } = await lockAndRead(b.t, { accountId: row.accountId as string }, b.now);
      if (!account || !settings) return 0;
      const [expired] = await b.t
        .query(sql`UPDATE "UsageAuthorization" SET "status" = 'EXPIRED', "closedAt" = ${b.now.toISOString()}::timestamp(3)
        WHERE "accountId" = ${account.id}::text AND "status" = 'ACTIVE' AND "expiresAt" <= ${b.now.toISOString()}::timestamp(3)
        RETURNING "id"`);
      rearmWarning(b, account, settings);
      finishMove(b, account, settings);
      return expired.length;
    });
  }
  return closed;
}

function assertActive(authorization: UsageAuthorization, now: Date, verb: string, hint: string) {
  const status = holdStatus(authorization, now);
  if (status === "ACTIVE") return;
  throw new BillingError("AUTHORIZATION_NOT_ACTIVE", `This authorization is ${status.toLowerCase()} and cannot be ${verb}; ${hint}`, [
    "input",
    "authorizationId",
  ]);
}
