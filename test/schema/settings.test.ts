// A mandate's settings through yoga.fetch (src/schema/settings.ts,
// src/billing/mandates/settings.ts): lists deduplicated and bounded, entries
// named by position and value.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { uniqueId } from "../support/billing.js";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

async function newMandate(): Promise<string> {
  const id = uniqueId();
  const result = await app.gql(
    `mutation($id: ID!) { upsertMandate(input: { id: $id, name: "Settings" }) { userErrors { code message } } }`,
    { id },
    SYSADMIN,
  );
  expect(result.data.upsertMandate.userErrors).toEqual([]);
  return id;
}

const UPDATE = `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) {
  settings { allowedProviders notifyEmails } userErrors { code message field } } }`;
const update = (input: Record<string, unknown>) => app.gql(UPDATE, { input }, SYSADMIN).then((r) => r.data.updateSettings);

describe("settings lists", () => {
  it("deduplicates allowedProviders (case and spaces aside) and notifyEmails", async () => {
    const mandateId = await newMandate();
    expect(
      await update({
        mandateId,
        allowedProviders: ["openai", "OpenAI", " anthropic ", "openai"],
        notifyEmails: ["A@example.com", "a@example.com", "b@example.com"],
      }),
    ).toEqual({
      settings: { allowedProviders: ["openai", "anthropic"], notifyEmails: ["a@example.com", "b@example.com"] },
      userErrors: [],
    });
  });

  it("names an empty provider by its position and value", async () => {
    const mandateId = await newMandate();
    expect(await update({ mandateId, allowedProviders: ["openai", "Anthropic", "openai", ""] })).toEqual({
      settings: null,
      userErrors: [
        {
          code: "VALIDATION_FAILED",
          message: 'allowedProviders[3] ("") must not be empty: name a provider such as "openai"',
          field: ["input", "allowedProviders", "3"],
        },
      ],
    });
    expect((await update({ mandateId, allowedProviders: ["  "] })).userErrors[0].message).toBe(
      'allowedProviders[0] ("  ") must not be empty: name a provider such as "openai"',
    );
  });

  it("takes up to 100 providers and 20 addresses", async () => {
    const mandateId = await newMandate();
    const providers = Array.from({ length: 100 }, (_, i) => `p${i}`);
    const emails = Array.from({ length: 20 }, (_, i) => `a${i}@example.com`);
    expect(await update({ mandateId, allowedProviders: providers, notifyEmails: emails })).toEqual({
      settings: { allowedProviders: providers, notifyEmails: emails },
      userErrors: [],
    });
    expect((await update({ mandateId, notifyEmails: [...emails, "z@example.com"] })).userErrors).toEqual([
      { code: "VALIDATION_FAILED", message: "notifyEmails has 21 entries; at most 20 are allowed", field: ["input", "notifyEmails"] },
    ]);
  });
});
