// The ledger: append-only transactions, and the one function (postEntry) that
// moves an account's balance. Every money move runs in one database
// transaction holding the account's row lock (see lockAccount), checks its
// idempotency key under that lock, and commits the entry, the new balance,
// the rollups and the warning state together.
import type { Settings, Transaction } from "@prisma/client";
import { accountKeyFor, lockAccount, readSettings, type LockedAccount } from "./accounts.js";
import { inTransaction, type BillingContext, type BillingEvent, type Tx } from "./context.js";
import { BillingError, validation } from "./errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash, SYSTEM_KEY_PREFIX } from "./idempotency.js";
import { formatMoney, parseMoney, parsePositiveMoney, type Decimal, type DecimalInput } from "./money.js";
import { addDebitToRollups } from "./statistics.js";
import { evaluateWarning } from "./warnings.js";

export type ReferenceType = "WORKFLOW" | "PAYMENT" | "ADMIN" | "SYSTEM";

/** What a DEBIT records about the AI call that caused it. */
export interface UsageMetadata {
  description?: string | null;
  workflowId?: string | null;
  featureInstanceId?: string | null;
  featureCode?: string | null;
  processingTime?: number | null;
  bytesSent?: number | null;
  bytesReceived?: number | null;
  errorCount?: number | null;
}

export interface LedgerEntry extends Omit<UsageMetadata, "description"> {
  transactionType: "CREDIT" | "DEBIT" | "ADJUSTMENT";
  /** Signed effect on the balance. */
  delta: Decimal;
  description: string;
  referenceType?: ReferenceType | null;
  referenceId?: string | null;
  aicoreProvider?: string | null;
  aicoreModel?: string | null;
  createdByUserId?: string | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
}

export interface MoneyMoveResult {
  /** null when nothing had to be booked (a zero cost). */
  transaction: Transaction | null;
  accountId: string;
  /** True when an earlier request with the same idempotency key is answered again. */
  replayed: boolean;
}

/**
 * Appends one entry to a locked account and moves its balance. The only
 * writer of BillingAccount.balance: balance = sum of deltas holds because
 * every delta passes through here, in the transaction that locked the row.
 */
export async function postEntry(
  tx: Tx,
  ctx: BillingContext,
  account: LockedAccount,
  entry: LedgerEntry,
  now: Date,
): Promise<Transaction> {
  const balanceAfter = account.balance.plus(entry.delta);
  const sequence = account.sequence + 1;
  const transaction = await tx.transaction.create({
    data: {
      accountId: account.id,
      mandateId: account.mandateId,
      sequence,
      transactionType: entry.transactionType,
      amount: formatMoney(entry.delta.abs()),
      delta: formatMoney(entry.delta),
      balanceAfter: formatMoney(balanceAfter),
      description: entry.description,
      referenceType: entry.referenceType ?? null,
      referenceId: entry.referenceId ?? null,
      workflowId: entry.workflowId ?? null,
      featureInstanceId: entry.featureInstanceId ?? null,
      featureCode: entry.featureCode ?? null,
      aicoreProvider: entry.aicoreProvider ?? null,
      aicoreModel: entry.aicoreModel ?? null,
      createdByUserId: entry.createdByUserId ?? null,
      processingTime: entry.processingTime ?? null,
      bytesSent: entry.bytesSent ?? null,
      bytesReceived: entry.bytesReceived ?? null,
      errorCount: entry.errorCount ?? null,
      idempotencyKey: entry.idempotencyKey ?? null,
      requestHash: entry.requestHash ?? null,
      createdAt: now,
    },
  });
  const isTopUp = entry.transactionType === "CREDIT";
  await tx.billingAccount.update({
    where: { id: account.id },
    data: {
      balance: formatMoney(balanceAfter),
      sequence,
      ...(isTopUp ? { lastTopUpBalance: formatMoney(balanceAfter) } : {}),
    },
  });
  account.balance = balanceAfter;
  account.sequence = sequence;
  if (isTopUp) account.lastTopUpBalance = balanceAfter;
  if (entry.transactionType === "DEBIT") {
    await addDebitToRollups(
      tx,
      {
        accountId: account.id,
        mandateId: account.mandateId,
        amount: entry.delta.abs(),
        provider: entry.aicoreProvider ?? null,
        featureCode: entry.featureCode ?? null,
        at: now,
      },
      ctx.timeZone,
    );
  }
  return transaction;
}

/**
 * The account that pays for `userId` under the mandate's billing model,
 * locked; opened on first use. A new PREPAY_USER account starts with the
 * mandate's defaultUserCredit as a SYSTEM credit. Two first uses at once open
 * one account with one initial credit: the second INSERT waits on the unique
 * key for the first to commit, then finds the row.
 */
export async function openAccount(
  tx: Tx,
  ctx: BillingContext,
  settings: Settings,
  userId: string | null | undefined,
  now: Date,
): Promise<LockedAccount> {
  const owner = accountKeyFor(settings.billingModel, userId);
  const where = { mandateId: settings.mandateId, accountKey: owner.accountKey };
  const existing = await lockAccount(tx, where, now);
  if (existing) return existing;
  const opened = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO "BillingAccount" ("id", "mandateId", "userId", "accountKey", "accountType", "updatedAt")
    VALUES (gen_random_uuid()::text, ${settings.mandateId}, ${owner.userId}, ${owner.accountKey},
            ${owner.accountType}::"AccountType", ${now})
    ON CONFLICT ("mandateId", "accountKey") DO NOTHING
    RETURNING "id"`;
  const account = await lockAccount(tx, where, now);
  if (!account) throw new Error(`account ${owner.accountKey} of ${settings.mandateId} vanished while opening`);
  const initialCredit = parseMoney(settings.defaultUserCredit.toString(), ["defaultUserCredit"]);
  if (opened.length > 0 && owner.accountType === "USER" && initialCredit.greaterThan(0)) {
    await postEntry(
      tx,
      ctx,
      account,
      {
        transactionType: "CREDIT",
        delta: initialCredit,
        description: "Initial credit",
        referenceType: "SYSTEM",
        idempotencyKey: `${SYSTEM_KEY_PREFIX}initial-credit`,
      },
      now,
    );
  }
  return account;
}

/** The earlier result of the same request, or null; a different request under the key is a conflict. */
export async function replayed(tx: Tx, accountId: string, key: string, hash: string): Promise<Transaction | null> {
  const earlier = await tx.transaction.findUnique({ where: { accountId_idempotencyKey: { accountId, idempotencyKey: key } } });
  if (!earlier) return null;
  if (earlier.requestHash !== hash) throw idempotencyConflict(key);
  return earlier;
}

/** After the last write of an operation: warning state and the live event. */
export async function finishMove(
  tx: Tx,
  account: LockedAccount,
  settings: Settings,
  now: Date,
  emit: (event: BillingEvent) => void,
): Promise<void> {
  await evaluateWarning(tx, account, settings, now, emit);
  emit({ type: "balanceChanged", mandateId: account.mandateId, accountId: account.id, userId: account.userId });
}

interface Payer {
  mandateId: string;
  userId?: string | null;
}

/**
 * The frame every one-step money move shares: validate first (so nothing is
 * written for bad input), then in one transaction open and lock the paying
 * account, answer a replay, or book the entry that `entryFor` describes.
 */
async function moveMoney(
  ctx: BillingContext,
  payer: Payer,
  key: string,
  hash: string,
  entryFor: (account: LockedAccount) => LedgerEntry | null,
): Promise<MoneyMoveResult> {
  return inTransaction(ctx, async (tx, emit) => {
    const now = ctx.now();
    const settings = await readSettings(tx, payer.mandateId);
    const account = await openAccount(tx, ctx, settings, payer.userId, now);
    const earlier = await replayed(tx, account.id, key, hash);
    if (earlier) return { transaction: earlier, accountId: account.id, replayed: true };
    const entry = entryFor(account);
    const transaction = entry
      ? await postEntry(tx, ctx, account, { ...entry, idempotencyKey: key, requestHash: hash }, now)
      : null;
    if (transaction) await finishMove(tx, account, settings, now, emit);
    return { transaction, accountId: account.id, replayed: false };
  });
}

export interface CreditInput extends Payer {
  amount: DecimalInput;
  description: string;
  referenceType?: ReferenceType | null;
  referenceId?: string | null;
  idempotencyKey: string;
  /** Who asked for the credit (an admin), for the record. */
  createdByUserId?: string | null;
}

/** A top-up: Stripe payment, admin credit or system credit. */
export async function creditAccount(ctx: BillingContext, input: CreditInput): Promise<MoneyMoveResult> {
  const amount = parsePositiveMoney(input.amount, ["input", "amount"]);
  const description = requiredText(input.description, ["input", "description"]);
  const referenceType = input.referenceType ?? "ADMIN";
  if (referenceType === "WORKFLOW") {
    throw validation("A credit references a PAYMENT, ADMIN or SYSTEM action, not a WORKFLOW", ["input", "referenceType"]);
  }
  const referenceId = optionalText(input.referenceId, ["input", "referenceId"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const hash = requestHash({
    op: "credit",
    mandateId: input.mandateId,
    userId: input.userId,
    amount: formatMoney(amount),
    description,
    referenceType,
    referenceId,
  });
  return moveMoney(ctx, input, key, hash, () => ({
    transactionType: "CREDIT",
    delta: amount,
    description,
    referenceType,
    referenceId,
    createdByUserId: input.createdByUserId,
  }));
}

export interface AdjustInput extends Payer {
  /** Signed: positive raises the balance, negative lowers it; never zero. */
  amount: DecimalInput;
  /** The reason, required. */
  description: string;
  idempotencyKey: string;
  referenceId?: string | null;
  referenceType?: ReferenceType | null;
  createdByUserId?: string | null;
}

/** A manual correction, in either direction, with a reason. */
export async function adjustAccount(ctx: BillingContext, input: AdjustInput): Promise<MoneyMoveResult> {
  const amount = parseMoney(input.amount, ["input", "amount"]);
  if (amount.isZero()) {
    throw new BillingError("INVALID_AMOUNT", "An adjustment must not be zero", ["input", "amount"]);
  }
  const description = requiredText(input.description, ["input", "description"]);
  const referenceType = input.referenceType ?? "ADMIN";
  const referenceId = optionalText(input.referenceId, ["input", "referenceId"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const hash = requestHash({
    op: "adjust",
    mandateId: input.mandateId,
    userId: input.userId,
    amount: formatMoney(amount),
    description,
    referenceType,
    referenceId,
  });
  return moveMoney(ctx, input, key, hash, () => ({
    transactionType: "ADJUSTMENT",
    delta: amount,
    description,
    referenceType,
    referenceId,
    createdByUserId: input.createdByUserId,
  }));
}

export interface DebitInput extends Payer {
  provider: string;
  model: string | null;
  /** The exact cost in CHF, already validated. */
  cost: Decimal;
  metadata: UsageMetadata;
  idempotencyKey: string;
  requestHash: string;
}

/** A DEBIT for an AI call that already happened; no check (see holds.ts for that). */
export async function debitUsage(ctx: BillingContext, input: DebitInput): Promise<MoneyMoveResult> {
  return moveMoney(ctx, input, input.idempotencyKey, input.requestHash, () =>
    input.cost.isZero() ? null : usageEntry(input.provider, input.model, input.cost, input.metadata, input.userId),
  );
}

export function usageEntry(
  provider: string,
  model: string | null,
  cost: Decimal,
  metadata: UsageMetadata,
  userId: string | null | undefined,
): LedgerEntry {
  return {
    transactionType: "DEBIT",
    delta: cost.negated(),
    description: metadata.description || `${provider}${model ? ` ${model}` : ""} usage`,
    referenceType: metadata.workflowId ? "WORKFLOW" : null,
    referenceId: metadata.workflowId ?? null,
    workflowId: metadata.workflowId,
    featureInstanceId: metadata.featureInstanceId,
    featureCode: metadata.featureCode,
    aicoreProvider: provider,
    aicoreModel: model,
    createdByUserId: userId ?? null,
    processingTime: metadata.processingTime,
    bytesSent: metadata.bytesSent,
    bytesReceived: metadata.bytesReceived,
    errorCount: metadata.errorCount,
  };
}

const MAX_TEXT = 500;

/** Trims optional free text; rejects over-long values. */
export function optionalText(value: string | null | undefined, field: string[]): string | null {
  const text = value?.trim() ?? "";
  if (text.length > MAX_TEXT) throw validation(`${field.at(-1)} is longer than ${MAX_TEXT} characters`, field);
  return text || null;
}

/** Trims required free text; rejects empty and over-long values. */
export function requiredText(value: string | null | undefined, field: string[]): string {
  const text = optionalText(value, field);
  if (!text) throw validation(`${field.at(-1)} must not be empty`, field);
  return text;
}

/** Validates the numbers of a usage record. */
export function parseUsageMetadata(metadata: UsageMetadata | null | undefined, field = ["input", "metadata"]): UsageMetadata {
  const m = metadata ?? {};
  const count = (value: number | null | undefined, name: string) => {
    if (value === null || value === undefined) return null;
    if (!Number.isSafeInteger(value) || value < 0) throw validation(`${name} must be a non-negative integer`, [...field, name]);
    return value;
  };
  if (m.processingTime !== null && m.processingTime !== undefined && !(Number.isFinite(m.processingTime) && m.processingTime >= 0)) {
    throw validation("processingTime must be a non-negative number of seconds", [...field, "processingTime"]);
  }
  return {
    description: optionalText(m.description, [...field, "description"]),
    workflowId: optionalText(m.workflowId, [...field, "workflowId"]),
    featureInstanceId: optionalText(m.featureInstanceId, [...field, "featureInstanceId"]),
    featureCode: optionalText(m.featureCode, [...field, "featureCode"]),
    processingTime: m.processingTime ?? null,
    bytesSent: count(m.bytesSent, "bytesSent"),
    bytesReceived: count(m.bytesReceived, "bytesReceived"),
    errorCount: count(m.errorCount, "errorCount"),
  };
}

