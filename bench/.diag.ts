import pg from "pg";
import crypto from "node:crypto";
import { performance } from "node:perf_hooks";
import { openDatabase, poolSession, type SqlTransaction, type Sql } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
import * as db from "../src/db.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_diag"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m));
const d = await openDatabase({ databaseUrl: url, poolSize: 4 });
const ctx = createBillingContext(d.prisma);
await upsertMandate(ctx, { id: "m1", name: "M" });
await creditAccount(ctx, { mandateId: "m1", amount: "1000", description: "c", idempotencyKey: "c" });
for (let i = 0; i < 50; i++) await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001", idempotencyKey: `w${i}` });
// capture the statements of one recordUsage
const captured: string[][] = [];
const orig = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => orig((t: SqlTransaction) => work({
  query: (...s: Sql[]) => { captured.push(s.map((x) => x.inline())); return t.query(...s); },
  defer: (...s: Sql[]) => { captured.push(s.map((x) => x.inline())); t.defer(...s); },
}));
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001", idempotencyKey: "cap" });
const stmts = captured.flat();
const c = new pg.Client({ connectionString: url }); await c.connect();
const N = Number(process.env.N ?? 300);
for (const [i, s] of stmts.entries()) {
  const times: number[] = [];
  for (let k = 0; k < N; k++) {
    await c.query("BEGIN");
    const t0 = performance.now();
    const fresh = s.replace(/'cap'/g, `'x${k}'`).replace(/^(\s*INSERT INTO "Transaction"[\s\S]*?VALUES \()'[0-9a-f-]{36}'/, `$1'${crypto.randomUUID()}'`).replace(/'(\d+)'::int,(\s*)'DEBIT'/, `'${100000 + k}'::int,$2'DEBIT'`);
    await c.query(fresh);
    times.push(performance.now() - t0);
    await c.query("ROLLBACK");
  }
  times.sort((a, b) => a - b);
  console.log(`${times[Math.floor(N / 2)].toFixed(3)} ms  ${s.replace(/\s+/g, " ").slice(0, 110)}`);
}
for (const s of stmts.slice(0, 4)) {
  await c.query("BEGIN");
  const plan = await c.query("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + s.replace(/'cap'/g, "'zz'"));
  console.log(plan.rows.map((r: any) => r["QUERY PLAN"]).join("\n"));
  await c.query("ROLLBACK");
}
const t0 = performance.now(); for (let k = 0; k < N; k++) await c.query("SELECT 1"); console.log(`${((performance.now() - t0) / N).toFixed(3)} ms  SELECT 1 (round trip)`);
await c.end(); await m.end(); await d.close();
await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
