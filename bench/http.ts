// The gateway's calls end to end over HTTP (issue 15): a bare graphql-yoga
// `{ __typename }` server and the real Saldo server, each a process of its
// own on a free port, Saldo on a fresh PostgreSQL database, both driven by
// autocannon from this process with the same requests machinery. Every row's
// rate is shown as a ratio to bare yoga's, measured in the same run.
//
//   npm run bench:http
//
// Environment (all optional):
//   BENCH_DATABASE_URL      server on which the fresh database is created (default
//                           postgresql://postgres@127.0.0.1:5432/postgres); dropped WITH (FORCE) at the end
//   SALDO_SERVER_CMD        how Saldo is started, split at spaces, no shell, run in the
//                           repository (default "node --import tsx src/server.ts")
//   BENCH_HTTP_SECONDS      measured seconds per row and connection count (default 10)
//   BENCH_HTTP_WARMUP       warm-up seconds per row, not counted (default 3)
//   BENCH_HTTP_CONNECTIONS  the concurrent row's connections (default 32); every row also runs with 1
//   BENCH_HTTP_BATCH        usages per recordUsages request (default 100)
//   BENCH_HTTP_ROWS         only these rows, e.g. "3,6" (bare yoga, row 1, always runs)
//   BENCH_HTTP_JSON         also write the results to this file as JSON
//   DATABASE_POOL_SIZE, BILLING_TIME_ZONE, ...  passed on to Saldo as they are
//
// It is a report, not a test: it exits 0 when a target is missed or requests
// failed (both are printed), and non-zero only when an invariant fails or
// the run itself fails.
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import pg from "pg";
import { signToken } from "../src/auth.js";
import { freshDatabase, runBenchmark, withTimeout } from "./fresh-database.js";
import {
  AUTHORIZE,
  CHECK,
  MODEL,
  MoneyBook,
  PROVIDER,
  RECORD,
  RECORD_MANY,
  SETTLE,
  TYPENAME,
  USAGE,
  authorizeInput,
  body,
  checkInput,
  judgeAuthorize,
  judgeCheck,
  judgeRecord,
  judgeRecordMany,
  judgeSettle,
  judgeTypename,
  recordInput,
  resolveAll,
  settleInput,
  type PairCall,
  type Post,
  type UsageCall,
  type Verdict,
  bulkSupport,
  data as gql,
} from "./http-calls.js";
import { checkInvariants, type Check } from "./http-invariants.js";
import {
  cpuSecondsBetween,
  cpuSecondsByPid,
  freePort,
  quiesce,
  startServer,
  treeUsage,
  waitUntilReady,
  type ServerProcess,
} from "./processes.js";
import { cpuTimes, fmt, intEnv, percentile, redact, table } from "./report.js";

// ---------------------------------------------------------------- settings

const SERVER_URL = process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const SALDO_CMD = process.env.SALDO_SERVER_CMD || "node --import tsx src/server.ts";
const BARE_CMD = "node --import tsx bench/http-bare-yoga.ts";
const SECONDS = intEnv("BENCH_HTTP_SECONDS", 10, 1);
const WARMUP = intEnv("BENCH_HTTP_WARMUP", 3, 0);
const CONNECTIONS = intEnv("BENCH_HTTP_CONNECTIONS", 32, 1);
const BATCH = intEnv("BENCH_HTTP_BATCH", 100, 1);
const ONLY = (process.env.BENCH_HTTP_ROWS ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean)
  .map(Number);
const JSON_FILE = process.env.BENCH_HTTP_JSON;
const TIME_ZONE = process.env.BILLING_TIME_ZONE || "Europe/Zurich";
const CORES = availableParallelism();
const ACCOUNTS = 100;
const CREDIT = "1000000";
const ROOT = path.resolve(import.meta.dirname, "..");
const JWT_SECRET = randomBytes(24).toString("hex");
/** Keys of this run; unique on a shared server even though the database is fresh. */
const RUN = `bench-${randomBytes(4).toString("hex")}`;

const log = (message: string) => console.log(message);

// ------------------------------------------------------- what each row is

type RowId = "bare" | "typename" | "check" | "record100" | "record1" | "pairs" | "bulk";

interface Row {
  id: RowId;
  number: number;
  label: string;
  /** Target at CONNECTIONS connections: the minimum ratio to bare yoga (issue 15). */
  target?: number;
  /** Target at 1 connection: the maximum p50 in ms (of a request, or of a pair). */
  latencyTarget?: number;
}

const ROWS: Row[] = [
  { id: "bare", number: 1, label: "bare yoga { __typename }" },
  { id: "typename", number: 2, label: "Saldo { __typename }, SERVICE token", target: 0.8 },
  { id: "check", number: 3, label: "checkBilling", target: 0.4, latencyTarget: 1 },
  { id: "record100", number: 4, label: "recordUsage, 100 accounts", target: 0.35 },
  { id: "record1", number: 5, label: "recordUsage, one shared account", target: 0.3 },
  { id: "pairs", number: 6, label: "authorizeUsage + settleUsage", target: 0.3, latencyTarget: 3 },
  { id: "bulk", number: 7, label: `recordUsages, ${BATCH} per request (records/s)`, target: 3 },
];

/** Counts of one measurement, filled by the request hooks. */
class Tally {
  ok = 0;
  failed = 0;
  /** Records acknowledged (recordUsages). */
  records = 0;
  pairs = 0;
  readonly reasons = new Map<string, number>();
  readonly latencies: number[] = [];
  readonly pairLatencies: number[] = [];

  count(verdict: Verdict) {
    if (verdict.ok) {
      this.ok += 1;
      return;
    }
    this.failed += 1;
    this.reasons.set(verdict.reason, (this.reasons.get(verdict.reason) ?? 0) + 1);
  }
}

interface Measurement {
  row: Row;
  connections: number;
  seconds: number;
  /** Successful requests per second (records per second for the bulk row). */
  rate: number;
  pairsPerSecond?: number;
  p50: number;
  p99: number;
  pairP50?: number;
  pairP99?: number;
  /** Failed requests (records for the bulk row), plus connection errors and timeouts. */
  errors: number;
  reasons: [string, number][];
  cpu: {
    generatorMs: number;
    serverMs: number;
    postgresMs: number;
    /** Share of all cores busy (Linux /proc/stat), or null. */
    machineBusy: number | null;
    /** Cores busy with anything else: the kernel's own work (loopback networking) and other processes. */
    restCores: number | null;
  };
}

// ----------------------------------------------------- the run and cleanup

const fresh = freshDatabase(SERVER_URL);
let bare: ServerProcess | undefined;
let saldo: ServerProcess | undefined;
let checker: pg.Client | undefined;

async function closeAll(): Promise<void> {
  await Promise.all([bare?.stop(), saldo?.stop()]);
  await withTimeout(checker?.end() ?? Promise.resolve(), 10_000).catch(() => undefined);
  bare = saldo = checker = undefined;
}

function poster(url: string, token: string): Post {
  return async (text) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: text,
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, text: await response.text() };
  };
}

const mandateIds = Array.from({ length: ACCOUNTS }, (_, i) => `${RUN}-m${String(i).padStart(3, "0")}`);

/** 100 PREPAY_MANDATE mandates, each credited 1,000,000 CHF, through the API (ten at a time). */
async function seed(admin: Post): Promise<void> {
  for (let i = 0; i < mandateIds.length; i += 10) {
    await Promise.all(
      mandateIds.slice(i, i + 10).map(async (id) => {
        const upserted = await gql(
          admin,
          `mutation($id: ID!, $name: String!) { upsertMandate(input: { id: $id, name: $name, billingModel: PREPAY_MANDATE }) { userErrors { code message } } }`,
          { id, name: id },
        );
        if (upserted.upsertMandate.userErrors.length)
          throw new Error(`seeding ${id}: ${JSON.stringify(upserted.upsertMandate.userErrors)}`);
        const credited = await gql(
          admin,
          `mutation($id: ID!, $amount: Decimal!, $key: String!) { creditAccount(input: { mandateId: $id, amount: $amount, description: "Benchmark credit", idempotencyKey: $key }) { transaction { id } userErrors { code message } } }`,
          { id, amount: CREDIT, key: `${RUN}-credit` },
        );
        if (credited.creditAccount.userErrors.length)
          throw new Error(`crediting ${id}: ${JSON.stringify(credited.creditAccount.userErrors)}`);
      }),
    );
  }
}

// ------------------------------------------------------------ measuring

/**
 * The autocannon requests of a row, wired to the tally and the book: each
 * money request gets its own idempotency key when autocannon is about to
 * send it (setupRequest), and each answer is judged (onResponse) and
 * recorded. Pairs are autocannon's request sequence [authorize, settle] on
 * one connection: the settle is built from the hold the authorize returned
 * (the sequence's context); a refused authorize skips its settle.
 */
function requestsFor(id: RowId, tally: Tally, book: MoneyBook, bulkKeys: Set<string>): autocannon.Request[] {
  let next = 0;
  const spread = () => mandateIds[next++ % mandateIds.length];
  const fixed = (text: string, judge: (status: number, text: string) => Verdict): autocannon.Request[] => [
    { body: text, onResponse: (status, text) => tally.count(judge(status, text)) },
  ];
  interface Context {
    call?: UsageCall;
    calls?: UsageCall[];
    pair?: PairCall;
    startedAt?: number;
  }
  switch (id) {
    case "bare":
    case "typename":
      return fixed(body(TYPENAME), judgeTypename);
    case "check":
      return [
        {
          setupRequest: (request) => ({ ...request, body: body(CHECK, { input: checkInput(spread()) }) }),
          onResponse: (status, text) => tally.count(judgeCheck(status, text)),
        },
      ];
    case "record100":
    case "record1":
      return [
        {
          setupRequest: (request, context: Context) => {
            context.call = book.newUsage(id === "record1" ? mandateIds[0] : spread());
            return { ...request, body: body(RECORD, { input: recordInput(context.call) }) };
          },
          onResponse: (status, text, context: Context) => {
            const verdict = judgeRecord(status, text);
            book.answerUsage(context.call!, verdict);
            tally.count(verdict);
          },
        },
      ];
    case "pairs":
      return [
        {
          setupRequest: (request, context: Context) => {
            context.pair = book.newPair(spread());
            context.startedAt = performance.now();
            return { ...request, body: body(AUTHORIZE, { input: authorizeInput(context.pair) }) };
          },
          onResponse: (status, text, context: Context) => {
            const verdict = judgeAuthorize(status, text);
            book.answerAuthorize(context.pair!, verdict);
            tally.count(verdict);
          },
        },
        {
          setupRequest: ((request: autocannon.Request, context: Context) => {
            const pair = context.pair;
            if (!pair || pair.authorize !== "acked") return null; // back to a new authorize
            pair.settle = "pending";
            return { ...request, body: body(SETTLE, { input: settleInput(pair) }) };
          }) as unknown as autocannon.Request["setupRequest"],
          onResponse: (status, text, context: Context) => {
            const verdict = judgeSettle(status, text);
            book.answerSettle(context.pair!, verdict);
            tally.count(verdict);
            if (verdict.ok) {
              tally.pairs += 1;
              tally.pairLatencies.push(performance.now() - context.startedAt!);
            }
          },
        },
      ];
    case "bulk":
      return [
        {
          setupRequest: (request, context: Context) => {
            context.calls = Array.from({ length: BATCH }, () => book.newUsage(spread()));
            for (const call of context.calls) bulkKeys.add(call.key);
            return { ...request, body: body(RECORD_MANY, { inputs: context.calls.map(recordInput) }) };
          },
          onResponse: (status, text, context: Context) => {
            const calls = context.calls!;
            const verdicts = judgeRecordMany(status, text, calls.length);
            calls.forEach((call, i) => {
              const verdict = Array.isArray(verdicts) ? verdicts[i] : verdicts;
              book.answerUsage(call, verdict);
              if (verdict.ok) tally.records += 1;
              else tally.count(verdict);
            });
            if (Array.isArray(verdicts) && verdicts.every((v) => v.ok)) tally.ok += 1;
          },
        },
      ];
  }
}

async function measure(
  row: Row,
  target: ServerProcess,
  token: string,
  connections: number,
  seconds: number,
  book: MoneyBook,
  bulkKeys: Set<string>,
): Promise<Measurement> {
  const tally = new Tally();
  const pid = target.child.pid;
  const cpu0 = process.cpuUsage();
  const server0 = treeUsage(pid).cpuSeconds;
  const postgres0 = cpuSecondsByPid("postgres");
  const machine0 = cpuTimes();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${target.port}/graphql`,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        connections,
        duration: seconds,
        timeout: 10,
        requests: requestsFor(row.id, tally, book, bulkKeys),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    // autocannon's own latency histogram counts whole milliseconds; these are exact.
    instance.on("response", (_client, _status, _bytes, responseTime) => tally.latencies.push(responseTime));
  });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const machine1 = cpuTimes();
  // CPU per request, or per record for the bulk row.
  const requests = (row.id === "bulk" ? tally.records : tally.latencies.length) || 1;
  if (target.child.exitCode !== null) throw new Error(`${target.name} exited during ${row.label}:\n${target.output()}`);
  const generatorSeconds = (cpu.user + cpu.system) / 1e6;
  const serverSeconds = treeUsage(pid).cpuSeconds - server0;
  const postgresSeconds = cpuSecondsBetween(postgres0, cpuSecondsByPid("postgres"));
  const machineBusy =
    machine0 && machine1 && machine1.total > machine0.total ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : null;
  return {
    row,
    connections,
    seconds: elapsed,
    rate: (row.id === "bulk" ? tally.records : tally.ok) / elapsed,
    pairsPerSecond: row.id === "pairs" ? tally.pairs / elapsed : undefined,
    p50: quantile(tally.latencies, 50),
    p99: quantile(tally.latencies, 99),
    pairP50: row.id === "pairs" ? quantile(tally.pairLatencies, 50) : undefined,
    pairP99: row.id === "pairs" ? quantile(tally.pairLatencies, 99) : undefined,
    errors: tally.failed + result.errors,
    reasons: [
      ...tally.reasons.entries(),
      ...(result.errors ? [[`connection errors and timeouts (${result.timeouts} timeouts)`, result.errors] as [string, number]] : []),
    ],
    cpu: {
      generatorMs: (generatorSeconds * 1000) / requests,
      serverMs: (serverSeconds * 1000) / requests,
      postgresMs: (postgresSeconds * 1000) / requests,
      machineBusy,
      restCores: machineBusy === null ? null : machineBusy * CORES - (generatorSeconds + serverSeconds + postgresSeconds) / elapsed,
    },
  };
}

// -------------------------------------------------------------- reporting

/** A percentile, or NaN ("-") when nothing was answered. */
const quantile = (values: number[], p: number) => (values.length === 0 ? Number.NaN : percentile(values, p));

const ms = (value: number | undefined) =>
  value === undefined ? "" : Number.isNaN(value) ? "-" : value < 10 ? fmt(value, 2) : fmt(value, 1);

function resultTable(results: Measurement[], connections: number, bareRate: number, bulkMissing: string | null): string {
  const rows: string[][] = [];
  for (const row of ROWS) {
    if (row.id === "bulk" && bulkMissing) {
      if (connections === CONNECTIONS) rows.push([`${row.number}. ${row.label}: n/a (${bulkMissing})`, "", "", "", "", "", "", ""]);
      continue;
    }
    const m = results.find((r) => r.row.id === row.id && r.connections === connections);
    if (!m) continue;
    const ratio = m.rate / bareRate;
    let target = "";
    let met = "";
    if (connections === CONNECTIONS && row.target !== undefined) {
      target = `>= ${fmt(row.target, 2)}`;
      met = ratio >= row.target ? "yes" : "no";
    }
    const latencyTarget = connections === 1 && row.latencyTarget !== undefined && row.id !== "pairs";
    if (latencyTarget) {
      target = `p50 <= ${row.latencyTarget} ms`;
      met = m.p50 <= row.latencyTarget! ? "yes" : "no";
    }
    rows.push([`${row.number}. ${row.label}`, fmt(m.rate), fmt(ratio, 2), target, met, ms(m.p50), ms(m.p99), fmt(m.errors)]);
    if (row.id === "pairs") {
      const pairTarget = connections === 1 ? `p50 <= ${row.latencyTarget} ms` : "";
      const pairMet = connections === 1 ? (m.pairP50! <= row.latencyTarget! ? "yes" : "no") : "";
      rows.push([
        "   ... as pairs (pairs/s, pair latency)",
        fmt(m.pairsPerSecond ?? 0),
        "",
        pairTarget,
        pairMet,
        ms(m.pairP50),
        ms(m.pairP99),
        "",
      ]);
    }
  }
  return table(["path", "req/s", "ratio", "target", "met", "p50 ms", "p99 ms", "errors"], rows, [
    false,
    true,
    true,
    false,
    false,
    true,
    true,
    true,
  ]);
}

function cpuTable(results: Measurement[]): string {
  return table(
    ["path", "conns", "load generator", "server", "postgres", "machine busy", "rest, cores"],
    results.map((m) => [
      `${m.row.number}. ${m.row.label}`,
      String(m.connections),
      ms(m.cpu.generatorMs),
      ms(m.cpu.serverMs),
      ms(m.cpu.postgresMs),
      m.cpu.machineBusy === null ? "?" : `${fmt(m.cpu.machineBusy * 100)} %`,
      m.cpu.restCores === null ? "?" : fmt(m.cpu.restCores, 2),
    ]),
    [false, true, true, true, true, true, true],
  );
}

function commit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const loadBefore = loadavg();
  log(`bench:http on ${commit()}, Node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  log(`Saldo: ${SALDO_CMD} (DATABASE_POOL_SIZE ${process.env.DATABASE_POOL_SIZE || "default"}); baseline: ${BARE_CMD}`);
  log(
    `${SECONDS} s per row and connection count (${CONNECTIONS} and 1), ${WARMUP} s warm-up per row; database ${fresh.name} on ${redact(SERVER_URL)}`,
  );

  await fresh.create();
  const [barePort, saldoPort] = [await freePort(), await freePort()];
  const quiet: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" };
  for (const name of ["DATABASE_URL", "REDIS_URL", "SMTP_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "PORT"])
    delete quiet[name];
  bare = startServer("bare yoga", BARE_CMD, ROOT, { ...quiet, PORT: String(barePort) }, barePort);
  saldo = startServer(
    "Saldo",
    SALDO_CMD,
    ROOT,
    { ...quiet, PORT: String(saldoPort), DATABASE_URL: fresh.url, JWT_SECRET, BILLING_TIME_ZONE: TIME_ZONE },
    saldoPort,
  );
  const startedAt = performance.now();
  await Promise.all([
    waitUntilReady(bare, `http://127.0.0.1:${barePort}/health`, 120_000),
    waitUntilReady(saldo, `http://127.0.0.1:${saldoPort}/health`, 120_000),
  ]);
  log(`Both servers ready after ${fmt((performance.now() - startedAt) / 1000, 1)} s (bare yoga :${barePort}, Saldo :${saldoPort}).`);

  const saldoUrl = `http://127.0.0.1:${saldoPort}/graphql`;
  const admin = poster(saldoUrl, await signToken({ roles: ["SYSADMIN"], userId: "bench-admin" }, JWT_SECRET));
  const serviceToken = await signToken({ roles: ["SERVICE"] }, JWT_SECRET);
  const service = poster(saldoUrl, serviceToken);
  await seed(admin);
  const quote = await gql(admin, `query($input: QuoteInput!) { quote(input: $input) { costChf } }`, {
    input: { provider: PROVIDER, model: MODEL, usage: USAGE },
  });
  const debitAmount: string = quote.quote.costChf;
  const bulkMissing = await bulkSupport(service);
  log(
    `Seeded ${ACCOUNTS} PREPAY_MANDATE mandates with ${CREDIT} CHF each; every usage costs ${debitAmount} CHF (${MODEL}, ${USAGE.inputTokens}+${USAGE.outputTokens} tokens).`,
  );
  if (bulkMissing) log(`Row 7: n/a (${bulkMissing}).`);
  const idle = treeUsage(saldo.child.pid);
  const bareIdle = treeUsage(bare.child.pid);

  checker = new pg.Client({ connectionString: fresh.url });
  await checker.connect();
  const checkpoint = () => checker!.query("CHECKPOINT").catch((error: Error) => log(`  (no CHECKPOINT: ${error.message})`));

  const book = new MoneyBook(RUN);
  const bulkKeys = new Set<string>();
  const results: Measurement[] = [];
  let replayed = 0;
  let waited = 0;
  const replayReasons: string[] = [];
  const selected = ROWS.filter((row) => row.id === "bare" || ONLY.length === 0 || ONLY.includes(row.number)).filter(
    (row) => !(row.id === "bulk" && bulkMissing),
  );
  for (const row of selected) {
    const target = row.id === "bare" ? bare : saldo;
    if (WARMUP > 0) await measure(row, target, serviceToken, CONNECTIONS, WARMUP, book, bulkKeys);
    for (const connections of [CONNECTIONS, 1]) {
      waited += await quiesce(target.child.pid);
      await checkpoint();
      const m = await measure(row, target, serviceToken, connections, SECONDS, book, bulkKeys);
      results.push(m);
      const pairs = m.pairsPerSecond !== undefined ? `, ${fmt(m.pairsPerSecond)} pairs/s (pair p50 ${ms(m.pairP50)} ms)` : "";
      log(
        `  ${row.number}. ${row.label}, ${connections} conn: ${fmt(m.rate)} ${row.id === "bulk" ? "records" : "req"}/s${pairs}, p50 ${ms(m.p50)} ms, p99 ${ms(m.p99)} ms, ${m.errors} errors`,
      );
    }
    // Answers cut off at the end of a measurement (and anything that failed) are sent again, holds settled.
    waited += await quiesce(target.child.pid);
    const resolved = await resolveAll(book, service, { bulkKeys });
    replayed += resolved.replayed;
    replayReasons.push(...resolved.reasons);
  }
  // Bare yoga once more: how much the machine drifted during the run.
  waited += await quiesce(bare.child.pid);
  const bareAgain = await measure(ROWS[0], bare, serviceToken, CONNECTIONS, SECONDS, book, bulkKeys);
  const afterLoad = treeUsage(saldo.child.pid);
  const bareAfter = treeUsage(bare.child.pid);

  const checks: Check[] = await checkInvariants((text, params) => checker!.query(text, params).then((r) => r.rows), book, {
    mandateIds,
    credits: ACCOUNTS,
    debitAmount,
    timeZone: TIME_ZONE,
  });
  const loadAfter = loadavg();

  const bareRate = (connections: number) => results.find((r) => r.row.id === "bare" && r.connections === connections)!.rate;
  log("");
  log(`Results (${SECONDS} s each; ratio = rate / bare yoga's rate at the same connection count, this run)`);
  for (const connections of [CONNECTIONS, 1]) {
    log("");
    log(`${connections} connection${connections === 1 ? "" : "s"}:`);
    log(resultTable(results, connections, bareRate(connections), bulkMissing));
  }
  const drift = (bareAgain.rate / bareRate(CONNECTIONS) - 1) * 100;
  log("");
  log(
    `Bare yoga again at the end, ${CONNECTIONS} connections: ${fmt(bareAgain.rate)} req/s (${drift >= 0 ? "+" : ""}${fmt(drift, 1)} % against the start).`,
  );
  log(
    `Saldo RSS: ${fmt(idle.rssMb)} MB idle (after start and seeding), ${fmt(afterLoad.rssMb)} MB after load, peak ${fmt(afterLoad.peakRssMb)} MB` +
      `${afterLoad.processes > 1 ? ` (${afterLoad.processes} processes)` : ""}; bare yoga ${fmt(bareIdle.rssMb)} → ${fmt(bareAfter.rssMb)} MB.`,
  );
  log(
    `Saldo wrote ${saldo.stderrLines} line(s) to stderr${saldo.stderrLines ? `, first: ${saldo.firstStderrLines.slice(0, 5).join(" | ")}` : ""}.`,
  );
  const failures = results.filter((m) => m.reasons.length > 0);
  if (failures.length > 0) {
    log("");
    log("Failed requests (counted as errors, not as throughput):");
    for (const m of failures) {
      for (const [reason, count] of m.reasons.slice(0, 5))
        log(`  ${m.row.number}. ${m.row.label}, ${m.connections} conn: ${count} x ${reason}`);
    }
  }
  log("");
  log("CPU per request (per record for the bulk row), ms: load generator = this process (autocannon, judging every answer);");
  log(
    `server = the server's process tree; postgres = every postgres process on the machine (other users' too); machine busy = all ${CORES} cores;`,
  );
  log("rest = cores busy with anything else: the kernel's own work (loopback networking) and, on a shared machine, other processes.");
  log(cpuTable(results));
  log("");
  log(`Waited ${fmt(waited / 1000, 1)} s in all for a server to finish what a measurement left running before the next one.`);
  log(
    `Replayed after the rows (cut off at a row's end, or failed): ${replayed} money requests${replayReasons.length ? `; still failing: ${replayReasons.slice(0, 5).join("; ")}` : ""}.`,
  );
  log(
    table(
      ["invariant", "result", ""],
      checks.map((c) => [c.name, c.ok ? "OK" : "FAILED", c.detail]),
      [false, false, false],
    ),
  );
  log(`Load average at the end: ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`);

  if (JSON_FILE) {
    writeFileSync(
      JSON_FILE,
      JSON.stringify(
        {
          commit: commit(),
          at: new Date().toISOString(),
          loadBefore,
          loadAfter,
          settings: {
            seconds: SECONDS,
            warmup: WARMUP,
            connections: CONNECTIONS,
            batch: BATCH,
            saldo: SALDO_CMD,
            poolSize: process.env.DATABASE_POOL_SIZE ?? null,
          },
          bulk: bulkMissing ?? "measured",
          results: results.map((m) => ({ ...m, row: m.row.id, label: m.row.label, ratio: m.rate / bareRate(m.connections) })),
          bareAgain: bareAgain.rate,
          rss: { idle: idle.rssMb, afterLoad: afterLoad.rssMb, peak: afterLoad.peakRssMb },
          checks,
        },
        null,
        2,
      ),
    );
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    console.error(`${failed.length} invariant(s) failed.`);
    return 1;
  }
  return 0;
}

await runBenchmark(fresh, main, closeAll);
