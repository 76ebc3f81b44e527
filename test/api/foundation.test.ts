import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { creditAccount } from "../../src/billing/ledger/credits.js";
import { printSaldoSchema, SCHEMA_FILE } from "../../src/schema/print.js";
import { createTestApp, forgeToken, SYSADMIN, type TestApp } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe("authentication", () => {
  it("shows the caller as the token says", async () => {
    const res = await app.gql(
      "{ viewer { userId roles mandateIds } }",
      {},
      { roles: ["MANDATE_ADMIN"], mandateIds: ["a", "b"], userId: "u1" },
    );
    expect(res.data).toEqual({ viewer: { userId: "u1", roles: ["MANDATE_ADMIN"], mandateIds: ["a", "b"] } });
  });

  it("refuses a request without a token as UNAUTHENTICATED", async () => {
    const res = await app.gql("{ viewer { roles } }");
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(res.data).toBeNull();
  });

  it("refuses a forged or malformed token with 401", async () => {
    const forged = forgeToken(await app.token(SYSADMIN));
    for (const authorization of [`Bearer ${forged}`, "Basic abc", "Bearer not.a.jwt"]) {
      const response = await app.yoga.fetch("http://yoga/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ query: "{ viewer { roles } }" }),
      });
      expect(response.status).toBe(401);
      expect((await response.json()).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    }
  });
});

describe("mandates", () => {
  it("bootstraps the root mandate as UNLIMITED", async () => {
    const res = await app.gql('{ mandate(id: "root") { id settings { billingModel } } }', {}, SYSADMIN);
    expect(res.data).toEqual({ mandate: { id: "root", settings: { billingModel: "UNLIMITED" } } });
  });

  it("lets only a sysadmin create mandates, with userErrors for bad input", async () => {
    const id = uniqueId();
    const mutation = `mutation($input: UpsertMandateInput!) { upsertMandate(input: $input) { mandate { id name settings { billingModel } } userErrors { code message field } } }`;
    const created = await app.gql(mutation, { input: { id, name: "Acme" } }, SYSADMIN);
    expect(created.data.upsertMandate).toEqual({
      mandate: { id, name: "Acme", settings: { billingModel: "PREPAY_MANDATE" } },
      userErrors: [],
    });

    const postpay = await app.gql(mutation, { input: { id: uniqueId(), name: "X", billingModel: "CREDIT_POSTPAY" } }, SYSADMIN);
    expect(postpay.data.upsertMandate.mandate).toBeNull();
    expect(postpay.data.upsertMandate.userErrors[0]).toMatchObject({
      code: "BILLING_ADDRESS_REQUIRED",
      field: ["input", "billingAddress"],
    });

    const badId = await app.gql(mutation, { input: { id: "no spaces", name: "X" } }, SYSADMIN);
    expect(badId.data.upsertMandate.userErrors[0]).toMatchObject({ code: "VALIDATION_FAILED", field: ["input", "id"] });

    const denied = await app.gql(mutation, { input: { id: uniqueId(), name: "X" } }, { roles: ["MANDATE_ADMIN"], mandateIds: [id] });
    expect(denied.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("hides a foreign mandate exactly like a missing one", async () => {
    const id = uniqueId();
    await app.gql(`mutation { upsertMandate(input: { id: "${id}", name: "Hidden" }) { userErrors { code } } }`, {}, SYSADMIN);
    const outsider = { roles: ["MANDATE_ADMIN" as const], mandateIds: ["other"] };
    const foreign = await app.gql(`{ mandate(id: "${id}") { id } }`, {}, outsider);
    const missing = await app.gql(`{ mandate(id: "does-not-exist") { id } }`, {}, outsider);
    expect(foreign).toEqual(missing);
    expect(foreign.data).toEqual({ mandate: null });
    const settings = await app.gql(`{ settings(mandateId: "${id}") { billingModel } }`, {}, outsider);
    expect(settings.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const user = await app.gql(`{ mandate(id: "${id}") { id name } }`, {}, { roles: ["USER"], mandateIds: [id], userId: "u" });
    expect(user.data).toEqual({ mandate: { id, name: "Hidden" } });
    const userSettings = await app.gql(
      `{ mandate(id: "${id}") { settings { billingModel } } }`,
      {},
      { roles: ["USER"], mandateIds: [id], userId: "u" },
    );
    expect(userSettings.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("shows an account to its mandate's admin and to nobody outside", async () => {
    const id = uniqueId();
    await app.gql(`mutation { upsertMandate(input: { id: "${id}", name: "A" }) { userErrors { code } } }`, {}, SYSADMIN);
    const { accountId } = await creditAccount(app.billing, { mandateId: id, amount: "12.5", description: "x", idempotencyKey: "k" });
    const query = `{ billingAccount(id: "${accountId}") { id balance held available warningThreshold accountType mandate { id } } }`;
    const admin = await app.gql(query, {}, { roles: ["MANDATE_ADMIN"], mandateIds: [id] });
    expect(admin.data.billingAccount).toEqual({
      id: accountId,
      balance: "12.500000",
      held: "0.000000",
      available: "12.500000",
      warningThreshold: "1.250000",
      accountType: "MANDATE",
      mandate: { id },
    });
    const outsider = await app.gql(query, {}, { roles: ["MANDATE_ADMIN"], mandateIds: ["elsewhere"] });
    expect(outsider.data).toEqual({ billingAccount: null });
  });
});

describe("server", () => {
  it("answers /health when the database answers", async () => {
    const response = await app.yoga.fetch("http://yoga/health");
    expect(response.status).toBe(200);
  });

  it("has a committed schema.graphql equal to the Pothos schema (run npm run schema)", () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(printSaldoSchema());
  });
});
