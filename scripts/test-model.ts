// The model-based billing test, longer than CI runs it and with a random seed:
//   npm run test:model -- --runs 10000 [--seed N] [--db pglite|postgres] [--commands 40] [--weights "a=1,*=0"]
// Prints the seed first; a failure prints its shrunk sequence, the
// { seed, path } and the replayPath that replay it:
//   npm run test:model -- --seed N --path P --replay R (and the same --weights and --commands)
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    seed: { type: "string" },
    path: { type: "string" },
    replay: { type: "string" },
    db: { type: "string", default: "pglite" },
    commands: { type: "string" },
    weights: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

const usage =
  'usage: npm run test:model -- [--runs 1000] [--seed N] [--path P --replay R] [--db pglite|postgres] [--commands 40] [--weights "switchModel=10,*=1"]';
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (
  !/^\d+$/.test(values.runs!) ||
  (values.seed !== undefined && !/^-?\d+$/.test(values.seed)) ||
  !["pglite", "postgres"].includes(values.db!)
) {
  console.error(usage);
  process.exit(2);
}
if (values.db === "postgres" && !process.env.TEST_DATABASE_URL) {
  console.error("--db postgres needs TEST_DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres");
  process.exit(2);
}

const seed = values.seed ?? String(randomInt(2 ** 31));
console.log(
  `[model] seed ${seed}, ${values.runs} runs on ${values.db} (replay: npm run test:model -- --seed ${seed} --runs ${values.runs} --db ${values.db})`,
);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  MODEL_RUNS: values.runs,
  MODEL_SEED: seed,
  ...(values.path ? { MODEL_PATH: values.path } : {}),
  ...(values.replay ? { MODEL_REPLAY: values.replay } : {}),
  ...(values.commands ? { MODEL_COMMANDS: values.commands } : {}),
  ...(values.weights ? { MODEL_WEIGHTS: values.weights } : {}),
};
// vitest's own command (its package exports no path to it).
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
const child = spawn(process.execPath, [vitest, "run", "test/billing/model", "--project", values.db!], { stdio: "inherit", env });
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
