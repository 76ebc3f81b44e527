// CORS (src/http/cors.ts) through yoga.fetch: pages on Saldo's own origin,
// on CORS_ORIGINS and, in development, on localhost may read answers; any
// other origin gets no CORS headers; credentials are never allowed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createSaldoYoga, type SaldoYoga, type SaldoYogaOptions } from "../../src/yoga.js";
import { createTestApp, SYSADMIN, type TestApp } from "../support/app.js";
import { createTokenVerifier } from "../../src/auth.js";

let app: TestApp;
let token: string;

const yogaOf = (options: SaldoYogaOptions) =>
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
  app = await createTestApp({ CORS_ORIGINS: "https://billing.example.com, https://admin.example.com:8443" });
  token = await app.token(SYSADMIN);
});
afterAll(async () => {
  await app?.close();
});

/** A cross-origin JSON POST as a browser sends it, and its preflight. */
async function fromPage(yoga: SaldoYoga, origin: string) {
  const preflight = await yoga.fetch("https://saldo.example.com/graphql", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });
  const response = await yoga.fetch("https://saldo.example.com/graphql", {
    method: "POST",
    headers: { origin, "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ viewer { roles } }" }),
  });
  return { preflight: preflight.headers, response: response.headers };
}

describe("CORS", () => {
  it("never echoes an origin that is not allowed, and never allows credentials", async () => {
    const { preflight, response } = await fromPage(app.yoga, "https://evil.example");
    for (const headers of [preflight, response]) {
      expect(headers.get("access-control-allow-origin")).toBeNull();
      expect(headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("allows the origins of CORS_ORIGINS, without credentials", async () => {
    for (const origin of ["https://billing.example.com", "https://admin.example.com:8443"]) {
      const { preflight, response } = await fromPage(app.yoga, origin);
      expect(preflight.get("access-control-allow-origin")).toBe(origin);
      expect(preflight.get("access-control-allow-headers")).toMatch(/authorization/);
      expect(response.get("access-control-allow-origin")).toBe(origin);
      expect(response.get("access-control-allow-credentials")).toBeNull();
    }
    // Not a prefix or another port of an allowed origin.
    expect((await fromPage(app.yoga, "https://billing.example.com.evil.example")).response.get("access-control-allow-origin")).toBeNull();
    expect((await fromPage(app.yoga, "https://admin.example.com")).response.get("access-control-allow-origin")).toBeNull();
  });

  it("allows Saldo's own origin", async () => {
    expect((await fromPage(app.yoga, "https://saldo.example.com")).response.get("access-control-allow-origin")).toBe(
      "https://saldo.example.com",
    );
  });

  it("allows localhost in development only", async () => {
    const origin = "http://localhost:5173";
    expect((await fromPage(yogaOf({ production: false }), origin)).response.get("access-control-allow-origin")).toBe(origin);
    expect((await fromPage(yogaOf({ production: false }), "http://127.0.0.1:3000")).response.get("access-control-allow-origin")).toBe(
      "http://127.0.0.1:3000",
    );
    expect((await fromPage(yogaOf({ production: true }), origin)).response.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a CORS_ORIGINS entry that is not an origin, naming it", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "https://ok.example, https://bad.example/app/" })).toThrow(
      /CORS_ORIGINS: "https:\/\/bad.example\/app\/" is not an origin/,
    );
    expect(() => loadConfig({ CORS_ORIGINS: "*" })).toThrow(/CORS_ORIGINS: "\*" is not an origin/);
    expect(loadConfig({}).CORS_ORIGINS).toEqual([]);
  });
});
