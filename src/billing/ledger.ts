// The ledger: append-only transactions, and the one function (postEntry) that
// moves an account's balance. Every money move runs in one database
// transaction holding the account's row lock (see store.ts), checks its
// idempotency key under that lock, and commits the entry, the new balance,
// the rollups and the warning state together: on PostgreSQL two round trips,
// one to lock and read, one to write and commit. Holds are in usage.ts.
import { randomUUID } from "node:crypto";
import { Prisma, type IdempotencyScope, type Settings, type Transaction } from "@prisma/client";
import { isUniqueViolation, sql, type Sql, type SqlTransaction } from "../db.js";
import { accountKeyFor, accountKeysByModel, ownerOfKey, type AccountOwner, type LockedAccount } from "./accounts.js";
import { inSqlTransaction, type BillingContext, type BillingEvent } from "./context.js";
import { BillingError, notFound, validation } from "./errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash } from "./idempotency.js";
import { formatMoney, MAX_BALANCE, parseMoney, parsePositiveMoney, type Decimal, type DecimalInput } from "./money.js";
import { addDebitToRollups } from "./statistics.js";
import {
  accountChanged,
  earlierEntry,
  insertEntry,
  lockAndRead,
  lockMandateShared,
  openAndLock,
  type Earlier,
  type EntryKey,
  type LockedRead,
  type ReadOptions,
} from "./store.js";
import { optionalText, requiredText } from "./validation.js";
import { evaluateWarning, rearmWarning } from "./warnings.js";
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
  idempotencyScope?: IdempotencyScope | null;
  requestHash?: string | null;
}

export interface MoneyMoveResult {
  /** null only for a settlement at zero cost made before zero-cost calls were booked. */
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
 * they store. A balance beyond MAX_BALANCE is refused (the whole move rolls back).
 */
export function postEntry(
  t: SqlTransaction,
  ctx: BillingContext,
  account: LockedAccount,
  entry: LedgerEntry,
  now: Date,
): Transaction {
  const balanceAfter = account.balance.plus(entry.delta);
  if (balanceAfter.abs().greaterThan(MAX_BALANCE)) {
    throw new BillingError(
      "INVALID_AMOUNT",
      `This would take the balance to ${formatMoney(balanceAfter)} CHF, beyond the largest balance Saldo keeps (±${MAX_BALANCE.toFixed(0)})`,
      ["input", "amount"],
    );
  }
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
    idempotencyScope: entry.idempotencyKey ? (entry.idempotencyScope ?? null) : null,
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

/** Who a move is for: the mandate, and the user (who pays under PREPAY_USER, who caused it otherwise). */
export interface Payer {
  mandateId: string;
  userId?: string | null;
}

/** The account a money move books on. */
export type MoveTarget =
  /**
   * The account the mandate's billing model has pay for the payer. With
   * `userPicksAccount` (credits, adjustments) a userId only names an account,
   * so it is refused where the balance is shared.
   */
  | { payer: Payer; userPicksAccount?: boolean }
  /** The account under this key (Stripe payments: the account the checkout named), opened if need be. */
  | { mandateId: string; accountKey: string }
  /** This account. */
  | { accountId: string };

/** What a money move decides on: the settings, the locked account (null: not opened yet), and what was read with it. */
export interface LockedTarget extends LockedRead {
  settings: Settings;
  target: MoveTarget;
}

/**
 * Locks the account a move books on and reads it, in one round trip. A move
 * that picks its account by the billing model first takes the mandate's lock
 * shared, so the model cannot change under it (store.ts). The account is not
 * opened here: a replay must not open one (reads never write), and a denied
 * hold neither; openTarget opens it when the move books.
 */
export async function lockTarget(t: SqlTransaction, ctx: BillingContext, target: MoveTarget, now: Date, options: ReadOptions = {}): Promise<LockedTarget> {
  if ("payer" in target) {
    const { mandateId, userId } = target.payer;
    const read = await lockAndRead(t, { mandateId, accountKeys: accountKeysByModel(userId) }, now, options, [lockMandateShared(mandateId)]);
    const settings = read.settings;
    if (!settings) throw notFound(`Mandate "${mandateId}"`, ["input", "mandateId"]);
    if (read.account) rearmWarning(t, read.account, settings, now);
    return { ...read, settings, target };
  }
  const ref = "accountId" in target ? { accountId: target.accountId } : target;
  const read = await lockAndRead(t, ref, now, options);
  if (!read.settings || (!read.account && "accountId" in target)) throw notFound("Billing account", ["input", "accountId"]);
  if (read.account) rearmWarning(t, read.account, read.settings, now);
  return { ...read, settings: read.settings, target };
}

/**
 * Whose the target's account is, under the billing model read with the
 * lock. Asked only after the replay check: a retry of a booked request is
 * answered even when the model changed since and would refuse it now.
 */
export function ownerOf(locked: LockedTarget): AccountOwner {
  const { target, settings, account } = locked;
  if (account) return ownerOfKey(account.accountKey);
  if ("accountKey" in target) return ownerOfKey(target.accountKey);
  if (!("payer" in target)) throw notFound("Billing account", ["input", "accountId"]);
  const { userId } = target.payer;
  if (target.userPicksAccount && userId && settings.billingModel !== "PREPAY_USER") {
    throw validation(
      `userId names a user's own account, which only PREPAY_USER has: this mandate (${settings.billingModel}) has one shared account; leave userId out`,
      ["input", "userId"],
    );
  }
  return accountKeyFor(settings.billingModel, userId);
}

/**
 * The target's account, opened (and locked) if it is not yet. A new USER
 * account starts with the mandate's defaultUserCredit as a SYSTEM credit.
 * Two first uses at once open one account with one initial credit: the
 * second INSERT waits on the unique key for the first to commit, then finds
 * the row.
 */
export async function openTarget(t: SqlTransaction, ctx: BillingContext, locked: LockedTarget, now: Date): Promise<LockedAccount> {
  const owner = ownerOf(locked);
  if (locked.account) return locked.account;
  const { settings } = locked;
  const opened = await openAndLock(t, { mandateId: settings.mandateId, ...owner }, now);
  const account = opened.account;
  if (!account) throw new Error(`account ${owner.accountKey} of ${settings.mandateId} vanished while opening`);
  const initialCredit = parseMoney(settings.defaultUserCredit.toString(), ["defaultUserCredit"]);
  if (opened.opened && owner.accountType === "USER" && initialCredit.greaterThan(0)) {
    // Opened once (the account's unique key guards it): no idempotency key needed.
    postEntry(t, ctx, account, { transactionType: "CREDIT", delta: initialCredit, description: "Initial credit", referenceType: "SYSTEM" }, now);
  }
  if (!opened.opened) rearmWarning(t, account, settings, now);
  locked.account = account;
  return account;
}

/**
 * The earlier request under an idempotency key, when it is the same request
 * (a replay); null when there is none. Throws IDEMPOTENCY_CONFLICT when the
 * key was used for other content.
 */
export function sameRequestAs(earlier: Earlier | null, hash: string, conflict: () => BillingError): Earlier | null {
  if (!earlier) return null;
  if (earlier.requestHash !== hash) throw conflict();
  return earlier;
}

/**
 * Runs a money move's transaction again when it lost a race on an
 * idempotency key: two requests with one key on two accounts (users of a
 * PREPAY_USER mandate) do not wait for each other's lock, and the second
 * COMMIT fails on the key's unique index. Run again, it finds the first and
 * answers as a replay or a conflict.
 */
export async function retryOnKeyRace<T>(move: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await move();
    } catch (error) {
      if (attempt >= 3 || !isUniqueViolation(error)) throw error;
    }
  }
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

export interface MoveOptions {
  /**
   * Writes that commit in the same database transaction as the entry (or,
   * on a replay, alongside the answer), e.g. the Stripe event id that
   * caused it. They see the transaction booked or replayed.
   * Deferred writes: they must not touch rows the move writes.
   */
  alsoWrite?: (transaction: Transaction | null) => Sql[];
  /** Read this catalog price with the account (for entryFor). */
  price?: ReadOptions["price"];
}

/** An idempotent request: its key and the hash of what the caller sent. */
export interface Idempotent {
  key: EntryKey;
  hash: string;
}

/**
 * The frame every one-step money move shares: validate first (so nothing is
 * written for bad input), then in one transaction lock the paying account,
 * answer a replay, or open the account if need be and book the entry that
 * `entryFor` describes.
 */
export async function moveMoney(
  ctx: BillingContext,
  target: MoveTarget,
  request: Idempotent,
  entryFor: (account: LockedAccount, read: LockedTarget) => LedgerEntry,
  options: MoveOptions = {},
): Promise<MoneyMoveResult> {
  const conflict = () => idempotencyConflict(request.key.key);
  return retryOnKeyRace(() =>
    inSqlTransaction(ctx, async (t, emit) => {
      const now = ctx.now();
      const locked = await lockTarget(t, ctx, target, now, { entryKey: request.key, price: options.price });
      const earlier = sameRequestAs(locked.entry, request.hash, conflict);
      if (earlier) {
        const transaction = await earlierEntry(t, earlier);
        if (options.alsoWrite) t.defer(...options.alsoWrite(transaction));
        return { transaction, accountId: earlier.accountId, replayed: true };
      }
      const account = await openTarget(t, ctx, locked, now);
      const entry = entryFor(account, locked);
      const transaction = postEntry(
        t,
        ctx,
        account,
        { ...entry, idempotencyKey: request.key.key, idempotencyScope: request.key.scope, requestHash: request.hash },
        now,
      );
      finishMove(t, account, locked.settings, now, emit);
      if (options.alsoWrite) t.defer(...options.alsoWrite(transaction));
      return { transaction, accountId: account.id, replayed: false };
    }),
  );
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

/** An admin's or the system's top-up of the account that pays for the payer. */
export async function creditAccount(ctx: BillingContext, input: CreditInput): Promise<MoneyMoveResult> {
  const amount = parsePositiveMoney(input.amount, ["input", "amount"]);
  if (input.referenceType === "WORKFLOW") {
    throw validation("A credit references a PAYMENT, ADMIN or SYSTEM action, not a WORKFLOW", ["input", "referenceType"]);
  }
  return bookEntry(ctx, "CREDIT", amount, input);
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
  return bookEntry(ctx, "ADJUSTMENT", amount, input);
}

/**
 * Books a credit or an adjustment of an amount already validated: the
 * description, reference and idempotency key are checked the same way, and
 * the request's content (for replays) is everything the caller sent.
 */
async function bookEntry(ctx: BillingContext, transactionType: "CREDIT" | "ADJUSTMENT", amount: Decimal, input: CreditInput | AdjustInput) {
  const description = requiredText(input.description, ["input", "description"]);
  const referenceType = input.referenceType ?? "ADMIN";
  const referenceId = optionalText(input.referenceId, ["input", "referenceId"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  const hash = requestHash({ op: transactionType, userId: input.userId, amount: formatMoney(amount), description, referenceType, referenceId });
  return moveMoney(
    ctx,
    { payer: input, userPicksAccount: true },
    { key: { scope: transactionType === "CREDIT" ? "CREDIT" : "ADJUSTMENT", key }, hash },
    () => ({ transactionType, delta: amount, description, referenceType, referenceId, createdByUserId: input.createdByUserId }),
  );
}

/** A payment provider's money: credited (or refunded) on the account it names, whatever the billing model is now. */
export interface PaymentEntry {
  target: { accountId: string } | { mandateId: string; accountKey: string };
  kind: "PAYMENT" | "REFUND";
  /** Derived from the provider's own ids (e.g. stripe:checkout:<session id>). */
  idempotencyKey: string;
  /** Positive for a payment, negative for a refund. */
  amount: Decimal;
  description: string;
  /** The provider's object the entry references. */
  referenceId: string;
}

/** Books a payment as a PAYMENT CREDIT, a refund as a PAYMENT ADJUSTMENT; once per key. */
export async function bookPayment(ctx: BillingContext, payment: PaymentEntry, options: MoveOptions = {}): Promise<MoneyMoveResult> {
  const transactionType = payment.kind === "PAYMENT" ? "CREDIT" : "ADJUSTMENT";
  const hash = requestHash({ op: payment.kind, amount: formatMoney(payment.amount), referenceId: payment.referenceId });
  return moveMoney(
    ctx,
    payment.target,
    { key: { scope: payment.kind, key: payment.idempotencyKey }, hash },
    () => ({ transactionType, delta: payment.amount, description: payment.description, referenceType: "PAYMENT", referenceId: payment.referenceId }),
    options,
  );
}

export interface TransferInput {
  mandateId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: DecimalInput;
  description: string;
  idempotencyKey: string;
  createdByUserId?: string | null;
}

export interface TransferResult {
  from: Transaction;
  to: Transaction;
  replayed: boolean;
}

/**
 * Moves a balance between two accounts of one mandate (e.g. what a billing
 * model switch left on an account the new model does not use): two
 * ADJUSTMENT entries in one transaction, so the mandate's money is the same
 * before and after. The source must have the amount available (its holds count).
 */
export async function transferBalance(ctx: BillingContext, input: TransferInput): Promise<TransferResult> {
  const amount = parsePositiveMoney(input.amount, ["input", "amount"]);
  const description = requiredText(input.description, ["input", "description"]);
  const key = parseIdempotencyKey(input.idempotencyKey);
  if (input.fromAccountId === input.toAccountId) throw validation("fromAccountId and toAccountId must differ", ["input", "toAccountId"]);
  const hash = requestHash({ op: "TRANSFER", from: input.fromAccountId, to: input.toAccountId, amount: formatMoney(amount), description });
  const entryKey: EntryKey = { scope: "TRANSFER", key };
  return retryOnKeyRace(() =>
    inSqlTransaction(ctx, async (t, emit) => {
      const now = ctx.now();
      // Two accounts: locked in a fixed order, so two transfers never wait for each other in a circle.
      const [firstId, secondId] = [input.fromAccountId, input.toAccountId].sort();
      const first = await lockAndRead(t, { accountId: firstId }, now, { entryKey });
      const second = await lockAndRead(t, { accountId: secondId }, now);
      const [from, to] = firstId === input.fromAccountId ? [first, second] : [second, first];
      if (!from.account || from.account.mandateId !== input.mandateId) throw notFound("Billing account", ["input", "fromAccountId"]);
      if (!to.account || to.account.mandateId !== input.mandateId) throw notFound("Billing account", ["input", "toAccountId"]);
      const settings = first.settings!;
      const earlier = sameRequestAs(first.entry, hash, () => idempotencyConflict(key));
      if (earlier) {
        const out = await earlierEntry(t, earlier);
        const [rows] = await t.query(inLegOf(out.id));
        return { from: out, to: await earlierEntry(t, { id: rows[0].id as string, requestHash: null, accountId: to.account.id }), replayed: true };
      }
      for (const side of [from.account, to.account]) rearmWarning(t, side, settings, now);
      const available = from.account.balance.minus(from.account.held);
      if (available.lessThan(amount)) {
        throw new BillingError("INSUFFICIENT_BALANCE", `The source account has ${formatMoney(available)} CHF to move (balance less active holds)`, [
          "input",
          "amount",
        ]);
      }
      const out = postEntry(
        t,
        ctx,
        from.account,
        {
          transactionType: "ADJUSTMENT",
          delta: amount.negated(),
          description,
          referenceType: "ADMIN",
          referenceId: to.account.id,
          createdByUserId: input.createdByUserId,
          idempotencyKey: key,
          idempotencyScope: "TRANSFER",
          requestHash: hash,
        },
        now,
      );
      // The incoming leg references the outgoing one; the key is on the outgoing leg only.
      const into = postEntry(
        t,
        ctx,
        to.account,
        { transactionType: "ADJUSTMENT", delta: amount, description, referenceType: "ADMIN", referenceId: out.id, createdByUserId: input.createdByUserId },
        now,
      );
      for (const side of [from.account, to.account]) finishMove(t, side, settings, now, emit);
      return { from: out, to: into, replayed: false };
    }),
  );
}

/** The incoming leg of a transfer: the ADJUSTMENT that references the outgoing one. */
function inLegOf(outId: string): Sql {
  return sql`SELECT "id" FROM "Transaction" WHERE "referenceId" = ${outId}::text AND "transactionType" = 'ADJUSTMENT' AND "delta" > 0`;
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
