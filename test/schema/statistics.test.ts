// Usage statistics through yoga.fetch (src/schema/statistics.ts): a range
// that ends before it starts is refused, as the transactions filter refuses it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { periodsBetween } from "../../src/schema/statistics.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";

let app: TestApp;
let accountId: string;
const MANDATE = "stats-range";

beforeAll(async () => {
  app = await createTestApp();
  await app.gql(`mutation { upsertMandate(input: { id: "${MANDATE}", name: "Stats" }) { userErrors { code } } }`, {}, SYSADMIN);
  const credit = await app.gql(
    `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "100", description: "Start", idempotencyKey: "start" }) { account { id } } }`,
    {},
    SYSADMIN,
  );
  accountId = credit.data.creditAccount.account.id;
});
afterAll(async () => {
  await app?.close();
});

describe("an account's usage statistics", () => {
  it("refuses from after to, like the transactions filter", async () => {
    const statistics = await app.gql(
      `query($id: ID!) { billingAccount(id: $id) { usageStatistics(period: MONTH, from: "2026-12-01", to: "2026-01-01") { id } } }`,
      { id: accountId },
      SYSADMIN,
    );
    expect(statistics.errors?.[0]).toMatchObject({
      message: "from must not be after to",
      extensions: { code: "VALIDATION_FAILED", field: ["from"] },
    });
    const transactions = await app.gql(
      `{ transactions(mandateId: "${MANDATE}", filter: { from: "2026-12-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }) { totalCount } }`,
      {},
      SYSADMIN,
    );
    expect(transactions.errors?.[0].extensions?.code).toBe("VALIDATION_FAILED");
  });

  it("takes a range of one day, and an open one", async () => {
    for (const range of ['from: "2026-01-01", to: "2026-01-01"', 'from: "2026-01-01"', 'to: "2026-01-01"']) {
      const result = await app.gql(
        `query($id: ID!) { billingAccount(id: $id) { usageStatistics(period: DAY, ${range}) { id } } }`,
        { id: accountId },
        SYSADMIN,
      );
      expect(result.errors, range).toBeUndefined();
    }
  });

  it("estimates its rows for the query cost from the range", () => {
    const day = (d: string) => new Date(`${d}T00:00:00Z`);
    expect(periodsBetween("DAY", day("2026-01-01"), day("2026-12-31"))).toBe(365);
    expect(periodsBetween("MONTH", day("2025-11-01"), day("2026-02-01"))).toBe(4);
    expect(periodsBetween("YEAR", day("2020-01-01"), day("2026-01-01"))).toBe(7);
    expect(periodsBetween("MONTH", null, null)).toBe(12);
    expect(periodsBetween("DAY", day("2026-12-01"), day("2026-01-01"))).toBe(1);
  });
});
