// Reading the ledger: transactions newest first with filters, a page at a
// time (keyset pagination on createdAt, sequence, id: stable while new rows
// arrive). Cursors, as the API spells positions, are the API's (src/schema).
import type { BillingModel, Prisma, TransactionType } from "@prisma/client";
import type { Db } from "../../db/open.js";
import { validation } from "../shared/errors.js";
import { accountKeyFor } from "./accounts.js";

export interface TransactionFilter {
  transactionTypes?: TransactionType[] | null;
  providers?: string[] | null;
  featureCodes?: string[] | null;
  /** The user who caused the transaction. */
  userId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/** Where a page of transactions starts: after this one (newest first). */
export interface TransactionPosition {
  at: Date;
  sequence: number;
  id: string;
}

export interface TransactionPage<T> {
  nodes: T[];
  /** Each node's position, for the cursor of the next page. */
  positions: TransactionPosition[];
  totalCount: number;
  hasNextPage: boolean;
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
  page: { size: number; after: TransactionPosition | null },
  query: { include?: Prisma.TransactionInclude; select?: Prisma.TransactionSelect } = {},
): Promise<TransactionPage<Prisma.TransactionGetPayload<object>>> {
  // Newest first; within one instant an account's own sequence decides.
  const after = page.after;
  const keyset: Prisma.TransactionWhereInput = after
    ? {
        OR: [
          { createdAt: { lt: after.at } },
          { createdAt: after.at, sequence: { lt: after.sequence } },
          { createdAt: after.at, sequence: after.sequence, id: { lt: after.id } },
        ],
      }
    : {};
  const [rows, totalCount] = await Promise.all([
    db.transaction.findMany({
      ...query,
      where: { AND: [where, keyset] },
      orderBy: [{ createdAt: "desc" }, { sequence: "desc" }, { id: "desc" }],
      take: page.size + 1,
    }),
    db.transaction.count({ where }),
  ]);
  const nodes = rows.slice(0, page.size);
  return {
    nodes,
    positions: nodes.map((t) => ({ at: t.createdAt, sequence: t.sequence, id: t.id })),
    totalCount,
    hasNextPage: rows.length > page.size,
  };
}
