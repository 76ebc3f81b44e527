// GET /export/transactions.csv: a mandate's transaction history as CSV, for
// the UI's export button and for scripts. Same bearer token, same rules and
// same filters as the `transactions` query (can.enterMandate, readableUserId,
// transactionWhere); the rows are read a page at a time as the client reads
// the body (a pull stream), so any size streams in constant memory.
import type { Prisma } from "@prisma/client";
import { stringify } from "csv-stringify/sync";
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { z } from "zod";
import { can, ForbiddenError, readableUserId } from "../auth.js";
import { transactionWhere } from "../billing/ledger/history.js";
import { BillingError } from "../billing/shared/errors.js";
import { formatMoney } from "../billing/shared/money.js";
import { unstorableText } from "../billing/shared/validation.js";
import { authenticate, type AppServices } from "../context.js";

export const TRANSACTION_EXPORT_PATH = "/export/transactions.csv";
/** Rows per database read: large enough to be quick, small enough to stay light. */
export const EXPORT_PAGE_SIZE = 500;
/** As the GraphQL filter lists (issue 12 bounds those too). */
const MAX_LIST = 100;
const MAX_ID = 200;

export interface TransactionExportOptions {
  pageSize?: number;
}

// Text the database can store, as every GraphQL argument (src/schema/inputs.ts).
const id = z
  .string()
  .trim()
  .min(1)
  .max(MAX_ID)
  .refine((text) => unstorableText(text) === null, {
    error: (issue) => unstorableText(issue.input as string) ?? "is not storable text",
  });
const list = <T extends z.ZodType>(item: T) => z.array(item).max(MAX_LIST, `at most ${MAX_LIST} entries`).default([]);
const instant = z.iso
  .datetime({ offset: true, message: "an ISO date-time such as 2026-10-01T00:00:00Z" })
  .transform((text) => new Date(text))
  .optional();

/** The query string: mandateId plus the fields of TransactionFilter, lists as repeated parameters. */
const exportParams = z.object({
  mandateId: id,
  transactionTypes: list(z.enum(["CREDIT", "DEBIT", "ADJUSTMENT"])),
  providers: list(id),
  featureCodes: list(id),
  userId: id.optional(),
  from: instant,
  to: instant,
});
const LISTS = new Set(["transactionTypes", "providers", "featureCodes"]);

const COLUMNS = [
  "createdAt",
  "transactionType",
  "amount",
  "delta",
  "balanceAfter",
  "currency",
  "description",
  "aicoreProvider",
  "aicoreModel",
  "featureCode",
  "createdByUserId",
  "accountId",
  "accountUserId",
  "referenceType",
  "referenceId",
  "workflowId",
  "id",
] as const;

const ROW_SELECT = {
  id: true,
  createdAt: true,
  sequence: true,
  transactionType: true,
  amount: true,
  delta: true,
  balanceAfter: true,
  description: true,
  aicoreProvider: true,
  aicoreModel: true,
  featureCode: true,
  createdByUserId: true,
  accountId: true,
  referenceType: true,
  referenceId: true,
  workflowId: true,
  account: { select: { userId: true, currency: true } },
} satisfies Prisma.TransactionSelect;
type Row = Prisma.TransactionGetPayload<{ select: typeof ROW_SELECT }>;

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab or CR) as a
 * formula; free text such as a description could carry one. Such text cells
 * get a leading apostrophe; amounts are never touched.
 */
const safeText = (value: string | null) => (value && /^[=+\-@\t\r]/.test(value) ? `'${value}` : (value ?? ""));

function record(row: Row): string[] {
  return [
    row.createdAt.toISOString(),
    row.transactionType,
    formatMoney(row.amount),
    formatMoney(row.delta),
    formatMoney(row.balanceAfter),
    row.account.currency,
    safeText(row.description),
    safeText(row.aicoreProvider),
    safeText(row.aicoreModel),
    safeText(row.featureCode),
    safeText(row.createdByUserId),
    row.accountId,
    safeText(row.account.userId),
    row.referenceType ?? "",
    safeText(row.referenceId),
    safeText(row.workflowId),
    row.id,
  ];
}

/** Answers one request to the export path. */
export async function handleTransactionExport(
  request: Request,
  services: AppServices,
  options: TransactionExportOptions = {},
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") return error(405, "BAD_REQUEST", "Use GET", { allow: "GET, HEAD" });
  let caller;
  try {
    caller = await authenticate(request.headers.get("authorization"), services.verifyToken);
  } catch (failure) {
    if (failure instanceof GraphQLError) return error(401, "UNAUTHENTICATED", failure.message);
    throw failure;
  }
  if (!caller) return error(401, "UNAUTHENTICATED", "Authentication required: send Authorization: Bearer <token>");

  const url = new URL(request.url);
  const raw: Record<string, unknown> = {};
  for (const key of new Set(url.searchParams.keys())) {
    raw[key] = LISTS.has(key) ? url.searchParams.getAll(key) : url.searchParams.get(key);
  }
  const parsed = exportParams.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return error(400, "VALIDATION_FAILED", `${issue.path.join(".") || "query"}: ${issue.message}`);
  }
  const { mandateId, ...filter } = parsed.data;

  // The rules of Query.transactions: enter the mandate, then whose money.
  if (!can.enterMandate(caller, mandateId)) return error(403, "FORBIDDEN", "You are not allowed to do this");
  let userId: string | null;
  let where: Prisma.TransactionWhereInput;
  try {
    userId = readableUserId(caller, mandateId, filter.userId);
    const settings = await services.db.settings.findUnique({ where: { mandateId }, select: { billingModel: true } });
    where = transactionWhere({ mandateId }, { ...filter, userId }, settings?.billingModel);
  } catch (failure) {
    if (failure instanceof ForbiddenError) return error(403, "FORBIDDEN", failure.message);
    if (failure instanceof BillingError) return error(400, failure.code, failure.message);
    throw failure;
  }

  const headers = {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="transactions-${mandateId.replace(/[^A-Za-z0-9_-]/g, "_")}.csv"`,
    "cache-control": "no-store",
  };
  if (request.method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(csvStream(services, where, options.pageSize ?? EXPORT_PAGE_SIZE), { status: 200, headers });
}

/**
 * The rows newest first, as the `transactions` list orders them, one page
 * per pull: the next page is read only when the client has taken the last.
 */
function csvStream(services: AppServices, where: Prisma.TransactionWhereInput, pageSize: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let last: Pick<Row, "createdAt" | "sequence" | "id"> | null = null;
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(stringify([[...COLUMNS]])));
          return;
        }
        const rows: Row[] = await services.db.transaction.findMany({
          where: last ? { AND: [where, after(last)] } : where,
          orderBy: [{ createdAt: "desc" }, { sequence: "desc" }, { id: "desc" }],
          take: pageSize,
          select: ROW_SELECT,
        });
        if (rows.length > 0) {
          controller.enqueue(encoder.encode(stringify(rows.map(record))));
          last = rows[rows.length - 1];
        }
        if (rows.length < pageSize) controller.close();
      },
    },
    // One chunk ahead at most: a slow client holds back the database reads.
    { highWaterMark: 1 },
  );
}

/** The rows after `row` in the list's order (keyset: createdAt, sequence, id, all descending). */
function after(row: Pick<Row, "createdAt" | "sequence" | "id">): Prisma.TransactionWhereInput {
  return {
    OR: [
      { createdAt: { lt: row.createdAt } },
      { createdAt: row.createdAt, sequence: { lt: row.sequence } },
      { createdAt: row.createdAt, sequence: row.sequence, id: { lt: row.id } },
    ],
  };
}

/** Refusals in the shape of a GraphQL error, so a client shows them the same way. */
function error(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The export as a yoga plugin (answers before GraphQL; a bearer token is not sent cross-site, so no CSRF check). */
export function useTransactionExport(services: AppServices, options: TransactionExportOptions = {}): Plugin {
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== TRANSACTION_EXPORT_PATH) return;
      return handleTransactionExport(request, services, options).then(endResponse);
    },
  };
}
