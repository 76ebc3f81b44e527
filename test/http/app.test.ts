// The UI's files at /app (src/http/app.ts): content types, caching, the
// single-page fallback, the Content-Security-Policy, and nothing outside the
// build served. Over a small stand-in build, so the test needs no UI build.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_CONTENT_SECURITY_POLICY, handleWebApp } from "../../src/http/app.js";
import { createSaldoYoga, type SaldoYoga } from "../../src/yoga.js";
import { createTestApp, JWT_SECRET, type TestApp } from "../support/app.js";
import { createTokenVerifier } from "../../src/auth.js";

let parent: string;
let root: string;
let app: TestApp;
/** Saldo's handler with the stand-in build as its UI. */
let yoga: SaldoYoga;
const INDEX = '<!doctype html><script type="module" src="/app/assets/index-AbC123.js"></script>';

beforeAll(async () => {
  parent = mkdtempSync(path.join(tmpdir(), "saldo-webapp-"));
  root = path.join(parent, "dist");
  mkdirSync(path.join(root, "assets"), { recursive: true });
  writeFileSync(path.join(root, "index.html"), INDEX);
  writeFileSync(path.join(root, "assets/index-AbC123.js"), "console.log('ui')");
  writeFileSync(path.join(root, "assets/index-DeF456.css"), "body{}");
  writeFileSync(path.join(root, "assets/favicon-GhI789.svg"), "<svg/>");
  writeFileSync(path.join(parent, "secret.txt"), "not for the web");
  app = await createTestApp();
  yoga = createSaldoYoga(
    {
      db: app.database.prisma,
      billing: app.billing,
      pubsub: app.live.pubsub,
      verifyToken: createTokenVerifier(JWT_SECRET),
      payments: null,
      ping: async () => {},
    },
    { webApp: { root } },
  );
});
afterAll(async () => {
  await app?.close();
  rmSync(parent, { recursive: true, force: true });
});

const get = (pathname: string, init: RequestInit = {}) => yoga.fetch(`http://saldo${pathname}`, init);

describe("the UI at /app", () => {
  it("serves index.html for the app's routes, revalidated on every visit, under a strict policy", async () => {
    for (const pathname of ["/app/", "/app/dashboard", "/app/topup/success", "/app/admin/deeper/still"]) {
      const response = await get(pathname);
      expect(response.status, pathname).toBe(200);
      expect(await response.text()).toBe(INDEX);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-security-policy")).toBe(APP_CONTENT_SECURITY_POLICY);
    }
    const policy = APP_CONTENT_SECURITY_POLICY;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).not.toContain("unsafe-inline");
    expect(policy).not.toContain("unsafe-eval");
  });

  it("serves fingerprinted assets with their types, cached for good", async () => {
    for (const [file, type] of [
      ["index-AbC123.js", "text/javascript; charset=utf-8"],
      ["index-DeF456.css", "text/css; charset=utf-8"],
      ["favicon-GhI789.svg", "image/svg+xml; charset=utf-8"],
    ]) {
      const response = await get(`/app/assets/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(type);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
  });

  it("answers a missing file with 404, never with the page, and nothing outside the build", async () => {
    expect((await get("/app/assets/index-gone.js")).status).toBe(404);
    expect((await get("/app/robots.txt")).status).toBe(404);
    for (const pathname of [
      "/app/%2e%2e/secret.txt",
      "/app/..%2fsecret.txt",
      "/app/%2e%2e%2fsecret.txt",
      "/app/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
    ]) {
      const response = await get(pathname);
      expect(response.status, pathname).toBe(404);
      expect(await response.text()).not.toContain("not for the web");
    }
  });

  it("revalidates by ETag, answers HEAD without a body, and refuses other methods", async () => {
    const first = await get("/app/");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    const again = await get("/app/", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const head = await get("/app/assets/index-AbC123.js", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String("console.log('ui')".length));
    expect(await head.text()).toBe("");
    expect((await get("/app/", { method: "POST" })).status).toBe(405);
  });

  it("says how to build the UI when it is not built", async () => {
    const response = await handleWebApp(new Request("http://saldo/app/"), "/app/", { root: path.join(parent, "nothing-here") });
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/npm run build:web/);
  });

  it("is part of Saldo's own handler: / and /app lead to the UI, GraphQL is untouched", async () => {
    const home = await app.yoga.fetch("http://yoga/", { redirect: "manual" });
    expect(home.status).toBe(302);
    expect(home.headers.get("location")).toBe("/app/");
    const bare = await app.yoga.fetch("http://yoga/app", { redirect: "manual" });
    expect(bare.status).toBe(302);
    expect(bare.headers.get("location")).toBe("/app/");
    // Served by the UI's handler (built or not), not by GraphQL.
    const ui = await app.yoga.fetch("http://yoga/app/dashboard");
    expect([200, 503]).toContain(ui.status);
    expect(ui.headers.get("content-type")).toMatch(/^text\/(html|plain)/);
    const graphql = await app.gql("{ __typename }");
    expect(graphql.data).toEqual({ __typename: "Query" });
  });
});
