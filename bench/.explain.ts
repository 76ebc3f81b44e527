import pg from "pg";
import crypto from "node:crypto";
import { openDatabase, poolSession, Sql, type SqlTransaction } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_explain"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 4 });
const ctx = createBillingContext(d.prisma);
await upsertMandate(ctx, { id: "m1", name: "m1" }); await creditAccount(ctx, { mandateId: "m1", amount: "1000000", description: "c", idempotencyKey: "c" });
for (let i = 0; i < 2000; i++) await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: `w${i}` });
const cap: any[] = [];
const real = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => real((t: SqlTransaction) => work({ query: (...s: Sql[]) => t.query(...s), defer: (...w: any[]) => { cap.push(...w); t.defer(...w); } }));
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "cap" });
const writes: Sql[] = cap.map((w) => (typeof w === "function" ? w() : w));
const c = new pg.Client({ connectionString: url }); await c.connect();
for (const round of [1, 2, 3]) for (const w of writes) {
  const v = [...w.values]; if (w.text.includes('INSERT INTO "Transaction"')) { v[0] = crypto.randomUUID(); v[3] = String(9999990 + round); v[21] = "zz" + round; }
  if (round < 3) { await c.query("BEGIN"); await c.query(w.text, v); await c.query("ROLLBACK"); continue; }
  await c.query("BEGIN");
  const r = await c.query("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING ON, SUMMARY ON) " + w.text, v);
  console.log(r.rows.map((x: any) => x["QUERY PLAN"]).filter((l: string) => /Trigger|Time|Insert|Update|Buffers: shared/.test(l)).join("\n"));
  await c.query("ROLLBACK");
}
await c.end(); await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`).catch(() => undefined); await admin.end();
