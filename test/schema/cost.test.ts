// The query cost limit (src/schema/cost.ts) through yoga.fetch: list sizes
// count whether they are written in the document or sent as variables,
// lists inside list items are refused before anything runs, and the largest
// page of every list with every scalar field of its items passes, as do the
// UI's, the client's and the examples' operations at their largest pages.
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  Kind,
  parse,
  typeFromAST,
  type GraphQLInputType,
  type GraphQLObjectType,
  type NamedTypeNode,
  type OperationDefinitionNode,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_QUERY_COST, queryCost } from "../../src/schema/cost.js";
import { schema } from "../../src/schema/index.js";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";

let app: TestApp;
const ADMIN: TestCaller = { roles: ["MANDATE_ADMIN"], mandateIds: ["m1"], userId: "alice" };

beforeAll(async () => {
  app = await createTestApp();
  await app.gql('mutation { upsertMandate(input: { id: "m1", name: "M1" }) { userErrors { message } } }', {}, SYSADMIN);
});
afterAll(async () => {
  await app?.close();
});

/** Every field of a type that takes no required argument and returns a scalar or enum. */
function scalars(typeName: string): string {
  const type = schema.getType(typeName) as GraphQLObjectType;
  return Object.values(type.getFields())
    .filter((f) => isLeafType(getNamedType(f.type)) && f.args.every((a) => a.type.toString().slice(-1) !== "!"))
    .map((f) => f.name)
    .join(" ");
}

/** The query: transactions in each transaction's account, three lists deep, sized by a variable. */
const NESTED = /* GraphQL */ `
  query ($n: Int) {
    transactions(mandateId: "m1", first: $n) {
      edges {
        node {
          account {
            transactions(first: $n) {
              edges {
                node {
                  account {
                    transactions(first: $n) {
                      totalCount
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`;

describe("lists of lists", () => {
  it("refuses the nested query when the page size comes from a variable, before running it, saying what to reduce", async () => {
    const started = performance.now();
    const refused = await app.gql(NESTED, { n: 100 }, ADMIN);
    const elapsed = performance.now() - started;
    // No data at all (not even null): execution never started.
    expect(refused).not.toHaveProperty("data");
    expect(refused.errors).toHaveLength(1);
    const [error] = refused.errors!;
    expect(error.extensions).toMatchObject({ code: "GRAPHQL_VALIDATION_FAILED", cost: { limit: MAX_QUERY_COST } });
    expect(error.message).toMatch(new RegExp(`^Query cost \\d+ is over the limit of ${MAX_QUERY_COST}\\.`));
    expect(error.message).toMatch(/the lists here: transactions \(100\)/);
    expect(error.message).toMatch(/fewer items per page \(first\)/);
    console.log(`nested query with variables refused in ${elapsed.toFixed(1)} ms`);
  });

  it("counts a page size written into the document the same", async () => {
    const literal = NESTED.replace(/query\s*\(\$n: Int\)/, "query").replaceAll("$n", "100");
    const refused = await app.gql(literal, {}, ADMIN);
    expect(refused.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect((await app.gql(NESTED, { n: 100 }, ADMIN)).errors?.[0].message).toBe(refused.errors?.[0].message);
  });

  it("runs the same query with small pages", async () => {
    const small = await app.gql(NESTED, { n: 5 }, ADMIN);
    expect(small.errors).toBeUndefined();
    expect(small.data.transactions.edges).toEqual([]);
  });

  it("counts the default page size when first is absent, and the maximum when first is over it", () => {
    const cost = (first: string) =>
      queryCost(schema, parse(`{ transactions(mandateId: "m1"${first}) { edges { node { id account { id } } } } }`), {})!.cost;
    expect(cost("")).toBe(cost(", first: 20"));
    expect(cost(", first: 100000")).toBe(cost(", first: 100"));
  });

  it("refuses a page of accounts with a full page of transactions each, and of mandates with their accounts", async () => {
    const accounts = await app.gql(
      `{ mandate(id: "m1") { accounts(first: 100) { edges { node { transactions(first: 100) { totalCount } } } } } }`,
      {},
      ADMIN,
    );
    expect(accounts.errors?.[0].message).toMatch(/the lists here: accounts \(100\), transactions \(100\)/);
    const mandates = await app.gql(`{ mandates(first: 100) { edges { node { accounts(first: 100) { totalCount } } } } }`, {}, SYSADMIN);
    expect(mandates.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("applies to subscriptions too", async () => {
    const cost = queryCost(
      schema,
      parse(
        `subscription { balanceWarning(mandateId: "m1") { account { transactions(first: 100) { edges { node { account { transactions(first: 100) { totalCount } } } } } } } }`,
      ),
      {},
    );
    expect(cost!.cost).toBeGreaterThan(MAX_QUERY_COST);
  });
});

describe("honest pages", () => {
  const pages: Record<string, string> = {
    "transactions, each with its account": `{ transactions(mandateId: "m1", first: 100) { totalCount pageInfo { ${scalars("PageInfo")} } edges { cursor node { ${scalars("Transaction")} account { ${scalars("BillingAccount")} mandate { ${scalars("Mandate")} } } } } } }`,
    "an account's transactions": `{ billingAccount(id: "a") { transactions(first: 100) { totalCount pageInfo { ${scalars("PageInfo")} } edges { cursor node { ${scalars("Transaction")} } } } } }`,
    "mandates, each with settings, balance and automatic top-ups": `{ mandates(first: 100) { totalCount edges { cursor node { ${scalars("Mandate")} settings { ${scalars("Settings")} billingAddress { ${scalars("BillingAddress")} } autoTopUp { ${scalars("AutoTopUpSettings")} } } balance { ${scalars("BillingBalance")} } autoTopUps(first: 10) { ${scalars("AutoTopUp")} } } } } }`,
    "a mandate's accounts, each with its monthly statistics": `{ mandate(id: "m1") { accounts(first: 100) { totalCount pageInfo { ${scalars("PageInfo")} } edges { cursor node { ${scalars("BillingAccount")} usageStatistics(period: MONTH) { ${scalars("UsageStatistics")} costByProvider { key cost } costByFeature { key cost } } } } } } }`,
    "a mandate's automatic top-ups": `{ mandate(id: "m1") { autoTopUps(first: 100) { ${scalars("AutoTopUp")} } } }`,
    "a year of daily statistics": `{ billingAccount(id: "a") { usageStatistics(period: DAY, from: "2026-01-01", to: "2026-12-31") { ${scalars("UsageStatistics")} costByProvider { key cost } costByFeature { key cost } } } }`,
    "usage statistics": `{ usageStatistics(mandateId: "m1", period: DAY, year: 2026, month: 1) { ${scalars("BillingStatistics")} data { ${scalars("StatisticsPoint")} byProvider { key cost } byFeature { key cost } } totals { ${scalars("StatisticsTotals")} byProvider { key cost } byFeature { key cost } } } }`,
    prices: `{ prices { ${scalars("Price")} } }`,
    labels: `{ modelLabels(locale: DE) { model label fields { field label } } }`,
  };

  for (const [name, query] of Object.entries(pages)) {
    it(`passes the largest page of ${name}`, async () => {
      const { cost } = queryCost(schema, parse(query), {})!;
      expect(cost).toBeLessThanOrEqual(MAX_QUERY_COST);
      // Answered, not refused (the lists may be empty: the estimate does not depend on the data).
      const result = await app.gql(query, {}, SYSADMIN);
      expect(result.errors).toBeUndefined();
    });
  }

  /** Every operation of the UI, the client and the examples, every `first` at its largest. */
  const documents = [
    "web/src/operations.graphql",
    "client/operations.graphql",
    "examples/frontend/operations.graphql",
    "examples/gateway/operations.graphql",
  ];
  for (const file of documents) {
    it(`passes every operation of ${file} at its largest pages`, () => {
      const document = parse(readFileSync(path.resolve(import.meta.dirname, "../..", file), "utf8"));
      const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      expect(operations.length).toBeGreaterThan(0);
      for (const operation of operations) {
        const variables = Object.fromEntries(
          (operation.variableDefinitions ?? []).map((v) => [
            v.variable.name.value,
            v.variable.name.value === "first" ? 100 : sample(typeFromAST(schema, v.type as NamedTypeNode) as GraphQLInputType),
          ]),
        );
        const estimate = queryCost(schema, document, variables, operation.name!.value);
        expect(estimate, operation.name!.value).not.toBeNull();
        expect(estimate!.cost, operation.name!.value).toBeLessThanOrEqual(MAX_QUERY_COST);
      }
    });
  }
});

/** A value of an input type that coerces: required fields filled, optional ones left out. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, sample(f.type)]),
    );
  }
  return SCALAR_SAMPLES[type.name] ?? "x";
}
const SCALAR_SAMPLES: Record<string, unknown> = {
  Int: 2026,
  Float: 1,
  Boolean: true,
  Decimal: "1",
  Date: "2026-01-01",
  DateTime: "2026-01-01T00:00:00Z",
  EmailAddress: "a@example.com",
  CountryCode: "CH",
};
