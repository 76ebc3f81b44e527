// Refusals before GraphQL runs (src/http/refusals.ts), through yoga.fetch:
// a missing CSRF header and an unsupported content type answer a GraphQL
// error with a code and a message saying what to send.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSRF_HEADER } from "../../src/yoga.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";

let app: TestApp;
let token: string;
beforeAll(async () => {
  app = await createTestApp();
  token = await app.token(SYSADMIN);
});
afterAll(async () => {
  await app?.close();
});

const send = (init: RequestInit & { url?: string }) =>
  app.yoga.fetch(init.url ?? "http://yoga/graphql", {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });

async function expectGraphQLError(response: Response, status: number, code: string, message: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/(graphql-response\+)?json/);
  const body = await response.json();
  expect(body).toEqual({ errors: [{ message: expect.stringMatching(message), extensions: { code } }] });
}

describe("CSRF refusals", () => {
  it("answer 403 with CSRF_HEADER_REQUIRED, naming the header, for a GET and for form and text/plain POSTs", async () => {
    const message = new RegExp(`^Required CSRF header\\(s\\) not present: send "${CSRF_HEADER}: 1"`);
    await expectGraphQLError(
      await send({ url: `http://yoga/graphql?query=${encodeURIComponent("{ viewer { roles } }")}` }),
      403,
      "CSRF_HEADER_REQUIRED",
      message,
    );
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      await expectGraphQLError(
        await send({ method: "POST", headers: { "content-type": contentType }, body: "query=%7B__typename%7D" }),
        403,
        "CSRF_HEADER_REQUIRED",
        message,
      );
    }
  });
});

describe("an unsupported content type", () => {
  it("answers 415 with UNSUPPORTED_MEDIA_TYPE and the types to send, not an empty body", async () => {
    await expectGraphQLError(
      await send({
        method: "POST",
        headers: { "content-type": "text/plain", [CSRF_HEADER]: "1" },
        body: '{"query":"{ viewer { roles } }"}',
      }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      /^Unsupported content type "text\/plain": send application\/json/,
    );
    await expectGraphQLError(
      await send({ method: "POST", headers: { "content-type": "application/xml" }, body: "<query/>" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      /^Unsupported content type "application\/xml"/,
    );
  });

  it("leaves JSON POSTs and other methods as they were", async () => {
    const json = await send({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ viewer { roles } }" }),
    });
    expect(await json.json()).toEqual({ data: { viewer: { roles: ["SYSADMIN"] } } });
    expect((await send({ method: "PUT", headers: { "content-type": "application/json", [CSRF_HEADER]: "1" }, body: "{}" })).status).toBe(
      405,
    );
  });
});
