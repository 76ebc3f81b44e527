// The frame of every money move: lock the account it books on (store/locks.ts),
// read it with what is recorded under the request's idempotency key, answer
// a replay, or open the account if need be and let the rules book; then the
// warning, the live event and the automatic top-up's signal. One booking
// (one database transaction) per move: on PostgreSQL two round trips, one to
// lock and read, one to write and commit.
import type { Settings, Transaction } from "@prisma/client";
import { isUniqueViolation } from "../../db/executor.js";
import type { Sql } from "../../db/sql.js";
import type { BillingContext } from "../shared/context.js";
import { notFound, validation, type BillingError } from "../shared/errors.js";
import { idempotencyConflict } from "../shared/idempotency.js";
import { parseMoney } from "../shared/money.js";
import { accountKeyFor, accountKeysByModel, ownerOfKey, type AccountOwner, type LockedAccount } from "./accounts.js";
import { inBooking, type Booking } from "./booking.js";
import { postEntry, type LedgerEntry } from "./entries.js";
import { lockMandateShared } from "./store/locks.js";
import { earlierEntry, lockAndRead, openAndLock, type Earlier, type EntryKey, type LockedRead, type ReadOptions } from "./store/reads.js";
import { belowAutoTopUpMark, evaluateWarning, rearmWarning } from "./thresholds.js";

export interface MoneyMoveResult {
  /** null only for a settlement at zero cost made before zero-cost calls were booked. */
  transaction: Transaction | null;
  accountId: string;
  /** True when an earlier request with the same idempotency key is answered again. */
  replayed: boolean;
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
  /** The idempotency keys read with it (read again when the account is opened). */
  readKeys?: Pick<ReadOptions, "entryKey" | "holdKey">;
}

/**
 * Locks the account a move books on and reads it, in one round trip. A move
 * that picks its account by the billing model first takes the mandate's lock
 * shared, so the model cannot change under it (store/locks.ts). The account
 * is not opened here: a replay must not open one (reads never write), and a
 * denied hold neither; openTarget opens it when the move books. A warning a
 * hold's expiry re-armed since is re-armed here, before the rules run.
 */
export async function lockTarget(b: Booking, target: MoveTarget, options: ReadOptions = {}): Promise<LockedTarget> {
  let read: LockedRead;
  if ("payer" in target) {
    const { mandateId, userId } = target.payer;
    read = await lockAndRead(b.t, { mandateId, accountKeys: accountKeysByModel(userId) }, b.now, options, [lockMandateShared(mandateId)]);
    if (!read.settings) throw notFound(`Mandate "${mandateId}"`, ["input", "mandateId"]);
  } else {
    read = await lockAndRead(b.t, "accountId" in target ? { accountId: target.accountId } : target, b.now, options);
    if (!read.settings || (!read.account && "accountId" in target)) throw notFound("Billing account", ["input", "accountId"]);
  }
  const settings = read.settings!;
  if (read.account) rearmWarning(b, read.account, settings);
  return { ...read, settings, target, readKeys: { entryKey: options.entryKey, holdKey: options.holdKey } };
}

/**
 * Whose the target's account is, under the billing model read with the
 * lock. Asked only after the replay check: a retry of a booked request is
 * answered even when the model changed since and would refuse it now.
 */
export function ownerOf(locked: LockedTarget): AccountOwner {
  const { target, settings, account } = locked;
  if ("payer" in target) {
    const { userId } = target.payer;
    if (target.userPicksAccount && userId && settings.billingModel !== "PREPAY_USER") {
      throw validation(
        `userId names a user's own account, which only PREPAY_USER has: this mandate (${settings.billingModel}) has one shared account; leave userId out`,
        ["input", "userId"],
      );
    }
    return account ? ownerOfKey(account.accountKey) : accountKeyFor(settings.billingModel, userId);
  }
  if (account) return ownerOfKey(account.accountKey);
  if ("accountKey" in target) return ownerOfKey(target.accountKey);
  throw notFound("Billing account", ["input", "accountId"]);
}

/**
 * The target's account, opened (and locked) if it is not yet. A new USER
 * account starts with the mandate's defaultUserCredit as a SYSTEM credit.
 * Two first uses at once open one account with one initial credit: the
 * second INSERT waits on the unique key for the first to commit, then finds
 * the row.
 */
export async function openTarget(b: Booking, locked: LockedTarget): Promise<LockedAccount> {
  const owner = ownerOf(locked);
  if (locked.account) return locked.account;
  const { settings } = locked;
  // The keys are read again with the lock: a request that opened the account
  // first may have booked under this very key meanwhile (the caller checks again).
  const keys = { entryKey: locked.readKeys?.entryKey, holdKey: locked.readKeys?.holdKey };
  const opened = await openAndLock(b.t, { mandateId: settings.mandateId, ...owner }, b.now, keys);
  locked.entry = opened.entry;
  locked.hold = opened.hold;
  const account = opened.account;
  if (!account) throw new Error(`account ${owner.accountKey} of ${settings.mandateId} vanished while opening`);
  const initialCredit = parseMoney(settings.defaultUserCredit.toString(), ["defaultUserCredit"]);
  if (opened.opened && owner.accountType === "USER" && initialCredit.greaterThan(0)) {
    // Opened once (the account's unique key guards it): no idempotency key needed.
    postEntry(b, account, { transactionType: "CREDIT", delta: initialCredit, description: "Initial credit", referenceType: "SYSTEM" });
  }
  if (!opened.opened) rearmWarning(b, account, settings);
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

/** A booking of one move that may race on its idempotency key (see retryOnKeyRace). */
export function inMoveBooking<T>(ctx: BillingContext, work: (b: Booking) => Promise<T>): Promise<T> {
  return retryOnKeyRace(() => inBooking(ctx, work));
}

/** After the last change of an operation: warning state, the live event, and an automatic top-up if one is due. */
export function finishMove(b: Booking, account: LockedAccount, settings: Settings): void {
  evaluateWarning(b, account, settings);
  b.emit({ type: "balanceChanged", mandateId: account.mandateId, accountId: account.id, userId: account.userId });
  if (belowAutoTopUpMark(account, settings)) b.emit({ type: "autoTopUpWanted", mandateId: account.mandateId, accountId: account.id });
}

export interface MoveOptions {
  /**
   * Writes that commit in the same database transaction as the entry (or,
   * on a replay, alongside the answer), e.g. the payment provider's event id
   * that caused it. They see the transaction booked or replayed. They must
   * not touch rows the move writes.
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
 * written for bad input), then in one booking lock the paying account,
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
  return inMoveBooking(ctx, async (b) => {
    const locked = await lockTarget(b, target, { entryKey: request.key, price: options.price });
    const earlier = sameRequestAs(locked.entry, request.hash, conflict);
    if (earlier) {
      const transaction = await earlierEntry(b.t, earlier);
      if (options.alsoWrite) b.writes.also(...options.alsoWrite(transaction));
      return { transaction, accountId: earlier.accountId, replayed: true };
    }
    const account = await openTarget(b, locked);
    const raced = sameRequestAs(locked.entry, request.hash, conflict);
    if (raced) return { transaction: await earlierEntry(b.t, raced), accountId: raced.accountId, replayed: true };
    const entry = entryFor(account, locked);
    const transaction = postEntry(b, account, { ...entry, idempotencyKey: request.key.key, idempotencyScope: request.key.scope, requestHash: request.hash });
    finishMove(b, account, locked.settings);
    if (options.alsoWrite) b.writes.also(...options.alsoWrite(transaction));
    return { transaction, accountId: account.id, replayed: false };
  });
}
