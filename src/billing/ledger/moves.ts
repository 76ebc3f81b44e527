// The frame of every money move: its plan (the account it books on, its
// idempotency key, the price it needs) is locked and read with the other
// moves of its batch (batch.ts); its rules then answer a replay, or open
// the account if need be and book; then the warning, the live event and
// the automatic top-up's signal.
import type { Settings, Transaction } from "@prisma/client";
import type { Sql } from "../../db/sql.js";
import type { BillingContext } from "../shared/context.js";
import type { BillingError } from "../shared/errors.js";
import { idempotencyConflict } from "../shared/idempotency.js";
import { parseMoney } from "../shared/money.js";
import { accountIdFor, type LockedAccount } from "./accounts.js";
import type { Move, MovePlan } from "./batch.js";
import type { Booking } from "./booking.js";
import { postEntry, type LedgerEntry } from "./entries.js";
import { earlierEntry, type Earlier, type EntryKey, type ReadOptions } from "./store/reads.js";
import { ownerOf, type LockedTarget, type MoneyMoveResult, type MoveTarget } from "./targets.js";
import { belowAutoTopUpMark, evaluateWarning } from "./thresholds.js";

export type { LockedTarget, MoneyMoveResult, MoveTarget, Payer } from "./targets.js";
export { ownerOf } from "./targets.js";

/** Queues a move with the others of its mandate's lane; resolves once its batch has committed. */
export function submit<R>(ctx: BillingContext, move: Move<R>): Promise<R> {
  return ctx.moves.submit(move);
}

/** The mandate a move's plan is for: named by its target, or the one a hold lives in. */
export function mandateOf(target: MoveTarget): string | null {
  if ("payer" in target) return target.payer.mandateId;
  if ("accountKey" in target) return target.mandateId;
  return null;
}

/**
 * The target's account, opened if it is not yet: in memory, inserted with
 * its final state at COMMIT (store/writes.ts), shared with the later moves of
 * the batch. A new USER account starts with the mandate's defaultUserCredit
 * as a SYSTEM credit. Two transactions opening one account at once: one
 * COMMIT fails on the account's unique key and that move runs again
 * (batch.ts), finding the account the other opened.
 */
export function openTarget(b: Booking, locked: LockedTarget): LockedAccount {
  const owner = ownerOf(locked);
  if (locked.account) return locked.account;
  const { settings } = locked;
  const account = b.batch!.account({
    id: accountIdFor(settings.mandateId, owner.accountKey),
    mandateId: settings.mandateId,
    userId: owner.userId,
    accountKey: owner.accountKey,
    accountType: owner.accountType,
    balance: parseMoney(0, ["balance"]),
    sequence: 0,
    creditLimit: null,
    warningThreshold: null,
    lastTopUpBalance: null,
    isWarning: false,
    lastWarningAt: null,
    enabled: true,
    held: parseMoney(0, ["held"]),
  });
  b.writes.openAccount(account);
  const initialCredit = parseMoney(settings.defaultUserCredit.toString(), ["defaultUserCredit"]);
  if (owner.accountType === "USER" && initialCredit.greaterThan(0)) {
    // Opened once (the account's unique key guards it): no idempotency key needed.
    postEntry(b, account, { transactionType: "CREDIT", delta: initialCredit, description: "Initial credit", referenceType: "SYSTEM" });
  }
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
 * written for bad input), then, in its batch, answer a replay, or open the
 * account if need be and book the entry that `entryFor` describes.
 */
export async function moveMoney(
  ctx: BillingContext,
  target: Exclude<MoveTarget, { authorizationId: string } | { accountId: string }>,
  request: Idempotent,
  entryFor: (account: LockedAccount, read: LockedTarget) => LedgerEntry,
  options: MoveOptions = {},
): Promise<MoneyMoveResult> {
  const conflict = () => idempotencyConflict(request.key.key);
  const plan: MovePlan = { mandateId: mandateOf(target)!, target, entryKey: request.key, price: options.price };
  return submit(ctx, {
    plan,
    async apply(b, locked) {
      const earlier = sameRequestAs(locked.entry, request.hash, conflict);
      if (earlier) {
        const transaction = await earlierEntry(b.t, earlier);
        if (options.alsoWrite) b.writes.also(...options.alsoWrite(transaction));
        return { transaction, accountId: earlier.accountId, replayed: true };
      }
      const account = openTarget(b, locked);
      const entry = entryFor(account, locked);
      const transaction = postEntry(b, account, {
        ...entry,
        idempotencyKey: request.key.key,
        idempotencyScope: request.key.scope,
        requestHash: request.hash,
      });
      finishMove(b, account, locked.settings);
      if (options.alsoWrite) b.writes.also(...options.alsoWrite(transaction));
      return { transaction, accountId: account.id, replayed: false };
    },
  });
}
