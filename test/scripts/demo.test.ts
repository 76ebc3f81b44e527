// `npm run demo -- --short` as a newcomer would run it: it starts its own
// server on an empty embedded database, tells the whole story, checks the
// ledger, exits 0, and leaves its data behind. Runs in the pglite project
// only (vitest.config.ts): the demo always uses the embedded database.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { openDatabase } from "../../src/db/open.js";

const root = path.resolve(import.meta.dirname, "../..");
const parent = mkdtempSync(path.join(tmpdir(), "saldo-demo-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

function runDemo(dataDir: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SALDO_DATA_DIR: dataDir };
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--short"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const killer = setTimeout(() => child.kill("SIGINT"), 200_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    }),
  );
}

it("tells the whole loop, checks the ledger, exits 0 and leaves the data", { timeout: 240_000 }, async () => {
  const dataDir = path.join(parent, "data");
  const { code, output } = await runDemo(dataDir);
  expect(code, output).toBe(0);

  const mandateId = /Mandate (demo-[\d-]+):/.exec(output)?.[1];
  expect(mandateId, output).toBeDefined();
  expect(output).toMatch(/ProviderNotAllowedError/);
  expect(output).toMatch(/failed at the provider .*: hold released, nothing booked/);
  expect(output).toMatch(/refused before the call: InsufficientBalanceError \(available [\d.]+ CHF, estimate [\d.]+ CHF\)/);
  // Once per crossing: near the threshold a settled hold can lift it above again (scripts/demo.ts).
  expect(output.match(/⚠ balanceWarning/g)?.length).toBeGreaterThanOrEqual(1);
  expect(output).toMatch(/admin top-up of 2 CHF \(creditAccount\): balance [\d.]+ CHF; warning re-armed \(isWarning false/);
  // The demo's own checks of the ledger, all passed.
  expect(output.match(/^✓ /gm)).toHaveLength(5);
  expect(output).not.toMatch(/^✗ /m);
  expect(output).toMatch(new RegExp(`The data stays in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(mandate ${mandateId}\\)`));

  // The server is gone (the directory opens) and the data is there.
  const db = await openDatabase({ dataDir });
  try {
    const debits = await db.prisma.transaction.count({ where: { mandateId, transactionType: "DEBIT" } });
    const booked = Number(/calls in [\d.]+ s — (\d+) booked/.exec(output)?.[1]);
    expect(debits).toBe(booked);
    expect(debits).toBeGreaterThan(10);
  } finally {
    await db.close();
  }
});
