import pg from "pg";
import crypto from "node:crypto";
import { openDatabase, poolSession, type SqlTransaction, type Sql } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_pgcost2"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 4 });
const ctx = createBillingContext(d.prisma);
await upsertMandate(ctx, { id: "m1", name: "m1" }); await creditAccount(ctx, { mandateId: "m1", amount: "1000000", description: "c", idempotencyKey: "c" });
const captured: Sql[] = [];
const real = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => real((t: SqlTransaction) => work({ query: (...s: Sql[]) => { captured.push(...s); return t.query(...s); }, defer: (...w: any[]) => t.defer(...w) }));
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w" });
const [find, read] = captured;
await d.prisma.$executeRawUnsafe(`CREATE TABLE bl (id bigserial primary key, a int, d numeric(18,6)); CREATE TABLE bb (id int primary key, b numeric(18,6)); INSERT INTO bb SELECT g, 1000000 FROM generate_series(1,100) g`).catch(() => undefined);
const pool0 = new pg.Pool({ connectionString: url, max: 32 }); await pool0.query("CREATE TABLE IF NOT EXISTS bl (id bigserial primary key, a int, d numeric(18,6)); CREATE TABLE IF NOT EXISTS bb (id int primary key, b numeric(18,6)); INSERT INTO bb SELECT g, 1000000 FROM generate_series(1,100) g ON CONFLICT DO NOTHING"); await pool0.end();
const types = { getTypeParser: (oid: number, f: any) => (oid === 1700 || oid === 20 ? (x: string) => x : pg.types.getTypeParser(oid, f)) } as any;
async function run(label: string, pipeline: boolean, workers: number, op: (c: pg.PoolClient, i: number) => Promise<unknown>) {
  const pool = new pg.Pool({ connectionString: url, max: 32, pipeline } as any);
  const N = 4000; let next = 0;
  const go = async (n: number) => { next = 0; await Promise.all(Array.from({ length: workers }, async () => { while (next < n) { const i = next++; const c = await pool.connect(); try { await op(c, i); } finally { c.release(); } } })); };
  await go(400);
  const c0 = process.cpuUsage(); const t0 = performance.now(); await go(N); const u = process.cpuUsage(c0);
  console.log(`${((u.user + u.system) / N).toFixed(0).padStart(5)} µs CPU  ${(N / ((performance.now() - t0) / 1000)).toFixed(0).padStart(5)} ops/s  ${label}`); await pool.end();
}
const baseline = async (c: pg.PoolClient, i: number) => { await c.query("BEGIN"); await c.query("INSERT INTO bl (a, d) VALUES ($1, $2)", [i % 100 + 1, "-0.001234"]); await c.query("UPDATE bb SET b = b + $2 WHERE id = $1", [i % 100 + 1, "-0.001234"]); await c.query("COMMIT"); };
const ours = (opts: { types: boolean; names: boolean; together: boolean }) => async (c: pg.PoolClient) => {
  const q = (s: Sql, n: string) => c.query({ ...(opts.names ? { name: n } : {}), text: s.text, values: [...s.values], ...(opts.types ? { types } : {}) });
  if (opts.together) await Promise.all([c.query("BEGIN"), q(find, "f"), q(read, "r")]); else { await c.query("BEGIN"); await q(find, "f"); await q(read, "r"); }
  await c.query("ROLLBACK");
};
const tiny = { text: "SELECT $1::text AS id", values: ["x"] } as unknown as Sql;
const readJson = { text: `SELECT json_build_object('id', a."id", 'mandateId', a."mandateId", 'userId', a."userId", 'accountType', a."accountType", 'balance', a."balance"::text, 'sequence', a."sequence", 'creditLimit', a."creditLimit"::text, 'warningThreshold', a."warningThreshold"::text, 'lastTopUpBalance', a."lastTopUpBalance"::text, 'isWarning', a."isWarning", 'lastWarningAt', a."lastWarningAt", 'enabled', a."enabled",
   'held', (SELECT coalesce(sum(x."amount"), 0) FROM "UsageAuthorization" x WHERE x."accountId" = a."id" AND x."status" = 'ACTIVE' AND x."expiresAt" > $2::timestamp(3))::text) AS "account",
  json_build_object('mandateId', s."mandateId", 'billingModel', s."billingModel", 'defaultUserCredit', s."defaultUserCredit"::text, 'warningThresholdPercent', s."warningThresholdPercent"::text, 'blockOnZeroBalance', s."blockOnZeroBalance", 'billingAddress', s."billingAddress", 'notifyEmails', s."notifyEmails", 'notifyOnWarning', s."notifyOnWarning", 'allowedProviders', s."allowedProviders", 'updatedAt', s."updatedAt") AS "settings",
  json_build_object('id', t."id", 'requestHash', t."requestHash") AS "entry"
  FROM (SELECT current_setting('saldo.account_id') AS "id") locked LEFT JOIN "BillingAccount" a ON a."id" = locked."id" LEFT JOIN "Settings" s ON s."mandateId" = $1::text LEFT JOIN "Transaction" t ON t."accountId" = a."id" AND t."idempotencyKey" = $3::text`, values: ["m1", new Date().toISOString(), "zz"] } as unknown as Sql;
const only = (stmts: [Sql, string][], pipeline: boolean) => async (c: pg.PoolClient) => {
  const q = (s: Sql, n: string) => c.query({ name: n, text: s.text, values: [...s.values], types });
  if (pipeline) await Promise.all([c.query("BEGIN"), ...stmts.map(([s, n]) => q(s, n))]); else { await c.query("BEGIN"); for (const [s, n] of stmts) await q(s, n); }
  await c.query("ROLLBACK");
};
const prepared = new WeakSet<object>();
const lit = (v: string | null) => (v === null ? "NULL" : pg.escapeLiteral(v));
const exec = (stmts: [Sql, string][]) => async (c: pg.PoolClient) => {
  if (!prepared.has(c)) { for (const [st, n] of stmts) await c.query(`PREPARE ${n} AS ${st.text}`); prepared.add(c); }
  const text = ["BEGIN", ...stmts.map(([st, n]) => `EXECUTE ${n}(${st.values.map(lit).join(", ")})`)].join(";\n");
  await c.query({ text, types } as any);
  await c.query("ROLLBACK");
};
for (const workers of [32]) {
  await run(`baseline (4 queries, writes) w=${workers}`, false, workers, baseline);
  await run(`pipelined BEGIN; find; read; ROLLBACK w=${workers}`, true, workers, only([[find, "f"], [read, "r"]], true));
  await run(`simple "BEGIN; EXECUTE find; EXECUTE read"; ROLLBACK w=${workers}`, false, workers, exec([[find, "pf"], [read, "pr"]]));
  await run(`simple "BEGIN; EXECUTE find; EXECUTE read json"; ROLLBACK w=${workers}`, false, workers, exec([[find, "pf2"], [readJson, "pj"]]));
  await run(`pipelined BEGIN; tiny; ROLLBACK w=${workers}`, true, workers, only([[tiny, "t"]], true));
}
await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
