// Ledger entries: the one function (postEntry) that moves an account's
// balance, and the entry a usage (an AI call) books.
import { randomUUID } from "node:crypto";
import { Prisma, type IdempotencyScope, type Transaction } from "@prisma/client";
import { BillingError, validation } from "../shared/errors.js";
import { formatMoney, MAX_BALANCE, type Decimal } from "../shared/money.js";
import { optionalText } from "../shared/validation.js";
import type { LockedAccount } from "./accounts.js";
import type { Booking } from "./booking.js";
import { addDebitToRollups } from "./rollups.js";

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

/**
 * Appends one entry to a locked account and moves its balance. The only
 * writer of BillingAccount.balance: balance = sum of deltas holds because
 * every delta passes through here, in the transaction that locked the row.
 * The writes go out with the transaction's COMMIT; the returned row is what
 * they store. A balance beyond MAX_BALANCE is refused (the whole move rolls back).
 */
export function postEntry(b: Booking, account: LockedAccount, entry: LedgerEntry): Transaction {
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
    createdAt: b.now,
  };
  b.writes.entry(transaction);
  account.balance = balanceAfter;
  account.sequence = transaction.sequence;
  if (entry.transactionType === "CREDIT") account.lastTopUpBalance = balanceAfter;
  b.writes.account(account);
  if (entry.transactionType === "DEBIT") {
    addDebitToRollups(
      b.writes,
      {
        accountId: account.id,
        mandateId: account.mandateId,
        amount: entry.delta.abs(),
        provider: entry.aicoreProvider ?? null,
        featureCode: entry.featureCode ?? null,
        at: b.now,
      },
      b.ctx.timeZone,
    );
  }
  return transaction;
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
