// Bearer tokens (src/auth.ts): every token must expire, and none may live
// longer than JWT_MAX_TTL (24 h by default), through yoga.fetch; and
// `npm run token` mints tokens the server accepts.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createTokenVerifier, DEFAULT_MAX_TOKEN_TTL_SECONDS, signToken, verifyToken } from "../src/auth.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { createTestApp, JWT_SECRET, type TestApp } from "./support/app.js";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

const key = new TextEncoder().encode(JWT_SECRET);
const claims = { roles: ["SYSADMIN"], mandateIds: [] };
const now = () => Math.floor(Date.now() / 1000);

async function viewerWith(token: string, on = app) {
  const response = await on.yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ viewer { roles } }" }),
  });
  return { status: response.status, body: await response.json() };
}

describe("token lifetime", () => {
  it("refuses a token without exp, saying every token must expire", async () => {
    const forever = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setSubject("ops").sign(key);
    const { status, body } = await viewerWith(forever);
    expect(status).toBe(401);
    expect(body.errors[0]).toMatchObject({
      message: "Invalid token: it has no exp claim; every token must expire",
      extensions: { code: "UNAUTHENTICATED" },
    });
  });

  it("refuses a token that lives longer than 24 h, with or without iat", async () => {
    const long = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("25h").sign(key);
    expect((await viewerWith(long)).body.errors[0].message).toMatch(
      /^Invalid token: it lives 90000 s, longer than the 86400 s a token may \(JWT_MAX_TTL\)$/,
    );
    // Without iat the lifetime counts from now; an iat in the future does not shorten it.
    const noIat = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(now() + 30 * 3600)
      .sign(key);
    expect((await viewerWith(noIat)).status).toBe(401);
    const lateIat = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now() + 20 * 3600)
      .setExpirationTime(now() + 30 * 3600)
      .sign(key);
    expect((await viewerWith(lateIat)).status).toBe(401);
  });

  it("accepts a token of 24 h, and one issued long ago that lives 24 h in all", async () => {
    const day = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("24h").sign(key);
    expect(await viewerWith(day)).toEqual({ status: 200, body: { data: { viewer: { roles: ["SYSADMIN"] } } } });
    const old = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now() - 20 * 3600)
      .setExpirationTime(now() + 4 * 3600)
      .sign(key);
    expect((await viewerWith(old)).status).toBe(200);
  });

  it("follows JWT_MAX_TTL", async () => {
    const hourly = await createTestApp({ JWT_MAX_TTL: "1h" });
    try {
      expect((await viewerWith(await signToken({ roles: ["SYSADMIN"] }, JWT_SECRET, "2h"), hourly)).status).toBe(401);
      expect((await viewerWith(await signToken({ roles: ["SYSADMIN"] }, JWT_SECRET, "59m"), hourly)).status).toBe(200);
    } finally {
      await hourly.close();
    }
  });

  it("tells the caller when the token expires", async () => {
    const caller = await verifyToken(await signToken({ roles: ["SERVICE"] }, JWT_SECRET, "1h"), JWT_SECRET);
    expect(caller.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3590_000);
    expect(caller.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
  });
});

describe("remembered tokens", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers a token verified once from memory, until its exp, and then refuses it as jose does", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const verify = createTokenVerifier(JWT_SECRET);
    const token = await signToken({ userId: "u1", roles: ["USER"], mandateIds: ["m1"] }, JWT_SECRET, "60s");
    const first = await verify(token);
    expect(first).toMatchObject({ userId: "u1", roles: ["USER"], mandateIds: ["m1"] });
    expect(Object.isFrozen(first) && Object.isFrozen(first.roles) && Object.isFrozen(first.mandateIds)).toBe(true);
    vi.setSystemTime(Date.now() + 59_000);
    expect(await verify(token)).toBe(first);
    vi.setSystemTime(Date.now() + 1_000);
    await expect(verify(token)).rejects.toThrow(/"exp" claim timestamp check failed/);
  });

  it("never remembers a token that failed, nor one signed with another secret", async () => {
    const verify = createTokenVerifier(JWT_SECRET);
    const forged = await signToken({ roles: ["SYSADMIN"] }, "another secret", "1h");
    await expect(verify(forged)).rejects.toThrow(/signature verification failed/);
    await expect(verify(forged)).rejects.toThrow(/signature verification failed/);
    const good = await signToken({ roles: ["SERVICE"] }, JWT_SECRET, "1h");
    await expect(createTokenVerifier("another secret")(good)).rejects.toThrow(/signature verification failed/);
    expect((await verify(good)).roles).toEqual(["SERVICE"]);
  });

  it("keeps each verifier's lifetime bound: a longer-lived token is refused by a stricter verifier", async () => {
    const token = await signToken({ roles: ["SERVICE"] }, JWT_SECRET, "2h");
    expect((await createTokenVerifier(JWT_SECRET)(token)).roles).toEqual(["SERVICE"]);
    await expect(createTokenVerifier(JWT_SECRET, 3600)(token)).rejects.toThrow(/longer than the 3600 s/);
  });
});

describe("a USER token without a user id", () => {
  it("is told so, not that it is no member of the mandate", async () => {
    const result = await app.gql('{ balance(mandateId: "root") { balance } }', {}, { roles: ["USER"], mandateIds: ["root"] });
    expect(result.errors?.[0]).toMatchObject({
      message: "The token has role USER but no user id: a USER token must name its user in sub",
      extensions: { code: "FORBIDDEN" },
    });
  });
});

describe("JWT_MAX_TTL", () => {
  it("takes seconds or a number with s, m, h or d, 24 h by default, at most 7 days", () => {
    expect(loadConfig({}).JWT_MAX_TTL).toBe(DEFAULT_MAX_TOKEN_TTL_SECONDS);
    expect(loadConfig({ JWT_MAX_TTL: "3600" }).JWT_MAX_TTL).toBe(3600);
    expect(loadConfig({ JWT_MAX_TTL: "30m" }).JWT_MAX_TTL).toBe(1800);
    expect(loadConfig({ JWT_MAX_TTL: "7d" }).JWT_MAX_TTL).toBe(7 * 86_400);
    expect(() => loadConfig({ JWT_MAX_TTL: "8d" })).toThrow(/JWT_MAX_TTL: JWT_MAX_TTL must be at most 7d/);
    expect(() => loadConfig({ JWT_MAX_TTL: "forever" })).toThrow(ConfigError);
  });
});

describe("npm run token", () => {
  const script = (...args: string[]) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/token.ts", ...args], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: { ...process.env, JWT_SECRET, JWT_MAX_TTL: "" },
    });

  it("mints a token the server accepts, and refuses to mint one it would refuse", async () => {
    const { stdout } = await script("--role", "MANDATE_ADMIN", "--mandate", "acme", "--user", "alice");
    const caller = await verifyToken(stdout.trim(), JWT_SECRET);
    expect(caller).toMatchObject({ userId: "alice", roles: ["MANDATE_ADMIN"], mandateIds: ["acme"] });
    await expect(script("--role", "SYSADMIN", "--expires", "48h")).rejects.toMatchObject({
      stderr: expect.stringMatching(/longer than JWT_MAX_TTL/),
    });
  });
});
