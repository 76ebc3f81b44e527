// Credits, adjustments and transfers: the money moves of admins and of the
// system, each idempotent under its key (per mandate and kind of write).
import type { Transaction } from "@prisma/client";
import { sql, type Sql } from "../../db/sql.js";
import type { BillingContext } from "../shared/context.js";
import { BillingError, notFound, validation } from "../shared/errors.js";
import { idempotencyConflict, parseIdempotencyKey, requestHash } from "../shared/idempotency.js";
import { formatMoney, parseMoney, parsePositiveMoney, type Decimal, type DecimalInput } from "../shared/money.js";
import { optionalText, requiredText } from "../shared/validation.js";
import { postEntry, type ReferenceType } from "./entries.js";
import { inBooking } from "./booking.js";
import { finishMove, moveMoney, sameRequestAs, type MoneyMoveResult, type Payer } from "./moves.js";
import { earlierEntry, lockAndRead, type EntryKey } from "./store/reads.js";
import { rearmWarning } from "./thresholds.js";

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
  const hash = requestHash({
    op: transactionType,
    userId: input.userId,
    amount: formatMoney(amount),
    description,
    referenceType,
    referenceId,
  });
  return moveMoney(
    ctx,
    { payer: input, userPicksAccount: true },
    { key: { scope: transactionType === "CREDIT" ? "CREDIT" : "ADJUSTMENT", key }, hash },
    () => ({ transactionType, delta: amount, description, referenceType, referenceId, createdByUserId: input.createdByUserId }),
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
  // Not batched: a transfer locks two accounts; their locks order it against the batches that book on them.
  return inBooking(ctx, async (b) => {
    // Two accounts: locked in a fixed order, so two transfers never wait for each other in a circle.
    const [firstId, secondId] = [input.fromAccountId, input.toAccountId].sort();
    const first = await lockAndRead(b.t, { accountId: firstId }, b.now, { entryKey });
    const second = await lockAndRead(b.t, { accountId: secondId }, b.now);
    const [from, to] = firstId === input.fromAccountId ? [first, second] : [second, first];
    if (!from.account || from.account.mandateId !== input.mandateId) throw notFound("Billing account", ["input", "fromAccountId"]);
    if (!to.account || to.account.mandateId !== input.mandateId) throw notFound("Billing account", ["input", "toAccountId"]);
    const settings = first.settings!;
    const earlier = sameRequestAs(first.entry, hash, () => idempotencyConflict(key));
    if (earlier) {
      const out = await earlierEntry(b.t, earlier);
      const [rows] = await b.t.query(inLegOf(out.id));
      return { from: out, to: await earlierEntry(b.t, { id: rows[0].id as string }), replayed: true };
    }
    for (const side of [from.account, to.account]) rearmWarning(b, side, settings);
    const available = from.account.balance.minus(from.account.held);
    if (available.lessThan(amount)) {
      throw new BillingError(
        "INSUFFICIENT_BALANCE",
        `The source account has ${formatMoney(available)} CHF to move (balance less active holds)`,
        ["input", "amount"],
      );
    }
    const out = postEntry(b, from.account, {
      transactionType: "ADJUSTMENT",
      delta: amount.negated(),
      description,
      referenceType: "ADMIN",
      referenceId: to.account.id,
      createdByUserId: input.createdByUserId,
      idempotencyKey: key,
      idempotencyScope: "TRANSFER",
      requestHash: hash,
    });
    // The incoming leg references the outgoing one; the key is on the outgoing leg only.
    const into = postEntry(b, to.account, {
      transactionType: "ADJUSTMENT",
      delta: amount,
      description,
      referenceType: "ADMIN",
      referenceId: out.id,
      createdByUserId: input.createdByUserId,
    });
    for (const side of [from.account, to.account]) finishMove(b, side, settings);
    return { from: out, to: into, replayed: false };
  });
}

/** The incoming leg of a transfer: the ADJUSTMENT that references the outgoing one. */
function inLegOf(outId: string): Sql {
  return sql`SELECT "id" FROM "Transaction" WHERE "referenceId" = ${outId}::text AND "transactionType" = 'ADJUSTMENT' AND "delta" > 0`;
}
