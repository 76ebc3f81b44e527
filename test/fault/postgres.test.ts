// Issue 13: the real server on a PostgreSQL cluster and a Redis of the test's
// own, under bounded load, while one dependency fails. Each scenario runs
// once (in its describe's beforeAll) and its checks are separate tests, so a
// run shows which promise broke; a table per scenario is printed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPostgresCluster,
  freePort,
  sleep,
  spawnSaldo,
  startRedis,
  startSaldo,
  waitUntilServing,
  type PostgresCluster,
  type RedisServer,
  type SaldoProcess,
} from "../support/fault-infra.js";
import {
  callers,
  createMandates,
  failuresAreServiceUnavailable,
  lastError,
  Load,
  moneyHolds,
  printReport,
  scenario,
  send,
  verify,
  type Callers,
  type ScenarioRow,
  type Verdict,
} from "../support/fault-load.js";

const SECRET = "fault-suite-secret-that-is-long-enough-0123456789";
const CLIENTS = 16;
const MANDATES = 20;
/** How long a client may wait for a dependency to come back: the service must be serving again by then. */
const RECOVERY_LIMIT_MS = 10_000;

let cluster: PostgresCluster;
let redis: RedisServer;
let who: Callers;
/** Every server a scenario started: stopped in afterAll even when a scenario failed. */
const servers: SaldoProcess[] = [];

beforeAll(async () => {
  who = await callers(SECRET);
  cluster = await createPostgresCluster();
  redis = await startRedis();
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
  await redis?.kill();
  await cluster?.drop();
  printReport("Fault suite (PostgreSQL, Redis)");
}, 120_000);

interface Stage {
  server: SaldoProcess;
  databaseUrl: string;
  mandates: string[];
  load: Load;
  /** The server's options, to start it again on the same port and database. */
  restart(): Promise<SaldoProcess>;
}

/** A fresh database, the server on it, mandates, and a load ready to start. */
async function stage(
  options: { env?: Record<string, string>; redisUrl?: string; clients?: number; focusClients?: number } = {},
): Promise<Stage> {
  const databaseUrl = await cluster.createDatabase();
  const port = await freePort();
  const serverOptions = { port, secret: SECRET, databaseUrl, redisUrl: options.redisUrl, env: options.env };
  const server = await startSaldo(serverOptions);
  servers.push(server);
  const mandates = await createMandates(server, who, MANDATES);
  const staged: Stage = {
    server,
    databaseUrl,
    mandates,
    load: new Load({
      url: () => staged.server.url,
      who,
      mandates,
      clients: options.clients ?? CLIENTS,
      focus: options.focusClients ? { mandateId: mandates[0], clients: options.focusClients } : undefined,
    }),
    restart: async () => {
      staged.server = await startSaldo(serverOptions);
      servers.push(staged.server);
      return staged.server;
    },
  };
  return staged;
}

/**
 * The common tail: wait for the first success after the fault (bounded), let
 * the load run a little longer, stop it; note whether the server survived
 * (and start it again if not, so the money can still be checked); re-send
 * every request with its key; compare with the ledger.
 */
async function finish(s: Stage, row: ScenarioRow): Promise<Verdict> {
  await s.load.recovered(RECOVERY_LIMIT_MS + 5_000);
  await sleep(1_500);
  await s.load.stop();
  row.recoveryMs = s.load.recoveryMs();
  row.alive = s.server.alive();
  if (!row.alive) {
    const { code, signal } = await s.server.exited;
    row.notes.push(`server exited (${signal ?? `code ${code}`}): ${lastError(s.server.output())}`);
    await s.restart();
  }
  await s.load.resendAll();
  row.verdict = await verify(s.load, { databaseUrl: s.databaseUrl });
  await s.server.stop();
  return row.verdict;
}

describe("SIGKILL of the server, then a restart", () => {
  const result = scenario("server SIGKILL + restart (PostgreSQL)", async (row) => {
    const s = await stage();
    s.load.start();
    await sleep(3_000);
    s.load.faultStarted();
    await s.server.kill("SIGKILL");
    s.load.faultEnded();
    const restartedAt = Date.now();
    await s.restart();
    row.notes.push(`the new process served after ${((Date.now() - restartedAt) / 1000).toFixed(1)} s`);
    await finish(s, row);
  });

  it("serves again after the restart", () => {
    expect(result().recoveryMs).toBeDefined();
  });
  moneyHolds(result);
});

/** The busy process outlives PostgreSQL going away and serves again soon after it is back (issue 13 item 1). */
function survivesAndRecovers(result: () => ScenarioRow) {
  it("keeps the process alive (issue 13 item 1)", () => {
    expect(result().alive, result().notes.join("; ")).toBe(true);
  });
  it(`serves again within ${RECOVERY_LIMIT_MS / 1000} s of PostgreSQL being back`, () => {
    expect(result().recoveryMs).toBeLessThan(RECOVERY_LIMIT_MS);
  });
}

describe("PostgreSQL restarts (pg_ctlcluster restart -m fast)", () => {
  const result = scenario("PostgreSQL fast restart", async (row) => {
    const s = await stage();
    s.load.start();
    await sleep(3_000);
    s.load.faultStarted();
    await cluster.restart();
    s.load.faultEnded();
    await finish(s, row);
  });

  survivesAndRecovers(result);
  failuresAreServiceUnavailable(result);
  moneyHolds(result);
});

describe("PostgreSQL stopped for 4 s, then started", () => {
  let readyWhileDown: { status: number; body: string } | undefined;
  const result = scenario("PostgreSQL stop, 4 s, start", async (row) => {
    const s = await stage();
    s.load.start();
    await sleep(3_000);
    s.load.faultStarted();
    await cluster.stop();
    await sleep(1_000);
    readyWhileDown = await fetch(`http://127.0.0.1:${s.server.port}/ready`, { signal: AbortSignal.timeout(10_000) }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (error: Error) => ({ status: 0, body: error.message }),
    );
    await sleep(3_000);
    await cluster.start();
    s.load.faultEnded();
    await finish(s, row);
  });

  survivesAndRecovers(result);
  failuresAreServiceUnavailable(result);
  it("says on /ready that it is not ready, and why", () => {
    expect(readyWhileDown?.status).toBe(503);
    expect(readyWhileDown?.body).toMatch(/database/i);
  });
  moneyHolds(result);
});

describe("Redis killed for 5 s, then started again", () => {
  const subscriptionLog: string[] = [];
  let newSubscriptionWhileDown = "";
  let resumedAfterMs: number | undefined;
  let moneyDuringOutage = { sent: 0, acknowledged: 0 };
  const result = scenario("Redis kill, 5 s, restart", async (row) => {
    const s = await stage({ redisUrl: redis.url });
    const watched = s.mandates[0];
    const subscription = openSubscription(s.server, who.admin, watched, subscriptionLog);
    try {
      await untilEvent(s.server, watched, subscriptionLog, 20_000);
      s.load.start();
      await sleep(2_000);
      s.load.faultStarted();
      await redis.kill();
      await sleep(1_000);
      newSubscriptionWhileDown = await subscribeOnce(s.server, who.admin, s.mandates[1], 6_000);
      await sleep(3_000);
      await redis.start();
      s.load.faultEnded();
      const during = s.load.duringFault().filter((r) => r.operation !== "authorize");
      moneyDuringOutage = { sent: during.length, acknowledged: during.filter((r) => r.outcome.kind === "ack").length };
      const back = Date.now();
      if (s.server.alive()) {
        await untilEvent(s.server, watched, subscriptionLog, 20_000).then(
          () => void (resumedAfterMs = Date.now() - back),
          () => undefined,
        );
      }
      row.notes.push(`money moves during the outage: ${moneyDuringOutage.acknowledged} of ${moneyDuringOutage.sent} acknowledged`);
      row.notes.push(`new subscription during the outage: ${newSubscriptionWhileDown.slice(0, 80)}`);
      row.notes.push(
        resumedAfterMs === undefined
          ? "open subscription did not resume"
          : `open subscription resumed ${(resumedAfterMs / 1000).toFixed(2)} s after Redis returned`,
      );
      await finish(s, row);
    } finally {
      subscription.abort();
    }
  });

  it("keeps the process alive (issue 13 item 2)", () => {
    expect(result().alive, result().notes.join("; ")).toBe(true);
  });
  it("goes on committing money moves while Redis is down", () => {
    expect(moneyDuringOutage.sent).toBeGreaterThan(0);
    expect(moneyDuringOutage.acknowledged).toBe(moneyDuringOutage.sent);
  });
  it("answers a new subscription while Redis is down with SERVICE_UNAVAILABLE", () => {
    expect(newSubscriptionWhileDown).toMatch(/SERVICE_UNAVAILABLE/);
  });
  it("resumes an open subscription when Redis is back", () => {
    expect(resumedAfterMs).toBeDefined();
  });
  moneyHolds(result);
});

describe("one account's row locked for 15 s (SELECT ... FOR UPDATE in another connection)", () => {
  // Short limits, so that a bounded wait and an unbounded one (until the lock
  // is released) are told apart.
  const LOCK_TIMEOUT_MS = 2_000;
  const POOL_TIMEOUT_MS = 4_000;
  const HOLD_MS = 15_000;
  const BOUND_MS = LOCK_TIMEOUT_MS + POOL_TIMEOUT_MS + 3_000;
  let slowest = { locked: 0, others: 0, health: 0 };
  const result = scenario("row lock on one account for 15 s", async (row) => {
    const s = await stage({
      clients: 8,
      focusClients: 12,
      env: { DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS), DATABASE_POOL_TIMEOUT_MS: String(POOL_TIMEOUT_MS) },
    });
    const locker = new pg.Client({ connectionString: s.databaseUrl });
    await locker.connect();
    try {
      s.load.start();
      await sleep(2_000);
      await locker.query("BEGIN");
      await locker.query(`SELECT 1 FROM "BillingAccount" WHERE "mandateId" = $1 FOR UPDATE`, [s.mandates[0]]);
      s.load.faultStarted();
      const healthTimes: number[] = [];
      const until = Date.now() + HOLD_MS;
      while (Date.now() < until) {
        const t0 = Date.now();
        await fetch(`http://127.0.0.1:${s.server.port}/health`, { signal: AbortSignal.timeout(HOLD_MS + 5_000) }).catch(() => undefined);
        healthTimes.push(Date.now() - t0);
        await sleep(Math.max(0, Math.min(1_000, until - Date.now())));
      }
      await locker.query("ROLLBACK");
      s.load.faultEnded();
      await finish(s, row);
      const during = s.load.duringFault();
      const latency = (r: { startedAt: number; endedAt: number }) => r.endedAt - r.startedAt;
      const onOthers = during.filter((r) => r.mandateId !== s.mandates[0]);
      slowest = {
        locked: Math.max(0, ...during.filter((r) => r.mandateId === s.mandates[0]).map(latency)),
        others: Math.max(0, ...onOthers.map(latency)),
        health: Math.max(0, ...healthTimes),
      };
      const before = s.load.requests.filter((r) => r.mandateId !== s.mandates[0] && r.endedAt < (during[0]?.startedAt ?? 0));
      const acknowledged = onOthers.filter((r) => r.outcome.kind === "ack").length;
      row.notes.push(
        `slowest answer during the lock: locked account ${slowest.locked} ms, other accounts ${slowest.others} ms, /health ${slowest.health} ms`,
      );
      row.notes.push(
        `other accounts during the lock: ${acknowledged} of ${onOthers.length} acknowledged, answer times p50/p90 ${percentile(onOthers.map(latency), 0.5)}/${percentile(onOthers.map(latency), 0.9)} ms ` +
          `(before the lock ${percentile(before.map(latency), 0.5)}/${percentile(before.map(latency), 0.9)} ms)`,
      );
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it("keeps the process alive", () => {
    expect(result().alive, result().notes.join("; ")).toBe(true);
  });
  it(`answers every request, on the locked account and others, and /health within ${BOUND_MS / 1000} s (lock, statement and pool timeouts; issue 13 item 3)`, () => {
    expect(slowest.locked).toBeLessThan(BOUND_MS);
    expect(slowest.others).toBeLessThan(BOUND_MS);
    expect(slowest.health).toBeLessThan(BOUND_MS);
  });
  failuresAreServiceUnavailable(result);
  it("books nothing for a request that timed out (its retry books it once)", () => {
    expect(result().verdict!.bookedDespiteError).toBe(0);
  });
  // Not asserted here: that one account's queue may not take every
  // connection. The limit belongs to the batched write path (issue 15), which
  // queues per account in the process; the notes show how other accounts
  // fare meanwhile (answer times before and during the lock).
  moneyHolds(result);
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0;
}

// ------------------------------------------------------------- subscriptions

/** An SSE subscription to balanceChanged, its events' balances appended to `log`. */
function openSubscription(server: SaldoProcess, token: string, mandateId: string, log: string[]) {
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `subscription($m: ID!) { balanceChanged(mandateId: $m) { balance } }`, variables: { m: mandateId } }),
      signal: controller.signal,
    });
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      for (const match of decoder.decode(chunk, { stream: true }).matchAll(/"balance":"([^"]+)"/g)) log.push(match[1]);
    }
  })().catch(() => undefined);
  return controller;
}

/** Credits the mandate 1 CHF at a time until the subscription shows the balance of a credit (or `timeoutMs`). */
async function untilEvent(server: SaldoProcess, mandateId: string, log: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const credited = await send(
      server.url,
      who.admin,
      JSON.stringify({
        query: `mutation($input: CreditAccountInput!) { creditAccount(input: $input) { account { balance } transaction { id } userErrors { code } } }`,
        variables: {
          input: {
            mandateId,
            amount: "1",
            description: "subscription probe",
            idempotencyKey: `setup-probe-${Date.now()}-${Math.random()}`,
          },
        },
      }),
    );
    if (credited.kind === "ack") {
      const seen = log.length;
      const wait = Date.now() + 1_000;
      while (Date.now() < wait && log.length === seen) await sleep(50);
      if (log.length > seen) return;
    } else {
      await sleep(200);
    }
  }
  throw new Error(`no balanceChanged event within ${timeoutMs} ms`);
}

/** Opens a subscription and returns what arrives within `timeoutMs` (status and body), then hangs up. */
async function subscribeOnce(server: SaldoProcess, token: string, mandateId: string, timeoutMs: number): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let text = "";
  try {
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `subscription($m: ID!) { balanceChanged(mandateId: $m) { balance } }`, variables: { m: mandateId } }),
      signal: controller.signal,
    });
    text = `${response.status} `;
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
    return text.replace(/\s+/g, " ");
  } catch (error) {
    return `${text}${controller.signal.aborted ? `nothing within ${timeoutMs} ms` : (error as Error).message}`.replace(/\s+/g, " ");
  } finally {
    clearTimeout(timer);
  }
}
