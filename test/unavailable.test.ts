// Recognizing an unavailable dependency in the shapes pg, pg-pool and Prisma
// raise it, and what clients and /ready then see. (The real outages are in
// test/fault/.)
import { GraphQLError } from "graphql";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingError } from "../src/billing/shared/errors.js";
import { readiness } from "../src/http/health.js";
import { ServiceUnavailableError, unavailableDependency } from "../src/unavailable.js";
import { createSaldoYoga, maskError } from "../src/yoga.js";
import { createTestApp, JWT_SECRET, type TestApp } from "./support/app.js";
import { createTokenVerifier } from "../src/auth.js";

const pgError = (code: string, message = "pg says so") => Object.assign(new pg.DatabaseError(message, 0, "error"), { code });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code, errno: -111, syscall: "connect" });

describe("unavailableDependency", () => {
  it.each([
    ["a terminated connection (57P01, pg_ctl restart -m fast)", pgError("57P01", "terminating connection due to administrator command")],
    ["a connection failure (08006)", pgError("08006")],
    ["the server starting up (57P03)", pgError("57P03")],
    ["too many connections (53300)", pgError("53300")],
    ["lock_timeout (55P03)", pgError("55P03", "canceling statement due to lock timeout")],
    ["statement_timeout (57014)", pgError("57014", "canceling statement due to statement timeout")],
    ["a refused connection", socketError("ECONNREFUSED")],
    ["a reset connection", socketError("ECONNRESET")],
    ["pg's connection end", new Error("Connection terminated unexpectedly")],
    ["pg-pool's checkout timeout", new Error("timeout exceeded when trying to connect")],
    ["a pg client that failed before", new Error("Client has encountered a connection error and is not queryable")],
    ["Prisma's P1001", Object.assign(new Error("Can't reach database server at 10.0.0.1:5432"), { code: "P1001" })],
    [
      "Prisma's P2028 (transaction could not start in time)",
      Object.assign(new Error("Unable to start a transaction in the given time."), { code: "P2028" }),
    ],
    [
      "a driver adapter error with a SQLSTATE",
      Object.assign(new Error("terminating connection"), {
        name: "DriverAdapterError",
        cause: { kind: "postgres", code: "57P01", originalCode: "57P01" },
      }),
    ],
    [
      "a driver adapter error by kind",
      Object.assign(new Error("ConnectionClosed"), { name: "DriverAdapterError", cause: { kind: "ConnectionClosed" } }),
    ],
    [
      "a raw query failure wrapping one (P2010)",
      Object.assign(new Error("Raw query failed"), {
        code: "P2010",
        meta: { driverAdapterError: { cause: { kind: "postgres", originalCode: "57P01" } } },
      }),
    ],
    ["any of them inside a GraphQLError", new GraphQLError("Unexpected error.", { originalError: socketError("ECONNREFUSED") })],
  ])("sees the database unavailable in %s", (_name, error) => {
    expect(unavailableDependency(error)).toBe("database");
  });

  it("sees live events unavailable when Saldo says so", () => {
    expect(unavailableDependency(new ServiceUnavailableError("live events", "Redis is away"))).toBe("live events");
  });

  it.each([
    ["a unique violation (23505)", pgError("23505")],
    ["a serialization failure (40001), which the caller's retry does not fix by waiting", pgError("40001")],
    ["a syntax error (42601)", pgError("42601")],
    ["Prisma's record not found (P2025)", Object.assign(new Error("not found"), { code: "P2025" })],
    [
      "Prisma's transaction API error that is not about time (P2028)",
      Object.assign(new Error("Transaction API error: Transaction not found."), { code: "P2028" }),
    ],
    ["a BillingError", new BillingError("INSUFFICIENT_BALANCE", "not enough")],
    ["a plain bug", new TypeError("x is undefined")],
    ["nothing", undefined],
  ])("leaves %s alone", (_name, error) => {
    expect(unavailableDependency(error)).toBeNull();
  });
});

describe("maskError", () => {
  it("turns an unavailable database into SERVICE_UNAVAILABLE with 503 (graphql-response+json) and Retry-After", () => {
    const masked = maskError(new GraphQLError("x", { originalError: pgError("57P01") }), "Unexpected error.") as GraphQLError;
    expect(masked.message).toMatch(/database is unavailable/);
    expect(masked.extensions).toEqual({ code: "SERVICE_UNAVAILABLE", http: { status: 503, spec: true, headers: { "Retry-After": "2" } } });
  });

  it("still hides anything else behind Unexpected error.", () => {
    const masked = maskError(new GraphQLError("x", { originalError: new TypeError("secret detail") }), "Unexpected error.") as GraphQLError;
    expect(masked.message).toBe("Unexpected error.");
    expect(masked.extensions.code).toBe("INTERNAL_SERVER_ERROR");
  });
});

describe("/ready", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  const yogaWith = (ping: () => Promise<void>, liveEvents?: () => string) =>
    createSaldoYoga({
      db: app.db.prisma,
      billing: app.billing,
      pubsub: app.live.pubsub,
      verifyToken: createTokenVerifier(JWT_SECRET),
      payments: null,
      ping,
      liveEvents,
    });

  it("is 200 with each dependency's state while the database answers", async () => {
    const response = await app.yoga.fetch("http://yoga/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true, database: "ok", migrations: "ok", liveEvents: "in process", shuttingDown: false });
  });

  it("is 503 with Retry-After and the reason (an error code, no host) while the database is unreachable", async () => {
    const response = await yogaWith(() => Promise.reject(socketError("ECONNREFUSED"))).fetch("http://yoga/ready");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("2");
    const body = await response.json();
    expect(body).toMatchObject({ ready: false, database: "unavailable: ECONNREFUSED", liveEvents: "in process" });
    expect(JSON.stringify(body)).not.toContain("10.0.0.1");
  });

  it("stays ready while only live events are down, and says so", async () => {
    const response = await yogaWith(
      () => Promise.resolve(),
      () => "unavailable: Redis is reconnecting",
    ).fetch("http://yoga/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ready: true, liveEvents: "unavailable: Redis is reconnecting" });
  });

  it("gives up on a database that does not answer within 3 s", async () => {
    const started = Date.now();
    const report = await readiness({ db: app.db.prisma, ping: () => new Promise(() => undefined) });
    expect(report).toMatchObject({ ready: false, database: "unavailable: no answer within 3 s" });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
