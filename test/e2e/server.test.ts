// The newcomer's path: the real server process (what `npm start` runs) on a
// free port, with an empty data directory, answering over HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/auth.js";
import { createTestDatabase, testDatabaseKind, type TestDatabase } from "../support/db.js";
import { freePort } from "../support/live.js";

const SECRET = "e2e-secret-that-is-long-enough-0123456789";
const root = path.resolve(import.meta.dirname, "../..");
let dataDir: string;
let postgres: TestDatabase | undefined;
/** Every server a test started: killed in afterEach even when the test failed. */
const running = new Set<ChildProcess>();

interface Started {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startServer(port: number): Started {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), JWT_SECRET: SECRET, SALDO_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  if (postgres) env.DATABASE_URL = postgres.url;
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  running.add(child);
  void exited.then(() => running.delete(child));
  return { process: child, output: () => output, exited };
}

async function waitForHealth(port: number, server: Started): Promise<void> {
  // Generous: a loaded 2-core machine transpiles and starts PGlite slowly.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not become healthy:\n${server.output()}`);
}

async function stop(server: Started) {
  server.process.kill("SIGTERM");
  return server.exited;
}

async function query(port: number, body: string, token?: string) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return response.json();
}

beforeAll(async () => {
  dataDir = path.join(mkdtempSync(path.join(tmpdir(), "saldo-e2e-")), "data");
  if (testDatabaseKind === "postgres") postgres = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(
    [...running].map((child) => {
      child.kill("SIGKILL");
      return new Promise((resolve) => child.once("exit", resolve));
    }),
  );
});
afterAll(async () => {
  await postgres?.close();
  rmSync(path.dirname(dataDir), { recursive: true, force: true });
});

describe(`npm start (${testDatabaseKind})`, () => {
  it("serves GraphQL and GraphiQL, keeps data across restarts", { timeout: 300_000 }, async () => {
    const token = await signToken({ roles: ["SYSADMIN"], userId: "e2e" }, SECRET);
    const port = await freePort();
    const first = startServer(port);
    await waitForHealth(port, first);
    expect(await query(port, '{"query":"{ viewer { roles } }"}', token)).toEqual({ data: { viewer: { roles: ["SYSADMIN"] } } });
    const graphiql = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: "text/html" } });
    expect(await graphiql.text()).toContain("GraphiQL");
    const created = await query(
      port,
      '{"query":"mutation { upsertMandate(input: {id: \\"kept\\", name: \\"Kept\\"}) { userErrors { code } } }"}',
      token,
    );
    expect(created).toEqual({ data: { upsertMandate: { userErrors: [] } } });
    expect(await stop(first)).toBe(0);

    const second = startServer(port);
    await waitForHealth(port, second);
    expect(await query(port, '{"query":"{ mandate(id: \\"kept\\") { name } }"}', token)).toEqual({ data: { mandate: { name: "Kept" } } });
    expect(await stop(second)).toBe(0);
  });

  it.runIf(testDatabaseKind === "pglite")(
    "refuses a second process on the same data directory with a clear message",
    { timeout: 240_000 },
    async () => {
      dataDir = path.join(path.dirname(dataDir), "second");
      const port = await freePort();
      const first = startServer(port);
      await waitForHealth(port, first);
      const second = startServer(await freePort());
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/in use by another Saldo process/);
      expect(await stop(first)).toBe(0);
    },
  );

  it.runIf(testDatabaseKind === "pglite")("explains what to do with a broken data directory instead of hanging", async () => {
    const broken = path.join(path.dirname(dataDir), "broken");
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(broken, { recursive: true });
    writeFileSync(path.join(broken, "PG_VERSION"), "garbage\n");
    const previous = dataDir;
    dataDir = broken;
    try {
      const server = startServer(await freePort());
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/could not be opened.*rm -rf/s);
    } finally {
      dataDir = previous;
    }
  });
});
