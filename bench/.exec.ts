import pg from "pg";
import crypto from "node:crypto";
import { performance } from "node:perf_hooks";
import { openDatabase, poolSession, Sql, type SqlTransaction } from "../src/db.js";
import * as require_db from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_exec"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 32 });
const ctx = createBillingContext(d.prisma);
const mandates = Array.from({ length: 100 }, (_, i) => `m${i}`);
for (const id of mandates) { await upsertMandate(ctx, { id, name: id }); await creditAccount(ctx, { mandateId: id, amount: "1000000", description: "c", idempotencyKey: "c" }); }
const cap: { q: Sql[]; w: any[] } = { q: [], w: [] };
const real = d.sql.transaction.bind(d.sql);
(d.sql as any).transaction = (work: any) => real((t: SqlTransaction) => work({ query: (...s: Sql[]) => { cap.q.push(...s); return t.query(...s); }, defer: (...w: any[]) => { cap.w.push(...w); t.defer(...w); } }));
await recordUsage(ctx, { mandateId: "m0", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w" });
(d.sql as any).transaction = real;
const writes: Sql[] = cap.w.map((w) => (typeof w === "function" ? w() : w));
const [find, read] = cap.q;
const insert = writes.find((w) => w.text.includes('INSERT INTO "Transaction"'))!;
const others = writes.filter((w) => w !== insert);
{
  const pg2 = await import("pg");
  const K = 20000; let t0 = performance.now(); let sink = 0;
  for (let k = 0; k < K; k++) { const ws = cap.w.map((w) => (typeof w === "function" ? w() : w)); sink += ws.length; }
  console.log(`${((performance.now() - t0) / K * 1000).toFixed(1)} µs  materialize deferred writes`);
  const combine = (ws: Sql[]) => { const { sql: s, joinSql: j, rawSql: r } = require_db; const parts = ws.map((w, i) => s`${r(`w${i + 1}`)} AS (${w})`); return s`WITH ${j(parts, ",\n")}\nSELECT 1`; };
  t0 = performance.now(); let c!: Sql; for (let k = 0; k < K; k++) { c = combine(writes); } console.log(`${((performance.now() - t0) / K * 1000).toFixed(1)} µs  combine into one Sql`);
  t0 = performance.now(); for (let k = 0; k < K; k++) { const x = combine(writes); sink += x.text.length; } console.log(`${((performance.now() - t0) / K * 1000).toFixed(1)} µs  combine + text`);
  const names = new Map([[c.text, "n"]]);
  t0 = performance.now(); for (let k = 0; k < K; k++) { const x = combine(writes); sink += names.get(x.text)!.length; } console.log(`${((performance.now() - t0) / K * 1000).toFixed(1)} µs  combine + text + name lookup`);
  t0 = performance.now(); for (let k = 0; k < K; k++) { sink += c.values.map((v) => (v === null ? "NULL" : pg2.default.escapeLiteral(v))).join(", ").length; } console.log(`${((performance.now() - t0) / K * 1000).toFixed(1)} µs  escape ${c.values.length} args`);
  console.log(`text ${c.text.length} chars`, sink > 0);
}
const N = Number(process.env.N ?? 4000);

async function run(label: string, op: (i: number) => Promise<unknown>) {
  let next = 0; const go = async (n: number) => { next = 0; await Promise.all(Array.from({ length: 32 }, async () => { while (next < n) await op(next++); })); };
  await go(300);
  const c0 = process.cpuUsage(); const t0 = performance.now(); await go(N); const u = process.cpuUsage(c0);
  console.log(`${((u.user + u.system) / N).toFixed(0).padStart(5)} µs Node CPU  ${(N / ((performance.now() - t0) / 1000)).toFixed(0).padStart(5)} ops/s  ${label}`);
}
let seq = 1_000_000;
function scriptFor(i: number) { return scripts; }
const fresh = (i: number) => { const v = [...insert.values]; v[0] = crypto.randomUUID(); v[3] = String(seq++); v[21] = `x${crypto.randomUUID()}`; return new Sql(insert.strings, v); };
const scripts: string[] = [];
{ const proto = pg.Client.prototype as any; const orig = proto.query; proto.query = function (...a: any[]) { const c = a[0]; scripts.push(typeof c === "string" ? c : c.text); return orig.apply(this, a); };
  await d.sql.transaction(async (t) => { await t.query(find, read); t.defer(fresh(0), ...others); });
  proto.query = orig; }
console.log(scripts.map((x) => x.length), JSON.stringify(scripts).slice(0, 300));
await run("executor: lock+read, then write+commit (1 account)", async (i) => d.sql.transaction(async (t) => { await t.query(find, read); t.defer(fresh(i), ...others); }));
if (!process.env.ONLY) await run("executor: lock+read, then commit (no writes)", async () => d.sql.transaction(async (t) => { await t.query(find, read); }));
const pool = new pg.Pool({ connectionString: url, max: 32 });
await pool.query("CREATE TABLE IF NOT EXISTS bl (id bigserial primary key, a int, d numeric(18,6)); CREATE TABLE IF NOT EXISTS bb (id int primary key, b numeric(18,6)); INSERT INTO bb SELECT g, 1000000 FROM generate_series(1,100) g ON CONFLICT DO NOTHING");
if (!process.env.ONLY) await run("baseline", async (i) => { const c = await pool.connect(); await c.query("BEGIN"); await c.query("INSERT INTO bl (a, d) VALUES ($1, $2)", [i % 100 + 1, "-0.001234"]); await c.query("UPDATE bb SET b = b + $2 WHERE id = $1", [i % 100 + 1, "-0.001234"]); await c.query("COMMIT"); c.release(); });
if (!process.env.ONLY) await run("raw client: same two messages as the executor", async (i) => { const c = await pool.connect(); await c.query({ text: "BEGIN; SELECT 1", types: undefined } as any); await c.query("COMMIT"); c.release(); });
const pgTypes = { getTypeParser: (oid: number, f: any) => (oid === 1700 || oid === 20 ? (x: string) => x : pg.types.getTypeParser(oid, f)) } as any;
// same scripts (the write with a fresh id/sequence each time), on a raw client from a pool where they are already prepared
const pool2 = new pg.Pool({ connectionString: url, max: 32 });
const ready = new WeakSet<object>();
await run("raw client: the executor's own two scripts", async (i) => {
  const c = await pool2.connect();
  if (!ready.has(c)) { for (const x of scripts) for (const part of x.split(";\n")) if (part.startsWith("PREPARE")) await c.query(part); ready.add(c); }
  const rt1 = scripts[0].split(";\n").filter((p) => !p.startsWith("PREPARE")).join(";\n");
  const id = crypto.randomUUID(); const rt2 = scripts[1].split(";\n").filter((p) => !p.startsWith("PREPARE")).join(";\n").replace(/'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '([^']*)', 'm0', '\d+'/, (m0, acc) => `'${id}', '${acc}', 'm0', '${seq++}'`).replace(/'w'/, `'${id}'`);
  await c.query({ text: rt1, types: pgTypes } as any); await c.query({ text: rt2, types: pgTypes } as any); c.release();
});
await pool2.end();
await pool.end(); await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`).catch(() => undefined); await admin.end();
