// Issue 13 item 5: a server on the embedded database (PGlite) is SIGKILLed
// under load and restarted at once, as a supervisor would. The data
// directory's lock must not keep the new process out (its owner is dead),
// yet a second process must still be refused while the first one runs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/open.js";
import { freePort, sleep, spawnSaldo, startSaldo, waitUntilServing, type SaldoProcess } from "../support/fault-infra.js";
import { callers, createMandates, Load, moneyHolds, printReport, scenario, verify, type Callers } from "../support/fault-load.js";

const SECRET = "fault-suite-secret-that-is-long-enough-0123456789";
/** How long the supervisor keeps restarting before giving up. */
const SUPERVISOR_LIMIT_MS = 30_000;

let parent: string;
let who: Callers;
const servers: SaldoProcess[] = [];

beforeAll(async () => {
  who = await callers(SECRET);
  parent = mkdtempSync(path.join(tmpdir(), "saldo-fault-"));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
  rmSync(parent, { recursive: true, force: true });
  printReport("Fault suite (PGlite)");
});

describe("SIGKILL of a server on the embedded database, restarted at once", () => {
  let attempts: { exit: string; output: string }[] = [];
  let reopened = "";
  let intruder = { code: null as number | null, output: "" };
  const result = scenario(
    "PGlite: server SIGKILL + immediate restart",
    async (row) => {
      const dataDir = path.join(parent, "data");
      const port = await freePort();
      let server = await startSaldo({ port, secret: SECRET, dataDir });
      servers.push(server);
      const mandates = await createMandates(server, who, 5);
      const load = new Load({ url: () => server.url, who, mandates, clients: 6 });
      load.start();
      await sleep(3_000);
      load.faultStarted();
      await server.kill("SIGKILL");
      load.faultEnded();
      // What a restarted server does first, done at once: open the data
      // directory. Starting a whole server takes 5 to 20 s on a busy machine,
      // long enough for the dead owner's lock to go stale (10 s) by itself.
      const opening = Date.now();
      reopened = await openDatabase({ dataDir }).then(
        async (db) => {
          await db.close();
          return "opened";
        },
        (error: Error) => error.message,
      );
      row.notes.push(
        `opened right after the kill: ${reopened === "opened" ? `yes, in ${Date.now() - opening} ms` : `no (${reopened.slice(0, 80)})`}`,
      );
      // Then the supervisor: start the server, and again 200 ms after each failed start.
      const since = Date.now();
      for (;;) {
        const next = spawnSaldo({ port, secret: SECRET, dataDir });
        servers.push(next);
        try {
          await waitUntilServing(next);
          server = next;
          break;
        } catch {
          const { code, signal } = await next.exited;
          attempts.push({ exit: signal ?? `code ${code}`, output: next.output() });
          if (Date.now() - since > SUPERVISOR_LIMIT_MS)
            throw new Error(`no start within ${SUPERVISOR_LIMIT_MS / 1000} s:\n${next.output()}`);
          await sleep(200);
        }
      }
      row.notes.push(
        `started again after ${attempts.length} refused start(s), serving ${((Date.now() - since) / 1000).toFixed(1)} s after the kill` +
          (attempts[0]
            ? ` (first refusal: ${attempts[0].output.match(/"level":"fatal".*?"msg":"([^"]*)"/)?.[1]?.slice(0, 90) ?? attempts[0].exit})`
            : ""),
      );
      await load.recovered(20_000);
      await sleep(1_500);
      await load.stop();
      row.recoveryMs = load.recoveryMs();
      row.alive = server.alive();

      // A second process on the same folder while the first one runs.
      const second = spawnSaldo({ port: await freePort(), secret: SECRET, dataDir });
      servers.push(second);
      const exited = await Promise.race([second.exited, sleep(60_000).then(() => null)]);
      intruder = { code: exited?.code ?? null, output: second.output() };
      await second.kill();

      await load.resendAll(8);
      await server.stop();
      row.verdict = await verify(load, { dataDir });
    },
    300_000,
  );

  it("opens the data directory right after the crash: a lock whose owner is dead is taken at once (issue 13 item 5)", () => {
    expect(reopened).toBe("opened");
  });
  it("starts the server again at the first attempt", () => {
    expect(attempts.map((a) => a.exit)).toEqual([]);
    expect(result().alive).toBe(true);
  });
  it("still refuses a second process on the same data directory while the first one runs", () => {
    expect(intruder.code, intruder.output).toBe(1);
    expect(intruder.output).toMatch(/in use by another Saldo process/);
  });
  moneyHolds(result);
});
