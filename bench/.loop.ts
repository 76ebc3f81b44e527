import pg from "pg";
import { performance } from "node:perf_hooks";
import { openDatabase, poolSession } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_loop"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 32 });
const ctx = createBillingContext(d.prisma);
const mandates = Array.from({ length: 100 }, (_, i) => `m${i}`);
for (const id of mandates) { await upsertMandate(ctx, { id, name: id }); await creditAccount(ctx, { mandateId: id, amount: "1000000", description: "c", idempotencyKey: "c" }); }
import { readFileSync, readdirSync } from "node:fs";
function pgCpuMs() { let t = 0; for (const pid of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) { try { const st = readFileSync(`/proc/${pid}/stat`, "utf8"); if (!st.includes("(postgres)")) continue; const f = st.slice(st.lastIndexOf(")") + 2).split(" "); t += Number(f[11]) + Number(f[12]); } catch {} } return t * 10; }
import { PerformanceObserver, monitorEventLoopDelay } from "node:perf_hooks";
let gcMs = 0, gcCount = 0; const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { gcMs += e.duration; gcCount++; } }); obs.observe({ entryTypes: ["gc"] });
const N = Number(process.env.N ?? 4000); let next = 0; const pg0 = pgCpuMs(); gcMs = 0; gcCount = 0;
const cpu0 = process.cpuUsage(); const t0 = performance.now();
await Promise.all(Array.from({ length: 32 }, async () => { while (next < N) { const i = next++; await recordUsage(ctx, { mandateId: mandates[i % 100], provider: "openai", model: "x", cost: "0.001234", idempotencyKey: `k${i}` }); } }));
const cpu = process.cpuUsage(cpu0); const s = (performance.now() - t0) / 1000;
console.log(`GC ${(gcMs / N * 1000).toFixed(0)} µs/op in ${gcCount} collections; heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
console.log(`PostgreSQL CPU ${((pgCpuMs() - pg0) / N).toFixed(3)} ms/op`);
console.log(`${N} ops in ${s.toFixed(2)} s = ${(N / s).toFixed(0)} ops/s, Node CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms/op (user ${(cpu.user / 1000 / N).toFixed(3)}, sys ${(cpu.system / 1000 / N).toFixed(3)})`);
// the baseline shape on the same server
const pool = new pg.Pool({ connectionString: url, max: 32 });
await pool.query("CREATE TABLE bl (id bigserial primary key, a int, d numeric(18,6), t timestamptz default now()); CREATE TABLE bb (id int primary key, b numeric(18,6)); INSERT INTO bb SELECT g, 1000000 FROM generate_series(1,100) g");
next = 0; const pgb = pgCpuMs(); const c0 = process.cpuUsage(); const tb = performance.now();
await Promise.all(Array.from({ length: 32 }, async () => { while (next < N) { const i = next++; const c = await pool.connect(); await c.query("BEGIN"); await c.query("INSERT INTO bl (a, d) VALUES ($1, $2)", [i % 100 + 1, "-0.001234"]); await c.query("UPDATE bb SET b = b + $2 WHERE id = $1", [i % 100 + 1, "-0.001234"]); await c.query("COMMIT"); c.release(); } }));
const cb = process.cpuUsage(c0);
console.log(`baseline: ${(N / ((performance.now() - tb) / 1000)).toFixed(0)} ops/s, Node CPU ${((cb.user + cb.system) / 1000 / N).toFixed(3)} ms/op, PostgreSQL CPU ${((pgCpuMs() - pgb) / N).toFixed(3)} ms/op`);
await pool.end();
await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`); await admin.end();
