// Usage statistics on PostgreSQL: a mandate with 1,000,000 DEBIT transactions
// over two years; the usageStatistics query for a year by month and for a
// month by day, through GraphQL (the rollups), next to the same statistics
// computed by a plain SQL SUM / GROUP BY over the transactions, measured in
// the same run against the same fresh database.
//
//   npm run bench:stats
//
// Environment (all optional):
//   BENCH_DATABASE_URL   server to use (default postgresql://postgres@127.0.0.1:5432/postgres);
//                        a fresh database is created on it and dropped WITH (FORCE) at the end
//   BENCH_ROWS           DEBIT transactions to generate (default 1000000)
//   BENCH_ACCOUNTS       accounts of the mandate (PREPAY_USER, one per user) sharing them (default 10)
//   BENCH_RUNS           measured runs per query and path (default 50)
//   BENCH_WARMUP         warm-up runs per query and path, not counted (default 5)
//   BENCH_MAX_SECONDS    time bound per measurement; fewer runs are then reported (default 60)
//
// Also measured, to show where the GraphQL time goes: statisticsFor, the
// domain function behind the query, without GraphQL; and the floor of any
// request, a `{ __typename }` query through the same yoga.fetch (auth,
// parsing, validation, JSON).
//
// The transactions are generated in SQL (INSERT ... SELECT generate_series),
// through the ledger's own guards (the insert check trigger), with sequence
// numbers and balanceAfter consistent per account; the rollups are built from
// them by rebuildRollups (src/billing/rebuild.ts), the same code as
// `npm run stats:rebuild`. It is a report, not a test: it exits 0 when a
// target is missed and non-zero only when something fails (including the
// check that GraphQL and the SQL SUM give the same figures).
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { createApp, type App } from "../src/app.js";
import { signToken } from "../src/auth.js";
import { creditAccount } from "../src/billing/ledger/credits.js";
import { upsertMandate } from "../src/billing/mandates/mandates.js";
import { updateSettings } from "../src/billing/mandates/settings.js";
import { createBillingContext } from "../src/billing/ledger/context.js";
import { Decimal } from "../src/billing/shared/money.js";
import { statisticsFor } from "../src/billing/statistics/queries.js";
import { rebuildRollups } from "../src/billing/statistics/rebuild.js";
import { loadConfig } from "../src/config.js";
import { openDatabase, type Database } from "../src/db/open.js";
import { freshDatabase, runBenchmark, withTimeout } from "./fresh-database.js";
import { cpuTimes, fmt, intEnv, percentile, redact, table } from "./report.js";

// ---------------------------------------------------------------- settings

const SERVER_URL = process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const ROWS = intEnv("BENCH_ROWS", 1_000_000, 1);
const ACCOUNTS = intEnv("BENCH_ACCOUNTS", 10, 1);
const RUNS = intEnv("BENCH_RUNS", 50, 1);
const WARMUP = intEnv("BENCH_WARMUP", 5, 0);
const MAX_SECONDS = intEnv("BENCH_MAX_SECONDS", 60, 1);
const TIME_ZONE = "Europe/Zurich";
const MANDATE = "bench-stats";
const FIRST_YEAR = 2025;
const YEARS = 2;
const TARGET_MS = 20;
const JWT_SECRET = `bench-${randomUUID()}-secret-long-enough`;
const PROVIDERS = ["openai", "anthropic", "mistral", "tavily", "perplexity"];
/** NULL: a debit without feature ("unknown" in the statistics). */
const FEATURES = ["chat", "automation", "research", "summaries", null, "translation"];

const log = (message: string) => console.log(message);

// ------------------------------------------- fresh database and its cleanup

const fresh = freshDatabase(SERVER_URL);
const dbName = fresh.name;
const dbUrl = fresh.url;

let database: Database | undefined;
let app: App | undefined;
let sqlPool: pg.Pool | undefined;

async function closeAll(): Promise<void> {
  await withTimeout(app?.close() ?? Promise.resolve(), 10_000).catch(() => undefined);
  await withTimeout(database?.close() ?? Promise.resolve(), 10_000).catch(() => undefined);
  await withTimeout(sqlPool?.end() ?? Promise.resolve(), 10_000).catch(() => undefined);
  app = undefined;
  database = undefined;
  sqlPool = undefined;
}

// ------------------------------------------------------------ the data set

/**
 * The DEBITs of one account, generated in one statement: evenly spread over
 * the two years (createdAt rising with the sequence, so the balance moves in
 * time order), amounts from 0.000001 to 2 CHF, providers and features
 * (some without) varying, balanceAfter = the credit minus the running sum.
 */
async function generateDebits(pool: pg.Pool, account: { id: string; userId: string; k: number }, count: number): Promise<void> {
  const from = `${FIRST_YEAR}-01-01 00:00:00`;
  const to = `${FIRST_YEAR + YEARS}-01-01 00:00:00`;
  await pool.query(
    `WITH a AS (SELECT "id", "mandateId", "balance", "sequence" FROM "BillingAccount" WHERE "id" = $1),
     g AS (
       SELECT i, ((i::bigint * 7919 + $3::int * 104729) % 2000000 + 1)::numeric / 1000000 AS amount,
              (($5::text)::jsonb ->> ((i + $3::int) % $6::int)::int) AS provider,
              (($7::text)::jsonb ->> ((i / 7 + $3::int) % $8::int)::int) AS feature,
              -- i-1 plus a fraction below 1: rising with i, spread like real traffic.
              ($9::timestamp + ((i - 1) + ((i * 2654435761::bigint) % 1000) / 1000.0) * (($10::timestamp - $9::timestamp) / $2::int))::timestamp(3) AS at
         FROM generate_series(1, $2::int) AS s(i)
     )
     INSERT INTO "Transaction" ("id", "accountId", "mandateId", "sequence", "transactionType", "amount", "delta", "balanceAfter",
                                "description", "referenceType", "referenceId", "workflowId", "featureCode", "aicoreProvider",
                                "aicoreModel", "createdByUserId", "idempotencyKey", "createdAt")
     SELECT gen_random_uuid()::text, a."id", a."mandateId", a."sequence" + g.i, 'DEBIT', g.amount, -g.amount,
            a."balance" - sum(g.amount) OVER (ORDER BY g.i), g.provider || ' usage', 'WORKFLOW', 'wf-' || (g.i % 1000),
            'wf-' || (g.i % 1000), g.feature, g.provider, g.provider || '-model', $4::text, 'bench-' || g.i, g.at
       FROM g CROSS JOIN a
      ORDER BY g.i`,
    [
      account.id,
      count,
      account.k,
      account.userId,
      JSON.stringify(PROVIDERS),
      PROVIDERS.length,
      JSON.stringify(FEATURES),
      FEATURES.length,
      from,
      to,
    ],
  );
  // The account as the ledger leaves it: balance = newest balanceAfter, sequence = count.
  await pool.query(
    `UPDATE "BillingAccount" a SET "balance" = t."balanceAfter", "sequence" = t."sequence", "updatedAt" = now() AT TIME ZONE 'UTC'
       FROM (SELECT "balanceAfter", "sequence" FROM "Transaction" WHERE "accountId" = $1 ORDER BY "sequence" DESC LIMIT 1) t
      WHERE a."id" = $1`,
    [account.id],
  );
}

// ------------------------------------------------------------ the queries

const STATISTICS_QUERY = `query Stats($mandateId: ID!, $period: PeriodType!, $year: Int!, $month: Int) {
  usageStatistics(mandateId: $mandateId, period: $period, year: $year, month: $month) {
    period year month currency
    data { label periodStart totalCost transactionCount byProvider { key cost } byFeature { key cost } }
    totals { totalCost transactionCount byProvider { key cost } byFeature { key cost } }
  }
}`;

interface Figures {
  total: string;
  count: number;
  byProvider: Record<string, string>;
  byFeature: Record<string, string>;
}
/** periodStart -> figures, normalised to 6 fractional digits; only periods with debits. */
type StatisticsResult = Map<string, Figures>;

interface Variant {
  label: string;
  period: "MONTH" | "DAY";
  year: number;
  month: number | null;
}

const pad = (n: number) => String(n).padStart(2, "0");
const money = (value: string | number) => new Decimal(String(value)).toFixed(6);
const sharesOf = (list: { key: string; cost: string }[]) => Object.fromEntries(list.map((s) => [s.key, money(s.cost)]));

async function viaYoga(token: string, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  const response = await app!.yoga.fetch("http://bench/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function viaGraphql(token: string, v: Variant): Promise<StatisticsResult> {
  const body = (await viaYoga(token, STATISTICS_QUERY, { mandateId: MANDATE, period: v.period, year: v.year, month: v.month })) as {
    data?: {
      usageStatistics: {
        data: {
          periodStart: string;
          totalCost: string;
          transactionCount: number;
          byProvider: { key: string; cost: string }[];
          byFeature: { key: string; cost: string }[];
        }[];
      };
    };
    errors?: unknown[];
  };
  if (!body.data || body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  const result: StatisticsResult = new Map();
  for (const p of body.data.usageStatistics.data) {
    if (p.transactionCount === 0) continue;
    result.set(String(p.periodStart).slice(0, 10), {
      total: money(p.totalCost),
      count: p.transactionCount,
      byProvider: sharesOf(p.byProvider),
      byFeature: sharesOf(p.byFeature),
    });
  }
  return result;
}

/**
 * The same statistics straight from the ledger: one scan of the mandate's
 * DEBITs in the period (index on mandateId, createdAt), totals and shares per
 * provider and feature by GROUPING SETS, periods in the billing time zone.
 */
async function viaSqlSum(pool: pg.Pool, v: Variant): Promise<StatisticsResult> {
  const unit = v.period === "MONTH" ? "month" : "day";
  const from = v.period === "MONTH" ? `${v.year}-01-01` : `${v.year}-${pad(v.month!)}-01`;
  const to = v.period === "MONTH" ? `${v.year + 1}-01-01` : v.month === 12 ? `${v.year + 1}-01-01` : `${v.year}-${pad(v.month! + 1)}-01`;
  const { rows } = await pool.query<{ start: string; provider: string | null; feature: string | null; total: string; n: string }>(
    `SELECT to_char(date_trunc($2, l.local), 'YYYY-MM-DD') AS start, l.provider, l.feature,
            sum(l.amount)::text AS total, count(*) AS n
       FROM (SELECT ("createdAt" AT TIME ZONE 'UTC') AT TIME ZONE $3 AS local, "amount" AS amount,
                    coalesce("aicoreProvider", 'unknown') AS provider, coalesce("featureCode", 'unknown') AS feature
               FROM "Transaction"
              WHERE "mandateId" = $1 AND "transactionType" = 'DEBIT'
                AND "createdAt" >= ($4::timestamp AT TIME ZONE $3) AT TIME ZONE 'UTC'
                AND "createdAt" < ($5::timestamp AT TIME ZONE $3) AT TIME ZONE 'UTC') l
      GROUP BY GROUPING SETS ((1), (1, 2), (1, 3))`,
    [MANDATE, unit, TIME_ZONE, from, to],
  );
  const result: StatisticsResult = new Map();
  const entry = (start: string) => {
    let f = result.get(start);
    if (!f) result.set(start, (f = { total: "0", count: 0, byProvider: {}, byFeature: {} }));
    return f;
  };
  for (const row of rows) {
    const f = entry(row.start);
    if (row.provider !== null) f.byProvider[row.provider] = money(row.total);
    else if (row.feature !== null) f.byFeature[row.feature] = money(row.total);
    else {
      f.total = money(row.total);
      f.count = Number(row.n);
    }
  }
  return result;
}

/** The first difference between two results, or null. */
function compare(a: StatisticsResult, b: StatisticsResult): string | null {
  const starts = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const start of starts) {
    const x = JSON.stringify(normalise(a.get(start)));
    const y = JSON.stringify(normalise(b.get(start)));
    if (x !== y) return `${start}: GraphQL ${x} vs SQL ${y}`;
  }
  return null;
}
const sortKeys = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([p], [q]) => p.localeCompare(q)));
const normalise = (f: Figures | undefined) => f && { ...f, byProvider: sortKeys(f.byProvider), byFeature: sortKeys(f.byFeature) };

// ------------------------------------------------------------ measurement

interface Measured {
  latencies: number[];
  /** Node CPU (user + system) per run, in ms. */
  cpuMs: number;
  /** Share of all cores busy during the runs (Linux /proc/stat), or null. */
  machineBusy: number | null;
}

async function measure(variants: Variant[], run: (v: Variant) => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < WARMUP; i++) await run(variants[i % variants.length]);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const machine0 = cpuTimes();
  const deadline = performance.now() + MAX_SECONDS * 1000;
  for (let i = 0; i < RUNS && !fresh.aborted; i++) {
    if (performance.now() > deadline) break;
    const started = performance.now();
    await run(variants[i % variants.length]);
    latencies.push(performance.now() - started);
  }
  if (fresh.aborted) throw new Error("aborted");
  const cpu = process.cpuUsage(cpu0);
  const machine1 = cpuTimes();
  return {
    latencies,
    cpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length),
    machineBusy:
      machine0 && machine1 && machine1.total > machine0.total ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : null,
  };
}

const seconds = (since: number) => `${fmt((performance.now() - since) / 1000, 1)} s`;

// -------------------------------------------------------------------- main

async function main(): Promise<number> {
  const runStarted = performance.now();
  log(
    `Saldo statistics benchmark: ${fmt(ROWS)} DEBITs over ${YEARS} years on ${ACCOUNTS} account(s), ${RUNS} runs per query, warm-up ${WARMUP}`,
  );
  log(`Server ${redact(SERVER_URL)}; fresh database ${dbName}`);

  await fresh.create();
  sqlPool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  sqlPool.on("error", (error) => {
    if (!fresh.aborted && !fresh.dropping) console.error("[bench] idle connection failed:", error.message);
  });
  database = await openDatabase({ databaseUrl: dbUrl, poolSize: 10 });

  // The mandate: one account per user, opened by a top-up before the first debit.
  let setupStarted = performance.now();
  const clock = { now: new Date(`${FIRST_YEAR - 1}-12-31T12:00:00Z`) };
  const ctx = createBillingContext(database, { now: () => clock.now, timeZone: TIME_ZONE });
  await upsertMandate(ctx, { id: MANDATE, name: "Statistics benchmark", billingModel: "PREPAY_USER" });
  await updateSettings(ctx, { mandateId: MANDATE, defaultUserCredit: "0" });
  const accounts: { id: string; userId: string; k: number }[] = [];
  for (let k = 0; k < ACCOUNTS; k++) {
    const userId = `user-${pad(k)}`;
    const { accountId } = await creditAccount(ctx, {
      mandateId: MANDATE,
      userId,
      amount: "10000000",
      description: "Benchmark credit",
      idempotencyKey: `bench-credit-${k}`,
    });
    accounts.push({ id: accountId, userId, k });
  }
  log(`Set up mandate ${MANDATE} with ${ACCOUNTS} account(s) in ${seconds(setupStarted)}.`);

  setupStarted = performance.now();
  let inserted = 0;
  // Two accounts at a time: PostgreSQL gets a core per statement.
  const queue = [...accounts];
  const insertWorker = async () => {
    for (let account = queue.shift(); account && !fresh.aborted; account = queue.shift()) {
      const count = Math.floor(ROWS / ACCOUNTS) + (account.k < ROWS % ACCOUNTS ? 1 : 0);
      if (count === 0) continue;
      const t0 = performance.now();
      await generateDebits(sqlPool!, account, count);
      inserted += count;
      log(`  ${fmt(inserted)} / ${fmt(ROWS)} DEBITs (account ${account.k + 1}: ${fmt(count)} in ${seconds(t0)})`);
    }
  };
  await Promise.all([insertWorker(), insertWorker()]);
  if (fresh.aborted) throw new Error("aborted");
  log(`Generated ${fmt(inserted)} DEBITs in ${seconds(setupStarted)}.`);
  setupStarted = performance.now();
  await sqlPool.query(`VACUUM ANALYZE "Transaction"`);
  log(`VACUUM ANALYZE in ${seconds(setupStarted)}.`);

  // The rollups, built from the ledger by the rebuild (every row is "missing" at first).
  setupStarted = performance.now();
  const built = await rebuildRollups(database, { mandateId: MANDATE, timeZone: TIME_ZONE });
  const buildTime = seconds(setupStarted);
  setupStarted = performance.now();
  const check = await rebuildRollups(database, { mandateId: MANDATE, timeZone: TIME_ZONE, dryRun: true });
  const checkTime = seconds(setupStarted);
  await sqlPool.query(`VACUUM ANALYZE "UsageStatistics"`);
  log(
    `Rollups: rebuildRollups wrote ${fmt(built.differences.length)} row(s) in ${buildTime}; a second pass found ${check.differences.length} difference(s) in ${checkTime}.`,
  );

  // Ledger invariants of the generated data (cheap aggregate checks).
  const {
    rows: [ledger],
  } = await sqlPool.query<{ accounts: string; bad_balance: string; bad_sequence: string; debits: string }>(
    `SELECT count(*) AS accounts,
            count(*) FILTER (WHERE a."balance" <> t.sum) AS bad_balance,
            count(*) FILTER (WHERE a."sequence" <> t.n OR t.maxseq <> t.n) AS bad_sequence,
            sum(t.debits) AS debits
       FROM "BillingAccount" a
       JOIN (SELECT "accountId", sum("delta") AS sum, count(*) AS n, max("sequence") AS maxseq,
                    count(*) FILTER (WHERE "transactionType" = 'DEBIT') AS debits
               FROM "Transaction" GROUP BY 1) t ON t."accountId" = a."id"
      WHERE a."mandateId" = $1`,
    [MANDATE],
  );

  // GraphQL through the whole stack: yoga, auth, resolvers, the rollups.
  app = await createApp(loadConfig({ JWT_SECRET, DATABASE_URL: dbUrl, BILLING_TIME_ZONE: TIME_ZONE }), { database });
  const token = await signToken({ roles: ["SYSADMIN"], userId: "bench-admin" }, JWT_SECRET);

  const years = Array.from({ length: YEARS }, (_, i) => FIRST_YEAR + i);
  const byMonth: Variant[] = years.map((year) => ({ label: `${year}`, period: "MONTH", year, month: null }));
  const byDay: Variant[] = years.flatMap((year) =>
    Array.from({ length: 12 }, (_, m) => ({ label: `${year}-${pad(m + 1)}`, period: "DAY" as const, year, month: m + 1 })),
  );

  // Same figures on both paths, for every year and month measured.
  const mismatches: string[] = [];
  for (const v of [...byMonth, ...byDay]) {
    const difference = compare(await viaGraphql(token, v), await viaSqlSum(sqlPool, v));
    if (difference) mismatches.push(`${v.period} ${v.label}: ${difference}`);
  }

  const rowsScanned = async (variants: Variant[]) => {
    let total = 0;
    for (const v of variants) for (const f of (await viaSqlSum(sqlPool!, v)).values()) total += f.count;
    return total / variants.length;
  };
  const pool = sqlPool;
  const results: { name: string; graphql: Measured; domain: Measured; sum: Measured; rows: number; rollupRows: number }[] = [];
  for (const [name, variants, perAccount] of [
    [`year by month (MONTH, ${years.join(" and ")})`, byMonth, 12],
    [`month by day (DAY, the ${byDay.length} months)`, byDay, 30.4],
  ] as const) {
    log(`Measuring ${name} ...`);
    const graphql = await measure(variants, (v) => viaGraphql(token, v));
    const domain = await measure(variants, (v) =>
      statisticsFor(app!.billing, { mandateId: MANDATE, userId: null, period: v.period, year: v.year, month: v.month }),
    );
    const sum = await measure(variants, (v) => viaSqlSum(pool, v));
    results.push({ name, graphql, domain, sum, rows: await rowsScanned(variants), rollupRows: Math.round(perAccount * ACCOUNTS) });
  }
  log("Measuring the request floor ({ __typename }) ...");
  const floor = await measure([byMonth[0]], () => viaYoga(token, "{ __typename }"));

  // Report.
  const {
    rows: [version],
  } = await sqlPool.query<{ server_version: string }>("SHOW server_version");
  log("");
  log(
    `usageStatistics of a mandate with ${fmt(inserted)} DEBITs on ${ACCOUNTS} account(s) over ${years.join("-")}, ` +
      `PostgreSQL ${version.server_version}, latency in ms:`,
  );
  log(
    table(
      ["query", "runs", "GraphQL p50", "GraphQL p95", "SQL SUM p50", "SQL SUM p95", "SUM / GraphQL (p50)", "target", "result"],
      results.map((r) => {
        const p50 = percentile(r.graphql.latencies, 50);
        const sumP50 = percentile(r.sum.latencies, 50);
        return [
          r.name,
          `${r.graphql.latencies.length} / ${r.sum.latencies.length}`,
          fmt(p50, 1),
          fmt(percentile(r.graphql.latencies, 95), 1),
          fmt(sumP50, 1),
          fmt(percentile(r.sum.latencies, 95), 1),
          `${fmt(sumP50 / p50, 1)}x`,
          `p50 < ${TARGET_MS} ms`,
          p50 < TARGET_MS && p50 < sumP50 ? "PASS" : "MISSED",
        ];
      }),
      [false, true, true, true, true, true, true, false, false],
    ),
  );
  log("");
  log("Details:");
  const busy = (m: Measured) => (m.machineBusy === null ? "n/a" : `${fmt(m.machineBusy * 100)} %`);
  log(
    table(
      [
        "query",
        "rows summed by SUM",
        "rollup rows read",
        "statisticsFor p50",
        "statisticsFor CPU/run",
        "GraphQL Node CPU/run",
        "machine busy (GraphQL)",
        "machine busy (SUM)",
      ],
      results.map((r) => [
        r.name,
        fmt(r.rows),
        `~${fmt(r.rollupRows)}`,
        fmt(percentile(r.domain.latencies, 50), 1),
        fmt(r.domain.cpuMs, 1),
        fmt(r.graphql.cpuMs, 1),
        busy(r.graphql),
        busy(r.sum),
      ]),
      [false, true, true, true, true, true, true, true],
    ),
  );
  log(
    `Request floor ({ __typename } through yoga.fetch): p50 ${fmt(percentile(floor.latencies, 50), 1)} ms, Node CPU ${fmt(floor.cpuMs, 1)} ms/run.`,
  );
  log("GraphQL: the whole request through yoga.fetch (auth, validation, resolvers, rollups summed in SQL, JSON).");
  log("SQL SUM: one GROUP BY GROUPING SETS over the DEBITs of the period (plain node-postgres, same database).");
  log("statisticsFor: the domain function behind the query, without GraphQL (where the GraphQL time goes).");
  log("Machine busy: share of all cores in use during the runs (this process, PostgreSQL and anything else running);");
  log("on a shared machine the latencies grow with it.");
  log("");
  const checks = [
    { name: "transactions generated", ok: Number(ledger.debits) === ROWS, detail: `${fmt(Number(ledger.debits))} DEBITs` },
    {
      name: "balance = sum of deltas",
      ok: Number(ledger.bad_balance) === 0,
      detail: `${ledger.accounts} account(s), ${ledger.bad_balance} wrong`,
    },
    { name: "sequence = count = max(sequence)", ok: Number(ledger.bad_sequence) === 0, detail: `${ledger.bad_sequence} wrong` },
    {
      name: "rollups rebuilt, second pass clean",
      ok: check.differences.length === 0 && built.differences.length > 0,
      detail: `${check.rows} rows`,
    },
    {
      name: "GraphQL = SQL SUM (every year and month)",
      ok: mismatches.length === 0,
      detail: mismatches.length === 0 ? `${byMonth.length + byDay.length} queries` : mismatches.slice(0, 3).join(" | "),
    },
  ];
  log("Correctness:");
  log(
    table(
      ["check", "result", ""],
      checks.map((c) => [c.name, c.ok ? "OK" : "FAILED", c.detail]),
      [false, false, false],
    ),
  );
  log("");
  log(`Total run time ${seconds(runStarted)}.`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    console.error(`${failed.length} correctness check(s) failed.`);
    return 1;
  }
  return 0;
}

await runBenchmark(fresh, main, closeAll);
