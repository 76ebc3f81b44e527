// What the frontend and admins read: balances, history with filters and
// pages, usage statistics, prices, quotes, labels, mandate and account lists.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { upsertMandate } from "../../src/billing/mandates/mandates.js";
import { updateSettings } from "../../src/billing/mandates/settings.js";
import { recordUsage } from "../../src/billing/usage/record.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;
let mandateId: string;
const ADMIN = () => ({ roles: ["MANDATE_ADMIN" as const], mandateIds: [mandateId], userId: "admin" });

beforeAll(async () => {
  app = await createTestApp({ USD_TO_CHF: "0.80" });
  mandateId = uniqueId("read");
  await upsertMandate(app.billing, { id: mandateId, name: "Reading AG" });
  app.clock.set("2026-10-31T22:30:00Z"); // 23:30 in Zurich, 31 October
  await creditAccount(app.billing, { mandateId, amount: "100", description: "Top-up", idempotencyKey: "c" });
  const debits = [
    { at: "2026-10-31T22:40:00Z", provider: "openai", feature: "chat", cost: "1.000001", user: "u1" },
    { at: "2026-10-31T23:10:00Z", provider: "openai", feature: "chat", cost: "2", user: "u2" }, // 00:10 on 1 November in Zurich
    { at: "2026-11-03T10:00:00Z", provider: "anthropic", feature: "automation", cost: "0.5", user: "u1" },
    { at: "2026-11-03T11:00:00Z", provider: "anthropic", feature: "chat", cost: "0.25", user: "u1" },
  ];
  for (const [i, d] of debits.entries()) {
    app.clock.set(d.at);
    await recordUsage(app.billing, {
      mandateId,
      userId: d.user,
      provider: d.provider,
      model: "m",
      cost: d.cost,
      metadata: { featureCode: d.feature },
      idempotencyKey: `d${i}`,
    });
  }
  app.clock.set("2026-11-21T12:00:00Z");
});
afterAll(async () => {
  await app?.close();
});

describe("balance", () => {
  it("shows the shared balance to an admin and to a user of the mandate", async () => {
    const query = `query($id: ID!) { balance(mandateId: $id) { mandateId mandateName billingModel balance held available currency warningThreshold isWarning creditLimit } }`;
    const expected = {
      mandateId,
      mandateName: "Reading AG",
      billingModel: "PREPAY_MANDATE",
      balance: "96.249999",
      held: "0.000000",
      available: "96.249999",
      currency: "CHF",
      warningThreshold: "10.000000",
      isWarning: false,
      creditLimit: null,
    };
    expect((await app.gql(query, { id: mandateId }, ADMIN())).data.balance).toEqual(expected);
    const user = await app.gql(query, { id: mandateId }, { roles: ["USER"], mandateIds: [mandateId], userId: "u1" });
    expect(user.data.balance).toEqual(expected);
    const mandate = await app.gql(`query($id: ID!) { mandate(id: $id) { balance { balance } } }`, { id: mandateId }, ADMIN());
    expect(mandate.data.mandate.balance.balance).toBe("96.249999");
  });
});

describe("transactions", () => {
  const LIST = `query($id: ID!, $first: Int, $after: String, $filter: TransactionFilter) {
    transactions(mandateId: $id, first: $first, after: $after, filter: $filter) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { transactionType amount delta balanceAfter aicoreProvider featureCode createdByUserId createdAt account { id } } } } }`;

  it("pages newest first without gaps or repeats", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: { data?: any } = await app.gql(LIST, { id: mandateId, first: 2, after }, ADMIN());
      const conn: any = res.data.transactions;
      expect(conn.totalCount).toBe(5);
      seen.push(...conn.edges.map((e: any) => e.node.balanceAfter));
      if (!conn.pageInfo.hasNextPage) break;
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1).cursor);
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(["96.249999", "96.499999", "96.999999", "98.999999", "100.000000"]);
  });

  it("filters by type, provider, feature, user and time", async () => {
    const count = async (filter: object) => (await app.gql(LIST, { id: mandateId, filter }, ADMIN())).data.transactions.totalCount;
    expect(await count({ transactionTypes: ["CREDIT"] })).toBe(1);
    expect(await count({ providers: ["OpenAI"] })).toBe(2);
    expect(await count({ featureCodes: ["chat"] })).toBe(3);
    expect(await count({ userId: "u1" })).toBe(3);
    expect(await count({ from: "2026-11-01T00:00:00Z", to: "2026-11-03T10:30:00Z" })).toBe(1);
  });

  it("shows a user only their own transactions", async () => {
    const res = await app.gql(LIST, { id: mandateId }, { roles: ["USER"], mandateIds: [mandateId], userId: "u2" });
    expect(res.data.transactions.edges.map((e: any) => e.node.amount)).toEqual(["2.000000"]);
    const other = await app.gql(
      LIST,
      { id: mandateId, filter: { userId: "u1" } },
      { roles: ["USER"], mandateIds: [mandateId], userId: "u2" },
    );
    expect(other.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("refuses a page size outside 1..100 and a foreign cursor", async () => {
    for (const first of [0, 101, -1]) {
      const res = await app.gql(LIST, { id: mandateId, first }, ADMIN());
      expect(res.errors?.[0].extensions?.code).toBe("VALIDATION_FAILED");
      expect(res.errors?.[0].message).toMatch(/between 1 and 100/);
    }
    const bad = await app.gql(LIST, { id: mandateId, after: "garbage" }, ADMIN());
    expect(bad.errors?.[0].extensions?.code).toBe("VALIDATION_FAILED");
  });
});

describe("usage statistics", () => {
  const STATS = `query($id: ID!, $userId: String, $period: PeriodType!, $year: Int!, $month: Int) {
    usageStatistics(mandateId: $id, userId: $userId, period: $period, year: $year, month: $month) {
      mandateId userId period year month currency
      data { label periodStart totalCost transactionCount byProvider { key cost } byFeature { key cost } }
      totals { totalCost transactionCount byProvider { key cost } byFeature { key cost } } } }`;

  it("puts each debit into its Zurich day and month, and the totals add up", async () => {
    const months = (await app.gql(STATS, { id: mandateId, period: "MONTH", year: 2026 }, ADMIN())).data.usageStatistics;
    expect(months.data).toHaveLength(12);
    expect(months.data[9]).toMatchObject({ label: "2026-10", totalCost: "1.000001", transactionCount: 1 });
    expect(months.data[10]).toMatchObject({
      label: "2026-11",
      periodStart: "2026-11-01",
      totalCost: "2.750000",
      transactionCount: 3,
      byProvider: [
        { key: "openai", cost: "2.000000" },
        { key: "anthropic", cost: "0.750000" },
      ],
      byFeature: [
        { key: "chat", cost: "2.250000" },
        { key: "automation", cost: "0.500000" },
      ],
    });
    expect(months.totals).toMatchObject({ totalCost: "3.750001", transactionCount: 4 });

    const days = (await app.gql(STATS, { id: mandateId, period: "DAY", year: 2026, month: 11 }, ADMIN())).data.usageStatistics;
    expect(days.data).toHaveLength(30);
    expect(days.data[0]).toMatchObject({ label: "2026-11-01", totalCost: "2.000000", transactionCount: 1 });
    expect(days.data[2]).toMatchObject({ label: "2026-11-03", totalCost: "0.750000", transactionCount: 2 });
    expect(days.totals.totalCost).toBe("2.750000");

    const years = (await app.gql(STATS, { id: mandateId, period: "YEAR", year: 2026 }, ADMIN())).data.usageStatistics;
    expect(years.data.map((p: any) => p.label)).toEqual(["2022", "2023", "2024", "2025", "2026"]);
    expect(years.data[4].totalCost).toBe("3.750001");
  });

  it("shows one user's spend on a shared account", async () => {
    const res = await app.gql(STATS, { id: mandateId, userId: "u1", period: "MONTH", year: 2026 }, ADMIN());
    expect(res.data.usageStatistics.totals).toMatchObject({ totalCost: "1.750001", transactionCount: 3 });
    expect(res.data.usageStatistics.data[9].totalCost).toBe("1.000001");
  });

  it("asks for the month of DAY statistics", async () => {
    const res = await app.gql(STATS, { id: mandateId, period: "DAY", year: 2026 }, ADMIN());
    expect(res.errors?.[0].extensions?.code).toBe("VALIDATION_FAILED");
  });

  it("serves an account's rollup rows", async () => {
    const account = await app.db.prisma.billingAccount.findFirstOrThrow({ where: { mandateId } });
    const res = await app.gql(
      `query($id: ID!) { billingAccount(id: $id) { usageStatistics(period: MONTH) { periodType periodStart totalCost transactionCount costByProvider { key cost } } } }`,
      { id: account.id },
      ADMIN(),
    );
    expect(res.data.billingAccount.usageStatistics).toEqual([
      {
        periodType: "MONTH",
        periodStart: "2026-10-01",
        totalCost: "1.000001",
        transactionCount: 1,
        costByProvider: [{ key: "openai", cost: "1.000001" }],
      },
      {
        periodType: "MONTH",
        periodStart: "2026-11-01",
        totalCost: "2.750000",
        transactionCount: 3,
        costByProvider: [
          { key: "openai", cost: "2.000000" },
          { key: "anthropic", cost: "0.750000" },
        ],
      },
    ]);
  });
});

describe("prices, quotes, labels", () => {
  it("lists the seeded catalog and quotes with the markup", async () => {
    const prices = await app.gql(`{ prices(provider: "anthropic") { provider model inputPerMillionTokensUsd } }`, {}, ADMIN());
    expect(prices.data.prices.length).toBeGreaterThan(0);
    expect(prices.data.prices.every((p: any) => p.provider === "anthropic")).toBe(true);
    const quote = await app.gql(
      `{ quote(input: { provider: "openai", model: "gpt-5", usage: { inputTokens: 1000000, outputTokens: 100000 } }) { baseCostChf costChf markupPercent usdToChf } }`,
      {},
      ADMIN(),
    );
    // (1.25 + 1.0) USD x 0.80 = 1.80 CHF; x 1.5 = 2.70 CHF
    expect(quote.data.quote).toEqual({ baseCostChf: "1.800000", costChf: "2.700000", markupPercent: "50.000000", usdToChf: "0.800000" });
    const unknown = await app.gql(`{ quote(input: { provider: "x", model: "y", usage: {} }) { costChf } }`, {}, ADMIN());
    expect(unknown.errors?.[0].extensions?.code).toBe("UNKNOWN_PRICE");
  });

  it("lets a sysadmin set a price, with userErrors for bad amounts", async () => {
    const UPSERT = `mutation($input: UpsertPriceInput!) { upsertPrice(input: $input) { price { provider model perRequestUsd } userErrors { code field } } }`;
    const ok = await app.gql(
      UPSERT,
      { input: { provider: "Mistral", model: "large", inputPerMillionTokensUsd: "2", outputPerMillionTokensUsd: "6", perRequestUsd: "0" } },
      SYSADMIN,
    );
    expect(ok.data.upsertPrice).toEqual({ price: { provider: "mistral", model: "large", perRequestUsd: "0.000000" }, userErrors: [] });
    const bad = await app.gql(
      UPSERT,
      {
        input: { provider: "mistral", model: "large", inputPerMillionTokensUsd: "-2", outputPerMillionTokensUsd: "6", perRequestUsd: "0" },
      },
      SYSADMIN,
    );
    expect(bad.data.upsertPrice).toEqual({
      price: null,
      userErrors: [{ code: "INVALID_AMOUNT", field: ["input", "inputPerMillionTokensUsd"] }],
    });
  });

  it("serves field labels in English and German", async () => {
    const en = await app.gql(`{ modelLabels(locale: EN) { model label fields { field label } } }`, {}, ADMIN());
    const de = await app.gql(`{ modelLabels(locale: DE) { model label fields { field label } } }`, {}, ADMIN());
    const models = en.data.modelLabels.map((m: any) => m.model);
    expect(models).toEqual(expect.arrayContaining(["BillingAccount", "Transaction", "Settings", "UsageStatistics", "BillingAddress"]));
    const balanceDe = de.data.modelLabels.find((m: any) => m.model === "BillingAccount").fields.find((f: any) => f.field === "balance");
    expect(balanceDe.label).toBe("Guthaben");
    expect(de.data.modelLabels.map((m: any) => m.fields.length)).toEqual(en.data.modelLabels.map((m: any) => m.fields.length));
  });

  it("labels only types and fields the API has", async () => {
    const labels = await app.gql(`{ modelLabels(locale: EN) { model fields { field } } }`, {}, ADMIN());
    for (const { model, fields } of labels.data.modelLabels as { model: string; fields: { field: string }[] }[]) {
      const type = await app.gql(`query($name: String!) { __type(name: $name) { fields { name } } }`, { name: model }, ADMIN());
      const known = new Set((type.data.__type?.fields ?? []).map((f: { name: string }) => f.name));
      expect(
        fields.map((f) => f.field).filter((f) => !known.has(f)),
        model,
      ).toEqual([]);
    }
  });
});

describe("mandates and accounts", () => {
  it("lists every mandate for a sysadmin, only one's own otherwise, with search", async () => {
    const LIST = `query($search: String, $first: Int) { mandates(search: $search, first: $first) { totalCount edges { node { id name } } } }`;
    const all = await app.gql(LIST, {}, SYSADMIN);
    expect(all.data.mandates.totalCount).toBeGreaterThanOrEqual(2);
    const own = await app.gql(LIST, {}, ADMIN());
    expect(own.data.mandates.edges.map((e: any) => e.node.id)).toEqual([mandateId]);
    const search = await app.gql(LIST, { search: "reading" }, SYSADMIN);
    expect(search.data.mandates.edges.map((e: any) => e.node.id)).toEqual([mandateId]);
  });

  it("shows a new user's starting credit without opening an account, and pages the accounts money moves opened", async () => {
    const id = uniqueId();
    await upsertMandate(app.billing, { id, name: "Users GmbH", billingModel: "PREPAY_USER" });
    await updateSettings(app.billing, { mandateId: id, defaultUserCredit: "7.5" });
    for (const user of ["a", "b", "c"]) {
      const res = await app.gql(
        `query($id: ID!, $u: String) { balance(mandateId: $id, userId: $u) { userId balance } }`,
        { id, u: user },
        SYSADMIN,
      );
      expect(res.data.balance).toEqual({ userId: user, balance: "7.500000" });
    }
    // Reads never write: no account is opened, no credit booked.
    expect(await app.database.prisma.billingAccount.count({ where: { mandateId: id } })).toBe(0);
    expect(await app.database.prisma.transaction.count({ where: { mandateId: id } })).toBe(0);
    for (const user of ["a", "b", "c"]) {
      await recordUsage(app.billing, {
        mandateId: id,
        userId: user,
        provider: "openai",
        model: "gpt-5",
        cost: "0.5",
        idempotencyKey: `open-${user}`,
      });
    }
    const page = await app.gql(
      `query($id: ID!) { mandate(id: $id) { accounts(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { userId accountType balance } } } } }`,
      { id },
      SYSADMIN,
    );
    expect(page.data.mandate.accounts.totalCount).toBe(3);
    expect(page.data.mandate.accounts.edges).toHaveLength(2);
    expect(page.data.mandate.accounts.pageInfo.hasNextPage).toBe(true);
  });
});
