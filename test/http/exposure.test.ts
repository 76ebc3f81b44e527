// What production shows a stranger (src/http/exposure.ts), through
// yoga.fetch: introspection only with a token, GraphiQL only with
// GRAPHIQL=true, and no suggestion of any kind in error messages.
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createSaldoYoga, type SaldoYoga } from "../../src/yoga.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { createTokenVerifier } from "../../src/auth.js";

let app: TestApp;
let production: SaldoYoga;
let token: string;

/** A yoga over the test app's services, as app.ts would build it with these options. */
const yogaOf = (options: Parameters<typeof createSaldoYoga>[1]) =>
  createSaldoYoga(
    {
      db: app.database.prisma,
      billing: app.billing,
      pubsub: app.live.pubsub,
      verifyToken: createTokenVerifier(app.config.JWT_SECRET),
      payments: null,
      ping: app.database.ping,
    },
    options,
  );

beforeAll(async () => {
  app = await createTestApp({ NODE_ENV: "production" });
  production = app.yoga;
  token = await app.token(SYSADMIN);
});
afterAll(async () => {
  await app?.close();
});

async function post(yoga: SaldoYoga, body: unknown, authorization?: string) {
  const response = await yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

const openGraphiQL = (yoga: SaldoYoga) => yoga.fetch("http://yoga/graphql", { headers: { accept: "text/html" } });

describe("introspection in production", () => {
  it("is refused without a token, and the answer holds nothing of the schema", async () => {
    for (const query of [
      getIntrospectionQuery(),
      '{ __type(name: "Mandate") { fields { name } } }',
      "query { ...F } fragment F on Query { __schema { types { name } } }",
    ]) {
      const { status, text } = await post(production, { query });
      expect(status, query).toBe(401);
      expect(JSON.parse(text)).toEqual({
        errors: [{ message: "Introspection needs a token: send Authorization: Bearer <token>", extensions: { code: "UNAUTHENTICATED" } }],
      });
    }
    // __typename is no introspection of the schema.
    expect(await post(production, { query: "{ __typename }" })).toEqual({
      status: 200,
      text: JSON.stringify({ data: { __typename: "Query" } }),
    });
  });

  it("answers a caller with a token", async () => {
    const { status, text } = await post(production, { query: getIntrospectionQuery() }, `Bearer ${token}`);
    expect(status).toBe(200);
    expect(JSON.parse(text).data.__schema.queryType.name).toBe("Query");
  });

  it("stays open outside production (GraphiQL's schema)", async () => {
    const { text } = await post(yogaOf({ production: false }), { query: '{ __type(name: "Mandate") { name } }' });
    expect(JSON.parse(text)).toEqual({ data: { __type: { name: "Mandate" } } });
  });
});

describe("GraphiQL", () => {
  it("is not served in production unless GRAPHIQL=true", async () => {
    const page = await openGraphiQL(production);
    expect(await page.text()).not.toContain("GraphiQL");
    const asked = await (await openGraphiQL(yogaOf({ production: true, graphiql: loadConfig({ GRAPHIQL: "true" }).GRAPHIQL }))).text();
    expect(asked).toContain("GraphiQL");
  });

  it("is served in development", async () => {
    const page = await openGraphiQL(yogaOf({ production: false }));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("GraphiQL");
  });
});

describe("no suggestions in production", () => {
  const typos: [string, string, Record<string, unknown>?][] = [
    ["a field", "{ viewr { roles } }"],
    ["an argument", '{ mandate(idd: "x") { id } }'],
    ["an enum value in the document", '{ usageStatistics(mandateId: "x", period: MONTHS, year: 2026) { year } }'],
    [
      "an enum value in the variables",
      'query($p: PeriodType!) { usageStatistics(mandateId: "x", period: $p, year: 2026) { year } }',
      { p: "MONTHS" },
    ],
    ["an input field", 'mutation { upsertMandate(input: { id: "x", nme: "X" }) { userErrors { code } } }'],
    [
      "an input field in the variables",
      "mutation($input: UpsertMandateInput!) { upsertMandate(input: $input) { userErrors { code } } }",
      { input: { id: "x", name: "X", billingModl: "UNLIMITED" } },
    ],
    ["a type", "query($p: PeriodTyp) { viewer { roles } }"],
  ];

  for (const [what, query, variables] of typos) {
    it(`for ${what}`, async () => {
      const development = await post(yogaOf({ production: false }), { query, variables }, `Bearer ${token}`);
      expect(development.text, "the typo is suggested outside production").toMatch(/Did you mean/);
      const { text } = await post(production, { query, variables }, `Bearer ${token}`);
      const { errors } = JSON.parse(text);
      expect(errors.length).toBeGreaterThan(0);
      expect(text).not.toMatch(/Did you mean|\[Suggestion hidden\]/);
      // What was wrong is still said.
      expect(errors.map((e: { message: string }) => e.message).join("\n")).toMatch(/viewr|idd|MONTHS|nme|billingModl|PeriodTyp/);
    });
  }
});
