// GET /export/transactions.csv through yoga.fetch: the rules and filters of
// the `transactions` query, sums that equal the ledger, and a body read from
// the database a page at a time as the client reads it.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { upsertMandate } from "../../src/billing/mandates/mandates.js";
import { Decimal } from "../../src/billing/shared/money.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import type { AppServices } from "../../src/context.js";
import { handleTransactionExport, TRANSACTION_EXPORT_PATH } from "../../src/http/export.js";
import { createTestApp, forgeToken, JWT_SECRET, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";
import { uniqueId } from "../support/billing.js";
import { createTokenVerifier } from "../../src/auth.js";

let app: TestApp;
let mandateId: string;
let other: string;
const ADMIN = (): TestCaller => ({ roles: ["MANDATE_ADMIN"], mandateIds: [mandateId], userId: "alice" });
const USER = (userId: string): TestCaller => ({ roles: ["USER"], mandateIds: [mandateId], userId });
const DEBITS = 130;
const PROVIDERS = ["openai", "anthropic", "mistral"];

beforeAll(async () => {
  app = await createTestApp();
  mandateId = uniqueId("export");
  other = uniqueId("export-other");
  await upsertMandate(app.billing, { id: mandateId, name: "Export AG" });
  await upsertMandate(app.billing, { id: other, name: "Other AG" });
  await creditAccount(app.billing, { mandateId, amount: "1000", description: "Top-up", idempotencyKey: "c1" });
  // A description a spreadsheet would run as a formula.
  await creditAccount(app.billing, { mandateId, amount: "0.000001", description: '=HYPERLINK("http://evil")', idempotencyKey: "c2" });
  await creditAccount(app.billing, { mandateId: other, amount: "5", description: "Other's money", idempotencyKey: "o1" });
  for (let i = 0; i < DEBITS; i++) {
    app.clock.advance(1000 * (i % 3)); // some entries share an instant: the keyset must still see each once
    await recordUsage(app.billing, {
      mandateId,
      userId: `u${i % 4}`,
      provider: PROVIDERS[i % 3],
      model: "m",
      cost: `${(i % 5) + 1}.${String((i * 7919) % 1_000_000).padStart(6, "0")}`,
      metadata: { featureCode: i % 2 ? "search" : "chat", description: "usage, with a comma" },
      idempotencyKey: `d${i}`,
    });
  }
});
afterAll(async () => {
  await app?.close();
});

async function exportCsv(query: string, caller?: TestCaller) {
  const headers: Record<string, string> = caller ? { authorization: `Bearer ${await app.token(caller)}` } : {};
  const response = await app.yoga.fetch(`http://yoga${TRANSACTION_EXPORT_PATH}?${query}`, { headers });
  return response;
}

async function rowsOf(response: Response): Promise<Record<string, string>[]> {
  expect(response.status).toBe(200);
  return parse(await response.text(), { columns: true });
}

const sum = (rows: Record<string, string>[], column = "delta") => rows.reduce((s, r) => s.plus(r[column]), new Decimal(0)).toFixed(6);

async function listed(filter: Record<string, unknown>, caller: TestCaller) {
  const result = await app.gql(
    `query($m: ID!, $f: TransactionFilter, $after: String) { transactions(mandateId: $m, filter: $f, first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id delta } } } }`,
    { m: mandateId, f: filter },
    caller,
  );
  return result.data.transactions as { totalCount: number; edges: { node: { id: string; delta: string } }[] };
}

describe("GET /export/transactions.csv", () => {
  it("streams the whole history, newest first like the list, and its deltas sum to the ledger's balance", async () => {
    const response = await exportCsv(`mandateId=${mandateId}`, ADMIN());
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="transactions-${mandateId}.csv"`);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const rows = await rowsOf(response);
    const account = await app.database.prisma.billingAccount.findFirstOrThrow({ where: { mandateId, userId: null } });
    expect(rows).toHaveLength(DEBITS + 2);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(sum(rows)).toBe(account.balance.toFixed(6));
    // Each row's balanceAfter is the balance when it was booked.
    expect(rows[0].balanceAfter).toBe(account.balance.toFixed(6));
    expect(rows[0]).toMatchObject({ currency: "CHF", accountId: account.id, description: "usage, with a comma" });
    // The same order as the GraphQL list.
    const firstPage = await listed({}, ADMIN());
    expect(rows.slice(0, 100).map((r) => r.id)).toEqual(firstPage.edges.map((e) => e.node.id));
    // Exact amounts, never rounded; text that would run as a formula is defused.
    const tiny = rows.find((r) => r.amount === "0.000001")!;
    expect(tiny.description).toBe('\'=HYPERLINK("http://evil")');
    expect(rows.map((r) => r.amount).every((a) => /^\d+\.\d{6}$/.test(a))).toBe(true);
  });

  it("applies the filters of the transactions query", async () => {
    const query = new URLSearchParams({ mandateId });
    query.append("transactionTypes", "DEBIT");
    query.append("providers", "OpenAI");
    query.append("providers", "mistral");
    query.append("featureCodes", "chat");
    query.set("userId", "u2");
    const rows = await rowsOf(await exportCsv(query.toString(), ADMIN()));
    const expected = await listed(
      { transactionTypes: ["DEBIT"], providers: ["OpenAI", "mistral"], featureCodes: ["chat"], userId: "u2" },
      ADMIN(),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.id)).toEqual(expected.edges.map((e) => e.node.id));
    expect(
      rows.every((r) => ["openai", "mistral"].includes(r.aicoreProvider) && r.featureCode === "chat" && r.createdByUserId === "u2"),
    ).toBe(true);

    const from = rows[rows.length - 1].createdAt;
    const to = rows[0].createdAt;
    const window = await rowsOf(await exportCsv(`mandateId=${mandateId}&from=${from}&to=${to}`, ADMIN()));
    expect(window.every((r) => r.createdAt >= from && r.createdAt < to)).toBe(true);
    expect(window.length).toBe((await listed({ from, to }, ADMIN())).totalCount);
  });

  it("gives a USER only what the transactions query gives them", async () => {
    const rows = await rowsOf(await exportCsv(`mandateId=${mandateId}`, USER("u1")));
    const mine = await listed({}, USER("u1"));
    expect(rows.length).toBe(mine.totalCount);
    expect(rows.every((r) => r.createdByUserId === "u1")).toBe(true);
    expect(sum(rows)).toBe(mine.edges.reduce((s, e) => s.plus(e.node.delta), new Decimal(0)).toFixed(6));
  });

  it("refuses what the transactions query refuses, in the shape of a GraphQL error", async () => {
    const refusal = async (response: Response) => ({ status: response.status, ...(await response.json()).errors[0] });
    expect(await refusal(await exportCsv(`mandateId=${mandateId}`))).toMatchObject({
      status: 401,
      extensions: { code: "UNAUTHENTICATED" },
    });
    const forged = await app.yoga.fetch(`http://yoga${TRANSACTION_EXPORT_PATH}?mandateId=${mandateId}`, {
      headers: { authorization: `Bearer ${forgeToken(await app.token(ADMIN()))}` },
    });
    expect(await refusal(forged)).toMatchObject({ status: 401, extensions: { code: "UNAUTHENTICATED" } });
    expect(await refusal(await exportCsv(`mandateId=${mandateId}&userId=u2`, USER("u1")))).toMatchObject({
      status: 403,
      extensions: { code: "FORBIDDEN" },
    });
    expect(await refusal(await exportCsv(`mandateId=${other}`, ADMIN()))).toMatchObject({ status: 403, extensions: { code: "FORBIDDEN" } });
    expect(await refusal(await exportCsv(`mandateId=${other}`, { roles: ["SERVICE"] }))).toMatchObject({ status: 403 });
    expect(await refusal(await exportCsv(`transactionTypes=DEBIT`, SYSADMIN))).toMatchObject({
      status: 400,
      extensions: { code: "VALIDATION_FAILED" },
    });
    const badType = await refusal(await exportCsv(`mandateId=${mandateId}&transactionTypes=REFUND`, SYSADMIN));
    expect(badType).toMatchObject({ status: 400, extensions: { code: "VALIDATION_FAILED" } });
    expect(badType.message).toMatch(/^transactionTypes/);
    // (A lone surrogate cannot arrive in a query string: URL decoding makes it U+FFFD.)
    for (const [param, value] of [
      ["providers", "open%00ai"],
      ["userId", "u%00"],
      ["featureCodes", "chat%00"],
    ]) {
      const unstorable = await refusal(await exportCsv(`mandateId=${mandateId}&${param}=${value}`, SYSADMIN));
      expect(unstorable, param).toMatchObject({ status: 400, extensions: { code: "VALIDATION_FAILED" } });
      expect(unstorable.message, param).toMatch(new RegExp(`^${param}\\.?\\d*: must not contain NUL characters`));
    }
    const backwards = await refusal(await exportCsv(`mandateId=${mandateId}&from=2026-12-01T00:00:00Z&to=2026-01-01T00:00:00Z`, SYSADMIN));
    expect(backwards).toMatchObject({ status: 400, extensions: { code: "VALIDATION_FAILED" } });
    const post = await app.yoga.fetch(`http://yoga${TRANSACTION_EXPORT_PATH}?mandateId=${mandateId}`, { method: "POST" });
    expect(post.status).toBe(405);
  });

  it("reads the database a page at a time, as the client reads", async () => {
    let reads = 0;
    const prisma = app.database.prisma;
    const db = new Proxy(prisma, {
      get(target, property) {
        if (property !== "transaction") return Reflect.get(target, property);
        return { findMany: (args: Parameters<typeof prisma.transaction.findMany>[0]) => (reads++, target.transaction.findMany(args)) };
      },
    });
    const services = { db, verifyToken: createTokenVerifier(JWT_SECRET) } as unknown as AppServices;
    const request = async () =>
      new Request(`http://yoga${TRANSACTION_EXPORT_PATH}?mandateId=${mandateId}`, {
        headers: { authorization: `Bearer ${await app.token(ADMIN())}` },
      });

    const response = await handleTransactionExport(await request(), services, { pageSize: 7 });
    const reader = response.body!.getReader();
    await reader.read(); // the header line
    await reader.read(); // the first page
    expect(reads).toBeLessThanOrEqual(2);
    await reader.cancel();
    const afterCancel = reads;
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toBe(afterCancel);

    reads = 0;
    const paged = parse(await (await handleTransactionExport(await request(), services, { pageSize: 7 })).text(), { columns: true });
    expect(reads).toBe(Math.ceil((DEBITS + 2) / 7));
    const whole = await rowsOf(await exportCsv(`mandateId=${mandateId}`, ADMIN()));
    expect(paged).toEqual(whole);
  });
});
