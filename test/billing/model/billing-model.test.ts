// Model-based test of the billing domain: fast-check draws sequences of
// commands from the whole surface (money moves, holds, retries, concurrent
// duplicates, the clock, prices, settings and billing-model switches,
// account settings, Stripe events delivered 1-3 times, reads), runs each
// against Saldo and against the reference model (reference.ts, written from
// billing.md and the rules of issue 11), and compares after every command.
// A difference fails the run and fast-check shrinks it to a minimal sequence.
//
// CI (npm test): a fixed seed and a bounded number of runs, on PGlite and on
// PostgreSQL. Longer, with a random seed that is printed:
//   npm run test:model -- --runs 10000 [--seed N] [--db postgres]
// Environment (what the script sets): MODEL_RUNS, MODEL_SEED, MODEL_PATH and
// MODEL_REPLAY (replay one counterexample: the seed, path and replayPath
// fast-check printed), MODEL_COMMANDS (longest sequence), MODEL_WEIGHTS
// (e.g. "switchModel=10,*=1"; see commands.ts).
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { testDatabaseKind } from "../../support/db.js";
import { commandSequences, weightsFrom } from "./commands.js";
import { Runner } from "./runner.js";
import { newRunId, Saldo } from "./saldo.js";

/** CI's fixed seed; a failure there is replayed with MODEL_SEED and MODEL_PATH. */
const CI_SEED = 20261111;
// About a minute each on the 2-core development machine (PostgreSQL answers faster than PGlite here).
const CI_RUNS = { pglite: 80, postgres: 150 } as const;

const RUNS = Number(process.env.MODEL_RUNS || CI_RUNS[testDatabaseKind]);
const SEED = Number(process.env.MODEL_SEED || CI_SEED);
const PATH = process.env.MODEL_PATH || undefined;
const REPLAY = process.env.MODEL_REPLAY || undefined;
const COMMANDS = Number(process.env.MODEL_COMMANDS || 40);
const WEIGHTS = weightsFrom(process.env.MODEL_WEIGHTS);
/** The ledger's invariants are checked every this many commands, and at the end of each run. */
const INVARIANTS_EVERY = 10;
const LONG = !!process.env.MODEL_RUNS;

let saldo: Saldo;

beforeAll(async () => {
  saldo = await Saldo.open();
});
afterAll(async () => {
  await saldo?.close();
});

describe("the billing domain against its reference model", () => {
  it(
    `keeps every rule over ${RUNS} random command sequences (seed ${SEED})`,
    async () => {
      console.info(`[model] ${testDatabaseKind}: ${RUNS} runs of up to ${COMMANDS} commands, seed ${SEED}${PATH ? `, path ${PATH}` : ""}`);
      const started = Date.now();
      let commands = 0;
      await fc.assert(
        fc.asyncProperty(commandSequences(WEIGHTS, COMMANDS, REPLAY), async (sequence) => {
          const runner = await Runner.start(saldo, newRunId(), { invariantsEvery: INVARIANTS_EVERY });
          await fc.asyncModelRun(() => ({ model: { state: runner.state }, real: runner }), sequence);
          await runner.checkInvariants();
          commands += runner.trace.length;
        }),
        { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: !!PATH },
      );
      console.info(`[model] ${testDatabaseKind}: ${commands} commands in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
    // Long runs take what they take; in CI a failing run still has time to shrink.
    LONG ? 0 : 15 * 60_000,
  );
});
