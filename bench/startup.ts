// How fast the compiled server is ready, and how much memory it holds after
// load, next to baselines measured in the same run:
//
//   initdb      PGlite creating an empty data directory, alone (what a fresh start cost before the template)
//   dist fresh  `node dist/server.js` on a fresh data directory (copied from the template
//               npm install made, src/db/template.ts), until /ready answers 200
//   dist again  the same on the data directory it left (no initdb, no migrations)
//   tsx fresh   `node --import tsx src/server.ts` (the start before the build), fresh directory
//
// then RSS of a dist server after a load of money moves (LOAD_MOVES usage
// debits, 16 at a time, over HTTP), read from /proc: on the embedded
// database, and on a fresh PostgreSQL database (BENCH_DATABASE_URL's server,
// default the local one; created and dropped). Usage:
// npm run bench:startup [-- --runs 3] (builds dist first)
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { signToken } from "../src/auth.js";
import { freshDatabase } from "./fresh-database.js";
import { freePort } from "./processes.js";

const root = path.resolve(import.meta.dirname, "..");
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 3;
const LOAD_MOVES = 4_000;
const SECRET = "bench-startup-secret-that-is-long-enough-0123";
const scratch = mkdtempSync(path.join(tmpdir(), "saldo-startup-"));

interface Started {
  child: ChildProcess;
  port: number;
  readyMs: number;
}

async function start(args: string[], dataDir: string, databaseUrl?: string): Promise<Started> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), JWT_SECRET: SECRET, SALDO_DATA_DIR: dataDir, LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const began = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).status === 200) return { child, port, readyMs: performance.now() - began };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function stop(server: Started) {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

async function initdbMs(dir: string): Promise<number> {
  const began = performance.now();
  const db = await PGlite.create(dir);
  await db.close();
  return performance.now() - began;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const results: Record<string, number[]> = { initdb: [], "dist fresh": [], "dist again": [], "tsx fresh": [] };
  for (let i = 0; i < runs; i++) {
    results.initdb.push(await initdbMs(path.join(scratch, `initdb-${i}`)));
    const dataDir = path.join(scratch, `dist-${i}`);
    const fresh = await start(["dist/server.js"], dataDir);
    results["dist fresh"].push(fresh.readyMs);
    await stop(fresh);
    const again = await start(["dist/server.js"], dataDir);
    results["dist again"].push(again.readyMs);
    await stop(again);
    const tsx = await start(["--import", "tsx", "src/server.ts"], path.join(scratch, `tsx-${i}`));
    results["tsx fresh"].push(tsx.readyMs);
    await stop(tsx);
  }
  const floor = median(results.initdb);
  console.log(
    `\nready on /ready, median of ${runs} runs (load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`,
  );
  console.log("what           median ms   × initdb alone");
  for (const [what, values] of Object.entries(results)) {
    console.log(`${what.padEnd(14)} ${median(values).toFixed(0).padStart(9)}   ${(median(values) / floor).toFixed(2).padStart(6)}`);
  }

  console.log(`\nmemory of node dist/server.js: RSS idle, then after ${LOAD_MOVES} usage debits over HTTP, 16 at a time`);
  const embedded = await memoryUnderLoad(path.join(scratch, "load"));
  console.log(
    `embedded (PGlite)   idle ${embedded.idle} MB   after load ${embedded.loaded} MB (peak ${embedded.peak} MB)   ${embedded.rate}/s`,
  );
  // The same on PostgreSQL: the server without a database in its own memory.
  const database = freshDatabase(process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres");
  try {
    await database.create();
    const postgres = await memoryUnderLoad(path.join(scratch, "unused"), database.url);
    console.log(
      `PostgreSQL          idle ${postgres.idle} MB   after load ${postgres.loaded} MB (peak ${postgres.peak} MB)   ${postgres.rate}/s`,
    );
  } finally {
    await database.drop();
  }
}

async function memoryUnderLoad(dataDir: string, databaseUrl?: string) {
  const server = await start(["dist/server.js"], dataDir, databaseUrl);
  const idle = rssMb(server.child.pid!);
  const admin = await signToken({ roles: ["SYSADMIN"], userId: "bench" }, SECRET);
  const gateway = await signToken({ roles: ["SERVICE"] }, SECRET);
  const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };
  await gql(admin, `mutation { upsertMandate(input: { id: "bench", name: "Bench" }) { userErrors { code } } }`, {});
  await gql(
    admin,
    `mutation { creditAccount(input: { mandateId: "bench", amount: "1000000", description: "Load", idempotencyKey: "load" }) { userErrors { code } } }`,
    {},
  );
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < LOAD_MOVES) {
        const key = `move-${next++}`;
        await gql(gateway, `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { userErrors { code } } }`, {
          i: { mandateId: "bench", provider: "openai", model: "m", cost: "0.001", idempotencyKey: key },
        });
      }
    }),
  );
  const rate = Math.round(LOAD_MOVES / ((performance.now() - began) / 1000));
  const loaded = rssMb(server.child.pid!);
  await stop(server);
  return { idle: idle.rss.toFixed(0), loaded: loaded.rss.toFixed(0), peak: loaded.peak.toFixed(0), rate };
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => rmSync(scratch, { recursive: true, force: true }));
