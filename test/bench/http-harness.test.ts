// The checks of `npm run bench:http` (bench/http-calls.ts, bench/http-invariants.ts)
// on a few real gateway calls through yoga.fetch: the benchmark's verdict is
// only worth something if a refusal is not counted as throughput, a request
// cut off is resolved by replaying it, and each invariant fails when the
// ledger or the book is wrong. (~6 s on PGlite, most of it the app's start;
// ~1.5 s on PostgreSQL.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTHORIZE,
  MoneyBook,
  RECORD,
  SETTLE,
  authorizeInput,
  body,
  bulkSupport,
  judgeAuthorize,
  judgeRecord,
  judgeSettle,
  recordInput,
  resolveAll,
  settleInput,
  type Post,
} from "../../bench/http-calls.js";
import { checkInvariants, type Check, type InvariantOptions } from "../../bench/http-invariants.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;
let service: Post;
const mandateIds = [uniqueId("bench"), uniqueId("bench")];

beforeAll(async () => {
  app = await createTestApp();
  const token = await app.token({ roles: ["SERVICE"] });
  service = async (text) => {
    const response = await app.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: text,
    });
    return { status: response.status, text: await response.text() };
  };
  for (const id of mandateIds) {
    const created = await app.gql(
      `mutation($id: ID!) { upsertMandate(input: { id: $id, name: "Bench" }) { userErrors { code } } }`,
      { id },
      SYSADMIN,
    );
    expect(created.data.upsertMandate.userErrors).toEqual([]);
    const credited = await app.gql(
      `mutation($id: ID!) { creditAccount(input: { mandateId: $id, amount: "100", description: "Bench", idempotencyKey: "seed" }) { userErrors { code } } }`,
      { id },
      SYSADMIN,
    );
    expect(credited.data.creditAccount.userErrors).toEqual([]);
  }
});
afterAll(async () => {
  await app?.close();
});

const failing = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => c.name);

describe("bench:http's checks", () => {
  it("resolve cut-off requests, keep refusals out of throughput, and fail on a wrong ledger or book", async () => {
    const book = new MoneyBook(uniqueId("run"));
    const post = async (query: string, variables: Record<string, unknown>) => {
      const response = await service(body(query, variables));
      return [response.status, response.text] as const;
    };

    for (let i = 0; i < 4; i++) {
      const call = book.newUsage(mandateIds[i % 2]);
      book.answerUsage(call, judgeRecord(...(await post(RECORD, { input: recordInput(call) }))));
    }
    const pair = book.newPair(mandateIds[0]);
    book.answerAuthorize(pair, judgeAuthorize(...(await post(AUTHORIZE, { input: authorizeInput(pair) }))));
    book.answerSettle(pair, judgeSettle(...(await post(SETTLE, { input: settleInput(pair) }))));

    // A refusal (a userError, nothing written) is a failure, never an acknowledgement.
    const refused = book.newUsage("no-such-mandate");
    const verdict = judgeRecord(...(await post(RECORD, { input: recordInput(refused) })));
    expect(verdict).toMatchObject({ ok: false, refused: true });
    book.answerUsage(refused, verdict);

    // Cut off at the end of a measurement: booked, but no answer arrived; a hold granted but never settled.
    const cutOff = book.newUsage(mandateIds[1]);
    await post(RECORD, { input: recordInput(cutOff) });
    const open = book.newPair(mandateIds[1]);
    book.answerAuthorize(open, judgeAuthorize(...(await post(AUTHORIZE, { input: authorizeInput(open) }))));
    const neverSent = book.newUsage(mandateIds[0]);
    expect(book.unresolved()).toMatchObject({ usage: [cutOff, neverSent], pairs: [open] });

    expect(await resolveAll(book, service)).toEqual({ replayed: 3, unresolved: 0, reasons: [] });
    expect([cutOff.state, neverSent.state, open.settle]).toEqual(["acked", "acked", "acked"]);

    const query = (text: string, params: string[]) => app.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(text, ...params);
    const quote = await app.gql(
      `{ quote(input: { provider: "openai", model: "gpt-4o-mini", usage: { inputTokens: 1200, outputTokens: 300 } }) { costChf } }`,
      {},
      SYSADMIN,
    );
    const options: InvariantOptions = { mandateIds, credits: 2, debitAmount: quote.data.quote.costChf, timeZone: "Europe/Zurich" };
    const checks = await checkInvariants(query, book, options);
    expect(failing(checks)).toEqual([]);
    expect(checks.find((c) => c.name.startsWith("entries ="))!.detail).toMatch(/^8 debits for 6 recordUsage \+ 2 settleUsage/);

    // The book wrong: a different transaction acknowledged; an acknowledged request forgotten.
    const real = cutOff.transactionId;
    cutOff.transactionId = pair.transactionId;
    expect(failing(await checkInvariants(query, book, options))).toEqual(["one entry per acknowledged recordUsage key, the one returned"]);
    cutOff.transactionId = real;
    book.usage.delete(neverSent.key);
    expect(failing(await checkInvariants(query, book, options))).toEqual(["entries = acknowledged money requests"]);
    book.usage.set(neverSent.key, neverSent);
    expect(failing(await checkInvariants(query, book, { ...options, debitAmount: "0.000001" }))).toEqual([
      "every debit at the catalog price (0.000001)",
    ]);

    // The ledger wrong: a balance, a rollup.
    const account = `(SELECT "id" FROM "BillingAccount" WHERE "mandateId" = '${mandateIds[0]}')`;
    await app.db.prisma.$executeRawUnsafe(`UPDATE "BillingAccount" SET "balance" = "balance" + 1 WHERE "id" = ${account}`);
    expect(failing(await checkInvariants(query, book, options))).toEqual(["balance = sum of deltas, per account"]);
    await app.db.prisma.$executeRawUnsafe(`UPDATE "BillingAccount" SET "balance" = "balance" - 1 WHERE "id" = ${account}`);
    await app.db.prisma.$executeRawUnsafe(
      `UPDATE "UsageStatistics" SET "transactionCount" = "transactionCount" + 1 WHERE "accountId" = ${account} AND "periodType" = 'MONTH'`,
    );
    expect(failing(await checkInvariants(query, book, options))).toEqual(["rollups = debits, per account and DAY/MONTH/YEAR"]);
  });

  it("finds recordUsages, with a result per input, by introspection", async () => {
    expect(await bulkSupport(service)).toBeNull();
  });
});
