// Reading the ledger: transactions newest first with filters, a page at a
// time (keyset pagination on createdAt, id: stable while new rows arrive).
import type { BillingModel, Prisma, TransactionType } from "@prisma/client";
import { accountKeyFor } from "./accounts.js";
import type { Db } from "../db.js";
import { validation } from "./errors.js";

export interface TransactionFilter {
  transactionTypes?: TransactionType[] | null;
  providers?: string[] | null;
  featureCodes?: string[] | null;
  /** The user who caused the transaction. */
  userId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  totalCount: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw validation(`first must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`, ["first"]);
  }
  return size;
}

export function encodeCursor(parts: Record<string, string>): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

export function decodeCursor(cursor: string, keys: string[]): Record<string, string> {
  try {
    const parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (keys.every((k) => typeof parts?.[k] === "string")) return parts;
  } catch {
    // fall through to the error below
  }
  throw validation("after is not a cursor this list returned", ["after"]);
}

/**
 * The where clause of a transaction list. `filter.userId` means the user's
 * own account under PREPAY_USER (every entry on it, credits included), and
 * the debits they caused on a shared account otherwise.
 */
export function transactionWhere(
  scope: { mandateId?: string; accountId?: string },
  filter: TransactionFilter = {},
  billingModel?: BillingModel,
): Prisma.TransactionWhereInput {
  if (filter.from && filter.to && filter.from >= filter.to) throw validation("filter.from must be before filter.to", ["filter", "from"]);
  return {
    ...scope,
    ...(filter.transactionTypes?.length ? { transactionType: { in: filter.transactionTypes } } : {}),
    ...(filter.providers?.length ? { aicoreProvider: { in: filter.providers.map((p) => p.toLowerCase()) } } : {}),
    ...(filter.featureCodes?.length ? { featureCode: { in: filter.featureCodes } } : {}),
    ...(filter.userId
      ? billingModel === "PREPAY_USER"
        ? { account: { is: { accountKey: accountKeyFor("PREPAY_USER", filter.userId).accountKey } } }
        : { createdByUserId: filter.userId }
      : {}),
    ...(filter.from || filter.to
      ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } }
      : {}),
  };
}

/** One page of transactions, newest first. `query` adds Prisma include/select (relations in the same query). */
export async function listTransactions(
  db: Db,
  where: Prisma.TransactionWhereInput,
  page: PageArgs,
  query: { include?: Prisma.TransactionInclude; select?: Prisma.TransactionSelect } = {},
): Promise<Page<Prisma.TransactionGetPayload<object>>> {
  const size = pageSize(page.first);
  // Newest first; within one instant an account's own sequence decides.
  const after = page.after ? decodeCursor(page.after, ["at", "seq", "id"]) : null;
  const keyset: Prisma.TransactionWhereInput = after
    ? {
        OR: [
          { createdAt: { lt: new Date(after.at) } },
          { createdAt: new Date(after.at), sequence: { lt: Number(after.seq) } },
          { createdAt: new Date(after.at), sequence: Number(after.seq), id: { lt: after.id } },
        ],
      }
    : {};
  const [rows, totalCount] = await Promise.all([
    db.transaction.findMany({
      ...query,
      where: { AND: [where, keyset] },
      orderBy: [{ createdAt: "desc" }, { sequence: "desc" }, { id: "desc" }],
      take: size + 1,
    }),
    db.transaction.count({ where }),
  ]);
  const nodes = rows.slice(0, size);
  return {
    nodes,
    cursors: nodes.map((t) => encodeCursor({ at: t.createdAt.toISOString(), seq: String(t.sequence), id: t.id })),
    totalCount,
    hasNextPage: rows.length > size,
    hasPreviousPage: after !== null,
  };
}
