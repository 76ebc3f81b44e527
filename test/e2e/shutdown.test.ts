// SIGTERM under load, on the real server process (what `npm start` runs)
// over the project's database (PGlite, or PostgreSQL in the postgres
// project): every request the server accepted gets its answer, every 200
// with a transaction is exactly one booked entry, a request that failed on
// the socket booked nothing, open subscriptions are ended politely (SSE
// completes, WebSocket closes with 1001), and the process exits 0 within
// SHUTDOWN_GRACE_MS. Also: the process logs JSON lines, one per request,
// with the request id it was sent.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signToken } from "../../src/auth.js";
import { openDatabase, type Database } from "../../src/db/open.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../support/db.js";
import { freePort, startServer, type ServerProcess } from "../support/server.js";

const SECRET = "shutdown-secret-that-is-long-enough-0123456789";
// Generous for a loaded two-core machine; the test shows the exit comes within it.
const GRACE_MS = 20_000;

let postgres: TestDatabase | undefined;
let dataParent: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  dataParent = mkdtempSync(path.join(tmpdir(), "saldo-shutdown-"));
  if (testDatabaseKind === "postgres") postgres = await createTestDatabase();
});
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.process.exitCode === null) server.process.kill("SIGKILL");
});
afterAll(async () => {
  await postgres?.close();
  rmSync(dataParent, { recursive: true, force: true });
});

async function start(name: string): Promise<ServerProcess & { dataDir: string }> {
  const dataDir = path.join(dataParent, name);
  const env: NodeJS.ProcessEnv = {
    JWT_SECRET: SECRET,
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    ...(postgres ? { DATABASE_URL: postgres.url } : { SALDO_DATA_DIR: dataDir }),
  };
  const server = await startServer(await freePort(), env);
  servers.push(server);
  return Object.assign(server, { dataDir });
}

/** What the test's own process sees of the ledger once the server has exited. */
async function ledgerOf(server: { dataDir: string }): Promise<Database> {
  return postgres ?? openDatabase({ dataDir: server.dataDir });
}

const sysadmin = () => signToken({ roles: ["SYSADMIN"], userId: "ops" }, SECRET);
const gateway = () => signToken({ roles: ["SERVICE"] }, SECRET);

async function gql(
  server: ServerProcess,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { response, body: (await response.json()) as { data?: any; errors?: unknown[] } };
}

async function createMandate(server: ServerProcess, id: string) {
  const admin = await sysadmin();
  const created = await gql(server, admin, `mutation($i: UpsertMandateInput!) { upsertMandate(input: $i) { userErrors { code } } }`, {
    i: { id, name: id },
  });
  expect(created.body.data.upsertMandate.userErrors).toEqual([]);
  const credited = await gql(server, admin, CREDIT, {
    i: { mandateId: id, amount: "100000", description: "Load", idempotencyKey: `seed-${id}` },
  });
  expect(credited.body.data.creditAccount.userErrors).toEqual([]);
}

const CREDIT = `mutation($i: CreditAccountInput!) { creditAccount(input: $i) { transaction { id } userErrors { code } } }`;
const RECORD = `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { transaction { id } userErrors { code } } }`;

interface Outcome {
  key: string;
  mandateId: string;
  status?: number;
  transactionId?: string;
  errors?: unknown;
  /** The client's error when no response came (a socket error, or a refused connection). */
  failure?: string;
}

/** One money move (alternately a usage debit and an admin credit), never throwing. */
async function moneyMove(
  server: ServerProcess,
  tokens: { admin: string; gateway: string },
  mandateId: string,
  key: string,
  credit: boolean,
): Promise<Outcome> {
  try {
    const { response, body } = credit
      ? await gql(server, tokens.admin, CREDIT, { i: { mandateId, amount: "0.5", description: "Drain", idempotencyKey: key } })
      : await gql(server, tokens.gateway, RECORD, { i: { mandateId, provider: "openai", model: "m", cost: "0.01", idempotencyKey: key } });
    const payload = body.data?.creditAccount ?? body.data?.recordUsage;
    return {
      key,
      mandateId,
      status: response.status,
      transactionId: payload?.transaction?.id,
      errors: body.errors ?? (payload?.userErrors?.length ? payload.userErrors : undefined),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { key, mandateId, failure: cause?.code ?? cause?.message ?? String(error) };
  }
}

/** Checks every outcome against the ledger: a 200 with a transaction is exactly that one entry; a failure booked nothing. */
async function checkAgainstLedger(db: Database, outcomes: Outcome[]) {
  const rows = await db.prisma.transaction.findMany({
    where: { mandateId: { in: [...new Set(outcomes.map((o) => o.mandateId))] }, idempotencyKey: { in: outcomes.map((o) => o.key) } },
    select: { id: true, idempotencyKey: true },
  });
  const byKey = new Map<string, string[]>();
  for (const row of rows) byKey.set(row.idempotencyKey!, [...(byKey.get(row.idempotencyKey!) ?? []), row.id]);
  const answered = outcomes.filter((o) => o.status !== undefined);
  const failed = outcomes.filter((o) => o.failure !== undefined);
  for (const o of answered) {
    expect(o, `answer of ${o.key}`).toMatchObject({ status: 200, errors: undefined });
    expect(byKey.get(o.key), `entries of ${o.key}`).toEqual([o.transactionId]);
  }
  // No response: the server never accepted it (refused connection, or a socket closed before its request was read).
  for (const o of failed) expect(byKey.get(o.key) ?? [], `entries of ${o.key}, which failed with ${o.failure}`).toEqual([]);
  const counts = new Map<string, number>();
  for (const o of failed) counts.set(o.failure!, (counts.get(o.failure!) ?? 0) + 1);
  const failures = [...counts].map(([code, n]) => `${code} ×${n}`);
  return { answered: answered.length, failed: failed.length, failures: failures.join(", ") || "none" };
}

/** Stops the server with SIGTERM; the exit code and how long the drain took. */
async function terminate(server: ServerProcess): Promise<{ code: number | null; ms: number }> {
  const sent = Date.now();
  server.process.kill("SIGTERM");
  const code = await server.exited;
  return { code, ms: Date.now() - sent };
}

const logLines = (server: ServerProcess) =>
  server
    .output()
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });

describe("SIGTERM under load", () => {
  it("8 clients back to back: every accepted request answered and booked once; subscriptions ended politely; JSON logs with the request id", async () => {
    const server = await start("back-to-back");
    const tokens = { admin: await sysadmin(), gateway: await gateway() };
    const mandateId = `drain-${randomUUID().slice(0, 8)}`;
    await createMandate(server, mandateId);

    // The request id: an incoming one is kept, returned, and logged.
    const requestId = `it-${randomUUID()}`;
    const traced = await gql(server, tokens.gateway, "query Traced { viewer { roles } }", {}, { "x-request-id": requestId });
    expect(traced.response.headers.get("x-request-id")).toBe(requestId);
    const minted = await gql(server, tokens.gateway, "query Minted { viewer { roles } }", {}, { "x-request-id": "has spaces in it" });
    expect(minted.response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    // Also on what yoga answers before any plugin runs.
    expect((await fetch(`${server.url}/health`, { headers: { "x-request-id": "probe-1" } })).headers.get("x-request-id")).toBe("probe-1");

    // Open subscriptions, over SSE and over WebSocket.
    const sse = createSseClient({
      url: `${server.url}/graphql`,
      singleConnection: false,
      retryAttempts: 0,
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    const sseEnd = new Promise<string>((resolve) =>
      sse.subscribe(
        { query: `subscription { balanceChanged(mandateId: "${mandateId}") { balance } }` },
        { next: () => undefined, error: (e) => resolve(`error ${String(e)}`), complete: () => resolve("complete") },
      ),
    );
    let wsClosed: { code: number; reason: string } | undefined;
    const ws = createWsClient({
      url: `${server.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tokens.admin}` },
      retryAttempts: 0,
      // Not lazy: the client would close the connection itself (1000) once its last subscription completed.
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (event) => void (wsClosed = event as { code: number; reason: string }) },
    });
    const wsEnd = new Promise<string>((resolve) =>
      ws.subscribe(
        { query: `subscription { balanceChanged(mandateId: "${mandateId}") { balance } }` },
        { next: () => undefined, error: () => resolve("error"), complete: () => resolve("complete") },
      ),
    );
    // Both are listening once a money move reaches them.
    await new Promise((r) => setTimeout(r, 500));

    const outcomes: Outcome[] = [];
    let stopping = false;
    const clients = Array.from({ length: 8 }, async (_, client) => {
      for (let n = 0; ; n++) {
        const outcome = await moneyMove(server, tokens, mandateId, `b2b-${client}-${n}`, n % 4 === 3);
        outcomes.push(outcome);
        // Once the server has stopped listening, there is nobody to send to.
        if (stopping && outcome.failure === "ECONNREFUSED") return;
        if (outcome.failure && !stopping) throw new Error(`request failed before SIGTERM: ${outcome.failure}`);
      }
    });
    while (outcomes.filter((o) => o.status === 200).length < 40) await new Promise((r) => setTimeout(r, 20));
    stopping = true;
    const exit = await terminate(server);
    await Promise.all(clients);
    sse.dispose();

    expect(exit.code, server.output().slice(-3000)).toBe(0);
    expect(exit.ms).toBeLessThan(GRACE_MS);
    expect(await sseEnd).toBe("complete");
    expect(await wsEnd).toBe("complete");
    expect(wsClosed?.code).toBe(1001);

    const db = await ledgerOf(server);
    try {
      const summary = await checkAgainstLedger(db, outcomes);
      console.log(
        `[shutdown] back to back on ${testDatabaseKind}: ${summary.answered} answered, failed: ${summary.failures}; exit ${exit.code} after ${exit.ms} ms`,
      );
    } finally {
      if (!postgres) await db.close();
    }

    const lines = logLines(server);
    const line = lines.find((l) => l.reqId === requestId && l.msg === "request");
    expect(line).toMatchObject({
      level: "info",
      module: "http",
      method: "POST",
      path: "/graphql",
      status: 200,
      operationName: "Traced",
      operationType: "query",
      roles: ["SERVICE"],
      mandateIds: [],
    });
    expect(typeof line?.durationMs).toBe("number");
    expect(server.output()).not.toContain(tokens.gateway);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["shutting down: not ready, draining", "HTTP drained; stopping background jobs and the database", "stopped"]),
    );
  });

  it("200 concurrent calls: every accepted one answered and booked once, exit 0 within the grace period", async () => {
    const server = await start("concurrent");
    const tokens = { admin: await sysadmin(), gateway: await gateway() };
    const mandates = [`burst-a-${randomUUID().slice(0, 8)}`, `burst-b-${randomUUID().slice(0, 8)}`];
    for (const id of mandates) await createMandate(server, id);

    let answered = 0;
    const calls = Array.from({ length: 200 }, (_, i) =>
      moneyMove(server, tokens, mandates[i % 2], `burst-${i}`, i % 5 === 4).then((outcome) => {
        if (outcome.status) answered++;
        return outcome;
      }),
    );
    // SIGTERM while most are still queued at the database (which books one at a time on PGlite).
    while (answered < 20) await new Promise((r) => setTimeout(r, 5));
    const exit = await terminate(server);
    const outcomes = await Promise.all(calls);

    expect(exit.code, server.output().slice(-3000)).toBe(0);
    expect(exit.ms).toBeLessThan(GRACE_MS);
    const db = await ledgerOf(server);
    try {
      const summary = await checkAgainstLedger(db, outcomes);
      expect(summary.answered).toBeGreaterThan(1);
      console.log(
        `[shutdown] 200 concurrent on ${testDatabaseKind}: ${summary.answered} answered, failed: ${summary.failures}; exit ${exit.code} after ${exit.ms} ms`,
      );
    } finally {
      if (!postgres) await db.close();
    }
  });
});
