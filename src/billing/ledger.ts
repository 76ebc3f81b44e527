// The ledger: append-only transactions, and the one function (postEntry) that
// moves an account's balance. Every money move runs in one database
// transaction holding the account's row lock (see store.ts), checks its
// idempotency key under that lock, and commits the entry, the new balance,
// the rollups and the warning state together: on PostgreSQL two round trips,
// one to lock and read, one to write and commit.
import { randomUUID } from "node:crypto";
import { Prisma, type Settings, type Transaction } from "@prisma/client";
import { prismaSqlTransaction, type Sql, type SqlTransaction } from "../db.js";
import { accountKeyFor, accountKeysByModel, type LockedAccount } from "./accounts.js";
import { inSqlTransaction, type BillingContext, type BillingEvent, type Tx } from "./context.js";
import { BillingError, notFound, validation } from "./errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash, SYSTEM_KEY_PREFIX } from "./idempotency.js";
import { formatMoney, parseMoney, parsePositiveMoney, type Decimal, type DecimalInput } from "./money.js";
import { addDebitToRollups } from "./statistics.js";
import { accountChanged, earlierEntry, insertEntry, lockAndRead, openAndLock, type Earlier, type LockedRead } from "./store.js";
import { evaluateWarning } from "./warnings.js";
import { autoTopUpWanted } from "./autotopup.js";

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
 * The writes go out with the transaction's COMMIT; the returned row is what
 * they store.
 */
export function postEntry(
  t: SqlTransaction,
  ctx: BillingContext,
  account: LockedAccount,
  entry: LedgerEntry,
  now: Date,
): Transaction {
  const balanceAfter = account.balance.plus(entry.delta);
  const transaction: Transaction = {
    id: randomUUID(),
    accountId: account.id,
    mandateId: account.mandateId,
    sequence: account.sequence + 1,
    transactionType: entry.transactionType,
    amount: new Prisma.Decimal(formatMoney(entry.delta.abs())),
    delta: new Prisma.Decimal(formatMoney(entry.delta)),
    balanceAfter: new Prisma.Decimal(formatMoney(balanceAfter)),
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
  };
  insertEntry(t, transaction);
  account.balance = balanceAfter;
  account.sequence = transaction.sequence;
  if (entry.transactionType === "CREDIT") account.lastTopUpBalance = balanceAfter;
  accountChanged(t, account, now);
  if (entry.transactionType === "DEBIT") {
    addDebitToRollups(
      t,
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

interface Payer {
  mandateId: string;
  userId?: string | null;
}

/** The paying account, locked, with what was read alongside it. */
export interface LockedPayer extends LockedRead {
  settings: Settings;
  account: LockedAccount;
}

/**
 * Locks the account that pays for `payer` under the mandate's billing model
 * and reads it (with `keys`: what an earlier request left under them), in one
 * round trip; opens it on first use. A new PREPAY_USER account starts with the
 * mandate's defaultUserCredit as a SYSTEM credit. Two first uses at once open
 * one account with one initial credit: the second INSERT waits on the unique
 * key for the first to commit, then finds the row.
 */
export async function lockPayer(
  t: SqlTransaction,
  ctx: BillingContext,
  payer: Payer,
  now: Date,
  keys: { entryKey?: string; holdKey?: string } = {},
): Promise<LockedPayer> {
  const read = await lockAndRead(t, { mandateId: payer.mandateId, accountKeys: accountKeysByModel(payer.userId) }, now, keys);
  const settings = read.settings;
  if (!settings) throw notFound(`Mandate "${payer.mandateId}"`, ["input", "mandateId"]);
  const owner = accountKeyFor(settings.billingModel, payer.userId);
  if (read.account) return { ...read, settings, account: read.account };
  const opened = await openAndLock(t, { mandateId: settings.mandateId, ...owner }, now, keys);
  const account = opened.account;
  if (!account) throw new Error(`account ${owner.accountKey} of ${settings.mandateId} vanished while opening`);
  const initialCredit = parseMoney(settings.defaultUserCredit.toString(), ["defaultUserCredit"]);
  if (opened.opened && owner.accountType === "USER" && initialCredit.greaterThan(0)) {
    postEntry(
      t,
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
  return { ...opened, settings, account };
}

/**
 * The account that pays for `userId`, locked and opened on first use, for
 * callers on a Prisma transaction (balances, top-ups): lockPayer through it.
 */
export async function openAccount(
  tx: Tx,
  ctx: BillingContext,
  settings: Settings,
  userId: string | null | undefined,
  now: Date,
): Promise<LockedAccount> {
  const t = prismaSqlTransaction(tx);
  const { account } = await lockPayer(t, ctx, { mandateId: settings.mandateId, userId }, now);
  await t.flush();
  return account;
}

/**
 * Whether an earlier request under the idempotency key is answered again:
 * the same content is a replay, different content a conflict.
 */
export function replayed(earlier: Earlier | null, key: string, hash: string): earlier is Earlier {
  if (!earlier) return false;
  if (earlier.requestHash !== hash) throw idempotencyConflict(key);
  return true;
}

/** After the last change of an operation: warning state, the live event, and an automatic top-up if one is due. */
export function finishMove(
  t: SqlTransaction,
  account: LockedAccount,
  settings: Settings,
  now: Date,
  emit: (event: BillingEvent) => void,
): void {
  evaluateWarning(t, account, settings, now, emit);
  emit({ type: "balanceChanged", mandateId: account.mandateId, accountId: account.id, userId: account.userId });
  if (autoTopUpWanted(account, settings)) emit({ type: "autoTopUpWanted", mandateId: account.mandateId, accountId: account.id });
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
  options: MoveOptions = {},
): Promise<MoneyMoveResult> {
  return inSqlTransaction(ctx, async (t, emit) => {
    const now = ctx.now();
    const { settings, account, entry: earlier } = await lockPayer(t, ctx, payer, now, { entryKey: key });
    if (replayed(earlier, key, hash)) {
      const transaction = await earlierEntry(t, earlier);
      if (options.alsoWrite) t.defer(...options.alsoWrite(transaction));
      return { transaction, accountId: account.id, replayed: true };
    }
    const entry = entryFor(account);
    const transaction = entry ? postEntry(t, ctx, account, { ...entry, idempotencyKey: key, requestHash: hash }, now) : null;
    if (transaction) finishMove(t, account, settings, now, emit);
    if (options.alsoWrite) t.defer(...options.alsoWrite(transaction));
    return { transaction, accountId: account.id, replayed: false };
  });
}

export interface MoveOptions {
  /**
   * Writes that commit in the same database transaction as the entry (or,
   * on a replay, alongside the answer), e.g. the Stripe event id that
   * caused it. They see the transaction booked or replayed, null when none.
   * Deferred writes: they must not touch rows the move writes.
   */
  alsoWrite?: (transaction: Transaction | null) => Sql[];
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
export async function creditAccount(ctx: BillingContext, input: CreditInput, options: MoveOptions = {}): Promise<MoneyMoveResult> {
  const amount = parsePositiveMoney(input.amount, ["input", "amount"]);
  if (input.referenceType === "WORKFLOW") {
    throw validation("A credit references a PAYMENT, ADMIN or SYSTEM action, not a WORKFLOW", ["input", "referenceType"]);
  }
  return bookEntry(ctx, "CREDIT", amount, input, options);
}

/**
 * Books a credit or an adjustment of an amount already validated: the
 * description, reference and idempotency key are checked the same way, and
 * the request's content (for replays) is everything the entry records.
 */
async function bookEntry(
  ctx: BillingContext,
  transactionType: "CREDIT" | "ADJUSTMENT",
  amount: Decimal,
  input: CreditInput | AdjustInput,
  options: MoveOptions,
): Promise<MoneyMoveResult> {
  const description = requiredText(input.description, ["input", "description"]);
  const referenceType = input.referenceType ?? "ADMIN";
  const referenceId = optionalText(input.referenceId, ["input", "referenceId"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const hash = requestHash({
    op: transactionType === "CREDIT" ? "credit" : "adjust",
    mandateId: input.mandateId,
    userId: input.userId,
    amount: formatMoney(amount),
    description,
    referenceType,
    referenceId,
  });
  return moveMoney(ctx, input, key, hash, () => ({
    transactionType,
    delta: amount,
    description,
    referenceType,
    referenceId,
    createdByUserId: input.createdByUserId,
  }), options);
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
export async function adjustAccount(ctx: BillingContext, input: AdjustInput, options: MoveOptions = {}): Promise<MoneyMoveResult> {
  const amount = parseMoney(input.amount, ["input", "amount"]);
  if (amount.isZero()) {
    throw new BillingError("INVALID_AMOUNT", "An adjustment must not be zero", ["input", "amount"]);
  }
  return bookEntry(ctx, "ADJUSTMENT", amount, input, options);
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

