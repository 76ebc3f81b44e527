import pg from "pg";
import crypto from "node:crypto";
import { openDatabase, poolSession, type SqlTransaction, type Sql } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_pgcost"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
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
const types = { getTypeParser: (oid: number, f: any) => (oid === 1700 || oid === 20 ? (x: string) => x : pg.types.getTypeParser(oid, f)) } as any;
async function run(label: string, pipeline: boolean, q: (c: pg.Client, i: number) => Promise<unknown>) {
  const c = new pg.Client({ connectionString: url, pipeline }); await c.connect();
  for (let i = 0; i < 300; i++) await q(c, i);
  const N = 3000; const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await q(c, i);
  const u = process.cpuUsage(c0); console.log(`${((u.user + u.system) / N).toFixed(0).padStart(5)} µs  ${label}`); await c.end();
}
for (const pipeline of [false, true]) {
  const p = pipeline ? "pipelined" : "sequential";
  await run(`${p}: BEGIN; ROLLBACK`, pipeline, async (c) => { await c.query("BEGIN"); await c.query("ROLLBACK"); });
  await run(`${p}: BEGIN; small select $1 (named); ROLLBACK`, pipeline, async (c) => { await c.query("BEGIN"); await c.query({ name: "x", text: "SELECT $1::int AS a", values: ["1"] }); await c.query("ROLLBACK"); });
  await run(`${p}: BEGIN; find; read; ROLLBACK (awaited in turn)`, pipeline, async (c) => { await c.query("BEGIN"); await c.query({ name: "f", text: find.text, values: [...find.values], types }); await c.query({ name: "r", text: read.text, values: [...read.values], types }); await c.query("ROLLBACK"); });
  if (pipeline) await run(`${p}: BEGIN+find+read together; ROLLBACK`, pipeline, async (c) => { await Promise.all([c.query("BEGIN"), c.query({ name: "f", text: find.text, values: [...find.values], types }), c.query({ name: "r", text: read.text, values: [...read.values], types })]); await c.query("ROLLBACK"); });
}
await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
