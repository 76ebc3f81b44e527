// Mandates through yoga.fetch (src/schema/mandate.ts): search is literal
// text; names are one line; a postpaid mandate is created in one step; the
// language is read by members and set by system and mandate admins.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp, type TestCaller } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;
const NAMES = { "lit-percent": "Tools%AG", "lit-underscore": "Tools_AG", "lit-backslash": "Back\\slash GmbH", "lit-plain": "Plain AG" };

beforeAll(async () => {
  app = await createTestApp();
  for (const [id, name] of Object.entries(NAMES)) {
    const result = await app.gql(
      `mutation($id: ID!, $name: String!) { upsertMandate(input: { id: $id, name: $name }) { userErrors { message } } }`,
      { id, name },
      SYSADMIN,
    );
    expect(result.data.upsertMandate.userErrors).toEqual([]);
  }
});
afterAll(async () => {
  await app?.close();
});

const search = async (text: string) =>
  (
    await app.gql(`query($s: String) { mandates(search: $s, first: 100) { edges { node { id } } } }`, { s: text }, SYSADMIN)
  ).data.mandates.edges
    .map((e: { node: { id: string } }) => e.node.id)
    .sort();

describe("mandate search", () => {
  it("matches % _ and \\ as the characters they are, not as wildcards", async () => {
    expect(await search("%")).toEqual(["lit-percent"]);
    expect(await search("_")).toEqual(["lit-underscore"]);
    expect(await search("Tools%AG")).toEqual(["lit-percent"]);
    expect(await search("Tools_AG")).toEqual(["lit-underscore"]);
    expect(await search("\\")).toEqual(["lit-backslash"]);
    expect(await search("k\\s")).toEqual(["lit-backslash"]);
  });

  it("still ignores case and matches ids and names in part", async () => {
    expect(await search("tools")).toEqual(["lit-percent", "lit-underscore"]);
    expect(await search("LIT-PL")).toEqual(["lit-plain"]);
  });
});

const UPSERT = `mutation($input: UpsertMandateInput!) { upsertMandate(input: $input) {
  mandate { id name language settings { billingModel billingAddress { company city country } } } userErrors { code message field } } }`;
const upsert = async (input: Record<string, unknown>) => (await app.gql(UPSERT, { input }, SYSADMIN)).data.upsertMandate;
const ADDRESS = { company: "Beispiel GmbH", street: "Hauptstrasse 1", zip: "3000", city: "Bern", country: "CH" };

describe("mandate names", () => {
  it("refuses control characters (a line break would forge email headers and log lines)", async () => {
    for (const name of ["Evil\r\nBcc: x@evil.example", "Tab\tName", "Bell\u0007"]) {
      expect(await upsert({ id: uniqueId(), name }), JSON.stringify(name)).toEqual({
        mandate: null,
        userErrors: [
          {
            code: "VALIDATION_FAILED",
            message: "name must not contain control characters such as line breaks or tabs",
            field: ["input", "name"],
          },
        ],
      });
    }
  });
});

describe("upsertMandate with CREDIT_POSTPAY", () => {
  it("takes the billing address the model needs, in the same call", async () => {
    const id = uniqueId();
    expect(await upsert({ id, name: "Postpaid", billingModel: "CREDIT_POSTPAY", billingAddress: ADDRESS })).toEqual({
      mandate: {
        id,
        name: "Postpaid",
        language: "EN",
        settings: { billingModel: "CREDIT_POSTPAY", billingAddress: { company: "Beispiel GmbH", city: "Bern", country: "CH" } },
      },
      userErrors: [],
    });
  });

  it("without one says to set billingAddress, which the input has", async () => {
    const id = uniqueId();
    const refused = await upsert({ id, name: "Postpaid", billingModel: "CREDIT_POSTPAY" });
    expect(refused.userErrors).toEqual([
      {
        code: "BILLING_ADDRESS_REQUIRED",
        message: "CREDIT_POSTPAY needs a billing address: set billingAddress in the same update",
        field: ["input", "billingAddress"],
      },
    ]);
    const fields = await app.gql(`{ __type(name: "UpsertMandateInput") { inputFields { name } } }`, {}, SYSADMIN);
    expect(fields.data.__type.inputFields.map((f: { name: string }) => f.name)).toContain("billingAddress");
    expect(await app.database.prisma.mandate.count({ where: { id } })).toBe(0);
  });
});

describe("a mandate's language", () => {
  it("is read by its members, set by a system admin (upsertMandate) and its admins (updateSettings), not by its users", async () => {
    const id = uniqueId();
    const user: TestCaller = { roles: ["USER"], mandateIds: [id], userId: "u1" };
    const admin: TestCaller = { roles: ["MANDATE_ADMIN"], mandateIds: [id], userId: "a1" };
    const language = async () => (await app.gql(`query($id: ID!) { mandate(id: $id) { language } }`, { id }, user)).data.mandate.language;

    expect((await upsert({ id, name: "Sprachen AG" })).mandate.language).toBe("EN");
    expect(await language()).toBe("EN");
    expect((await upsert({ id, name: "Sprachen AG", language: "DE" })).mandate.language).toBe("DE");
    expect(await language()).toBe("DE");
    // Renaming without a language keeps it.
    expect((await upsert({ id, name: "Sprachen AG (neu)" })).mandate.language).toBe("DE");

    const SET = `mutation($id: ID!, $language: Locale) { updateSettings(input: { mandateId: $id, language: $language }) { userErrors { code } } }`;
    expect((await app.gql(SET, { id, language: "EN" }, admin)).data.updateSettings.userErrors).toEqual([]);
    expect(await language()).toBe("EN");
    expect((await app.gql(SET, { id, language: "DE" }, user)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await language()).toBe("EN");
  });
});
