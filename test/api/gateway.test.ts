// The gateway's sequence through GraphQL: check -> authorize -> settle, and
// release, recordUsage, with userErrors for what a caller can act on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;
const SERVICE = { roles: ["SERVICE" as const] };

beforeAll(async () => {
  app = await createTestApp({ USD_TO_CHF: "0.90", MARKUP_PERCENT: "50" });
});
afterAll(async () => {
  await app?.close();
});

async function mandateWith(credit: string, model = "PREPAY_MANDATE") {
  const id = uniqueId();
  const res = await app.gql(
    `mutation($id: ID!, $model: BillingModel) { upsertMandate(input: { id: $id, name: "Gateway test", billingModel: $model }) { userErrors { code } } }`,
    { id, model },
    SYSADMIN,
  );
  expect(res.data.upsertMandate.userErrors).toEqual([]);
  if (credit !== "0") {
    const credited = await app.gql(
      `mutation($id: ID!, $amount: Decimal!) { creditAccount(input: { mandateId: $id, amount: $amount, description: "Top-up", idempotencyKey: "initial" }) { transaction { amount balanceAfter } userErrors { code } } }`,
      { id, amount: credit },
      SYSADMIN,
    );
    expect(credited.data.creditAccount.userErrors).toEqual([]);
  }
  return id;
}

const CHECK = `query($input: CheckBillingInput!) { checkBilling(input: $input) { allowed reason currentBalance available requiredAmount billingModel } }`;
const AUTHORIZE = `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) {
  authorization { id amount status provider model expiresAt account { id held available } }
  check { allowed reason available requiredAmount }
  userErrors { code message field } } }`;
const SETTLE = `mutation($input: SettleUsageInput!) { settleUsage(input: $input) {
  transaction { id transactionType amount delta balanceAfter aicoreProvider aicoreModel featureCode workflowId processingTime bytesSent bytesReceived errorCount referenceType }
  account { balance held available }
  userErrors { code message field } } }`;

describe("gateway", () => {
  it("checks, holds, settles at the real cost and settles only once", async () => {
    const mandateId = await mandateWith("10");
    const check = await app.gql(
      CHECK,
      { input: { mandateId, provider: "anthropic", model: "claude-sonnet-4-5", estimatedCost: "2.5" } },
      SERVICE,
    );
    expect(check.data.checkBilling).toEqual({
      allowed: true,
      reason: null,
      currentBalance: "10.000000",
      available: "10.000000",
      requiredAmount: "2.500000",
      billingModel: "PREPAY_MANDATE",
    });

    const usage = { inputTokens: 100_000, outputTokens: 20_000 };
    const auth = await app.gql(
      AUTHORIZE,
      { input: { mandateId, provider: "anthropic", model: "claude-sonnet-4-5", estimatedUsage: usage, idempotencyKey: "call-1" } },
      SERVICE,
    );
    // (100000 x 3 + 20000 x 15) / 1e6 = 0.6 USD; x 0.90 = 0.54 CHF; x 1.5 = 0.81 CHF
    const authorization = auth.data.authorizeUsage.authorization;
    expect(authorization).toMatchObject({ amount: "0.810000", status: "ACTIVE", account: { held: "0.810000", available: "9.190000" } });

    const settle = {
      authorizationId: authorization.id,
      cost: "0.95",
      metadata: { featureCode: "chat", workflowId: "wf-1", processingTime: 1.25, bytesSent: 1000, bytesReceived: 2000, errorCount: 0 },
    };
    const settled = await app.gql(SETTLE, { input: settle }, SERVICE);
    expect(settled.data.settleUsage).toMatchObject({
      transaction: {
        transactionType: "DEBIT",
        amount: "0.950000",
        delta: "-0.950000",
        balanceAfter: "9.050000",
        aicoreProvider: "anthropic",
        aicoreModel: "claude-sonnet-4-5",
        featureCode: "chat",
        workflowId: "wf-1",
        processingTime: 1.25,
        bytesSent: 1000,
        bytesReceived: 2000,
        errorCount: 0,
        referenceType: "WORKFLOW",
      },
      account: { balance: "9.050000", held: "0.000000", available: "9.050000" },
      userErrors: [],
    });
    const again = await app.gql(SETTLE, { input: settle }, SERVICE);
    expect(again.data.settleUsage.transaction.id).toBe(settled.data.settleUsage.transaction.id);
    expect(again.data.settleUsage.account.balance).toBe("9.050000");
    const changed = await app.gql(SETTLE, { input: { ...settle, cost: "1.00" } }, SERVICE);
    expect(changed.data.settleUsage.userErrors[0].code).toBe("IDEMPOTENCY_CONFLICT");

    const status = await app.gql(
      `query($id: ID!) { usageAuthorization(id: $id) { status transaction { amount } } }`,
      { id: authorization.id },
      SERVICE,
    );
    expect(status.data.usageAuthorization).toEqual({ status: "SETTLED", transaction: { amount: "0.950000" } });
  });

  it("denies with the reason as check and userError, holding nothing", async () => {
    const mandateId = await mandateWith("1");
    const denied = await app.gql(
      AUTHORIZE,
      { input: { mandateId, provider: "openai", model: "gpt-5", estimatedCost: "1.5", idempotencyKey: "big" } },
      SERVICE,
    );
    expect(denied.data.authorizeUsage).toMatchObject({
      authorization: null,
      check: { allowed: false, reason: "INSUFFICIENT_BALANCE", available: "1.000000", requiredAmount: "1.500000" },
      userErrors: [{ code: "INSUFFICIENT_BALANCE" }],
    });
    await app.gql(
      `mutation($id: ID!) { updateSettings(input: { mandateId: $id, allowedProviders: ["anthropic"] }) { userErrors { code } } }`,
      { id: mandateId },
      SYSADMIN,
    );
    const provider = await app.gql(CHECK, { input: { mandateId, provider: "OpenAI", estimatedCost: "0.1" } }, SERVICE);
    expect(provider.data.checkBilling).toMatchObject({ allowed: false, reason: "PROVIDER_NOT_ALLOWED" });
    const balance = await app.gql(`query($id: ID!) { balance(mandateId: $id) { balance held available } }`, { id: mandateId }, SYSADMIN);
    expect(balance.data.balance).toEqual({ balance: "1.000000", held: "0.000000", available: "1.000000" });
  });

  it("releases a hold, and refuses to settle it afterwards", async () => {
    const mandateId = await mandateWith("5");
    const auth = await app.gql(
      AUTHORIZE,
      { input: { mandateId, provider: "openai", model: "gpt-5", estimatedCost: "4", idempotencyKey: "r" } },
      SERVICE,
    );
    const id = auth.data.authorizeUsage.authorization.id;
    const released = await app.gql(
      `mutation($id: ID!) { releaseUsage(input: { authorizationId: $id }) { authorization { status account { held } } userErrors { code } } }`,
      { id },
      SERVICE,
    );
    expect(released.data.releaseUsage).toEqual({ authorization: { status: "RELEASED", account: { held: "0.000000" } }, userErrors: [] });
    const settle = await app.gql(SETTLE, { input: { authorizationId: id, cost: "1" } }, SERVICE);
    expect(settle.data.settleUsage.userErrors[0]).toMatchObject({ code: "AUTHORIZATION_NOT_ACTIVE", field: ["input", "authorizationId"] });
    const missing = await app.gql(SETTLE, { input: { authorizationId: "nope", cost: "1" } }, SERVICE);
    expect(missing.data.settleUsage.userErrors[0].code).toBe("NOT_FOUND");
  });

  it("records usage in one step, priced from the catalog, exactly once per key", async () => {
    const mandateId = await mandateWith("3");
    const RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { transaction { id amount } account { balance } userErrors { code field } } }`;
    const input = {
      mandateId,
      provider: "tavily",
      model: "search-basic",
      usage: { requests: 2 },
      metadata: { featureCode: "search" },
      idempotencyKey: "t-1",
    };
    const first = await app.gql(RECORD, { input }, SERVICE);
    // 2 x 0.008 USD = 0.016; x 0.90 x 1.5 = 0.0216 CHF
    expect(first.data.recordUsage).toMatchObject({ transaction: { amount: "0.021600" }, account: { balance: "2.978400" }, userErrors: [] });
    const retry = await app.gql(RECORD, { input }, SERVICE);
    expect(retry.data.recordUsage.transaction.id).toBe(first.data.recordUsage.transaction.id);
    expect(retry.data.recordUsage.account.balance).toBe("2.978400");
    const unknown = await app.gql(RECORD, { input: { ...input, model: "no-such-model", idempotencyKey: "t-2" } }, SERVICE);
    expect(unknown.data.recordUsage).toMatchObject({ transaction: null, userErrors: [{ code: "UNKNOWN_PRICE" }] });
  });

  it("rejects a Decimal with more than 6 fractional digits or a float, before anything runs", async () => {
    const mandateId = await mandateWith("0");
    for (const amount of ["1.0000001", 1.5]) {
      const res = await app.gql(
        `mutation($amount: Decimal!) { creditAccount(input: { mandateId: "${mandateId}", amount: $amount, description: "x", idempotencyKey: "d" }) { userErrors { code } } }`,
        { amount },
        SYSADMIN,
      );
      expect(res.errors?.[0].message).toMatch(/Decimal/);
    }
    const literal = await app.gql(
      `mutation { creditAccount(input: { mandateId: "${mandateId}", amount: 12, description: "x", idempotencyKey: "int" }) { transaction { amount } userErrors { code } } }`,
      {},
      SYSADMIN,
    );
    expect(literal.data.creditAccount.transaction.amount).toBe("12.000000");
  });
});
