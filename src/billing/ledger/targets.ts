// Which account a money move books on, and what the move decides on once
// that account is locked and read.
import type { Settings, Transaction } from "@prisma/client";
import { notFound, validation } from "../shared/errors.js";
import { accountKeyFor, ownerOfKey, type AccountOwner } from "./accounts.js";
import type { LockedRead, ReadOptions } from "./store/reads.js";

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
  | { accountId: string }
  /** The account a hold is on (settle, release). */
  | { authorizationId: string };

/** What a money move decides on: the settings, the locked account (null: not opened yet), and what was read with it. */
export interface LockedTarget extends LockedRead {
  settings: Settings;
  target: MoveTarget;
  /** The idempotency keys read with it. */
  readKeys?: Pick<ReadOptions, "entryKey" | "holdKey">;
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
