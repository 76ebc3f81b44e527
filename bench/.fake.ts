import pg from "pg";
import { performance } from "node:perf_hooks";
import { openDatabase, poolSession, type SqlTransaction, type Sql, type SqlRow } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_fake"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 4 });
const ctx = createBillingContext(d.prisma);
await upsertMandate(ctx, { id: "m1", name: "m1" }); await creditAccount(ctx, { mandateId: "m1", amount: "1000000", description: "c", idempotencyKey: "c" });
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w" });
// capture the rows of one recordUsage
const canned: SqlRow[][][] = [];
const real = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => real((t: SqlTransaction) => work({ query: async (...s: Sql[]) => { const r = await t.query(...s); canned.push(r); return r; }, defer: (...w: any[]) => t.defer(...w) }));
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w2" });
// fake executor: same JS, no I/O (builds texts and names like the real one)
(d.sql as any).transaction = async (work: any) => {
  let i = 0; const pending: any[] = [];
  const v = await work({ query: async (...s: Sql[]) => { s.forEach((x) => void x.text); return canned[i++]; }, defer: (...w: any[]) => pending.push(...w) });
  pending.map((w) => (typeof w === "function" ? w() : w)).forEach((x: Sql) => void x.text);
  return v;
};
const N = 20000;
for (let k = 0; k < 2000; k++) await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: `warm${k}` });
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let k = 0; k < N; k++) await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: `k${k}` });
const c = process.cpuUsage(c0);
console.log(`our JS per recordUsage (no I/O): ${((c.user + c.system) / 1000 / N * 1000).toFixed(1)} µs CPU, ${((performance.now() - t0) / N * 1000).toFixed(1)} µs wall`);
await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
