// Ledger throughput on PostgreSQL: debits per second through the real domain
// function (recordUsage, through the group commit of ledger/batch.ts), next
// to a plain node-postgres baseline of the same shape (BEGIN; INSERT ledger
// row; UPDATE balance row; COMMIT), measured in the same run against the same
// fresh database; and Saldo with one move per transaction (maxBatch 1), to
// show what batching brings.
//
//   npm run bench:ledger
//
// Environment (all optional):
//   BENCH_DATABASE_URL   server to use (default postgresql://postgres@127.0.0.1:5432/postgres);
//                        a fresh database is created on it and dropped WITH (FORCE) at the end
//   BENCH_OPS            operations per measurement (default 10000)
//   BENCH_WARMUP         warm-up operations per path, not counted (default 3000)
//   BENCH_WORKERS        concurrent workers, also the size of both pools (default 32)
//   BENCH_MAX_SECONDS    time bound per Saldo measurement; the baseline then runs
//                        as many operations as Saldo completed (default 60)
//   BENCH_LANES          lanes of the group commit (default: as the server with a pool of BENCH_WORKERS)
//   BENCH_PROFILE_OPS    sequential recordUsage calls of the round-trip profile (default 200, 0 = off)
//
// It is a report, not a test: it exits 0 when a ratio is below the target and
// non-zero only when something fails (including the correctness checks).
import { performance } from "node:perf_hooks";
import pg from "pg";
import { openDatabase, type Database } from "../src/db/open.js";
import { freshDatabase, runBenchmark, withTimeout } from "./fresh-database.js";
import { cpuTimes, fmt, intEnv, percentile, redact, table } from "./report.js";
import { creditAccount } from "../src/billing/ledger/credits.js";
import { upsertMandate } from "../src/billing/mandates/mandates.js";
import { createBillingContext, defaultLanes } from "../src/billing/ledger/context.js";
import type { BillingContext } from "../src/billing/shared/context.js";
import { Decimal } from "../src/billing/shared/money.js";
import { recordUsage } from "../src/billing/usage/record.js";

// ---------------------------------------------------------------- settings

const SERVER_URL = process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const OPS = intEnv("BENCH_OPS", 10000, 1);
const WARMUP = intEnv("BENCH_WARMUP", 3000, 0);
const WORKERS = intEnv("BENCH_WORKERS", 32, 1);
const MAX_SECONDS = intEnv("BENCH_MAX_SECONDS", 60, 1);
const PROFILE_OPS = intEnv("BENCH_PROFILE_OPS", 200, 0);
const ACCOUNTS = 100;
const COST = "0.001234";
const CREDIT = "1000000";
/** Issue 15's targets: Saldo's rate over the baseline's, per scenario. */
const TARGETS: Record<string, number> = { a: 1.0, b: 3.0 };
/** Lanes of the group commit (default as the server runs them, src/app.ts). */
const LANES = intEnv("BENCH_LANES", 0, 0) || defaultLanes(WORKERS);
const PROVIDER = "openai";
const MODEL = "gpt-bench";

function log(message: string) {
  console.log(message);
}

// ------------------------------------------- fresh database and its cleanup

const fresh = freshDatabase(SERVER_URL);
const dbName = fresh.name;
const dbUrl = fresh.url;

let saldoDb: Database | undefined;
let basePool: pg.Pool | undefined;

async function closeAll(): Promise<void> {
  await withTimeout(saldoDb?.close() ?? Promise.resolve(), 10_000).catch(() => undefined);
  await withTimeout(basePool?.end() ?? Promise.resolve(), 10_000).catch(() => undefined);
  saldoDb = undefined;
  basePool = undefined;
}

// ------------------------------------------------- SQL round-trip profiling

interface StatementStat {
  count: number;
  ms: number;
}

const profile = { on: false, queries: 0, ms: 0, statements: new Map<string, StatementStat>() };

const unique = (items: string[]) => [...new Set(items)];

/** A short label for a statement: what it writes, or the tables it reads (and whether it locks). */
function statementLabel(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  const verb = text.split(" ")[0].replace(/;$/, "").toUpperCase();
  if (["BEGIN", "COMMIT", "ROLLBACK"].includes(verb)) return verb;
  const writes = [...text.matchAll(/\b(INSERT INTO|UPDATE|DELETE FROM)\s+(?!SET\b|OF\b)"?(\w+)"?/gi)].map(
    (m) => `${m[1].split(" ")[0].toUpperCase()} ${m[2]}`,
  );
  if (writes.length > 0) return unique(writes).join(" + ");
  // Tables are quoted (Saldo) or bench_ (baseline); other names are CTEs and aliases.
  const tables = unique([...text.matchAll(/\b(?:FROM|JOIN)\s+(?:"(\w+)"|(bench_\w+))/gi)].map((m) => m[1] ?? m[2]));
  const lock = /\bFOR (NO KEY UPDATE|UPDATE)\b/i.exec(text);
  const queue = /pg_advisory_xact_lock/i.test(text) ? " (queued)" : "";
  return `SELECT ${tables.join(", ")}${lock ? ` FOR ${lock[1].toUpperCase()}` : ""}${queue}`;
}

/**
 * Saldo's executor sends each step as one message of several statements,
 * prepared once per connection (PREPARE name AS ...) and run with EXECUTE.
 * The label of a message lists its statements, EXECUTEs by what they run.
 */
const prepared = new Map<string, string>();
const PREPARE_MESSAGE = /(^|;\n)PREPARE /;

function messageLabel(sql: string): string {
  return sql
    .split(/;\n(?=[A-Z])/)
    .flatMap((statement) => {
      const prepare = /^PREPARE (\w+) AS ([\s\S]*)$/.exec(statement);
      if (prepare) {
        prepared.set(prepare[1], statementLabel(prepare[2]));
        return [];
      }
      const execute = /^EXECUTE (\w+)/.exec(statement);
      return [execute ? (prepared.get(execute[1]) ?? "EXECUTE") : statementLabel(statement)];
    })
    .join("; ");
}

// Counts every message any pg.Client sends (Saldo's executor, Prisma's
// adapter-pg and the baseline all go through Client.prototype.query) while
// profile.on is set: one message, one round trip.
{
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    const sql = typeof first === "string" ? first : ((first as { text?: string } | undefined)?.text ?? "?");
    if (!profile.on) {
      // Always read PREPAREs: a connection prepares its statements once, often
      // before profiling starts. Nothing else while measuring: labelling every
      // message cost Saldo's side (long messages) ~0.07 ms of CPU per debit.
      if (PREPARE_MESSAGE.test(sql)) messageLabel(sql);
      return original.apply(this, args);
    }
    const label = messageLabel(sql);
    const started = performance.now();
    const record = () => {
      const ms = performance.now() - started;
      profile.queries += 1;
      profile.ms += ms;
      const stat = profile.statements.get(label) ?? { count: 0, ms: 0 };
      stat.count += 1;
      stat.ms += ms;
      profile.statements.set(label, stat);
    };
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (...cbArgs: unknown[]) => {
        record();
        return (last as (...a: unknown[]) => unknown)(...cbArgs);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<unknown>).then(record, record);
    }
    return result;
  };
}

// ------------------------------------------------------------ measurement

interface Run {
  ops: number;
  seconds: number;
  latencies: number[];
  /** Node CPU (user + system) per operation, in ms. */
  nodeCpuMsPerOp: number;
  /** Share of all cores busy during the run (Linux /proc/stat), or null. */
  machineBusy: number | null;
}

/**
 * Runs op(0..total-1) on `workers` concurrent workers, stopping early after
 * maxSeconds. The first error stops every worker and is rethrown.
 */
async function runWorkers(total: number, workers: number, maxSeconds: number, op: (i: number) => Promise<void>): Promise<Run> {
  let next = 0;
  let failure: unknown;
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const machine0 = cpuTimes();
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const worker = async () => {
    while (!fresh.aborted && failure === undefined && performance.now() < deadline) {
      const i = next++;
      if (i >= total) return;
      const t0 = performance.now();
      try {
        await op(i);
      } catch (error) {
        failure ??= error;
        return;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const seconds = (performance.now() - started) / 1000;
  if (failure !== undefined) throw failure;
  if (fresh.aborted) throw new Error("aborted");
  const cpu = process.cpuUsage(cpu0);
  const machine1 = cpuTimes();
  const machineBusy =
    machine0 && machine1 && machine1.total > machine0.total ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : null;
  return {
    ops: latencies.length,
    seconds,
    latencies,
    nodeCpuMsPerOp: latencies.length ? (cpu.user + cpu.system) / 1000 / latencies.length : 0,
    machineBusy,
  };
}

// ----------------------------------------------------------- the two paths

interface Scenario {
  /** "a" or "b": part of idempotency keys and labels. */
  id: string;
  label: string;
  /** Saldo mandate ids, one PREPAY_MANDATE account each. */
  mandates: string[];
  /** Baseline balance row ids. */
  rows: number[];
}

/** Debits booked per mandate, warm-up and profile included: the expected balances. */
const debitsPerMandate = new Map<string, number>();
/** Baseline deltas applied per balance row. */
const debitsPerRow = new Map<number, number>();

function saldoOp(ctx: BillingContext, scenario: Scenario, keyPrefix: string) {
  return async (i: number) => {
    const mandateId = scenario.mandates[i % scenario.mandates.length];
    const result = await recordUsage(ctx, {
      mandateId,
      provider: PROVIDER,
      model: MODEL,
      cost: COST,
      idempotencyKey: `${keyPrefix}-${i}`,
    });
    if (result.replayed || !result.transaction) throw new Error(`debit ${keyPrefix}-${i} was not booked`);
    debitsPerMandate.set(mandateId, (debitsPerMandate.get(mandateId) ?? 0) + 1);
  };
}

function baselineOp(pool: pg.Pool, scenario: Scenario) {
  const delta = `-${COST}`;
  return async (i: number) => {
    const row = scenario.rows[i % scenario.rows.length];
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`INSERT INTO bench_ledger (account_id, delta) VALUES ($1, $2)`, [row, delta]);
      await client.query(`UPDATE bench_balance SET balance = balance + $2 WHERE id = $1`, [row, delta]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(error as Error);
      throw error;
    }
    client.release();
    debitsPerRow.set(row, (debitsPerRow.get(row) ?? 0) + 1);
  };
}

// ------------------------------------------------------------ correctness

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function checkSaldo(pool: pg.Pool, scenario: Scenario, measuredOps: number): Promise<Check[]> {
  const { rows } = await pool.query<{
    mandateId: string;
    balance: string;
    sequence: number;
    sum: string;
    count: string;
    maxseq: number | null;
    measured: string;
    rollupcount: string | null;
    rollupcost: string | null;
    debitsum: string;
  }>(
    `SELECT a."mandateId", a."balance"::text AS balance, a."sequence",
            coalesce(t.sum, 0)::text AS sum, coalesce(t.count, 0) AS count, t.maxseq,
            coalesce(t.measured, 0) AS measured, coalesce(t.debitsum, 0)::text AS debitsum,
            r.count AS rollupcount, r.cost::text AS rollupcost
       FROM "BillingAccount" a
       LEFT JOIN (SELECT "accountId", sum("delta") AS sum, count(*) AS count, max("sequence") AS maxseq,
                         count(*) FILTER (WHERE "idempotencyKey" LIKE $2) AS measured,
                         sum("amount") FILTER (WHERE "transactionType" = 'DEBIT') AS debitsum
                    FROM "Transaction" GROUP BY "accountId") t ON t."accountId" = a."id"
       LEFT JOIN (SELECT "accountId", sum("transactionCount") AS count, sum("totalCost") AS cost
                    FROM "UsageStatistics" WHERE "periodType" = 'DAY' GROUP BY "accountId") r ON r."accountId" = a."id"
      WHERE a."mandateId" = ANY($1)`,
    [scenario.mandates, `bench-${scenario.id}-%`],
  );
  const cost = new Decimal(COST);
  let balanceOk = 0;
  let expectedOk = 0;
  let sequenceOk = 0;
  let rollupOk = 0;
  let measured = 0;
  for (const row of rows) {
    const debits = debitsPerMandate.get(row.mandateId) ?? 0;
    const expected = new Decimal(CREDIT).minus(cost.times(debits));
    if (new Decimal(row.balance).equals(row.sum)) balanceOk += 1;
    if (new Decimal(row.balance).equals(expected)) expectedOk += 1;
    if (Number(row.count) === row.sequence && (row.maxseq ?? 0) === row.sequence) sequenceOk += 1;
    if (Number(row.rollupcount ?? 0) === debits && new Decimal(row.rollupcost ?? 0).equals(row.debitsum)) rollupOk += 1;
    measured += Number(row.measured);
  }
  const n = scenario.mandates.length;
  const accountsOk = rows.length === n;
  return [
    {
      name: `Saldo ${scenario.id}: balance = sum of deltas`,
      ok: accountsOk && balanceOk === n,
      detail: `${balanceOk}/${n} accounts`,
    },
    {
      name: `Saldo ${scenario.id}: balance = credit - debits x cost`,
      ok: accountsOk && expectedOk === n,
      detail: `${expectedOk}/${n} accounts`,
    },
    {
      name: `Saldo ${scenario.id}: sequence = count = max(sequence)`,
      ok: accountsOk && sequenceOk === n,
      detail: `${sequenceOk}/${n} accounts`,
    },
    {
      name: `Saldo ${scenario.id}: DAY rollup = debits`,
      ok: accountsOk && rollupOk === n,
      detail: `${rollupOk}/${n} accounts`,
    },
    {
      name: `Saldo ${scenario.id}: transactions of the measured run = ops`,
      ok: measured === measuredOps,
      detail: `${measured} = ${measuredOps}`,
    },
  ];
}

/** `ids`: the ledger's max id before and after the measured run (all committed by then). */
async function checkBaseline(pool: pg.Pool, scenario: Scenario, ids: [string, string], measuredOps: number): Promise<Check[]> {
  const { rows } = await pool.query<{ id: number; balance: string; sum: string }>(
    `SELECT b.id, b.balance::text AS balance, coalesce(sum(l.delta), 0)::text AS sum
       FROM bench_balance b LEFT JOIN bench_ledger l ON l.account_id = b.id
      WHERE b.id = ANY($1) GROUP BY b.id, b.balance`,
    [scenario.rows],
  );
  const { rows: counted } = await pool.query<{ count: string }>(
    `SELECT count(*) AS count FROM bench_ledger WHERE id > $1 AND id <= $2 AND account_id = ANY($3)`,
    [ids[0], ids[1], scenario.rows],
  );
  const cost = new Decimal(COST);
  let balanceOk = 0;
  let expectedOk = 0;
  for (const row of rows) {
    if (new Decimal(row.balance).equals(row.sum)) balanceOk += 1;
    if (new Decimal(row.balance).equals(new Decimal(CREDIT).minus(cost.times(debitsPerRow.get(row.id) ?? 0)))) expectedOk += 1;
  }
  const n = scenario.rows.length;
  const measured = Number(counted[0].count);
  return [
    {
      name: `baseline ${scenario.id}: balance = sum of deltas`,
      ok: rows.length === n && balanceOk === n,
      detail: `${balanceOk}/${n} rows`,
    },
    {
      name: `baseline ${scenario.id}: balance = credit - debits x cost`,
      ok: rows.length === n && expectedOk === n,
      detail: `${expectedOk}/${n} rows`,
    },
    {
      name: `baseline ${scenario.id}: transactions of the measured run = ops`,
      ok: measured === measuredOps,
      detail: `${measured} = ${measuredOps}`,
    },
  ];
}

// ------------------------------------------------------------------ output

// -------------------------------------------------------------------- main

async function main(): Promise<number> {
  const runStarted = performance.now();
  log(`Saldo ledger benchmark: ${OPS} ops per measurement, ${WORKERS} workers, warm-up ${WARMUP}, cost ${COST}`);
  log(`Server ${redact(SERVER_URL)}; fresh database ${dbName}`);

  await fresh.create();

  // Baseline tables, in the same database.
  basePool = new pg.Pool({ connectionString: dbUrl, max: WORKERS });
  basePool.on("error", (error) => {
    // DROP DATABASE ... WITH (FORCE) ends connections the pool may still hold: expected then.
    if (!fresh.aborted && !fresh.dropping) console.error("[bench] idle baseline connection failed:", error.message);
  });
  await basePool.query(`
    CREATE TABLE bench_ledger (
      id         bigserial PRIMARY KEY,
      account_id integer NOT NULL,
      delta      numeric(18, 6) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE bench_balance (
      id      integer PRIMARY KEY,
      balance numeric(18, 6) NOT NULL
    );`);

  const spread: Scenario = {
    id: "a",
    label: `(a) ${ACCOUNTS} accounts`,
    mandates: Array.from({ length: ACCOUNTS }, (_, i) => `bench-a-${String(i).padStart(3, "0")}`),
    rows: Array.from({ length: ACCOUNTS }, (_, i) => i + 1),
  };
  const shared: Scenario = { id: "b", label: "(b) 1 shared account", mandates: ["bench-b-shared"], rows: [1000] };
  const scenarios = [spread, shared];

  // Every balance row starts with its credit, booked in the ledger too.
  const baseRows = [...spread.rows, ...shared.rows];
  await basePool.query(`INSERT INTO bench_balance (id, balance) SELECT unnest($1::int[]), $2::numeric`, [baseRows, CREDIT]);
  await basePool.query(`INSERT INTO bench_ledger (account_id, delta) SELECT unnest($1::int[]), $2::numeric`, [baseRows, CREDIT]);

  saldoDb = await openDatabase({ databaseUrl: dbUrl, poolSize: WORKERS });
  const ctx = createBillingContext(saldoDb, { batches: { lanes: LANES } });
  // The same rules, one move per transaction: what the group commit is measured against.
  const unbatched = createBillingContext(saldoDb, { batches: { lanes: WORKERS, maxBatch: 1 } });

  // Mandates (PREPAY_MANDATE, one shared account each), credited generously.
  const setupStarted = performance.now();
  const allMandates = [...spread.mandates, ...shared.mandates];
  await runWorkers(allMandates.length, 8, 600, async (i) => {
    const id = allMandates[i];
    await upsertMandate(ctx, { id, name: `Bench ${id}`, billingModel: "PREPAY_MANDATE" });
    await creditAccount(ctx, {
      mandateId: id,
      amount: CREDIT,
      description: "Benchmark credit",
      referenceType: "ADMIN",
      idempotencyKey: `bench-credit-${id}`,
    });
  });
  log(`Set up ${allMandates.length} mandates with ${CREDIT} CHF each in ${fmt((performance.now() - setupStarted) / 1000, 1)} s.`);

  // Warm-up, not counted: both paths, both scenarios.
  if (WARMUP > 0) {
    const warmStarted = performance.now();
    for (const scenario of scenarios) {
      const n = scenario === spread ? WARMUP : Math.max(1, Math.ceil(WARMUP / 3));
      await runWorkers(n, WORKERS, 600, saldoOp(ctx, scenario, `warm-${scenario.id}`));
      await runWorkers(n, WORKERS, 600, baselineOp(basePool, scenario));
    }
    log(`Warm-up done in ${fmt((performance.now() - warmStarted) / 1000, 1)} s.`);
  }

  // Measurements: Saldo first, then the baseline with the same number of operations.
  const results: { scenario: Scenario; saldo: Run; baseline: Run; single: Run; ids: [string, string] }[] = [];
  const maxLedgerId = async (pool: pg.Pool) =>
    (await pool.query<{ max: string }>(`SELECT coalesce(max(id), 0)::text AS max FROM bench_ledger`)).rows[0].max;
  // Each measurement starts right after a checkpoint:
  // the first change of a page after a checkpoint writes the whole page to
  // the WAL, so a checkpoint falling inside one path's run would slow that
  // path alone.
  const checkpoint = () => basePool!.query("CHECKPOINT").catch((error: Error) => log(`  (no CHECKPOINT: ${error.message})`));
  for (const scenario of scenarios) {
    log(`Measuring ${scenario.label} ...`);
    await checkpoint();
    const saldo = await runWorkers(OPS, WORKERS, MAX_SECONDS, saldoOp(ctx, scenario, `bench-${scenario.id}`));
    if (saldo.ops < OPS) log(`  Saldo stopped after ${MAX_SECONDS} s at ${saldo.ops} ops; the baseline runs as many.`);
    const before = await maxLedgerId(basePool);
    await checkpoint();
    const baseline = await runWorkers(saldo.ops, WORKERS, 600, baselineOp(basePool, scenario));
    const ids: [string, string] = [before, await maxLedgerId(basePool)];
    await checkpoint();
    const single = await runWorkers(saldo.ops, WORKERS, MAX_SECONDS, saldoOp(unbatched, scenario, `single-${scenario.id}`));
    results.push({ scenario, saldo, baseline, single, ids });
  }

  // Where the time of one recordUsage goes: sequential calls with every SQL statement counted.
  let profileReport: string | undefined;
  if (PROFILE_OPS > 0) {
    const profiled = async (op: (i: number) => Promise<void>) => {
      profile.queries = 0;
      profile.ms = 0;
      profile.statements = new Map();
      profile.on = true;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        await runWorkers(PROFILE_OPS, 1, 600, op);
      } finally {
        profile.on = false;
      }
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      return {
        wallPerOp: wall / PROFILE_OPS,
        sqlPerOp: profile.ms / PROFILE_OPS,
        tripsPerOp: profile.queries / PROFILE_OPS,
        cpuPerOp: (cpu.user + cpu.system) / 1000 / PROFILE_OPS,
        statements: [...profile.statements.entries()].sort((a, b) => b[1].ms - a[1].ms),
      };
    };
    const s = await profiled(saldoOp(ctx, spread, "profile-a"));
    const b = await profiled(baselineOp(basePool, spread));
    const lines = [
      `Profile: ${PROFILE_OPS} sequential operations (1 worker, no contention), every round trip (one message to the server) timed on the client`,
      table(
        ["path", "round trips/op", "ms/op wall", "ms/op in SQL", "ms/op outside SQL", "Node CPU ms/op"],
        [
          [
            "Saldo recordUsage",
            fmt(s.tripsPerOp, 1),
            fmt(s.wallPerOp, 2),
            fmt(s.sqlPerOp, 2),
            fmt(s.wallPerOp - s.sqlPerOp, 2),
            fmt(s.cpuPerOp, 2),
          ],
          ["baseline", fmt(b.tripsPerOp, 1), fmt(b.wallPerOp, 2), fmt(b.sqlPerOp, 2), fmt(b.wallPerOp - b.sqlPerOp, 2), fmt(b.cpuPerOp, 2)],
        ],
        [false, true, true, true, true, true],
      ),
      "",
      "Saldo round trips per recordUsage (the statements of each message):",
      table(
        ["round trip", "per op", "ms each", "ms/op"],
        s.statements.map(([label, stat]) => [
          label,
          fmt(stat.count / PROFILE_OPS, 1),
          fmt(stat.ms / stat.count, 3),
          fmt(stat.ms / PROFILE_OPS, 3),
        ]),
        [false, true, true, true],
      ),
    ];
    profileReport = lines.join("\n");
  }

  // Correctness.
  const checks: Check[] = [];
  for (const { scenario, saldo, baseline, ids } of results) {
    checks.push(...(await checkSaldo(basePool, scenario, saldo.ops)));
    checks.push(...(await checkBaseline(basePool, scenario, ids, baseline.ops)));
  }

  // Report.
  log("");
  log(`Debits per second, ${WORKERS} concurrent workers, ${LANES} lanes of group commit (PostgreSQL ${await serverVersion(basePool)}):`);
  log(
    table(
      ["scenario", "ops", "Saldo ops/s", "baseline ops/s", "ratio", "target", "result", "Saldo, a transaction per move", "its ratio"],
      results.map(({ scenario, saldo, baseline, single }) => {
        const baseRate = baseline.ops / baseline.seconds;
        const ratio = saldo.ops / saldo.seconds / baseRate;
        const target = TARGETS[scenario.id];
        return [
          scenario.label,
          String(saldo.ops),
          fmt(saldo.ops / saldo.seconds),
          fmt(baseRate),
          fmt(ratio, 2),
          `≥ ${target.toFixed(2)}`,
          ratio >= target ? "PASS" : "BELOW",
          fmt(single.ops / single.seconds),
          fmt(single.ops / single.seconds / baseRate, 2),
        ];
      }),
      [false, true, true, true, true, false, false, true, true],
    ),
  );
  log("");
  log("Details:");
  log(
    table(
      ["scenario", "path", "p50 ms", "p99 ms", "Node CPU ms/op", "machine CPU busy"],
      results.flatMap(({ scenario, saldo, baseline, single }) =>
        (
          [
            ["Saldo", saldo],
            ["baseline", baseline],
            ["Saldo, a transaction per move", single],
          ] as const
        ).map(([path, run]) => [
          scenario.label,
          path,
          fmt(percentile(run.latencies, 50), 1),
          fmt(percentile(run.latencies, 99), 1),
          fmt(run.nodeCpuMsPerOp, 2),
          run.machineBusy === null ? "n/a" : `${fmt(run.machineBusy * 100)} %`,
        ]),
      ),
      [false, false, true, true, true, true],
    ),
  );
  if (profileReport) {
    log("");
    log(profileReport);
  }
  log("");
  log("Correctness after the run:");
  log(
    table(
      ["check", "result", ""],
      checks.map((c) => [c.name, c.ok ? "OK" : "FAILED", c.detail]),
      [false, false, false],
    ),
  );
  log("");
  log(`Total run time ${fmt((performance.now() - runStarted) / 1000, 1)} s.`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    console.error(`${failed.length} correctness check(s) failed.`);
    return 1;
  }
  return 0;
}

async function serverVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ server_version: string }>("SHOW server_version");
  return rows[0].server_version;
}

await runBenchmark(fresh, main, closeAll);
