// /health is liveness, /ready readiness: ready only with the database
// answering, every migration applied, and no shutdown under way; 503 with
// the reason otherwise.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { readiness } from "../../src/http/health.js";
import { createTestApp, type TestApp } from "../support/app.js";

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe("/health and /ready", () => {
  it("/health answers 200 without asking anything", async () => {
    const response = await app.yoga.fetch("http://yoga/health");
    expect(response.status).toBe(200);
  });

  it("/ready answers 200 with the state of each check", async () => {
    const response = await app.yoga.fetch("http://yoga/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true, database: "ok", migrations: "ok", liveEvents: "in process", shuttingDown: false });
  });

  it("/ready is 503 once a shutdown has begun, while /health still answers", async () => {
    const other = await createTestApp();
    try {
      other.beginShutdown();
      const response = await other.yoga.fetch("http://yoga/ready");
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("2");
      expect(await response.json()).toMatchObject({ ready: false, reason: "shutting down", shuttingDown: true });
      expect((await other.yoga.fetch("http://yoga/health")).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe("readiness", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase({ dataDir: "memory://" });
  });

  it("is not ready when a migration this version knows is not applied", async () => {
    const probe = { db: db.prisma, ping: db.ping };
    expect(await readiness(probe)).toMatchObject({ ready: true });
    const [last] = await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      `DELETE FROM "_prisma_migrations" WHERE "migration_name" = (SELECT max("migration_name") FROM "_prisma_migrations") RETURNING "migration_name"`,
    );
    const report = await readiness(probe);
    expect(report).toMatchObject({ ready: false, database: "ok", migrations: "pending" });
    expect(report.reason).toContain(last.migration_name);
  });

  it("is not ready when the database does not answer, or answers too late", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" });
    const report = await readiness({ db: db.prisma, ping: () => Promise.reject(refused) });
    expect(report).toMatchObject({ ready: false, database: "unavailable: ECONNREFUSED", reason: "database unavailable: ECONNREFUSED" });
    expect(JSON.stringify(report)).not.toContain("10.0.0.1");
    const late = await readiness({ db: db.prisma, ping: () => new Promise(() => undefined) }, undefined, 50);
    expect(late).toMatchObject({ ready: false, database: "unavailable: no answer within 0.05 s" });
    await db.close();
    expect(await readiness({ db: db.prisma, ping: db.ping })).toMatchObject({
      ready: false,
      database: expect.stringMatching(/^unavailable: /),
    });
  });
});
