// The gateway's refusals through yoga.fetch (src/schema/gateway.ts) say what
// the caller can act on, in the caller's terms: no internal key, no field
// the input does not have.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";

let app: TestApp;
const SERVICE: TestCaller = { roles: ["SERVICE"] };
const MANDATE = "gateway-messages";

beforeAll(async () => {
  app = await createTestApp();
  await app.gql(`mutation { upsertMandate(input: { id: "${MANDATE}", name: "Messages" }) { userErrors { code } } }`, {}, SYSADMIN);
  await app.gql(
    `mutation { creditAccount(input: { mandateId: "${MANDATE}", amount: "100", description: "Start", idempotencyKey: "start" }) { userErrors { code } } }`,
    {},
    SYSADMIN,
  );
});
afterAll(async () => {
  await app?.close();
});

describe("gateway messages", () => {
  it("recordUsage with neither usage nor cost asks for one, even for a model with a price", async () => {
    const result = await app.gql(
      `mutation { recordUsage(input: { mandateId: "${MANDATE}", provider: "openai", model: "gpt-4o", idempotencyKey: "no-usage" }) { transaction { id } userErrors { code message field } } }`,
      {},
      SERVICE,
    );
    expect(result.data.recordUsage).toEqual({
      transaction: null,
      userErrors: [
        {
          code: "VALIDATION_FAILED",
          message: "Give usage (priced from the catalog) or cost: a usage record books what the call cost",
          field: ["input", "usage"],
        },
      ],
    });
  });

  it("a settlement that conflicts with the first names no internal key and no field SettleUsageInput lacks", async () => {
    const hold = await app.gql(
      `mutation { authorizeUsage(input: { mandateId: "${MANDATE}", provider: "openai", model: "gpt-4o", estimatedCost: "1", idempotencyKey: "conflict" }) { authorization { id } } }`,
      {},
      SERVICE,
    );
    const authorizationId = hold.data.authorizeUsage.authorization.id;
    const settle = (cost: string) =>
      app.gql(
        `mutation($id: ID!, $cost: Decimal) { settleUsage(input: { authorizationId: $id, cost: $cost }) { transaction { amount } userErrors { code message field } } }`,
        { id: authorizationId, cost },
        SERVICE,
      );
    expect((await settle("0.5")).data.settleUsage.userErrors).toEqual([]);
    expect((await settle("0.5")).data.settleUsage).toEqual({ transaction: { amount: "0.500000" }, userErrors: [] });
    const conflict = (await settle("0.7")).data.settleUsage;
    expect(conflict.userErrors).toEqual([
      {
        code: "IDEMPOTENCY_CONFLICT",
        message: "This authorization was already settled with other usage, cost or metadata",
        field: ["input"],
      },
    ]);
    expect(JSON.stringify(conflict)).not.toMatch(/saldo:|idempotencyKey/);
  });
});
