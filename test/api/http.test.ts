// The HTTP surface through yoga.fetch: GraphQL-over-HTTP conformance
// (graphql-http's audits), CSRF prevention, request limits (graphql-armor,
// body size) and error masking.
import { GraphQLError } from "graphql";
import { serverAudits } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BillingError } from "../../src/billing/shared/errors.js";
import { createLogger } from "../../src/log.js";
import { createSaldoYoga, CSRF_HEADER, maskError, REQUEST_LIMITS, type SaldoServices } from "../../src/yoga.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";

// The services app.ts hands to yoga, to build variants of the same yoga
// (production mode, a failing database) without repeating app.ts's wiring.
const built = vi.hoisted(() => ({ services: undefined as SaldoServices | undefined }));
vi.mock(import("../../src/yoga.js"), async (importOriginal) => {
  const original = await importOriginal();
  return {
    ...original,
    createSaldoYoga: (services, options) => {
      built.services = services;
      return original.createSaldoYoga(services, options);
    },
  };
});

let app: TestApp;
let token: string;

beforeAll(async () => {
  app = await createTestApp();
  token = await app.token(SYSADMIN);
});
afterAll(async () => {
  await app?.close();
});

/** A client as this API expects one: a bearer token, and the CSRF header on every request. */
const clientFetch = (input: RequestInfo | URL, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  headers.set(CSRF_HEADER, "1");
  return app.yoga.fetch(String(input), { ...init, headers });
};

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await app.yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe("GraphQL over HTTP (graphql-http audits)", () => {
  for (const audit of serverAudits({ url: "http://yoga/graphql", fetchFn: clientFetch })) {
    it(`${audit.id}: ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status !== "ok") {
        const body = await result.response.text().catch(() => "");
        expect.fail(`${result.status}: ${result.reason}\n${result.response.status} ${body}`);
      }
    });
  }
});

describe("CSRF prevention", () => {
  it("refuses a GET without the CSRF header, which a browser would send cross-site without a preflight", async () => {
    const response = await app.yoga.fetch(`http://yoga/graphql?query=${encodeURIComponent("{ viewer { roles } }")}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
    expect((await response.json()).errors[0]).toMatchObject({
      message: expect.stringMatching(/^Required CSRF header\(s\) not present/),
      extensions: { code: "CSRF_HEADER_REQUIRED" },
    });
  });

  it("refuses a form or text/plain POST without the header", async () => {
    for (const contentType of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const response = await app.yoga.fetch("http://yoga/graphql", {
        method: "POST",
        headers: { "content-type": contentType, authorization: `Bearer ${token}` },
        body: "query=%7B__typename%7D",
      });
      expect(response.status, contentType).toBe(403);
    }
  });

  it("lets JSON POSTs through without the header, and GETs with it", async () => {
    expect(await post({ query: "{ viewer { roles } }" })).toEqual({ status: 200, body: { data: { viewer: { roles: ["SYSADMIN"] } } } });
    const response = await clientFetch(`http://yoga/graphql?query=${encodeURIComponent("{ viewer { roles } }")}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { viewer: { roles: ["SYSADMIN"] } } });
  });

  it("still serves GraphiQL, /health and /ready to a plain GET", async () => {
    const graphiql = await app.yoga.fetch("http://yoga/graphql", { headers: { accept: "text/html" } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain("GraphiQL");
    expect((await app.yoga.fetch("http://yoga/health")).status).toBe(200);
    expect((await app.yoga.fetch("http://yoga/ready")).status).toBe(200);
  });

  it("answers GraphiQL's introspection query within the limits", async () => {
    const { getIntrospectionQuery } = await import("graphql");
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    const { status, body } = await post({ query, operationName: "IntrospectionQuery" });
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data.__schema.queryType.name).toBe("Query");
  });
});

describe("request limits (graphql-armor)", () => {
  const nested = (levels: number) =>
    `{ __type(name: "Query") { fields { type ${"{ ofType ".repeat(levels)}{ name }${" }".repeat(levels)} } } }`;

  /** A refused document: no data, a message naming the limit, 400 where the spec asks for it. */
  async function expectRefused(query: string, message: RegExp, code = "GRAPHQL_VALIDATION_FAILED") {
    const json = await post({ query });
    expect(json.status).toBe(200); // application/json: the GraphQL-over-HTTP spec asks for 200
    expect(json.body.data).toBeUndefined();
    expect(json.body.errors).toHaveLength(1);
    expect(json.body.errors[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code } });
    const modern = await post({ query }, { accept: "application/graphql-response+json" });
    expect(modern.status).toBe(400);
    expect(modern.body.errors[0].message).toMatch(message);
  }

  it(`refuses a query deeper than ${REQUEST_LIMITS.maxDepth} levels, saying so`, async () => {
    expect((await post({ query: nested(REQUEST_LIMITS.maxDepth - 4) })).body.errors).toBeUndefined();
    await expectRefused(
      nested(REQUEST_LIMITS.maxDepth),
      new RegExp(`^Query depth limit of ${REQUEST_LIMITS.maxDepth} exceeded, found ${REQUEST_LIMITS.maxDepth + 4}\\.$`),
    );
  });

  it(`refuses more than ${REQUEST_LIMITS.maxAliases} aliases, saying so`, async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `v${i}: viewer { roles }`).join(" ")} }`;
    expect((await post({ query: aliases(REQUEST_LIMITS.maxAliases) })).body.errors).toBeUndefined();
    await expectRefused(
      aliases(REQUEST_LIMITS.maxAliases + 1),
      new RegExp(`^Aliases limit of ${REQUEST_LIMITS.maxAliases} exceeded, found ${REQUEST_LIMITS.maxAliases + 1}\\.$`),
    );
  });

  it(`refuses a document of more than ${REQUEST_LIMITS.maxTokens} tokens, saying so`, async () => {
    await expectRefused(
      `{ viewer { ${"roles ".repeat(REQUEST_LIMITS.maxTokens)} } }`,
      new RegExp(`Token limit of ${REQUEST_LIMITS.maxTokens} exceeded`),
      "GRAPHQL_PARSE_FAILED",
    );
  });

  it(`refuses a query whose estimated cost is over ${REQUEST_LIMITS.maxCost}, saying so (more in test/schema/cost.test.ts)`, async () => {
    // Within the depth, alias and token limits, but a full page of accounts with a full page of transactions each.
    await expectRefused(
      `{ mandate(id: "x") { accounts(first: 100) { edges { node { transactions(first: 100) { totalCount } } } } } }`,
      new RegExp(`^Query cost \\d+ is over the limit of ${REQUEST_LIMITS.maxCost}\\.`),
    );
  });

  it("suggests field names outside production and hides them in production", async () => {
    const dev = await post({ query: "{ viewr { roles } }" });
    expect(dev.body.errors[0].message).toMatch(/Did you mean "viewer"/);
    const production = createSaldoYoga(built.services!, { production: true });
    const response = await production.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ viewr { roles } }" }),
    });
    const { errors } = await response.json();
    expect(errors[0].message).toMatch(/Cannot query field "viewr"/);
    expect(errors[0].message).not.toMatch(/viewer/);
  });
});

describe("request body size", () => {
  const oversized = () => JSON.stringify({ query: `{ viewer { roles } } # ${"x".repeat(REQUEST_LIMITS.maxRequestBodyBytes)}` });

  it("refuses a body whose Content-Length is over the limit with 413", async () => {
    const body = oversized();
    const response = await app.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), authorization: `Bearer ${token}` },
      body,
    });
    expect(response.status).toBe(413);
    const { errors } = await response.json();
    expect(errors[0]).toMatchObject({ message: "Request body too large", extensions: { code: "REQUEST_ENTITY_TOO_LARGE" } });
  });

  it("refuses a streamed body without Content-Length once it grows over the limit", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query":"{ viewer { roles } }","extensions":{"pad":"'));
      },
      pull(controller) {
        // Bounded: stops on its own well past the limit even if nobody cancels it.
        if (sent > REQUEST_LIMITS.maxRequestBodyBytes * 4) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await app.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].extensions.code).toBe("REQUEST_ENTITY_TOO_LARGE");
    expect(sent).toBeLessThan(REQUEST_LIMITS.maxRequestBodyBytes * 2);
  });

  it("accepts a body just under the limit", async () => {
    const query = `{ viewer { roles } } # ${"x".repeat(REQUEST_LIMITS.maxRequestBodyBytes - 200)}`;
    expect(await post({ query })).toEqual({ status: 200, body: { data: { viewer: { roles: ["SYSADMIN"] } } } });
  });
});

describe("error masking", () => {
  /** A yoga whose database throws `error` on first use. */
  /** What the yogas below log, as pino writes it. */
  const logged: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => void logged.push(line) } });

  function yogaWithBrokenDatabase(error: Error) {
    const db = new Proxy(
      {},
      {
        get() {
          throw error;
        },
      },
    );
    return createSaldoYoga({ ...built.services!, db: db as SaldoServices["db"] }, { logger });
  }

  async function ask(yoga: ReturnType<typeof createSaldoYoga>, query: string) {
    const response = await yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, text: await response.text() };
  }

  it('masks an unexpected error as "Unexpected error." without a stack, and logs it on the server', async () => {
    logged.length = 0;
    {
      const { status, text } = await ask(
        yogaWithBrokenDatabase(new Error("connection to 10.0.0.7 failed: password=hunter2")),
        '{ mandate(id: "x") { id } }',
      );
      expect(status).toBe(200);
      const body = JSON.parse(text);
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0]).toEqual({
        message: "Unexpected error.",
        locations: [{ line: 1, column: 3 }],
        path: ["mandate"],
        extensions: { code: "INTERNAL_SERVER_ERROR" },
      });
      expect(text).not.toMatch(/hunter2|10\.0\.0\.7|stack|at .*\.ts/);
      // The original, with its stack, as one JSON line at level error.
      const line = logged.map((l) => JSON.parse(l)).find((l) => l.level === "error");
      expect(line).toMatchObject({ module: "graphql", err: { message: expect.stringMatching(/hunter2/), stack: expect.any(String) } });
    }
  });

  it("lets a BillingError through with its message and code", async () => {
    const { text } = await ask(
      yogaWithBrokenDatabase(new BillingError("NOT_FOUND", "Mandate x not found", ["id"])),
      '{ mandate(id: "x") { id } }',
    );
    expect(JSON.parse(text).errors[0]).toMatchObject({
      message: "Mandate x not found",
      path: ["mandate"],
      extensions: { code: "NOT_FOUND", field: ["id"] },
    });
  });

  it("lets GraphQL errors with a code through (UNAUTHENTICATED, FORBIDDEN)", async () => {
    const anonymous = await app.gql("{ viewer { roles } }");
    expect(anonymous.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/Authentication required/),
      extensions: { code: "UNAUTHENTICATED" },
    });
    const denied = await app.gql(
      'mutation { upsertMandate(input: { id: "nope", name: "N" }) { userErrors { code } } }',
      {},
      { roles: ["USER"], mandateIds: ["nope"], userId: "u" },
    );
    expect(denied.errors?.[0]).toMatchObject({ message: "You are not allowed to do this", extensions: { code: "FORBIDDEN" } });
  });

  it("maskError keeps GraphQL errors as they are", () => {
    const error = new GraphQLError("Nope", { extensions: { code: "FORBIDDEN" } });
    expect(maskError(error, "Unexpected error.")).toBe(error);
    expect(maskError(new TypeError("x is undefined"), "Unexpected error.").message).toBe("Unexpected error.");
  });
});
