import pg from "pg";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { openDatabase, poolSession, type SqlTransaction, type Sql } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_stmtcpu"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 4 });
const ctx = createBillingContext(d.prisma);
await upsertMandate(ctx, { id: "m1", name: "M" });
await creditAccount(ctx, { mandateId: "m1", amount: "1000000", description: "c", idempotencyKey: "c" });
for (let i = 0; i < 20; i++) await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001", idempotencyKey: `w${i}` });
const captured: { kind: string; s: Sql }[] = [];
const orig = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => orig((t: SqlTransaction) => work({
  query: (...s: Sql[]) => { s.forEach((x) => captured.push({ kind: "read", s: x })); return t.query(...s); },
  defer: (...s: Sql[]) => { s.forEach((x) => captured.push({ kind: "write", s: x })); t.defer(...s); },
}));
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001", idempotencyKey: "cap" });
const c = new pg.Client({ connectionString: url }); await c.connect();
const pid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
const cpu = () => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
const N = 2000;
async function measure(label: string, fn: (k: number) => Promise<unknown>) {
  for (let k = 0; k < 50; k++) await fn(k + 1_000_000);
  const c0 = cpu(); for (let k = 0; k < N; k++) await fn(k); const ms = (cpu() - c0) / N;
  console.log(`${ms.toFixed(3)} ms  ${label}`);
}
await measure("BEGIN; ROLLBACK (empty)", async () => { await c.query("BEGIN"); await c.query("ROLLBACK"); });
for (const [i, { kind, s }] of captured.entries()) {
  const label = `${kind} ${s.text.replace(/\s+/g, " ").slice(0, 90)}`;
  await measure(label, async (k) => {
    let values = [...s.values];
    if (s.text.includes('INSERT INTO "Transaction"')) { values[0] = crypto.randomUUID(); values[3] = String(100000 + k); values[21] = `x${k}`; }
    await c.query("BEGIN");
    if (!s.text.startsWith("WITH found")) await c.query({ name: "find", text: captured[0].s.text, values: [...captured[0].s.values] });
    await c.query({ name: `s${i}`, text: s.text, values });
    await c.query("ROLLBACK");
  });
}
await measure("BEGIN; find; ROLLBACK (the find, to subtract)", async () => { await c.query("BEGIN"); await c.query({ name: "find", text: captured[0].s.text, values: [...captured[0].s.values] }); await c.query("ROLLBACK"); });
await c.end(); await d.close();
await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
