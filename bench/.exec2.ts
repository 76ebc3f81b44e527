import pg from "pg";
import crypto from "node:crypto";
import { performance } from "node:perf_hooks";
import { openDatabase, poolSession, Sql, type SqlTransaction } from "../src/db.js";
import { applyMigrations } from "../src/db/migrations.js";
import { createBillingContext, creditAccount, recordUsage, upsertMandate } from "../src/billing/index.js";
const server = "postgresql://postgres@127.0.0.1:5432/postgres";
const name = "saldo_exec2"; const admin = new pg.Client({ connectionString: server }); await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.query(`CREATE DATABASE ${name}`);
const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
const m = new pg.Client({ connectionString: url }); await m.connect(); await applyMigrations(poolSession(m)); await m.end();
const d = await openDatabase({ databaseUrl: url, poolSize: 1 });
const ctx = createBillingContext(d.prisma);
const scripts: string[] = [];
const proto = pg.Client.prototype as any; const orig = proto.query;
proto.query = function (...a: any[]) { const c = a[0]; if (typeof c === "object" && c?.text) scripts.push(c.text); return orig.apply(this, a); };
await upsertMandate(ctx, { id: "m1", name: "m1" }); await creditAccount(ctx, { mandateId: "m1", amount: "1000000", description: "c", idempotencyKey: "c" });
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w" });
await recordUsage(ctx, { mandateId: "m1", provider: "openai", model: "x", cost: "0.001234", idempotencyKey: "w2" });
proto.query = orig;
const parts = (x: string) => x.split(/;\n(?=BEGIN|PREPARE|EXECUTE|COMMIT)/);
const prepares = scripts.flatMap(parts).filter((p) => p.startsWith("PREPARE"));
const [rt1, rt2] = scripts.slice(-2);
console.log("prepares", prepares.length, "rt1", rt1.length, "rt2", rt2.length);
let seqn = 5_000_000;
const types = { getTypeParser: (oid: number, f: any) => (oid === 1700 || oid === 20 ? (x: string) => x : pg.types.getTypeParser(oid, f)) } as any;
async function loop(label: string, workers: number, op: (c: pg.Client, i: number) => Promise<unknown>) {
  const clients = await Promise.all(Array.from({ length: workers }, async () => { const c = new pg.Client({ connectionString: url }); await c.connect(); for (const p of prepares) await c.query(p); return c; }));
  let next = 0; const N = 4000;
  const go = async (n: number) => { next = 0; await Promise.all(clients.map(async (c) => { while (next < n) await op(c, next++); })); };
  await go(300);
  const c0 = process.cpuUsage(); const t0 = performance.now(); await go(N); const u = process.cpuUsage(c0);
  console.log(`${((u.user + u.system) / N).toFixed(0).padStart(5)} µs Node CPU  ${(N / ((performance.now() - t0) / 1000)).toFixed(0).padStart(5)} ops/s  ${label}`);
  for (const c of clients) await c.end();
}
const rt1Body = parts(rt1).filter((p) => !p.startsWith("PREPARE")).join(";\n");
const rt2Body = parts(rt2).filter((p) => !p.startsWith("PREPARE")).join(";\n").replace(/COMMIT$/, "ROLLBACK");
const fix = (x: string) => x.replace(/^EXECUTE (\w+)\('[0-9a-f-]{36}'/, (_m, n) => `EXECUTE ${n}('${crypto.randomUUID()}'`).replace(/^(EXECUTE \w+\('[^']*', '[^']*', '[^']*', )'\d+'/, (_m, p) => `${p}'${seqn++}'`).replace("'w2'", `'k${seqn}'`);
const poolP = new pg.Pool({ connectionString: url, max: 32 });
const warmed = new WeakSet<object>();
async function viaPool(label: string, op: (c: pg.PoolClient) => Promise<unknown>) {
  let next = 0; const N = 4000;
  const go = async (n: number) => { next = 0; await Promise.all(Array.from({ length: 32 }, async () => { while (next < n) { next++; const c = await poolP.connect(); if (!warmed.has(c)) { for (const p of prepares) await c.query(p); warmed.add(c); } await op(c); c.release(); } })); };
  await go(400);
  const c0 = process.cpuUsage(); const t0 = performance.now(); await go(N); const u = process.cpuUsage(c0);
  console.log(`${((u.user + u.system) / N).toFixed(0).padStart(5)} µs Node CPU  ${(N / ((performance.now() - t0) / 1000)).toFixed(0).padStart(5)} ops/s  ${label}`);
}
for (let r = 0; r < 2; r++) {
  await loop("dedicated clients: RT1 + RT2 (write, ROLLBACK)", 32, async (c) => { await c.query({ text: rt1Body, types } as any); await c.query({ text: fix(rt2Body), types } as any); });
  await viaPool("pool.connect per op: RT1 + RT2 (write, ROLLBACK)", async (c) => { await c.query({ text: rt1Body, types } as any); await c.query({ text: fix(rt2Body), types } as any); });
}
await poolP.end();
await d.close(); await admin.query(`DROP DATABASE ${name} WITH (FORCE)`).catch(() => undefined); await admin.end();
