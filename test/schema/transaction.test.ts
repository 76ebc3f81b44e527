// Transactions through yoga.fetch (src/schema/transaction.ts): one rule for
// the top-level list and an account's: a USER reads only what they caused,
// and asking for another user's is FORBIDDEN in both, never silently ignored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";

let app: TestApp;
let shared: string;
const MANDATE = "shared-rule";
const B1: TestCaller = { roles: ["USER"], mandateIds: [MANDATE], userId: "b1" };
const ADMIN: TestCaller = { roles: ["MANDATE_ADMIN"], mandateIds: [MANDATE], userId: "admin" };

beforeAll(async () => {
  app = await createTestApp();
  await app.gql(`mutation { upsertMandate(input: { id: "${MANDATE}", name: "Shared" }) { userErrors { code } } }`, {}, SYSADMIN);
  const credit = await app.gql(
    `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "100", description: "Start", idempotencyKey: "start" }) { account { id } } }`,
    {},
    SYSADMIN,
  );
  shared = credit.data.creditAccount.account.id;
  for (const [userId, count] of [
    ["b1", 2],
    ["b2", 3],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const used = await app.gql(
        `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { userErrors { code message } } }`,
        { input: { mandateId: MANDATE, userId, provider: "openai", model: "gpt-4o", cost: "1", idempotencyKey: `${userId}-${i}` } },
        { roles: ["SERVICE"] },
      );
      expect(used.data.recordUsage.userErrors).toEqual([]);
    }
  }
});
afterAll(async () => {
  await app?.close();
});

const TOP = `query($userId: String) { transactions(mandateId: "${MANDATE}", filter: { userId: $userId }) { totalCount } }`;
const OF_ACCOUNT = `query($id: ID!, $userId: String) { billingAccount(id: $id) { transactions(filter: { userId: $userId }) { totalCount } } }`;

describe("filtering transactions by user", () => {
  it("is FORBIDDEN to a USER asking for another user's, in the account's list as in the top-level one", async () => {
    const top = await app.gql(TOP, { userId: "b2" }, B1);
    const ofAccount = await app.gql(OF_ACCOUNT, { id: shared, userId: "b2" }, B1);
    expect(top.errors?.[0]).toMatchObject({ message: "A user may only read their own account", extensions: { code: "FORBIDDEN" } });
    expect(ofAccount.errors?.[0]).toMatchObject({ message: "A user may only read their own account", extensions: { code: "FORBIDDEN" } });
  });

  it("answers a USER's own and an admin's any, the same in both lists", async () => {
    expect((await app.gql(TOP, { userId: "b1" }, B1)).data.transactions.totalCount).toBe(2);
    expect((await app.gql(OF_ACCOUNT, { id: shared, userId: "b1" }, B1)).data.billingAccount.transactions.totalCount).toBe(2);
    expect((await app.gql(OF_ACCOUNT, { id: shared }, B1)).data.billingAccount.transactions.totalCount).toBe(2);
    expect((await app.gql(TOP, { userId: "b2" }, ADMIN)).data.transactions.totalCount).toBe(3);
    expect((await app.gql(OF_ACCOUNT, { id: shared, userId: "b2" }, ADMIN)).data.billingAccount.transactions.totalCount).toBe(3);
  });
});
