// The fault suite's own dependencies, never the shared ones: a PostgreSQL
// cluster made with pg_createcluster on a free port (dropped afterwards), a
// redis-server on a free port, and the real Saldo server process, each of
// which a scenario may kill, stop or restart.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { poolSession } from "../../src/db/open.js";
import { applyMigrations } from "../../src/db/migrations.js";
import { freePort } from "./live.js";

export { freePort };

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

// ------------------------------------------------------------- PostgreSQL

const PG_VERSION = "15";
const CLUSTER_PREFIX = "saldo_fault_";

export interface PostgresCluster {
  name: string;
  port: number;
  /** A new database with Saldo's migrations applied; returns its URL. */
  createDatabase(): Promise<string>;
  /** pg_ctlcluster restart -m fast: every connection is terminated (57P01), the server is back when it returns. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  drop(): Promise<void>;
}

async function pgctl(name: string, action: string, ...args: string[]) {
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", PG_VERSION, name, action, ...args], { timeout: 60_000 });
}

/**
 * Drops clusters an earlier run of this suite left behind (its process was
 * killed before afterAll ran). The name carries the creator's pid, so a run
 * in progress elsewhere on the machine is left alone.
 */
async function dropAbandonedClusters() {
  const { stdout } = await run("pg_lsclusters", ["--no-header"]);
  for (const line of stdout.split("\n")) {
    const [version, name] = line.trim().split(/\s+/);
    const pid = Number(name?.startsWith(CLUSTER_PREFIX) ? name.slice(CLUSTER_PREFIX.length).split("_")[0] : NaN);
    if (version === PG_VERSION && Number.isInteger(pid) && !pidAlive(pid)) {
      await run("pg_dropcluster", ["--stop", PG_VERSION, name]).catch(() => undefined);
    }
  }
}

/**
 * A cluster of the test's own. initdb's --auth=trust gives it trust for local
 * sockets and for TCP on 127.0.0.1/::1 (pg_hba.conf), so the server connects
 * as postgres without a password, like the shared one. Run as root,
 * pg_createcluster makes the cluster owned by postgres.
 */
export async function createPostgresCluster(): Promise<PostgresCluster> {
  await dropAbandonedClusters();
  const name = `${CLUSTER_PREFIX}${process.pid}_${randomBytes(3).toString("hex")}`;
  const port = await freePort();
  await run("pg_createcluster", [PG_VERSION, name, "--port", String(port), "--start", "--", "--auth=trust"], { timeout: 120_000 });
  const serverUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    name,
    port,
    async createDatabase() {
      const database = `saldo_fault_${++databases}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${database}`);
      } finally {
        await admin.end();
      }
      const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
      const migrator = new pg.Client({ connectionString: url });
      await migrator.connect();
      try {
        await applyMigrations(poolSession(migrator));
      } finally {
        await migrator.end();
      }
      return url;
    },
    restart: () => pgctl(name, "restart", "-m", "fast"),
    stop: () => pgctl(name, "stop", "-m", "fast"),
    start: () => pgctl(name, "start"),
    drop: async () => void (await run("pg_dropcluster", ["--stop", PG_VERSION, name], { timeout: 60_000 })),
  };
}

// ------------------------------------------------------------------ Redis

export interface RedisServer {
  port: number;
  url: string;
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: it keeps nothing). */
  start(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pong = await run("redis-cli", ["-p", String(port), "ping"]).then(
        (r) => r.stdout.trim(),
        () => "",
      );
      if (pong === "PONG") return;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server on port ${port} did not start`);
      await sleep(50);
    }
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      const dying = child;
      if (!dying || dying.exitCode !== null || dying.signalCode !== null) return;
      await new Promise((resolve) => {
        dying.once("exit", resolve);
        dying.kill("SIGKILL");
      });
    },
    start,
  };
}

// ------------------------------------------------------------ Saldo server

/**
 * The command that runs the server, split on spaces; SALDO_SERVER_COMMAND
 * overrides it (e.g. "node dist/server.js" once the server is compiled). It
 * must be the server process itself, not a wrapper that spawns it, so that
 * SIGKILL reaches the server: `node --import tsx`, not the tsx CLI.
 */
export const SERVER_COMMAND = process.env.SALDO_SERVER_COMMAND ?? "node --import tsx src/server.ts";

export interface SaldoProcess {
  port: number;
  url: string;
  pid: number;
  alive(): boolean;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface SaldoOptions {
  port: number;
  secret: string;
  databaseUrl?: string;
  dataDir?: string;
  redisUrl?: string;
  env?: Record<string, string>;
}

/** Starts the server (does not wait for it: see waitUntilServing). */
export function spawnSaldo(options: SaldoOptions): SaldoProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "test",
    PORT: String(options.port),
    JWT_SECRET: options.secret,
    ...options.env,
  };
  // Only what this server is told: CI exports these for the whole suite.
  for (const name of ["DATABASE_URL", "REDIS_URL", "SALDO_DATA_DIR"]) delete env[name];
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  if (options.dataDir) env.SALDO_DATA_DIR = options.dataDir;
  if (options.redisUrl) env.REDIS_URL = options.redisUrl;
  const [command, ...args] = SERVER_COMMAND.split(/\s+/).filter(Boolean);
  const child = spawn(command === "node" ? process.execPath : command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    port: options.port,
    url: `http://127.0.0.1:${options.port}/graphql`,
    pid: child.pid!,
    alive,
    output: () => output,
    exited,
    kill: async (signal = "SIGKILL") => {
      if (!alive()) return;
      child.kill(signal);
      await exited;
    },
    stop: async () => {
      if (!alive()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until /health answers 200; rejects when the process exits first or after `timeoutMs`. */
export async function waitUntilServing(server: SaldoProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.alive()) throw new Error(`server exited before serving:\n${server.output().slice(-4000)}`);
    const ok = await fetch(`http://127.0.0.1:${server.port}/health`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`server did not serve within ${timeoutMs / 1000} s:\n${server.output().slice(-4000)}`);
}

export async function startSaldo(options: SaldoOptions): Promise<SaldoProcess> {
  const server = spawnSaldo(options);
  try {
    await waitUntilServing(server);
  } catch (error) {
    await server.kill();
    throw error;
  }
  return server;
}
