// Every text and list input, checked before anything runs (src/schema/inputs.ts),
// through yoga.fetch: a NUL byte, a lone surrogate, an over-long identifier or
// an over-long list is VALIDATION_FAILED naming the field (a userError of a
// mutation, a GraphQL error of a query), and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IDENTIFIER_MAX_LENGTH } from "../../src/billing/shared/validation.js";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";

let app: TestApp;
const SERVICE: TestCaller = { roles: ["SERVICE"] };
const MANDATE = "inputs";
let authorizationId: string;
let accountId: string;

beforeAll(async () => {
  app = await createTestApp();
  await app.gql(`mutation { upsertMandate(input: { id: "${MANDATE}", name: "Inputs" }) { userErrors { code } } }`, {}, SYSADMIN);
  const credit = await app.gql(
    `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "100", description: "Start", idempotencyKey: "start" }) { account { id } userErrors { code } } }`,
    {},
    SYSADMIN,
  );
  accountId = credit.data.creditAccount.account.id;
  const hold = await app.gql(
    `mutation { authorizeUsage(input: { mandateId: "${MANDATE}", provider: "openai", model: "gpt-4o", estimatedCost: "1", idempotencyKey: "hold" }) { authorization { id } userErrors { code } } }`,
    {},
    SERVICE,
  );
  authorizationId = hold.data.authorizeUsage.authorization.id;
});
afterAll(async () => {
  await app?.close();
});

/** What every refused request must leave as it was. */
async function snapshot() {
  const db = app.database.prisma;
  return {
    mandates: await db.mandate.findMany({ orderBy: { id: "asc" } }),
    settings: await db.settings.findMany({ orderBy: { mandateId: "asc" } }),
    transactions: await db.transaction.count(),
    authorizations: await db.usageAuthorization.findMany({ orderBy: { id: "asc" } }),
    prices: await db.price.count(),
    accounts: await db.billingAccount.findMany({ orderBy: { id: "asc" } }),
  };
}

/** One input: an operation whose variables carry `value` at `field` (the path a refusal names). */
interface Case {
  name: string;
  caller: TestCaller;
  query: string;
  variables: (value: unknown) => Record<string, unknown>;
  field: string[];
}

const USAGE = { inputTokens: 10, outputTokens: 10 };
const mutation = (
  name: string,
  inputType: string,
  caller: TestCaller,
  input: (value: unknown) => Record<string, unknown>,
  field: string[],
): Case => ({
  name: `${name}(${field.slice(1).join(".")})`,
  caller,
  query: `mutation($input: ${inputType}!) { ${name}(input: $input) { userErrors { code message field } } }`,
  variables: (value) => ({ input: input(value) }),
  field,
});
const credit = (patch: Record<string, unknown>) => ({
  mandateId: MANDATE,
  amount: "1",
  description: "Credit",
  idempotencyKey: "credit-key",
  ...patch,
});
const record = (patch: Record<string, unknown>) => ({
  mandateId: MANDATE,
  provider: "openai",
  model: "gpt-4o",
  usage: USAGE,
  idempotencyKey: "record-key",
  ...patch,
});

const TEXT_CASES: Case[] = [
  mutation("creditAccount", "CreditAccountInput", SYSADMIN, (v) => credit({ description: v }), ["input", "description"]),
  mutation("creditAccount", "CreditAccountInput", SYSADMIN, (v) => credit({ idempotencyKey: v }), ["input", "idempotencyKey"]),
  mutation("creditAccount", "CreditAccountInput", SYSADMIN, (v) => credit({ referenceId: v }), ["input", "referenceId"]),
  mutation("creditAccount", "CreditAccountInput", SYSADMIN, (v) => credit({ userId: v }), ["input", "userId"]),
  mutation(
    "adjustAccount",
    "AdjustAccountInput",
    SYSADMIN,
    (v) => ({ mandateId: MANDATE, amount: "1", description: v, idempotencyKey: "adjust-key" }),
    ["input", "description"],
  ),
  mutation(
    "transferBalance",
    "TransferBalanceInput",
    SYSADMIN,
    (v) => ({ mandateId: MANDATE, fromAccountId: accountId, toAccountId: v, amount: "1", description: "T", idempotencyKey: "t" }),
    ["input", "toAccountId"],
  ),
  mutation("recordUsage", "RecordUsageInput", SERVICE, (v) => record({ provider: v }), ["input", "provider"]),
  mutation("recordUsage", "RecordUsageInput", SERVICE, (v) => record({ model: v }), ["input", "model"]),
  mutation("recordUsage", "RecordUsageInput", SERVICE, (v) => record({ metadata: { description: v } }), [
    "input",
    "metadata",
    "description",
  ]),
  mutation("recordUsage", "RecordUsageInput", SERVICE, (v) => record({ metadata: { featureCode: v } }), [
    "input",
    "metadata",
    "featureCode",
  ]),
  mutation(
    "authorizeUsage",
    "AuthorizeUsageInput",
    SERVICE,
    (v) => ({ mandateId: MANDATE, provider: "openai", model: "gpt-4o", estimatedCost: "1", idempotencyKey: v }),
    ["input", "idempotencyKey"],
  ),
  mutation("settleUsage", "SettleUsageInput", SERVICE, (v) => ({ authorizationId, cost: "1", metadata: { workflowId: v } }), [
    "input",
    "metadata",
    "workflowId",
  ]),
  mutation("upsertMandate", "UpsertMandateInput", SYSADMIN, (v) => ({ id: "new-mandate", name: v }), ["input", "name"]),
  mutation("upsertMandate", "UpsertMandateInput", SYSADMIN, (v) => ({ id: v, name: "New" }), ["input", "id"]),
  mutation("updateSettings", "UpdateSettingsInput", SYSADMIN, (v) => ({ mandateId: MANDATE, allowedProviders: ["openai", v] }), [
    "input",
    "allowedProviders",
    "1",
  ]),
  mutation(
    "updateSettings",
    "UpdateSettingsInput",
    SYSADMIN,
    (v) => ({ mandateId: MANDATE, billingAddress: { company: "C", street: "S", zip: "8000", city: v, country: "CH" } }),
    ["input", "billingAddress", "city"],
  ),
  mutation(
    "upsertPrice",
    "UpsertPriceInput",
    SYSADMIN,
    (v) => ({ provider: "openai", model: v, inputPerMillionTokensUsd: "1", outputPerMillionTokensUsd: "1", perRequestUsd: "0" }),
    ["input", "model"],
  ),
  mutation(
    "createTopUpCheckout",
    "CreateTopUpCheckoutInput",
    SYSADMIN,
    (v) => ({ mandateId: MANDATE, amount: "10", successUrl: v, cancelUrl: "https://x.example/c" }),
    ["input", "successUrl"],
  ),
  {
    name: "mandates(search)",
    caller: SYSADMIN,
    query: "query($v: String) { mandates(search: $v) { totalCount } }",
    variables: (v) => ({ v }),
    field: ["search"],
  },
  {
    name: "transactions(filter.providers)",
    caller: SYSADMIN,
    query: `query($v: String!) { transactions(mandateId: "${MANDATE}", filter: { providers: ["openai", $v] }) { totalCount } }`,
    variables: (v) => ({ v }),
    field: ["filter", "providers", "1"],
  },
  {
    name: "transactions(filter.userId)",
    caller: SYSADMIN,
    query: `query($v: String) { transactions(mandateId: "${MANDATE}", filter: { userId: $v }) { totalCount } }`,
    variables: (v) => ({ v }),
    field: ["filter", "userId"],
  },
  {
    name: "balance(userId)",
    caller: SYSADMIN,
    query: `query($v: String) { balance(mandateId: "${MANDATE}", userId: $v) { balance } }`,
    variables: (v) => ({ v }),
    field: ["userId"],
  },
  {
    name: "checkBilling(input.provider)",
    caller: SERVICE,
    query: "query($input: CheckBillingInput!) { checkBilling(input: $input) { allowed } }",
    variables: (v) => ({ input: { mandateId: MANDATE, provider: v, estimatedCost: "1" } }),
    field: ["input", "provider"],
  },
  {
    name: "quote(input.model)",
    caller: SERVICE,
    query: "query($input: QuoteInput!) { quote(input: $input) { costChf } }",
    variables: (v) => ({ input: { provider: "openai", model: v, usage: USAGE } }),
    field: ["input", "model"],
  },
  {
    name: "prices(provider)",
    caller: SYSADMIN,
    query: "query($v: String) { prices(provider: $v) { model } }",
    variables: (v) => ({ v }),
    field: ["provider"],
  },
];

/** The refusal of a case: a userError for a mutation, a GraphQL error for a query. */
async function refusal(c: Case, value: unknown) {
  const result = await app.gql(c.query, c.variables(value), c.caller);
  if (c.query.startsWith("mutation")) {
    expect(result.errors, c.name).toBeUndefined();
    const [payload] = Object.values(result.data as Record<string, { userErrors: { code: string; message: string; field: string[] }[] }>);
    expect(payload.userErrors, c.name).toHaveLength(1);
    return payload.userErrors[0];
  }
  expect(result.errors, c.name).toHaveLength(1);
  const [error] = result.errors!;
  expect(result.data === null || Object.values(result.data ?? {}).every((v) => v === null), c.name).toBe(true);
  return { code: error.extensions?.code, message: error.message, field: (error.extensions as { field?: string[] }).field };
}

const fieldName = (field: string[]) => field.reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : part), "");

describe("text that cannot be stored", () => {
  it("a NUL byte in any text input is VALIDATION_FAILED naming the field, and nothing is written", async () => {
    const before = await snapshot();
    for (const c of TEXT_CASES) {
      expect(await refusal(c, "a\u0000b"), c.name).toEqual({
        code: "VALIDATION_FAILED",
        message: `${fieldName(c.field)} must not contain NUL characters (U+0000)`,
        field: c.field,
      });
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a lone surrogate is refused the same way everywhere (never stored as U+FFFD)", async () => {
    const before = await snapshot();
    for (const c of TEXT_CASES) {
      for (const lone of ["\uD800", "a\uDC00", "\uDBFFz"]) {
        expect(await refusal(c, lone), c.name).toEqual({
          code: "VALIDATION_FAILED",
          message: `${fieldName(c.field)} is not well-formed Unicode: it contains a lone surrogate (U+D800 to U+DFFF)`,
          field: c.field,
        });
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a surrogate pair (an emoji) is text like any other", async () => {
    const result = await app.gql(
      `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "1", description: "Bonus 🎉 für Zürich", idempotencyKey: "emoji 🎉" }) { transaction { description idempotencyKey } userErrors { code } } }`,
      {},
      SYSADMIN,
    );
    expect(result.data.creditAccount).toEqual({
      transaction: { description: "Bonus 🎉 für Zürich", idempotencyKey: "emoji 🎉" },
      userErrors: [],
    });
  });
});

describe("identifiers", () => {
  const longer = (kind: keyof typeof IDENTIFIER_MAX_LENGTH) => "x".repeat(IDENTIFIER_MAX_LENGTH[kind] + 1);
  const identifiers: [Case, keyof typeof IDENTIFIER_MAX_LENGTH][] = [
    [TEXT_CASES.find((c) => c.name === "creditAccount(userId)")!, "userId"],
    [TEXT_CASES.find((c) => c.name === "balance(userId)")!, "userId"],
    [TEXT_CASES.find((c) => c.name === "creditAccount(idempotencyKey)")!, "idempotencyKey"],
    [TEXT_CASES.find((c) => c.name === "recordUsage(provider)")!, "provider"],
    [TEXT_CASES.find((c) => c.name === "recordUsage(model)")!, "model"],
    [TEXT_CASES.find((c) => c.name === "updateSettings(allowedProviders.1)")!, "provider"],
    [TEXT_CASES.find((c) => c.name === "transferBalance(toAccountId)")!, "id"],
    [
      {
        name: "transactions(mandateId)",
        caller: SYSADMIN,
        query: "query($v: ID!) { transactions(mandateId: $v) { totalCount } }",
        variables: (v) => ({ v }),
        field: ["mandateId"],
      },
      "mandateId",
    ],
  ];

  it("each kind has a maximum length; a longer one is VALIDATION_FAILED naming the field, and nothing is written", async () => {
    const before = await snapshot();
    for (const [c, kind] of identifiers) {
      expect(await refusal(c, longer(kind)), c.name).toEqual({
        code: "VALIDATION_FAILED",
        message: `${fieldName(c.field)} is longer than ${IDENTIFIER_MAX_LENGTH[kind]} characters`,
        field: c.field,
      });
    }
    // The case: a user id of 3,000 characters.
    expect((await refusal(identifiers[0][0], "u".repeat(3000))).message).toBe("userId is longer than 128 characters");
    expect(await snapshot()).toEqual(before);
  });

  it("an identifier of the maximum length is fine", async () => {
    const userId = "u".repeat(IDENTIFIER_MAX_LENGTH.userId);
    const key = "k".repeat(IDENTIFIER_MAX_LENGTH.idempotencyKey);
    const result = await app.gql(
      `mutation($userId: String, $key: String!) { recordUsage(input: { mandateId: "${MANDATE}", userId: $userId, provider: "openai", model: "gpt-4o", cost: "0.5", idempotencyKey: $key }) { transaction { createdByUserId idempotencyKey } userErrors { code message } } }`,
      { userId, key },
      SERVICE,
    );
    expect(result.data.recordUsage).toEqual({ transaction: { createdByUserId: userId, idempotencyKey: key }, userErrors: [] });
  });
});

describe("lists", () => {
  const filterOf = (list: string, entries: unknown[]) => ({
    query: `query($filter: TransactionFilter) { transactions(mandateId: "${MANDATE}", filter: $filter) { totalCount } }`,
    variables: { filter: { [list]: entries } },
  });

  it("a filter list of more than 100 entries is VALIDATION_FAILED naming it", async () => {
    for (const [list, entries] of [
      ["featureCodes", Array.from({ length: 50_000 }, (_, i) => `f${i}`)],
      ["providers", Array.from({ length: 50_000 }, (_, i) => `p${i}`)],
      ["transactionTypes", Array.from({ length: 100_000 }, () => "DEBIT")],
    ] as const) {
      const { query, variables } = filterOf(list, [...entries]);
      const result = await app.gql(query, variables, SYSADMIN);
      expect(result.errors?.[0], list).toMatchObject({
        message: `${list} has ${entries.length} entries; at most 100 are allowed`,
        extensions: { code: "VALIDATION_FAILED", field: ["filter", list] },
      });
    }
    const hundred = filterOf(
      "featureCodes",
      Array.from({ length: 100 }, (_, i) => `f${i}`),
    );
    expect((await app.gql(hundred.query, hundred.variables, SYSADMIN)).errors).toBeUndefined();
  });

  it("allowedProviders takes at most 100 and notifyEmails at most 20, and nothing is written", async () => {
    const before = await snapshot();
    const settings = (input: Record<string, unknown>) =>
      app.gql(
        `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { userErrors { code message field } } }`,
        { input: { mandateId: MANDATE, ...input } },
        SYSADMIN,
      );
    expect(
      (await settings({ allowedProviders: Array.from({ length: 90_001 }, (_, i) => `p${i}`) })).data.updateSettings.userErrors,
    ).toEqual([
      {
        code: "VALIDATION_FAILED",
        message: "allowedProviders has 90001 entries; at most 100 are allowed",
        field: ["input", "allowedProviders"],
      },
    ]);
    expect(
      (await settings({ notifyEmails: Array.from({ length: 20_000 }, (_, i) => `a${i}@example.com`) })).data.updateSettings.userErrors,
    ).toEqual([
      { code: "VALIDATION_FAILED", message: "notifyEmails has 20000 entries; at most 20 are allowed", field: ["input", "notifyEmails"] },
    ]);
    expect(await snapshot()).toEqual(before);
  });
});

describe("order of checks", () => {
  it("an anonymous caller is told to authenticate, not what is wrong with the input", async () => {
    const result = await app.gql(`query($v: String) { balance(mandateId: "${MANDATE}", userId: $v) { balance } }`, { v: "a\u0000b" });
    expect(result.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });
});
