// Server processes of a benchmark: started on a free port, waited for,
// stopped (also when the benchmark exits any other way), and measured from
// Linux's /proc: CPU time and resident memory of the process and its
// descendants (a wrapper such as `tsx` runs the server in a child).
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";

/** Ticks per second of /proc's CPU times (USER_HZ; 100 on Linux for decades). */
const TICKS_PER_SECOND = 100;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  port: number;
  /** The last 64 KB of its stdout and stderr. */
  output(): string;
  /** Lines it wrote to stderr since the start, and the first 20 of them. */
  readonly stderrLines: number;
  readonly firstStderrLines: string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const started = new Set<ChildProcess>();
// Whatever way the benchmark ends (an error, Ctrl-C, process.exit), no server stays behind.
process.on("exit", () => {
  for (const child of started) child.kill("SIGKILL");
});

/** Starts `command` (split at spaces, no shell) in `cwd` with `env`. */
export function startServer(name: string, command: string, cwd: string, env: NodeJS.ProcessEnv, port: number): ServerProcess {
  const [file, ...args] = command.trim().split(/\s+/);
  const child = spawn(file === "node" ? process.execPath : file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let output = "";
  let stderrLines = 0;
  const firstStderrLines: string[] = [];
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65536);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", (chunk: Buffer) => {
    keep(chunk);
    const lines = chunk
      .toString()
      .split("\n")
      .filter((line) => line.trim() !== "");
    stderrLines += lines.length;
    firstStderrLines.push(...lines.slice(0, 20 - firstStderrLines.length));
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", (error) => {
      output += `\n${error.message}`;
      resolve(-1);
    });
    child.once("exit", (code) => resolve(code));
  });
  void exited.then(() => started.delete(child));
  return {
    name,
    child,
    port,
    output: () => output,
    get stderrLines() {
      return stderrLines;
    },
    firstStderrLines,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 2xx; fails when the process exits first or after `timeoutMs`. */
export async function waitUntilReady(server: ServerProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited early:\n${server.output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${server.name} did not become ready within ${timeoutMs / 1000} s:\n${server.output()}`);
}

/** The process and all its descendants (from /proc/<pid>/task/<tid>/children). */
function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${all[i]}/task`)) {
        const children = readFileSync(`/proc/${all[i]}/task/${task}/children`, "utf8").trim();
        if (children) all.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; 0 when it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

function statusKb(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeUsage {
  processes: number;
  cpuSeconds: number;
  /** Resident memory now, MB. */
  rssMb: number;
  /** Peak resident memory (VmHWM), MB, summed over the processes. */
  peakRssMb: number;
}

/** CPU time and memory of a server process and its descendants. */
export function treeUsage(pid: number | undefined): TreeUsage {
  if (pid === undefined) return { processes: 0, cpuSeconds: 0, rssMb: 0, peakRssMb: 0 };
  const pids = processTree(pid);
  return {
    processes: pids.length,
    cpuSeconds: pids.reduce((sum, p) => sum + processCpuSeconds(p), 0),
    rssMb: pids.reduce((sum, p) => sum + statusKb(p, "VmRSS"), 0) / 1024,
    peakRssMb: pids.reduce((sum, p) => sum + statusKb(p, "VmHWM"), 0) / 1024,
  };
}

/**
 * Waits until the process tree is idle (under 10 % of a core over 250 ms),
 * at most `timeoutMs`: work a measurement left behind (requests whose client
 * went away still run to the end) must not slow the next one. Returns the
 * milliseconds waited.
 */
export async function quiesce(pid: number | undefined, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const before = treeUsage(pid).cpuSeconds;
    await new Promise((r) => setTimeout(r, 250));
    if (treeUsage(pid).cpuSeconds - before <= 0.025) break;
  }
  return Date.now() - started;
}

/** CPU seconds used so far by each process whose command is `comm` (e.g. every PostgreSQL backend), by pid. */
export function cpuSecondsByPid(comm: string): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) === comm) byPid.set(Number(entry), processCpuSeconds(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/**
 * CPU seconds those processes used between two readings: of every process
 * alive at the second (all of it for one started since); what a process that
 * ended meanwhile used is not seen.
 */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}
