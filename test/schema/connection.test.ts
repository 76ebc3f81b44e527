// Cursors (src/schema/connection.ts) through yoga.fetch: a cursor a list
// returned pages on; anything else, however it is tampered with, is the
// same VALIDATION_FAILED "after is not a cursor this list returned".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";

let app: TestApp;
let accountId: string;
const MANDATE = "cursors";

beforeAll(async () => {
  app = await createTestApp();
  await app.gql(`mutation { upsertMandate(input: { id: "${MANDATE}", name: "Cursors" }) { userErrors { code } } }`, {}, SYSADMIN);
  for (const key of ["c1", "c2", "c3"]) {
    const credit = await app.gql(
      `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "1", description: "Credit", idempotencyKey: "${key}" }) { account { id } userErrors { code } } }`,
      {},
      SYSADMIN,
    );
    accountId = credit.data.creditAccount.account.id;
  }
});
afterAll(async () => {
  await app?.close();
});

const encode = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString("base64url");
const decode = (cursor: string) => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));

/** Each list with cursors: a query taking $after, and where its endCursor is. */
const LISTS = {
  transactions: {
    query: `query($after: String) { transactions(mandateId: "${MANDATE}", first: 1, after: $after) { pageInfo { endCursor } edges { node { id } } } }`,
    page: (data: any) => data.transactions,
  },
  "an account's transactions": {
    query: `query($after: String, $id: ID!) { billingAccount(id: $id) { transactions(first: 1, after: $after) { pageInfo { endCursor } edges { node { id } } } } }`,
    page: (data: any) => data.billingAccount.transactions,
  },
  mandates: {
    query: `query($after: String) { mandates(first: 1, after: $after) { pageInfo { endCursor } edges { node { id } } } }`,
    page: (data: any) => data.mandates,
  },
  accounts: {
    query: `query($after: String) { mandate(id: "${MANDATE}") { accounts(first: 1, after: $after) { pageInfo { endCursor } edges { node { id } } } } }`,
    page: (data: any) => data.mandate.accounts,
  },
} as const;

async function pageAfter(list: keyof typeof LISTS, after: string | null) {
  return app.gql(LISTS[list].query, { after, id: accountId }, SYSADMIN);
}

const refusedAsCursor = (result: Awaited<ReturnType<typeof pageAfter>>) => {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  expect(result.errors![0]).toMatchObject({
    message: "after is not a cursor this list returned",
    extensions: { code: "VALIDATION_FAILED", field: ["after"] },
  });
};

describe("a transaction cursor that was tampered with", () => {
  for (const list of ["transactions", "an account's transactions"] as const) {
    it(`is refused by ${list} like any malformed cursor, and a real one pages on`, async () => {
      const first = await pageAfter(list, null);
      const real = LISTS[list].page(first.data).pageInfo.endCursor as string;
      const second = await pageAfter(list, real);
      expect(second.errors).toBeUndefined();
      expect(LISTS[list].page(second.data).edges[0].node.id).not.toBe(LISTS[list].page(first.data).edges[0].node.id);

      const parts = decode(real);
      expect(Object.keys(parts).sort()).toEqual(["at", "id", "seq"]);
      for (const tampered of [
        { ...parts, at: "not-a-date" },
        { ...parts, seq: "abc" },
        { ...parts, seq: "9223372036854775807" },
        { ...parts, seq: "-1" },
        { ...parts, at: "+275760-09-13T00:00:00.000Z" },
        { ...parts, at: "2026-02-30T00:00:00.000Z" },
        { ...parts, id: "a\u0000b" },
        { ...parts, id: "x".repeat(129) },
        { ...parts, at: 1 },
        { at: parts.at, seq: parts.seq },
      ]) {
        refusedAsCursor(await pageAfter(list, encode(tampered)));
      }
      for (const malformed of ["not base64 !", encode([1, 2]), Buffer.from("{").toString("base64url")])
        refusedAsCursor(await pageAfter(list, malformed));
    });
  }
});

describe("an id cursor that was tampered with", () => {
  for (const list of ["mandates", "accounts"] as const) {
    it(`is refused by ${list}`, async () => {
      const real = LISTS[list].page((await pageAfter(list, null)).data).pageInfo.endCursor as string;
      expect((await pageAfter(list, real)).errors).toBeUndefined();
      for (const tampered of [{ id: "a\u0000b" }, { id: "\uD800" }, { id: "" }, { id: "x".repeat(129) }, { id: 7 }]) {
        refusedAsCursor(await pageAfter(list, encode(tampered)));
      }
    });
  }
});
