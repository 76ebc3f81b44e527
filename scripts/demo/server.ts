// The demo's Saldo: the server `npm start` runs, as a child process on a
// port the system picks, on the embedded database; or one already running.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface DemoServer {
  /** http://localhost:<port> */
  origin: string;
  /** Whether this demo started it (and stops it at the end). */
  started: boolean;
  stop(): Promise<void>;
}

const root = path.resolve(import.meta.dirname, "../..");
const LISTENING = /GraphQL and GraphiQL on http:\/\/localhost:(\d+)\/graphql/;

export class ServerStartError extends Error {}

/** Starts `src/server.ts` on the embedded database in `dataDir` and waits until /health answers. */
export async function startServer(dataDir: string, timeoutMs = 180_000): Promise<DemoServer> {
  // LOG_LEVEL info at least: the demo reads the port from the server's "listening" line.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", SALDO_DATA_DIR: dataDir, LOG_LEVEL: "info" };
  // The embedded database, and events in-process: one server, nothing else needed.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = () => stopChild(child, exited);
  // Never leave the server behind, whatever ends the demo.
  process.once("exit", () => child.kill("SIGKILL"));

  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new ServerStartError(explain(output));
      const port = LISTENING.exec(output)?.[1];
      if (port && (await healthy(`http://localhost:${port}`))) return { origin: `http://localhost:${port}`, started: true, stop };
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new ServerStartError(`Saldo did not start within ${timeoutMs / 1000} s:\n${output}`);
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A server someone else runs, given by its GraphQL URL. */
export async function useServer(graphqlUrl: string): Promise<DemoServer> {
  const origin = new URL(graphqlUrl).origin;
  if (!(await healthy(origin))) throw new ServerStartError(`no Saldo answers at ${origin}/health`);
  return { origin, started: false, stop: async () => undefined };
}

async function healthy(origin: string): Promise<boolean> {
  try {
    return (await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function explain(output: string): string {
  if (/in use by another Saldo process/.test(output)) {
    return `${output.trim()}\nIs \`npm start\` running on it? Then run the demo against that server: npm run demo -- --url http://localhost:4000/graphql`;
  }
  return `Saldo stopped while starting:\n${output}`;
}
